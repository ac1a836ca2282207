//! Reading and changing the email settings and templates. The SMTP password
//! goes in encrypted and never comes out of here: not in an answer, not in the
//! log, not in the audit log (which says only "password changed"). It is bound
//! to its server: a save that changes the host, port, security or user name
//! without typing a new one removes it, so it never goes to another server.

use super::repo;
use super::template::{self, Template, TemplateKind};
use super::types::HOW_TO_SET_KEY;
use super::types::{
    EmailServer, EmailServerInput, EmailServerSaved, PasswordChange, SettingsSource, SmtpAccount, SmtpSecurity,
    StoredSmtp, TemplateView, TestEmailOutcome,
};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{EmailAddress, Timestamp};
use crate::error::{AppError, AppResult};
use crate::mail::smtp::{self, Connections, InForce, PASSWORD_PURPOSE};
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::secret::SecretString;
use crate::server::state::AppState;
use std::time::Duration;

/// How long a test email may take before it counts as timed out.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest user name and password accepted, in characters.
const CREDENTIAL_MAX_CHARS: usize = 256;

fn can_update(p: &Principal) -> bool {
    p.can(AppId::Settings, Permission::Update)
}

pub async fn email_server(access: Access<'_, apps::Settings, perms::View>, state: &AppState) -> AppResult<EmailServer> {
    let settings = &state.settings;
    let in_force = smtp::in_force(&state.db, settings).await?;
    let mut view = EmailServer {
        source: SettingsSource::NotConfigured,
        source_detail: String::new(),
        host: String::new(),
        port: 587,
        security: SmtpSecurity::StartTls,
        username: String::new(),
        password_set: false,
        password_problem: None,
        from_name: String::new(),
        from_address: String::new(),
        encryption_key_set: settings.encryption_key.is_some(),
        configuration_has_smtp: settings.smtp_url.is_some(),
        can_update: can_update(access.principal()),
    };
    match &in_force {
        InForce::Database(row) => {
            view.source = SettingsSource::Database;
            view.source_detail = format!(
                "Saved on this page by {} on {}. These settings override the configuration file and the environment.",
                row.updated_by, row.updated_at
            );
            view.host = row.host.clone();
            view.port = u16::try_from(row.port).unwrap_or(587);
            view.security = SmtpSecurity::parse(&row.security).unwrap_or(SmtpSecurity::StartTls);
            view.username = row.username.clone();
            view.password_set = row.password_enc.is_some();
            view.password_problem = smtp::stored_password(row, settings).err();
            view.from_name = row.from_name.clone();
            view.from_address = row.from_address.clone();
        }
        InForce::Configuration | InForce::NotConfigured => {
            if let Some(s) = settings.smtp_url.as_ref().and_then(|u| smtp::summary_of_url(u.expose())) {
                view.source = SettingsSource::Configuration;
                view.source_detail = format!(
                    "From the configuration: smtp_url, set in {}. Saving this form stores settings in the database, which then override it.",
                    settings.smtp_url_source
                );
                view.host = s.host;
                view.port = s.port;
                view.security = s.security.unwrap_or(SmtpSecurity::None);
                view.username = s.username;
                // The configuration's password stays there: it is not copied by saving here.
                view.password_set = false;
            } else {
                view.source_detail = "Email sending is not configured: emails stay in the Email queue, not sent. \
                     Save an SMTP server here (or set smtp_url in the configuration)."
                    .into();
            }
            if let Ok(mailbox) = settings.mail_from.parse::<lettre::message::Mailbox>() {
                view.from_name = mailbox.name.unwrap_or_default();
                view.from_address = mailbox.email.to_string();
            }
        }
    }
    Ok(view)
}

/// A host name or address: no spaces, no scheme, at most 253 characters.
fn check_host(host: &str) -> AppResult<String> {
    let host = host.trim();
    if host.is_empty() {
        return Err(AppError::Invalid("Enter the SMTP server's host name, such as smtp.example.com.".into()));
    }
    if host.len() > 253
        || host.contains("://")
        || !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
    {
        return Err(AppError::Invalid(format!(
            "“{}” is not a host name: enter only the name or address, such as smtp.example.com (no smtp://, no port).",
            host.chars().take(80).collect::<String>()
        )));
    }
    Ok(host.to_string())
}

