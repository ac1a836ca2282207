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

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Emails claimed per round, and sent concurrently over the pool.
const BATCH: i64 = 32;

/// Build the pooled transport from one URL: `smtp://` or `smtps://`, with
/// `?tls=required` for STARTTLS and `user:password@` for credentials.
pub fn transport(url: &str) -> Result<Transport, String> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| e.to_string())?
        .pool_config(PoolConfig::new().max_size(BATCH as u32 / 2))
        .timeout(Some(Duration::from_secs(30)))
        .build())
}

pub async fn run(db: Db, settings: Arc<Settings>, transport: Transport, from: String, poll: Duration) {
    tracing::info!("email worker started");
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
        let claimed = match mail::claim(&db, settings.mail_lease, BATCH).await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                continue;
            }
        };
        let full = claimed.len() as i64 == BATCH;
        let mut tasks = tokio::task::JoinSet::new();
        for email in claimed {
            let (db, settings, transport, from) = (db.clone(), settings.clone(), transport.clone(), from.clone());
            tasks.spawn(async move { deliver(&db, &settings, &transport, &from, email).await });
        }
        while tasks.join_next().await.is_some() {}
        if !full {
            tokio::time::sleep(poll).await;
        }
    }
}

async fn deliver(db: &Db, settings: &Settings, transport: &Transport, from: &str, email: Claimed) {
    let result = match mail::build_message(&email, from) {
        Ok(message) => transport.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let recorded = match &result {
        Ok(()) => mail::mark_sent(db, email.id).await,
        Err(error) => {
            tracing::warn!(email_id = email.id, attempt = email.attempts, %error, "email not delivered");
            let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
            mail::mark_failed(db, settings, &email, error, jitter).await
        }
    };
    if recorded.is_err() {
        // The lease runs out and another worker retries: at least once.
        tracing::error!(email_id = email.id, "could not record the delivery outcome");
    }
}
