-- Two-factor sign-in (issue 12): an authenticator app (TOTP), recovery
-- codes, the half-signed-in state between password and second step, and
-- roles that require a second factor.

-- One authenticator app per user. secret is 'key:' or 'install:' followed by
-- the 'v1:' XChaCha20-Poly1305 ciphertext of the base32 secret (see
-- app/src/two_factor/service.rs, secret_key). enabled_at is NULL while the
-- person is setting it up (secret shown, no code confirmed yet). last_step is
-- the newest 30-second time step accepted: a code is accepted only for a
-- later step, so none is accepted twice.
CREATE TABLE totp_credentials (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    enabled_at INTEGER,
    last_step  INTEGER NOT NULL DEFAULT 0
);

-- Single-use recovery codes: only the SHA-256 of each (they carry 50 random bits).
CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- The half-signed-in state: the password was right, the second step is owed.
-- Not a session: it opens nothing but the second step, for 5 minutes. Only
-- the SHA-256 of the cookie's token is stored.
CREATE TABLE pending_sign_ins (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_sign_ins_expires ON pending_sign_ins (expires_at);

-- Keys Roster makes for itself when the configuration gives none: the
-- authenticator secrets' key without encryption_key (see ARCHITECTURE.md).
CREATE TABLE install_keys (
    purpose    TEXT PRIMARY KEY,
    key_b64    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- "Members must use a passkey or an authenticator app".
ALTER TABLE roles ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;
