//! Sign-in throttling, counted in the database so every server process shares
//! the counts. Failures are counted per typed email (existing or not, so the
//! throttle reveals nothing about which accounts exist) and per client IP.
//!
//! After `free` failures in the window each further attempt must wait twice as
//! long as the one before (1 s, 2 s, 4 s … capped at a minute); after
//! `lockout_after` failures the account is locked for `lockout`.
//!
//! An attempt is counted *before* its password is checked: [`reserve`] decides
//! and inserts the attempt's failure row in one write transaction that is
//! serialised per account and per IP (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
//! transaction-scoped advisory locks), so a burst of parallel guesses sees
//! each other and exactly `free` of them are checked before waiting starts.
//! A correct password then removes the row ([`clear`]); a wrong one keeps it.

use crate::error::AppResult;
use crate::server::db::{Backend, Db};
use crate::server::now_ms;
use crate::server::sql::{in_list_text, Args};
pub use crate::server::state::ThrottleSettings;
use sqlx::AnyConnection;
use std::collections::HashSet;

/// The throttle key (and audit name) of whatever was typed in the email field
/// when it is not an email address: it may be a password, so it is never stored.
pub const NOT_AN_EMAIL: &str = "(not an email address)";

/// One counted attempt: its failure row exists until the password proves right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub id: i64,
    /// When it was counted (Unix ms).
    pub at: i64,
    /// The account's failures in the lockout horizon, this attempt included.
    pub failures: i64,
}

impl Reservation {
    /// Whether this attempt, if it fails, locks the account. Only one attempt per
    /// lockout can: every later one is refused as `Locked` until the lock ends.
    pub fn locks(&self, s: &ThrottleSettings) -> bool {
        self.failures >= s.lockout_after
    }

    /// When the lock this attempt would cause ends (Unix ms).
    pub fn unlocks_at(&self, s: &ThrottleSettings) -> i64 {
        self.at + s.lockout.as_millis() as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead: the attempt is counted already.
    Allow(Reservation),
    /// Try again after this many seconds.
    Wait(u64),
    /// The account is locked for this many more seconds.
    Locked(u64),
}

/// What [`decide`] says before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Allow,
    Wait(u64),
    Locked(u64),
}

const MAX_DELAY_MS: i64 = 60_000;

fn delay_ms(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let exp = (failures - free).min(16) as u32;
    (1000i64 << exp).min(MAX_DELAY_MS)
}

/// Counts seen before this attempt.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
struct Seen {
    /// The account's failures in the lockout horizon, and the newest one's time.
    n: i64,
    last: i64,
    /// The IP's failures in the window, and the newest one's time (ignored without an IP).
    n_ip: i64,
    last_ip: i64,
}

fn secs_until(now: i64, until: i64) -> u64 {
    ((until - now).max(1) as u64).div_ceil(1000)
}

fn decide(s: &ThrottleSettings, now: i64, seen: Seen, has_ip: bool) -> Decision {
    let window_start = now - s.window.as_millis() as i64;
    let locked_until = seen.last + s.lockout.as_millis() as i64;
    if seen.n >= s.lockout_after && now < locked_until {
        return Decision::Locked(secs_until(now, locked_until));
    }
    let n_window = if seen.last > window_start { seen.n } else { 0 };
    // No delay owed means no wait, even if a failure was counted a moment after `now`.
    let after = |last: i64, delay: i64| if delay > 0 { last + delay } else { 0 };
    let mut wait_until = after(seen.last, delay_ms(n_window, s.free));
    if has_ip {
        wait_until = wait_until.max(after(seen.last_ip, delay_ms(seen.n_ip, s.ip_free)));
    }
    if now < wait_until {
        return Decision::Wait(secs_until(now, wait_until));
    }
    Decision::Allow
}

