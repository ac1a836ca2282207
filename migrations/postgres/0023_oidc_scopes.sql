-- Scopes decide the claims (OpenID Connect Core 5.4): `profile` the names,
-- `email` the address and email_verified, `roster` the roles and the
-- application's permissions. `scope` is what was granted, space-separated:
-- the code carries it to the tokens, the access token to userinfo. Codes and
-- tokens issued before carried every claim: they keep doing so until they
-- expire (minutes).
ALTER TABLE oidc_codes ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE oidc_access_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE oidc_codes SET scope = 'openid profile email roster';
UPDATE oidc_access_tokens SET scope = 'openid profile email roster';

-- Applications registered before scopes decided the claims received every
-- claim whatever they asked for; their clients may rely on it (Grafana's
-- role from `permissions` with `scopes = openid email profile`). They keep
-- every claim (a row here) until an administrator chooses "Claims by scope"
-- on the application's page. Applications registered from now on have no
-- row: they receive the claims of the scopes they ask for.
CREATE TABLE oidc_every_claim (
    application_id BIGINT PRIMARY KEY REFERENCES applications(id) ON DELETE CASCADE
);
INSERT INTO oidc_every_claim (application_id) SELECT id FROM applications WHERE protocol = 'oidc';
