-- Roster's OpenID Connect provider: everything a step needs is here, so any
-- node behind a load balancer can serve any step.
-- Signing keys: the newest signs; every one stays published in the JWKS, so
-- tokens signed before a rotation still verify. private_key: PKCS#8 (base64).
CREATE TABLE oidc_signing_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kid         TEXT NOT NULL UNIQUE,
    private_key TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Authorization codes: only the SHA-256 of the code is kept; single use
-- (used_at), bound to the application, the redirect URI and the PKCE
-- challenge, valid 60 s. ip: where the person signed in from (the audit log).
CREATE TABLE oidc_codes (
    code_hash      TEXT PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,
    nonce          TEXT,
    ip             TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

-- Access tokens (SHA-256), usable at userinfo for their own application
-- only; code_hash names the exchange that issued them, so a code used twice
-- revokes them.
CREATE TABLE oidc_access_tokens (
    token_hash     TEXT PRIMARY KEY,
    code_hash      TEXT NOT NULL,
    application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at     INTEGER NOT NULL
);

CREATE INDEX oidc_access_tokens_code ON oidc_access_tokens (code_hash);
CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);
CREATE INDEX oidc_access_tokens_expiry ON oidc_access_tokens (expires_at);
