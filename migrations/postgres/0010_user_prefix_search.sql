-- Users search by 1–2 characters: the users whose email or name begins with
-- them, as a range of email_norm and one of name_sort. Each range's first page
-- is read from one of these indexes by an index-only scan: the range's own
-- column, the other searched column, created_at and id, which is everything
-- the search's inner queries read. last_sign_in_at is left out on purpose:
-- with it, a sign-in could no longer update the row in place (HOT, 0006).
CREATE INDEX users_email_prefix ON users(email_norm, name_sort, created_at, id);
CREATE INDEX users_name_prefix ON users(name_sort, email_norm, created_at, id);
