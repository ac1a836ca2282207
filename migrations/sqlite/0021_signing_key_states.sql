-- Signing keys sealed at rest, rotated and retired (app/src/oidc/keys.rs).
-- private_key: the PKCS#8 key sealed with the encryption key (`v1:`…;
-- rows stored in clear by earlier versions are sealed at the next start),
-- NULL once the key is retired. state: next (published, signs nothing yet),
-- active (signs), retiring (published so its tokens still verify), retired
-- (no longer published); state_since: when it entered that state (ms).
-- SQLite cannot make a column nullable in place: the table is rebuilt.
CREATE TABLE oidc_signing_keys_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kid         TEXT NOT NULL UNIQUE,
    private_key TEXT,
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    state_since INTEGER NOT NULL
);
-- The newest key signed; each older one stopped signing when the next was made.
INSERT INTO oidc_signing_keys_new (id, kid, private_key, public_jwk, created_at, state, state_since)
SELECT k.id, k.kid, k.private_key, k.public_jwk, k.created_at,
       CASE WHEN k.id = (SELECT MAX(id) FROM oidc_signing_keys) THEN 'active' ELSE 'retiring' END,
       COALESCE((SELECT MIN(n.created_at) FROM oidc_signing_keys n WHERE n.id > k.id), k.created_at)
FROM oidc_signing_keys k;
DROP TABLE oidc_signing_keys;
ALTER TABLE oidc_signing_keys_new RENAME TO oidc_signing_keys;
-- At most one key signs and one waits to sign, whatever two nodes do at once.
CREATE UNIQUE INDEX oidc_signing_keys_one_active ON oidc_signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX oidc_signing_keys_one_next ON oidc_signing_keys (state) WHERE state = 'next';
