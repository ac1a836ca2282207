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

#[cfg(test)]
mod tests {
    use super::*;

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
}
