//! The outbox as the Email queue and Users read and change it (`emails`,
//! `email_attempts`). Queueing, claiming and recording delivery are in
//! [`crate::mail`]; between them they hold every statement on these tables.

use crate::domain::UserId;
use crate::email_queue::EmailStatus;
use crate::error::AppResult;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::sql::{in_list, Args};
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;

/// An `emails` row as the list reads it (the columns of [`LIST_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub struct Listed {
    pub id: i64,
    pub to_addr: String,
    pub subject: String,
    pub status: EmailStatus,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    /// Which links of the subject to hide depends on the kind and the person.
    pub kind: TemplateKind,
    pub user_id: Option<UserId>,
}

const LIST_COLUMNS: &str =
    "id, to_addr, subject, status, attempts, created_at, next_attempt_at, last_error, kind, user_id";

/// An `emails` row as the detail page reads it.
#[derive(sqlx::FromRow)]
pub struct Stored {
    #[sqlx(flatten)]
    pub listed: Listed,
    pub message_id: String,
    pub max_attempts: i64,
    pub sent_at: Option<i64>,
    pub body_text: String,
    pub body_html: String,
}

const DETAIL_COLUMNS: &str = "id, to_addr, subject, status, attempts, created_at, next_attempt_at, last_error, \
     kind, user_id, message_id, max_attempts, sent_at, body_text, body_html";

/// One delivery attempt of an email.
#[derive(sqlx::FromRow)]
pub struct StoredAttempt {
    pub attempted_at: i64,
    pub error: Option<String>,
}

/// Up to `limit` emails, newest first, keyset-paged on the id: those with
/// `status` (all when `None`) and an id below `before`.
pub async fn page(
    conn: &mut AnyConnection,
    status: Option<EmailStatus>,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Listed>> {
    let mut args = Args::default();
    let mut sql = format!("SELECT {LIST_COLUMNS} FROM emails WHERE 1 = 1");
    if let Some(s) = status {
        sql.push_str(&format!(" AND status = {}", args.text(s.key())));
    }
    if let Some(b) = before {
        sql.push_str(&format!(" AND id < {}", args.int(b)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", args.int(limit)));
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

/// One email with its bodies, if it is still in the queue.
pub async fn find(conn: &mut AnyConnection, id: i64) -> AppResult<Option<Stored>> {
    Ok(sqlx::query_as(&format!("SELECT {DETAIL_COLUMNS} FROM emails WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// An email's delivery attempts, oldest first.
pub async fn attempts(conn: &mut AnyConnection, id: i64) -> AppResult<Vec<StoredAttempt>> {
    Ok(sqlx::query_as("SELECT attempted_at, error FROM email_attempts WHERE email_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?)
}

/// An email's kind and status, if it is still in the queue.
pub async fn kind_and_status(conn: &mut AnyConnection, id: i64) -> AppResult<Option<(TemplateKind, EmailStatus)>> {
    Ok(sqlx::query_as("SELECT kind, status FROM emails WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?)
}

/// Is the email still in the queue?
pub async fn exists(db: &Db, id: i64) -> AppResult<bool> {
    let found =
        sqlx::query_scalar::<_, i64>("SELECT id FROM emails WHERE id = $1").bind(id).fetch_optional(&db.pool).await?;
    Ok(found.is_some())
}

/// An email's recipient, if it is still in the queue.
pub async fn recipient(db: &Db, id: i64) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT to_addr FROM emails WHERE id = $1").bind(id).fetch_optional(&db.pool).await?)
}

/// Queue a failed or sent email again, with a fresh set of attempts. Returns
/// how many rows changed (none: it is queued or sending, or gone).
pub async fn requeue(db: &Db, id: i64) -> AppResult<u64> {
    let r = sqlx::query(
        "UPDATE emails SET status = $1, attempts = 0, next_attempt_at = $2, lease_until = NULL, \
         last_error = NULL, sent_at = NULL WHERE id = $3 AND status IN ($4, $5)",
    )
    .bind(EmailStatus::Queued)
    .bind(now_ms())
    .bind(id)
    .bind(EmailStatus::Failed)
    .bind(EmailStatus::Sent)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected())
}

/// Delete an email unless a worker is sending it right now. Returns how many
/// rows went (none: it is being sent, or gone).
pub async fn delete_unless_sending(db: &Db, id: i64) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM emails WHERE id = $1 AND status <> $2")
        .bind(id)
        .bind(EmailStatus::Sending)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// The invitation email of each of `user_ids`' invitations, oldest
/// invitation first: (user, email id, status, last error). `user_ids` must
/// not be empty.
pub async fn invitation_emails(
    db: &Db,
    user_ids: &[UserId],
) -> AppResult<Vec<(UserId, i64, EmailStatus, Option<String>)>> {
    let mut args = Args::default();
    let list = in_list(&mut args, user_ids);
    let sql = format!(
        "SELECT i.user_id, e.id, e.status, e.last_error FROM invitations i JOIN emails e ON e.id = i.email_id \
         WHERE i.user_id IN {list} ORDER BY i.id"
    );
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&db.pool).await?)
}
