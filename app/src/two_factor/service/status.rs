//! Which second factors a person has, for the Security tab.

use crate::domain::UserId;
use crate::error::AppResult;
use crate::server::state::AppState;
use crate::two_factor::repo;
use crate::two_factor::types::SecurityStatus;
use sqlx::AnyConnection;

/// Has the user an authenticator app in use?
pub(in crate::two_factor) async fn totp_enabled(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    Ok(repo::totp(conn, user_id, true).await?.is_some())
}

/// Does one of the user's roles require a second factor?
pub(in crate::two_factor) async fn required(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    crate::roles::repo::requires_two_factor(conn, user_id).await
}

pub async fn status(state: &AppState, user_id: UserId) -> AppResult<SecurityStatus> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(SecurityStatus {
        totp_enabled: totp_enabled(&mut conn, user_id).await?,
        passkeys: crate::two_factor::passkeys::list(&mut conn, user_id).await?,
        recovery_codes_left: repo::recovery_codes_left(&mut conn, user_id).await?,
        required: required(&mut conn, user_id).await?,
    })
}
