//! Email confirmation: when a person's email changes, a link goes to the new
//! address, and until its owner follows it (signed in to their account), the
//! address is unconfirmed: ID tokens and userinfo say `email_verified: false`,
//! and Users shows "Email unconfirmed". Send confirmation link (on a user's
//! page in Users, with Users Update) sends a new one; the public Confirm
//! email page is what the link opens.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::ConfirmEmailPage;
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;

/// Public (with the link's token): which address the link confirms, and
/// whether its account's owner is the one signed in.
#[app_macros::endpoint(public(me))]
pub async fn email_confirmation_info(token: String) -> Result<PendingConfirmation, AppError> {
    service::pending_info(&state, me.as_ref(), &token).await
}

/// Self-service (with the link's token): confirm the signed-in person's own
/// email address, once. Returns the address confirmed.
#[app_macros::endpoint(signed_in)]
pub async fn confirm_email(token: String) -> Result<String, AppError> {
    service::confirm(&state, &me, &token).await
}

/// Users Update: send a new confirmation link to a user's unconfirmed
/// address (the earlier links stop working). Returns the email's id.
#[app_macros::endpoint(authorized(Users, Update))]
pub async fn send_email_confirmation(id: crate::domain::UserId) -> Result<i64, AppError> {
    service::resend(access, &state, id).await
}
