//! The second sign-in step: the pending sign-in, the throttle's count, the
//! code or passkey that proves it, and the session it ends in.

use super::recovery::recovery_hash;
use super::security::notify;
use super::totp::{is_totp_code, unspent_step};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::Timestamp;
use crate::error::{AppError, AppResult};
use crate::server::crypto::Token;
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use crate::two_factor::repo::{self, Pending};

/// The second step's answer for a missing, expired or used pending sign-in.
pub fn expired() -> AppError {
    AppError::NotFound("This sign-in has expired or was already completed. Sign in again.".into())
}

/// The second step's answer for a code that is not right (whatever kind it was).
pub(super) fn wrong_code() -> AppError {
    AppError::Invalid(
        "That code is not right. Enter the current code from your authenticator app, or a recovery code.".into(),
    )
}

/// The pending sign-in `token` names, unexpired, of an enabled account.
pub(in crate::two_factor) async fn pending(state: &AppState, token: &Token) -> AppResult<Pending> {
    repo::pending(&state.db, &token.hash(), Timestamp::now()).await?.ok_or_else(expired)
}

/// Which second factor proved the sign-in.
pub(in crate::two_factor) enum Proof {
    Totp(i64),
    Recovery(i64),
    Passkey(Box<crate::two_factor::passkeys::Use>),
}

/// The second step: `code` is an authenticator code or a recovery code. The
/// attempt is counted in the sign-in throttle (the account's key and the
/// client's IP) before it is checked; a right code spends itself, ends the
/// pending sign-in, clears the failures and starts the session, in one
/// transaction.
pub async fn second_step(state: &AppState, token: &Token, code: &str) -> AppResult<crate::credentials::SignedIn> {
    let pending = pending(state, token).await?;
    let actor = Actor::anonymous(&pending.email);
    let reservation = reserve_second_step(state, &pending, &actor).await?;
    let mut conn = state.db.pool.acquire().await?;
    let proof = if is_totp_code(code) {
        unspent_step(state, &mut conn, pending.user_id, &pending.email, code).await?.map(Proof::Totp)
    } else {
        match recovery_hash(code) {
            Some(hash) => repo::unused_recovery_code(&mut conn, pending.user_id, &hash).await?.map(Proof::Recovery),
            None => None,
        }
    };
    drop(conn);
    if let Some(proof) = proof {
        if let Some(signed_in) = complete(state, token, &pending, &actor, proof).await? {
            return Ok(signed_in);
        }
    }
    tracing::info!(user_id = pending.user_id.get(), "second sign-in step refused");
    let account = crate::credentials::Account {
        id: pending.user_id,
        email: pending.email.clone(),
        password_hash: None,
        enabled: true,
    };
    let event =
        Event::new(AuditAction::SignInFailure).user(pending.user_id, &pending.email).details("wrong second-step code");
    crate::credentials::record_failed_second_step(state, &actor, event, &reservation, &account, &pending.email_norm)
        .await?;
    Err(wrong_code())
}

/// Count a second-step attempt before it is checked: refused while failed
/// second steps keep the account locked (the longer lock of
/// [`throttle::second_step_locked`](crate::credentials::throttle::second_step_locked)),
/// else as the sign-in throttle decides.
pub(in crate::two_factor) async fn reserve_second_step(
    state: &AppState,
    pending: &Pending,
    actor: &Actor,
) -> AppResult<crate::credentials::throttle::Reservation> {
    use crate::credentials::throttle::{self, Verdict};
    if let Some(secs) = throttle::second_step_locked(&state.db, &pending.email_norm).await? {
        crate::server::metrics::throttle(crate::server::metrics::Throttle::Locked);
        return Err(AppError::Throttled(secs));
    }
    match throttle::check_and_reserve(&state.db, &state.settings.throttle, &pending.email_norm, &actor.ip).await? {
        Verdict::Allow(r) => Ok(r),
        Verdict::Wait(secs) | Verdict::Locked(secs) => Err(AppError::Throttled(secs)),
    }
}

/// Spend the proof and start the session, or `None` when another request
/// spent the code first (a replay).
pub(in crate::two_factor) async fn complete(
    state: &AppState,
    token: &Token,
    pending: &Pending,
    actor: &Actor,
    proof: Proof,
) -> AppResult<Option<crate::credentials::SignedIn>> {
    use crate::server::session::client;
    let now = Timestamp::now();
    let mut tx = state.db.begin_write().await?;
    let (spent, how) = match &proof {
        Proof::Totp(step) => {
            (repo::spend_totp_step(&mut tx, pending.user_id, *step).await?, "authenticator app".to_string())
        }
        Proof::Recovery(id) => (repo::spend_recovery_code(&mut tx, *id, now).await?, "recovery code".to_string()),
        Proof::Passkey(used) => (used.record(&mut tx).await?, used.label()),
    };
    if !spent {
        return Ok(None);
    }
    if !repo::end_pending(&mut tx, &token.hash(), now).await? {
        return Err(expired());
    }
    crate::credentials::throttle::clear(&mut tx, &pending.email_norm).await?;
    crate::credentials::throttle::clear_second_step_locks(&mut tx, &pending.email_norm).await?;
    let me = Actor { id: Some(pending.user_id), ..actor.clone() };
    if matches!(proof, Proof::Recovery(_)) {
        let left = repo::recovery_codes_left(&mut tx, pending.user_id).await?;
        record(
            &mut tx,
            &me,
            Event::new(AuditAction::TwoFactorRecoveryCodeUsed)
                .user(pending.user_id, &pending.email)
                .details(format!("{left} recovery codes left")),
        )
        .await?;
        notify(&mut tx, &state.settings, TemplateKind::RecoveryCodeUsed, pending.user_id, &pending.email).await?;
    }
    record(
        &mut tx,
        &me,
        Event::new(AuditAction::SignInSuccess)
            .user(pending.user_id, &pending.email_norm)
            .details(format!("second step: {how}")),
    )
    .await?;
    let cookie = crate::credentials::open_session(&mut tx, &state.settings, pending.user_id, &client()).await?;
    tx.commit().await?;
    Ok(Some(crate::credentials::SignedIn { user_id: pending.user_id, cookie }))
}
