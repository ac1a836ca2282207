-- Leave a tenth of every heap page of `users` free, so that the update every
-- sign-in makes (last_sign_in_at, which no index covers) can stay on the same
-- page as a HOT update: no new entries in the seven indexes of `users`
-- (two of them trigram GINs) and far less WAL. Applies to pages written from
-- now on. SQLite has no equivalent and needs none (it rewrites the row in place).
ALTER TABLE users SET (fillfactor = 90);
