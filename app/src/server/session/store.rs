//! Database-backed sessions. The cookie carries 256 random bits; the
//! database stores only their SHA-256, so a copy of the database holds no
//! live session. Any server process can serve any session, and ending a
//! user's sessions is one `DELETE`. Every statement on `sessions` is here.

use super::client::ClientInfo;
use crate::domain::{Timestamp, UserId};
use crate::error::AppResult;
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::sql::{in_list, Args};
use crate::server::state::Settings;
use axum::http::{header, HeaderMap};
use cookie::{Cookie, SameSite};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The session cookie's name over plain http; over https it is
/// `__Host-roster_session` ([`Settings::cookie_name`]).
pub const COOKIE_NAME: &str = "roster_session";

/// Start a new session for `user_id` with a fresh id, in the caller's write
/// transaction, and return the cookie to set. (A sign-in also records itself
/// on the user: `credentials::open_session` does both.)
pub async fn create_in(
    conn: &mut AnyConnection,
    settings: &Settings,
    user_id: UserId,
    client: &ClientInfo,
    now: Timestamp,
) -> AppResult<String> {
    let token = Token::generate();
    let now = now.millis();
    let absolute = now + settings.session_absolute_timeout.as_millis() as i64;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, absolute_expires_at, user_agent, ip, \
         authenticated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token.hash())
    .bind(user_id)
    .bind(now)
    .bind(now)
    .bind(absolute)
    .bind(&client.user_agent)
    .bind(&client.ip)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(session_cookie(settings, token.expose()))
}

/// The session's person proved who they are just now (a confirmation, or a
/// password typed with the request): the fresh-sign-in rule counts from here.
pub async fn mark_authenticated(db: &Db, session_hash: &str) -> AppResult<()> {
    sqlx::query("UPDATE sessions SET authenticated_at = $1 WHERE id_hash = $2")
        .bind(now_ms())
        .bind(session_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, session_hash: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(session_hash).execute(&db.pool).await?;
    Ok(())
}

/// End every session of a user (disable, password change, reset, second
/// factor reset, an administrator's "end sessions"), in the caller's
/// transaction. Returns how many ended.
pub async fn end_all_for_user(conn: &mut AnyConnection, user_id: UserId) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(r.rows_affected())
}

/// End every session of each of `user_ids` (bulk actions), in the caller's transaction.
pub async fn end_all_for_users(conn: &mut AnyConnection, user_ids: &[UserId]) -> AppResult<u64> {
    if user_ids.is_empty() {
        return Ok(0);
    }
    let mut args = Args::default();
    let list = in_list(&mut args, user_ids);
    let r =
        args.bind(sqlx::query(&format!("DELETE FROM sessions WHERE user_id IN {list}"))).execute(&mut *conn).await?;
    Ok(r.rows_affected())
}

/// End every session of a user but the one whose hash is `keep` (password
/// change, "sign out other sessions"), in the caller's transaction.
pub async fn end_others(conn: &mut AnyConnection, user_id: UserId, keep: &str) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// How many sessions each of `user_ids` has (absent: none).
pub async fn count_for_users(conn: &mut AnyConnection, user_ids: &[UserId]) -> AppResult<HashMap<UserId, i64>> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, user_ids);
    let sql = format!("SELECT user_id, COUNT(*) AS n FROM sessions WHERE user_id IN {list} GROUP BY user_id");
    let rows: Vec<(UserId, i64)> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().collect())
}

/// One session of a user, as [`list_for_user`] reads it.
#[derive(sqlx::FromRow)]
pub struct Listed {
    pub id_hash: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// A user's sessions, the most recently seen first.
pub async fn list_for_user(db: &Db, user_id: UserId) -> AppResult<Vec<Listed>> {
    Ok(sqlx::query_as(
        "SELECT id_hash, user_agent, ip, created_at, last_seen_at FROM sessions WHERE user_id = $1 ORDER BY last_seen_at DESC",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

/// `Set-Cookie` for a new session. Over https its name has the `__Host-`
/// prefix, which requires exactly what it has: Secure, `Path=/`, no Domain.
fn session_cookie(settings: &Settings, value: &str) -> String {
    Cookie::build((settings.cookie_name(), value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::seconds(settings.session_absolute_timeout.as_secs() as i64))
        .build()
        .to_string()
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(settings: &Settings) -> String {
    Cookie::build((settings.cookie_name(), ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The session token from the cookie named for this deployment (only the
/// `__Host-` one over https: an unprefixed cookie may have been planted by a
/// sibling subdomain).
pub(crate) fn cookie_token(headers: &HeaderMap, name: &str) -> Option<Token> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| Token::parse(c.value()))
}

/// Look up a live session (its hash and row) and slide its idle timeout.
/// Expired sessions are deleted; disabled users have none. The middleware
/// adds the user's permissions (`crate::server::middleware::resolve`).
pub async fn find(db: &Db, settings: &Settings, token: &Token) -> AppResult<Option<(String, Live)>> {
    let hash = token.hash();
    let row: Option<Live> = sqlx::query_as(
        "SELECT s.user_id, s.last_seen_at, s.absolute_expires_at, s.authenticated_at, u.email, u.first_name, u.last_name, u.enabled \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let now = now_ms();
    let last_seen = row.last_seen_at;
    let idle_ms = settings.session_idle_timeout.as_millis() as i64;
    if !row.enabled || now >= row.absolute_expires_at || now >= last_seen + idle_ms {
        // Best effort: the session is over whether or not the row goes now
        // (this check refuses it again next time).
        if let Err(e) = delete(db, &hash).await {
            tracing::warn!(error = %e, "an expired session could not be deleted");
        }
        return Ok(None);
    }
    // Slide the idle timeout, but write at most every quarter timeout (capped
    // at a minute). Best effort: a read must not fail because this write did
    // (a full disk); the next request tries again, and the session ends at
    // most a quarter timeout early.
    if now - last_seen >= (idle_ms / 4).min(60_000) {
        if let Err(e) = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(&db.pool)
            .await
        {
            tracing::warn!(error = %e, "the session's last-seen time could not be written");
        }
    }
    Ok(Some((hash, row)))
}

/// A session and its user, as [`find`] reads them.
#[derive(sqlx::FromRow)]
pub struct Live {
    pub user_id: UserId,
    last_seen_at: i64,
    absolute_expires_at: i64,
    pub authenticated_at: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "crate::server::sql::Flag")]
    enabled: bool,
}
