//! Sign-in and first-run setup, without any HTTP or HTML.

use super::repo;
use crate::credentials::{account_by_key, record_failed_check, typed_email, verify_counted, SignedIn};
use crate::domain::{EmailAddress, PersonName, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::mail::templates;
use crate::server::db::Db;
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use crate::users::repo as users;

pub async fn user_count(db: &Db) -> AppResult<i64> {
    users::count(&mut *db.pool.acquire().await?).await
}

/// Create a Global administrator. Used by first-run setup and `server create-admin`.
/// With `only_if_first`, refuses when any user exists (the check and the insert
/// share one transaction, so two setup requests cannot both win).
pub async fn create_admin(
    db: &Db,
    password_hash: &str,
    email: &EmailAddress,
    name: &PersonName,
    only_if_first: bool,
) -> AppResult<UserId> {
    let mut tx = db.begin_write().await?;
    if only_if_first && users::count(&mut tx).await? > 0 {
        return Err(AppError::Conflict("Roster is already set up. Sign in instead.".into()));
    }
    if users::id_by_email(&mut tx, email).await?.is_some() {
        return Err(AppError::Conflict(format!("A user with the email {email} already exists.")));
    }
    let id = users::insert(&mut tx, email, name, Some(password_hash), Timestamp::now()).await?;
    crate::roles::repo::give_administrator(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Parse and hash, then create the administrator.
pub async fn create_admin_with_password(
    state: &AppState,
    email: &str,
    name: &PersonName,
    password: &str,
    confirmation: &str,
    only_if_first: bool,
) -> AppResult<UserId> {
    let email = EmailAddress::parse(email).map_err(AppError::Invalid)?;
    let password =
        crate::server::policy::parse(state, password, confirmation, email.as_str(), name.first(), name.last())?;
    let hash = state.passwords.hash(password.expose()).await?;
    create_admin(&state.db, &hash, &email, name, only_if_first).await
}

/// First-run setup: with this process's one-time setup token, create the
/// first Global administrator; the token is spent once it worked. The setup
/// link is printed on the console, not sent to the address typed here, so it
/// proves nothing about that mailbox: the administrator's address starts
/// unconfirmed (`email_verified: false` in ID tokens) until they confirm it
/// (Send confirmation link on their page in Users) or reset the password
/// through an emailed link. The same holds for `server create-admin`.
pub async fn set_up_first_admin(
    state: &AppState,
    token: &str,
    email: &str,
    name: &PersonName,
    password: &str,
    confirmation: &str,
) -> AppResult<UserId> {
    let invalid = || {
        AppError::NotFound("This setup link is no longer valid. Restart Roster to get a new one, or sign in.".into())
    };
    let token = crate::server::crypto::Token::parse(token).ok_or_else(invalid)?;
    if !state.setup.matches(&token) {
        return Err(invalid());
    }
    let id = create_admin_with_password(state, email, name, password, confirmation, true).await?;
    state.setup.clear();
    Ok(id)
}

/// What a right password leads to: a session, or (with a second factor) the
/// second step, named by this pending sign-in's token.
pub enum SignInOutcome {
    Session(SignedIn),
    SecondStep(crate::server::crypto::Token),
}

/// Sign in with throttling and audit. The attempt is counted first (see
/// `throttle::reserve`), then one Argon2 verification runs, against a dummy
/// hash when the account does not exist, so timing tells nothing; a locked
/// account answers exactly like a wrong password, after the same Argon2 work.
/// On success the failures are cleared, the sign-in recorded and a new session
/// started in one write transaction; on failure the attempt stays counted.
/// With a second factor the session waits for the second step: only this
/// attempt's own count is taken back, earlier failures stay until the second
/// step succeeds (so a stolen password cannot reset the count of code guesses).
pub async fn sign_in_checked(state: &AppState, email: &str, password: &str) -> AppResult<SignInOutcome> {
    use crate::server::metrics::{sign_in, SignIn};
    let mut locked = false;
    let result = check_password(state, email, password, &mut locked).await;
    sign_in(match &result {
        Ok(SignInOutcome::Session(_)) => SignIn::Success,
        Ok(SignInOutcome::SecondStep(_)) => SignIn::SecondFactorRequired,
        Err(AppError::BadCredentials) if locked => SignIn::Locked,
        Err(AppError::BadCredentials) => SignIn::WrongCredentials,
        Err(AppError::Throttled(_)) => SignIn::Throttled,
        Err(AppError::Busy(_)) => SignIn::Busy,
        Err(_) => SignIn::Error,
    });
    result
}

/// [`sign_in_checked`] without its count; `locked` tells a locked account's
/// refusal from a wrong password's (the person reads the same answer).
async fn check_password(state: &AppState, email: &str, password: &str, locked: &mut bool) -> AppResult<SignInOutcome> {
    use crate::audit::service::{record, record_now, Actor, AuditAction, Event};
    use crate::credentials::throttle::{self, Verdict};
    use crate::server::session::client;
    let (key, actor) = typed_email(email);
    let s = &state.settings.throttle;
    // A full hasher queue refuses before anything is counted or written.
    state.passwords.ready()?;
    // The account and a first look at the throttle (no lock, no write), at once.
    let (account, early) =
        tokio::join!(account_by_key(&state.db, &key), throttle::check(&state.db, s, &key, &actor.ip));
    let (account, early) = (account?, early?);
    let verdict = match early {
        Some(refused) => refused,
        None => throttle::reserve(&state.db, s, &key, &actor.ip).await?,
    };
    let reservation = match verdict {
        Verdict::Allow(r) => r,
        Verdict::Wait(secs) => return Err(AppError::Throttled(secs)),
        Verdict::Locked(_) => {
            *locked = true;
            state.passwords.verify(password, None).await?;
            record_now(&state.db, &actor, Event::new(AuditAction::SignInLockout).details("refused: account locked"))
                .await?;
            return Err(AppError::BadCredentials);
        }
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
    let verified = verify_counted(state, &reservation, password, stored).await?;
    match account {
        Some(a) if verified && a.enabled => {
            let mut tx = state.db.begin_write().await?;
            if crate::credentials::has_second_factor(&mut tx, a.id).await? {
                throttle::cancel_in(&mut tx, &reservation).await?;
                let token = crate::credentials::start_pending(&mut tx, a.id).await?;
                tx.commit().await?;
                return Ok(SignInOutcome::SecondStep(token));
            }
            // This attempt's reservation and any earlier failures.
            throttle::clear(&mut tx, &key).await?;
            record(
                &mut tx,
                &Actor { id: Some(a.id), ..actor.clone() },
                Event::new(AuditAction::SignInSuccess).user(a.id, &key),
            )
            .await?;
            let cookie = crate::credentials::open_session(&mut tx, &state.settings, a.id, &client()).await?;
            tx.commit().await?;
            Ok(SignInOutcome::Session(SignedIn { user_id: a.id, cookie }))
        }
        account => {
            tracing::info!(known = account.is_some(), "sign-in refused");
            record_failed_check(
                state,
                &actor,
                Some(Event::new(AuditAction::SignInFailure)),
                &reservation,
                account.as_ref(),
            )
            .await?;
            Err(AppError::BadCredentials)
        }
    }
}

// ---- forgot / reset password -------------------------------------------------------

/// Password reset emails per hour are limited per account and per client IP.
const RESET_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long a reset link works.
const RESET_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Lock spaces for the reset limits (see `throttle::serialize`).
const LOCK_RESET_ACCOUNT: i32 = 3;
const LOCK_RESET_IP: i32 = 4;

/// Password resets being queued in the background at once, at most; more are dropped.
const RESET_JOBS: usize = 16;
static RESET_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(RESET_JOBS);

/// Queue a reset email in the background, so the caller answers at once and
/// the same way whatever happens. At most [`RESET_JOBS`] run at a time; a
/// request beyond that is dropped (and logged): the person can ask again.
pub fn request_reset_in_background(state: AppState, email: EmailAddress, ip: String) {
    let Ok(permit) = RESET_PERMITS.try_acquire() else {
        tracing::warn!("too many password reset requests at once; one was dropped");
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        if request_reset(&state, &email, ip).await.is_err() {
            tracing::error!("queueing a password reset failed");
        }
    });
}

/// Queue a reset email if the account exists and is enabled, and neither the
/// account nor the client IP has had its allowance of reset emails this hour.
/// The lookup is a plain read, so requests for unknown addresses never take
/// the write lock.
pub async fn request_reset(state: &AppState, email: &EmailAddress, ip: String) -> AppResult<()> {
    use crate::audit::service::{record, Actor, AuditAction, Event};
    use crate::server::crypto::Token;
    let row = users::reset_recipient(&mut *state.db.pool.acquire().await?, email).await?;
    let Some((id, to)) = row else { return Ok(()) };
    let mut tx = state.db.begin_write().await?;
    let id_key = id.to_string();
    let mut keys = vec![(LOCK_RESET_ACCOUNT, id_key.as_str())];
    if !ip.is_empty() {
        keys.push((LOCK_RESET_IP, ip.as_str()));
    }
    crate::credentials::throttle::serialize(&mut tx, state.db.backend, &keys).await?;
    let now = Timestamp::now();
    let (n, n_ip) = repo::sent_since(&mut tx, id, &ip, now.minus(RESET_WINDOW)).await?;
    let settings = &state.settings;
    if n >= settings.reset_emails_per_address || (!ip.is_empty() && n_ip >= settings.reset_emails_per_ip) {
        tracing::info!(user_id = id.get(), "password reset email not sent: this hour's allowance is used");
        return Ok(());
    }
    // Only the newest link works.
    repo::end_unused(&mut tx, id, now).await?;
    let token = Token::generate();
    let expires = now.plus(RESET_LINK_TTL);
    repo::insert(&mut tx, id, &token.hash(), now, expires, &ip).await?;
    let url = settings.link(&format!("/reset/{}", token.expose()));
    let link = templates::ExpiringLink {
        url: &url,
        expires_at: expires.millis(),
        valid_ms: RESET_LINK_TTL.as_millis() as i64,
    };
    let mail = templates::with_expiring_link(&mut tx, settings, TemplateKind::PasswordReset, id, &to, &link).await?;
    crate::mail::enqueue(&mut tx, settings, &mail).await?;
    let actor = Actor { id: None, email: to.clone(), ip };
    record(&mut tx, &actor, Event::new(AuditAction::PasswordResetRequested).user(id, &to)).await?;
    tx.commit().await?;
    Ok(())
}

fn reset_gone() -> AppError {
    AppError::NotFound("This password reset link is no longer valid. Ask for a new one from the Sign in page.".into())
}

/// The account a valid reset token belongs to.
pub async fn reset_account(state: &AppState, token: &str) -> AppResult<repo::ResetAccount> {
    let token = crate::server::crypto::Token::parse(token).ok_or_else(reset_gone)?;
    repo::account(&mut *state.db.pool.acquire().await?, &token.hash(), Timestamp::now()).await?.ok_or_else(reset_gone)
}

/// Set a new password with a reset token, once; ends every session of the user.
/// The link went to the account's address (an email change ends it), so
/// using it proves the address: `email_verified`.
pub async fn reset_password(state: &AppState, token: &str, password: &str, confirmation: &str) -> AppResult<()> {
    use crate::audit::service::{record, Actor, AuditAction, Event};
    let repo::ResetAccount { id, email, first_name, last_name } = reset_account(state, token).await?;
    let password = crate::server::policy::parse(state, password, confirmation, &email, &first_name, &last_name)?;
    let hash = state.passwords.hash(password.expose()).await?;
    let token = crate::server::crypto::Token::parse(token).ok_or_else(reset_gone)?;
    let mut tx = state.db.begin_write().await?;
    if !repo::spend(&mut tx, &token.hash(), Timestamp::now()).await? {
        return Err(reset_gone());
    }
    users::set_password_by_link(&mut tx, id, &hash).await?;
    let ended = crate::server::session::end_all_for_user(&mut tx, id).await?;
    record(
        &mut tx,
        &Actor::anonymous(&email),
        Event::new(AuditAction::PasswordReset).user(id, &email).details(format!("{ended} sessions ended")),
    )
    .await?;
    crate::credentials::throttle::clear(&mut tx, &email.to_lowercase()).await?;
    crate::mail::notify_owner(&mut tx, &state.settings, TemplateKind::PasswordChanged, id, &email, &[]).await?;
    tx.commit().await?;
    Ok(())
}
