//! The Email queue and the outbox behind it: delivery, retries, crashes and
//! purging against a real SMTP server; what its readers may see of the links
//! in an email; who may delete or resend a password-reset email.

use crate::helpers::*;
use crate::on_both_backends;
use app::auth::{ForgotPassword, ResetPassword};
use app::email_queue::{DeleteEmail, EmailDetail, EmailRow, EmailStatus, GetEmail, ListEmails, ResendEmail};
use app::invitations::InvitationInfo;
use app::registry::{AppId, Permission};
use app::users::{GetUser, ListUsers, SetUserEnabled, UpdateUser, UserQuery, UserStatus};
use reqwest::StatusCode;
use std::collections::HashSet;
use std::time::Duration;

on_both_backends!(
    without_smtp_mail_stays_queued_with_its_link_visible,
    smtp_down_mail_is_retried_then_delivered_once,
    after_the_last_attempt_mail_is_failed_and_resend_delivers_it,
    crash_mid_send_loses_nothing,
    sent_mail_is_purged_after_the_retention_period,
    a_large_purge_takes_only_old_sent_mail,
    reset_links_are_never_shown_and_invitation_links_only_to_who_could_send_them,
    only_an_administrator_deletes_or_resends_an_unsent_reset_email,
    token_links_in_a_stored_subject_are_masked_in_the_list_and_the_detail,
    an_unknown_status_in_the_database_is_an_error_not_a_default,
);

const RESET_SUBJECT: &str = "Reset your Roster password";

/// Every `/reset/…` or `/signup/…` in `body`, with what follows the path up to
/// the end of the token characters.
fn links(body: &str, path: &str) -> Vec<String> {
    body.match_indices(path)
        .map(|(at, _)| {
            body[at + path.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '•')
                .collect()
        })
        .collect()
}

/// A live token is 43 base64url characters; a masked one is `••••••`.
/// The plain text and HTML bodies of an email, by name.
fn bodies(detail: &EmailDetail) -> [(&str, &str); 2] {
    [("body_text", &detail.body_text), ("body_html", &detail.body_html)]
}

fn assert_masked(detail: &EmailDetail, path: &str) {
    for (part, body) in bodies(detail) {
        let found = links(body, path);
        assert!(!found.is_empty(), "{part} still mentions {path}: {body}");
        assert!(found.iter().all(|t| t == "••••••"), "{part} shows a live {path} token: {found:?}");
    }
    assert!(detail.links_hidden.as_deref().is_some_and(|why| why.contains("hidden")), "{detail:?}");
}

fn assert_shown(detail: &EmailDetail, path: &str) {
    for (part, body) in bodies(detail) {
        let found = links(body, path);
        assert!(!found.is_empty() && found.iter().all(|t| t.len() == 43), "{part}: {found:?}");
    }
    assert_eq!(detail.links_hidden, None, "{detail:?}");
}

