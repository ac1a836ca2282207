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
    /// The database does not answer (restarting, unreachable, out of
    /// connections): nothing was done; try again after this many seconds.
    #[error("The database is not answering, so nothing was done. Try again in {0} seconds.")]
    Unavailable(u64),
    /// The server's disk is full: the change was not saved (what was saved
    /// before is safe, and reading goes on).
    #[error("The server's disk is full, so this was not saved. Ask an administrator to free space, then try again.")]
    DiskFull,
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
            AppError::Busy(_) | AppError::Unavailable(_) => 503,
            AppError::DiskFull => 507,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }

    /// The `Retry-After` seconds this error's answer carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Throttled(secs) | AppError::Busy(secs) | AppError::Unavailable(secs) => Some(*secs),
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

/// How long a person is asked to wait while the database does not answer.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// A database error is an outage (the database is not there, or its disk is
/// full) or a fault of Roster's own; only the fault is `Internal`.
#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match outage(&e) {
            Some(Outage::Unreachable) => {
                tracing::warn!(cause = %e, "the database does not answer");
                AppError::Unavailable(UNAVAILABLE_RETRY_SECS)
            }
            Some(Outage::DiskFull) => {
                tracing::error!(cause = %e, "the database cannot write: its disk is full");
                AppError::DiskFull
            }
            None => AppError::internal("database error", e),
        }
    }
}

/// What kind of outage a database error is, if it is one.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No connection: refused, cut, timed out waiting for one, or the server
    /// is shutting down or starting up.
    Unreachable,
    /// The file system under the database is full.
    DiskFull,
}

/// Sort a database error: connection errors (the pool timed out waiting
/// for a connection, I/O on the socket, PostgreSQL's connection exception
/// class `08`, `57P01`–`57P03` for a server shutting down or starting up,
/// `53300` too many connections) are [`Outage::Unreachable`]; SQLite's
/// `SQLITE_FULL` (13, also as the primary code of an extended one) and
/// PostgreSQL's `53100 disk_full` are [`Outage::DiskFull`].
#[cfg(feature = "ssr")]
pub fn outage(e: &sqlx::Error) -> Option<Outage> {
    use sqlx::Error as E;
    match e {
        E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Io(_) | E::Tls(_) => Some(Outage::Unreachable),
        E::Database(d) if d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() => {
            match d.code()?.as_ref() {
                "53100" => Some(Outage::DiskFull),
                "57P01" | "57P02" | "57P03" | "53300" => Some(Outage::Unreachable),
                sqlstate if sqlstate.starts_with("08") => Some(Outage::Unreachable),
                _ => None,
            }
        }
        E::Database(d) if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
            // Extended result codes carry the primary code in their low byte.
            const SQLITE_FULL: i32 = 13;
            let code: i32 = d.code()?.parse().ok()?;
            (code & 0xff == SQLITE_FULL).then_some(Outage::DiskFull)
        }
        _ => None,
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_503_with_retry_after_and_a_full_disk_507() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(outage(&sqlx::Error::Io(refused)), Some(Outage::Unreachable));
        assert_eq!(outage(&sqlx::Error::PoolTimedOut), Some(Outage::Unreachable));
        assert_eq!(outage(&sqlx::Error::RowNotFound), None);
        assert_eq!(AppError::from(sqlx::Error::PoolTimedOut), AppError::Unavailable(UNAVAILABLE_RETRY_SECS));
        assert_eq!(AppError::from(sqlx::Error::RowNotFound), AppError::Internal);
        assert_eq!((AppError::Unavailable(5).status(), AppError::Unavailable(5).retry_after()), (503, Some(5)));
        assert_eq!((AppError::DiskFull.status(), AppError::DiskFull.retry_after()), (507, None));
    }

    /// A real SQLITE_FULL: a database allowed too few pages for what is written.
    #[tokio::test]
    async fn sqlite_full_is_a_full_disk() {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        conn.execute("CREATE TABLE t (x BLOB); PRAGMA max_page_count = 4;").await.unwrap();
        let e = conn.execute("INSERT INTO t VALUES (randomblob(100000))").await.unwrap_err();
        assert_eq!(outage(&e), Some(Outage::DiskFull), "{e}");
        let e = conn.execute("SELECT * FROM no_such_table").await.unwrap_err();
        assert_eq!(outage(&e), None, "{e}");
    }
}
