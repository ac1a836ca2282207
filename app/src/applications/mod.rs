//! The Applications application: the organization's own applications (the
//! CRM, the wiki, Grafana), registered so that roles can grant them, the
//! Dashboard shows their tiles, and they can sign people in with Roster
//! (OpenID Connect; `protocol` leaves room for others).
//!
//! A registered application is granted like Roster's own, as
//! `AppId::Registered(id)` (stored as `app:<id>` in `role_permissions`). Its
//! client secret is shown once, to the person who created or rotated it, and
//! stored only as a SHA-256 hash.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::{AppMark, ApplicationDetailPage, ApplicationsPage, NewApplicationPage};
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "list_applications", output = crate::codec::JsonOut)]
pub async fn list_applications() -> Result<Vec<ApplicationSummary>, AppError> {
    crate::authorized!(Applications, View, |access, state| { service::list(access, &state.db).await })
}

#[server(prefix = "/api", endpoint = "application_detail", output = crate::codec::JsonOut)]
pub async fn get_application(id: i64) -> Result<ApplicationDetail, AppError> {
    crate::authorized!(Applications, View, |access, state| { service::detail(access, &state.db, id).await })
}

/// Register an application. The answer holds its client secret, the only time it is shown.
#[server(prefix = "/api", endpoint = "create_application", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn create_application(input: ApplicationInput) -> Result<Credentials, AppError> {
    crate::authorized!(Applications, Create, |access, state| {
        let valid = input.validate().map_err(|e| AppError::Invalid(e.to_string()))?;
        service::create(access, &state.db, &valid).await
    })
}

#[server(prefix = "/api", endpoint = "update_application", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn update_application(id: i64, input: ApplicationInput) -> Result<(), AppError> {
    crate::authorized!(Applications, Update, |access, state| {
        let valid = input.validate().map_err(|e| AppError::Invalid(e.to_string()))?;
        service::update(access, &state.db, id, &valid).await
    })
}

/// Disable (its tile disappears, sign-ins to it are refused at once) or enable again.
#[server(prefix = "/api", endpoint = "set_application_enabled", output = crate::codec::JsonOut)]
pub async fn set_application_enabled(id: i64, enabled: bool) -> Result<(), AppError> {
    crate::authorized!(Applications, Update, |access, state| {
        service::set_enabled(access, &state.db, id, enabled).await
    })
}

/// A new client secret, shown once; the old one stops working at once.
#[server(prefix = "/api", endpoint = "rotate_application_secret", output = crate::codec::JsonOut)]
pub async fn rotate_application_secret(id: i64) -> Result<Credentials, AppError> {
    crate::authorized!(fresh Applications, Update, |access, state| { service::rotate_secret(access, &state.db, id).await })
}

#[server(prefix = "/api", endpoint = "delete_application", output = crate::codec::JsonOut)]
pub async fn delete_application(id: i64) -> Result<(), AppError> {
    crate::authorized!(Applications, Delete, |access, state| { service::delete(access, &state.db, id).await })
}

/// Self-service: the registered applications the caller may open, for the Dashboard.
#[server(prefix = "/api", endpoint = "my_applications", output = crate::codec::JsonOut)]
pub async fn my_applications() -> Result<Vec<AppTile>, AppError> {
    use crate::server::session::{app_state, principal, respond};
    respond(async move { service::tiles_for(&principal()?, &app_state()?.db).await }.await)
}
