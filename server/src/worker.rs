//! The email worker loop, one inside every server process. It claims due
//! emails from the outbox (see `app::mail`), sends them over a pooled SMTP
//! transport, and records the outcome. Any number of processes can run it
//! against one database.
//!
//! Which SMTP server it sends through is read from the database every round
//! (`app::mail::smtp`: the Settings → Email server row, else `smtp_url`), so a
//! change saved on any node applies here at the next claim, without a restart.
//!
//! Asked to stop (SIGTERM), it claims nothing more, lets the sends in flight
//! finish within `shutdown_grace` and gives back to the queue the emails it
//! claimed and could not send, so another process sends them at once.

use app::domain::Timestamp;
use app::mail::smtp::{self, Connections, InForce, Sender};
use app::mail::{self, Claimed};
use app::server::db::Db;
use app::server::state::Settings;
use lettre::AsyncTransport;
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

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

/// Set once the process is asked to stop: the moment by which sends in
/// flight must be done (`shutdown_grace` after the signal).
pub type Stop = watch::Receiver<Option<tokio::time::Instant>>;

/// Wait until the process is asked to stop; the deadline it was given.
/// (`main` holds the sender for as long as the process runs.)
pub async fn stopping(stop: &mut Stop) -> tokio::time::Instant {
    let deadline = stop.wait_for(Option::is_some).await.map(|d| d.unwrap_or_else(tokio::time::Instant::now));
    match deadline {
        Ok(deadline) => deadline,
        // Nobody can ask any more.
        Err(_) => std::future::pending().await,
    }
}

/// The emails claimed by this process and not yet sent or recorded as
/// failed: (id, lease_until), for [`mail::release`] at shutdown.
type InFlight = Arc<Mutex<HashMap<i64, Timestamp>>>;

/// Claim and send continuously: a new claim as soon as a quarter of the
/// slots is free, not after the slowest message of a round. Successful sends
/// are recorded by one task in batches (one write transaction for all that
/// arrived meanwhile); failures are recorded at once, with their error.
///
/// Once `stop` is set it claims nothing more, lets the sends in flight finish
/// until the deadline, gives the emails of those still unfinished back to the
/// queue (`mail::release`: another process sends them at once, not after
/// their lease) and returns when the successful sends are recorded.
pub async fn run(db: Db, settings: Arc<Settings>, poll: Duration, mut stop: Stop) {
    tracing::info!("email worker started");
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let (sent, sent_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record_sent(db.clone(), sent_rx));
    let in_flight: InFlight = Arc::default();
    let mut deliveries = JoinSet::new();
    claim_and_send(&db, &settings, poll, &slots, &sent, &in_flight, &mut deliveries, &mut stop).await;
    let deadline = stopping(&mut stop).await;
    // Claim no more; let the sends in flight finish, until the deadline.
    let finished =
        tokio::time::timeout_at(deadline, async { while deliveries.join_next().await.is_some() {} }).await.is_ok();
    if !finished {
        deliveries.abort_all();
        while deliveries.join_next().await.is_some() {}
    }
    let unfinished: Vec<(i64, Timestamp)> = in_flight.lock().map(|mut m| m.drain().collect()).unwrap_or_default();
    if !unfinished.is_empty() {
        match mail::release(&db, &unfinished).await {
            Ok(n) => tracing::info!(emails = n, "stopping: unsent emails given back to the queue"),
            Err(_) => tracing::warn!(
                emails = unfinished.len(),
                "stopping: unsent emails could not be given back; they are sent again when their lease ends"
            ),
        }
    }
    // The recorder ends once every sender of `sent` is gone.
    drop(sent);
    drop(deliveries);
    if tokio::time::timeout(Duration::from_secs(5), recorder).await.is_err() {
        tracing::warn!("stopping: recording the last sent emails took too long");
    }
}

/// Wait `d`, or less if the process is asked to stop meanwhile.
async fn pause(d: Duration, stop: &mut Stop) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        _ = stopping(stop) => {}
    }
}

