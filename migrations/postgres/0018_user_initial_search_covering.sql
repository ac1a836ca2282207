-- The first-character indexes of 0017, again, each with the column its
-- first character comes from. Without it PostgreSQL cannot answer the
-- search from the index alone (it must read each row to check the first
-- character), so it preferred walking the sort key's own index and checking
-- the rows one by one: "m" sorted by email read 625,000 rows before its first
-- match (names and emails begin alike), 180-810 ms at 1M users. With the
-- column included, the page is an index-only scan of its 26 entries (0.1 ms).
DROP INDEX users_email_initial_by_name;
DROP INDEX users_email_initial_by_created;
DROP INDEX users_name_initial_by_email;
DROP INDEX users_name_initial_by_created;
CREATE INDEX users_email_initial_by_name ON users ((substr(email_norm, 1, 1)), name_sort, id) INCLUDE (email_norm);
CREATE INDEX users_email_initial_by_created ON users ((substr(email_norm, 1, 1)), created_at, id) INCLUDE (email_norm);
CREATE INDEX users_name_initial_by_email ON users ((substr(name_sort, 1, 1)), email_norm, id) INCLUDE (name_sort);
CREATE INDEX users_name_initial_by_created ON users ((substr(name_sort, 1, 1)), created_at, id) INCLUDE (name_sort);