fn check_credential(field: &str, value: &str) -> AppResult<()> {
    if value.chars().count() > CREDENTIAL_MAX_CHARS {
        return Err(AppError::Invalid(format!("The {field} is too long (at most {CREDENTIAL_MAX_CHARS} characters).")));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::Invalid(format!("The {field} must not contain control characters such as line breaks.")));
    }
    Ok(())
}

/// The server and account a stored row's password was typed for; None if the
/// row cannot be read as one (then it counts as another server).
fn account_of(row: &StoredSmtp) -> Option<SmtpAccount<'_>> {
    Some(SmtpAccount {
        host: &row.host,
        port: u16::try_from(row.port).ok()?,
        security: SmtpSecurity::parse(&row.security)?,
        username: &row.username,
    })
}

/// The password to store: a new one, none, or the stored one, which is kept
/// only while the server stays the same (`password_removed` says when the
/// change of server dropped it).
fn password_to_store(
    change: &PasswordChange,
    sealed_new: Option<String>,
    before: Option<&StoredSmtp>,
    after: &SmtpAccount<'_>,
) -> (Option<String>, bool) {
    match change {
        PasswordChange::Set(_) => (sealed_new, false),
        PasswordChange::Remove => (None, false),
        PasswordChange::Unchanged => {
            let Some(stored) = before.and_then(|b| b.password_enc.clone()) else { return (None, false) };
            if before.and_then(account_of).is_some_and(|b| b.same_as(after)) {
                (Some(stored), false)
            } else {
                (None, true)
            }
        }
    }
}

/// What changed, for the audit log: fields before → after; the password only as "changed".
fn diff(before: Option<&StoredSmtp>, after: &StoredSmtp, password: &PasswordChange) -> String {
    let mut out = Vec::new();
    let fields = |r: &StoredSmtp| {
        [
            ("host", r.host.clone()),
            ("port", r.port.to_string()),
            ("security", r.security.clone()),
            ("user name", r.username.clone()),
            ("from name", r.from_name.clone()),
            ("from address", r.from_address.clone()),
        ]
    };
    let now = fields(after);
    match before {
        None => out.extend(now.iter().map(|(k, v)| format!("{k}: {v}"))),
        Some(b) => {
            for ((k, old), (_, new)) in fields(b).iter().zip(now.iter()) {
                if old != new {
                    out.push(format!("{k}: {old} → {new}"));
                }
            }
        }
    }
    let had_password = before.is_some_and(|b| b.password_enc.is_some());
    match password {
        PasswordChange::Set(_) => out.push("password: changed".into()),
        PasswordChange::Remove if had_password => out.push("password: removed".into()),
        PasswordChange::Unchanged if had_password && after.password_enc.is_none() => {
            out.push("password: removed because the server changed".into())
        }
        _ => {}
    }
    if out.is_empty() {
        "no change".into()
    } else {
        out.join("; ")
    }
}

pub async fn save_email_server(
    access: Access<'_, apps::Settings, perms::Update>,
    state: &AppState,
    input: EmailServerInput,
) -> AppResult<EmailServerSaved> {
    let host = check_host(&input.host)?;
    if input.port == 0 {
        return Err(AppError::Invalid("The port must be between 1 and 65535.".into()));
    }
    let username = input.username.trim().to_string();
    check_credential("user name", &username)?;
    let from_address = EmailAddress::parse(&input.from_address)
        .map_err(|e| AppError::Invalid(format!("From address: {e}")))?
        .to_string();
    let from_name = input.from_name.trim().to_string();
    crate::domain::check_person_name("From name", &from_name).map_err(AppError::Invalid)?;
    smtp::from_mailbox(&from_name, &from_address).map_err(AppError::Invalid)?;
    let sealed_new = match &input.password {
        PasswordChange::Set(p) if p.is_empty() => {
            return Err(AppError::Invalid("Type the new password, or leave the password unchanged.".into()))
        }
        PasswordChange::Set(p) => {
            check_credential("password", p)?;
            if username.is_empty() {
                return Err(AppError::Invalid(
                    "A password needs a user name: enter the user name the SMTP server knows.".into(),
                ));
            }
            let Some(key) = &state.settings.encryption_key else {
                return Err(AppError::Invalid(format!(
                    "Roster cannot store an SMTP password without an encryption key. {HOW_TO_SET_KEY}"
                )));
            };
            let sealed = key
                .encrypt(PASSWORD_PURPOSE, &SecretString::new(p.as_str()))
                .map_err(|e| AppError::internal("encrypting the SMTP password", e))?;
            Some(sealed)
        }
        _ => None,
    };
    let principal = access.principal();
    let mut tx = state.db.begin_write().await?;
    let before = repo::email_server(&mut tx).await?;
    let account = SmtpAccount { host: &host, port: input.port, security: input.security, username: &username };
    let (password_enc, password_removed) = password_to_store(&input.password, sealed_new, before.as_ref(), &account);
    let after = StoredSmtp {
        host,
        port: i64::from(input.port),
        security: input.security.key().to_string(),
        username,
        password_enc,
        from_name,
        from_address,
        updated_at: Timestamp::now(),
        updated_by: principal.email.clone(),
    };
    repo::save_email_server(&mut tx, &after).await?;
    let details = diff(before.as_ref(), &after, &input.password);
    record(&mut tx, &Actor::of(principal), Event::new(AuditAction::SettingsEmailServerSaved).details(details)).await?;
    tx.commit().await?;
    tracing::info!(
        by = principal.user_id.get(),
        host = %after.host,
        port = after.port,
        password_removed,
        "email server settings saved"
    );
    Ok(EmailServerSaved { password_removed })
}

