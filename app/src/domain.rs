//! Newtypes for Roster's invariants. Parse, don't validate: a value of one of
//! these types is valid by construction, in the browser and on the server.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A syntactically valid email address, trimmed. Compare with [`EmailAddress::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter an email address.".into());
        }
        if s.chars().count() > 254 {
            return Err("The email address is too long (at most 254 characters).".into());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("The email address needs an @ sign, as in name@example.com.".into());
        };
        if local.is_empty() || local.len() > 64 {
            return Err("The part before the @ must be 1 to 64 characters.".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("The email address must not contain spaces.".into());
        }
        if local.contains('@') || local.contains(['<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']']) {
            return Err("The part before the @ contains a character that is not allowed.".into());
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err("The part before the @ has a misplaced dot.".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err("The domain after the @ is not valid, as in example.com.".into());
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and look-ups: lower case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The part before the @, used by the password policy.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest first or last name, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// Characters that reorder how text around them is displayed (explicit
/// embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, the marks
/// U+200E, U+200F and U+061C): in a name they can make a list or an audit
/// entry read as something it is not.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The one check for a name a person reads (a first or last name through
/// [`PersonName`], the sender's name in Settings). `field` names it in the
/// message ("First name"). Empty is allowed: names are optional.
pub fn check_person_name(field: &str, value: &str) -> Result<(), String> {
    if value.chars().count() > NAME_MAX_CHARS {
        return Err(format!("{field} is too long (at most {NAME_MAX_CHARS} characters)."));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters such as tabs or line breaks."));
    }
    if let Some(c) = value.chars().find(|&c| is_bidi_control(c)) {
        return Err(format!(
            "{field} must not contain invisible text-direction characters (it contains U+{:04X}).",
            c as u32
        ));
    }
    Ok(())
}

/// A person's first and last name, trimmed, each checked by
/// [`check_person_name`]; either may be empty (names are optional). Setup,
/// `create-admin`, New user, Sign up, a user's page, Account and the import
/// all read names through [`PersonName::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    first: String,
    last: String,
}

impl PersonName {
    pub fn parse(first_name: &str, last_name: &str) -> Result<Self, String> {
        check_person_name("First name", first_name)?;
        check_person_name("Last name", last_name)?;
        Ok(Self { first: first_name.trim().to_string(), last: last_name.trim().to_string() })
    }

    /// A name a form may leave out altogether: `None` when neither part was
    /// sent (keep the one on record), else the name as [`parse`](Self::parse) reads it.
    pub fn parse_sent(first_name: Option<String>, last_name: Option<String>) -> Result<Option<Self>, String> {
        if first_name.is_none() && last_name.is_none() {
            return Ok(None);
        }
        Self::parse(first_name.as_deref().unwrap_or(""), last_name.as_deref().unwrap_or("")).map(Some)
    }

    pub fn first(&self) -> &str {
        &self.first
    }

    pub fn last(&self) -> &str {
        &self.last
    }

    /// "Laura Mills", "Laura", or "" when neither is known.
    pub fn full(&self) -> String {
        format!("{} {}", self.first, self.last).trim().to_string()
    }
}

/// Declares a row id: the number the database gave a row of one table, as a
/// type of its own, so that a role's id cannot be passed where a user's is
/// expected. Sent as a bare number (serde), bound and read as one (sqlx), and
/// parsed from the text of a URL or form with a message naming what it is.
macro_rules! row_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(i64);

        impl $name {
            /// The id the database gave the row.
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The number, for SQL built as text and for URLs.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                s.trim().parse::<i64>().ok().filter(|n| *n > 0).map(Self).ok_or_else(|| format!("{s:?} is not a valid {}.", $what))
            }
        }
    };
}

row_id!(
    /// `users.id`.
    UserId,
    "user id"
);
row_id!(
    /// `roles.id`.
    RoleId,
    "role id"
);
row_id!(
    /// `applications.id`.
    ApplicationId,
    "application id"
);

/// A moment in UTC, as the milliseconds since the Unix epoch that Roster
/// stores in every `*_at` column and sends to the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Now, by the server's clock (the browser's has no `SystemTime`).
    #[cfg(feature = "ssr")]
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64);
        Self(ms.unwrap_or(0))
    }

    /// This moment moved by `by` (later when positive).
    pub fn plus(self, by: std::time::Duration) -> Self {
        Self(self.0.saturating_add(by.as_millis() as i64))
    }

    /// This moment moved back by `by`.
    pub fn minus(self, by: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(by.as_millis() as i64))
    }

    /// How long after `earlier` this is (zero when it is not after it).
    pub fn since(self, earlier: Timestamp) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

