//! Self-service account changes. Each function acts on the caller only.

use super::types::{describe_browser, AccountDetails, SessionInfo};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::PersonName;
use crate::error::{AppError, AppResult};
use crate::grants::user_gone;
use crate::server::access::Principal;
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use crate::users::repo as users;

pub async fn info(state: &AppState, me: &Principal) -> AppResult<AccountDetails> {
    let users::Named { email, first_name, last_name } =
        users::named(&mut *state.db.pool.acquire().await?, me.user_id).await?.ok_or_else(user_gone)?;
    Ok(AccountDetails { email, first_name, last_name })
}

pub async fn update_name(state: &AppState, me: &Principal, name: &PersonName) -> AppResult<()> {
    let (first, last) = (name.first(), name.last());
    let mut tx = state.db.begin_write().await?;
    users::set_name(&mut tx, me.user_id, name).await?;
    let diff =
        crate::audit::service::diff(&[("first name", &me.first_name, first), ("last name", &me.last_name, last)]);
    record(&mut tx, &Actor::of(me), Event::new(AuditAction::UserUpdated).user(me.user_id, &me.email).details(diff))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Check the current password (counted and throttled like a sign-in, on the
/// same account key, so a stolen session gets no more guesses than the sign-in
/// page gives), apply the policy, store the new hash and end every other
/// session of the user. Returns how many sessions ended.
pub async fn change_password(
    state: &AppState,
    me: &Principal,
    current: &str,
    password: &str,
    confirmation: &str,
) -> AppResult<u64> {
    if !verify_own_password(state, me, current).await? {
        return Err(AppError::Invalid("The current password is incorrect.".into()));
    }
    if current == password {
        return Err(AppError::Invalid("The new password must differ from the current one.".into()));
    }
    let new = crate::server::policy::parse(state, password, confirmation, &me.email, &me.first_name, &me.last_name)?;
    let hash = state.passwords.hash(new.expose()).await?;
    let mut tx = state.db.begin_write().await?;
    users::set_password(&mut tx, me.user_id, &hash).await?;
    let ended = end_others_recorded(&mut tx, me, AuditAction::PasswordChanged, "other sessions ended").await?;
    crate::mail::notify_owner(&mut tx, &state.settings, TemplateKind::PasswordChanged, me.user_id, &me.email, &[])
        .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Is `password` the caller's? Counted and throttled like a sign-in, on the
/// same account key, so a stolen session gets no more guesses than the sign-in
/// page gives; a wrong one is recorded (and may lock the account), a right
/// one clears the count. Used by Change password and by the Security tab.
pub async fn verify_own_password(state: &AppState, me: &Principal, password: &str) -> AppResult<bool> {
    use crate::credentials::throttle::{self, Verdict};
    let key = me.email.to_lowercase();
    let actor = Actor::of(me);
    state.passwords.ready()?;
    let reservation = match throttle::check_and_reserve(&state.db, &state.settings.throttle, &key, &actor.ip).await? {
        Verdict::Allow(r) => r,
        Verdict::Wait(secs) | Verdict::Locked(secs) => return Err(AppError::Throttled(secs)),
    };
    let stored = users::password_hash(&mut *state.db.pool.acquire().await?, me.user_id).await?;
    if !crate::credentials::verify_counted(state, &reservation, password, stored.as_deref()).await? {
        let account =
            crate::credentials::Account { id: me.user_id, email: me.email.clone(), password_hash: None, enabled: true };
        crate::credentials::record_failed_check(state, &actor, None, &reservation, Some(&account)).await?;
        return Ok(false);
    }
    // The right password: this check and earlier failures no longer count.
    let mut conn = state.db.pool.acquire().await?;
    throttle::clear(&mut conn, &key).await?;
    Ok(true)
}

/// End every session of the caller but this one, and record it, in the caller's transaction.
async fn end_others_recorded(
    conn: &mut sqlx::AnyConnection,
    me: &Principal,
    action: AuditAction,
    what: &str,
) -> AppResult<u64> {
    let ended = crate::server::session::end_others(conn, me.user_id, &me.session_hash).await?;
    record(conn, &Actor::of(me), Event::new(action).user(me.user_id, &me.email).details(format!("{ended} {what}")))
        .await?;
    Ok(ended)
}

pub async fn sessions(state: &AppState, me: &Principal) -> AppResult<Vec<SessionInfo>> {
    let rows = crate::server::session::list_for_user(&state.db, me.user_id).await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionInfo {
            browser: describe_browser(&s.user_agent),
            ip: s.ip,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            current: s.id_hash == me.session_hash,
        })
        .collect())
}

pub async fn end_other_sessions(state: &AppState, me: &Principal) -> AppResult<u64> {
    let mut tx = state.db.begin_write().await?;
    let ended = end_others_recorded(&mut tx, me, AuditAction::SessionEnded, "other sessions signed out").await?;
    tx.commit().await?;
    Ok(ended)
}
