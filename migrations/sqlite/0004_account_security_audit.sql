-- Password resets, sign-in throttling and the audit log.
CREATE TABLE password_resets (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX password_resets_user ON password_resets(user_id);

-- One row per failed sign-in, shared by every server process.
CREATE TABLE sign_in_failures (
    id          INTEGER PRIMARY KEY,
    account_key TEXT NOT NULL,
    ip          TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures(account_key, at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures(ip, at);

-- Append-only: Roster has no code path that updates or deletes entries.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor_id     INTEGER,
    actor_email  TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL DEFAULT '',
    target_id    INTEGER,
    target_label TEXT NOT NULL DEFAULT '',
    details      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_action ON audit_log(action, id);
CREATE INDEX audit_log_actor ON audit_log(actor_id, id);
CREATE INDEX audit_log_target ON audit_log(target_type, target_id, id);
