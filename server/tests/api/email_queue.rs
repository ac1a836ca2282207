//! The Email queue: what its readers may see of the links in an email, and who
//! may delete or resend a password-reset email.

use crate::helpers::*;
use crate::on_both_backends;
use crate::roles::{add_user, create_role};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    reset_links_are_never_shown_and_invitation_links_only_to_who_could_send_them,
    only_an_administrator_deletes_or_resends_an_unsent_reset_email,
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
fn assert_masked(detail: &Value, path: &str) {
    for part in ["body_text", "body_html"] {
        let body = detail[part].as_str().unwrap();
        let found = links(body, path);
        assert!(!found.is_empty(), "{part} still mentions {path}: {body}");
        assert!(found.iter().all(|t| t == "••••••"), "{part} shows a live {path} token: {found:?}");
    }
    assert!(detail["links_hidden"].as_str().is_some_and(|why| why.contains("hidden")), "{detail}");
}

fn assert_shown(detail: &Value, path: &str) {
    for part in ["body_text", "body_html"] {
        let found = links(detail[part].as_str().unwrap(), path);
        assert!(!found.is_empty() && found.iter().all(|t| t.len() == 43), "{part}: {found:?}");
    }
    assert_eq!(detail["links_hidden"], Value::Null, "{detail}");
}

async fn email_id(admin: &mut Client, to: &str, subject_part: &str) -> String {
    for _ in 0..200 {
        let found = admin
            .emails("")
            .await
            .into_iter()
            .find(|e| e["to"] == json!(to) && e["subject"].as_str().is_some_and(|s| s.contains(subject_part)));
        if let Some(e) = found {
            return e["id"].as_i64().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no email to {to} about {subject_part}");
}

async fn detail(c: &mut Client, id: &str) -> Value {
    let r = c.call("email_detail", &[("id", id)]).await;
    assert_eq!(r.status, StatusCode::OK, "email_detail: {:?}", r.body);
    r.body
}

async fn reset_links_are_never_shown_and_invitation_links_only_to_who_could_send_them(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = crate::roles::administrator_role(&mut admin).await;
    // The seed's Digital Channel Manager, and someone who may invite with what they hold.
    let manager_role =
        create_role(&mut admin, "Digital Channel Manager", json!([["Users", "View"], ["EmailQueue", "View"]])).await;
    let inviter_role =
        create_role(&mut admin, "Inviter", json!([["Users", "View"], ["Users", "Create"], ["EmailQueue", "View"]]))
            .await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;
    let mut inviter = add_user(&mut admin, &server, "inviter@example.com", &[inviter_role]).await;

    // Anyone asks for the administrator's reset; its link is shown to nobody.
    let r = server.client().call("forgot_password", &[("email", ADMIN_EMAIL)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let reset = email_id(&mut admin, ADMIN_EMAIL, RESET_SUBJECT).await;
    for reader in [&mut manager, &mut inviter, &mut admin] {
        assert_masked(&detail(reader, &reset).await, "/reset/");
    }
    let list = manager.call("list_emails", &[("status", "")]).await;
    assert!(links(&list.body.to_string(), "/reset/").iter().all(|t| t.is_empty()), "{:?}", list.body);

    // An invitation that carries the Administrator role: only an administrator sees its link.
    let r = admin.invite("new-admin@example.com", &[admin_role]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let admin_invite = email_id(&mut admin, "new-admin@example.com", "invited").await;
    assert_shown(&detail(&mut admin, &admin_invite).await, "/signup/");
    assert_masked(&detail(&mut manager, &admin_invite).await, "/signup/");
    assert_masked(&detail(&mut inviter, &admin_invite).await, "/signup/");

    // An invitation the inviter could have sent (roles they hold): they see it, the manager does not.
    let r = admin.invite("plain@example.com", &[manager_role]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let plain_invite = email_id(&mut admin, "plain@example.com", "invited").await;
    assert_shown(&detail(&mut inviter, &plain_invite).await, "/signup/");
    assert_masked(&detail(&mut manager, &plain_invite).await, "/signup/");

    // The chain from the issue fails: nothing the manager read resets the administrator's password.
    let seen = detail(&mut manager, &reset).await;
    for token in links(seen["body_text"].as_str().unwrap(), "/reset/") {
        let r = server
            .client()
            .call("reset_password", &[("token", &token), ("password", "x"), ("password_confirmation", "x")])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    }
    assert_eq!(server.client().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);
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
        json!([["Users", "View"], ["EmailQueue", "View"], ["EmailQueue", "Update"], ["EmailQueue", "Delete"]]),
    )
    .await;
    // The keeper signs up from a link only the administrator can read.
    let mut keeper = add_user(&mut admin, &server, "keeper@example.com", &[keeper_role]).await;
    assert_eq!(server.client().call("forgot_password", &[("email", ADMIN_EMAIL)]).await.status, StatusCode::OK);
    let reset = email_id(&mut admin, ADMIN_EMAIL, RESET_SUBJECT).await;
    for _ in 0..400 {
        if detail(&mut admin, &reset).await["row"]["status"] == json!("Failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(detail(&mut admin, &reset).await["row"]["status"], json!("Failed"));

    for endpoint in ["delete_email", "resend_email"] {
        let r = keeper.call(endpoint, &[("id", &reset)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}: {:?}", r.body);
        assert!(r.body.to_string().contains("Only a Global administrator"), "{endpoint}: {:?}", r.body);
    }
    assert_eq!(detail(&mut admin, &reset).await["row"]["status"], json!("Failed"), "untouched");

    // Other emails stay the keeper's to manage; the administrator may do both.
    let invite = email_id(&mut admin, "keeper@example.com", "invited").await;
    let r = keeper.call("delete_email", &[("id", &invite)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.call("resend_email", &[("id", &reset)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.call("delete_email", &[("id", &reset)]).await;
    assert!(r.status == StatusCode::OK || r.status == StatusCode::CONFLICT, "{:?}", r.body);
}
