//! Where email goes out: the SMTP settings in force, the transport built from
//! them, and SMTP failures in plain words.
//!
//! Settings saved in Settings → Email server (the `email_settings` row) win
//! over `smtp_url` / `mail_from` from the configuration. Every node reads the
//! row: the worker once per round (a one-row read by primary key, compared
//! with what it last built from), the Email queue and Users at each request,
//! so a change applies on every node without a restart.

use crate::error::AppResult;
use crate::server::db::Db;
use crate::server::secret::SecretString;
use crate::server::state::Settings;
use crate::settings::types::{SmtpSecurity, StoredSmtp, HOW_TO_SET_KEY};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::time::Duration;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Associated data of the stored SMTP password's ciphertext.
pub const PASSWORD_PURPOSE: &str = "email_settings.password";

/// The saved settings, if any: one read by primary key.
pub async fn load_stored(db: &Db) -> AppResult<Option<StoredSmtp>> {
    crate::settings::repo::email_server(&mut *db.pool.acquire().await?).await
}

/// Which settings send email now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InForce {
    /// Saved in Settings → Email server.
    Database(StoredSmtp),
    /// `smtp_url` from roster.toml or the environment.
    Configuration,
    /// Neither: email stays queued.
    NotConfigured,
}

impl InForce {
    pub fn from_row(row: Option<StoredSmtp>, settings: &Settings) -> Self {
        match row {
            Some(r) => Self::Database(r),
            None if settings.smtp_url.is_some() => Self::Configuration,
            None => Self::NotConfigured,
        }
    }
}

pub async fn in_force(db: &Db, settings: &Settings) -> AppResult<InForce> {
    Ok(InForce::from_row(load_stored(db).await?, settings))
}

/// Whether email is sent at all (a row, or `smtp_url`): what "Not sent" badges ask.
pub async fn configured(db: &Db, settings: &Settings) -> AppResult<bool> {
    Ok(settings.smtp_url.is_some() || load_stored(db).await?.is_some())
}

/// A transport and the From it sends as.
#[derive(Clone)]
pub struct Sender {
    pub transport: Transport,
    pub from: String,
    /// `host:port`, for messages.
    pub server: String,
}

/// How a [`Sender`] is built: pooled connections for the worker, one for a test.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    pub pool: u32,
    pub timeout: Duration,
}

/// The stored password, decrypted, or why it cannot be on this node.
pub fn stored_password(row: &StoredSmtp, settings: &Settings) -> Result<Option<SecretString>, String> {
    let Some(sealed) = &row.password_enc else { return Ok(None) };
    let Some(key) = &settings.encryption_key else {
        return Err(format!(
            "The saved SMTP password cannot be read on this node: it has no encryption key. {HOW_TO_SET_KEY}"
        ));
    };
    key.decrypt(PASSWORD_PURPOSE, sealed).map(Some).map_err(|_| {
        "The saved SMTP password cannot be read on this node: it was saved with another encryption key. \
         Give every node the same encryption_key, or type the password again and save."
            .to_string()
    })
}

/// The sender for the settings in force; `Ok(None)` when email is not configured.
pub fn sender(in_force: &InForce, settings: &Settings, c: Connections) -> Result<Option<Sender>, String> {
    let pool = PoolConfig::new().max_size(c.pool.max(1));
    match in_force {
        InForce::NotConfigured => Ok(None),
        InForce::Configuration => {
            let Some(url) = &settings.smtp_url else { return Ok(None) };
            let (host, port) = summary_of_url(url.expose()).map(|s| (s.host, s.port)).unwrap_or_default();
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                .map_err(|e| format!("smtp_url: {e}"))?
                .pool_config(pool)
                .timeout(Some(c.timeout))
                .build();
            Ok(Some(Sender { transport, from: settings.mail_from.clone(), server: format!("{host}:{port}") }))
        }
        InForce::Database(row) => {
            let password = stored_password(row, settings)?;
            let security = SmtpSecurity::parse(&row.security).unwrap_or(SmtpSecurity::StartTls);
            let port = u16::try_from(row.port).map_err(|_| format!("port {} is out of range", row.port))?;
            let tls = || TlsParameters::new(row.host.clone()).map_err(|e| format!("TLS for {}: {e}", row.host));
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&row.host)
                .port(port)
                .tls(match security {
                    SmtpSecurity::None => Tls::None,
                    SmtpSecurity::StartTls => Tls::Required(tls()?),
                    SmtpSecurity::Tls => Tls::Wrapper(tls()?),
                })
                .pool_config(pool)
                .timeout(Some(c.timeout));
            if !row.username.is_empty() {
                let secret = password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
                builder = builder.credentials(Credentials::new(row.username.clone(), secret));
            }
            let from = from_mailbox(&row.from_name, &row.from_address)?;
            Ok(Some(Sender { transport: builder.build(), from, server: format!("{}:{port}", row.host) }))
        }
    }
}

