//! The Users application, invitations and the email outbox, against a real SMTP server.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

on_both_backends!(
    invitation_arrives_with_a_link_that_works_once,
    resend_kills_the_old_link,
    revoke_and_expiry_kill_the_link,
    duplicate_email_queues_nothing,
    disabled_user_cannot_sign_in_and_their_session_is_refused,
    without_smtp_mail_stays_queued_with_its_link_visible,
    smtp_down_mail_is_retried_then_delivered_once,
    after_the_last_attempt_mail_is_failed_and_resend_delivers_it,
    crash_mid_send_loses_nothing,
    users_list_searches_filters_sorts_and_pages,
    users_search_takes_fts_special_characters_literally,
    sent_mail_is_purged_after_the_retention_period,
);

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

async fn admin_role(admin: &mut Client) -> i64 {
    let r = admin.call("role_options", &[]).await;
    r.body.as_array().unwrap().iter().find(|r| r["builtin"] == json!(true)).unwrap()["id"].as_i64().unwrap()
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
    let r = laura.call("invitation_info", &[("token", &token)]).await;
    assert_eq!(r.body, json!("lauram@kbank.com"));
    let pw = "a long and lovely passphrase";
    let r = laura
        .call("sign_up", &[("token", &token), ("password", "too short"), ("password_confirmation", "too short")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("too short"));
    let r = laura.call("sign_up", &[("token", &token), ("password", pw), ("password_confirmation", pw)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(laura.whoami().await.as_deref(), Some("lauram@kbank.com"));

    // The link works once.
    let mut again = server.client();
    let r = again.call("sign_up", &[("token", &token), ("password", pw), ("password_confirmation", pw)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r
        .body
        .to_string()
        .contains("This invitation is no longer valid. Ask your administrator to send a new one."));
    assert_eq!(again.call("invitation_info", &[("token", &token)]).await.status, StatusCode::NOT_FOUND);

    // The queue shows it sent; the user is Active with the role.
    let rows = admin.emails("").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], json!("Sent"));
    let list = admin
        .call_json(
            "list_users",
            json!({"query": {"search": "lauram", "status": "", "role": "", "sort": "email", "after": ""}}),
        )
        .await;
    let row = &list.body["rows"][0];
    assert_eq!(row["status"], json!("Active"));
    assert_eq!(row["roles"], json!(["Administrator"]));
    assert_eq!(sink.messages().len(), 1, "exactly one message");
}

async fn invite_and_get_token(admin: &mut Client, sink: &SmtpSink, email: &str, nth: usize) -> (i64, String) {
    let r = admin.invite(email, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body.as_i64().unwrap();
    let mail = sink.wait_for(nth, 20).await;
    (id, token_of(&signup_link(mail[nth - 1]["text"].as_str().unwrap())))
}

async fn resend_kills_the_old_link(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;
    let (id, old) = invite_and_get_token(&mut admin, &sink, "sam@example.com", 1).await;
    let r = admin.call("resend_invitation", &[("id", &id.to_string())]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mail = sink.wait_for(2, 20).await;
    let new = token_of(&signup_link(mail[1]["text"].as_str().unwrap()));
    assert_ne!(old, new);
    let mut anon = server.client();
    assert_eq!(anon.call("invitation_info", &[("token", &old)]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(anon.call("invitation_info", &[("token", &new)]).await.body, json!("sam@example.com"));
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
    let r = admin.call("revoke_invitation", &[("id", &id.to_string())]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut anon = server.client();
    let pw = "a long and lovely passphrase";
    let r = anon.call("sign_up", &[("token", &token), ("password", pw), ("password_confirmation", pw)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "revoked link refused");

    let (_, token) = invite_and_get_token(&mut admin, &sink, "late@example.com", 2).await;
    assert_eq!(anon.call("invitation_info", &[("token", &token)]).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let r = anon.call("sign_up", &[("token", &token), ("password", pw), ("password_confirmation", pw)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "expired link refused");
    let list = admin
        .call_json(
            "list_users",
            json!({"query": {"search": "late@", "status": "expired", "role": "", "sort": "", "after": ""}}),
        )
        .await;
    assert_eq!(list.body["rows"].as_array().unwrap().len(), 1, "{:?}", list.body);
    assert_eq!(list.body["rows"][0]["status"], json!("InvitationExpired"));
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
    let r = admin.invite("x@example.com", &[999_999]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown role: {:?}", r.body);
    assert_eq!(admin.emails("").await.len(), 1, "only the first invitation was queued");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM invitations").await, 1);
}

async fn disabled_user_cannot_sign_in_and_their_session_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    // Two processes: the admin works on A, the user's session lives on B.
    let a = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let b = Server::start(&db).await;
    let mut admin = set_up_admin(&a).await;
    let (id, token) = invite_and_get_token(&mut admin, &sink, "dis@example.com", 1).await;
    let mut user = b.client();
    let pw = "a long and lovely passphrase";
    assert_eq!(
        user.call("sign_up", &[("token", &token), ("password", pw), ("password_confirmation", pw)]).await.status,
        StatusCode::OK
    );
    assert!(user.whoami().await.is_some());

    let r = admin.call("set_user_enabled", &[("id", &id.to_string()), ("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(user.whoami().await, None, "open session refused at the next request, on another process");
    let r = user.sign_in("dis@example.com", pw).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let wrong = user.sign_in("dis@example.com", "wrong password here").await;
    assert_eq!(r.body, wrong.body, "a disabled account answers like a wrong password");

    let r = admin.call("set_user_enabled", &[("id", &id.to_string()), ("enabled", "true")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(user.sign_in("dis@example.com", pw).await.status, StatusCode::OK);

    // The last Global administrator cannot be disabled.
    let me = admin.call("me", &[]).await.body["user_id"].as_i64().unwrap();
    let r = admin.call("set_user_enabled", &[("id", &me.to_string()), ("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
}

async fn without_smtp_mail_stays_queued_with_its_link_visible(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let r = admin.invite("nosmtp@example.com", &[]).await;
    let user_id = r.body.as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = admin.emails("").await;
    assert_eq!(rows[0]["status"], json!("NotSent"));
    assert_eq!(rows[0]["last_error"], json!("Not sent: email sending is not configured"));
    let id = rows[0]["id"].as_i64().unwrap().to_string();
    let d = admin.call("email_detail", &[("id", &id)]).await;
    let link = signup_link(d.body["body_text"].as_str().unwrap());
    assert!(d.body["body_html"].as_str().unwrap().contains(&link));
    let mut anon = server.client();
    assert_eq!(anon.call("invitation_info", &[("token", &token_of(&link))]).await.body, json!("nosmtp@example.com"));
    let list = admin
        .call_json(
            "list_users",
            json!({"query": {"search": "nosmtp", "status": "", "role": "", "sort": "", "after": ""}}),
        )
        .await;
    assert_eq!(list.body["smtp_configured"], json!(false));
    assert_eq!(list.body["rows"][0]["delivery"]["state"], json!("NotSent"));
    let d = admin.call("user_detail", &[("id", &user_id.to_string())]).await;
    assert_eq!(d.body["status"], json!("Invited"));
    // Disabling shows Disabled; enabling again or editing keeps them Invited.
    let uid = user_id.to_string();
    admin.call("set_user_enabled", &[("id", &uid), ("enabled", "false")]).await;
    assert_eq!(admin.call("user_detail", &[("id", &uid)]).await.body["status"], json!("Disabled"));
    admin.call("set_user_enabled", &[("id", &uid), ("enabled", "true")]).await;
    let edit =
        json!({"id": user_id, "first_name": "No", "last_name": "Smtp", "email": "nosmtp@example.com", "role_ids": []});
    assert_eq!(admin.call_json("update_user", edit).await.status, StatusCode::OK);
    assert_eq!(admin.call("user_detail", &[("id", &uid)]).await.body["status"], json!("Invited"));
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
        assert_ne!(r["status"], json!("Sent"));
        assert!(r["attempts"].as_i64().unwrap() >= 1, "{r}");
        assert!(r["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
    }
    sink.restart(false);
    let mail = sink.wait_for(3, 30).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mail_after = sink.messages();
    assert_eq!(mail_after.len(), 3, "each exactly once: {mail:?}");
    let ids: HashSet<_> = mail_after.iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3);
    assert!(admin.emails("").await.iter().all(|r| r["status"] == json!("Sent")));
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
    let failed: Value = loop {
        let rows = admin.emails("failed").await;
        if let Some(r) = rows.first() {
            break r.clone();
        }
        assert!(std::time::Instant::now() < deadline, "never marked Failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["attempts"], json!(3));
    assert!(failed["last_error"].as_str().unwrap().contains("550"), "{failed}");
    let id = failed["id"].as_i64().unwrap().to_string();
    let d = admin.call("email_detail", &[("id", &id)]).await;
    assert_eq!(d.body["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(sink.messages().len(), 0);

    sink.restart(false);
    let r = admin.call("resend_email", &[("id", &id)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    sink.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    // Queued mail cannot be "resent" again until it is sent or failed; delete works.
    let r = admin.call("delete_email", &[("id", &id)]).await;
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
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let mut c = admin.clone();
        tasks.spawn(async move {
            for i in (w..N).step_by(8) {
                let r = c.invite(&format!("bulk{i}@example.com"), &[]).await;
                assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
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

async fn users_list_searches_filters_sorts_and_pages(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    for i in 0..30 {
        assert_eq!(admin.invite(&format!("member{i:02}@example.com"), &[]).await.status, StatusCode::OK);
    }
    let q = |search: &str, status: &str, sort: &str, after: &str| json!({"query": {"search": search, "status": status, "role": "", "sort": sort, "after": after}});
    let p1 = admin.call_json("list_users", q("", "", "email", "")).await.body;
    let rows1 = p1["rows"].as_array().unwrap();
    assert_eq!(rows1.len(), 25);
    assert_eq!(rows1[0]["email"], json!("admin@example.com"));
    let next = p1["next"].as_str().expect("a second page");
    let p2 = admin.call_json("list_users", q("", "", "email", next)).await.body;
    let rows2 = p2["rows"].as_array().unwrap();
    assert_eq!(rows2.len(), 6);
    assert!(p2["next"].is_null());
    assert_eq!(rows2.last().unwrap()["email"], json!("member29@example.com"));

    let desc = admin.call_json("list_users", q("", "", "-email", "")).await.body;
    assert_eq!(desc["rows"][0]["email"], json!("member29@example.com"));
    let search = admin.call_json("list_users", q("MEMBER1", "", "email", "")).await.body;
    assert_eq!(search["rows"].as_array().unwrap().len(), 10, "case-insensitive search");
    let active = admin.call_json("list_users", q("", "active", "email", "")).await.body;
    assert_eq!(active["rows"].as_array().unwrap().len(), 1);
    let invited = admin.call_json("list_users", q("", "invited", "email", "")).await.body;
    assert_eq!(invited["rows"].as_array().unwrap().len(), 25);
    let pct = admin.call_json("list_users", q("%", "", "email", "")).await.body;
    assert_eq!(pct["rows"].as_array().unwrap().len(), 0, "% is literal");

    let role = admin_role(&mut admin).await;
    let by_role = admin
        .call_json(
            "list_users",
            json!({"query": {"search": "", "status": "", "role": role.to_string(), "sort": "email", "after": ""}}),
        )
        .await
        .body;
    assert_eq!(by_role["rows"].as_array().unwrap().len(), 1);

    let anon = server.client().call_json("list_users", q("", "", "", "")).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

/// The search reads a trigram index (SQLite FTS5, PostgreSQL pg_trgm); the term
/// is still a plain case-insensitive substring: quotes, `*`, `-`, `_`, `%` and
/// FTS operators match only themselves, and edits reach the index.
async fn users_search_takes_fts_special_characters_literally(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut ids = Vec::new();
    for email in ["star*gazer@example.com", "o-neil@example.com", "under_score@example.com", "plain@example.com"] {
        let r = admin.invite(email, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        ids.push(r.body.as_i64().unwrap());
    }
    let named = ids[3];
    let r = admin
        .call_json(
            "update_user",
            json!({"id": named, "first_name": "Zoë \"Zed\"", "last_name": "O'Neil-Smith", "email": "renamed@example.com", "role_ids": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let found = |body: Value| -> Vec<String> {
        let mut v: Vec<String> =
            body["rows"].as_array().unwrap().iter().map(|r| r["email"].as_str().unwrap().to_string()).collect();
        v.sort();
        v
    };
    let cases: &[(&str, &[&str])] = &[
        ("\"zed\"", &["renamed@example.com"]),
        ("\"", &["renamed@example.com"]),
        ("ZOË", &["renamed@example.com"]),
        ("r*g", &["star*gazer@example.com"]),
        ("star*", &["star*gazer@example.com"]),
        ("*", &["star*gazer@example.com"]),
        ("o-neil", &["o-neil@example.com"]),
        ("'neil-", &["renamed@example.com"]),
        ("-neil", &["o-neil@example.com"]),
        ("r_s", &["under_score@example.com"]),
        ("_", &["under_score@example.com"]),
        ("e%", &[]),
        ("star OR plain", &[]),
        ("NEAR(star plain)", &[]),
        ("email_norm:star", &[]),
        ("neil", &["o-neil@example.com", "renamed@example.com"]),
        // The edit reached the index: the old email is gone, the new one found.
        ("plain", &[]),
        ("renamed", &["renamed@example.com"]),
    ];
    for (term, want) in cases {
        let r = admin
            .call_json(
                "list_users",
                json!({"query": {"search": term, "status": "", "role": "", "sort": "email", "after": ""}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "search {term:?}: {:?}", r.body);
        assert_eq!(found(r.body), want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "search {term:?}");
    }
}
