//! The application registry: the single place that declares each admin
//! application. The Dashboard, the navigation, the permission model and the
//! authorization checks all read from here.

use crate::domain::ApplicationId;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Every admin application Roster has. Adding one starts here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AppId {
    Users,
    Roles,
    EmailQueue,
    AuditLog,
    Settings,
    Applications,
    /// An application the organization registered in Applications (its
    /// `applications.id`): granted, shown on the Dashboard and signed in to
    /// like Roster's own, but described by its row, not by [`APPLICATIONS`].
    Registered(ApplicationId),
}

/// One permission on one application, as a role grants it.
pub type Grant = (AppId, Permission);

/// A stored (application, permission) pair (`role_permissions`), if the
/// registry still knows both.
pub fn grant_of(app: &str, permission: &str) -> Option<Grant> {
    Some((AppId::from_key(app)?, Permission::parse(permission)?))
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
    Application {
        id: AppId::Applications,
        key: "applications",
        name: "Applications",
        icon: crate::icons::Icon::AppWindow,
        description:
            "Register the organization's own applications: their Dashboard tiles and single sign-on with Roster.",
        route: "/applications",
        permissions: &Permission::ALL,
    },
];

/// The application whose pages live at `path` (its route, or below it).
pub fn app_at(path: &str) -> Option<AppId> {
    APPLICATIONS
        .iter()
        .find(|a| path.strip_prefix(a.route).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
        .map(|a| a.id)
}

/// The prefix of a registered application's key in `role_permissions`
/// (`app:42`); no built-in key contains a colon.
pub const REGISTERED_PREFIX: &str = "app:";

impl AppId {
    /// Roster's own application, or `None` for a registered one.
    pub fn builtin(self) -> Option<&'static Application> {
        APPLICATIONS.iter().find(|a| a.id == self)
    }

    /// The key stored in `role_permissions.application`.
    pub fn key(self) -> Cow<'static, str> {
        match self {
            Self::Registered(id) => Cow::Owned(format!("{REGISTERED_PREFIX}{id}")),
            // Every other AppId has an entry: the registry's tests look each one up.
            _ => Cow::Borrowed(self.builtin().map_or("", |a| a.key)),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        if let Some(digits) = key.strip_prefix(REGISTERED_PREFIX) {
            // Only the form `key` writes: no sign, no leading zero.
            let id = digits.parse::<i64>().ok().filter(|id| *id > 0 && id.to_string() == digits)?;
            return Some(Self::Registered(ApplicationId::new(id)));
        }
        APPLICATIONS.iter().find(|a| a.key == key).map(|a| a.id)
    }

    /// Does this application know `permission`? A registered application knows all four.
    pub fn declares(self, permission: Permission) -> bool {
        self.builtin().is_none_or(|a| a.declares(permission))
    }

    /// The name of Roster's own application; a registered one's is its row's
    /// (`names` maps registered ids to names; an unknown one is "a deleted application").
    pub fn name(self, names: &std::collections::HashMap<ApplicationId, String>) -> String {
        match self {
            Self::Registered(id) => names.get(&id).cloned().unwrap_or_else(|| "a deleted application".into()),
            _ => self.builtin().map_or_else(String::new, |a| a.name.to_string()),
        }
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
            assert_eq!(a.id.key(), a.key);
            assert!(!a.key.contains(':'));
            assert!(a.permissions.contains(&Permission::View), "{} must know View", a.name);
        }
    }

    #[test]
    fn registered_applications_have_their_own_keys() {
        assert_eq!(AppId::Registered(ApplicationId::new(42)).key(), "app:42");
        assert_eq!(AppId::from_key("app:42"), Some(AppId::Registered(ApplicationId::new(42))));
        for bad in ["app:", "app:0", "app:-1", "app:042", "app:4x", "app: 4"] {
            assert_eq!(AppId::from_key(bad), None, "{bad}");
        }
        assert!(AppId::Registered(ApplicationId::new(1)).declares(Permission::Delete));
        assert!(!AppId::AuditLog.declares(Permission::Delete));
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
