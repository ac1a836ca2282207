//! Sign in, sign out, first-run setup, and "who am I".

mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;

#[cfg(feature = "ssr")]
pub use crate::credentials::throttle;

pub use crate::me::SignedInUser;
pub use pages::{ForgotPasswordPage, ResetPasswordPage, SetupPage, SignInPage};

/// The one answer to "forgot password", whatever the email.
pub const FORGOT_ANSWER: &str =
    "If an account exists for that email, we have sent it a link to reset the password. The link works for 1 hour.";

use crate::error::AppError;

/// Public: the caller, or `None` when not signed in.
#[app_macros::endpoint(public(me))]
pub async fn me() -> Result<Option<SignedInUser>, AppError> {
    Ok(me.map(|p| SignedInUser {
        user_id: p.user_id,
        display_name: p.display_name(),
        email: p.email.clone(),
        is_admin: p.is_admin,
        apps: p.visible_apps(),
        grants: p.grants.iter().copied().collect(),
        two_factor_setup_owed: p.two_factor_setup_owed,
    }))
}

/// Public: sign in with email and password. Returns where to go next.
#[app_macros::endpoint(public)]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<String, AppError> {
    use crate::server::session::{replace_session, safe_next};
    match service::sign_in_checked(&state, &email, &password).await? {
        service::SignInOutcome::Session(crate::credentials::SignedIn { user_id, cookie }) => {
            replace_session(&state, &cookie).await?;
            tracing::info!(user_id = user_id.get(), "signed in");
            Ok(safe_next(next.as_deref()))
        }
        service::SignInOutcome::SecondStep(token) => {
            use crate::server::session::set_cookie;
            set_cookie(&crate::credentials::pending_cookie(&state.settings, &token));
            let next = safe_next(next.as_deref());
            let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            Ok(format!("/signin/verify?next={next}"))
        }
    }
}

/// Self-service: end the caller's session.
#[app_macros::endpoint(signed_in(setup))]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::audit::service::{record_now, Actor, AuditAction, Event};
    use crate::server::session::{self, set_cookie};
    session::delete(&state.db, &me.session_hash).await?;
    set_cookie(&session::clear_cookie(&state.settings));
    record_now(&state.db, &Actor::of(&me), Event::new(AuditAction::SignOut).user(me.user_id, &me.email)).await?;
    tracing::info!(user_id = me.user_id.get(), "signed out");
    Ok(())
}

/// Public: is this first-run setup token valid right now?
#[app_macros::endpoint(public)]
pub async fn setup_check(token: String) -> Result<bool, AppError> {
    let Some(token) = crate::server::crypto::Token::parse(&token) else {
        return Ok(false);
    };
    Ok(state.setup.matches(&token) && service::user_count(&state.db).await? == 0)
}

/// Public (with the one-time token): create the first Global administrator and sign them in.
#[app_macros::endpoint(public)]
pub async fn setup(
    token: String,
    email: String,
    first_name: String,
    last_name: String,
    password: String,
    password_confirmation: String,
) -> Result<String, AppError> {
    let name = crate::domain::PersonName::parse(&first_name, &last_name).map_err(AppError::Invalid)?;
    let id = service::set_up_first_admin(&state, &token, &email, &name, &password, &password_confirmation).await?;
    let cookie = crate::credentials::new_session(&state, id).await?;
    crate::server::session::replace_session(&state, &cookie).await?;
    tracing::info!(user_id = id.get(), "first administrator created");
    Ok("/".to_string())
}

/// Public: ask for a password reset email. Answers the same, at once, whether
/// or not the account exists and whether or not this hour's allowance of reset
/// emails (per address and per client IP) is used; the work happens after the
/// answer, on a bounded number of background tasks.
#[app_macros::endpoint(public)]
pub async fn forgot_password(email: String) -> Result<String, AppError> {
    let email = crate::domain::EmailAddress::parse(&email).map_err(AppError::Invalid)?;
    service::request_reset_in_background(state, email, crate::server::session::client().ip);
    Ok(FORGOT_ANSWER.to_string())
}

/// Public (with the reset token): the account's email, for the reset page.
#[app_macros::endpoint(public)]
pub async fn reset_info(token: String) -> Result<String, AppError> {
    Ok(service::reset_account(&state, &token).await?.email)
}

/// Public (with the reset token): set a new password; every session of the user ends.
#[app_macros::endpoint(public)]
pub async fn reset_password(token: String, password: String, password_confirmation: String) -> Result<(), AppError> {
    service::reset_password(&state, &token, &password, &password_confirmation).await
}
