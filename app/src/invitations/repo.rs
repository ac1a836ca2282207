//! Every statement on `invitations`: minting (only the SHA-256 of each link's
//! 256-bit token is stored), revoking, spending, and who a link invites.
//! Each function runs on the connection or transaction it is given.

use super::types::Invited;
use crate::domain::{Timestamp, UserId};
use crate::error::AppResult;
use crate::server::sql::{in_list, Args};
use sqlx::AnyConnection;

/// A new invitation: for whom, the hash of its token, and its email (if queued).
pub struct NewInvitation {
    pub user_id: UserId,
    pub token_hash: String,
    pub email_id: Option<i64>,
}

/// Record `invitations`, made at `now` and working until `expires`, in one statement.
pub async fn insert_many(
    conn: &mut AnyConnection,
    invitations: &[NewInvitation],
    now: Timestamp,
    expires: Timestamp,
) -> AppResult<()> {
    if invitations.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let (created, expires) = (args.int(now.millis()), args.int(expires.millis()));
    let values = args.rows(invitations, |a, i| {
        let email = a.opt_int(i.email_id);
        vec![a.int(i.user_id.get()), a.text(i.token_hash.as_str()), created.clone(), expires.clone(), email]
    });
    let sql =
        format!("INSERT INTO invitations (user_id, token_hash, created_at, expires_at, email_id) VALUES {values}");
    args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    Ok(())
}

/// Revoke every pending (unused, unrevoked) invitation of user `id`.
pub async fn revoke_pending(conn: &mut AnyConnection, id: UserId, now: Timestamp) -> AppResult<()> {
    sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`revoke_pending`] for each of `ids`.
pub async fn revoke_pending_many(conn: &mut AnyConnection, ids: &[UserId], now: Timestamp) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, ids);
    let nowp = args.int(now.millis());
    args.bind(sqlx::query(&format!(
        "UPDATE invitations SET revoked_at = {nowp} WHERE user_id IN {list} AND used_at IS NULL AND revoked_at IS NULL"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Revoke user `id`'s invitations that still work (pending and unexpired);
/// whether there was one.
pub async fn revoke_working(conn: &mut AnyConnection, id: UserId, now: Timestamp) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $1",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Who the working invitation with the hash `token_hash` invites: an enabled
/// user who has not signed up. (Read with the user, in one statement.)
pub async fn invited(conn: &mut AnyConnection, token_hash: &str, now: Timestamp) -> AppResult<Option<Invited>> {
    Ok(sqlx::query_as(
        "SELECT u.email, u.first_name, u.last_name FROM invitations i JOIN users u ON u.id = i.user_id \
         WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 \
         AND u.enabled AND u.password_hash IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Spend the working invitation with the hash `token_hash`: whose it was, if it was one.
pub async fn spend(conn: &mut AnyConnection, token_hash: &str, now: Timestamp) -> AppResult<Option<UserId>> {
    Ok(sqlx::query_scalar(
        "UPDATE invitations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?)
}
