//! Server-only code: persistence, crypto, sessions and the request context
//! that server functions use. Compiled only with the `ssr` feature.

pub mod access;
pub mod assets;
pub mod crypto;
pub mod db;
pub mod metrics;
pub mod policy;
pub mod secret;
pub mod security;
pub mod session;
pub mod sql;
pub mod state;

pub use access::Principal;
pub use state::{AppState, Settings};

/// Milliseconds since the Unix epoch: the one clock Roster stores.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The lower-case "first last" used to sort and search by name.
pub fn name_sort(first: &str, last: &str) -> String {
    format!("{} {}", first.trim(), last.trim()).trim().to_lowercase()
}
