//! The Security tab: set up and turn off the authenticator app, new recovery
//! codes, and "Confirm it's you".

use super::recovery::replace_codes;
use super::status::{required, totp_enabled};
use super::totp::{matching_step, open, seal, totp_of, unspent_step};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::credentials::has_second_factor;
use crate::domain::{Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::server::access::Principal;
use crate::server::secret::SecretString;
use crate::server::state::{AppState, Settings};
use crate::settings::template::TemplateKind;
use crate::two_factor::repo;
use crate::two_factor::types::TotpSetup;
use sqlx::AnyConnection;

/// A fresh secret for the caller, replacing one not yet enabled. Refused
/// while an authenticator is in use (disable it first): its secret is never shown again.
pub async fn begin_totp(state: &AppState, me: &Principal) -> AppResult<TotpSetup> {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = totp_rs::Secret::Raw(bytes.to_vec()).to_encoded().to_string();
    let totp = totp_of(&state.settings.site_name, &secret, &me.email)?;
    let uri = totp.get_url();
    let sealed = seal(state, &SecretString::new(secret.clone())).await?;
    let mut tx = state.db.begin_write().await?;
    if totp_enabled(&mut tx, me.user_id).await? {
        return Err(AppError::Conflict(
            "An authenticator app is already set up. Remove it first to set up another.".into(),
        ));
    }
    repo::delete_totp(&mut tx, me.user_id).await?;
    repo::insert_totp(&mut tx, me.user_id, &sealed, Timestamp::now()).await?;
    tx.commit().await?;
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::internal("QR code", e))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(TotpSetup { secret, uri, qr_svg })
}

