//! The Applications data: client types, icons and colours (word columns), the input and its checks (redirect and launch URLs, names), summaries, details, credentials and tiles.

use crate::domain::{ApplicationId, Timestamp};
use crate::icons::Icon;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How the application signs in with Roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientType {
    /// A server-side application that keeps a client secret.
    Confidential,
    /// An application that cannot keep a secret (in the browser, on a phone): PKCE only.
    Public,
}

impl ClientType {
    pub const ALL: [ClientType; 2] = [Self::Confidential, Self::Public];
    pub fn key(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Confidential => "Confidential (server-side, with a client secret)",
            Self::Public => "Public (in the browser or on a device: PKCE, no secret)",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.key() == s)
    }
}

/// What the tile shows: the name's first letter, or one of Roster's own icons
/// (no uploads, no emoji).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mark {
    Letter,
    Window,
    People,
    Mail,
    Shield,
    Document,
    Gear,
    House,
    Screen,
}

impl Mark {
    pub const ALL: [Mark; 9] = [
        Self::Letter,
        Self::Window,
        Self::People,
        Self::Mail,
        Self::Shield,
        Self::Document,
        Self::Gear,
        Self::House,
        Self::Screen,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Self::Letter => "letter",
            Self::Window => "window",
            Self::People => "people",
            Self::Mail => "mail",
            Self::Shield => "shield",
            Self::Document => "document",
            Self::Gear => "gear",
            Self::House => "house",
            Self::Screen => "screen",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Letter => "First letter of the name",
            Self::Window => "Window",
            Self::People => "People",
            Self::Mail => "Envelope",
            Self::Shield => "Shield",
            Self::Document => "Document",
            Self::Gear => "Gear",
            Self::House => "House",
            Self::Screen => "Screen",
        }
    }
    /// The icon drawn, or `None` for the letter.
    pub fn icon(self) -> Option<Icon> {
        Some(match self {
            Self::Letter => return None,
            Self::Window => Icon::AppWindow,
            Self::People => Icon::Users,
            Self::Mail => Icon::Mail,
            Self::Shield => Icon::Shield,
            Self::Document => Icon::ScrollText,
            Self::Gear => Icon::Settings,
            Self::House => Icon::Home,
            Self::Screen => Icon::Monitor,
        })
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.key() == s)
    }
}

/// The tile's colour, from a palette whose every colour reads in light and dark themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colour {
    Blue,
    Green,
    Purple,
    Orange,
    Red,
    Teal,
    Grey,
}

impl Colour {
    pub const ALL: [Colour; 7] =
        [Self::Blue, Self::Green, Self::Purple, Self::Orange, Self::Red, Self::Teal, Self::Grey];
    pub fn key(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
            Self::Purple => "purple",
            Self::Orange => "orange",
            Self::Red => "red",
            Self::Teal => "teal",
            Self::Grey => "grey",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Blue => "Blue",
            Self::Green => "Green",
            Self::Purple => "Purple",
            Self::Orange => "Orange",
            Self::Red => "Red",
            Self::Teal => "Teal",
            Self::Grey => "Grey",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.key() == s)
    }
}

#[cfg(feature = "ssr")]
crate::words_column!(ClientType, "client type", ClientType::parse);

#[cfg(feature = "ssr")]
crate::words_column!(Mark, "application icon", Mark::parse);

#[cfg(feature = "ssr")]
crate::words_column!(Colour, "application colour", Colour::parse);

/// What New application and the edit form send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationInput {
    pub name: String,
    pub description: String,
    pub mark: Mark,
    pub colour: Colour,
    pub launch_url: String,
    /// One per line.
    pub redirect_uris: String,
    /// One per line; may be empty.
    pub post_logout_redirect_uris: String,
    /// Chosen at creation; the edit form sends the stored one and it is not changed.
    pub client_type: ClientType,
}

/// A line of the Applications list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApplicationSummary {
    pub id: ApplicationId,
    pub name: String,
    pub description: String,
    pub mark: Mark,
    pub colour: Colour,
    pub client_id: String,
    pub client_type: ClientType,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::sql::Flag"))]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationDetail {
    pub id: ApplicationId,
    pub name: String,
    pub description: String,
    pub mark: Mark,
    pub colour: Colour,
    pub launch_url: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub client_type: ClientType,
    pub client_id: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The roles that grant View on it, by name (who sees its tile).
    pub roles: Vec<String>,
}

/// What the application needs to sign people in: shown once, at creation or
/// rotation, to the person who did it. Never stored in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    pub id: ApplicationId,
    pub client_id: String,
    /// `None` for a public client.
    pub client_secret: Option<String>,
}

