//! Every statement on `email_settings` (the one saved SMTP server) and
//! `email_templates` (the saved wording of each kind of email). Each function
//! runs in the connection or transaction it is handed.

use super::template::{Template, TemplateKind};
use super::types::StoredSmtp;
use crate::domain::Timestamp;
use crate::error::AppResult;
use sqlx::AnyConnection;

// ---- the email server (email_settings) --------------------------------------------------

/// The saved SMTP server, if any: one read by primary key.
pub async fn email_server(conn: &mut AnyConnection) -> AppResult<Option<StoredSmtp>> {
    Ok(sqlx::query_as(
        "SELECT host, port, security, username, password_enc, from_name, from_address, updated_at, updated_by \
         FROM email_settings WHERE id = 1",
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// Save `row` as the SMTP server, replacing the one saved before.
pub async fn save_email_server(conn: &mut AnyConnection, row: &StoredSmtp) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO email_settings (id, host, port, security, username, password_enc, from_name, from_address, \
         updated_at, updated_by) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port, security = excluded.security, \
         username = excluded.username, password_enc = excluded.password_enc, from_name = excluded.from_name, \
         from_address = excluded.from_address, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(&row.host)
    .bind(row.port)
    .bind(&row.security)
    .bind(&row.username)
    .bind(&row.password_enc)
    .bind(&row.from_name)
    .bind(&row.from_address)
    .bind(row.updated_at)
    .bind(&row.updated_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forget the saved SMTP server. Returns how many rows went (0: none was saved).
pub async fn delete_email_server(conn: &mut AnyConnection) -> AppResult<u64> {
    Ok(sqlx::query("DELETE FROM email_settings WHERE id = 1").execute(&mut *conn).await?.rows_affected())
}

// ---- email templates ---------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct StoredTemplate {
    subject: String,
    body_text: String,
    body_html: String,
}

/// The saved template of `kind`, or None while Roster's default is in use.
pub async fn template(conn: &mut AnyConnection, kind: TemplateKind) -> AppResult<Option<Template>> {
    let row: Option<StoredTemplate> =
        sqlx::query_as("SELECT subject, body_text, body_html FROM email_templates WHERE kind = $1")
            .bind(kind)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|r| Template { subject: r.subject, text: r.body_text, html: r.body_html }))
}

/// Save `t` as the template of `kind`, replacing the one saved before.
pub async fn save_template(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    t: &Template,
    at: Timestamp,
    by: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO email_templates (kind, subject, body_text, body_html, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind) DO UPDATE SET subject = excluded.subject, \
         body_text = excluded.body_text, body_html = excluded.body_html, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(kind)
    .bind(&t.subject)
    .bind(&t.text)
    .bind(&t.html)
    .bind(at)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forget the saved template of `kind`: Roster's default is in use again.
pub async fn delete_template(conn: &mut AnyConnection, kind: TemplateKind) -> AppResult<()> {
    sqlx::query("DELETE FROM email_templates WHERE kind = $1").bind(kind).execute(&mut *conn).await?;
    Ok(())
}