/// `Name <address>`, or the address alone, as lettre parses it.
pub fn from_mailbox(name: &str, address: &str) -> Result<String, String> {
    let address = address.parse().map_err(|e| format!("the From address `{address}` is not valid: {e}"))?;
    let name = name.trim();
    Ok(Mailbox::new((!name.is_empty()).then(|| name.to_string()), address).to_string())
}

/// What `smtp_url` says, without its password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlSummary {
    pub host: String,
    pub port: u16,
    pub security: Option<SmtpSecurity>,
    pub username: String,
    pub has_password: bool,
}

/// Read `smtp_url` as lettre does (its default ports), for display.
pub fn summary_of_url(url: &str) -> Option<UrlSummary> {
    let u = url::Url::parse(url).ok()?;
    let tls = u.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
    let (security, default_port) = match (u.scheme(), tls.as_deref()) {
        ("smtps", _) => (SmtpSecurity::Tls, 465),
        ("smtp", Some("required" | "opportunistic")) => (SmtpSecurity::StartTls, 587),
        _ => (SmtpSecurity::None, 25),
    };
    let username = url::form_urlencoded::parse(format!("u={}", u.username().replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    Some(UrlSummary {
        host: u.host_str()?.to_string(),
        port: u.port().unwrap_or(default_port),
        security: Some(security),
        username,
        has_password: u.password().is_some(),
    })
}

/// An SMTP failure in words a person can act on. `server` is `host:port`.
pub fn plain_words(e: &lettre::transport::smtp::Error, server: &str, timeout: Duration) -> String {
    use std::error::Error as _;
    let mut chain = Vec::new();
    let mut io_kind = None;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        chain.push(s.to_string());
        source = s.source();
    }
    let detail = chain.join(": ");
    if e.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return format!(
            "Timed out after {} s: {server} did not answer. Check the host, the port and any firewall between Roster and it.",
            timeout.as_secs()
        );
    }
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return format!(
            "Connection refused: nothing accepts connections at {server}. Check the host and the port (usually 587 for STARTTLS, 465 for TLS, 25 for none)."
        );
    }
    if let Some(code) = e.status() {
        let code = code.to_string();
        return match code.as_str() {
            "535" | "534" => {
                format!("Authentication failed: the SMTP server refused the user name or password ({code} {detail}).")
            }
            "530" => {
                format!("The SMTP server requires authentication: enter a user name and password ({code} {detail}).")
            }
            _ if e.is_permanent() => format!("The SMTP server refused: {code} {detail}"),
            _ => format!("The SMTP server answered with a temporary error, try again later: {code} {detail}"),
        };
    }
    let lower = detail.to_lowercase();
    if lower.contains("certificate") {
        return format!(
            "Certificate invalid: the TLS certificate of {server} cannot be trusted ({detail}). Check the host name; it must match the certificate."
        );
    }
    if e.is_tls() || lower.contains("tls") || lower.contains("handshake") {
        return format!(
            "The TLS connection to {server} failed ({detail}). Check the security setting: TLS is usually port 465, STARTTLS port 587."
        );
    }
    if lower.contains("no compatible authentication mechanism") {
        return "The SMTP server offers no sign-in method Roster supports (PLAIN or LOGIN). Many servers offer one only over STARTTLS or TLS.".to_string();
    }
    if lower.contains("lookup") || lower.contains("not known") || lower.contains("no address") {
        return format!("The host name in {server} was not found (DNS): check its spelling.");
    }
    format!("Sending through {server} failed: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_url_is_summarised_without_its_password() {
        let s = summary_of_url("smtps://roster%40kbank:s3cret@smtp.example.com").unwrap();
        assert_eq!(s.host, "smtp.example.com");
        assert_eq!(s.port, 465);
        assert_eq!(s.security, Some(SmtpSecurity::Tls));
        assert_eq!(s.username, "roster@kbank");
        assert!(s.has_password);
        assert!(!format!("{s:?}").contains("s3cret"));
        let s = summary_of_url("smtp://mail.internal:2525?tls=required").unwrap();
        assert_eq!((s.port, s.security, s.has_password), (2525, Some(SmtpSecurity::StartTls), false));
        assert_eq!(summary_of_url("smtp://127.0.0.1").unwrap().port, 25);
    }

    #[test]
    fn from_is_name_and_address() {
        assert_eq!(from_mailbox("Kbank People", "people@kbank.com").unwrap(), "Kbank People <people@kbank.com>");
        assert_eq!(from_mailbox(" ", "people@kbank.com").unwrap(), "people@kbank.com");
        assert!(from_mailbox("X", "not an address").is_err());
    }
}