/// Enable the authenticator being set up, with one valid code. The first
/// second factor also gets 10 recovery codes, returned here and never again.
pub async fn enable_totp(state: &AppState, me: &Principal, code: &str) -> AppResult<Vec<String>> {
    // Read and open the secret before the write transaction (opening may
    // read the install key, and SQLite has one writer).
    let mut conn = state.db.pool.acquire().await?;
    let row = repo::totp(&mut conn, me.user_id, false).await?.ok_or_else(|| {
        AppError::Conflict("There is no authenticator app being set up. Start again with Set up.".into())
    })?;
    drop(conn);
    let secret = open(state, &row.secret).await?;
    let totp = totp_of(&state.settings.site_name, secret.expose(), &me.email)?;
    let Some(step) = matching_step(&totp, code, Timestamp::now().millis()) else {
        return Err(AppError::Invalid(
            "That code is not right. Enter the 6-digit code your authenticator app shows now.".into(),
        ));
    };
    let mut tx = state.db.begin_write().await?;
    let first = !has_second_factor(&mut tx, me.user_id).await?;
    // The confirming code is spent too: it will not sign in.
    if !repo::enable_totp(&mut tx, me.user_id, &row.secret, step, Timestamp::now()).await? {
        return Err(AppError::Conflict(
            "This setup was replaced or finished in another window. Start again with Set up.".into(),
        ));
    }
    let actor = Actor::of(me);
    record(&mut tx, &actor, Event::new(AuditAction::TwoFactorTotpEnabled).user(me.user_id, &me.email)).await?;
    let codes = if first {
        let codes = replace_codes(&mut tx, me.user_id).await?;
        record(&mut tx, &actor, Event::new(AuditAction::TwoFactorRecoveryCodesGenerated).user(me.user_id, &me.email))
            .await?;
        codes
    } else {
        Vec::new()
    };
    notify(&mut tx, &state.settings, TemplateKind::AuthenticatorAdded, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Refuse unless `password` is the caller's (counted in the sign-in throttle).
pub(in crate::two_factor) async fn confirm_password(state: &AppState, me: &Principal, password: &str) -> AppResult<()> {
    if crate::account::service::verify_own_password(state, me, password).await? {
        // A password typed with the request is a fresh authentication.
        crate::server::session::mark_authenticated(&state.db, &me.session_hash).await?;
        Ok(())
    } else {
        Err(AppError::Invalid("The password is incorrect.".into()))
    }
}

/// "Confirm it's you": `password`, or else `code` from the caller's
/// authenticator app, each counted in the sign-in throttle on the account's
/// key like a sign-in (a stolen session gets no more guesses than the sign-in
/// page gives). A right one makes the session's authentication fresh; an
/// authenticator code spends its time step, as at sign-in.
pub async fn confirm_identity(state: &AppState, me: &Principal, password: &str, code: &str) -> AppResult<()> {
    use crate::credentials::throttle::{self, Verdict};
    if !password.is_empty() {
        return confirm_password(state, me, password).await;
    }
    if code.trim().is_empty() {
        return Err(AppError::Invalid("Enter your password, or a code from your authenticator app.".into()));
    }
    let key = me.email.to_lowercase();
    let actor = Actor::of(me);
    let reservation = match throttle::check_and_reserve(&state.db, &state.settings.throttle, &key, &actor.ip).await? {
        Verdict::Allow(r) => r,
        Verdict::Wait(secs) | Verdict::Locked(secs) => return Err(AppError::Throttled(secs)),
    };
    let mut conn = state.db.pool.acquire().await?;
    let step = unspent_step(state, &mut conn, me.user_id, &me.email, code).await?;
    drop(conn);
    if let Some(step) = step {
        let mut tx = state.db.begin_write().await?;
        if repo::spend_totp_step(&mut tx, me.user_id, step).await? {
            crate::credentials::throttle::clear(&mut tx, &key).await?;
            tx.commit().await?;
            crate::server::session::mark_authenticated(&state.db, &me.session_hash).await?;
            return Ok(());
        }
    }
    let account =
        crate::credentials::Account { id: me.user_id, email: me.email.clone(), password_hash: None, enabled: true };
    let event = Event::new(AuditAction::SignInFailure).user(me.user_id, &me.email).details("wrong confirmation code");
    crate::credentials::record_failed_check(state, &actor, Some(event), &reservation, Some(&account)).await?;
    Err(AppError::Invalid(
        "That code is not right. Enter the current code from your authenticator app, or your password.".into(),
    ))
}

/// Remove the caller's authenticator app (and, with no second factor left, the
/// recovery codes). Refused while a role requires a second factor and it is the last one.
pub async fn disable_totp(state: &AppState, me: &Principal, password: &str) -> AppResult<()> {
    confirm_password(state, me, password).await?;
    let mut tx = state.db.begin_write().await?;
    if !totp_enabled(&mut tx, me.user_id).await? {
        return Err(AppError::Conflict("No authenticator app is set up.".into()));
    }
    let last = repo::passkey_count(&mut tx, me.user_id).await? == 0;
    if last && required(&mut tx, me.user_id).await? {
        return Err(AppError::NotAllowed(
            "A role of yours requires two-factor sign-in, so the authenticator app cannot be removed. \
             Add a passkey first, or ask an administrator to reset it if you lost it."
                .into(),
        ));
    }
    repo::delete_totp(&mut tx, me.user_id).await?;
    if last {
        repo::delete_recovery_codes(&mut tx, me.user_id).await?;
    }
    record(&mut tx, &Actor::of(me), Event::new(AuditAction::TwoFactorTotpDisabled).user(me.user_id, &me.email)).await?;
    notify(&mut tx, &state.settings, TemplateKind::AuthenticatorRemoved, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(())
}

/// 10 new recovery codes for the caller; the old ones stop working.
pub async fn regenerate_codes(state: &AppState, me: &Principal, password: &str) -> AppResult<Vec<String>> {
    confirm_password(state, me, password).await?;
    let mut tx = state.db.begin_write().await?;
    if !has_second_factor(&mut tx, me.user_id).await? {
        return Err(AppError::Conflict(
            "Recovery codes come with a second factor: add a passkey or set up an authenticator app first.".into(),
        ));
    }
    let codes = replace_codes(&mut tx, me.user_id).await?;
    record(
        &mut tx,
        &Actor::of(me),
        Event::new(AuditAction::TwoFactorRecoveryCodesGenerated)
            .user(me.user_id, &me.email)
            .details("the old codes stopped working"),
    )
    .await?;
    notify(&mut tx, &state.settings, TemplateKind::RecoveryCodesGenerated, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Queue a security notice to the owner (`kind`: a second factor added or
/// removed, new recovery codes, a recovery code used, reset).
pub(in crate::two_factor) async fn notify(
    conn: &mut AnyConnection,
    settings: &Settings,
    kind: TemplateKind,
    user_id: UserId,
    to: &str,
) -> AppResult<()> {
    crate::mail::notify_owner(conn, settings, kind, user_id, to, &[]).await
}
