//! Who is calling, and what they may do.
//!
//! A server function gets a [`Principal`] from the request (or `Unauthorized`),
//! then asks it for an [`Access`] to one application and permission (or
//! `Forbidden`). Services that read or change an application's data take an
//! `Access` for it, and only [`Principal::authorize`] can make one, so a
//! handler that skipped the check does not compile.

use crate::error::AppError;
use crate::registry::{AppId, Permission};
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    /// Hash of the session id this request came with (never the id itself).
    pub session_hash: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Holds the built-in Administrator role: every permission, including
    /// applications added later.
    pub is_admin: bool,
    pub grants: BTreeSet<(AppId, Permission)>,
}

impl Principal {
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let full = full.trim();
        if full.is_empty() {
            self.email.clone()
        } else {
            full.to_string()
        }
    }

    pub fn can(&self, app: AppId, permission: Permission) -> bool {
        self.is_admin || self.grants.contains(&(app, permission))
    }

    /// The only way to obtain an [`Access`].
    pub fn authorize(&self, app: AppId, permission: Permission) -> Result<Access<'_>, AppError> {
        if self.can(app, permission) {
            Ok(Access { principal: self, app, permission })
        } else {
            tracing::info!(user_id = self.user_id, app = app.key(), permission = permission.as_str(), "forbidden");
            Err(AppError::Forbidden)
        }
    }

    /// Applications this user may open (those with View), in registry order.
    pub fn visible_apps(&self) -> Vec<AppId> {
        crate::registry::APPLICATIONS.iter().map(|a| a.id).filter(|id| self.can(*id, Permission::View)).collect()
    }
}

/// Proof that the principal passed the check for `app` and `permission`.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    principal: &'a Principal,
    app: AppId,
    permission: Permission,
}

impl<'a> Access<'a> {
    /// Services call this to state which grant they need; a handle obtained for
    /// another application or permission is refused.
    pub fn require(&self, app: AppId, permission: Permission) -> Result<(), AppError> {
        if self.app == app && (self.permission == permission || self.principal.can(app, permission)) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn principal(&self) -> &'a Principal {
        self.principal
    }
    pub fn app(&self) -> AppId {
        self.app
    }
    pub fn permission(&self) -> Permission {
        self.permission
    }
}
