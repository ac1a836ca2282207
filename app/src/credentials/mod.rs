//! What sign-in and the second step share, so that `auth` and `two_factor`
//! use it instead of calling each other: an account as a password check sees
//! it, the counted password check and its failures (throttle, audit, lockout
//! email), whether a user has a second factor, and the pending sign-in that
//! waits for one (its record and its cookie).

pub mod throttle;

use crate::domain::{EmailAddress, Timestamp, UserId};
use crate::error::AppResult;
use crate::mail::templates;
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::session::{self, ClientInfo};
use crate::server::state::{AppState, Settings};
use crate::two_factor::repo;
use sqlx::AnyConnection;
use std::time::Duration;

/// An account as sign-in sees it.
pub use crate::users::repo::Account;

/// A successful sign-in: who, and the new session's cookie.
pub struct SignedIn {
    pub user_id: UserId,
    pub cookie: String,
}

/// The account whose normalized email is `key`, if any.
pub async fn account_by_key(db: &Db, key: &str) -> AppResult<Option<Account>> {
    crate::users::repo::account_by_key(&mut *db.pool.acquire().await?, key).await
}

/// Sign `user_id` in, in the caller's write transaction: a new session, and
/// the sign-in recorded on the user. Returns the session's cookie.
pub async fn open_session(
    conn: &mut AnyConnection,
    settings: &Settings,
    user_id: UserId,
    client: &ClientInfo,
) -> AppResult<String> {
    let now = Timestamp::now();
    let cookie = session::create_in(conn, settings, user_id, client, now).await?;
    crate::users::repo::record_sign_in(conn, user_id, now).await?;
    Ok(cookie)
}

/// [`open_session`] in a transaction of its own, for the request's client
/// (setup and sign-up sign the new person in). Returns the session's cookie,
/// for `session::replace_session`.
pub async fn new_session(state: &AppState, user_id: UserId) -> AppResult<String> {
    let mut tx = state.db.begin_write().await?;
    let cookie = open_session(&mut tx, &state.settings, user_id, &session::client()).await?;
    tx.commit().await?;
    Ok(cookie)
}

/// The throttle key and the audit actor for what was typed in an email field:
/// the normalized address, or [`NOT_AN_EMAIL`](throttle::NOT_AN_EMAIL)
/// when it is not one (it may be a password, so it is never stored).
pub fn typed_email(typed: &str) -> (String, crate::audit::service::Actor) {
    use crate::audit::service::Actor;
    match EmailAddress::parse(typed) {
        Ok(email) => (email.normalized(), Actor::anonymous(email.as_str())),
        Err(_) => (throttle::NOT_AN_EMAIL.to_string(), Actor::anonymous(throttle::NOT_AN_EMAIL)),
    }
}

/// One Argon2 verification for an attempt the throttle has counted. When the
/// hasher is too busy to run it, the attempt is taken back: it was never
/// checked, so it is not a failure.
pub async fn verify_counted(
    state: &AppState,
    reservation: &throttle::Reservation,
    password: &str,
    stored: Option<&str>,
) -> AppResult<bool> {
    match state.passwords.verify(password, stored).await {
        Ok(verified) => Ok(verified),
        Err(e) => {
            throttle::cancel(&state.db, reservation).await?;
            Err(e)
        }
    }
}

/// A counted password check failed: forget stale failures, write `audit`, and
/// when this failure locked the account, record the lockout and (once per
/// lockout, see [`Reservation::locks`](throttle::Reservation::locks))
/// queue the owner's email, all in one transaction.
pub async fn record_failed_check(
    state: &AppState,
    actor: &crate::audit::service::Actor,
    audit: Option<crate::audit::service::Event>,
    reservation: &throttle::Reservation,
    account: Option<&Account>,
) -> AppResult<()> {
    record_failed(state, actor, audit, reservation, account, None).await
}

/// [`record_failed_check`] for a second step: a lockout it causes lasts longer
/// each time ([`throttle::escalate_second_step_lock`]); `account_key`
/// is the account's throttle key.
pub async fn record_failed_second_step(
    state: &AppState,
    actor: &crate::audit::service::Actor,
    audit: crate::audit::service::Event,
    reservation: &throttle::Reservation,
    account: &Account,
    account_key: &str,
) -> AppResult<()> {
    record_failed(state, actor, Some(audit), reservation, Some(account), Some(account_key)).await
}

async fn record_failed(
    state: &AppState,
    actor: &crate::audit::service::Actor,
    audit: Option<crate::audit::service::Event>,
    reservation: &throttle::Reservation,
    account: Option<&Account>,
    second_step_of: Option<&str>,
) -> AppResult<()> {
    use crate::audit::service::{record, AuditAction, Event};
    let s = &state.settings.throttle;
    let mut tx = state.db.begin_write().await?;
    throttle::purge(&mut tx, s).await?;
    if let Some(event) = audit {
        record(&mut tx, actor, event).await?;
    }
    if reservation.locks(s) {
        let unlocks_at = match second_step_of {
            Some(key) => throttle::escalate_second_step_lock(&mut tx, s, key).await?,
            None => reservation.unlocks_at(s),
        };
        let mut event = Event::new(AuditAction::SignInLockout)
            .details(format!("account locked after {} failed attempts", reservation.failures));
        if let Some(a) = account {
            event = event.user(a.id, &a.email);
        }
        record(&mut tx, actor, event).await?;
        if let Some(a) = account.filter(|a| a.enabled) {
            let mail = templates::account_locked(
                &mut tx,
                &state.settings,
                a.id,
                &a.email,
                reservation.failures,
                unlocks_at,
                &state.settings.link("/forgot-password"),
            )
            .await?;
            crate::mail::enqueue(&mut tx, &state.settings, &mail).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

// ---- the second factor ------------------------------------------------------------

pub use crate::two_factor::repo::has_second_factor;

/// How long the half-signed-in state lasts.
pub const PENDING_MS: i64 = 5 * 60_000;

/// Record the half-signed-in state for `user_id` (in the sign-in's
/// transaction) and return the token for its cookie. Expired ones are purged.
pub async fn start_pending(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Token> {
    let now = Timestamp::now();
    repo::purge_expired_pending(conn, now).await?;
    let token = Token::generate();
    repo::insert_pending(conn, &token.hash(), user_id, now, now.plus(Duration::from_millis(PENDING_MS as u64))).await?;
    Ok(token)
}

/// The cookie naming a pending sign-in: HttpOnly, SameSite=Strict, 5 minutes.
pub fn pending_cookie(settings: &Settings, token: &Token) -> String {
    cookie::Cookie::build((settings.pending_cookie_name(), token.expose().to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::milliseconds(PENDING_MS))
        .build()
        .to_string()
}

/// A `Set-Cookie` value that removes the pending sign-in's cookie.
pub fn clear_pending_cookie(settings: &Settings) -> String {
    cookie::Cookie::build((settings.pending_cookie_name(), ""))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}
