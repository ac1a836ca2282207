//! What administrators see and do in Users: a user's factors, and the reset.

use super::security::notify;
use super::status::{required, totp_enabled};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::UserId;
use crate::error::AppResult;
use crate::server::access::{apps, perms, Access};
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use crate::two_factor::repo;
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
        passkeys: repo::passkey_count(&mut conn, id).await?,
        recovery_codes_left: repo::recovery_codes_left(&mut conn, id).await?,
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
    let removed = repo::remove_all(&mut tx, id).await?;
    let ended = crate::server::session::end_all_for_user(&mut tx, id).await?;
    record(
        &mut tx,
        &Actor::of(caller),
        Event::new(AuditAction::TwoFactorReset).user(id, &email).details(format!(
            "authenticator app removed: {}; {} passkeys removed; {} recovery codes removed; {} sessions ended",
            if removed.totp > 0 { "yes" } else { "none set up" },
            removed.passkeys,
            removed.recovery_codes,
            ended
        )),
    )
    .await?;
    notify(&mut tx, &state.settings, TemplateKind::TwoFactorReset, id, &email).await?;
    tx.commit().await?;
    Ok(())
}
