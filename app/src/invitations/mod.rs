//! Invitations: Resend invitation and Revoke invitation (on a user's page in
//! Users, with Users Update), and the public Sign up page that an invitation
//! link opens.

mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::SignUpPage;
pub use types::*;

use crate::domain::UserId;
use crate::error::AppError;
use leptos::prelude::*;

#[app_macros::endpoint(authorized(Users, Update))]
pub async fn resend_invitation(id: UserId) -> Result<i64, AppError> {
    service::resend(access, &state, id).await
}

#[app_macros::endpoint(authorized(Users, Update))]
pub async fn revoke_invitation(id: UserId) -> Result<(), AppError> {
    service::revoke(access, &state, id).await
}

/// Public (with the invitation token): who the invitation is for.
#[app_macros::endpoint(public)]
pub async fn invitation_info(token: String) -> Result<Invited, AppError> {
    service::invited(&state, &token).await
}

/// Public (with the invitation token): create the password and sign in. The
/// name, when sent, replaces the one New user was given.
#[app_macros::endpoint(public)]
pub async fn sign_up(
    token: String,
    first_name: Option<String>,
    last_name: Option<String>,
    password: String,
    password_confirmation: String,
) -> Result<String, AppError> {
    let name = crate::domain::PersonName::parse_sent(first_name, last_name).map_err(AppError::Invalid)?;
    let user_id = service::accept(&state, &token, name.as_ref(), &password, &password_confirmation).await?;
    let cookie = crate::credentials::new_session(&state, user_id).await?;
    crate::server::session::replace_session(&state, &cookie).await?;
    Ok("/".to_string())
}
