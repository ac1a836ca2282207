//! The application registry: the single place that declares each admin
//! application. The Dashboard, the navigation, the permission model and the
//! authorization checks all read from here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every admin application Roster has. Adding one starts here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AppId {
    Users,
    Roles,
    EmailQueue,
    AuditLog,
    Settings,
}

/// What a role can be granted on an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    View,
    Create,
    Update,
    Delete,
}

impl Permission {
    pub const ALL: [Permission; 4] = [Self::View, Self::Create, Self::Update, Self::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::View => "View",
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How an admin application presents itself and what it can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Application {
    pub id: AppId,
    /// Stable key used in the database and in URLs.
    pub key: &'static str,
    pub name: &'static str,
    /// Shown on the tile and in the navigation.
    pub icon: crate::icons::Icon,
    pub description: &'static str,
    pub route: &'static str,
    pub permissions: &'static [Permission],
}

impl Application {
    /// Does this application know `permission` at all?
    pub fn declares(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

pub const APPLICATIONS: &[Application] = &[
    Application {
        id: AppId::Users,
        key: "users",
        name: "Users",
        icon: crate::icons::Icon::Users,
        description: "Invite people, edit their details and roles, enable or disable them.",
        route: "/users",
        permissions: &Permission::ALL,
    },
    Application {
        id: AppId::Roles,
        key: "roles",
        name: "Roles",
        icon: crate::icons::Icon::Shield,
        description: "Decide what each group of people may see and change, application by application.",
        route: "/roles",
        permissions: &Permission::ALL,
    },
    Application {
        id: AppId::EmailQueue,
        key: "email-queue",
        name: "Email queue",
        icon: crate::icons::Icon::Mail,
        description: "Every email Roster sends: what went out, what failed and why.",
        route: "/email-queue",
        permissions: &[Permission::View, Permission::Update, Permission::Delete],
    },
    Application {
        id: AppId::AuditLog,
        key: "audit-log",
        name: "Audit log",
        icon: crate::icons::Icon::ScrollText,
        description: "Who did what, when and from where: sign-ins, invitations, changes.",
        route: "/audit-log",
        permissions: &[Permission::View],
    },
    Application {
        id: AppId::Settings,
        key: "settings",
        name: "Settings",
        icon: crate::icons::Icon::Settings,
        description: "Where Roster's email goes out and what it says: the SMTP server and the email templates.",
        route: "/settings",
        permissions: &[Permission::View, Permission::Update],
    },
];

/// The application whose pages live at `path` (its route, or below it).
pub fn app_at(path: &str) -> Option<AppId> {
    APPLICATIONS
        .iter()
        .find(|a| path.strip_prefix(a.route).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
        .map(|a| a.id)
}

impl AppId {
    #[allow(clippy::expect_used, reason = "every AppId has an entry: the registry's tests look each one up")]
    pub fn app(self) -> &'static Application {
        APPLICATIONS.iter().find(|a| a.id == self).expect("every AppId is registered in APPLICATIONS")
    }

    pub fn key(self) -> &'static str {
        self.app().key
    }

    pub fn from_key(key: &str) -> Option<Self> {
        APPLICATIONS.iter().find(|a| a.key == key).map(|a| a.id)
    }
}

/// The applications someone with these grants may open (those with View), in
/// registry order: the Dashboard, the navigation and the role preview all ask this.
pub fn visible_apps(is_admin: bool, grants: &[(AppId, Permission)]) -> Vec<AppId> {
    APPLICATIONS.iter().map(|a| a.id).filter(|id| is_admin || grants.contains(&(*id, Permission::View))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_application_is_registered_once_with_unique_keys_and_routes() {
        let mut keys: Vec<_> = APPLICATIONS.iter().map(|a| a.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), APPLICATIONS.len());
        let mut routes: Vec<_> = APPLICATIONS.iter().map(|a| a.route).collect();
        routes.sort();
        routes.dedup();
        assert_eq!(routes.len(), APPLICATIONS.len());
        for a in APPLICATIONS {
            assert_eq!(AppId::from_key(a.key), Some(a.id));
            assert!(a.permissions.contains(&Permission::View), "{} must know View", a.name);
        }
    }

    #[test]
    fn pages_belong_to_the_application_at_their_route() {
        assert_eq!(app_at("/users"), Some(AppId::Users));
        assert_eq!(app_at("/users/42"), Some(AppId::Users));
        assert_eq!(app_at("/roles/new"), Some(AppId::Roles));
        assert_eq!(app_at("/usersx"), None);
        assert_eq!(app_at("/"), None);
        assert_eq!(app_at("/account"), None);
        assert_eq!(app_at("/api/list_users"), None);
    }
}
