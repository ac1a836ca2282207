-- The organization's own applications, registered in Roster: a tile on the
-- Dashboard of each person whose roles grant View on it, and (protocol
-- 'oidc') a client of Roster's OpenID Connect provider. `protocol` leaves
-- room for other ways of signing in later (forward-auth, SAML).
-- Roles grant them in role_permissions with application = 'app:<id>'.
-- icon: 'letter' (the name's first letter) or one of Roster's icon keys;
-- color: a palette word. client_type: confidential or public.
-- redirect_uris, post_logout_redirect_uris: one URI per line, matched exactly.
-- secret_hash: SHA-256 (hex) of the client secret; NULL for a public client.
-- AUTOINCREMENT: an id is never given again, so a grant can never outlive
-- its application and reach a new one.
CREATE TABLE applications (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    name                      TEXT NOT NULL,
    name_norm                 TEXT NOT NULL UNIQUE,
    description               TEXT NOT NULL DEFAULT '',
    icon                      TEXT NOT NULL,
    color                     TEXT NOT NULL,
    launch_url                TEXT NOT NULL,
    protocol                  TEXT NOT NULL DEFAULT 'oidc',
    client_type               TEXT NOT NULL,
    client_id                 TEXT NOT NULL UNIQUE,
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    enabled                   INTEGER NOT NULL DEFAULT 1,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);
