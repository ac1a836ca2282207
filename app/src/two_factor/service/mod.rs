//! The server side of two-factor sign-in. No HTTP, no HTML.
//!
//! - **Authenticator app** (TOTP, RFC 6238: SHA-1, 6 digits, 30 s, by
//!   `totp-rs`): [`begin_totp`] stores a fresh 160-bit secret not yet enabled
//!   and shows it once; [`enable_totp`] needs one valid code. The secret is
//!   stored encrypted (`totp::seal`). A code is accepted for the current step or
//!   one step either side, and only for a step later than the last one
//!   accepted (`totp_credentials.last_step`, advanced by a conditional
//!   `UPDATE` in the sign-in's transaction), so no code works twice.
//! - **Recovery codes**: 10 codes of 50 random bits, stored as SHA-256,
//!   each spent by a conditional `UPDATE` (single use even under a race).
//! - **Second step** ([`second_step`]): the pending sign-in's token (cookie)
//!   names the user; every attempt is counted in the sign-in throttle on the
//!   account's key before it is checked, exactly like a password.
//!
//! One file each: `totp.rs` (the secret at rest, codes and their steps),
//! `recovery.rs`, `status.rs`, `security.rs` (the Security tab and "Confirm
//! it's you"), `second_step.rs`, `roles.rs` (the rule that a role requires a
//! second factor) and `reset.rs` (a user's factors and their reset, in Users).
//! What sign-in shares with `auth` (a second factor or not, the pending
//! sign-in) is `crate::credentials`.

mod recovery;
mod reset;
mod roles;
mod second_step;
mod security;
mod status;
mod totp;

pub use crate::credentials::{clear_pending_cookie, has_second_factor};
pub use recovery::*;
pub use reset::*;
pub use roles::*;
pub use second_step::*;
pub use security::*;
pub use status::*;
