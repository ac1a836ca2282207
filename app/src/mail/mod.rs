//! The transactional email outbox.
//!
//! An email is a database row, written in the same transaction as the change
//! that caused it, so a failed request queues nothing and a queued email is
//! never lost. Workers (one inside every server process) claim due rows with a
//! lease, send them, and record each attempt. Delivery is at least once: a
//! worker that dies mid-send leaves its lease to run out, and another claims
//! the row again. Every statement on the outbox is in [`outbox`]; this module
//! holds the rules around them.

pub mod outbox;
pub mod smtp;
pub mod templates;

use crate::domain::{Timestamp, UserId};
use crate::email_queue::EmailStatus;
use crate::error::AppResult;
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::state::Settings;
pub use outbox::{Claimed, OutgoingEmail};
use sqlx::AnyConnection;
use std::time::Duration;

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

/// Insert `mails` as queued emails in one statement, each with a new
/// `Message-ID`: (user, id) of each row.
async fn insert(
    conn: &mut AnyConnection,
    settings: &Settings,
    mails: &[OutgoingEmail],
) -> AppResult<Vec<(Option<UserId>, i64)>> {
    let mails: Vec<(&OutgoingEmail, String)> = mails.iter().map(|m| (m, message_id(settings))).collect();
    outbox::insert_queued(conn, &mails, settings.mail_max_attempts, Timestamp::now()).await
}

/// Claim up to `limit` due emails for `lease`: queued ones whose time has
/// come, and ones whose sender's lease ran out ([`outbox::claim`]).
pub async fn claim(db: &Db, lease: Duration, limit: i64) -> AppResult<Vec<Claimed>> {
    let now = Timestamp::now();
    outbox::claim(db, now, now.plus(lease), limit).await
}

/// Record that these emails were accepted by the SMTP server: one write
/// transaction for the whole batch (the worker gathers outcomes as they come).
pub async fn mark_sent(db: &Db, ids: &[i64]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    outbox::record_sent(&mut tx, ids, Timestamp::now()).await?;
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
pub async fn release(db: &Db, claimed: &[(i64, Timestamp)]) -> AppResult<u64> {
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut released = 0;
    let mut tx = db.begin_write().await?;
    for &(id, lease_until) in claimed {
        released += outbox::release(&mut tx, id, lease_until, Timestamp::now()).await?;
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
    let now = Timestamp::now();
    let error: String = error.chars().take(1000).collect();
    let last = email.attempts >= email.max_attempts;
    let next = now.plus(backoff(settings.mail_retry_base, email.attempts, jitter));
    let status = if last { EmailStatus::Failed } else { EmailStatus::Queued };
    let mut tx = db.begin_write().await?;
    outbox::record_failure(&mut tx, email.id, status, next, &error, now).await?;
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
    let cutoff = Timestamp::now().minus(retention);
    let mut purged = 0;
    loop {
        let n = outbox::purge_sent(db, cutoff, PURGE_BATCH).await?;
        purged += n;
        if n < PURGE_BATCH {
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
    /// When the oldest queued email was written, if one is queued.
    pub oldest_queued_at: Option<Timestamp>,
}

/// Read [`Outbox`] from the database, so that every process reports the same
/// outbox whichever wrote or sends its emails ([`outbox::unsent_by_status`]);
/// sent emails are left out (they are no depth, and there may be a month of
/// them). The oldest queued email is the one with the lowest id: rows are
/// written in id order.
pub async fn outbox(db: &Db) -> AppResult<Outbox> {
    let mut out = Outbox::default();
    for (status, n, oldest) in outbox::unsent_by_status(db).await? {
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
