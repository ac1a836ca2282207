//! The server half of the password policy: what the browser cannot check.
//! The length rule lives in `crate::domain::password_policy` (shared with the
//! browser); the blocklist, personal-information and strength rules in
//! `crate::password_policy`.

use crate::error::{AppError, AppResult};
use crate::server::state::AppState;

/// Refuse a password that breaks any rule, saying exactly why.
pub fn check(state: &AppState, password: &str, email: &str, first_name: &str, last_name: &str) -> AppResult<()> {
    // Wired to crate::password_policy when that module lands (length is already checked).
    let _ = (state, password, email, first_name, last_name);
    Ok::<(), AppError>(())
}

pub fn strength(
    state: &AppState,
    password: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> crate::auth::StrengthReport {
    let _ = (state, password, email, first_name, last_name);
    crate::auth::StrengthReport { score: 0, ok: false, message: None, suggestions: vec![] }
}
