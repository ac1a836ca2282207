//! The email worker loop, one inside every server process. It claims due
//! emails from the outbox (see `app::mail`), sends them over a pooled SMTP
//! transport, and records the outcome. Any number of processes can run it
//! against one database.

use app::mail::{self, Claimed};
use app::server::db::Db;
use app::server::state::Settings;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Emails in flight at once in one process: claimed and not yet sent.
const IN_FLIGHT: usize = 32;
/// Claim only when at least this many slots are free, so that claims (one
/// write each) come in batches while the other sends go on.
const CLAIM_AT: usize = IN_FLIGHT / 4;
/// SMTP connections kept open: half the sends in flight, since each message
/// spends part of its time outside the connection (building, recording).
const CONNECTIONS: u32 = IN_FLIGHT as u32 / 2;

/// Build the pooled transport from one URL: `smtp://` or `smtps://`, with
/// `?tls=required` for STARTTLS and `user:password@` for credentials.
pub fn transport(url: &str) -> Result<Transport, String> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| e.to_string())?
        .pool_config(PoolConfig::new().max_size(CONNECTIONS))
        .timeout(Some(Duration::from_secs(30)))
        .build())
}

/// Claim and send continuously: a new claim as soon as a quarter of the
/// slots is free, not after the slowest message of a round. Successful sends
/// are recorded by one task in batches (one write transaction for all that
/// arrived meanwhile); failures are recorded at once, with their error.
pub async fn run(db: Db, settings: Arc<Settings>, transport: Transport, from: String, poll: Duration) {
    tracing::info!("email worker started");
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let (sent, sent_rx) = mpsc::unbounded_channel();
    tokio::spawn(record_sent(db.clone(), sent_rx));
    let mut last_purge: Option<Instant> = None;
    loop {
        // Purge hourly, or more often when the retention itself is shorter.
        let purge_every = settings.mail_retention.min(Duration::from_secs(3600));
        if last_purge.is_none_or(|t| t.elapsed() > purge_every) {
            match mail::purge_sent(&db, settings.mail_retention).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "old sent emails purged"),
                Ok(_) => {}
                Err(_) => tracing::warn!("purging sent emails failed"),
            }
            last_purge = Some(Instant::now());
        }
        let Ok(mut free) = slots.clone().acquire_many_owned(CLAIM_AT as u32).await else {
            return;
        };
        if let Ok(more) = slots.clone().try_acquire_many_owned(slots.available_permits() as u32) {
            free.merge(more);
        }
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
            let (db, settings, transport, from, sent) =
                (db.clone(), settings.clone(), transport.clone(), from.clone(), sent.clone());
            tokio::spawn(async move {
                deliver(&db, &settings, &transport, &from, email, &sent).await;
                drop(slot);
            });
        }
        drop(free);
        if drained {
            tokio::time::sleep(poll).await;
        }
    }
}

async fn deliver(db: &Db, settings: &Settings, transport: &Transport, from: &str, email: Claimed, sent: &Sent) {
    let result = match mail::build_message(&email, from) {
        Ok(message) => transport.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
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
