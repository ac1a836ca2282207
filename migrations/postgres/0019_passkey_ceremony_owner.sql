-- Who started each passkey ceremony: the client's address (IPv4, or an IPv6
-- /64) for a sign-in with a passkey, the user for a registration, the
-- pending sign-in for a second step. A sign-in ceremony can be started by
-- anyone, without an account; each owner keeps only its newest few
-- (`passkeys::open_per_owner`), so nobody can fill the table by asking.
ALTER TABLE webauthn_challenges ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX webauthn_challenges_owner ON webauthn_challenges (purpose, owner, created_at);
