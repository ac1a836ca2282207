//! Two-factor data: a person's security status, an authenticator being set up, passkeys and their ceremonies, and a user's factors as administrators see them.

use serde::{Deserialize, Serialize};

/// What the Security tab shows of the caller's own second factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityStatus {
    pub totp_enabled: bool,
    /// The caller's passkeys, oldest first.
    pub passkeys: Vec<PasskeyInfo>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// A role of the caller's requires a second factor.
    pub required: bool,
}

/// An authenticator app being set up: shown once, never again after it is enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpSetup {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// The `otpauth://` address the QR code holds.
    pub uri: String,
    /// The QR code, an SVG rendered on the server.
    pub qr_svg: String,
}

/// One of the caller's passkeys, as the Security tab lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony under way: the token that names it (sent back with
/// the browser's answer) and the options for `navigator.credentials`, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyCeremony {
    pub ceremony: String,
    pub options: String,
}

impl SecurityStatus {
    /// Has the caller a second factor (a passkey or an authenticator app)?
    pub fn has_factor(&self) -> bool {
        self.totp_enabled || !self.passkeys.is_empty()
    }
}

/// Which factors a user has, for the user's page in Users (never a secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserFactors {
    pub totp_enabled: bool,
    /// How many passkeys they have.
    pub passkeys: i64,
    pub recovery_codes_left: i64,
    /// A role of theirs requires a second factor.
    pub required: bool,
}
