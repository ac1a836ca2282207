-- Deleting an email (the purge of old sent mail) sets invitations.email_id to
-- NULL for the invitation it carried; without an index each deleted email
-- scanned every invitation (seconds per batch of 500 at 1M users, holding
-- SQLite's write lock).
CREATE INDEX invitations_email ON invitations(email_id);
