//! Account's data: the signed-in person's details and sessions, and how a browser is described.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountDetails {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub browser: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The session this request came with.
    pub current: bool,
}

/// "Chrome on Linux" from a User-Agent header.
pub fn describe_browser(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        return "Unknown browser".into();
    } else {
        "Other browser"
    };
    let os = if ua.contains("Windows") {
        " on Windows"
    } else if ua.contains("Android") {
        " on Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        " on iOS"
    } else if ua.contains("Mac OS") {
        " on macOS"
    } else if ua.contains("Linux") {
        " on Linux"
    } else {
        ""
    };
    format!("{browser}{os}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn browsers_are_described_plainly() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(super::describe_browser(chrome), "Chrome on Linux");
        assert_eq!(
            super::describe_browser("Mozilla/5.0 (Windows NT 10.0) Gecko/20100101 Firefox/140.0"),
            "Firefox on Windows"
        );
        assert_eq!(super::describe_browser(""), "Unknown browser");
    }
}
