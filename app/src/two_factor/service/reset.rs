//! What administrators see and do in Users: a user's factors, and the reset.

use super::security::notify;
use super::status::{codes_left, required, totp_enabled};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::UserId;
use crate::error::AppResult;
use crate::server::access::{apps, perms, Access};
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use crate::two_factor::types::UserFactors;

/// Which factors user `id` has (never a secret).
pub async fn factors_of(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    id: UserId,
) -> AppResult<UserFactors> {
    let mut conn = state.db.pool.acquire().await?;
    crate::grants::user_email(&mut conn, id).await?;
    Ok(UserFactors {
        totp_enabled: totp_enabled(&mut conn, id).await?,
        passkeys: crate::two_factor::passkeys::count(&mut conn, id).await?,
        recovery_codes_left: codes_left(&mut conn, id).await?,
        required: required(&mut conn, id).await?,
    })
}

/// Remove user `id`'s second factors and recovery codes, end their sessions
/// and pending sign-ins, and email them. The rule of `grants::check_may_manage`
/// applies: only an administrator resets an administrator.
pub async fn reset(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: UserId) -> AppResult<()> {
    let caller = access.principal();
    let mut tx = state.db.begin_write().await?;
    let email = crate::grants::user_email(&mut tx, id).await?;
    crate::grants::check_may_manage(&mut tx, caller, id).await?;
    let totp = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM webauthn_challenges WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM pending_sign_ins WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    let ended = crate::server::session::end_all_for_user(&mut tx, id).await?;
    record(
        &mut tx,
        &Actor::of(caller),
        Event::new(AuditAction::TwoFactorReset).user(id, &email).details(format!(
            "authenticator app removed: {}; {} passkeys removed; {} recovery codes removed; {} sessions ended",
            if totp.rows_affected() > 0 { "yes" } else { "none set up" },
            passkeys.rows_affected(),
            codes.rows_affected(),
            ended
        )),
    )
    .await?;
    notify(&mut tx, &state.settings, TemplateKind::TwoFactorReset, id, &email).await?;
    tx.commit().await?;
    Ok(())
}
