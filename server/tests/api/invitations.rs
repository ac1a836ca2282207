//! Invitations: the email and its link, resend, revoke, expiry, and sign-up, against a real SMTP server.

use crate::helpers::*;
use crate::on_both_backends;
use app::email_queue::{EmailStatus, GetEmail};
use app::invitations::{InvitationInfo, Invited, ResendInvitation, RevokeInvitation, SignUp};
use app::password::{PasswordRules, Rules};
use app::users::{GetUser, InviteUser, ListUsers, RoleOptions, UserQuery, UserStatus};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    invitation_arrives_with_a_link_that_works_once,
    resend_kills_the_old_link,
    revoke_and_expiry_kill_the_link,
    duplicate_email_queues_nothing,
    the_sign_up_page_states_the_configured_minimum,
    names_given_on_new_user_greet_the_person_who_may_correct_them_at_sign_up,
    signing_up_from_the_invitation_confirms_the_address,
);

pub(crate) async fn admin_role(admin: &mut Client) -> RoleId {
    let r = admin.send(RoleOptions {}).await;
    r.ok().into_iter().find(|r| r.builtin).unwrap().id
}

pub(crate) async fn invite_and_get_token(
    admin: &mut Client,
    sink: &SmtpSink,
    email: &str,
    nth: usize,
) -> (UserId, String) {
    let r = admin.invite(email, &[]).await;
    let id = r.ok();
    let mail = sink.wait_for(nth, 20).await;
    (id, token_of(&signup_link(mail[nth - 1]["text"].as_str().unwrap())))
}

async fn invitation_arrives_with_a_link_that_works_once(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;
    let role = admin_role(&mut admin).await;
    let r = admin.invite("lauram@kbank.com", &[role]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let mail = sink.wait_for(1, 20).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["to"], json!(["lauram@kbank.com"]));
    assert_eq!(mail[0]["subject"], json!("You have been invited to join Roster"));
    assert_eq!(mail[0]["has_html"], json!(true));
    let link = signup_link(mail[0]["text"].as_str().unwrap());
    assert!(link.starts_with(&format!("{}/signup/", server.base)), "built from the public URL: {link}");
    let token = token_of(&link);

    let mut laura = server.client();
    let r = laura.send(InvitationInfo { token: token.to_string() }).await;
    assert_eq!(r.ok().email, "lauram@kbank.com");
    let pw = "a long and lovely passphrase";
    let r = laura.send(sign_up(&token, "too short")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("too short"));
    let r = laura.send(sign_up(&token, pw)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(laura.whoami().await.as_deref(), Some("lauram@kbank.com"));

    // The link works once.
    let mut again = server.client();
    let r = again.send(sign_up(&token, pw)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r
        .body
        .to_string()
        .contains("This invitation is no longer valid. Ask your administrator to send a new one."));
    assert_eq!(again.send(InvitationInfo { token: token.to_string() }).await.status, StatusCode::NOT_FOUND);

    // The queue shows it sent; the user is Active with the role.
    let rows = admin.emails("").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, EmailStatus::Sent);
    let query = UserQuery { search: "lauram".into(), sort: "email".into(), ..Default::default() };
    let list = admin.send(ListUsers { query }).await.ok();
    let row = &list.rows[0];
    assert_eq!(row.status, UserStatus::Active);
    assert_eq!(row.roles, ["Administrator"]);
    assert_eq!(sink.messages().len(), 1, "exactly one message");
}

