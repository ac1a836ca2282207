-- Reset emails are limited per account and per client IP each hour: remember
-- which IP asked for each one (empty for rows from before this migration).
ALTER TABLE password_resets ADD COLUMN ip TEXT NOT NULL DEFAULT '';
CREATE INDEX password_resets_user_created ON password_resets(user_id, created_at);
CREATE INDEX password_resets_ip_created ON password_resets(ip, created_at);
