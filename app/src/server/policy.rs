//! Applies the password policy (`crate::password_policy`) with Roster's
//! configured minimum length and the user's own details.

use crate::error::{AppError, AppResult};
use crate::password_policy::{Context, NewPassword, Policy, Strength};
use crate::server::state::AppState;

fn policy(state: &AppState) -> Policy {
    // The configuration already refused a minimum below 8; fall back to the default otherwise.
    Policy::new(state.settings.password_min_chars).unwrap_or_default()
}

/// The configured minimum length, for the pages' hints.
pub fn min_chars(state: &AppState) -> usize {
    policy(state).min()
}

/// A new password for the person with these details, or why not (422 with the reason).
pub fn parse(
    state: &AppState,
    password: &str,
    confirmation: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> AppResult<NewPassword> {
    let ctx = Context { email, first_name, last_name };
    policy(state).parse(password, confirmation, &ctx).map_err(|refusal| AppError::Invalid(refusal.to_string()))
}

/// Live feedback for the strength meter.
pub fn strength(state: &AppState, password: &str, email: &str, first_name: &str, last_name: &str) -> Strength {
    let ctx = Context { email, first_name, last_name };
    policy(state).strength(password, &ctx)
}
