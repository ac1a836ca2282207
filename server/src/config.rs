//! Layered configuration: built-in defaults, then an optional `roster.toml`
//! (or the file named by `ROSTER_CONFIG`), then `ROSTER_*` environment
//! variables. Invalid values stop the start with a message naming the key.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use url::Url;

/// Every key, as written in `roster.toml`; the environment variable is
/// `ROSTER_` followed by the key in upper case.
const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "public_url",
    "site_name",
    "session_idle_timeout",
    "session_absolute_timeout",
    "smtp_url",
    "site_root",
    "log_format",
    "invitation_ttl",
    "mail_from",
    "mail_max_attempts",
    "mail_retry_base",
    "mail_lease",
    "mail_retention",
    "mail_poll_interval",
    "access_token_ttl",
    "fresh_sign_in",
    "bulk_batch_size",
    "bulk_batch_pause",
    "id_token_ttl",
    "signing_key_rotation",
    "signing_key_retire_margin",
    "password_min_chars",
    "signin_free_failures",
    "signin_failure_window",
    "signin_lockout_failures",
    "signin_lockout_duration",
    "signin_ip_free_failures",
    "password_reset_emails_per_address",
    "password_reset_emails_per_ip",
    "argon2_queue_limit",
    "trusted_proxies",
    "encryption_key",
    "backup_dir",
    "backup_interval",
    "backup_keep",
    "metrics_token",
    "shutdown_grace",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path` (default `sqlite://data/roster.db`) or `postgres://…`.
    pub database_url: String,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where users reach Roster. Defaults to `http://` + the listen address.
    pub public_url: Option<String>,
    pub site_name: String,
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub session_absolute_timeout: Duration,
    /// `smtp://` or `smtps://` URL; empty means email is not sent, only queued.
    pub smtp_url: Option<String>,
    /// Where the compiled site (pkg/, favicon) lives; unset: the site this
    /// binary carries (`site.rs`).
    pub site_root: Option<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// How long an invitation link works.
    #[serde(with = "humantime_serde")]
    pub invitation_ttl: Duration,
    /// The sender of Roster's emails, e.g. `Roster <roster@example.com>`.
    pub mail_from: String,
    /// Attempts before an email is marked Failed.
    pub mail_max_attempts: i64,
    /// First retry delay; doubles with each attempt (8 attempts from 11m span about a day).
    #[serde(with = "humantime_serde")]
    pub mail_retry_base: Duration,
    /// How long a worker holds a claimed email before another may take it over.
    #[serde(with = "humantime_serde")]
    pub mail_lease: Duration,
    /// Sent emails are purged after this long.
    #[serde(with = "humantime_serde")]
    pub mail_retention: Duration,
    /// How often an idle worker looks for due mail.
    #[serde(with = "humantime_serde")]
    pub mail_poll_interval: Duration,
    /// How long an access token issued to a registered application works (at userinfo).
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// What changes how someone signs in (a passkey, an authenticator app,
    /// recovery codes, their email) and the most powerful administrator
    /// actions need a sign-in or confirmation at most this old.
    #[serde(with = "humantime_serde")]
    pub fresh_sign_in: Duration,
    /// Users per batch of a bulk action (each batch is one short write).
    pub bulk_batch_size: usize,
    /// A pause between two batches of a bulk action, beyond the one SQLite
    /// always leaves: more room for other writers on a busy installation.
    #[serde(with = "humantime_serde")]
    pub bulk_batch_pause: Duration,
    /// How long an ID token issued to a registered application is valid.
    #[serde(with = "humantime_serde")]
    pub id_token_ttl: Duration,
    /// How long an ID token signing key signs before the next (published in
    /// the JWKS since the previous rotation) takes over.
    #[serde(with = "humantime_serde")]
    pub signing_key_rotation: Duration,
    /// A key that stopped signing stays in the JWKS for `id_token_ttl` plus
    /// this (clock skew, late verifiers), then leaves it and is erased.
    #[serde(with = "humantime_serde")]
    pub signing_key_retire_margin: Duration,
    /// Minimum password length in characters (at least 8).
    pub password_min_chars: usize,
    /// Failed sign-ins per account allowed in the window before each attempt must wait.
    pub signin_free_failures: i64,
    #[serde(with = "humantime_serde")]
    pub signin_failure_window: Duration,
    /// Failed sign-ins per account in the window that lock it.
    pub signin_lockout_failures: i64,
    #[serde(with = "humantime_serde")]
    pub signin_lockout_duration: Duration,
    /// Failed sign-ins per client IP in the window before each attempt must wait.
    pub signin_ip_free_failures: i64,
    /// Password reset emails per account per hour, at most.
    pub password_reset_emails_per_address: i64,
    /// Password reset emails per client IP per hour, at most.
    pub password_reset_emails_per_ip: i64,
    /// Password hashing jobs queued or running, at most; beyond, requests get 503
    /// with Retry-After. 0: 64 per core.
    pub argon2_queue_limit: usize,
    /// Reverse proxies and load balancers (CIDR ranges or addresses) whose
    /// `X-Forwarded-For` / `Forwarded` name the client. A list in TOML; in the
    /// environment, separated by commas or spaces. Empty: the peer is the client.
    #[serde(deserialize_with = "list_or_string")]
    pub trusted_proxies: Vec<String>,
    /// 32 random bytes, base64: encrypts the secrets Roster stores (the SMTP
    /// password of Settings → Email server, the authenticator secrets, the ID
    /// token signing keys). The same on every node. Required with PostgreSQL;
    /// with SQLite, when it is not set, Roster keeps one in `roster.key`
    /// beside the database file (`key_file`).
    pub encryption_key: Option<Secret>,
    /// SQLite: the running server writes a backup of the database here every
    /// `backup_interval` (`roster-<UTC time>.db`) and keeps the newest
    /// `backup_keep`. Empty: no scheduled backups (`backup`).
    pub backup_dir: String,
    #[serde(with = "humantime_serde")]
    pub backup_interval: Duration,
    pub backup_keep: usize,
    /// The bearer token a scraper must send to read `/metrics` (at least 32
    /// characters). Not set: no metrics are recorded and `/metrics` is 404.
    pub metrics_token: Option<Secret>,
    /// Asked to stop (SIGTERM, Ctrl-C), Roster stops accepting connections
    /// and gives the requests and email sends in flight this long to finish;
    /// then it gives unsent emails back to the queue and exits. Keep it
    /// under what the supervisor waits before SIGKILL (Kubernetes 30 s,
    /// systemd 90 s).
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