/// The worker's loop (see [`run`]), until the process is asked to stop. It
/// is never cancelled in the middle of a claim: it looks at `stop` only
/// while it waits, so every email it claimed is in `in_flight`.
#[allow(clippy::too_many_arguments)]
async fn claim_and_send(
    db: &Db,
    settings: &Arc<Settings>,
    poll: Duration,
    slots: &Arc<Semaphore>,
    sent: &Sent,
    in_flight: &InFlight,
    deliveries: &mut JoinSet<()>,
    stop: &mut Stop,
) {
    let mut last_purge: Option<Instant> = None;
    let mut current: Option<Current> = None;
    while stop.borrow().is_none() {
        // Forget the deliveries that are over.
        while deliveries.try_join_next().is_some() {}
        // Purge hourly, or more often when the retention itself is shorter.
        let purge_every = settings.mail_retention.min(Duration::from_secs(3600));
        if last_purge.is_none_or(|t| t.elapsed() > purge_every) {
            match mail::purge_sent(db, settings.mail_retention).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "old sent emails purged"),
                Ok(_) => {}
                Err(_) => tracing::warn!("purging sent emails failed"),
            }
            // Sign-in codes and access tokens a day past their expiry, with the same hourly beat.
            if app::oidc::service::purge(db).await.is_err() {
                tracing::warn!("purging expired sign-in codes failed");
            }
            // Signing keys: retire those whose tokens have all expired, rotate when due.
            if app::oidc::keys::maintain(db, settings).await.is_err() {
                tracing::warn!("the signing key upkeep failed");
            }
            last_purge = Some(Instant::now());
        }
        let mut free = tokio::select! {
            free = slots.clone().acquire_many_owned(CLAIM_AT as u32) => match free {
                Ok(free) => free,
                Err(_) => return,
            },
            _ = stopping(stop) => return,
        };
        if let Ok(more) = slots.clone().try_acquire_many_owned(slots.available_permits() as u32) {
            free.merge(more);
        }
        // The settings in force, read fresh for this claim.
        match smtp::load_stored(db).await {
            Ok(row) => Current::refresh(&mut current, InForce::from_row(row, settings), settings),
            Err(_) => {
                drop(free);
                pause(poll.max(Duration::from_secs(1)), stop).await;
                continue;
            }
        }
        let Some(sender) = current.as_ref().and_then(|c| c.sender.clone()) else {
            drop(free);
            pause(poll, stop).await;
            continue;
        };
        let wanted = free.num_permits();
        let claimed = match mail::claim(db, settings.mail_lease, wanted as i64).await {
            Ok(c) => c,
            Err(_) => {
                drop(free);
                pause(poll.max(Duration::from_secs(1)), stop).await;
                continue;
            }
        };
        // In flight as soon as claimed (no await between), for a stop to find.
        if let Ok(mut m) = in_flight.lock() {
            m.extend(claimed.iter().map(|e| (e.id, e.lease_until)));
        }
        let drained = claimed.len() < wanted;
        for email in claimed {
            // At most `wanted` emails were claimed, one permit each.
            let Some(slot) = free.split(1) else { break };
            let (db, settings, sender, sent) = (db.clone(), settings.clone(), sender.clone(), sent.clone());
            let in_flight = in_flight.clone();
            deliveries.spawn(async move {
                deliver(&db, &settings, &sender, email, &sent, &in_flight).await;
                drop(slot);
            });
        }
        drop(free);
        if drained {
            pause(poll, stop).await;
        }
    }
}

async fn deliver(db: &Db, settings: &Settings, sender: &Sender, email: Claimed, sent: &Sent, in_flight: &InFlight) {
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
            // Handed to the recorder and out of `in_flight` with no await
            // between: a stop never gives a sent email back. The recorder
            // outlives every sender; if it is gone, the lease runs out
            // instead: at least once.
            let _ = sent.send(email.id);
            forget(in_flight, email.id);
        }
        Err(error) => {
            tracing::warn!(email_id = email.id, attempt = email.attempts, %error, "email not delivered");
            let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
            // Stopped during this write, the email is given back (its lease still holds it).
            if mail::mark_failed(db, settings, &email, &error, jitter).await.is_err() {
                tracing::error!(email_id = email.id, "could not record the failed attempt");
            }
            forget(in_flight, email.id);
        }
    }
}

type Sent = mpsc::UnboundedSender<i64>;

fn forget(in_flight: &InFlight, id: i64) {
    if let Ok(mut m) = in_flight.lock() {
        m.remove(&id);
    }
}

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
