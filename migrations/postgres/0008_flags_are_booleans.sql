-- Flags are booleans. (SQLite has no boolean type: there `enabled` stays an
-- INTEGER holding 0 or 1, which SQLite itself reads as false or true; Roster's
-- SQL writes TRUE / FALSE or binds a bool, and `server::sql::Flag` reads both.)
ALTER TABLE users ALTER COLUMN enabled DROP DEFAULT;
ALTER TABLE users ALTER COLUMN enabled TYPE BOOLEAN USING enabled <> 0;
ALTER TABLE users ALTER COLUMN enabled SET DEFAULT TRUE;
