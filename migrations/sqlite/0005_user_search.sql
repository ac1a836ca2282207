-- Users search: a trigram full-text index over the two searched columns, so a
-- substring search ("laur", "@kbank") reads the index instead of every user.
-- External content: the index holds only trigrams; the text stays in users.
-- case_sensitive 1: both columns are stored lowercase and the search term is
-- lowercased, so matching is exactly the LIKE substring match it replaces.
CREATE VIRTUAL TABLE users_fts USING fts5(
    email_norm,
    name_sort,
    content = 'users',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    detail = full
);
INSERT INTO users_fts (users_fts) VALUES ('rebuild');

-- Kept in sync by triggers. The update trigger fires only when a searched
-- column is written, so a sign-in (last_sign_in_at) does not touch the index.
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, email_norm, name_sort) VALUES (new.id, new.email_norm, new.name_sort);
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, email_norm, name_sort) VALUES ('delete', old.id, old.email_norm, old.name_sort);
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF email_norm, name_sort ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, email_norm, name_sort) VALUES ('delete', old.id, old.email_norm, old.name_sort);
    INSERT INTO users_fts (rowid, email_norm, name_sort) VALUES (new.id, new.email_norm, new.name_sort);
END;
