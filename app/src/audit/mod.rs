//! The Audit log application: who did what, when, from which IP. Read-only in
//! the UI; entries are written by the services as things happen.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::AuditLogPage;
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;

#[app_macros::endpoint(authorized(AuditLog, View), json)]
pub async fn list_audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    service::list(access, &state.db, &query).await
}