/// Serialise this transaction with every other one that takes the same keys
/// (PostgreSQL advisory locks, released at commit or rollback; on SQLite the
/// write transaction is already the only writer). Callers take their keys in
/// one fixed order, so two transactions never wait for each other in a cycle.
pub async fn serialize(conn: &mut AnyConnection, backend: Backend, keys: &[(i32, &str)]) -> AppResult<()> {
    let mut args = Args::default();
    if let Some(sql) = backend.advisory_locks(&mut args, keys) {
        args.bind(sqlx::query(&sql)).fetch_one(&mut *conn).await?;
    }
    Ok(())
}

/// Lock spaces for [`serialize`].
pub const LOCK_ACCOUNT: i32 = 1;
pub const LOCK_IP: i32 = 2;

/// The counts [`decide`] needs, read on `conn`.
async fn seen(
    conn: &mut AnyConnection,
    s: &ThrottleSettings,
    account_key: &str,
    ip: &str,
    now: i64,
) -> AppResult<Seen> {
    let since = now - s.window.max(s.lockout).as_millis() as i64;
    let window_start = now - s.window.as_millis() as i64;
    // The account's failures (lockout horizon) and the address's (window), in one round trip.
    Ok(sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM sign_in_failures WHERE account_key = $1 AND at > $2) AS n, \
           (SELECT COALESCE(MAX(at), 0) FROM sign_in_failures WHERE account_key = $1 AND at > $2) AS last, \
           (SELECT COUNT(*) FROM sign_in_failures WHERE ip = $3 AND at > $4) AS n_ip, \
           (SELECT COALESCE(MAX(at), 0) FROM sign_in_failures WHERE ip = $3 AND at > $4) AS last_ip",
    )
    .bind(account_key)
    .bind(since)
    .bind(ip)
    .bind(window_start)
    .fetch_one(&mut *conn)
    .await?)
}

/// A quick look without locking or writing: `Wait` and `Locked` are final
/// (failures only grow until a success clears them, and a stale refusal is
/// harmless), so a flood of refused attempts never queues for the lock;
/// `Allow(None)` only means "go on to [`reserve`]", which decides.
pub async fn check(db: &Db, s: &ThrottleSettings, account_key: &str, ip: &str) -> AppResult<Option<Verdict>> {
    let now = now_ms();
    let mut conn = db.pool.acquire().await?;
    let verdict = match decide(s, now, seen(&mut conn, s, account_key, ip, now).await?, !ip.is_empty()) {
        Decision::Allow => None,
        Decision::Wait(secs) => Some(Verdict::Wait(secs)),
        Decision::Locked(secs) => Some(Verdict::Locked(secs)),
    };
    // A refusal here is the attempt's decision; `Allow` is `reserve`'s to make.
    if let Some(refused) = &verdict {
        counted(refused);
    }
    Ok(verdict)
}

/// Count a decision for `/metrics` (each attempt's exactly once).
fn counted(verdict: &Verdict) {
    use crate::server::metrics::{throttle, Throttle};
    throttle(match verdict {
        Verdict::Allow(_) => Throttle::Allow,
        Verdict::Wait(_) => Throttle::Wait,
        Verdict::Locked(_) => Throttle::Locked,
    });
}

/// Decide whether an attempt on `account_key` from `ip` may check a password
/// now and, if so, count it as a failure before the check (see the module doc).
pub async fn reserve(db: &Db, s: &ThrottleSettings, account_key: &str, ip: &str) -> AppResult<Verdict> {
    let verdict = reserve_uncounted(db, s, account_key, ip).await?;
    counted(&verdict);
    Ok(verdict)
}

