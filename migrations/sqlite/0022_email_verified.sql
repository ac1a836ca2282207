-- Whether the person who signs in to this account proved control of its
-- email address: signed up from the invitation sent to it, set a password
-- through a reset link sent to it, or followed the confirmation link sent to
-- it when the address changed (while signed in to this account). ID tokens
-- and userinfo say so in `email_verified`. New accounts start unverified.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

-- Existing accounts were created from an invitation (the address proved) or
-- from the setup link or `server create-admin` (nothing proved); since then
-- an administrator may have changed the address. The audit log (append-only,
-- never purged) tells which: an account is verified when, after its last
-- email change, its owner signed up from an invitation or reset the password
-- through an emailed link. Anything else starts unverified, and its owner
-- confirms the address with a link sent from the person's page in Users.
UPDATE users SET email_verified = TRUE
WHERE password_hash IS NOT NULL AND EXISTS (
    SELECT 1 FROM audit_log a
    WHERE a.target_type = 'user' AND a.target_id = users.id
      AND a.action IN ('invitation.accepted', 'password.reset')
      AND NOT EXISTS (
          SELECT 1 FROM audit_log c
          WHERE c.target_type = 'user' AND c.target_id = users.id AND c.action = 'user.updated' AND c.id > a.id
            AND (c.details LIKE 'email: %' OR c.details LIKE '%; email: %')));

-- A link sent to a changed address: it confirms `new_email` for `user_id`,
-- once, before `expires_at`, and only while that is still the account's
-- address. Only the SHA-256 of the link's token is stored.
CREATE TABLE email_confirmations (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    new_email  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_confirmations_user ON email_confirmations(user_id);
