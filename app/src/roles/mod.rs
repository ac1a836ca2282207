//! The Roles application: roles, their permission matrix and their members,
//! a preview of the Dashboard a member sees, and the effective access shown
//! on a user's page.
//!
//! A role grants (application, permission) pairs; a user holds the union of
//! their roles' grants. The built-in Administrator role holds everything,
//! including applications added later, and cannot be changed.

mod access_view;
mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
/// Applications whose tiles a holder of `grants` sees, in registry order.
pub mod types;

pub use access_view::UserAccess;
pub use pages::{NewRolePage, RoleDetailPage, RolesPage};
pub use types::*;

use crate::domain::{RoleId, UserId};
use crate::error::AppError;
use crate::registry::{AppId, Permission, APPLICATIONS};
use leptos::prelude::*;

#[app_macros::endpoint(authorized(Roles, View))]
pub async fn list_roles() -> Result<Vec<RoleSummary>, AppError> {
    service::list(access, &state).await
}

#[app_macros::endpoint(authorized(Roles, View))]
pub async fn get_role(id: RoleId) -> Result<RoleDetail, AppError> {
    service::detail(access, &state, id).await
}

#[app_macros::endpoint(authorized(Roles, Create))]
pub async fn create_role(name: String, description: String) -> Result<RoleId, AppError> {
    let name = RoleName::parse(&name).map_err(AppError::Invalid)?;
    let description = parse_description(&description).map_err(AppError::Invalid)?;
    service::create(access, &state, &name, &description).await
}

#[app_macros::endpoint(authorized(Roles, Update))]
pub async fn update_role(id: RoleId, name: String, description: String) -> Result<(), AppError> {
    let name = RoleName::parse(&name).map_err(AppError::Invalid)?;
    let description = parse_description(&description).map_err(AppError::Invalid)?;
    service::update(access, &state, id, &name, &description).await
}

/// Replace what a role grants. Returns the grants as saved (with implied View).
#[app_macros::endpoint(authorized(Roles, Update), json)]
pub async fn set_role_permissions(id: RoleId, grants: Vec<Grant>) -> Result<Vec<Grant>, AppError> {
    let grants = normalize_grants(&grants).map_err(AppError::Invalid)?;
    service::set_permissions(access, &state, id, &grants).await?;
    Ok(grants)
}

/// Delete a role that is not built in. Returns how many users lost it.
#[app_macros::endpoint(authorized(Roles, Delete))]
pub async fn delete_role(id: RoleId) -> Result<i64, AppError> {
    service::delete(access, &state, id).await
}

/// Users who do not hold the role yet, matching `search`, for the Members tab.
#[app_macros::endpoint(authorized(Roles, Update))]
pub async fn role_member_candidates(role_id: RoleId, search: String) -> Result<Vec<Member>, AppError> {
    service::candidates(access, &state, role_id, &search).await
}

#[app_macros::endpoint(authorized(Roles, Update))]
pub async fn add_role_member(role_id: RoleId, user_id: UserId) -> Result<(), AppError> {
    service::set_member(access, &state, role_id, user_id, true).await
}

#[app_macros::endpoint(authorized(Roles, Update))]
pub async fn remove_role_member(role_id: RoleId, user_id: UserId) -> Result<(), AppError> {
    service::set_member(access, &state, role_id, user_id, false).await
}

/// A user's effective access, for the Access section of their page in Users.
#[app_macros::endpoint(authorized(Users, View))]
pub async fn user_access(user_id: UserId) -> Result<EffectiveAccess, AppError> {
    service::effective_access(access, &state, user_id).await
}
