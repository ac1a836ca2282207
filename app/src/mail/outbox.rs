//! Every statement on the outbox, `emails` and `email_attempts`: queueing,
//! claiming and recording delivery for the worker (whose rules, the lease,
//! the retries and the purge's batches, are in [`crate::mail`]), and what the
//! Email queue and Users read and change. Each function runs in the
//! connection or transaction it is handed.

use crate::domain::{Timestamp, UserId};
use crate::email_queue::EmailStatus;
use crate::error::AppResult;
use crate::server::db::Db;
use crate::server::sql::{in_list, Args};
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;

// ---- queueing and delivery -------------------------------------------------------------

/// An email ready to queue: already rendered, plain text and HTML.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub kind: TemplateKind,
    pub user_id: Option<UserId>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Insert `mails` as queued emails, due at `now`, in one statement; each
/// with its `Message-ID`. Returns (user, id) of each row.
pub async fn insert_queued(
    conn: &mut AnyConnection,
    mails: &[(&OutgoingEmail, String)],
    max_attempts: i64,
    now: Timestamp,
) -> AppResult<Vec<(Option<UserId>, i64)>> {
    if mails.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let (now, max) = (args.int(now.millis()), args.int(max_attempts));
    let queued = args.text(EmailStatus::Queued.key());
    let values = args.rows(mails, |a, (m, message_id)| {
        let (kind, user) = (a.text(m.kind.key()), a.opt_int(m.user_id.map(UserId::get)));
        let (to, subject, text, html) = (a.text(&m.to), a.text(&m.subject), a.text(&m.text), a.text(&m.html));
        let id = a.text(message_id);
        vec![kind, user, to, subject, text, html, id, queued.clone(), "0".into(), max.clone(), now.clone(), now.clone()]
    });
    let sql = format!(
        "INSERT INTO emails (kind, user_id, to_addr, subject, body_text, body_html, message_id, status, \
         attempts, max_attempts, created_at, next_attempt_at) VALUES {values} RETURNING user_id, id"
    );
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

/// A claimed email, leased to this worker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    #[sqlx(rename = "to_addr")]
    pub to: String,
    pub subject: String,
    #[sqlx(rename = "body_text")]
    pub text: String,
    #[sqlx(rename = "body_html")]
    pub html: String,
    pub message_id: String,
    pub attempts: i64,
    pub max_attempts: i64,
    /// The end of this worker's lease: [`release`] gives back only a row
    /// still held under it.
    pub lease_until: Timestamp,
}

/// Claim up to `limit` emails due at `now` (queued ones whose time has come,
/// and ones whose sender's lease ran out), leased until `lease_until`, one
/// more attempt counted. PostgreSQL skips rows another worker holds (`FOR
/// UPDATE SKIP LOCKED`); SQLite runs the statement as one write transaction,
/// which serialises workers.
pub async fn claim(db: &Db, now: Timestamp, lease_until: Timestamp, limit: i64) -> AppResult<Vec<Claimed>> {
    let lock = db.backend.skip_locked();
    let sql = format!(
        "UPDATE emails SET status = $4, lease_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM emails \
            WHERE (status = $5 AND next_attempt_at <= $2) OR (status = $4 AND lease_until <= $2) \
            ORDER BY next_attempt_at, id LIMIT $3 {lock}) \
         RETURNING id, to_addr, subject, body_text, body_html, message_id, attempts, max_attempts, lease_until"
    );
    Ok(sqlx::query_as(&sql)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .bind(EmailStatus::Sending)
        .bind(EmailStatus::Queued)
        .fetch_all(&db.pool)
        .await?)
}

/// Record that the SMTP server accepted these emails at `at`: sent, and one
/// attempt each without an error.
pub async fn record_sent(conn: &mut AnyConnection, ids: &[i64], at: Timestamp) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let sent_at = args.int(at.millis());
    let sent = args.text(EmailStatus::Sent.key());
    let list = in_list(&mut args, ids);
    let update = format!(
        "UPDATE emails SET status = {sent}, sent_at = {sent_at}, lease_until = NULL, last_error = NULL WHERE id IN {list}"
    );
    let mut attempts = Args::default();
    let attempted_at = attempts.int(at.millis());
    let rows: Vec<String> = ids.iter().map(|id| format!("({}, {attempted_at}, NULL)", attempts.int(*id))).collect();
    let insert = format!("INSERT INTO email_attempts (email_id, attempted_at, error) VALUES {}", rows.join(", "));
    args.bind(sqlx::query(&update)).execute(&mut *conn).await?;
    attempts.bind(sqlx::query(&insert)).execute(&mut *conn).await?;
    Ok(())
}

