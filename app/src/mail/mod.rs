//! The transactional email outbox.
//!
//! An email is a database row, written in the same transaction as the change
//! that caused it, so a failed request queues nothing and a queued email is
//! never lost. Workers (one inside every server process) claim due rows with a
//! lease, send them, and record each attempt. Delivery is at least once: a
//! worker that dies mid-send leaves its lease to run out, and another claims
//! the row again.

pub mod outbox;
pub mod smtp;
pub mod templates;

use crate::domain::UserId;
use crate::email_queue::EmailStatus;
use crate::error::AppResult;
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::sql::{in_list, Args};
use crate::server::state::Settings;
use sqlx::AnyConnection;
use std::time::Duration;

/// An email ready to queue: already rendered, plain text and HTML.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub kind: crate::settings::template::TemplateKind,
    pub user_id: Option<UserId>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queue an email inside the caller's transaction. Returns its id.
pub async fn enqueue(conn: &mut AnyConnection, settings: &Settings, mail: &OutgoingEmail) -> AppResult<i64> {
    let inserted = insert(conn, settings, std::slice::from_ref(mail)).await?;
    inserted.first().map(|&(_, id)| id).ok_or_else(|| crate::error::AppError::internal("enqueue", "no row inserted"))
}

/// Tell an account's owner, at `to`, what just happened to their account (a
/// security notice of `kind`: when, where from, what to do if it was not
/// them), inside the caller's transaction: the change and its notice commit
/// together or not at all. `extra`: the values of the kind's own placeholders.
pub async fn notify_owner(
    conn: &mut AnyConnection,
    settings: &Settings,
    kind: crate::settings::template::TemplateKind,
    user_id: UserId,
    to: &str,
    extra: &[(&'static str, String)],
) -> AppResult<()> {
    let mail = templates::security_notice(conn, settings, kind, user_id, to, extra).await?;
    enqueue(conn, settings, &mail).await?;
    Ok(())
}

/// A new, unique `Message-ID` on the public URL's host.
fn message_id(settings: &Settings) -> String {
    let domain = settings.public_url.host_str().unwrap_or("roster.local");
    format!("{}@{domain}", &Token::generate().hash()[..32])
}

/// [`enqueue`] for many emails, one per user, in one statement (the import
/// invites hundreds in one transaction). Returns each user's email id.
pub async fn enqueue_many(
    conn: &mut AnyConnection,
    settings: &Settings,
    mails: &[OutgoingEmail],
) -> AppResult<std::collections::HashMap<UserId, i64>> {
    let inserted = insert(conn, settings, mails).await?;
    Ok(inserted.into_iter().filter_map(|(user, id)| Some((user?, id))).collect())
}

/// Insert `mails` as queued emails in one statement: (user, id) of each row.
async fn insert(
    conn: &mut AnyConnection,
    settings: &Settings,
    mails: &[OutgoingEmail],
) -> AppResult<Vec<(Option<UserId>, i64)>> {
    if mails.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let (now, max) = (args.int(now_ms()), args.int(settings.mail_max_attempts));
    let queued = args.text(EmailStatus::Queued.key());
    let values = args.rows(mails, |a, m| {
        let (kind, user) = (a.text(m.kind.key()), a.opt_int(m.user_id.map(UserId::get)));
        let (to, subject, text, html) = (a.text(&m.to), a.text(&m.subject), a.text(&m.text), a.text(&m.html));
        let id = a.text(message_id(settings));
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
    pub lease_until: i64,
}

/// Claim up to `limit` due emails: queued ones whose time has come, and ones
/// whose sender's lease ran out. PostgreSQL skips rows another worker holds
/// (`FOR UPDATE SKIP LOCKED`); SQLite runs the statement as one write
/// transaction, which serialises workers.
pub async fn claim(db: &Db, lease: Duration, limit: i64) -> AppResult<Vec<Claimed>> {
    let now = now_ms();
    let lock = db.backend.skip_locked();
    let sql = format!(
        "UPDATE emails SET status = $4, lease_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM emails \
            WHERE (status = $5 AND next_attempt_at <= $2) OR (status = $4 AND lease_until <= $2) \
            ORDER BY next_attempt_at, id LIMIT $3 {lock}) \
         RETURNING id, to_addr, subject, body_text, body_html, message_id, attempts, max_attempts, lease_until"
    );
    Ok(sqlx::query_as(&sql)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(limit)
        .bind(EmailStatus::Sending)
        .bind(EmailStatus::Queued)
        .fetch_all(&db.pool)
        .await?)
}

/// Record that these emails were accepted by the SMTP server: one write
/// transaction for the whole batch (the worker gathers outcomes as they come).
pub async fn mark_sent(db: &Db, ids: &[i64]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut args = Args::default();
    let at = args.int(now);
    let sent = args.text(EmailStatus::Sent.key());
    let list = in_list(&mut args, ids);
    let update = format!(
        "UPDATE emails SET status = {sent}, sent_at = {at}, lease_until = NULL, last_error = NULL WHERE id IN {list}"
    );
    let mut attempts = Args::default();
    let at = attempts.int(now);
    let rows: Vec<String> = ids.iter().map(|id| format!("({}, {at}, NULL)", attempts.int(*id))).collect();
    let insert = format!("INSERT INTO email_attempts (email_id, attempted_at, error) VALUES {}", rows.join(", "));
    let mut tx = db.begin_write().await?;
    args.bind(sqlx::query(&update)).execute(&mut *tx).await?;
    attempts.bind(sqlx::query(&insert)).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Give claimed emails back to the queue unsent (a worker stopping before it
/// could send them): queued again, due now, their lease cleared and the
/// attempt that never happened uncounted, so any worker sends them at once
/// instead of after the lease. A row is given back only while it is still
/// held under the lease it was claimed with (`(id, lease_until)` pairs): one
/// whose outcome was recorded, or that another worker claimed since, stays
/// as it is. Returns how many were given back.
pub async fn release(db: &Db, claimed: &[(i64, i64)]) -> AppResult<u64> {
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut released = 0;
    let mut tx = db.begin_write().await?;
    for &(id, lease_until) in claimed {
        let r = sqlx::query(
            "UPDATE emails SET status = $1, lease_until = NULL, next_attempt_at = $2, \
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
             WHERE id = $3 AND status = $4 AND lease_until = $5",
        )
        .bind(EmailStatus::Queued)
        .bind(now_ms())
        .bind(id)
        .bind(EmailStatus::Sending)
        .bind(lease_until)
        .execute(&mut *tx)
        .await?;
        released += r.rows_affected();
    }
    tx.commit().await?;
    Ok(released)
}

/// Delay before retry number `attempt` (1-based): base × 2^(attempt-1), ±20 % jitter.
pub fn backoff(base: Duration, attempt: i64, jitter: f64) -> Duration {
    let exp = (attempt - 1).clamp(0, 30) as u32;
    let raw = base.as_secs_f64() * 2f64.powi(exp as i32);
    Duration::from_secs_f64(raw * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0)))
}

/// Record a failed attempt: retry later, or mark the email Failed after the last attempt.
pub async fn mark_failed(db: &Db, settings: &Settings, email: &Claimed, error: &str, jitter: f64) -> AppResult<()> {
    let now = now_ms();
    let error: String = error.chars().take(1000).collect();
    let last = email.attempts >= email.max_attempts;
    let next = now + backoff(settings.mail_retry_base, email.attempts, jitter).as_millis() as i64;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE emails SET status = $1, next_attempt_at = $2, lease_until = NULL, last_error = $3 WHERE id = $4",
    )
    .bind(if last { EmailStatus::Failed } else { EmailStatus::Queued })
    .bind(next)
    .bind(&error)
    .bind(email.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO email_attempts (email_id, attempted_at, error) VALUES ($1, $2, $3)")
        .bind(email.id)
        .bind(now)
        .bind(&error)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Emails deleted per statement by [`purge_sent`].
const PURGE_BATCH: u64 = 500;

/// Delete sent emails older than the retention period, [`PURGE_BATCH`] at a
/// time: each batch is its own short write, so a sign-in never waits behind
/// a large purge (the first one after an import or a long pause can be tens
/// of thousands of rows, and SQLite has one writer).
pub async fn purge_sent(db: &Db, retention: Duration) -> AppResult<u64> {
    let cutoff = now_ms() - retention.as_millis() as i64;
    let mut purged = 0;
    loop {
        let r = sqlx::query(
            "DELETE FROM emails WHERE id IN \
             (SELECT id FROM emails WHERE status = $3 AND sent_at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(cutoff)
        .bind(PURGE_BATCH as i64)
        .bind(EmailStatus::Sent)
        .execute(&db.pool)
        .await?;
        purged += r.rows_affected();
        if r.rows_affected() < PURGE_BATCH {
            return Ok(purged);
        }
        tokio::task::yield_now().await;
    }
}

/// The outbox as `/metrics` reports it: emails not sent yet, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outbox {
    pub queued: i64,
    pub sending: i64,
    pub failed: i64,
    /// When the oldest queued email was written (Unix ms), if one is queued.
    pub oldest_queued_at: Option<i64>,
}

/// Read [`Outbox`] from the database, so that every process reports the same
/// outbox whichever wrote or sends its emails. One grouped query on the
/// `(status, id)` index; sent emails are left out (they are no depth, and
/// there may be a month of them). The oldest queued email is the one with
/// the lowest id: rows are written in id order.
pub async fn outbox(db: &Db) -> AppResult<Outbox> {
    let rows: Vec<(EmailStatus, i64, Option<i64>)> = sqlx::query_as(
        "SELECT g.status, g.n, (SELECT created_at FROM emails WHERE id = g.first) AS oldest \
         FROM (SELECT status, COUNT(*) AS n, MIN(id) AS first FROM emails \
               WHERE status IN ($1, $2, $3) GROUP BY status) g",
    )
    .bind(EmailStatus::Queued)
    .bind(EmailStatus::Sending)
    .bind(EmailStatus::Failed)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Outbox::default();
    for (status, n, oldest) in rows {
        match status {
            EmailStatus::Queued | EmailStatus::NotSent => {
                out.queued = n;
                out.oldest_queued_at = oldest;
            }
            EmailStatus::Sending => out.sending = n,
            EmailStatus::Failed => out.failed = n,
            EmailStatus::Sent => {}
        }
    }
    Ok(out)
}

/// Build the MIME message (plain text plus HTML) for a claimed email.
pub fn build_message(email: &Claimed, from: &str) -> Result<lettre::Message, String> {
    use lettre::message::{Mailbox, MultiPart};
    let from: Mailbox = from.parse().map_err(|e| format!("invalid sender address: {e}"))?;
    let to: Mailbox = email.to.parse().map_err(|e| format!("invalid recipient address: {e}"))?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}>", email.message_id)))
        .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_jitters_within_a_fifth() {
        let base = Duration::from_secs(100);
        assert_eq!(backoff(base, 1, 0.0), Duration::from_secs(100));
        assert_eq!(backoff(base, 3, 0.0), Duration::from_secs(400));
        assert!(backoff(base, 2, 1.0) <= Duration::from_secs(240));
        assert!(backoff(base, 2, -1.0) >= Duration::from_secs(160));
    }

    #[test]
    fn default_schedule_spans_about_a_day() {
        // 7 waits between 8 attempts with the default 11-minute base.
        let total: Duration = (1..8).map(|a| backoff(Duration::from_secs(11 * 60), a, 0.0)).sum();
        let hours = total.as_secs_f64() / 3600.0;
        assert!((20.0..28.0).contains(&hours), "{hours} h");
    }
}
