//! Email bodies: the template saved in Settings → Email templates (or Roster's
//! default) with this email's values put in, read inside the caller's
//! transaction, so every node uses the template saved last. Values are escaped
//! into HTML by `crate::settings::template::render`, the one place that does.

use super::OutgoingEmail;
use crate::domain::UserId;
use crate::error::AppResult;
use crate::server::state::Settings;
use crate::settings::template::{self, Template, TemplateKind};
use crate::time::format_time;
use sqlx::AnyConnection;

/// What every email knows: the site, the person, the address.
async fn common(
    conn: &mut AnyConnection,
    settings: &Settings,
    user_id: UserId,
    to: &str,
    link: &str,
) -> AppResult<Vec<(&'static str, String)>> {
    let first_name = crate::users::repo::first_name(conn, user_id).await?;
    Ok(values(settings, &first_name.unwrap_or_default(), to, link))
}

fn values(settings: &Settings, first_name: &str, to: &str, link: &str) -> Vec<(&'static str, String)> {
    vec![
        ("site_name", settings.site_name.clone()),
        ("greeting", greeting(first_name)),
        ("first_name", first_name.to_string()),
        ("email", to.to_string()),
        ("link", link.to_string()),
    ]
}

/// "Hello Laura," or, while the first name is unknown, "Hello,".
pub fn greeting(first_name: &str) -> String {
    match first_name.trim() {
        "" => "Hello,".to_string(),
        name => format!("Hello {name},"),
    }
}

/// Render `kind` with `values` into an email to `to`, from the template in force now.
async fn build(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    user_id: UserId,
    to: &str,
    values: &[(&str, String)],
) -> AppResult<OutgoingEmail> {
    InForce::load(conn, kind).await?.render(user_id, to, values)
}

/// The template of one kind in force: read once, rendered for many people
/// (the import invites hundreds in one transaction).
pub struct InForce {
    kind: TemplateKind,
    saved: Option<Template>,
}

impl InForce {
    pub async fn load(conn: &mut AnyConnection, kind: TemplateKind) -> AppResult<Self> {
        Ok(Self { kind, saved: crate::settings::repo::template(conn, kind).await? })
    }

