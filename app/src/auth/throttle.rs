//! Sign-in throttling, counted in the database so every server process shares
//! the counts. Failures are counted per typed email (existing or not, so the
//! throttle reveals nothing about which accounts exist) and per client IP.
//!
//! After `free` failures in the window each further attempt must wait twice as
//! long as the one before (1 s, 2 s, 4 s … capped at a minute); after
//! `lockout_after` failures the account is locked for `lockout`.

use crate::error::AppResult;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::sql::{in_list_text, Args};
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures per account allowed in the window before delays start.
    pub free: i64,
    pub window: Duration,
    /// Failures per account in the window that lock it.
    pub lockout_after: i64,
    pub lockout: Duration,
    /// Failures per IP allowed in the window before delays start.
    pub ip_free: i64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            free: 5,
            window: Duration::from_secs(15 * 60),
            lockout_after: 20,
            lockout: Duration::from_secs(15 * 60),
            ip_free: 50,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; `failures` counted against the account (nothing to clear when 0).
    Allow {
        failures: i64,
    },
    /// Try again after this many seconds.
    Wait(u64),
    Locked,
}

const MAX_DELAY_MS: i64 = 60_000;

fn delay_ms(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let exp = (failures - free).min(16) as u32;
    (1000i64 << exp).min(MAX_DELAY_MS)
}

async fn count(db: &Db, column: &str, value: &str, since: i64) -> AppResult<(i64, i64)> {
    let sql = format!(
        "SELECT COUNT(*) AS n, COALESCE(MAX(at), 0) AS last FROM sign_in_failures WHERE {column} = $1 AND at > $2"
    );
    let r = sqlx::query(&sql).bind(value).bind(since).fetch_one(&db.pool).await?;
    Ok((r.try_get("n")?, r.try_get("last")?))
}

pub async fn check(db: &Db, s: &ThrottleSettings, account_key: &str, ip: &str) -> AppResult<Verdict> {
    let now = now_ms();
    let since = now - s.window.max(s.lockout).as_millis() as i64;
    let window_start = now - s.window.as_millis() as i64;
    // The account's failures (lockout horizon) and the address's (window), in one round trip.
    let r = sqlx::query(
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
    .fetch_one(&db.pool)
    .await?;
    let (n, last): (i64, i64) = (r.try_get("n")?, r.try_get("last")?);
    if n >= s.lockout_after && now < last + s.lockout.as_millis() as i64 {
        return Ok(Verdict::Locked);
    }
    let n_window = if last > window_start { n } else { 0 };
    let mut wait_until = last + delay_ms(n_window, s.free);
    if !ip.is_empty() {
        let (n_ip, last_ip): (i64, i64) = (r.try_get("n_ip")?, r.try_get("last_ip")?);
        wait_until = wait_until.max(last_ip + delay_ms(n_ip, s.ip_free));
    }
    if now < wait_until {
        let secs = ((wait_until - now) as u64).div_ceil(1000);
        return Ok(Verdict::Wait(secs));
    }
    Ok(Verdict::Allow { failures: n })
}

/// Record a failure; returns `true` when this failure locked the account.
pub async fn record_failure(db: &Db, s: &ThrottleSettings, account_key: &str, ip: &str) -> AppResult<bool> {
    let now = now_ms();
    sqlx::query("INSERT INTO sign_in_failures (account_key, ip, at) VALUES ($1, $2, $3)")
        .bind(account_key)
        .bind(ip)
        .bind(now)
        .execute(&db.pool)
        .await?;
    // Forget what no longer counts.
    let horizon = now - 2 * s.window.max(s.lockout).as_millis() as i64;
    sqlx::query("DELETE FROM sign_in_failures WHERE at < $1").bind(horizon).execute(&db.pool).await?;
    let (n, _) = count(db, "account_key", account_key, now - s.window.as_millis() as i64).await?;
    Ok(n == s.lockout_after)
}

/// A successful sign-in, a password reset or an admin's unlock clears the account's count.
pub async fn clear(conn: &mut AnyConnection, account_key: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE account_key = $1").bind(account_key).execute(&mut *conn).await?;
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
    for r in args.bind(sqlx::query(&sql)).fetch_all(&db.pool).await? {
        let (n, last): (i64, i64) = (r.try_get("n")?, r.try_get("last")?);
        if n >= s.lockout_after && now < last + s.lockout.as_millis() as i64 {
            out.insert(r.try_get("account_key")?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::delay_ms;

    #[test]
    fn delays_double_after_the_free_attempts_and_cap_at_a_minute() {
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 1000);
        assert_eq!(delay_ms(6, 5), 2000);
        assert_eq!(delay_ms(8, 5), 8000);
        assert_eq!(delay_ms(30, 5), 60_000);
    }
}
