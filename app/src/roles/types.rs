//! The Roles data: role names, descriptions, grants and their normalization, summaries, members, details and effective access.

use crate::domain::RoleId;
use crate::registry::{AppId, Permission};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::registry::{visible_apps, Grant};

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

/// The `roles.builtin` value of the Administrator role.
pub const ADMINISTRATOR: &str = "administrator";

/// What `roles.builtin` holds for a role Roster defines itself (NULL for the
/// organization's own roles). Bound in SQL, never written as a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// The Global administrator: every permission of every application.
    Administrator,
}

impl Builtin {
    /// The value stored in `roles.builtin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => ADMINISTRATOR,
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        (word == ADMINISTRATOR).then_some(Self::Administrator)
    }
}

#[cfg(feature = "ssr")]
crate::words_column!(Builtin, "built-in role", Builtin::parse, Builtin::as_str);

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoleSummary {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::sql::Flag"))]
    pub builtin: bool,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: crate::domain::UserId,
    pub email: String,
    pub full_name: String,
    pub enabled: bool,
    /// The caller may give or take this person's roles
    /// (`grants::check_may_manage`); the Members tab offers Add or Remove only then.
    pub manageable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDetail {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    /// The built-in Administrator role: every permission, never editable.
    pub builtin: bool,
    /// What the role grants; for the Administrator, every declared permission.
    pub grants: Vec<Grant>,
    pub members: Vec<Member>,
    /// Every registered application, for the permission matrix and the preview.
    pub applications: Vec<crate::applications::types::AppTile>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::APPLICATIONS;

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
