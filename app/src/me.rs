//! The signed-in user as the pages see them, loaded once per page by the
//! shell (`crate::shell::Shell`, from `crate::auth::me`) and shared with every
//! page in it.

use crate::domain::UserId;
use crate::error::AppError;
use crate::registry::{AppId, Permission};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the shell needs to know about the signed-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub is_admin: bool,
    /// Applications the user may open, in registry order.
    pub apps: Vec<AppId>,
    /// Every (application, permission) the user holds, so pages can hide or
    /// disable what the server would refuse anyway.
    pub grants: Vec<(AppId, Permission)>,
    /// A role requires a second factor and none is set up: only Account →
    /// Security (and Sign out) works until one is.
    pub two_factor_setup_owed: bool,
}

impl SignedInUser {
    pub fn can(&self, app: AppId, permission: Permission) -> bool {
        self.is_admin || self.grants.contains(&(app, permission))
    }
}

/// The signed-in user, loaded once per page and shared with every page in the shell.
pub type MeResource = Resource<Result<Option<SignedInUser>, AppError>>;
