//! Settings: the SMTP server saved in the database (used by every node's
//! worker without a restart, its password encrypted and never shown), the test
//! email that says what went wrong, and the email templates.

use crate::helpers::*;
use crate::on_both_backends;
use app::account::ChangePassword;
use app::audit::{AuditQuery, ListAudit};
use app::auth::ForgotPassword;
use app::email_queue::{EmailDetail, EmailStatus, GetEmail};
use app::invitations::{InvitationInfo, ResendInvitation};
use app::registry::{AppId, Permission};
use app::settings::{
    EmailServerInput, EmailServerSaved, EmailServerSettings, EmailTemplates, PasswordChange, ResetEmailTemplate,
    SaveEmailServer, SaveEmailTemplate, SendTestEmail, SettingsSource, SmtpSecurity, TestEmailOutcome,
    UseConfiguredEmailServer,
};
use app::users::UpdateUser;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    settings_saved_on_one_node_are_used_by_the_worker_of_another,
    test_email_succeeds_or_says_why_and_the_password_never_comes_back,
    a_node_with_another_key_cannot_read_the_password,
    a_changed_template_is_what_the_next_invitation_contains_on_another_node,
    templates_without_link_are_refused_and_names_are_escaped_in_html,
    security_notices_are_listed_and_their_saved_wording_is_sent,
    only_settings_holders_read_or_change_the_settings,
    moving_the_server_removes_the_password_so_it_never_reaches_the_new_one,
    a_new_password_typed_with_the_change_is_kept,
    changing_only_the_sender_keeps_the_password,
    a_subject_with_a_link_is_refused_for_every_kind,
);

/// base64 of 32 bytes.
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const OTHER_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
const SMTP_USER: &str = "roster-mailer";
const SMTP_PASSWORD: &str = "sink-secret-7f3a9c";

fn env(key: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    // A short lease: a node killed mid-send leaves its email to the others soon.
    let mut env =
        vec![("ROSTER_MAIL_POLL_INTERVAL", "50ms"), ("ROSTER_MAIL_RETRY_BASE", "200ms"), ("ROSTER_MAIL_LEASE", "2s")];
    if let Some(k) = key {
        env.push(("ROSTER_ENCRYPTION_KEY", k));
    }
    env
}

/// The Email server form: plain SMTP to 127.0.0.1:`port` as SMTP_USER.
fn form(port: u16, password: PasswordChange) -> EmailServerInput {
    EmailServerInput {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: SMTP_USER.into(),
        password,
        from_name: "Kbank People".into(),
        from_address: "people@kbank.example".into(),
    }
}

async fn save(admin: &mut Client, port: u16, password: PasswordChange) -> Reply<EmailServerSaved> {
    admin.send(SaveEmailServer { settings: form(port, password) }).await
}

/// The same signed-in session, talking to another node.
fn on(node: &Server, client: &Client) -> Client {
    let mut c = client.clone();
    c.base = node.base.clone();
    c
}