/// A configuration value that never prints (`Debug` is redacted).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A TOML list, or one string of items separated by commas or whitespace (the environment).
fn list_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        List(Vec<String>),
        One(String),
    }
    Ok(match Items::deserialize(d)? {
        Items::List(items) => items,
        Items::One(s) => s.split([',', ' ', '\t']).filter(|i| !i.is_empty()).map(str::to_string).collect(),
    })
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/roster.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            site_name: "Roster".into(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_absolute_timeout: Duration::from_secs(12 * 60 * 60),
            smtp_url: None,
            site_root: std::env::var("LEPTOS_SITE_ROOT").ok().filter(|r| !r.is_empty()),
            log_format: "text".into(),
            invitation_ttl: Duration::from_secs(7 * 86_400),
            mail_from: "Roster <roster@localhost>".into(),
            mail_max_attempts: 8,
            mail_retry_base: Duration::from_secs(11 * 60),
            mail_lease: Duration::from_secs(60),
            mail_retention: Duration::from_secs(30 * 86_400),
            mail_poll_interval: Duration::from_millis(500),
            access_token_ttl: Duration::from_secs(5 * 60),
            fresh_sign_in: Duration::from_secs(10 * 60),
            bulk_batch_size: 500,
            bulk_batch_pause: Duration::ZERO,
            id_token_ttl: Duration::from_secs(5 * 60),
            signing_key_rotation: Duration::from_secs(90 * 86_400),
            signing_key_retire_margin: Duration::from_secs(10 * 60),
            password_min_chars: 12,
            signin_free_failures: 5,
            signin_failure_window: Duration::from_secs(15 * 60),
            signin_lockout_failures: 20,
            signin_lockout_duration: Duration::from_secs(15 * 60),
            signin_ip_free_failures: 50,
            password_reset_emails_per_address: 3,
            password_reset_emails_per_ip: 20,
            argon2_queue_limit: 0,
            trusted_proxies: Vec::new(),
            encryption_key: None,
            backup_dir: String::new(),
            backup_interval: Duration::from_secs(86_400),
            backup_keep: 7,
            metrics_token: None,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// The shortest `metrics_token` accepted: guessing 32 random characters is
/// out of reach; anything shorter may be a word or a typo.
const METRICS_TOKEN_MIN_CHARS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(Box<figment::Error>),
    #[error("configuration key `{key}` (env ROSTER_{env}): {problem}")]
    Invalid { key: &'static str, env: String, problem: String },
}

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, env: key.to_uppercase(), problem: problem.into() }
}