    /// A saved template that no longer renders (it can only have been valid
    /// when saved) falls back to the default.
    fn render(&self, user_id: UserId, to: &str, values: &[(&str, String)]) -> AppResult<OutgoingEmail> {
        let kind = self.kind;
        let rendered = match &self.saved {
            Some(t) => template::render(kind, t, values).or_else(|problem| {
                tracing::error!(kind = kind.key(), %problem, "saved email template does not render: default used");
                template::render(kind, &kind.default_template(), values)
            }),
            None => template::render(kind, &kind.default_template(), values),
        }
        .map_err(|problem| crate::error::AppError::internal("default email template does not render", problem))?;
        Ok(OutgoingEmail {
            kind,
            user_id: Some(user_id),
            to: to.to_string(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        })
    }

    /// The email around a one-time link to a person whose first name is known.
    pub fn with_expiring_link(
        &self,
        settings: &Settings,
        user_id: UserId,
        to: &str,
        first_name: &str,
        link: &ExpiringLink<'_>,
    ) -> AppResult<OutgoingEmail> {
        let mut values = values(settings, first_name, to, link.url);
        link.add_to(&mut values);
        self.render(user_id, to, &values)
    }
}

/// "7 days", "1 hour": how long a link works, as people say it.
pub fn duration_words(ms: i64) -> String {
    let (n, unit) = if ms >= 86_400_000 {
        (ms / 86_400_000, "day")
    } else if ms >= 3_600_000 {
        (ms / 3_600_000, "hour")
    } else {
        ((ms / 60_000).max(1), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A one-time link and how long it works: `expires_at` (Unix ms), `valid_ms` from now.
pub struct ExpiringLink<'a> {
    pub url: &'a str,
    pub expires_at: i64,
    pub valid_ms: i64,
}

impl ExpiringLink<'_> {
    fn add_to(&self, values: &mut Vec<(&'static str, String)>) {
        values.push(("expires", format_time(self.expires_at)));
        values.push(("valid_for", duration_words(self.valid_ms)));
    }
}

/// An email of `kind` (an invitation, a password reset) around a one-time link.
pub async fn with_expiring_link(
    conn: &mut AnyConnection,
    settings: &Settings,
    kind: TemplateKind,
    user_id: UserId,
    to: &str,
    link: &ExpiringLink<'_>,
) -> AppResult<OutgoingEmail> {
    let mut values = common(conn, settings, user_id, to, link.url).await?;
    link.add_to(&mut values);
    build(conn, kind, user_id, to, &values).await
}

/// To the owner of an account that failed sign-ins just locked: what happened,
/// when it ends (`unlocks_at`, Unix ms), and the Forgot password page (`reset_link`).
pub async fn account_locked(
    conn: &mut AnyConnection,
    settings: &Settings,
    user_id: UserId,
    to: &str,
    failures: i64,
    unlocks_at: i64,
    reset_link: &str,
) -> AppResult<OutgoingEmail> {
    let mut values = common(conn, settings, user_id, to, reset_link).await?;
    values.push(("expires", format_time(unlocks_at)));
    values.push(("failures", failures.to_string()));
    build(conn, TemplateKind::AccountLocked, user_id, to, &values).await
}

/// A security notice to an account's owner: what happened (`kind`), when,
/// where from (the client's address and browser), and the page to go to if
/// it was not them ([`notice_path`]: never a token, every one asks to sign
/// in). `extra`: the values of the kind's own placeholders.
pub async fn security_notice(
    conn: &mut AnyConnection,
    settings: &Settings,
    kind: TemplateKind,
    user_id: UserId,
    to: &str,
    extra: &[(&'static str, String)],
) -> AppResult<OutgoingEmail> {
    let link = settings.link(notice_path(kind));
    let mut values = common(conn, settings, user_id, to, &link).await?;
    values.push(("time", format_time(crate::server::now_ms())));
    values.push(("from", from_where(&crate::server::session::client())));
    values.extend_from_slice(extra);
    build(conn, kind, user_id, to, &values).await
}

/// The page a security notice's link opens: the Forgot password page after a
/// password change, the Sign in page at the old address of a changed email,
/// else Account → Security.
fn notice_path(kind: TemplateKind) -> &'static str {
    match kind {
        TemplateKind::PasswordChanged => "/forgot-password",
        TemplateKind::EmailChanged => "/signin",
        _ => "/account?tab=security",
    }
}

/// "203.0.113.7 (Firefox on Windows)": where a request came from, as a notice says it.
pub fn from_where(client: &crate::server::session::ClientInfo) -> String {
    let ip = if client.ip.is_empty() { "an unknown address" } else { client.ip.as_str() };
    format!("{ip} ({})", crate::account::types::describe_browser(&client.user_agent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_queued_before_read_back_as_their_kind() {
        // `emails.kind` as it was written when these were string constants.
        for (word, kind) in [
            ("invitation", TemplateKind::Invitation),
            ("password_reset", TemplateKind::PasswordReset),
            ("account_locked", TemplateKind::AccountLocked),
            ("email_confirmation", TemplateKind::EmailConfirmation),
        ] {
            assert_eq!(TemplateKind::parse(word), Some(kind));
            assert_eq!(kind.key(), word);
        }
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_words(7 * 86_400_000), "7 days");
        assert_eq!(duration_words(3_600_000), "1 hour");
        assert_eq!(duration_words(90 * 60_000), "1 hour");
        assert_eq!(duration_words(30 * 60_000), "30 minutes");
        assert_eq!(duration_words(86_400_000), "1 day");
    }

    #[test]
    fn a_notice_says_where_from_and_links_to_no_token() {
        use crate::server::session::ClientInfo;
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        let client = ClientInfo { ip: "203.0.113.7".into(), user_agent: firefox.into() };
        assert_eq!(from_where(&client), "203.0.113.7 (Firefox on Windows)");
        assert_eq!(from_where(&ClientInfo::default()), "an unknown address (Unknown browser)");
        for kind in TemplateKind::ALL {
            assert!(!notice_path(kind).contains("/reset/") && !notice_path(kind).contains("/signup/"), "{kind:?}");
        }
    }
}
