-- Invitations and the transactional email outbox.
ALTER TABLE users ADD COLUMN name_sort TEXT NOT NULL DEFAULT '';
-- When the user's pending invitation expires; NULL once accepted or revoked.
ALTER TABLE users ADD COLUMN invite_expires_at INTEGER;
CREATE INDEX users_name_sort ON users(name_sort, id);
CREATE INDEX users_created ON users(created_at, id);

CREATE TABLE emails (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    -- queued | sending | sent | failed
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX emails_due ON emails(status, next_attempt_at);
CREATE INDEX emails_status_id ON emails(status, id);

CREATE TABLE email_attempts (
    id           INTEGER PRIMARY KEY,
    email_id     INTEGER NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    error        TEXT
);
CREATE INDEX email_attempts_email ON email_attempts(email_id);

CREATE TABLE invitations (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER,
    email_id   INTEGER REFERENCES emails(id) ON DELETE SET NULL
);
CREATE INDEX invitations_user ON invitations(user_id, id);
