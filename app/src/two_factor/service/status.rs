//! Which second factors a person has, for the Security tab.

use super::totp::totp_row;
use crate::domain::UserId;
use crate::error::AppResult;
use crate::server::state::AppState;
use crate::two_factor::types::SecurityStatus;
use sqlx::AnyConnection;

/// Has the user an authenticator app in use?
pub(in crate::two_factor) async fn totp_enabled(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    Ok(totp_row(conn, user_id, true).await?.is_some())
}

/// Does one of the user's roles require a second factor?
pub(in crate::two_factor) async fn required(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND r.require_two_factor",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

pub(super) async fn codes_left(conn: &mut AnyConnection, user_id: UserId) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?)
}

pub async fn status(state: &AppState, user_id: UserId) -> AppResult<SecurityStatus> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(SecurityStatus {
        totp_enabled: totp_enabled(&mut conn, user_id).await?,
        passkeys: crate::two_factor::passkeys::list(&mut conn, user_id).await?,
        recovery_codes_left: codes_left(&mut conn, user_id).await?,
        required: required(&mut conn, user_id).await?,
    })
}
