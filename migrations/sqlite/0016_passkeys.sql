-- Passkeys (WebAuthn, issue 12): the credentials and the ceremonies under way.

-- One row per passkey. credential_id is the credential's id in base64url
-- (unique across every account: an authenticator never reuses one).
-- user_handle is the WebAuthn user id given at registration (a random UUID
-- per person, the same for each of their passkeys): a discoverable sign-in
-- must name the same one. passkey is webauthn-rs's Passkey as JSON (the
-- public key, never a secret). sign_count is the newest signature counter
-- accepted: a signature whose counter is not above it is refused (a cloned
-- authenticator), unless the authenticator keeps no counter (always 0).
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    user_handle   TEXT NOT NULL,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    sign_count    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony under way: webauthn-rs's registration or
-- authentication state as JSON, for 5 minutes, spent (deleted) by the step
-- that finishes it, so each step may land on another node and no challenge
-- is answered twice. Only the SHA-256 of the ceremony's token is stored.
-- purpose: 'register' (bound to user_id, name is the new passkey's name),
-- 'sign_in' (a discoverable sign-in, bound to nobody) or 'second_step'
-- (bound to the pending sign-in whose token hash is pending_hash).
CREATE TABLE webauthn_challenges (
    token_hash   TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    pending_hash TEXT,
    name         TEXT,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);