/// A registered application as the Dashboard, the role matrix and the role
/// preview show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AppTile {
    pub id: ApplicationId,
    pub name: String,
    pub description: String,
    pub mark: Mark,
    pub colour: Colour,
    pub launch_url: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::sql::Flag"))]
    pub enabled: bool,
}

pub const NAME_MAX_CHARS: usize = 100;

pub const DESCRIPTION_MAX_CHARS: usize = 500;

pub const URL_MAX_CHARS: usize = 2000;

pub const MAX_REDIRECT_URIS: usize = 20;

/// Why an application's details cannot be accepted. Each says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Enter a name for the application.")]
    NameEmpty,
    #[error("The name is too long: use at most {NAME_MAX_CHARS} characters (this one has {0}).")]
    NameTooLong(usize),
    #[error("The name must not contain control characters.")]
    NameControl,
    #[error("The description is too long: use at most {DESCRIPTION_MAX_CHARS} characters (this one has {0}).")]
    DescriptionTooLong(usize),
    #[error("Enter the launch URL: the address the Dashboard tile opens.")]
    LaunchUrlEmpty,
    #[error("Enter at least one redirect URI: where Roster sends people back after they sign in.")]
    NoRedirectUri,
    #[error("Too many {0}: at most {MAX_REDIRECT_URIS}.")]
    TooManyUris(&'static str),
    #[error("{what} {uri:?} is not valid: {why}")]
    Url { what: &'static str, uri: String, why: UrlProblem },
}

/// What is wrong with one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("it is not an absolute URL (it must start with https://).")]
    NotAbsolute,
    #[error("it is too long (at most 2000 characters).")]
    TooLong,
    #[error("it must use https (http is allowed only for localhost, 127.0.0.1 or [::1]).")]
    NotHttps,
    #[error("it must use http or https.")]
    NotWeb,
    #[error("it must not contain a #fragment.")]
    Fragment,
    #[error("it must not contain a user name or password.")]
    Credentials,
    #[error("it must not contain spaces.")]
    Spaces,
}

/// A validated redirect URI (or post-logout redirect URI): absolute, https
/// unless the host is loopback, no fragment, no credentials. Compared with
/// what a client sends exactly, character for character, never by prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri(String);

/// A validated launch URL: absolute http or https, no credentials. (Never
/// `javascript:` or `data:`: the Dashboard tile is a link to it.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchUrl(String);

/// A validated application name: trimmed, 1 to 100 characters, unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppName(String);

#[cfg(feature = "ssr")]
fn check_url(s: &str) -> Result<url::Url, UrlProblem> {
    if s.chars().count() > URL_MAX_CHARS {
        return Err(UrlProblem::TooLong);
    }
    if s.chars().any(char::is_whitespace) {
        return Err(UrlProblem::Spaces);
    }
    let url = url::Url::parse(s).map_err(|_| UrlProblem::NotAbsolute)?;
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(UrlProblem::NotAbsolute);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    Ok(url)
}

/// Is this URL's host the machine itself (where plain http cannot be overheard)?
#[cfg(feature = "ssr")]
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(feature = "ssr")]
impl RedirectUri {
    pub fn parse(s: &str) -> Result<Self, UrlProblem> {
        let s = s.trim();
        let url = check_url(s)?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            _ => return Err(UrlProblem::NotHttps),
        }
        if url.fragment().is_some() || s.contains('#') {
            return Err(UrlProblem::Fragment);
        }
        // Stored as typed: clients must send it the same way (exact match).
        Ok(Self(s.to_string()))
    }
}

#[cfg(feature = "ssr")]
impl LaunchUrl {
    pub fn parse(s: &str) -> Result<Self, UrlProblem> {
        let s = s.trim();
        let url = check_url(s)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UrlProblem::NotWeb);
        }
        Ok(Self(s.to_string()))
    }
}

impl RedirectUri {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl LaunchUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AppName {
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InputError::NameEmpty);
        }
        let n = s.chars().count();
        if n > NAME_MAX_CHARS {
            return Err(InputError::NameTooLong(n));
        }
        if s.chars().any(char::is_control) {
            return Err(InputError::NameControl);
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The form used for uniqueness: lower case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application's details, every field checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidApplication {
    /// Unique, case-insensitively.
    pub name: AppName,
    pub description: String,
    /// The tile: a letter or one of Roster's icons, on a colour.
    pub mark: Mark,
    pub colour: Colour,
    /// Where the tile leads.
    pub launch_url: LaunchUrl,
    /// Where sign-ins may return, compared byte for byte.
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-initiated logout may return.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub client_type: ClientType,
}

