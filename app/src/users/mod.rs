//! The Users application: the list, New user (which sends an invitation:
//! `crate::invitations`), editing, enabling and disabling, sessions and unlock.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;

pub use pages::{NewUserPage, UserDetailPage, UsersPage};

use crate::email_queue::EmailStatus;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    Invited,
    InvitationExpired,
    Active,
    Disabled,
}

impl UserStatus {
    pub const ALL: [UserStatus; 4] = [Self::Active, Self::Invited, Self::InvitationExpired, Self::Disabled];
    pub fn key(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::InvitationExpired => "expired",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Invited => "Invited",
            Self::InvitationExpired => "Invitation expired",
            Self::Active => "Active",
            Self::Disabled => "Disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.key() == s)
    }
}

// The status the Users query computes (`status_sql`), read straight from its row.
#[cfg(feature = "ssr")]
crate::words_column!(UserStatus, "user status", UserStatus::parse);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub email_id: i64,
    /// Where the invitation email stands in the Email queue.
    pub state: EmailStatus,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub status: UserStatus,
    pub roles: Vec<String>,
    pub last_sign_in_at: Option<i64>,
    pub delivery: Option<Delivery>,
    /// Locked after too many failed sign-ins.
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPage {
    pub rows: Vec<UserRow>,
    /// Cursor for the next page, if there is one.
    pub next: Option<String>,
    pub smtp_configured: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserQuery {
    pub search: String,
    pub status: String,
    pub role: String,
    pub sort: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoleOption {
    pub id: i64,
    pub name: String,
    pub description: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::server::sql::Flag"))]
    pub builtin: bool,
    /// Why the caller may not give this role to anyone (None: they may).
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub refusal: Option<String>,
}

/// What saving a user's general info changed beyond the fields themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOutcome {
    /// The email changed while an invitation was pending: its link was
    /// revoked, and a new one goes to the new address only when asked.
    pub invitation_revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDetail {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub enabled: bool,
    pub status: UserStatus,
    pub role_ids: Vec<i64>,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
    pub invitation_expires_at: Option<i64>,
    pub delivery: Option<Delivery>,
    pub locked: bool,
}

#[server(prefix = "/api", endpoint = "list_users", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn list_users(query: UserQuery) -> Result<UserPage, AppError> {
    crate::authorized!(Users, View, |access, state| { service::list(access, &state, &query).await })
}

#[server(prefix = "/api", endpoint = "role_options", output = crate::codec::JsonOut)]
pub async fn role_options() -> Result<Vec<RoleOption>, AppError> {
    crate::authorized!(Users, View, |access, state| { service::roles(access, &state).await })
}

#[server(prefix = "/api", endpoint = "invite_user", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn invite_user(
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    role_ids: Vec<i64>,
) -> Result<i64, AppError> {
    use crate::domain::{EmailAddress, PersonName};
    crate::authorized!(Users, Create, |access, state| {
        let email = EmailAddress::parse(&email).map_err(AppError::Invalid)?;
        let name = PersonName::parse(first_name.as_deref().unwrap_or(""), last_name.as_deref().unwrap_or(""))
            .map_err(AppError::Invalid)?;
        service::invite(access, &state, &email, &name, &role_ids).await
    })
}

#[server(prefix = "/api", endpoint = "user_detail", output = crate::codec::JsonOut)]
pub async fn get_user(id: i64) -> Result<UserDetail, AppError> {
    crate::authorized!(Users, View, |access, state| { service::detail(access, &state, id).await })
}

#[server(prefix = "/api", endpoint = "update_user", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn update_user(
    id: i64,
    first_name: String,
    last_name: String,
    email: String,
    role_ids: Vec<i64>,
) -> Result<UpdateOutcome, AppError> {
    use crate::domain::EmailAddress;
    crate::authorized!(Users, Update, |access, state| {
        let email = EmailAddress::parse(&email).map_err(AppError::Invalid)?;
        let info = service::GeneralInfo { first_name: &first_name, last_name: &last_name, email: &email };
        service::update(access, &state, id, &info, &role_ids).await
    })
}

#[server(prefix = "/api", endpoint = "set_user_enabled", output = crate::codec::JsonOut)]
pub async fn set_user_enabled(id: i64, enabled: bool) -> Result<(), AppError> {
    crate::authorized!(Users, Update, |access, state| { service::set_enabled(access, &state, id, enabled).await })
}

#[server(prefix = "/api", endpoint = "end_user_sessions", output = crate::codec::JsonOut)]
pub async fn end_user_sessions(id: i64) -> Result<u64, AppError> {
    crate::authorized!(Users, Update, |access, state| { service::end_sessions_of(access, &state, id).await })
}

#[server(prefix = "/api", endpoint = "unlock_user", output = crate::codec::JsonOut)]
pub async fn unlock_user(id: i64) -> Result<(), AppError> {
    crate::authorized!(Users, Update, |access, state| { service::unlock(access, &state, id).await })
}
