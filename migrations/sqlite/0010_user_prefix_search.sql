-- Users search by 1–2 characters: the users whose email or name begins with
-- them, as a range of email_norm and one of name_sort. Each range's first page
-- is read from one of these indexes without touching the table: the range's
-- own column, the other searched column and created_at, which are the sort
-- keys the Users page offers with an index (the rowid is in every index).
-- last_sign_in_at is left out on purpose: a sign-in would then write both.
CREATE INDEX users_email_prefix ON users(email_norm, name_sort, created_at);
CREATE INDEX users_name_prefix ON users(name_sort, email_norm, created_at);