impl fmt::Display for Timestamp {
    /// `2026-11-27 07:10 UTC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::time::format_time(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_names_are_trimmed_optional_and_checked() {
        let n = PersonName::parse("  Laura ", " Mills").unwrap();
        assert_eq!((n.first(), n.last(), n.full().as_str()), ("Laura", "Mills", "Laura Mills"));
        assert_eq!(PersonName::parse("", "").unwrap().full(), "");
        assert_eq!(PersonName::parse("", "Mills").unwrap().full(), "Mills");
        assert!(PersonName::parse("La\tura", "").unwrap_err().starts_with("First name"));
        assert!(PersonName::parse("", &"x".repeat(NAME_MAX_CHARS + 1)).unwrap_err().starts_with("Last name"));
        assert_eq!(PersonName::parse_sent(None, None), Ok(None));
        assert_eq!(PersonName::parse_sent(None, Some(" Mills ".into())).unwrap().unwrap().full(), "Mills");
        assert!(PersonName::parse_sent(Some("\u{202e}x".into()), None).is_err());
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["lauram@kbank.com", "  a.b+tag@sub.example.org ", "x@ex-ample.co"] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(EmailAddress::parse(" A@B.com ").unwrap().as_str(), "A@B.com");
        assert_eq!(EmailAddress::parse("A@B.com").unwrap().normalized(), "a@b.com");
    }

    #[test]
    fn refuses_malformed_addresses_with_reasons() {
        assert_eq!(EmailAddress::parse("").unwrap_err(), "Enter an email address.");
        assert!(EmailAddress::parse("nobody").unwrap_err().contains("@"));
        assert!(EmailAddress::parse("a@b").unwrap_err().contains("domain"));
        assert!(EmailAddress::parse("a b@c.com").unwrap_err().contains("spaces"));
        assert!(EmailAddress::parse(".a@c.com").unwrap_err().contains("dot"));
        assert!(EmailAddress::parse("a@-c.com").unwrap_err().contains("domain"));
    }

    #[test]
    fn names_refuse_control_and_bidi_characters_naming_the_field() {
        for ok in ["", "Ada", "José María", "Nguyễn", "O'Brien-Smith", "李", "محمد"] {
            assert_eq!(check_person_name("First name", ok), Ok(()), "{ok}");
        }
        let e = check_person_name("Last name", "Evil\u{202E}gnp.exe").unwrap_err();
        assert!(e.starts_with("Last name") && e.contains("U+202E"), "{e}");
        for bad in ['\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}'] {
            assert!(check_person_name("First name", &format!("a{bad}b")).unwrap_err().contains("text-direction"));
        }
        for bad in ['\t', '\n', '\r', '\u{0}', '\u{1B}', '\u{7F}', '\u{85}'] {
            let e = check_person_name("First name", &format!("a{bad}b")).unwrap_err();
            assert!(e.starts_with("First name") && e.contains("control characters"), "{bad:?}: {e}");
        }
        assert!(check_person_name("First name", &"a".repeat(101)).unwrap_err().contains("too long"));
        assert_eq!(check_person_name("First name", &"é".repeat(100)), Ok(()));
    }

    #[test]
    fn row_ids_parse_only_positive_numbers_and_name_what_they_are() {
        assert_eq!("42".parse::<UserId>(), Ok(UserId::new(42)));
        assert_eq!(" 7 ".parse::<RoleId>().map(RoleId::get), Ok(7));
        assert_eq!("0".parse::<ApplicationId>().unwrap_err(), "\"0\" is not a valid application id.");
        assert!("-3".parse::<UserId>().unwrap_err().contains("user id"));
        assert!("x".parse::<RoleId>().unwrap_err().contains("role id"));
        assert_eq!(serde_json::to_string(&UserId::new(5)).unwrap(), "5");
        assert_eq!(serde_json::from_str::<RoleId>("9").unwrap(), RoleId::new(9));
    }

    #[test]
    fn timestamps_move_and_read_as_utc() {
        let t = Timestamp::from_millis(1_795_000_000_000);
        assert_eq!(t.plus(std::time::Duration::from_secs(60)).millis(), 1_795_000_060_000);
        assert_eq!(t.minus(std::time::Duration::from_secs(1)).millis(), 1_794_999_999_000);
        assert_eq!(t.plus(std::time::Duration::from_secs(2)).since(t), std::time::Duration::from_secs(2));
        assert_eq!(t.since(t.plus(std::time::Duration::from_secs(2))), std::time::Duration::ZERO);
        assert_eq!(t.to_string(), crate::time::format_time(1_795_000_000_000));
        assert!(t.to_string().ends_with(" UTC"));
    }
}
