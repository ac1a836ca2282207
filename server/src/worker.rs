//! The email worker loop, one inside every server process. It claims due
//! emails from the outbox (see `app::mail`), sends them over a pooled SMTP
//! transport, and records the outcome. Any number of processes can run it
//! against one database.
//!
//! Which SMTP server it sends through is read from the database every round
//! (`app::mail::smtp`: the Settings → Email server row, else `smtp_url`), so a
//! change saved on any node applies here at the next claim, without a restart.

use app::mail::smtp::{self, Connections, InForce, Sender};
use app::mail::{self, Claimed};
use app::server::db::Db;
use app::server::state::Settings;
use lettre::AsyncTransport;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Emails in flight at once in one process: claimed and not yet sent.
const IN_FLIGHT: usize = 32;
/// Claim only when at least this many slots are free, so that claims (one
/// write each) come in batches while the other sends go on.
const CLAIM_AT: usize = IN_FLIGHT / 4;
/// SMTP connections kept open: half the sends in flight, since each message
/// spends part of its time outside the connection (building, recording).
const CONNECTIONS: Connections = Connections { pool: IN_FLIGHT as u32 / 2, timeout: Duration::from_secs(30) };

/// The sender built from the settings last read, and those settings.
struct Current {
    in_force: InForce,
    sender: Option<Sender>,
}

impl Current {
    /// Rebuild the sender when the settings in force changed since the last round.
    fn refresh(current: &mut Option<Current>, in_force: InForce, settings: &Settings) {
        if current.as_ref().is_some_and(|c| c.in_force == in_force) {
            return;
        }
        let sender = match smtp::sender(&in_force, settings, CONNECTIONS) {
            Ok(sender) => sender,
            Err(problem) => {
                // Another node may have the right key: leave the mail to it.
                tracing::warn!(%problem, "email settings cannot be used on this node: no email is sent from here");
                None
            }
        };
        match (&in_force, &sender) {
            (InForce::Database(_), Some(s)) => {
                tracing::info!(server = %s.server, "sending email with the settings saved in Settings")
            }
            (InForce::Configuration, Some(s)) => {
                tracing::info!(server = %s.server, "sending email with smtp_url from the configuration")
            }
            _ => tracing::info!("email sending is not configured: emails stay queued"),
        }
        *current = Some(Current { in_force, sender });
    }
}

/// Claim and send continuously: a new claim as soon as a quarter of the
/// slots is free, not after the slowest message of a round. Successful sends
/// are recorded by one task in batches (one write transaction for all that
/// arrived meanwhile); failures are recorded at once, with their error.
pub async fn run(db: Db, settings: Arc<Settings>, poll: Duration) {
    tracing::info!("email worker started");
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let (sent, sent_rx) = mpsc::unbounded_channel();
    tokio::spawn(record_sent(db.clone(), sent_rx));
    let mut last_purge: Option<Instant> = None;
    let mut current: Option<Current> = None;
    loop {
        // Purge hourly, or more often when the retention itself is shorter.
        let purge_every = settings.mail_retention.min(Duration::from_secs(3600));
        if last_purge.is_none_or(|t| t.elapsed() > purge_every) {
            match mail::purge_sent(&db, settings.mail_retention).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "old sent emails purged"),
                Ok(_) => {}
                Err(_) => tracing::warn!("purging sent emails failed"),
            }
            // Sign-in codes and access tokens a day past their expiry, with the same hourly beat.
            if app::oidc::service::purge(&db).await.is_err() {
                tracing::warn!("purging expired sign-in codes failed");
            }
            // Signing keys: retire those whose tokens have all expired, rotate when due.
            if app::oidc::keys::maintain(&db, &settings).await.is_err() {
                tracing::warn!("the signing key upkeep failed");
            }
            last_purge = Some(Instant::now());
        }
        let Ok(mut free) = slots.clone().acquire_many_owned(CLAIM_AT as u32).await else {
            return;
        };
        if let Ok(more) = slots.clone().try_acquire_many_owned(slots.available_permits() as u32) {
            free.merge(more);
        }
        // The settings in force, read fresh for this claim.
        match smtp::load_stored(&db).await {
            Ok(row) => Current::refresh(&mut current, InForce::from_row(row, &settings), &settings),
            Err(_) => {
                drop(free);
                tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                continue;
            }
        }
        let Some(sender) = current.as_ref().and_then(|c| c.sender.clone()) else {
            drop(free);
            tokio::time::sleep(poll).await;
            continue;
        };
        let wanted = free.num_permits();
        let claimed = match mail::claim(&db, settings.mail_lease, wanted as i64).await {
            Ok(c) => c,
            Err(_) => {
                drop(free);
                tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                continue;
            }
        };
        let drained = claimed.len() < wanted;
        for email in claimed {
            // At most `wanted` emails were claimed, one permit each.
            let Some(slot) = free.split(1) else { break };
            let (db, settings, sender, sent) = (db.clone(), settings.clone(), sender.clone(), sent.clone());
            tokio::spawn(async move {
                deliver(&db, &settings, &sender, email, &sent).await;
                drop(slot);
            });
        }
        drop(free);
        if drained {
            tokio::time::sleep(poll).await;
        }
    }
}

async fn deliver(db: &Db, settings: &Settings, sender: &Sender, email: Claimed, sent: &Sent) {
    let result = match mail::build_message(&email, &sender.from) {
        Ok(message) => sender
            .transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| smtp::plain_words(&e, &sender.server, CONNECTIONS.timeout)),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            // The recorder outlives every sender; if it is gone, the process is stopping
            // and the lease runs out instead: at least once.
            let _ = sent.send(email.id);
        }
        Err(error) => {
            tracing::warn!(email_id = email.id, attempt = email.attempts, %error, "email not delivered");
            let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
            if mail::mark_failed(db, settings, &email, &error, jitter).await.is_err() {
                tracing::error!(email_id = email.id, "could not record the failed attempt");
            }
        }
    }
}

type Sent = mpsc::UnboundedSender<i64>;

/// Marks sent emails in batches: whatever arrived while the last write ran.
async fn record_sent(db: Db, mut rx: mpsc::UnboundedReceiver<i64>) {
    let mut ids = Vec::with_capacity(256);
    while rx.recv_many(&mut ids, 256).await > 0 {
        if mail::mark_sent(&db, &ids).await.is_err() {
            // The leases run out and another worker sends them again: at least once.
            tracing::error!(count = ids.len(), "could not record sent emails");
        }
        ids.clear();
    }
}
