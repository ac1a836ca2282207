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
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::{AppMark, ApplicationDetailPage, ApplicationsPage, NewApplicationPage};
pub use types::*;

use crate::domain::ApplicationId;
use crate::error::AppError;
use leptos::prelude::*;

#[app_macros::endpoint(authorized(Applications, View))]
pub async fn list_applications() -> Result<Vec<ApplicationSummary>, AppError> {
    service::list(access, &state.db).await
}

#[app_macros::endpoint(authorized(Applications, View))]
pub async fn get_application(id: ApplicationId) -> Result<ApplicationDetail, AppError> {
    service::detail(access, &state.db, id).await
}

/// Register an application. The answer holds its client secret, the only time it is shown.
#[app_macros::endpoint(authorized(Applications, Create), json)]
pub async fn create_application(input: ApplicationInput) -> Result<Credentials, AppError> {
    let valid = input.validate().map_err(|e| AppError::Invalid(e.to_string()))?;
    service::create(access, &state.db, &valid).await
}

#[app_macros::endpoint(authorized(Applications, Update), json)]
pub async fn update_application(id: ApplicationId, input: ApplicationInput) -> Result<(), AppError> {
    let valid = input.validate().map_err(|e| AppError::Invalid(e.to_string()))?;
    service::update(access, &state.db, id, &valid).await
}

/// Disable (its tile disappears, sign-ins to it are refused at once) or enable again.
#[app_macros::endpoint(authorized(Applications, Update))]
pub async fn set_application_enabled(id: ApplicationId, enabled: bool) -> Result<(), AppError> {
    service::set_enabled(access, &state.db, id, enabled).await
}

/// A new client secret, shown once; the old one stops working at once.
#[app_macros::endpoint(authorized(fresh Applications, Update))]
pub async fn rotate_application_secret(id: ApplicationId) -> Result<Credentials, AppError> {
    service::rotate_secret(access, &state.db, id).await
}

/// Does the application receive every claim whatever scopes it asks for?
/// True for one registered before scopes decided the claims (OpenID
/// Connect), until it is switched to claims by scope.
#[app_macros::endpoint(authorized(Applications, View))]
pub async fn application_every_claim(id: ApplicationId) -> Result<bool, AppError> {
    crate::oidc::claims::every_claim(&state.db, id).await
}

/// From now on the application receives the claims of the scopes it asks
/// for (`profile`, `email`, `roster`), not every claim. There is no way back:
/// an application registered today never had every claim.
#[app_macros::endpoint(authorized(Applications, Update))]
pub async fn set_application_claims_by_scope(id: ApplicationId) -> Result<(), AppError> {
    use crate::server::access::{apps, perms};
    let view = access.principal().authorize::<apps::Applications, perms::View>()?;
    let name = service::detail(view, &state.db, id).await?.name;
    crate::oidc::claims::claims_by_scope(access, &state.db, id, &name).await
}

#[app_macros::endpoint(authorized(Applications, Delete))]
pub async fn delete_application(id: ApplicationId) -> Result<(), AppError> {
    service::delete(access, &state.db, id).await
}

/// Self-service: the registered applications the caller may open, for the Dashboard.
#[app_macros::endpoint(signed_in)]
pub async fn my_applications() -> Result<Vec<AppTile>, AppError> {
    service::tiles_for(&me, &state.db).await
}
