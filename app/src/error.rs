//! The one error type every server function returns.
//!
//! Variants carry only what is safe to show a user. Internal causes are
//! logged where they happen (see `AppError::internal`) and reach the browser
//! as a generic message.

use crate::codec::JsonText;
use serde::{Deserialize, Serialize};
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No valid session: sign in first.
    #[error("Please sign in to continue.")]
    Unauthorized,
    /// Signed in, but the user's roles do not grant this.
    #[error("You do not have permission to do this.")]
    Forbidden,
    /// Signed in and holding the permission, but this target is out of reach
    /// (an administrator's account, an unsent reset email); the message says why.
    #[error("{0}")]
    NotAllowed(String),
    /// Sign-in failed. One message for every cause, so nobody learns which accounts exist.
    #[error("The email or password is incorrect.")]
    BadCredentials,
    /// A role of the caller's requires two-factor sign-in and they have no
    /// second factor yet: only setting one up (and signing out) is allowed.
    #[error(
        "A role of yours requires two-factor sign-in. Add a passkey or set up an authenticator app in Account → Security first."
    )]
    TwoFactorSetupRequired,
    /// What was asked changes how this person signs in (or is one of the most
    /// powerful administrator actions), and their last sign-in or confirmation
    /// is older than `fresh_sign_in`: the page asks "Confirm it's you", then
    /// carries on.
    #[error("Confirm it's you: enter your password or a code from your authenticator app, then try again.")]
    ConfirmIdentity,
    /// A passkey did not sign in. One message for every cause (an unknown or
    /// removed passkey, another account's, an expired or spent challenge, a
    /// disabled account), so nobody learns which accounts or passkeys exist.
    #[error("That passkey did not sign you in. Try again, or sign in with your email and password.")]
    PasskeyRefused,
    /// Input that cannot be accepted; the message says exactly why.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (or is not visible to this user).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (duplicate email, stale state).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed sign-ins: wait this many seconds.
    #[error("Too many failed attempts. Wait {0} seconds, then try again.")]
    Throttled(u64),
    /// Roster is at capacity (its password-hashing queue is full): try again after this many seconds.
    #[error("The server is busy. Try again in {0} seconds.")]
    Busy(u64),
    /// Something failed inside Roster; details are in the server log.
    #[error("Something went wrong on the server. Please try again.")]
    Internal,
    /// The call itself failed (network, encoding).
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status a server function answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized | AppError::BadCredentials | AppError::PasskeyRefused => 401,
            AppError::Forbidden
            | AppError::NotAllowed(_)
            | AppError::TwoFactorSetupRequired
            | AppError::ConfirmIdentity => 403,
            AppError::Invalid(_) => 422,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Throttled(_) => 429,
            AppError::Busy(_) => 503,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }

    /// The `Retry-After` seconds this error's answer carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Throttled(secs) | AppError::Busy(secs) => Some(*secs),
            _ => None,
        }
    }

    /// Log an internal cause and return the safe, generic error.
    #[cfg(feature = "ssr")]
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        AppError::Internal
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        if let Some(e) = unreadable_request(&value) {
            return e;
        }
        AppError::Transport(value.to_string())
    }
}

/// A request whose arguments do not decode never reaches the function body,
/// so `respond` cannot give it a status: answer 400 with what was wrong.
#[cfg(feature = "ssr")]
fn unreadable_request(value: &ServerFnErrorErr) -> Option<AppError> {
    let message = match value {
        // Form-encoded arguments (`Args`) and JSON bodies (`Deserialization`: on the
        // server, only a request body is ever deserialized).
        ServerFnErrorErr::Args(why) | ServerFnErrorErr::Deserialization(why) => {
            format!("The request could not be read: {why}.")
        }
        ServerFnErrorErr::MissingArg(name) => format!("The request is missing \"{name}\"."),
        _ => return None,
    };
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::BAD_REQUEST);
    }
    Some(AppError::Invalid(message))
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::internal("database error", e)
    }
}

pub type AppResult<T> = Result<T, AppError>;