impl Config {
    /// Defaults, then the TOML file, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("ROSTER_CONFIG").unwrap_or_else(|_| "roster.toml".into());
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("ROSTER_").only(KEYS))
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let db = self.database_url.as_str();
        if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(invalid("database_url", format!("`{db}` must start with sqlite:// or postgres://")));
        }
        if let Some(url) = self.public_url.as_deref().filter(|u| !u.is_empty()) {
            let parsed = Url::parse(url).map_err(|e| invalid("public_url", format!("`{url}` is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(invalid("public_url", format!("`{url}` must be an http:// or https:// address")));
            }
        }
        if self.site_name.trim().is_empty() {
            return Err(invalid("site_name", "must not be empty"));
        }
        if self.session_idle_timeout < Duration::from_secs(1) {
            return Err(invalid("session_idle_timeout", "must be at least 1s"));
        }
        if self.session_absolute_timeout < self.session_idle_timeout {
            return Err(invalid("session_absolute_timeout", "must be at least as long as session_idle_timeout"));
        }
        if let Some(smtp) = self.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            let parsed = Url::parse(smtp).map_err(|e| invalid("smtp_url", format!("not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                return Err(invalid("smtp_url", "must start with smtp:// or smtps://"));
            }
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("mail_from", format!("`{}` is not an email address", self.mail_from)));
        }
        if !(1..=10_000).contains(&self.bulk_batch_size) {
            return Err(invalid("bulk_batch_size", "must be between 1 and 10000"));
        }
        if !(1..=100).contains(&self.mail_max_attempts) {
            return Err(invalid("mail_max_attempts", "must be between 1 and 100"));
        }
        for (key, d) in [
            ("invitation_ttl", self.invitation_ttl),
            ("mail_retry_base", self.mail_retry_base),
            ("mail_lease", self.mail_lease),
            ("mail_retention", self.mail_retention),
            ("mail_poll_interval", self.mail_poll_interval),
            ("access_token_ttl", self.access_token_ttl),
            ("fresh_sign_in", self.fresh_sign_in),
            ("id_token_ttl", self.id_token_ttl),
            ("signing_key_rotation", self.signing_key_rotation),
        ] {
            if d.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
        }
        if self.id_token_ttl > Duration::from_secs(86_400) {
            return Err(invalid("id_token_ttl", "must be at most 1 day"));
        }
        if !(8..=128).contains(&self.password_min_chars) {
            return Err(invalid("password_min_chars", "must be between 8 and 128"));
        }
        if self.signin_free_failures < 1 || self.signin_ip_free_failures < 1 {
            return Err(invalid("signin_free_failures", "must be at least 1"));
        }
        if self.signin_lockout_failures <= self.signin_free_failures {
            return Err(invalid("signin_lockout_failures", "must be greater than signin_free_failures"));
        }
        if self.signin_failure_window.is_zero() || self.signin_lockout_duration.is_zero() {
            return Err(invalid("signin_failure_window", "durations must be longer than zero"));
        }
        if self.password_reset_emails_per_address < 1 {
            return Err(invalid("password_reset_emails_per_address", "must be at least 1"));
        }
        if self.password_reset_emails_per_ip < 1 {
            return Err(invalid("password_reset_emails_per_ip", "must be at least 1"));
        }
        if self.backup_interval < Duration::from_secs(1) {
            return Err(invalid("backup_interval", "must be at least 1s"));
        }
        if self.backup_keep < 1 {
            return Err(invalid("backup_keep", "must be at least 1"));
        }
        if self.shutdown_grace > Duration::from_secs(3600) {
            return Err(invalid("shutdown_grace", "must be at most 1h"));
        }
        self.trusted_proxies()?;
        self.encryption_key()?;
        if let Some(token) = self.metrics_token() {
            if token.chars().count() < METRICS_TOKEN_MIN_CHARS {
                return Err(invalid(
                    "metrics_token",
                    format!(
                        "must be at least {METRICS_TOKEN_MIN_CHARS} characters; make one with `openssl rand -hex 32`"
                    ),
                ));
            }
            // RFC 6750's token characters: it travels in an Authorization header.
            if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)) {
                return Err(invalid(
                    "metrics_token",
                    "may hold only letters, digits and - . _ ~ + / = (make one with `openssl rand -hex 32`)",
                ));
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(invalid("log_format", format!("`{}` must be text or json", self.log_format)));
        }
        Ok(())
    }

    /// `trusted_proxies` parsed: `10.0.0.0/8`, `2001:db8::/32`, or one address.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|item| {
                let item = item.trim();
                item.parse::<ipnet::IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "trusted_proxies",
                            format!("`{item}` is not an address or a CIDR range such as 10.0.0.0/8"),
                        )
                    })
            })
            .collect()
    }

    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url.as_deref().filter(|u| !u.is_empty())
    }

    /// Where `smtp_url` was set, in words, for Settings → Email server.
    pub fn smtp_url_source(&self) -> String {
        if std::env::var("ROSTER_SMTP_URL").is_ok_and(|v| !v.is_empty()) {
            "the ROSTER_SMTP_URL environment variable".into()
        } else {
            let file = std::env::var("ROSTER_CONFIG").unwrap_or_else(|_| "roster.toml".into());
            format!("the configuration file {file}")
        }
    }

    /// `metrics_token`, when it is set (surrounding blanks are no part of it).
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_ref().map(|t| t.expose().trim()).filter(|t| !t.is_empty())
    }

    /// `encryption_key` decoded; None when it is not set.
    pub fn encryption_key(&self) -> Result<Option<app::server::secret::EncryptionKey>, ConfigError> {
        match self.encryption_key.as_ref().filter(|k| !k.expose().trim().is_empty()) {
            None => Ok(None),
            Some(k) => app::server::secret::EncryptionKey::from_base64(k.expose()).map(Some).map_err(|problem| {
                invalid("encryption_key", format!("{problem}; make one with `openssl rand -base64 32`"))
            }),
        }
    }

    /// The public URL, given or derived from the address actually bound.
    #[allow(clippy::expect_used, reason = "http:// and a socket address always make a valid URL")]
    pub fn public_url(&self, bound: SocketAddr) -> Url {
        self.public_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| Url::parse(&format!("http://{bound}/")).expect("socket address makes a URL"))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in_jail() -> Result<Config, String> {
        Config::load().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_sqlite_on_port_3000() {
        Jail::expect_with(|_| {
            let c = load_in_jail().unwrap();
            assert_eq!(c.database_url, "sqlite://data/roster.db");
            assert_eq!(c.listen.port(), 3000);
            assert_eq!(c.session_idle_timeout, Duration::from_secs(1800));
            assert_eq!(c.session_absolute_timeout, Duration::from_secs(12 * 3600));
            assert!(c.trusted_proxies().unwrap().is_empty(), "no proxy is trusted by default");
            assert_eq!(c.signing_key_rotation, Duration::from_secs(90 * 86_400));
            assert_eq!(c.id_token_ttl + c.signing_key_retire_margin, Duration::from_secs(15 * 60));
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_override() {
        Jail::expect_with(|jail| {
            jail.create_file("roster.toml", "site_name = \"From file\"\nsession_idle_timeout = \"10m\"\n")?;
            jail.set_env("ROSTER_SITE_NAME", "From env");
            jail.set_env("ROSTER_SIGNING_KEY_ROTATION", "30days");
            let c = load_in_jail().unwrap();
            assert_eq!(c.site_name, "From env");
            assert_eq!(c.session_idle_timeout, Duration::from_secs(600));
            assert_eq!(c.signing_key_rotation, Duration::from_secs(30 * 86_400));
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_from_file_or_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("roster.toml", "trusted_proxies = [\"10.0.0.0/8\", \"2001:db8::1\"]\n")?;
            let c = load_in_jail().unwrap();
            let nets: Vec<String> = c.trusted_proxies().unwrap().iter().map(|n| n.to_string()).collect();
            assert_eq!(nets, ["10.0.0.0/8", "2001:db8::1/128"]);
            jail.set_env("ROSTER_TRUSTED_PROXIES", "127.0.0.1/32, 192.168.1.7/16");
            let nets: Vec<String> =
                load_in_jail().unwrap().trusted_proxies().unwrap().iter().map(|n| n.to_string()).collect();
            assert_eq!(nets, ["127.0.0.1/32", "192.168.0.0/16"]);
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("ROSTER_TRUSTED_PROXIES", "10.0.0.0/33");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("trusted_proxies") && e.contains("10.0.0.0/33"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn encryption_key_is_32_bytes_of_base64_and_never_prints() {
        Jail::expect_with(|jail| {
            assert!(load_in_jail().unwrap().encryption_key().unwrap().is_none(), "no key by default");
            jail.set_env("ROSTER_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
            let c = load_in_jail().unwrap();
            assert!(c.encryption_key().unwrap().is_some());
            assert!(!format!("{c:?}").contains("MDEyMzQ1"), "the key never prints");
            jail.set_env("ROSTER_ENCRYPTION_KEY", "c2hvcnQ=");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("encryption_key") && e.contains("32 bytes"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn metrics_token_is_long_header_safe_and_never_prints() {
        Jail::expect_with(|jail| {
            assert_eq!(load_in_jail().unwrap().metrics_token(), None, "off by default");
            jail.set_env("ROSTER_METRICS_TOKEN", "");
            assert_eq!(load_in_jail().unwrap().metrics_token(), None, "empty is off");
            let token = "0123456789abcdef0123456789abcdef";
            jail.set_env("ROSTER_METRICS_TOKEN", token);
            let c = load_in_jail().unwrap();
            assert_eq!(c.metrics_token(), Some(token));
            assert!(!format!("{c:?}").contains("0123456789abcdef"), "the token never prints");
            jail.set_env("ROSTER_METRICS_TOKEN", "short-secret-token");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("metrics_token") && e.contains("at least 32"), "{e}");
            assert!(!e.contains("short-secret-token"), "the error does not echo the token: {e}");
            jail.set_env("ROSTER_METRICS_TOKEN", "0123456789abcdef 0123456789abcdef");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("metrics_token") && e.contains("only letters"), "{e}");
            assert!(!e.contains("0123456789abcdef"), "the error does not echo the token: {e}");
            Ok(())
        });
    }

    #[test]
    fn shutdown_grace_defaults_to_20s_and_is_bounded() {
        Jail::expect_with(|jail| {
            assert_eq!(load_in_jail().unwrap().shutdown_grace, Duration::from_secs(20));
            jail.set_env("ROSTER_SHUTDOWN_GRACE", "0s");
            assert_eq!(load_in_jail().unwrap().shutdown_grace, Duration::ZERO, "0: stop at once");
            jail.set_env("ROSTER_SHUTDOWN_GRACE", "3s");
            assert_eq!(load_in_jail().unwrap().shutdown_grace, Duration::from_secs(3));
            jail.set_env("ROSTER_SHUTDOWN_GRACE", "2h");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("shutdown_grace"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("ROSTER_SESSION_IDLE_TIMEOUT", "soon");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("session_idle_timeout") || e.contains("SESSION_IDLE_TIMEOUT"), "{e}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("ROSTER_DATABASE_URL", "mysql://x");
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("database_url"), "{e}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.create_file("roster.toml", "site_nam = \"typo\"\n")?;
            let e = load_in_jail().unwrap_err();
            assert!(e.contains("site_nam"), "{e}");
            Ok(())
        });
    }
}