/// The non-empty lines of a text area, without duplicates, in order.
pub fn lines(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

#[cfg(feature = "ssr")]
impl ApplicationInput {
    pub fn validate(&self) -> Result<ValidApplication, InputError> {
        let name = AppName::parse(&self.name)?;
        let description = self.description.trim().to_string();
        let n = description.chars().count();
        if n > DESCRIPTION_MAX_CHARS {
            return Err(InputError::DescriptionTooLong(n));
        }
        if self.launch_url.trim().is_empty() {
            return Err(InputError::LaunchUrlEmpty);
        }
        let launch_url = LaunchUrl::parse(&self.launch_url).map_err(|why| InputError::Url {
            what: "The launch URL",
            uri: self.launch_url.trim().to_string(),
            why,
        })?;
        let uris = |text: &str, what: &'static str, plural: &'static str| {
            let lines = lines(text);
            if lines.len() > MAX_REDIRECT_URIS {
                return Err(InputError::TooManyUris(plural));
            }
            lines
                .into_iter()
                .map(|l| RedirectUri::parse(&l).map_err(|why| InputError::Url { what, uri: l, why }))
                .collect::<Result<Vec<_>, _>>()
        };
        let redirect_uris = uris(&self.redirect_uris, "The redirect URI", "redirect URIs")?;
        if redirect_uris.is_empty() {
            return Err(InputError::NoRedirectUri);
        }
        let post_logout_redirect_uris =
            uris(&self.post_logout_redirect_uris, "The post-logout redirect URI", "post-logout redirect URIs")?;
        Ok(ValidApplication {
            name,
            description,
            mark: self.mark,
            colour: self.colour,
            launch_url,
            redirect_uris,
            post_logout_redirect_uris,
            client_type: self.client_type,
        })
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_need_https_unless_loopback() {
        for ok in [
            "https://crm.example.com/callback",
            "http://localhost:8080/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:3000/cb",
            "https://crm.example.com/cb?x=1",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(RedirectUri::parse("http://crm.example.com/cb"), Err(UrlProblem::NotHttps));
        assert_eq!(RedirectUri::parse("http://localhost.evil.com/cb"), Err(UrlProblem::NotHttps));
        assert_eq!(RedirectUri::parse("javascript:alert(1)"), Err(UrlProblem::NotAbsolute));
        assert_eq!(RedirectUri::parse("/callback"), Err(UrlProblem::NotAbsolute));
        assert_eq!(RedirectUri::parse("https://crm.example.com/cb#x"), Err(UrlProblem::Fragment));
        assert_eq!(RedirectUri::parse("https://u:p@crm.example.com/cb"), Err(UrlProblem::Credentials));
        assert_eq!(RedirectUri::parse("https://crm.example.com/a b"), Err(UrlProblem::Spaces));
    }

    #[test]
    fn redirect_uris_are_kept_as_typed() {
        assert_eq!(RedirectUri::parse(" https://CRM.example.com/cb ").unwrap().as_str(), "https://CRM.example.com/cb");
    }

    #[test]
    fn launch_urls_are_web_addresses() {
        assert!(LaunchUrl::parse("http://intranet.example/").is_ok());
        assert!(LaunchUrl::parse("https://crm.example.com").is_ok());
        assert_eq!(LaunchUrl::parse("javascript:alert(1)"), Err(UrlProblem::NotAbsolute));
        assert_eq!(LaunchUrl::parse("ftp://files.example.com/"), Err(UrlProblem::NotWeb));
        assert_eq!(LaunchUrl::parse("data:text/html,hi"), Err(UrlProblem::NotAbsolute));
    }

    #[test]
    fn input_errors_name_what_to_fix() {
        let input = ApplicationInput {
            name: " CRM ".into(),
            description: String::new(),
            mark: Mark::Letter,
            colour: Colour::Blue,
            launch_url: "https://crm.example.com".into(),
            redirect_uris: "https://crm.example.com/cb\n\nhttps://crm.example.com/cb\n".into(),
            post_logout_redirect_uris: String::new(),
            client_type: ClientType::Confidential,
        };
        let v = input.validate().unwrap();
        assert_eq!(v.name.as_str(), "CRM");
        assert_eq!(v.redirect_uris.len(), 1, "duplicates dropped");
        let bad = ApplicationInput { redirect_uris: "http://crm.example.com/cb".into(), ..input.clone() };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "The redirect URI \"http://crm.example.com/cb\" is not valid: it must use https (http is allowed only for localhost, 127.0.0.1 or [::1])."
        );
        let none = ApplicationInput { redirect_uris: " \n".into(), ..input };
        assert_eq!(none.validate().unwrap_err(), InputError::NoRedirectUri);
    }
}
