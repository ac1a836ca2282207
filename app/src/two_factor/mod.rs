//! Two-factor sign-in: passkeys (WebAuthn, by `webauthn-rs`), an
//! authenticator app (TOTP, RFC 6238, by `totp-rs`), single-use recovery
//! codes, the second step of signing in, roles that require a second factor,
//! and an administrator's reset.
//!
//! The server side is `service/` (`totp.rs`, `recovery.rs`, `status.rs`,
//! `security.rs` for the Security tab, `second_step.rs`, `roles.rs` for the
//! role rule, `reset.rs` for the Users reset) and `passkeys.rs` (the WebAuthn ceremonies), with
//! every statement on their tables in `repo.rs`; the browser's half of those
//! is `app/js/passkeys.js`, called through `browser.rs`. The Security tab of
//! Account and the second-step page are `pages.rs`. The half-signed-in state between
//! a right password and the second step is a `pending_sign_ins` row (5
//! minutes, only its token's hash stored) named by the `roster_pending`
//! cookie: it is not a session and opens nothing but [`sign_in_second_step`].

mod browser;
mod pages;
#[cfg(feature = "ssr")]
pub mod passkeys;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::{
    passkey_autofill_available, passkey_sign_in, RoleTwoFactorPanel, SecondStepPage, SecurityTab, UserTwoFactorPanel,
};
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;

/// Self-service: the caller's second factors. Allowed while setup is owed.
#[app_macros::endpoint(signed_in(setup))]
pub async fn two_factor_status() -> Result<SecurityStatus, AppError> {
    service::status(&state, me.user_id).await
}

/// Self-service: a new authenticator secret (replacing one not yet enabled),
/// with its QR code. Allowed while setup is owed.
#[app_macros::endpoint(signed_in(setup, fresh))]
pub async fn begin_totp_setup() -> Result<TotpSetup, AppError> {
    service::begin_totp(&state, &me).await
}

/// Self-service: enable the authenticator being set up with one valid code.
/// Returns the new recovery codes when this is the first second factor
/// (shown once), else nothing. Allowed while setup is owed.
#[app_macros::endpoint(signed_in(setup, fresh))]
pub async fn enable_totp(code: String) -> Result<Vec<String>, AppError> {
    service::enable_totp(&state, &me, &code).await
}

/// Self-service: remove the authenticator app; asks for the password.
#[app_macros::endpoint(signed_in)]
pub async fn disable_totp(password: String) -> Result<(), AppError> {
    service::disable_totp(&state, &me, &password).await
}

/// Self-service: 10 new recovery codes (the old ones stop working); asks for the password.
#[app_macros::endpoint(signed_in)]
pub async fn generate_recovery_codes(password: String) -> Result<Vec<String>, AppError> {
    service::regenerate_codes(&state, &me, &password).await
}

/// Self-service: "Confirm it's you". The caller's password, or a current code
/// from their authenticator app, makes this session's sign-in fresh again, so
/// what needs a fresh sign-in (adding a factor, the most powerful
/// administrator actions) works for `fresh_sign_in`. Counted in the sign-in
/// throttle like a sign-in. Allowed while setup is owed.
#[app_macros::endpoint(signed_in(setup))]
pub async fn confirm_identity(password: String, code: String) -> Result<(), AppError> {
    service::confirm_identity(&state, &me, &password, &code).await
}

/// Public (with the pending sign-in cookie): the second step of signing in,
/// with an authenticator code or a recovery code. Returns where to go next.
#[app_macros::endpoint(public)]
pub async fn sign_in_second_step(code: String, next: Option<String>) -> Result<String, AppError> {
    use crate::server::session::{replace_session, request_cookie_token, safe_next, set_cookie};
    let token = request_cookie_token(state.settings.pending_cookie_name()).ok_or_else(service::expired)?;
    let signed_in = service::second_step(&state, &token, &code).await?;
    replace_session(&state, &signed_in.cookie).await?;
    set_cookie(&service::clear_pending_cookie(&state.settings));
    tracing::info!(user_id = signed_in.user_id.get(), "signed in with a second step");
    Ok(safe_next(next.as_deref()))
}