async fn reserve_uncounted(db: &Db, s: &ThrottleSettings, account_key: &str, ip: &str) -> AppResult<Verdict> {
    let mut tx = db.begin_write().await?;
    let mut keys = vec![(LOCK_ACCOUNT, account_key)];
    if !ip.is_empty() {
        keys.push((LOCK_IP, ip));
    }
    serialize(&mut tx, db.backend, &keys).await?;
    let now = now_ms();
    let seen = seen(&mut tx, s, account_key, ip, now).await?;
    match decide(s, now, seen, !ip.is_empty()) {
        Decision::Wait(secs) => Ok(Verdict::Wait(secs)),
        Decision::Locked(secs) => Ok(Verdict::Locked(secs)),
        Decision::Allow => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO sign_in_failures (account_key, ip, at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(account_key)
            .bind(ip)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Verdict::Allow(Reservation { id, at: now, failures: seen.n + 1 }))
        }
    }
}

/// [`check`], then (unless it refused) [`reserve`].
pub async fn check_and_reserve(db: &Db, s: &ThrottleSettings, account_key: &str, ip: &str) -> AppResult<Verdict> {
    match check(db, s, account_key, ip).await? {
        Some(refused) => Ok(refused),
        None => reserve(db, s, account_key, ip).await,
    }
}

/// Take back a reservation whose password was never checked (the hasher was busy).
pub async fn cancel(db: &Db, reservation: &Reservation) -> AppResult<()> {
    cancel_in(&mut *db.pool.acquire().await?, reservation).await
}

/// Take back a reservation inside the caller's transaction: its password was
/// right and the sign-in goes on to the second step, which counts its own attempts.
pub async fn cancel_in(conn: &mut AnyConnection, reservation: &Reservation) -> AppResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE id = $1").bind(reservation.id).execute(&mut *conn).await?;
    Ok(())
}

/// Forget failures that no longer count; run with each failure.
pub async fn purge(conn: &mut AnyConnection, s: &ThrottleSettings) -> AppResult<()> {
    let horizon = now_ms() - 2 * s.window.max(s.lockout).as_millis() as i64;
    sqlx::query("DELETE FROM sign_in_failures WHERE at < $1").bind(horizon).execute(&mut *conn).await?;
    Ok(())
}

/// A successful sign-in, a password reset or an admin's unlock clears the
/// account's count (the successful attempt's own reservation included).
pub async fn clear(conn: &mut AnyConnection, account_key: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE account_key = $1").bind(account_key).execute(&mut *conn).await?;
    Ok(())
}

/// How much longer each lockout caused by failed second steps lasts than the
/// sign-in lockout: once, then 4 times, then 96 times as long (15 minutes,
/// 1 hour, 24 hours by default). Whoever fails second steps knows the
/// password already; the flat lockout would give them a fresh set of guesses
/// at the second factor every 15 minutes.
const SECOND_STEP_LADDER: [i64; 3] = [1, 4, 96];

/// Seconds left of a lock that failed second steps put on `account_key`, if any.
pub async fn second_step_locked(db: &Db, account_key: &str) -> AppResult<Option<u64>> {
    let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM second_step_lockouts WHERE account_key = $1")
        .bind(account_key)
        .fetch_optional(&db.pool)
        .await?;
    let now = now_ms();
    Ok(until.filter(|&u| u > now).map(|u| secs_until(now, u)))
}

/// A failed second step locked `account_key`: lock it for the next rung of
/// [`SECOND_STEP_LADDER`] from now; returns when the lock ends (Unix ms).
pub async fn escalate_second_step_lock(
    conn: &mut AnyConnection,
    s: &ThrottleSettings,
    account_key: &str,
) -> AppResult<i64> {
    let before: Option<i64> = sqlx::query_scalar("SELECT lockouts FROM second_step_lockouts WHERE account_key = $1")
        .bind(account_key)
        .fetch_optional(&mut *conn)
        .await?;
    let lockouts = before.unwrap_or(0);
    let rung = SECOND_STEP_LADDER[(lockouts.max(0) as usize).min(SECOND_STEP_LADDER.len() - 1)];
    let until = now_ms() + s.lockout.as_millis() as i64 * rung;
    sqlx::query(
        "INSERT INTO second_step_lockouts (account_key, lockouts, locked_until) VALUES ($1, $2, $3) \
         ON CONFLICT (account_key) DO UPDATE SET lockouts = excluded.lockouts, locked_until = excluded.locked_until",
    )
    .bind(account_key)
    .bind(lockouts + 1)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(until)
}