async fn resend_kills_the_old_link(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;
    let (id, old) = invite_and_get_token(&mut admin, &sink, "sam@example.com", 1).await;
    let r = admin.send(ResendInvitation { id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mail = sink.wait_for(2, 20).await;
    let new = token_of(&signup_link(mail[1]["text"].as_str().unwrap()));
    assert_ne!(old, new);
    let mut anon = server.client();
    assert_eq!(anon.send(InvitationInfo { token: old.to_string() }).await.status, StatusCode::NOT_FOUND);
    assert_eq!(anon.send(InvitationInfo { token: new.to_string() }).await.ok().email, "sam@example.com");
    assert_eq!(sink.messages().len(), 2);
}

async fn revoke_and_expiry_kill_the_link(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let mut env = mail_env(&sink);
    env.push(("ROSTER_INVITATION_TTL".into(), "3s".into()));
    let server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    let (id, token) = invite_and_get_token(&mut admin, &sink, "rev@example.com", 1).await;
    let r = admin.send(RevokeInvitation { id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut anon = server.client();
    let pw = "a long and lovely passphrase";
    let r = anon.send(sign_up(&token, pw)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "revoked link refused");

    let (_, token) = invite_and_get_token(&mut admin, &sink, "late@example.com", 2).await;
    assert_eq!(anon.send(InvitationInfo { token: token.to_string() }).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let r = anon.send(sign_up(&token, pw)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "expired link refused");
    let query = UserQuery { search: "late@".into(), status: "expired".into(), ..Default::default() };
    let list = admin.send(ListUsers { query }).await;
    let rows = list.ok().rows;
    assert_eq!(rows.len(), 1, "{:?}", list.body);
    assert_eq!(rows[0].status, UserStatus::InvitationExpired);
}

async fn duplicate_email_queues_nothing(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.invite("dup@example.com", &[]).await.status, StatusCode::OK);
    let r = admin.invite("DUP@Example.com", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.to_string().contains("A user with the email DUP@Example.com already exists."), "{:?}", r.body);
    let r = admin.invite("not-an-email", &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("@"), "{:?}", r.body);
    let r = admin.invite("x@example.com", &[RoleId::new(999_999)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown role: {:?}", r.body);
    assert_eq!(admin.emails("").await.len(), 1, "only the first invitation was queued");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM invitations").await, 1);
}

async fn the_sign_up_page_states_the_configured_minimum(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, &[("ROSTER_PASSWORD_MIN_CHARS", "16")]).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.invite("min@example.com", &[]).await.status, StatusCode::OK);
    let email = admin.emails("").await[0].id;
    let body = admin.send(GetEmail { id: email }).await.ok().body_text;
    let link = signup_link(&body);
    let path = &link[link.find("/signup/").unwrap()..];
    let page = server.client().get(path).await.text().await.unwrap();
    assert!(page.contains("At least 16 characters"), "{page}");
    assert!(!page.contains("At least 12 characters"), "{page}");
    let r = server.client().send(PasswordRules {}).await;
    assert_eq!(r.ok(), Rules { min_chars: 16 });
    // The server holds to it: 12 good characters are too few now.
    let token = token_of(&link);
    let r = server.client().send(sign_up(&token, "violet ferry")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("at least 16 characters"), "{:?}", r.body);
}

/// Sign up with a name and a password (typed twice alike).
async fn sign_up_named(c: &mut Client, token: &str, first: &str, last: &str, password: &str) -> Reply<String> {
    c.send(SignUp {
        token: token.into(),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        password: password.into(),
        password_confirmation: password.into(),
    })
    .await
}

/// New user takes an optional first and last name; the invitation greets the
/// person by their first name; the Sign up page shows the names and the new
/// person may correct them; a bad name is refused with its reason and changes nothing.
async fn names_given_on_new_user_greet_the_person_who_may_correct_them_at_sign_up(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;

    // A bad name is refused with its reason, and nothing is created or queued.
    let r = admin
        .send(InviteUser {
            email: "lauram@kbank.com".into(),
            first_name: Some("Lau\tra".into()),
            last_name: Some(String::new()),
            role_ids: vec![],
        })
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("First name must not contain control characters"), "{:?}", r.body);
    assert!(admin.emails("").await.is_empty());

    let r = admin
        .send(InviteUser {
            email: "lauram@kbank.com".into(),
            first_name: Some("  Laura ".into()),
            last_name: Some("Mills".into()),
            role_ids: vec![],
        })
        .await;
    let id = r.ok();
    let d = admin.send(GetUser { id }).await.ok();
    assert_eq!((d.first_name.as_str(), d.last_name.as_str()), ("Laura", "Mills"));
    let sent = audit_entries(&mut admin, "invitation.sent").await;
    assert!(sent[0].details.contains("name: Laura Mills"), "{:?}", sent[0]);

    // Someone invited without a name gets the plain greeting.
    assert_eq!(admin.invite("sam@example.com", &[]).await.status, StatusCode::OK);
    let mail = sink.wait_for(2, 20).await;
    let to_laura = mail.iter().find(|m| m["to"] == json!(["lauram@kbank.com"])).unwrap();
    let to_sam = mail.iter().find(|m| m["to"] == json!(["sam@example.com"])).unwrap();
    assert_eq!(to_laura["text"].as_str().unwrap().lines().next(), Some("Hello Laura,"), "{}", to_laura["text"]);
    assert_eq!(to_sam["text"].as_str().unwrap().lines().next(), Some("Hello,"), "{}", to_sam["text"]);
    let queued = admin.emails("").await;
    let laura_row = queued.iter().find(|e| e.to == "lauram@kbank.com").unwrap();
    let body = admin.send(GetEmail { id: laura_row.id }).await;
    assert!(body.ok().body_html.contains("<p>Hello Laura,</p>"), "{:?}", body.body);

    // The Sign up page knows the names; a bad correction is refused and the link still works.
    let token = token_of(&signup_link(to_laura["text"].as_str().unwrap()));
    let mut laura = server.client();
    let info = laura.send(InvitationInfo { token: token.to_string() }).await;
    let expected = Invited { email: "lauram@kbank.com".into(), first_name: "Laura".into(), last_name: "Mills".into() };
    assert_eq!(info.ok(), expected);
    let pw = "a long and lovely passphrase";
    let bad = "x".repeat(101);
    let r = sign_up_named(&mut laura, &token, "Laura", &bad, pw).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("Last name is too long"), "{:?}", r.body);
    assert_eq!(laura.send(InvitationInfo { token: token.to_string() }).await.status, StatusCode::OK);
    // The password rules know the name she signs up with.
    let named = "mitchell rows the river at dawn";
    let r = sign_up_named(&mut laura, &token, "Laura", "Mitchell", named).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("must not contain your last name"), "{:?}", r.body);
    let r = sign_up_named(&mut laura, &token, "Laura", "Mitchell", pw).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = admin.send(GetUser { id }).await.ok();
    assert_eq!((d.first_name.as_str(), d.last_name.as_str()), ("Laura", "Mitchell"));
}

async fn signing_up_from_the_invitation_confirms_the_address(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;
    let (id, _) = invite_and_get_token(&mut admin, &sink, "ivy@example.com", 1).await;
    assert!(!email_verified(&mut admin, id).await, "not before sign-up");
    // Changed before sign-up: no confirmation link; the invitation sent to
    // the new address proves it.
    let r = change_email(&mut admin, id, "ivy.new@example.com").await;
    assert!(!r.ok().confirmation_sent, "{:?}", r.body);
    assert_eq!(admin.send(ResendInvitation { id }).await.status, StatusCode::OK);
    let mail = sink.wait_for(2, 20).await;
    assert_eq!(mail[1]["to"], json!(["ivy.new@example.com"]));
    let token = token_of(&signup_link(mail[1]["text"].as_str().unwrap()));
    let pw = "a long and lovely passphrase";
    let r = server.client().send(sign_up(&token, pw)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(email_verified(&mut admin, id).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sink.messages().iter().any(|m| m["subject"] == json!(CONFIRM_SUBJECT)), "{:?}", sink.messages());
}
