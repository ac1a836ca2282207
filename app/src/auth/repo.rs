//! Every statement on `password_resets`: a link's record (only the SHA-256 of
//! its 256-bit token), how many were sent lately, spending and ending links.
//! Each function runs on the connection or transaction it is given.

use crate::domain::{Timestamp, UserId};
use crate::error::AppResult;
use sqlx::AnyConnection;

/// How many reset links were made since `since` for user `id`, and from the client address `ip`.
pub async fn sent_since(conn: &mut AnyConnection, id: UserId, ip: &str, since: Timestamp) -> AppResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at > $2) AS n, \
                (SELECT COUNT(*) FROM password_resets WHERE ip = $3 AND created_at > $2) AS n_ip",
    )
    .bind(id)
    .bind(since)
    .bind(ip)
    .fetch_one(&mut *conn)
    .await?)
}

/// End every unused reset link of user `id` (only the newest works; an email change ends them all).
pub async fn end_unused(conn: &mut AnyConnection, id: UserId, now: Timestamp) -> AppResult<()> {
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Record a reset link for user `id`, asked for from `ip`, working until `expires`.
pub async fn insert(
    conn: &mut AnyConnection,
    id: UserId,
    token_hash: &str,
    now: Timestamp,
    expires: Timestamp,
    ip: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(token_hash)
    .bind(now)
    .bind(expires)
    .bind(ip)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The account a reset link belongs to.
#[derive(sqlx::FromRow)]
pub struct ResetAccount {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// The enabled account whose unused, unexpired reset link has the hash `token_hash`, if any.
pub async fn account(conn: &mut AnyConnection, token_hash: &str, now: Timestamp) -> AppResult<Option<ResetAccount>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name FROM password_resets p JOIN users u ON u.id = p.user_id \
         WHERE p.token_hash = $1 AND p.used_at IS NULL AND p.expires_at > $2 AND u.enabled",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Spend the unused, unexpired link with the hash `token_hash`; whether it was one.
pub async fn spend(conn: &mut AnyConnection, token_hash: &str, now: Timestamp) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(token_hash)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
