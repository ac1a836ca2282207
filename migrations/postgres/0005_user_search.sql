-- Users search: trigram GIN indexes, so `LIKE '%fragment%'` on either searched
-- column reads the index instead of every user. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension: the database owner may
-- create it without superuser rights.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_trgm ON users USING gin (email_norm gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (name_sort gin_trgm_ops);
