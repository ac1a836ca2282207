//! Account: the signed-in user's own details, password and sessions. Every
//! function here is self-service: it acts only on the caller.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;

pub use pages::AccountPage;

use crate::error::AppError;
use leptos::prelude::*;
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

#[server(prefix = "/api", endpoint = "account_info", output = crate::codec::JsonOut)]
pub async fn account_info() -> Result<AccountDetails, AppError> {
    crate::signed_in!(|me, state| { service::info(&state, &me).await })
}

#[server(prefix = "/api", endpoint = "update_my_name", output = crate::codec::JsonOut)]
pub async fn update_my_name(first_name: String, last_name: String) -> Result<(), AppError> {
    crate::signed_in!(|me, state| {
        let name = crate::domain::PersonName::parse(&first_name, &last_name).map_err(AppError::Invalid)?;
        service::update_name(&state, &me, &name).await
    })
}

#[server(prefix = "/api", endpoint = "change_password", output = crate::codec::JsonOut)]
pub async fn change_password(
    current_password: String,
    password: String,
    password_confirmation: String,
) -> Result<u64, AppError> {
    crate::signed_in!(|me, state| {
        service::change_password(&state, &me, &current_password, &password, &password_confirmation).await
    })
}

#[server(prefix = "/api", endpoint = "my_sessions", output = crate::codec::JsonOut)]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    crate::signed_in!(|me, state| { service::sessions(&state, &me).await })
}

#[server(prefix = "/api", endpoint = "sign_out_other_sessions", output = crate::codec::JsonOut)]
pub async fn sign_out_other_sessions() -> Result<u64, AppError> {
    crate::signed_in!(|me, state| { service::end_other_sessions(&state, &me).await })
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
