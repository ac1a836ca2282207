//! The Settings application: the SMTP server Roster sends through (with a test
//! email that says what went wrong) and the wording of its emails (templates
//! with placeholders, a live preview, Reset to default).
//!
//! Its own application, not a tab of the Email queue: the Email queue's
//! permissions are about messages already written, while these settings decide
//! where every future email goes and what it says, password-reset links
//! included. Settings View reads them (never the SMTP password); Settings
//! Update changes them, sends test emails, and is administrator-level power.

mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
pub mod template;
pub mod types;

pub use pages::{SettingsPage, TemplateEditorPage};
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use template::Template;

#[app_macros::endpoint(authorized(Settings, View))]
pub async fn email_server_settings() -> Result<EmailServer, AppError> {
    service::email_server(access, &state).await
}

#[app_macros::endpoint(authorized(fresh Settings, Update), json)]
pub async fn save_email_server(settings: EmailServerInput) -> Result<EmailServerSaved, AppError> {
    service::save_email_server(access, &state, settings).await
}

/// Forget the saved settings: the configuration's `smtp_url` is in force again.
#[app_macros::endpoint(authorized(Settings, Update))]
pub async fn use_configured_email_server() -> Result<(), AppError> {
    service::use_configuration(access, &state).await
}

/// Send a test email now, through the settings in force (saved ones only, never
/// the form's unsaved values), and say what happened.
#[app_macros::endpoint(authorized(Settings, Update))]
pub async fn send_test_email(to: String) -> Result<TestEmailOutcome, AppError> {
    use crate::domain::EmailAddress;
    let to = EmailAddress::parse(&to).map_err(AppError::Invalid)?;
    service::send_test_email(access, &state, &to).await
}

#[app_macros::endpoint(authorized(Settings, View))]
pub async fn email_templates() -> Result<Vec<TemplateView>, AppError> {
    service::templates(access, &state).await
}

#[app_macros::endpoint(authorized(Settings, Update))]
pub async fn save_email_template(
    kind: String,
    subject: String,
    body_text: String,
    body_html: String,
) -> Result<(), AppError> {
    let kind = parse_kind(&kind)?;
    let template = Template { subject, text: body_text, html: body_html };
    service::save_template(access, &state, kind, &template).await
}

#[app_macros::endpoint(authorized(Settings, Update))]
pub async fn reset_email_template(kind: String) -> Result<(), AppError> {
    let kind = parse_kind(&kind)?;
    service::reset_template(access, &state, kind).await
}