/// Record a failed attempt of email `id` at `at` with its `error`: the
/// email's new `status` (queued again, or failed) and when it is next due.
pub async fn record_failure(
    conn: &mut AnyConnection,
    id: i64,
    status: EmailStatus,
    next_attempt_at: Timestamp,
    error: &str,
    at: Timestamp,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE emails SET status = $1, next_attempt_at = $2, lease_until = NULL, last_error = $3 WHERE id = $4",
    )
    .bind(status)
    .bind(next_attempt_at)
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO email_attempts (email_id, attempted_at, error) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(at)
        .bind(error)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Give claimed email `id` back to the queue unsent, due at `now`, the
/// attempt that never happened uncounted, if it is still held under the lease
/// `lease_until` it was claimed with. Returns how many rows changed (0 or 1).
pub async fn release(conn: &mut AnyConnection, id: i64, lease_until: Timestamp, now: Timestamp) -> AppResult<u64> {
    let r = sqlx::query(
        "UPDATE emails SET status = $1, lease_until = NULL, next_attempt_at = $2, \
         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
         WHERE id = $3 AND status = $4 AND lease_until = $5",
    )
    .bind(EmailStatus::Queued)
    .bind(now)
    .bind(id)
    .bind(EmailStatus::Sending)
    .bind(lease_until)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Delete up to `limit` emails sent before `cutoff`, oldest first. Returns how many went.
pub async fn purge_sent(db: &Db, cutoff: Timestamp, limit: u64) -> AppResult<u64> {
    let r = sqlx::query(
        "DELETE FROM emails WHERE id IN \
         (SELECT id FROM emails WHERE status = $3 AND sent_at < $1 ORDER BY id LIMIT $2)",
    )
    .bind(cutoff)
    .bind(limit as i64)
    .bind(EmailStatus::Sent)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected())
}

/// The emails not sent yet, by status (queued, sending, failed): how many,
/// and when the one with the lowest id was written. One grouped query on the
/// `(status, id)` index.
pub async fn unsent_by_status(db: &Db) -> AppResult<Vec<(EmailStatus, i64, Option<Timestamp>)>> {
    Ok(sqlx::query_as(
        "SELECT g.status, g.n, (SELECT created_at FROM emails WHERE id = g.first) AS oldest \
         FROM (SELECT status, COUNT(*) AS n, MIN(id) AS first FROM emails \
               WHERE status IN ($1, $2, $3) GROUP BY status) g",
    )
    .bind(EmailStatus::Queued)
    .bind(EmailStatus::Sending)
    .bind(EmailStatus::Failed)
    .fetch_all(&db.pool)
    .await?)
}

// ---- the Email queue and Users ----------------------------------------------------------

/// An `emails` row as the list reads it (the columns of [`LIST_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub struct Listed {
    pub id: i64,
    pub to_addr: String,
    pub subject: String,
    pub status: EmailStatus,
    pub attempts: i64,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
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
    pub sent_at: Option<Timestamp>,
    pub body_text: String,
    pub body_html: String,
}

const DETAIL_COLUMNS: &str = "id, to_addr, subject, status, attempts, created_at, next_attempt_at, last_error, \
     kind, user_id, message_id, max_attempts, sent_at, body_text, body_html";

/// One delivery attempt of an email.
#[derive(sqlx::FromRow)]
pub struct StoredAttempt {
    pub attempted_at: Timestamp,
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

/// Queue a failed or sent email again, due at `now`, with a fresh set of attempts. Returns
/// how many rows changed (none: it is queued or sending, or gone).
pub async fn requeue(db: &Db, id: i64, now: Timestamp) -> AppResult<u64> {
    let r = sqlx::query(
        "UPDATE emails SET status = $1, attempts = 0, next_attempt_at = $2, lease_until = NULL, \
         last_error = NULL, sent_at = NULL WHERE id = $3 AND status IN ($4, $5)",
    )
    .bind(EmailStatus::Queued)
    .bind(now)
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