async fn email_id(admin: &mut Client, to: &str, subject_part: &str) -> i64 {
    for _ in 0..200 {
        let found = admin.emails("").await.into_iter().find(|e| e.to == to && e.subject.contains(subject_part));
        if let Some(e) = found {
            return e.id;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no email to {to} about {subject_part}");
}

async fn detail(c: &mut Client, id: i64) -> EmailDetail {
    c.send(GetEmail { id }).await.ok()
}

async fn reset_links_are_never_shown_and_invitation_links_only_to_who_could_send_them(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    // The seed's Digital Channel Manager, and someone who may invite with what they hold.
    let manager_role = create_role(
        &mut admin,
        "Digital Channel Manager",
        &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)],
    )
    .await;
    let inviter_role = create_role(
        &mut admin,
        "Inviter",
        &[(AppId::Users, Permission::View), (AppId::Users, Permission::Create), (AppId::EmailQueue, Permission::View)],
    )
    .await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;
    let mut inviter = add_user(&mut admin, &server, "inviter@example.com", &[inviter_role]).await;

    // Anyone asks for the administrator's reset; its link is shown to nobody.
    let r = server.client().send(ForgotPassword { email: ADMIN_EMAIL.into() }).await;
    assert_eq!(r.status, StatusCode::OK);
    let reset = email_id(&mut admin, ADMIN_EMAIL, RESET_SUBJECT).await;
    for reader in [&mut manager, &mut inviter, &mut admin] {
        assert_masked(&detail(reader, reset).await, "/reset/");
    }
    let list = manager.send(ListEmails { status: String::new(), before: None }).await;
    assert!(links(&list.body.to_string(), "/reset/").iter().all(|t| t.is_empty()), "{:?}", list.body);

    // An invitation that carries the Administrator role: only an administrator sees its link.
    let r = admin.invite("new-admin@example.com", &[admin_role]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let admin_invite = email_id(&mut admin, "new-admin@example.com", "invited").await;
    assert_shown(&detail(&mut admin, admin_invite).await, "/signup/");
    assert_masked(&detail(&mut manager, admin_invite).await, "/signup/");
    assert_masked(&detail(&mut inviter, admin_invite).await, "/signup/");

    // An invitation the inviter could have sent (roles they hold): they see it, the manager does not.
    let r = admin.invite("plain@example.com", &[manager_role]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let plain_invite = email_id(&mut admin, "plain@example.com", "invited").await;
    assert_shown(&detail(&mut inviter, plain_invite).await, "/signup/");
    assert_masked(&detail(&mut manager, plain_invite).await, "/signup/");

    // The chain from the issue fails: nothing the manager read resets the administrator's password.
    let seen = detail(&mut manager, reset).await;
    for token in links(&seen.body_text, "/reset/") {
        let r = server
            .client()
            .send(ResetPassword { token: token.to_string(), password: "x".into(), password_confirmation: "x".into() })
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    }
    assert_eq!(server.client().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);
}

/// The row of email `id` in `reader`'s Email queue list.
async fn listed(reader: &mut Client, id: i64) -> EmailRow {
    let r = reader.send(ListEmails { status: String::new(), before: None }).await;
    r.ok().rows.into_iter().find(|e| e.id == id).unwrap()
}

/// Put `subject` + the link in the stored plain text of email `id` into its
/// subject, as a template from before the rule (or SQL access) could have.
/// Returns the link's live token.
async fn link_into_subject(db: &TestDb, id: i64, subject: &str) -> String {
    let body = scalar_text(db, &format!("SELECT body_text FROM emails WHERE id = {id}")).await.unwrap();
    let link = signup_link(&body);
    let token = token_of(&link);
    assert_eq!(token.len(), 43, "a live token: {link}");
    let (sql, subject) = (format!("UPDATE emails SET subject = $1 WHERE id = {id}"), format!("{subject}{link}"));
    assert_eq!(execute_sql(db, &sql, &[&subject]).await, 1);
    token
}

async fn token_links_in_a_stored_subject_are_masked_in_the_list_and_the_detail(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let manager_role = create_role(
        &mut admin,
        "Digital Channel Manager",
        &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)],
    )
    .await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;

    // The administrator's reset email, its live link in the subject: masked for the viewer and the administrator.
    assert_eq!(server.client().send(ForgotPassword { email: ADMIN_EMAIL.into() }).await.status, StatusCode::OK);
    let reset = email_id(&mut admin, ADMIN_EMAIL, RESET_SUBJECT).await;
    let token = link_into_subject(&db, reset, "Reset: ").await;
    for reader in [&mut manager, &mut admin] {
        let row = listed(reader, reset).await;
        let subject = &row.subject;
        assert!(subject.starts_with("Reset: http") && subject.ends_with("/reset/••••••"), "{row:?}");
        let list = reader.send(ListEmails { status: String::new(), before: None }).await;
        assert!(!list.body.to_string().contains(&token), "the live token is in the list: {:?}", list.body);
        let d = reader.send(GetEmail { id: reset }).await;
        assert!(!d.body.to_string().contains(&token), "the live token is in the detail: {:?}", d.body);
        let d = d.ok();
        assert_eq!(&d.row.subject, subject, "{d:?}");
        assert_masked(&d, "/reset/");
    }

    // An invitation carrying the Administrator role, its link in the subject: the
    // body's rule holds for the subject too (the administrator sees it, the viewer does not).
    assert_eq!(admin.invite("new-admin@example.com", &[admin_role]).await.status, StatusCode::OK);
    let invite = email_id(&mut admin, "new-admin@example.com", "invited").await;
    let token = link_into_subject(&db, invite, "Join: ").await;
    let row = listed(&mut manager, invite).await;
    assert!(row.subject.ends_with("/signup/••••••"), "{row:?}");
    let d = manager.send(GetEmail { id: invite }).await;
    assert!(d.ok().row.subject.ends_with("/signup/••••••"), "{:?}", d.body);
    assert!(
        !d.body.to_string().contains(&token)
            && !manager
                .send(ListEmails { status: String::new(), before: None })
                .await
                .body
                .to_string()
                .contains(&token)
    );
    assert!(listed(&mut admin, invite).await.subject.ends_with(&token));
    assert!(detail(&mut admin, invite).await.row.subject.ends_with(&token));
}

