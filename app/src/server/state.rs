//! What every request can reach: the database, the settings, the password
//! hasher and the first-run setup token.

use super::crypto::{Passwords, Token};
use super::db::Db;
use super::secret::{EncryptionKey, SecretString};
use leptos::config::LeptosOptions;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use url::Url;

/// Validated runtime settings. The `server` crate builds these from its layered
/// configuration; nothing here reads files or the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address users reach Roster at. Links in emails are built from this,
    /// never from a request's Host header.
    pub public_url: Url,
    pub site_name: String,
    /// A session ends after this long without a request (sliding).
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_timeout: Duration,
    /// How long an invitation link works.
    pub invitation_ttl: Duration,
    /// Whether the configuration names an SMTP server (`smtp_url`). Settings →
    /// Email server can name one too: ask `mail::smtp::configured` whether mail goes out.
    pub smtp_configured: bool,
    /// `smtp_url` from the configuration (it may hold a password: never printed).
    pub smtp_url: Option<SecretString>,
    /// Where `smtp_url` was set, in words ("the ROSTER_SMTP_URL environment variable").
    pub smtp_url_source: String,
    /// The configuration's sender (`mail_from`), used with `smtp_url`.
    pub mail_from: String,
    /// The key secrets stored in the database are encrypted with: the TOTP
    /// secrets, the SMTP password, the ID token signing keys (`encryption_key`,
    /// or the key file beside an SQLite database). The server binary always
    /// sets it (it refuses to start without one).
    pub encryption_key: Option<EncryptionKey>,
    /// Attempts before an email is marked Failed.
    pub mail_max_attempts: i64,
    /// First retry delay; each further retry doubles it (with jitter).
    pub mail_retry_base: Duration,
    /// How long a worker may hold a claimed email before another may take it.
    pub mail_lease: Duration,
    /// Sent emails are purged after this long.
    pub mail_retention: Duration,
    /// Sign-in throttling and lockout.
    pub throttle: ThrottleSettings,
    /// Minimum password length in characters (never below 8).
    pub password_min_chars: usize,
    /// Password reset emails per account per hour, at most.
    pub reset_emails_per_address: i64,
    /// Password reset emails per client IP per hour, at most.
    pub reset_emails_per_ip: i64,
    /// Reverse proxies and load balancers whose `X-Forwarded-For` / `Forwarded`
    /// headers are believed (empty: none, the TCP peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long an access token Roster issues to a registered application works (at userinfo).
    pub oidc_access_token_ttl: Duration,
    /// How recent the last authentication of a session must be for what
    /// changes how someone signs in (`Principal::require_fresh`).
    pub fresh_sign_in: Duration,
    /// Users per batch of a bulk action.
    pub bulk_batch_size: usize,
    /// An extra pause between two batches of a bulk action.
    pub bulk_batch_pause: Duration,
    /// How long an ID token is valid.
    pub oidc_id_token_ttl: Duration,
    /// How long a signing key signs before the next one takes over (`oidc::keys`).
    pub signing_key_rotation: Duration,
    /// How long past the ID token lifetime a key that stopped signing stays published.
    pub signing_key_retire_margin: Duration,
}

impl Settings {
    pub fn cookie_secure(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The session cookie's name: `__Host-roster_session` over https (the
    /// browser then insists on Secure, `Path=/` and no Domain, so a sibling
    /// subdomain cannot plant one), `roster_session` over plain http.
    pub fn cookie_name(&self) -> &'static str {
        if self.cookie_secure() {
            "__Host-roster_session"
        } else {
            "roster_session"
        }
    }

    /// The cookie naming a half-finished sign-in (password right, second step
    /// owed): `__Host-roster_pending` over https, `roster_pending` over http.
    pub fn pending_cookie_name(&self) -> &'static str {
        if self.cookie_secure() {
            "__Host-roster_pending"
        } else {
            "roster_pending"
        }
    }

    /// `public_url` joined with `path`, for links that leave Roster (emails, the console).
    pub fn link(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// The origin (scheme, host, port) that browsers send in `Origin`.
    pub fn origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

/// Sign-in throttling and lockout (`crate::credentials::throttle` applies them).
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures per account allowed in the window before delays start.
    pub free: i64,
    pub window: Duration,
    /// Failures per account in the window that lock it.
    pub lockout_after: i64,
    pub lockout: Duration,
    /// Failures per IP allowed in the window before delays start.
    pub ip_free: i64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            free: 5,
            window: Duration::from_secs(15 * 60),
            lockout_after: 20,
            lockout: Duration::from_secs(15 * 60),
            ip_free: 50,
        }
    }
}

/// The first-run setup token: kept only in this process's memory, as a hash,
/// so it is valid until used or until the next restart.
#[derive(Default)]
pub struct SetupToken(Mutex<Option<String>>);

impl SetupToken {
    /// Mint a new token, replacing any earlier one, and return it for printing.
    pub fn mint(&self) -> Token {
        let t = Token::generate();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(t.hash());
        t
    }

    pub fn matches(&self, token: &Token) -> bool {
        let hash = token.hash();
        self.0.lock().unwrap_or_else(PoisonError::into_inner).as_deref() == Some(hash.as_str())
    }

    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub passwords: Passwords,
    pub setup: Arc<SetupToken>,
    pub leptos_options: LeptosOptions,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
