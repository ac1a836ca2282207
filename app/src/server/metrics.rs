//! What the services count and time, through the `metrics` facade: a call
//! here costs next to nothing until the server installs a recorder (only
//! when `metrics_token` is set), and the server renders what was recorded
//! at `/metrics` (`server/src/metrics.rs`, which also describes each name).
//!
//! Names follow Prometheus's guide: `roster_` first, `_total` for counters,
//! `_seconds` for times. Labels take a few fixed words only, never an email,
//! an address or a path.

use std::time::Duration;

/// Sign-in attempts (email and password), by [`SignIn`] outcome.
pub const SIGN_INS: &str = "roster_sign_ins_total";
/// The sign-in throttle's decisions, by [`Throttle`] decision.
pub const THROTTLE_DECISIONS: &str = "roster_sign_in_throttle_decisions_total";
/// How long a password hashing job waited for an Argon2 thread.
pub const ARGON2_WAIT: &str = "roster_argon2_wait_seconds";
/// Password hashing jobs refused because the queue was full (503).
pub const ARGON2_REJECTED: &str = "roster_argon2_rejected_total";

/// How a sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// A session started.
    Success,
    /// The password was right; the second step (a code or a passkey) is owed.
    SecondFactorRequired,
    /// Unknown account, wrong password or a disabled account (the person
    /// reads the same answer for each).
    WrongCredentials,
    /// The account is locked after too many failures (the person reads the
    /// wrong-credentials answer).
    Locked,
    /// Refused before checking: the throttle asks this account or address to wait.
    Throttled,
    /// Refused before checking: the password hashing queue is full.
    Busy,
    /// The database or another internal step failed.
    Error,
}

impl SignIn {
    pub const ALL: [SignIn; 7] = [
        Self::Success,
        Self::SecondFactorRequired,
        Self::WrongCredentials,
        Self::Locked,
        Self::Throttled,
        Self::Busy,
        Self::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::SecondFactorRequired => "second_factor_required",
            Self::WrongCredentials => "wrong_credentials",
            Self::Locked => "locked",
            Self::Throttled => "throttled",
            Self::Busy => "busy",
            Self::Error => "error",
        }
    }
}

/// What the sign-in throttle decided for one attempt (a sign-in password, a
/// second step's code, a passkey, or one's own password typed to change it
/// or to confirm it's you).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The attempt is counted and may be checked.
    Allow,
    /// The account or the address must wait before trying again.
    Wait,
    /// The account is locked.
    Locked,
}

impl Throttle {
    pub const ALL: [Throttle; 3] = [Self::Allow, Self::Wait, Self::Locked];

    pub fn label(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Wait => "wait",
            Self::Locked => "locked",
        }
    }
}

pub fn sign_in(outcome: SignIn) {
    ::metrics::counter!(SIGN_INS, "outcome" => outcome.label()).increment(1);
}

pub fn throttle(decision: Throttle) {
    ::metrics::counter!(THROTTLE_DECISIONS, "decision" => decision.label()).increment(1);
}

pub fn argon2_wait(waited: Duration) {
    ::metrics::histogram!(ARGON2_WAIT).record(waited);
}

pub fn argon2_rejected() {
    ::metrics::counter!(ARGON2_REJECTED).increment(1);
}

/// Every labelled counter above at zero, so that each outcome is a series
/// from the first scrape on (a rate over a series that appears only with
/// its first event misses that event).
pub fn register_zeros() {
    for outcome in SignIn::ALL {
        ::metrics::counter!(SIGN_INS, "outcome" => outcome.label()).increment(0);
    }
    for decision in Throttle::ALL {
        ::metrics::counter!(THROTTLE_DECISIONS, "decision" => decision.label()).increment(0);
    }
    ::metrics::counter!(ARGON2_REJECTED).increment(0);
}
