-- Users search by 1 character on PostgreSQL. A frequent first letter ("j":
-- an eighth of the users) makes the email and name ranges of 0010 long; the
-- page sorts one of them by another column, which read the whole range (up to
-- ~120,000 index entries, 90 ms at 1M users). These indexes hold each
-- column's first character before every other sort key, so the range is read
-- in page order: a page costs its 26 entries, however common the letter.
-- (SQLite keeps the ranges: it met p95 <= 50 ms with them, and every index
-- slows its single writer.)
CREATE INDEX users_email_initial_by_name ON users ((substr(email_norm, 1, 1)), name_sort, id);
CREATE INDEX users_email_initial_by_created ON users ((substr(email_norm, 1, 1)), created_at, id);
CREATE INDEX users_name_initial_by_email ON users ((substr(name_sort, 1, 1)), email_norm, id);
CREATE INDEX users_name_initial_by_created ON users ((substr(name_sort, 1, 1)), created_at, id);