async fn only_an_administrator_deletes_or_resends_an_unsent_reset_email(backend: Backend) {
    let db = TestDb::new(backend);
    let mut sink = SmtpSink::start();
    sink.restart(true); // every message refused: emails end Failed after one attempt
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_MAX_ATTEMPTS".into(), "1".into()));
    let server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    let keeper_role = create_role(
        &mut admin,
        "Mail keeper",
        &[
            (AppId::Users, Permission::View),
            (AppId::EmailQueue, Permission::View),
            (AppId::EmailQueue, Permission::Update),
            (AppId::EmailQueue, Permission::Delete),
        ],
    )
    .await;
    // The keeper signs up from a link only the administrator can read.
    let mut keeper = add_user(&mut admin, &server, "keeper@example.com", &[keeper_role]).await;
    assert_eq!(server.client().send(ForgotPassword { email: ADMIN_EMAIL.into() }).await.status, StatusCode::OK);
    let reset = email_id(&mut admin, ADMIN_EMAIL, RESET_SUBJECT).await;
    for _ in 0..400 {
        if detail(&mut admin, reset).await.row.status == EmailStatus::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(detail(&mut admin, reset).await.row.status, EmailStatus::Failed);

    let refused = [
        ("delete_email", keeper.send(DeleteEmail { id: reset }).await),
        ("resend_email", keeper.send(ResendEmail { id: reset }).await),
    ];
    for (endpoint, r) in refused {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}: {:?}", r.body);
        assert!(r.body.to_string().contains("Only a Global administrator"), "{endpoint}: {:?}", r.body);
    }
    assert_eq!(detail(&mut admin, reset).await.row.status, EmailStatus::Failed, "untouched");

    // Other emails stay the keeper's to manage; the administrator may do both.
    let invite = email_id(&mut admin, "keeper@example.com", "invited").await;
    let r = keeper.send(DeleteEmail { id: invite }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(ResendEmail { id: reset }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(DeleteEmail { id: reset }).await;
    assert!(r.status == StatusCode::OK || r.status == StatusCode::CONFLICT, "{:?}", r.body);
}

// ---- delivery ---------------------------------------------------------------------

async fn without_smtp_mail_stays_queued_with_its_link_visible(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let r = admin.invite("nosmtp@example.com", &[]).await;
    let user_id = r.ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = admin.emails("").await;
    assert_eq!(rows[0].status, EmailStatus::NotSent);
    assert_eq!(rows[0].last_error.as_deref(), Some("Not sent: email sending is not configured"));
    let d = detail(&mut admin, rows[0].id).await;
    let link = signup_link(&d.body_text);
    assert!(d.body_html.contains(&link));
    let mut anon = server.client();
    assert_eq!(anon.send(InvitationInfo { token: token_of(&link).to_string() }).await.ok().email, "nosmtp@example.com");
    let list = admin.send(ListUsers { query: UserQuery { search: "nosmtp".into(), ..Default::default() } }).await.ok();
    assert!(!list.smtp_configured);
    assert_eq!(list.rows[0].delivery.as_ref().unwrap().state, EmailStatus::NotSent);
    let d = admin.send(GetUser { id: user_id }).await;
    assert_eq!(d.ok().status, UserStatus::Invited);
    // Disabling shows Disabled; enabling again or editing keeps them Invited.
    admin.send(SetUserEnabled { id: user_id, enabled: false }).await;
    assert_eq!(admin.send(GetUser { id: user_id }).await.ok().status, UserStatus::Disabled);
    admin.send(SetUserEnabled { id: user_id, enabled: true }).await;
    let edit = UpdateUser {
        id: user_id,
        first_name: "No".into(),
        last_name: "Smtp".into(),
        email: "nosmtp@example.com".into(),
        role_ids: vec![],
    };
    assert_eq!(admin.send(edit).await.status, StatusCode::OK);
    assert_eq!(admin.send(GetUser { id: user_id }).await.ok().status, UserStatus::Invited);
}

async fn smtp_down_mail_is_retried_then_delivered_once(backend: Backend) {
    let db = TestDb::new(backend);
    let mut sink = SmtpSink::start();
    sink.stop();
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_RETRY_BASE".into(), "300ms".into()));
    let server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    for i in 0..3 {
        assert_eq!(admin.invite(&format!("down{i}@example.com"), &[]).await.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = admin.emails("").await;
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_ne!(r.status, EmailStatus::Sent);
        assert!(r.attempts >= 1, "{r:?}");
        assert!(r.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{r:?}");
    }
    sink.restart(false);
    let mail = sink.wait_for(3, 30).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mail_after = sink.messages();
    assert_eq!(mail_after.len(), 3, "each exactly once: {mail:?}");
    let ids: HashSet<_> = mail_after.iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3);
    assert!(admin.emails("").await.iter().all(|r| r.status == EmailStatus::Sent));
}

async fn after_the_last_attempt_mail_is_failed_and_resend_delivers_it(backend: Backend) {
    let db = TestDb::new(backend);
    let mut sink = SmtpSink::start();
    sink.restart(true);
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_MAX_ATTEMPTS".into(), "3".into()));
    env.push(("ROSTER_MAIL_RETRY_BASE".into(), "100ms".into()));
    let server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    admin.invite("fail@example.com", &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let failed: EmailRow = loop {
        let rows = admin.emails("failed").await;
        if let Some(r) = rows.first() {
            break r.clone();
        }
        assert!(std::time::Instant::now() < deadline, "never marked Failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed.attempts, 3);
    assert!(failed.last_error.as_deref().unwrap().contains("550"), "{failed:?}");
    let id = failed.id;
    let d = detail(&mut admin, id).await;
    assert_eq!(d.attempts.len(), 3);
    assert_eq!(sink.messages().len(), 0);

    sink.restart(false);
    let r = admin.send(ResendEmail { id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    sink.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    // Queued mail cannot be "resent" again until it is sent or failed; delete works.
    let r = admin.send(DeleteEmail { id }).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(admin.emails("").await.is_empty());
}

async fn crash_mid_send_loses_nothing(backend: Backend) {
    const N: usize = 1000;
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    // Queue the invitations with sending off, so the crash can come mid-send.
    let mut quiet = Server::start(&db).await;
    let admin = set_up_admin(&quiet).await;
    invite_many(&admin, "bulk", N).await;
    quiet.kill();
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM emails WHERE status = 'queued'").await, N as i64);

    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_LEASE".into(), "2s".into()));
    let mut sender = Server::start_with(&db, &as_refs(&env)).await;
    sink.wait_for(N / 5, 60).await;
    sender.kill(); // SIGKILL mid-send
    let at_kill = sink.messages().len();
    let in_flight = scalar(&db, "SELECT COUNT(*) FROM emails WHERE status = 'sending'").await as usize;
    assert!(at_kill < N, "the kill came before everything was sent ({at_kill})");

    let _restarted = Server::start_with(&db, &as_refs(&env)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let distinct: HashSet<String> =
            sink.messages().iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect();
        if distinct.len() == N && scalar(&db, "SELECT COUNT(*) FROM emails WHERE status <> 'sent'").await == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of {N} arrived", distinct.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = sink.messages().len();
    let duplicates = total - N;
    println!(
        "crash test ({backend:?}): {at_kill} delivered before the kill, {in_flight} in flight, {duplicates} duplicates"
    );
    assert!(duplicates <= in_flight, "{duplicates} duplicates > {in_flight} in flight at the kill");
}

async fn sent_mail_is_purged_after_the_retention_period(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_RETENTION".into(), "1s".into()));
    let server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    admin.invite("purge@example.com", &[]).await;
    sink.wait_for(1, 20).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while scalar(&db, "SELECT COUNT(*) FROM emails").await > 0 {
        assert!(std::time::Instant::now() < deadline, "the sent email was never purged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The invitation itself survives its email.
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM invitations").await, 1);
}

/// 1,234 old sent emails (more than two of the purge's batches), one young
/// sent email and an old queued one: one purge takes exactly the old sent ones.
async fn a_large_purge_takes_only_old_sent_mail(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let _admin = set_up_admin(&server).await;
    let roster_db = app::server::db::Db::connect(&db.url).await.unwrap();
    let insert = |n: i64, status: &str, sent_at: &str, tag: &str| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
             INSERT INTO emails (kind, to_addr, subject, body_text, body_html, message_id, status, attempts, \
             max_attempts, created_at, next_attempt_at, sent_at) \
             SELECT 'invitation', 'old@example.com', 'Old', 'text', '<p>html</p>', '{tag}-' || i, '{status}', 1, 8, \
             1000, 1000, {sent_at} FROM n"
        )
    };
    let far_future = 32_503_680_000_000i64.to_string();
    for sql in [
        insert(1234, "sent", "1000", "old"),
        insert(1, "sent", &far_future, "young"),
        insert(1, "queued", "NULL", "waiting"),
    ] {
        sqlx::query(&sql).execute(&roster_db.pool).await.unwrap();
    }
    let purged = app::mail::purge_sent(&roster_db, Duration::from_secs(86_400)).await.unwrap();
    assert_eq!(purged, 1234);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM emails WHERE message_id LIKE 'old-%'").await, 0);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM emails WHERE message_id IN ('young-1', 'waiting-1')").await, 2);
}

// ---- what the database holds -------------------------------------------------------

/// A status Roster never writes (a bad edit, a newer version's word) is an
/// error that names it, not a guess: the list, the email's page and the Users
/// list (its invitation's delivery) all refuse to show it as Queued.
async fn an_unknown_status_in_the_database_is_an_error_not_a_default(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = TempDir(std::env::temp_dir().join(unique("roster_log")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let log = dir.0.join("server.log");
    let server = Server::start_logging(&db, &[], Some(log.as_path())).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.invite("lost@example.com", &[]).await.status, StatusCode::OK);
    let id = admin.emails("").await[0].id;
    assert_eq!(execute_sql(&db, "UPDATE emails SET status = $1", &["mislaid"]).await, 1);

    let list = admin.send(ListEmails { status: String::new(), before: None }).await;
    assert_eq!(list.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", list.body);
    let one = admin.send(GetEmail { id }).await;
    assert_eq!(one.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", one.body);
    let users = admin.send(ListUsers { query: UserQuery::default() }).await;
    assert_eq!(users.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", users.body);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("unknown email status") && text.contains("mislaid"), "{text}");
    assert!(text.contains("status"), "the log names the column: {text}");
}
