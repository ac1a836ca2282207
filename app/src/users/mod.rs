//! The Users application: the list, New user (which sends an invitation:
//! `crate::invitations`), editing, enabling and disabling, sessions and unlock.

#[cfg(feature = "ssr")]
pub mod bulk;
mod bulk_bar;
#[cfg(feature = "ssr")]
pub mod csv;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod import;
mod import_page;
mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use import_page::ImportUsersPage;
pub use pages::{NewUserPage, UserDetailPage, UsersPage};
pub use types::*;

use crate::domain::{RoleId, UserId};
use crate::email_queue::EmailStatus;
use crate::error::AppError;
use leptos::prelude::*;

#[app_macros::endpoint(authorized(Users, View), json)]
pub async fn list_users(query: UserQuery) -> Result<UserPage, AppError> {
    service::list(access, &state, &query).await
}

#[app_macros::endpoint(authorized(Users, View))]
pub async fn role_options() -> Result<Vec<RoleOption>, AppError> {
    service::roles(access, &state).await
}

#[app_macros::endpoint(authorized(Users, Create), json)]
pub async fn invite_user(
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    role_ids: Vec<RoleId>,
) -> Result<UserId, AppError> {
    use crate::domain::{EmailAddress, PersonName};
    let email = EmailAddress::parse(&email).map_err(AppError::Invalid)?;
    let name = PersonName::parse(first_name.as_deref().unwrap_or(""), last_name.as_deref().unwrap_or(""))
        .map_err(AppError::Invalid)?;
    service::invite(access, &state, &email, &name, &role_ids).await
}

#[app_macros::endpoint(authorized(Users, View))]
pub async fn get_user(id: UserId) -> Result<UserDetail, AppError> {
    service::detail(access, &state, id).await
}

#[app_macros::endpoint(authorized(Users, Update), json)]
pub async fn update_user(
    id: UserId,
    first_name: String,
    last_name: String,
    email: String,
    role_ids: Vec<RoleId>,
) -> Result<UpdateOutcome, AppError> {
    use crate::domain::{EmailAddress, PersonName};
    let email = EmailAddress::parse(&email).map_err(AppError::Invalid)?;
    let name = PersonName::parse(&first_name, &last_name).map_err(AppError::Invalid)?;
    let info = service::GeneralInfo { name: &name, email: &email };
    service::update(access, &state, id, &info, &role_ids).await
}

#[app_macros::endpoint(authorized(Users, Update))]
pub async fn set_user_enabled(id: UserId, enabled: bool) -> Result<(), AppError> {
    service::set_enabled(access, &state, id, enabled).await
}

#[app_macros::endpoint(authorized(Users, Update))]
pub async fn end_user_sessions(id: UserId) -> Result<u64, AppError> {
    service::end_sessions_of(access, &state, id).await
}

#[app_macros::endpoint(authorized(Users, Update))]
pub async fn unlock_user(id: UserId) -> Result<(), AppError> {
    service::unlock(access, &state, id).await
}

/// How many users a bulk selection holds now (the confirmation names it).
#[app_macros::endpoint(authorized(Users, View), json)]
pub async fn count_users(selection: BulkSelection) -> Result<u64, AppError> {
    bulk::count(access, &state, &selection).await
}

/// Start `action` on every selected user and answer at once with the job's
/// id: the server works through them in batches, each user checked against
/// the same rules as the single action (`bulk_progress` says how far it got).
#[app_macros::endpoint(authorized(Users, Update), json)]
pub async fn bulk_users(selection: BulkSelection, action: BulkAction) -> Result<i64, AppError> {
    bulk::start(access, &state, &selection, action).await
}

/// A bulk action job the caller started.
#[app_macros::endpoint(authorized(Users, View))]
pub async fn bulk_progress(id: i64) -> Result<BulkJob, AppError> {
    bulk::job(access, &state, Some(id)).await?.ok_or_else(bulk::job_gone)
}

/// The caller's latest bulk action job of the last hour, if any (the Users
/// page shows it again after the admin moved on and came back).
#[app_macros::endpoint(authorized(Users, View))]
pub async fn latest_bulk_job() -> Result<Option<BulkJob>, AppError> {
    bulk::job(access, &state, None).await
}

/// Read an uploaded file (field `file`; `add_roles` ticked or not) and say
/// what importing it would do, row by row. Nothing is written.
#[app_macros::endpoint(authorized(Users, Create), multipart)]
pub async fn review_import(data: server_fn::codec::MultipartData) -> Result<ImportReview, AppError> {
    let upload = import::read_upload(data).await?;
    import::review(access, &state, &upload).await
}

/// Import an uploaded file: the same review again (the database may have
/// changed), then the new people are invited in batches, one transaction
/// each, their invitations queued in the Email queue.
#[app_macros::endpoint(authorized(Users, Create), multipart)]
pub async fn run_import(data: server_fn::codec::MultipartData) -> Result<ImportReview, AppError> {
    let upload = import::read_upload(data).await?;
    import::run(access, &state, &upload).await
}

/// The paths of the server functions that take `multipart/form-data` (the
/// import uploads). server_fn reads their bodies by a boundary it assumes is
/// there, so the router refuses any other body for them before decoding
/// (`server/src/bodies.rs`).
#[cfg(feature = "ssr")]
pub fn upload_paths() -> [&'static str; 2] {
    use server_fn::ServerFn;
    [<ReviewImport as ServerFn>::PATH, <RunImport as ServerFn>::PATH]
}