pub async fn use_configuration(access: Access<'_, apps::Settings, perms::Update>, state: &AppState) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    let removed = repo::delete_email_server(&mut tx).await?;
    if removed == 0 {
        return Err(AppError::Conflict("No email server is saved here: the configuration is already in force.".into()));
    }
    let details = if state.settings.smtp_url.is_some() {
        "saved settings removed: smtp_url from the configuration is in force"
    } else {
        "saved settings removed: email sending is not configured"
    };
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::SettingsEmailServerRemoved).details(details),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A test email goes through the settings in force, the saved row (whose
/// password is bound to its server) or the configuration: never through values
/// typed in the form and not saved.
pub async fn send_test_email(
    access: Access<'_, apps::Settings, perms::Update>,
    state: &AppState,
    to: &EmailAddress,
) -> AppResult<TestEmailOutcome> {
    use lettre::AsyncTransport;
    let settings = &state.settings;
    let in_force = smtp::in_force(&state.db, settings).await?;
    let outcome = match smtp::sender(&in_force, settings, Connections { pool: 1, timeout: TEST_TIMEOUT }) {
        Ok(None) => {
            return Err(AppError::Invalid(
                "Email sending is not configured: save an SMTP server first, then send a test email.".into(),
            ))
        }
        Err(reason) => TestEmailOutcome::Failed { reason },
        Ok(Some(sender)) => {
            let principal = access.principal();
            let text = format!(
                "This is a test email from {site}, sent by {who} from Settings → Email server.\n\n\
                 It went out through {server}. If you can read this, {site} can send email.\n",
                site = settings.site_name,
                who = principal.email,
                server = sender.server,
            );
            let message = lettre::Message::builder()
                .from(sender.from.parse().map_err(|e| AppError::internal("test email sender", e))?)
                .to(to.as_str().parse().map_err(|_| AppError::Invalid("The address cannot receive email.".into()))?)
                .subject(format!("Test email from {}", settings.site_name))
                .body(text)
                .map_err(|e| AppError::internal("building the test email", e))?;
            // The whole attempt, connecting included, within the timeout.
            match tokio::time::timeout(TEST_TIMEOUT + Duration::from_secs(1), sender.transport.send(message)).await {
                Ok(Ok(_)) => TestEmailOutcome::Sent { to: to.to_string(), server: sender.server.clone() },
                Ok(Err(e)) => TestEmailOutcome::Failed { reason: smtp::plain_words(&e, &sender.server, TEST_TIMEOUT) },
                Err(_) => TestEmailOutcome::Failed {
                    reason: format!(
                        "Timed out after {} s: {} did not answer. Check the host, the port and any firewall.",
                        TEST_TIMEOUT.as_secs(),
                        sender.server
                    ),
                },
            }
        }
    };
    let details = match &outcome {
        TestEmailOutcome::Sent { server, .. } => format!("sent through {server}"),
        TestEmailOutcome::Failed { reason } => format!("not sent: {reason}"),
    };
    let mut tx = state.db.begin_write().await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::SettingsTestEmail).details(format!("to {to}: {details}")),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

pub async fn templates(
    access: Access<'_, apps::Settings, perms::View>,
    state: &AppState,
) -> AppResult<Vec<TemplateView>> {
    let mut conn = state.db.pool.acquire().await?;
    let mut out = Vec::new();
    for kind in TemplateKind::ALL {
        let saved = repo::template(&mut conn, kind).await?;
        out.push(TemplateView {
            kind,
            customized: saved.is_some(),
            template: saved.unwrap_or_else(|| kind.default_template()),
            can_update: can_update(access.principal()),
        });
    }
    Ok(out)
}

pub async fn save_template(
    access: Access<'_, apps::Settings, perms::Update>,
    state: &AppState,
    kind: TemplateKind,
    t: &Template,
) -> AppResult<()> {
    let problems = template::problems(kind, t);
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems.join(" ")));
    }
    let principal = access.principal();
    let mut tx = state.db.begin_write().await?;
    repo::save_template(&mut tx, kind, t, Timestamp::now(), &principal.email).await?;
    record(
        &mut tx,
        &Actor::of(principal),
        Event::new(AuditAction::SettingsEmailTemplateSaved).details(format!(
            "{}: subject “{}”",
            kind.label(),
            t.subject
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn reset_template(
    access: Access<'_, apps::Settings, perms::Update>,
    state: &AppState,
    kind: TemplateKind,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    repo::delete_template(&mut tx, kind).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::SettingsEmailTemplateReset)
            .details(format!("{}: Roster's default wording", kind.label())),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses_only() {
        assert_eq!(check_host(" smtp.example.com ").unwrap(), "smtp.example.com");
        assert!(check_host("127.0.0.1").is_ok());
        assert!(check_host("[::1]").is_ok());
        for bad in ["", "smtp://x", "a b", "x;y", "smtp.example.com/x"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_audit_diff_never_holds_the_password() {
        let row = |pw: Option<&str>| StoredSmtp {
            host: "a".into(),
            port: 25,
            security: "none".into(),
            username: "u".into(),
            password_enc: pw.map(str::to_string),
            from_name: "F".into(),
            from_address: "f@x.com".into(),
            updated_at: Timestamp::from_millis(0),
            updated_by: "x".into(),
        };
        let d = diff(Some(&row(None)), &row(Some("v1:abc")), &PasswordChange::Set("hunter2-secret".into()));
        assert_eq!(d, "password: changed");
        let mut after = row(None);
        after.port = 2525;
        assert_eq!(diff(Some(&row(None)), &after, &PasswordChange::Unchanged), "port: 25 → 2525");
        assert!(diff(None, &after, &PasswordChange::Unchanged).contains("host: a"));
        let mut moved = row(None);
        moved.host = "b".into();
        assert_eq!(
            diff(Some(&row(Some("v1:abc"))), &moved, &PasswordChange::Unchanged),
            "host: a → b; password: removed because the server changed"
        );
    }

    #[test]
    fn the_stored_password_stays_only_with_its_server() {
        let stored = StoredSmtp {
            host: "smtp.a.example".into(),
            port: 587,
            security: "starttls".into(),
            username: "mailer".into(),
            password_enc: Some("v1:sealed".into()),
            from_name: "F".into(),
            from_address: "f@x.com".into(),
            updated_at: Timestamp::from_millis(0),
            updated_by: "x".into(),
        };
        let same =
            SmtpAccount { host: "SMTP.A.example", port: 587, security: SmtpSecurity::StartTls, username: "mailer" };
        let keep = |to: SmtpAccount<'_>| password_to_store(&PasswordChange::Unchanged, None, Some(&stored), &to);
        assert_eq!(keep(same), (Some("v1:sealed".into()), false));
        for other in [
            SmtpAccount { host: "smtp.b.example", ..same },
            SmtpAccount { port: 2525, ..same },
            SmtpAccount { security: SmtpSecurity::Tls, ..same },
            SmtpAccount { username: "someone-else", ..same },
            SmtpAccount { username: "", ..same },
        ] {
            assert_eq!(keep(other), (None, true), "{other:?}");
        }
        // A new password typed with the change is stored; removing is not "removed by the change".
        let moved = SmtpAccount { host: "smtp.b.example", ..same };
        let set = PasswordChange::Set("new".into());
        assert_eq!(
            password_to_store(&set, Some("v1:new".into()), Some(&stored), &moved),
            (Some("v1:new".into()), false)
        );
        assert_eq!(password_to_store(&PasswordChange::Remove, None, Some(&stored), &same), (None, false));
        // Nothing stored: nothing to remove.
        assert_eq!(password_to_store(&PasswordChange::Unchanged, None, None, &moved), (None, false));
    }
}
