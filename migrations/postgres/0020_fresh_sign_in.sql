-- When the session's person last proved who they are (the sign-in, its second
-- step, or a confirmation since): what changes how someone signs in needs
-- this to be recent (`fresh_sign_in`). Sessions from before know no time: 0,
-- so their people confirm once.
ALTER TABLE sessions ADD COLUMN authenticated_at BIGINT NOT NULL DEFAULT 0;

-- Failed second steps lock the account for longer each time (the sign-in
-- lockout, then 4 times, then 96 times as long: 15 minutes, 1 hour, 24 hours
-- by default). One row per account key that has been locked so; a completed
-- sign-in removes it.
CREATE TABLE second_step_lockouts (
    account_key  TEXT PRIMARY KEY,
    lockouts     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
