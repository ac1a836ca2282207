//! The Email queue application: every transactional email, its status, its
//! bodies (so an invitation link can be copied when sending failed), its
//! attempts, and Resend / Delete.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::{EmailDetailPage, EmailQueuePage};
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;

#[app_macros::endpoint(authorized(EmailQueue, View))]
pub async fn list_emails(status: String, before: Option<i64>) -> Result<EmailPage, AppError> {
    service::list(access, &state, &status, before).await
}

#[app_macros::endpoint(authorized(EmailQueue, View))]
pub async fn get_email(id: i64) -> Result<EmailDetail, AppError> {
    service::detail(access, &state, id).await
}

#[app_macros::endpoint(authorized(EmailQueue, Update))]
pub async fn resend_email(id: i64) -> Result<(), AppError> {
    service::resend(access, &state, id).await
}

#[app_macros::endpoint(authorized(EmailQueue, Delete))]
pub async fn delete_email(id: i64) -> Result<(), AppError> {
    service::delete(access, &state, id).await
}
