-- Signing keys sealed at rest, rotated and retired (app/src/oidc/keys.rs).
-- private_key: the PKCS#8 key sealed with the encryption key (`v1:`…;
-- rows stored in clear by earlier versions are sealed at the next start),
-- NULL once the key is retired. state: next (published, signs nothing yet),
-- active (signs), retiring (published so its tokens still verify), retired
-- (no longer published); state_since: when it entered that state (ms).
ALTER TABLE oidc_signing_keys ALTER COLUMN private_key DROP NOT NULL;
ALTER TABLE oidc_signing_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE oidc_signing_keys ADD COLUMN state_since BIGINT NOT NULL DEFAULT 0;
-- The newest key signed; each older one stopped signing when the next was made.
UPDATE oidc_signing_keys k SET
    state = CASE WHEN k.id = (SELECT MAX(id) FROM oidc_signing_keys) THEN 'active' ELSE 'retiring' END,
    state_since = COALESCE((SELECT MIN(n.created_at) FROM oidc_signing_keys n WHERE n.id > k.id), k.created_at);
ALTER TABLE oidc_signing_keys ALTER COLUMN state DROP DEFAULT;
ALTER TABLE oidc_signing_keys ALTER COLUMN state_since DROP DEFAULT;
-- At most one key signs and one waits to sign, whatever two nodes do at once.
CREATE UNIQUE INDEX oidc_signing_keys_one_active ON oidc_signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX oidc_signing_keys_one_next ON oidc_signing_keys (state) WHERE state = 'next';