/// The first message the sink received for `to` (waits up to 20 s).
async fn message_to(sink: &SmtpSink, to: &str) -> Value {
    for _ in 0..400 {
        if let Some(m) = sink.messages().into_iter().find(|m| m["to"][0] == json!(to)) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no email to {to}: {:?}", sink.messages());
}

async fn newest_email(admin: &mut Client) -> EmailDetail {
    let id = admin.emails("").await[0].id;
    admin.send(GetEmail { id }).await.ok()
}

/// The kind of each email template, as its word (`PasswordChanged`).
async fn template_kinds(c: &mut Client) -> Vec<String> {
    c.send(EmailTemplates {}).await.ok().iter().map(|t| word_of(&t.kind)).collect()
}

async fn security_notices_are_listed_and_their_saved_wording_is_sent(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let kinds = template_kinds(&mut admin).await;
    for kind in ["PasswordChanged", "EmailChanged", "AuthenticatorRemoved", "PasskeyRemoved", "RecoveryCodesGenerated"]
    {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let r = admin
        .send(SaveEmailTemplate {
            kind: word("password_changed"),
            subject: "Password changed".into(),
            body_text: "Changed at {{time}} from {{from}}. Not you? {{link}}".into(),
            body_html: "<p>Changed at {{time}} from {{from}}. <a href=\"{{link}}\">Not you?</a></p>".into(),
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let since = now_ms();
    let change = ChangePassword {
        current_password: ADMIN_PASSWORD.into(),
        password: "quilted lantern ferry orbit".into(),
        password_confirmation: "quilted lantern ferry orbit".into(),
    };
    assert_eq!(admin.send(change).await.status, StatusCode::OK);
    let text = notice(&mut admin, ADMIN_EMAIL, "Password changed", "Changed at ", since).await;
    assert!(text.ends_with(&format!("Not you? {}/forgot-password", server.base)), "{text}");
}

async fn settings_saved_on_one_node_are_used_by_the_worker_of_another(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start_with_auth(SMTP_USER, SMTP_PASSWORD);
    let mut a = Server::start_with(&db, &env(Some(KEY))).await;
    let b = Server::start_with(&db, &env(Some(KEY))).await;
    let mut admin = set_up_admin(&a).await;

    // Nothing configured anywhere: an invitation waits, Not sent, on either node.
    assert_eq!(admin.invite("early@example.com", &[]).await.status, StatusCode::OK);
    let mut on_b = on(&b, &admin);
    assert_eq!(on_b.emails("").await[0].status, EmailStatus::NotSent);
    let r = on_b.send(EmailServerSettings {}).await;
    assert_eq!(r.ok().source, SettingsSource::NotConfigured, "{:?}", r.body);

    // Saved on A; A goes away; B, started before the change, sends with it.
    let r = save(&mut admin, sink.port, PasswordChange::Set(SMTP_PASSWORD.into())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    a.kill();
    let r = on_b.send(EmailServerSettings {}).await;
    let settings = r.ok();
    assert_eq!(settings.source, SettingsSource::Database, "{:?}", r.body);
    assert!(settings.source_detail.contains("override the configuration"), "{:?}", r.body);
    assert_eq!(on_b.invite("later@example.com", &[]).await.status, StatusCode::OK);
    // Both: the one that waited, and the new one.
    for to in ["early@example.com", "later@example.com"] {
        assert_eq!(message_to(&sink, to).await["from"], json!("Kbank People <people@kbank.example>"));
    }
    // The sink demands the password: B decrypted it with the shared key.
    for _ in 0..400 {
        if on_b.emails("Sent").await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(on_b.emails("Sent").await.len(), 2);

    // A change made on B now (the From name) is used by B's worker for the next email.
    let mut changed = form(sink.port, PasswordChange::Unchanged);
    changed.from_name = "Kbank HR".into();
    assert_eq!(on_b.send(SaveEmailServer { settings: changed }).await.status, StatusCode::OK);
    assert_eq!(on_b.invite("third@example.com", &[]).await.status, StatusCode::OK);
    let third = message_to(&sink, "third@example.com").await;
    assert_eq!(third["from"], json!("Kbank HR <people@kbank.example>"), "password kept: {third}");
}

async fn test_email_succeeds_or_says_why_and_the_password_never_comes_back(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start_with_auth(SMTP_USER, SMTP_PASSWORD);
    let dir = TempDir(std::env::temp_dir().join(unique("roster_log")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let log = dir.0.join("server.log");
    let mut node_env = env(Some(KEY));
    node_env.push(("ROSTER_LOG", "debug"));
    let server = Server::start_logging(&db, &node_env, Some(log.as_path())).await;
    let mut admin = set_up_admin(&server).await;
    let mut answers = Vec::new();

    let r = admin.send(SendTestEmail { to: "ops@example.com".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("not configured"), "{:?}", r.body);

    // The right password: sent, and the sink has it.
    let r = save(&mut admin, sink.port, PasswordChange::Set(SMTP_PASSWORD.into())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    answers.push(r.body);
    let r = admin.send(SendTestEmail { to: "ops@example.com".into() }).await;
    assert!(matches!(r.ok(), TestEmailOutcome::Sent { to, .. } if to == "ops@example.com"), "{:?}", r.body);
    answers.push(r.body);
    let got = sink.wait_for(1, 10).await;
    assert_eq!(got[0]["subject"], json!("Test email from Roster"));
    assert_eq!(got[0]["to"], json!(["ops@example.com"]));

    // A wrong password: the SMTP server's refusal, in plain words.
    let r = save(&mut admin, sink.port, PasswordChange::Set("not-the-sink-password".into())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(SendTestEmail { to: "ops@example.com".into() }).await;
    let TestEmailOutcome::Failed { reason } = r.ok() else { panic!("{:?}", r.body) };
    assert!(reason.starts_with("Authentication failed: the SMTP server refused the user name or password"), "{reason}");
    assert!(reason.contains("535"), "{reason}");
    answers.push(r.body);

    // A closed port: connection refused, in plain words. (Another port is
    // another server: the password is typed again with it.)
    let closed = free_port();
    let r = save(&mut admin, closed, PasswordChange::Set("not-the-sink-password".into())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(SendTestEmail { to: "ops@example.com".into() }).await;
    let TestEmailOutcome::Failed { reason } = r.ok() else { panic!("{:?}", r.body) };
    assert!(reason.starts_with("Connection refused: nothing accepts connections at 127.0.0.1:"), "{reason}");
    assert!(reason.contains(&closed.to_string()), "{reason}");
    answers.push(r.body);

    // The page says a password is saved, and nothing more.
    let r = admin.send(EmailServerSettings {}).await;
    let settings = r.ok();
    assert!(settings.password_set, "{:?}", r.body);
    assert_eq!(settings.username, SMTP_USER);
    answers.push(r.body);
    let audit = admin.send(ListAudit { query: AuditQuery::default() }).await;
    let audit_text = audit.body.to_string();
    assert!(audit_text.contains("settings.email_server_saved") && audit_text.contains("password: changed"));
    assert!(audit_text.contains("settings.test_email"), "{audit_text}");
    answers.push(audit.body);
    for (password, what) in [(SMTP_PASSWORD, "the right password"), ("not-the-sink-password", "the wrong one")] {
        for answer in &answers {
            assert!(!answer.to_string().contains(password), "{what} came back in {answer}");
        }
    }
    // At rest: encrypted, not the password.
    let sealed = "SELECT COUNT(*) FROM email_settings WHERE password_enc LIKE 'v1:%'";
    assert_eq!(scalar(&db, sealed).await, 1);
    let plain = "SELECT COUNT(*) FROM email_settings WHERE password_enc LIKE '%not-the-sink%'";
    assert_eq!(scalar(&db, plain).await, 0);
    // Never in the server's log, even at debug level (nor as AUTH PLAIN's base64).
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("email server settings saved"), "the log was written: {text}");
    for secret in [
        SMTP_PASSWORD,
        "not-the-sink-password",
        "c2luay1zZWNyZXQtN2YzYTlj",
        "AHJvc3Rlci1tYWlsZXIAc2luay1zZWNyZXQtN2YzYTlj",
    ] {
        assert!(!text.contains(secret), "{secret} in the log");
    }
}

async fn a_node_with_another_key_cannot_read_the_password(backend: Backend) {
    let db = TestDb::new(backend);
    // No key configured: the key file beside SQLite (PostgreSQL refuses to
    // start without one: the test servers get a test key).
    let first = Server::start_with(&db, &env(None)).await;
    let mut admin = set_up_admin(&first).await;
    assert!(admin.send(EmailServerSettings {}).await.ok().encryption_key_set);
    let r = save(&mut admin, 2525, PasswordChange::Set(SMTP_PASSWORD.into())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sealed = "SELECT COUNT(*) FROM email_settings WHERE password_enc LIKE 'v1:%'";
    assert_eq!(scalar(&db, sealed).await, 1);

    // A node with another key says it cannot read it.
    let other = Server::start_with(&db, &env(Some(OTHER_KEY))).await;
    let mut on_other = on(&other, &admin);
    let r = on_other.send(EmailServerSettings {}).await;
    assert!(r.ok().password_problem.unwrap().contains("another encryption key"), "{:?}", r.body);
    assert!(admin.send(EmailServerSettings {}).await.ok().password_problem.is_none());
    // Without a password, that node saves (and keeps the stored one untouched).
    let r = save(&mut on_other, 2525, PasswordChange::Unchanged).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(admin.send(EmailServerSettings {}).await.ok().password_problem.is_none());
    // Removing the saved settings puts the configuration (here: none) back in force.
    assert_eq!(admin.send(UseConfiguredEmailServer {}).await.status, StatusCode::OK);
    assert_eq!(admin.send(EmailServerSettings {}).await.ok().source, SettingsSource::NotConfigured);
}

async fn a_changed_template_is_what_the_next_invitation_contains_on_another_node(backend: Backend) {
    let db = TestDb::new(backend);
    let a = Server::start(&db).await;
    let b = Server::start(&db).await;
    let mut admin = set_up_admin(&a).await;
    let r = admin
        .send(SaveEmailTemplate {
            kind: word("invitation"),
            subject: "Welcome aboard {{ site_name }}".into(),
            body_text: "Hi! Your Kbank account is ready: {{link}}\nIt works until {{expires}}.\n".into(),
            body_html: "<p>Hi! <a href=\"{{link}}\">Open your Kbank account</a></p>".into(),
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let mut on_b = on(&b, &admin);
    let list = on_b.send(EmailTemplates {}).await.ok();
    let invitation = list.into_iter().find(|t| word_of(&t.kind) == "Invitation").unwrap();
    assert!(invitation.customized);
    assert_eq!(on_b.invite("welcome@example.com", &[]).await.status, StatusCode::OK);
    let d = newest_email(&mut on_b).await;
    assert_eq!(d.row.subject, "Welcome aboard Roster");
    let text = d.body_text.as_str();
    assert!(text.starts_with("Hi! Your Kbank account is ready: http"), "{text}");
    assert!(text.contains("/signup/") && text.contains("It works until 20"), "{text}");
    assert!(d.body_html.contains(">Open your Kbank account</a>"));
    // The link in the new wording works.
    let token = token_of(&signup_link(text));
    let r = b.client().send(InvitationInfo { token: token.to_string() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Reset to default on B: A's next invitation has Roster's wording again.
    assert_eq!(on_b.send(ResetEmailTemplate { kind: word("invitation") }).await.status, StatusCode::OK);
    assert_eq!(admin.invite("default@example.com", &[]).await.status, StatusCode::OK);
    let d = newest_email(&mut admin).await;
    assert_eq!(d.row.subject, "You have been invited to join Roster");
    assert!(d.body_text.contains("expires in 7 days ("), "{d:?}");
}

async fn templates_without_link_are_refused_and_names_are_escaped_in_html(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let refused = |body_text: &str, body_html: &str, subject: &str| SaveEmailTemplate {
        kind: word("invitation"),
        subject: subject.into(),
        body_text: body_text.into(),
        body_html: body_html.into(),
    };
    let r = admin.send(refused("Welcome, no link here.", "<a href=\"{{link}}\">x</a>", "Hello")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("The plain text must contain {{link}}"), "{:?}", r.body);
    let r = admin.send(refused("{{link}}", "<p>no link</p>", "Hello")).await;
    assert!(r.body.to_string().contains("The HTML must contain {{link}}"), "{:?}", r.body);
    let r = admin.send(refused("{{link}}", "{{link}}", "Hello {{frist_name}}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("{{frist_name}} is not a placeholder"), "{:?}", r.body);
    let r = admin
        .send(SaveEmailTemplate {
            kind: "nonsense".into(),
            subject: "x".into(),
            body_text: "{{link}}".into(),
            body_html: "{{link}}".into(),
        })
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM email_templates").await, 0, "nothing saved");

    let r = admin
        .send(refused(
            "Hello {{first_name}}, {{link}}",
            "<p>Hello {{first_name}}</p><a href=\"{{link}}\">Join</a>",
            "Hi {{first_name}}",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = admin.invite("eve@example.com", &[]).await.ok();
    let r = admin
        .send(UpdateUser {
            id,
            first_name: "<b>Eve</b> & \"Co\"".into(),
            last_name: String::new(),
            email: "eve@example.com".into(),
            role_ids: vec![],
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(admin.send(ResendInvitation { id }).await.status, StatusCode::OK);
    let d = newest_email(&mut admin).await;
    let html = &d.body_html;
    assert!(html.contains("<p>Hello &lt;b&gt;Eve&lt;/b&gt; &amp; &quot;Co&quot;</p>"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(d.body_text.starts_with("Hello <b>Eve</b> & \"Co\", http"), "{d:?}");
    assert_eq!(d.row.subject, "Hi <b>Eve</b> & \"Co\"");
}

async fn only_settings_holders_read_or_change_the_settings(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, &env(Some(KEY))).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(save(&mut admin, 2525, PasswordChange::Set(SMTP_PASSWORD.into())).await.status, StatusCode::OK);
    let viewers = create_role(&mut admin, "Settings viewers", &[(AppId::Settings, Permission::View)]).await;
    let queue = create_role(
        &mut admin,
        "Queue managers",
        &[(AppId::EmailQueue, Permission::Update), (AppId::EmailQueue, Permission::Delete)],
    )
    .await;
    let mut viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;
    let mut manager = add_user(&mut admin, &server, "queue@example.com", &[queue]).await;

    // Settings View reads (never the password) and changes nothing.
    let r = viewer.send(EmailServerSettings {}).await;
    let settings = r.ok();
    assert_eq!((settings.can_update, settings.password_set), (false, true));
    assert!(!r.body.to_string().contains(SMTP_PASSWORD));
    assert_eq!(viewer.send(EmailTemplates {}).await.status, StatusCode::OK);
    let template = SaveEmailTemplate {
        kind: word("invitation"),
        subject: "x".into(),
        body_text: "{{link}}".into(),
        body_html: "{{link}}".into(),
    };
    let edits = [
        ("send_test_email", viewer.send(SendTestEmail { to: "viewer@example.com".into() }).await.untyped()),
        ("save_email_template", viewer.send(template).await.untyped()),
        ("reset_email_template", viewer.send(ResetEmailTemplate { kind: word("invitation") }).await.untyped()),
        ("use_configured_email_server", viewer.send(UseConfiguredEmailServer {}).await.untyped()),
    ];
    for (endpoint, r) in &edits {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}");
    }
    assert_eq!(save(&mut viewer, 25, PasswordChange::Unchanged).await.status, StatusCode::FORBIDDEN);
    // Managing the Email queue gives no access to where mail goes or what it says.
    let reads = [
        ("email_server_settings", manager.send(EmailServerSettings {}).await.untyped()),
        ("email_templates", manager.send(EmailTemplates {}).await.untyped()),
    ];
    for (endpoint, r) in &reads {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}");
    }
    assert_eq!(manager.get("/settings").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(save(&mut manager, 25, PasswordChange::Unchanged).await.status, StatusCode::FORBIDDEN);
    assert!(admin.send(EmailServerSettings {}).await.ok().can_update);
}

// ---- the SMTP password is bound to its server ------------------------------------

/// Send a test email to ops@example.com; what happened.
async fn test_email(admin: &mut Client) -> TestEmailOutcome {
    admin.send(SendTestEmail { to: "ops@example.com".into() }).await.ok()
}

/// The passwords a sink was offered in AUTH, accepted or not.
fn offered(sink: &SmtpSink) -> Vec<String> {
    sink.auth_attempts().iter().filter_map(|a| a["password"].as_str().map(str::to_string)).collect()
}

async fn password_set(admin: &mut Client) -> bool {
    admin.send(EmailServerSettings {}).await.ok().password_set
}

async fn moving_the_server_removes_the_password_so_it_never_reaches_the_new_one(backend: Backend) {
    let db = TestDb::new(backend);
    let a = SmtpSink::start_with_auth(SMTP_USER, SMTP_PASSWORD);
    let b = SmtpSink::start_with_auth(SMTP_USER, "the-b-password");
    let server = Server::start_with(&db, &env(Some(KEY))).await;
    let mut admin = set_up_admin(&server).await;

    // Host A with its password: the test email signs in to A with it.
    let r = save(&mut admin, a.port, PasswordChange::Set(SMTP_PASSWORD.into())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(matches!(test_email(&mut admin).await, TestEmailOutcome::Sent { .. }));
    assert_eq!(offered(&a), [SMTP_PASSWORD]);

    // Moved to B with the password left "unchanged", then Send test email: no AUTH carries A's password to B.
    let moved = save(&mut admin, b.port, PasswordChange::Unchanged).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let outcome = test_email(&mut admin).await;
    assert!(!offered(&b).contains(&SMTP_PASSWORD.to_string()), "A's password reached B: {:?}", b.auth_attempts());
    // B demands AUTH: without a password the email is not sent.
    assert!(matches!(outcome, TestEmailOutcome::Failed { .. }), "{outcome:?}");
    assert_eq!(b.messages().len(), 0);

    // The stored password was removed in the same save, and the answer and the settings say so.
    assert!(moved.ok().password_removed, "{:?}", moved.body);
    assert!(!password_set(&mut admin).await);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM email_settings WHERE password_enc IS NOT NULL").await, 0);

    // The audit log says why the password went.
    let saved = audit_entries(&mut admin, "settings.email_server_saved").await;
    let entry = serde_json::to_string(&saved[0]).unwrap();
    assert!(entry.contains("password: removed because the server changed"), "{:?}", saved[0]);

    // Each of host, port, security and user name is "another server".
    let a_port = a.port;
    type Change = Box<dyn Fn(&mut EmailServerInput)>;
    let changes: [(&str, Change); 4] = [
        ("host", Box::new(|s| s.host = "localhost".into())),
        ("port", Box::new(move |s| s.port = a_port)),
        ("security", Box::new(|s| s.security = SmtpSecurity::StartTls)),
        ("username", Box::new(|s| s.username = "someone-else".into())),
    ];
    for (field, change) in changes {
        let r = save(&mut admin, b.port, PasswordChange::Set("the-b-password".into())).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let mut moved = form(b.port, PasswordChange::Unchanged);
        change(&mut moved);
        let r = admin.send(SaveEmailServer { settings: moved }).await;
        assert!(r.ok().password_removed, "{field}: {:?}", r.body);
        assert!(!password_set(&mut admin).await, "{field}");
    }
}

async fn a_new_password_typed_with_the_change_is_kept(backend: Backend) {
    let db = TestDb::new(backend);
    let a = SmtpSink::start_with_auth(SMTP_USER, SMTP_PASSWORD);
    let b = SmtpSink::start_with_auth(SMTP_USER, "the-b-password");
    let server = Server::start_with(&db, &env(Some(KEY))).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(save(&mut admin, a.port, PasswordChange::Set(SMTP_PASSWORD.into())).await.status, StatusCode::OK);

    let r = save(&mut admin, b.port, PasswordChange::Set("the-b-password".into())).await;
    assert!(!r.ok().password_removed, "{:?}", r.body);
    assert!(password_set(&mut admin).await);
    let sent = test_email(&mut admin).await;
    assert!(
        matches!(&sent, TestEmailOutcome::Sent { server, .. } if server.ends_with(&b.port.to_string())),
        "{sent:?}"
    );
    assert_eq!(offered(&b), ["the-b-password"], "only B's own password reached B");
    assert_eq!(b.wait_for(1, 10).await[0]["subject"], json!("Test email from Roster"));
}

async fn changing_only_the_sender_keeps_the_password(backend: Backend) {
    let db = TestDb::new(backend);
    let a = SmtpSink::start_with_auth(SMTP_USER, SMTP_PASSWORD);
    let server = Server::start_with(&db, &env(Some(KEY))).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(save(&mut admin, a.port, PasswordChange::Set(SMTP_PASSWORD.into())).await.status, StatusCode::OK);

    // The From name and address are not the server: the password stays.
    let mut changed = form(a.port, PasswordChange::Unchanged);
    changed.from_name = "Kbank HR".into();
    changed.from_address = "hr@kbank.example".into();
    // Spaces around the host and user name are trimmed on saving: still the same server.
    changed.host = " 127.0.0.1 ".into();
    changed.username = format!("{SMTP_USER} ");
    let r = admin.send(SaveEmailServer { settings: changed }).await;
    assert!(!r.ok().password_removed, "{:?}", r.body);
    assert!(password_set(&mut admin).await);
    assert!(matches!(test_email(&mut admin).await, TestEmailOutcome::Sent { .. }));
    assert_eq!(a.wait_for(1, 10).await[0]["from"], json!("Kbank HR <hr@kbank.example>"));
    assert!(a.auth_attempts().iter().all(|t| t["success"] == json!(true)), "{:?}", a.auth_attempts());
}

// ---- no tokens in subjects ---------------------------------------------------------

async fn a_subject_with_a_link_is_refused_for_every_kind(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let kinds = template_kinds(&mut admin).await;
    assert_eq!(kinds.len(), 13, "{kinds:?}");
    for kind in [
        "invitation",
        "password_reset",
        "account_locked",
        "password_changed",
        "email_changed",
        "authenticator_added",
        "authenticator_removed",
        "passkey_added",
        "passkey_removed",
        "recovery_codes_generated",
        "recovery_code_used",
        "two_factor_reset",
        "email_confirmation",
    ] {
        for subject in ["Reset: {{link}}", "{{ link }} for {{first_name}}"] {
            let r = admin
                .send(SaveEmailTemplate {
                    kind: word(kind),
                    subject: subject.to_string(),
                    body_text: "{{link}}".into(),
                    body_html: "{{link}}".into(),
                })
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}: {:?}", r.body);
            assert!(r.body.to_string().contains("The subject must not contain {{link}}"), "{kind}: {:?}", r.body);
        }
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM email_templates").await, 0, "nothing saved");

    // A template saved before this rule (here by SQL) is not used: the reset email takes the default wording.
    let inserted = execute_sql(
        &db,
        "INSERT INTO email_templates (kind, subject, body_text, body_html, updated_at, updated_by) \
         VALUES ('password_reset', $1, $2, $3, 0, 'older-roster')",
        &["Reset: {{link}}", "Open {{link}}", "<a href=\"{{link}}\">Open</a>"],
    )
    .await;
    assert_eq!(inserted, 1);
    assert_eq!(server.client().send(ForgotPassword { email: ADMIN_EMAIL.into() }).await.status, StatusCode::OK);
    // The reset email is queued after the answer, in the background.
    let queued = "SELECT COUNT(*) FROM emails WHERE kind = 'password_reset'";
    for _ in 0..400 {
        if scalar(&db, queued).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let stored = scalar_text(&db, "SELECT subject FROM emails WHERE kind = 'password_reset'").await.unwrap();
    assert_eq!(stored, "Reset your Roster password");
}
