//! The Settings data: the email server (its security, where its settings come from, input, outcomes) and the template views.

use super::template::{Template, TemplateKind};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// How to set the encryption key, for every message that needs one.
pub const HOW_TO_SET_KEY: &str =
    "Set encryption_key in roster.toml (or the ROSTER_ENCRYPTION_KEY environment variable) \
     to 32 random bytes in base64, the same on every node (for example the output of `openssl rand -base64 32`), \
     then restart Roster.";

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmtpSecurity {
    /// Plain SMTP, nothing encrypted (a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte ("SMTPS", "implicit TLS").
    Tls,
}

impl SmtpSecurity {
    pub const ALL: [SmtpSecurity; 3] = [Self::StartTls, Self::Tls, Self::None];

    pub fn key(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.key() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "None (unencrypted)",
            Self::StartTls => "STARTTLS (usually port 587)",
            Self::Tls => "TLS (usually port 465)",
        }
    }
}

/// Which settings send email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettingsSource {
    /// Saved on this page: they override the configuration.
    Database,
    /// `smtp_url` and `mail_from` from roster.toml or the environment.
    Configuration,
    /// Nowhere: emails stay in the Email queue, not sent.
    NotConfigured,
}

/// The Email server form as the page shows it. Never holds the password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailServer {
    pub source: SettingsSource,
    /// The source in words, e.g. "saved here by ada@example.com on 2026-11-29 09:30 UTC".
    pub source_detail: String,
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    /// Whether a password is stored (never the password itself).
    pub password_set: bool,
    /// Why the stored password cannot be used on this node, if it cannot.
    pub password_problem: Option<String>,
    pub from_name: String,
    pub from_address: String,
    /// Whether this node can store a password (`encryption_key` is set).
    pub encryption_key_set: bool,
    /// Whether the configuration names an SMTP server (to fall back to).
    pub configuration_has_smtp: bool,
    /// Whether the caller may change these settings (Settings Update).
    pub can_update: bool,
}

/// What to do with the stored password when saving.
///
/// The stored password is bound to its server: a save that changes the host,
/// the port, the security or the user name and types no new password removes
/// it, so it is never sent to a server it was not typed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordChange {
    /// Keep what is stored (the field was left empty), as long as the server is the same.
    Unchanged,
    /// Store this one, encrypted.
    Set(String),
    /// Store none.
    Remove,
}

/// The Email server form as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailServerInput {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub password: PasswordChange,
    pub from_name: String,
    pub from_address: String,
}

/// What saving the Email server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailServerSaved {
    /// The stored password was removed: the server changed and no new password was typed.
    pub password_removed: bool,
}

impl EmailServerSaved {
    /// What the page says after saving.
    pub fn message(self) -> &'static str {
        if self.password_removed {
            PASSWORD_REMOVED
        } else {
            "Saved. Every node sends with these settings from its next email on."
        }
    }
}

/// The answer to a save that removed the stored password.
pub const PASSWORD_REMOVED: &str = "Saved. The saved password was removed because the server changed: \
     type it again and save to keep signing in.";

/// What the page says before saving a changed server with the password left empty.
pub const PASSWORD_WILL_BE_REMOVED: &str =
    "Changing the server removes the saved password. Type it again to keep signing in.";

/// What the stored SMTP password is bound to: the server and the account on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmtpAccount<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: &'a str,
}

impl SmtpAccount<'_> {
    /// Whether both name the same server and user name, so a password typed for
    /// one may be used with the other. Host names compare without case;
    /// surrounding spaces are ignored, as saving trims them.
    pub fn same_as(&self, other: &SmtpAccount<'_>) -> bool {
        self.host.trim().eq_ignore_ascii_case(other.host.trim())
            && self.port == other.port
            && self.security == other.security
            && self.username.trim() == other.username.trim()
    }
}

/// The `email_settings` row (there is at most one, id 1): what Settings →
/// Email server saved. Server only: it holds the sealed password.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSmtp {
    pub host: String,
    pub port: i64,
    pub security: String,
    pub username: String,
    /// `v1:` + base64 of nonce and XChaCha20-Poly1305 ciphertext; None: no password.
    pub password_enc: Option<String>,
    pub from_name: String,
    pub from_address: String,
    pub updated_at: crate::domain::Timestamp,
    pub updated_by: String,
}

/// What a test email did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestEmailOutcome {
    /// The SMTP server accepted it.
    Sent { to: String, server: String },
    /// It was not sent; `reason` says why in plain words.
    Failed { reason: String },
}

/// One email template as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateView {
    pub kind: TemplateKind,
    /// The template in use: the saved one, or Roster's default.
    pub template: Template,
    /// Whether a saved template replaces the default.
    pub customized: bool,
    pub can_update: bool,
}

pub fn parse_kind(key: &str) -> Result<TemplateKind, AppError> {
    TemplateKind::parse(key).ok_or_else(|| AppError::NotFound(format!("There is no email template called “{key}”.")))
}
