//! Who is calling, and what they may do.
//!
//! A server function gets a [`Principal`] from the request (or `Unauthorized`),
//! then asks it for an [`Access`] to one application and permission (or
//! `Forbidden`). The proof names both in its type, `Access<'_, Users, Create>`,
//! and only [`Principal::authorize`] makes one ([`Principal::into_authorized`],
//! for a plain axum handler, asks it too). A service declares the proof it
//! needs in its signature, so a handler that skipped the check, or checked
//! another application or permission, does not compile:
//!
//! ```compile_fail
//! use app::server::access::{apps, perms, Access};
//! fn delete_role(_proof: Access<'_, apps::Roles, perms::Delete>) {}
//! fn handler(proof: Access<'_, apps::Users, perms::Delete>) {
//!     delete_role(proof); // a Users proof is not a Roles proof
//! }
//! ```
//!
//! ```compile_fail
//! use app::server::access::{apps, perms, Access};
//! fn delete_user(_proof: Access<'_, apps::Users, perms::Delete>) {}
//! fn handler(proof: Access<'_, apps::Users, perms::View>) {
//!     delete_user(proof); // View is not Delete
//! }
//! ```
//!
//! What the types do not cover: which *rows* a proof reaches. A proof for
//! Users Update reaches every user; the rules about targets (administrators
//! are changed only by administrators, roles are handed out only within the
//! caller's own grants) are checked in `crate::grants`, at run time.

use crate::domain::UserId;
use crate::error::AppError;
use crate::registry::{AppId, Permission};
use std::collections::BTreeSet;
use std::marker::PhantomData;

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    /// Hash of the session id this request came with (never the id itself).
    pub session_hash: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Holds the built-in Administrator role: every permission, including
    /// applications added later.
    pub is_admin: bool,
    pub grants: BTreeSet<(AppId, Permission)>,
    /// A role requires a second factor and the user has none: nothing is
    /// authorized until they set one up (`two_factor`).
    pub two_factor_setup_owed: bool,
    /// When this session's person last proved who they are (ms since the
    /// epoch): the sign-in, its second step, or a confirmation since.
    pub authenticated_at: i64,
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

    /// Refuse with [`AppError::ConfirmIdentity`] unless this session's last
    /// authentication is at most `window` old: what changes how someone signs
    /// in must not be done with a session cookie alone.
    pub fn require_fresh(&self, window: std::time::Duration) -> Result<(), AppError> {
        let age = super::now_ms().saturating_sub(self.authenticated_at);
        if age >= 0 && age <= window.as_millis() as i64 {
            Ok(())
        } else {
            tracing::info!(user_id = self.user_id.get(), age_ms = age, "a fresh sign-in is required");
            Err(AppError::ConfirmIdentity)
        }
    }

    /// The only way to obtain an [`Access`].
    pub fn authorize<A: App, P: Perm>(&self) -> Result<Access<'_, A, P>, AppError> {
        if self.two_factor_setup_owed {
            return Err(AppError::TwoFactorSetupRequired);
        }
        if self.can(A::ID, P::PERMISSION) {
            Ok(Access { principal: self, proof: PhantomData })
        } else {
            tracing::info!(user_id = self.user_id.get(), app = %A::ID.key(), permission = P::PERMISSION.as_str(), "forbidden");
            Err(AppError::Forbidden)
        }
    }

    /// The same check as [`authorize`](Self::authorize), keeping the
    /// principal: for what cannot borrow it, like an axum extractor.
    pub fn into_authorized<A: App, P: Perm>(self) -> Result<Authorized<A, P>, AppError> {
        self.authorize::<A, P>()?;
        Ok(Authorized { principal: self, proof: PhantomData })
    }

    /// Applications this user may open (those with View), in registry order.
    pub fn visible_apps(&self) -> Vec<AppId> {
        let grants: Vec<_> = self.grants.iter().copied().collect();
        crate::registry::visible_apps(self.is_admin, &grants)
    }
}

/// An application, as a type: `apps::Users` stands for `AppId::Users`.
pub trait App: Copy {
    const ID: AppId;
}

/// A permission, as a type: `perms::Create` stands for `Permission::Create`.
pub trait Perm: Copy {
    const PERMISSION: Permission;
}

macro_rules! markers {
    ($trait:ident, $const:ident, $value:ident, $($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl super::$trait for $name {
            const $const: crate::registry::$value = crate::registry::$value::$name;
        }
    )*};
}

/// One type per application of the registry.
pub mod apps {
    markers!(App, ID, AppId, Users, Roles, EmailQueue, AuditLog, Settings, Applications);
}

/// One type per permission.
pub mod perms {
    markers!(Perm, PERMISSION, Permission, View, Create, Update, Delete);
}

/// Proof that the principal passed the check for application `A` and permission `P`.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a, A: App, P: Perm> {
    principal: &'a Principal,
    proof: PhantomData<(A, P)>,
}

impl<'a, A: App, P: Perm> Access<'a, A, P> {
    pub fn principal(&self) -> &'a Principal {
        self.principal
    }
}

/// A principal that passed the check for application `A` and permission `P`,
/// owned: what a plain axum handler extracts (`crate::server::session::extract`)
/// and lends out as an [`Access`].
#[derive(Debug, Clone)]
pub struct Authorized<A: App, P: Perm> {
    principal: Principal,
    proof: PhantomData<(A, P)>,
}

impl<A: App, P: Perm> Authorized<A, P> {
    pub fn access(&self) -> Access<'_, A, P> {
        Access { principal: &self.principal, proof: PhantomData }
    }
}
