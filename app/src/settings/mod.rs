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
pub mod service;
pub mod template;
pub mod types;

pub use pages::{SettingsPage, TemplateEditorPage};
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use template::Template;

#[server(prefix = "/api", endpoint = "email_server_settings", output = crate::codec::JsonOut)]
pub async fn email_server_settings() -> Result<EmailServer, AppError> {
    crate::authorized!(Settings, View, |access, state| { service::email_server(access, &state).await })
}

#[server(prefix = "/api", endpoint = "save_email_server", output = crate::codec::JsonOut, input = server_fn::codec::Json)]
pub async fn save_email_server(settings: EmailServerInput) -> Result<EmailServerSaved, AppError> {
    crate::authorized!(fresh Settings, Update, |access, state| { service::save_email_server(access, &state, settings).await })
}

/// Forget the saved settings: the configuration's `smtp_url` is in force again.
#[server(prefix = "/api", endpoint = "use_configured_email_server", output = crate::codec::JsonOut)]
pub async fn use_configured_email_server() -> Result<(), AppError> {
    crate::authorized!(Settings, Update, |access, state| { service::use_configuration(access, &state).await })
}

/// Send a test email now, through the settings in force (saved ones only, never
/// the form's unsaved values), and say what happened.
#[server(prefix = "/api", endpoint = "send_test_email", output = crate::codec::JsonOut)]
pub async fn send_test_email(to: String) -> Result<TestEmailOutcome, AppError> {
    use crate::domain::EmailAddress;
    crate::authorized!(Settings, Update, |access, state| {
        let to = EmailAddress::parse(&to).map_err(AppError::Invalid)?;
        service::send_test_email(access, &state, &to).await
    })
}

#[server(prefix = "/api", endpoint = "email_templates", output = crate::codec::JsonOut)]
pub async fn email_templates() -> Result<Vec<TemplateView>, AppError> {
    crate::authorized!(Settings, View, |access, state| { service::templates(access, &state).await })
}

#[server(prefix = "/api", endpoint = "save_email_template", output = crate::codec::JsonOut)]
pub async fn save_email_template(
    kind: String,
    subject: String,
    body_text: String,
    body_html: String,
) -> Result<(), AppError> {
    crate::authorized!(Settings, Update, |access, state| {
        let kind = parse_kind(&kind)?;
        let template = Template { subject, text: body_text, html: body_html };
        service::save_template(access, &state, kind, &template).await
    })
}

#[server(prefix = "/api", endpoint = "reset_email_template", output = crate::codec::JsonOut)]
pub async fn reset_email_template(kind: String) -> Result<(), AppError> {
    crate::authorized!(Settings, Update, |access, state| {
        let kind = parse_kind(&kind)?;
        service::reset_template(access, &state, kind).await
    })
}
