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

#[server(prefix = "/api", endpoint = "list_emails", output = crate::codec::JsonOut)]
pub async fn list_emails(status: String, before: Option<i64>) -> Result<EmailPage, AppError> {
    crate::authorized!(EmailQueue, View, |access, state| { service::list(access, &state, &status, before).await })
}

#[server(prefix = "/api", endpoint = "email_detail", output = crate::codec::JsonOut)]
pub async fn get_email(id: i64) -> Result<EmailDetail, AppError> {
    crate::authorized!(EmailQueue, View, |access, state| { service::detail(access, &state, id).await })
}

#[server(prefix = "/api", endpoint = "resend_email", output = crate::codec::JsonOut)]
pub async fn resend_email(id: i64) -> Result<(), AppError> {
    crate::authorized!(EmailQueue, Update, |access, state| { service::resend(access, &state, id).await })
}

#[server(prefix = "/api", endpoint = "delete_email", output = crate::codec::JsonOut)]
pub async fn delete_email(id: i64) -> Result<(), AppError> {
    crate::authorized!(EmailQueue, Delete, |access, state| { service::delete(access, &state, id).await })
}