/// A completed sign-in (or an administrator's unlock) starts the ladder again.
pub async fn clear_second_step_locks(conn: &mut AnyConnection, account_key: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM second_step_lockouts WHERE account_key = $1")
        .bind(account_key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Which of these accounts (by normalized email) are locked right now.
pub async fn locked(db: &Db, s: &ThrottleSettings, keys: &[String]) -> AppResult<HashSet<String>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let now = now_ms();
    let mut args = Args::default();
    let since = args.int(now - s.window.max(s.lockout).as_millis() as i64);
    let list = in_list_text(&mut args, keys);
    let sql = format!(
        "SELECT account_key, COUNT(*) AS n, MAX(at) AS last FROM sign_in_failures \
         WHERE at > {since} AND account_key IN {list} GROUP BY account_key"
    );
    let mut out = HashSet::new();
    let rows: Vec<(String, i64, i64)> = args.bind(sqlx::query_as(&sql)).fetch_all(&db.pool).await?;
    for (account_key, n, last) in rows {
        if n >= s.lockout_after && now < last + s.lockout.as_millis() as i64 {
            out.insert(account_key);
        }
    }
    // Locks that failed second steps made longer.
    let mut args = Args::default();
    let now_arg = args.int(now);
    let list = in_list_text(&mut args, keys);
    let sql = format!(
        "SELECT account_key FROM second_step_lockouts WHERE locked_until > {now_arg} AND account_key IN {list}"
    );
    let longer: Vec<String> = args.bind(sqlx::query_scalar(&sql)).fetch_all(&db.pool).await?;
    out.extend(longer);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_free_attempts_and_cap_at_a_minute() {
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 1000);
        assert_eq!(delay_ms(6, 5), 2000);
        assert_eq!(delay_ms(8, 5), 8000);
        assert_eq!(delay_ms(30, 5), 60_000);
    }

    #[test]
    fn exactly_the_free_attempts_pass_then_waiting_starts_then_the_lock() {
        let s = ThrottleSettings::default();
        let now = 10_000_000;
        let seen = |n, last| Seen { n, last, ..Seen::default() };
        assert_eq!(decide(&s, now, seen(0, 0), true), Decision::Allow);
        // A failure counted by another request just after `now` owes no wait by itself.
        assert_eq!(decide(&s, now, Seen { n: 1, last: now + 5, n_ip: 1, last_ip: now + 5 }, true), Decision::Allow);
        assert_eq!(decide(&s, now, seen(4, now), true), Decision::Allow, "the fifth attempt is free");
        assert_eq!(decide(&s, now, seen(5, now), true), Decision::Wait(1), "the sixth waits");
        assert_eq!(decide(&s, now, seen(5, now - 1000), true), Decision::Allow);
        assert_eq!(decide(&s, now, seen(20, now - 1000), true), Decision::Locked(899));
        let past_lock = now - s.lockout.as_millis() as i64 - 1;
        assert_eq!(decide(&s, now, seen(20, past_lock), true), Decision::Allow, "the lock ends");
        // The IP's own budget.
        let busy_ip = Seen { n_ip: 50, last_ip: now, ..Seen::default() };
        assert_eq!(decide(&s, now, busy_ip, true), Decision::Wait(1));
        assert_eq!(decide(&s, now, busy_ip, false), Decision::Allow, "no IP, no IP budget");
    }

    #[test]
    fn only_the_attempt_that_reaches_the_limit_locks() {
        let s = ThrottleSettings::default();
        let r = |failures| Reservation { id: 1, at: 5_000, failures };
        assert!(!r(19).locks(&s));
        assert!(r(20).locks(&s));
        assert_eq!(r(20).unlocks_at(&s), 5_000 + 900_000);
    }
}