/// Self-service: start adding a passkey named `name`: the options for the
/// browser. Allowed while setup is owed.
#[app_macros::endpoint(signed_in(setup, fresh))]
pub async fn begin_passkey_registration(name: String) -> Result<PasskeyCeremony, AppError> {
    passkeys::begin_registration(&state, &me, &name).await
}

/// Self-service: finish adding a passkey with the browser's answer
/// (`credential`, JSON). Returns the new recovery codes when this is the
/// first second factor (shown once), else nothing. Allowed while setup is owed.
#[app_macros::endpoint(signed_in(setup, fresh))]
pub async fn finish_passkey_registration(ceremony: String, credential: String) -> Result<Vec<String>, AppError> {
    passkeys::finish_registration(&state, &me, &ceremony, &credential).await
}

/// Self-service: rename one of the caller's passkeys.
#[app_macros::endpoint(signed_in)]
pub async fn rename_passkey(id: i64, name: String) -> Result<(), AppError> {
    passkeys::rename(&state, &me, id, &name).await
}

/// Self-service: remove one of the caller's passkeys; asks for the password.
#[app_macros::endpoint(signed_in)]
pub async fn remove_passkey(id: i64, password: String) -> Result<(), AppError> {
    passkeys::remove(&state, &me, id, &password).await
}

/// Public: start signing in with a passkey (no email: a discoverable credential).
#[app_macros::endpoint(public)]
pub async fn begin_passkey_sign_in() -> Result<PasskeyCeremony, AppError> {
    passkeys::begin_sign_in(&state).await
}

/// Public: sign in with a passkey alone. Returns where to go next. Every
/// refusal answers the same (`PasskeyRefused`).
#[app_macros::endpoint(public)]
pub async fn finish_passkey_sign_in(
    ceremony: String,
    credential: String,
    next: Option<String>,
) -> Result<String, AppError> {
    use crate::server::session::{replace_session, safe_next};
    let signed_in = passkeys::finish_sign_in(&state, &ceremony, &credential).await?;
    replace_session(&state, &signed_in.cookie).await?;
    tracing::info!(user_id = signed_in.user_id.get(), "signed in with a passkey");
    Ok(safe_next(next.as_deref()))
}

/// Public (with the pending sign-in cookie): start the second step with one
/// of the pending person's passkeys.
#[app_macros::endpoint(public)]
pub async fn begin_passkey_second_step() -> Result<PasskeyCeremony, AppError> {
    use crate::server::session::request_cookie_token;
    let token = request_cookie_token(state.settings.pending_cookie_name()).ok_or_else(service::expired)?;
    passkeys::begin_second_step(&state, &token).await
}

/// Public (with the pending sign-in cookie): the second step of signing in,
/// with a passkey. Returns where to go next.
#[app_macros::endpoint(public)]
pub async fn finish_passkey_second_step(
    ceremony: String,
    credential: String,
    next: Option<String>,
) -> Result<String, AppError> {
    use crate::server::session::{replace_session, request_cookie_token, safe_next, set_cookie};
    let token = request_cookie_token(state.settings.pending_cookie_name()).ok_or_else(service::expired)?;
    let signed_in = passkeys::finish_second_step(&state, &token, &ceremony, &credential).await?;
    replace_session(&state, &signed_in.cookie).await?;
    set_cookie(&service::clear_pending_cookie(&state.settings));
    tracing::info!(user_id = signed_in.user_id.get(), "signed in with a passkey as the second step");
    Ok(safe_next(next.as_deref()))
}

/// Users View: which second factors a user has.
#[app_macros::endpoint(authorized(Users, View))]
pub async fn user_two_factor(id: crate::domain::UserId) -> Result<UserFactors, AppError> {
    service::factors_of(access, &state, id).await
}

/// Users Update: remove a user's second factors and recovery codes, end their
/// sessions, and email them. Only an administrator resets an administrator.
#[app_macros::endpoint(authorized(fresh Users, Update))]
pub async fn reset_two_factor(id: crate::domain::UserId) -> Result<(), AppError> {
    service::reset(access, &state, id).await
}

/// Roles Update: whether a role's members must use a second factor. On the
/// built-in Administrator role only an administrator may change it.
#[app_macros::endpoint(authorized(Roles, Update))]
pub async fn set_role_two_factor(id: crate::domain::RoleId, required: bool) -> Result<(), AppError> {
    service::set_role_requirement(access, &state, id, required).await
}
