-- Settings → Email server: the SMTP server saved in the database, which
-- overrides smtp_url / mail_from from the configuration. One row (id 1) or none.
-- password_enc is 'v1:' + base64 of nonce and XChaCha20-Poly1305 ciphertext
-- under the configuration's encryption_key; NULL means no password.
CREATE TABLE email_settings (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    host         TEXT NOT NULL,
    port         BIGINT NOT NULL,
    security     TEXT NOT NULL,
    username     TEXT NOT NULL,
    password_enc TEXT,
    from_name    TEXT NOT NULL,
    from_address TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    updated_by   TEXT NOT NULL
);

-- Settings → Email templates: a saved template replaces Roster's default
-- wording of that kind of email (emails.kind); no row, the default.
CREATE TABLE email_templates (
    kind       TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    body_html  TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
