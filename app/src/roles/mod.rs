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
pub mod service;

pub use access_view::UserAccess;
pub use pages::{NewRolePage, RoleDetailPage, RolesPage};

use crate::error::AppError;
use crate::registry::{AppId, Permission, APPLICATIONS};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One permission on one application, as a role grants it.
pub type Grant = (AppId, Permission);

/// A role's name: trimmed, 1 to 100 characters. Unique regardless of case
/// (compare [`RoleName::normalized`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter a name for the role.".into());
        }
        let n = s.chars().count();
        if n > Self::MAX_CHARS {
            return Err(format!(
                "The role name is too long: use at most {} characters (this one has {n}).",
                Self::MAX_CHARS
            ));
        }
        if s.chars().any(char::is_control) {
            return Err("The role name must not contain control characters.".into());
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

impl TryFrom<String> for RoleName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RoleName> for String {
    fn from(value: RoleName) -> Self {
        value.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const DESCRIPTION_MAX_CHARS: usize = 500;

/// A role's description, trimmed, or the reason it cannot be accepted.
pub fn parse_description(input: &str) -> Result<String, String> {
    let s = input.trim();
    let n = s.chars().count();
    if n > DESCRIPTION_MAX_CHARS {
        return Err(format!(
            "The description is too long: use at most {DESCRIPTION_MAX_CHARS} characters (this one has {n})."
        ));
    }
    Ok(s.to_string())
}

/// Check a set of grants against the registry and add what they imply:
/// Create, Update and Delete each imply View. Sorted, without duplicates.
pub fn normalize_grants(grants: &[Grant]) -> Result<Vec<Grant>, String> {
    let mut out = std::collections::BTreeSet::new();
    for &(app, permission) in grants {
        if !app.declares(permission) {
            let name = app.builtin().map_or("This application", |a| a.name);
            return Err(format!("{name} has no {} permission.", permission.label()));
        }
        out.insert((app, permission));
        out.insert((app, Permission::View));
    }
    Ok(out.into_iter().collect())
}

/// Applications whose tiles a holder of `grants` sees, in registry order.
pub use crate::registry::visible_apps;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoleSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::sql::Flag"))]
    pub builtin: bool,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub full_name: String,
    pub enabled: bool,
    /// The caller may give or take this person's roles
    /// (`grants::check_may_manage`); the Members tab offers Add or Remove only then.
    pub manageable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDetail {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The built-in Administrator role: every permission, never editable.
    pub builtin: bool,
    /// What the role grants; for the Administrator, every declared permission.
    pub grants: Vec<Grant>,
    pub members: Vec<Member>,
    /// Every registered application, for the permission matrix and the preview.
    pub applications: Vec<crate::applications::AppTile>,
    /// Members must use a second factor (`two_factor`).
    pub require_two_factor: bool,
    /// The caller may hand this role out (`grants::check_can_hand_out`): give
    /// it to someone, or change what it requires of its members.
    pub may_hand_out: bool,
}

/// One line of a user's effective access: a permission and the roles that grant it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessLine {
    pub app: AppId,
    /// The application's name (a registered one's is its row's).
    pub app_name: String,
    pub permission: Permission,
    pub granted_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectiveAccess {
    pub is_admin: bool,
    pub lines: Vec<AccessLine>,
}

#[server(prefix = "/api", endpoint = "list_roles", output = crate::codec::JsonOut)]
pub async fn list_roles() -> Result<Vec<RoleSummary>, AppError> {
    crate::authorized!(Roles, View, |access, state| { service::list(access, &state).await })
}

#[server(prefix = "/api", endpoint = "role_detail", output = crate::codec::JsonOut)]
pub async fn get_role(id: i64) -> Result<RoleDetail, AppError> {
    crate::authorized!(Roles, View, |access, state| { service::detail(access, &state, id).await })
}

#[server(prefix = "/api", endpoint = "create_role", output = crate::codec::JsonOut)]
pub async fn create_role(name: String, description: String) -> Result<i64, AppError> {
    crate::authorized!(Roles, Create, |access, state| {
        let name = RoleName::parse(&name).map_err(AppError::Invalid)?;
        let description = parse_description(&description).map_err(AppError::Invalid)?;
        service::create(access, &state, &name, &description).await
    })
}

#[server(prefix = "/api", endpoint = "update_role", output = crate::codec::JsonOut)]
pub async fn update_role(id: i64, name: String, description: String) -> Result<(), AppError> {
    crate::authorized!(Roles, Update, |access, state| {
        let name = RoleName::parse(&name).map_err(AppError::Invalid)?;
        let description = parse_description(&description).map_err(AppError::Invalid)?;
        service::update(access, &state, id, &name, &description).await
    })
}

/// Replace what a role grants. Returns the grants as saved (with implied View).
#[server(prefix = "/api", endpoint = "set_role_permissions", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn set_role_permissions(id: i64, grants: Vec<Grant>) -> Result<Vec<Grant>, AppError> {
    crate::authorized!(Roles, Update, |access, state| {
        let grants = normalize_grants(&grants).map_err(AppError::Invalid)?;
        service::set_permissions(access, &state, id, &grants).await?;
        Ok(grants)
    })
}

/// Delete a role that is not built in. Returns how many users lost it.
#[server(prefix = "/api", endpoint = "delete_role", output = crate::codec::JsonOut)]
pub async fn delete_role(id: i64) -> Result<i64, AppError> {
    crate::authorized!(Roles, Delete, |access, state| { service::delete(access, &state, id).await })
}

/// Users who do not hold the role yet, matching `search`, for the Members tab.
#[server(prefix = "/api", endpoint = "role_member_candidates", output = crate::codec::JsonOut)]
pub async fn role_member_candidates(role_id: i64, search: String) -> Result<Vec<Member>, AppError> {
    crate::authorized!(Roles, Update, |access, state| { service::candidates(access, &state, role_id, &search).await })
}

#[server(prefix = "/api", endpoint = "add_role_member", output = crate::codec::JsonOut)]
pub async fn add_role_member(role_id: i64, user_id: i64) -> Result<(), AppError> {
    crate::authorized!(Roles, Update, |access, state| {
        service::set_member(access, &state, role_id, user_id, true).await
    })
}

#[server(prefix = "/api", endpoint = "remove_role_member", output = crate::codec::JsonOut)]
pub async fn remove_role_member(role_id: i64, user_id: i64) -> Result<(), AppError> {
    crate::authorized!(Roles, Update, |access, state| {
        service::set_member(access, &state, role_id, user_id, false).await
    })
}

/// A user's effective access, for the Access section of their page in Users.
#[server(prefix = "/api", endpoint = "user_access", output = crate::codec::JsonOut)]
pub async fn user_access(user_id: i64) -> Result<EffectiveAccess, AppError> {
    crate::authorized!(Users, View, |access, state| { service::effective_access(access, &state, user_id).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_trimmed_and_bounded() {
        assert_eq!(RoleName::parse("  Content Editor ").unwrap().as_str(), "Content Editor");
        assert_eq!(RoleName::parse("Content Editor").unwrap().normalized(), "content editor");
        assert_eq!(RoleName::parse("   ").unwrap_err(), "Enter a name for the role.");
        assert!(RoleName::parse(&"é".repeat(100)).is_ok(), "100 characters, 200 bytes");
        assert!(RoleName::parse(&"é".repeat(101)).unwrap_err().contains("too long"));
        assert!(RoleName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn create_update_and_delete_imply_view() {
        let g = normalize_grants(&[(AppId::Users, Permission::Delete), (AppId::Roles, Permission::Create)]).unwrap();
        assert_eq!(
            g,
            vec![
                (AppId::Users, Permission::View),
                (AppId::Users, Permission::Delete),
                (AppId::Roles, Permission::View),
                (AppId::Roles, Permission::Create),
            ]
        );
    }

    #[test]
    fn undeclared_permissions_are_refused() {
        assert_eq!(
            normalize_grants(&[(AppId::EmailQueue, Permission::Create)]).unwrap_err(),
            "Email queue has no Create permission."
        );
    }

    #[test]
    fn the_preview_shows_applications_with_view() {
        assert_eq!(visible_apps(false, &[(AppId::EmailQueue, Permission::View)]), vec![AppId::EmailQueue]);
        assert_eq!(visible_apps(true, &[]).len(), APPLICATIONS.len());
    }
}
