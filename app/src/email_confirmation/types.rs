//! The data of a confirmation link: what its page shows.

use serde::{Deserialize, Serialize};

/// The path of a confirmation link; the token follows it.
pub use crate::paths::CONFIRM_EMAIL as PATH;

/// What the Confirm email page shows before the person confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConfirmation {
    /// The address the link confirms.
    pub email: String,
    /// The account the link belongs to is the one signed in here: only its
    /// owner confirms, so that following a link nobody expected cannot tie
    /// the reader's address to someone else's account.
    pub owner_signed_in: bool,
}
