//! Account, password reset, sessions, sign-in protection, headers and the audit log.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    changing_the_password_ends_other_sessions,
    forgot_password_answers_the_same_and_reset_works_once,
    throttling_counts_across_processes_and_locks_then_unlocks,
    security_headers_are_present,
    actions_write_audit_entries_and_only_audit_viewers_read_them,
    sessions_tab_lists_and_signs_out_other_sessions,
    each_password_rule_refuses_with_its_own_message,
);

async fn each_password_rule_refuses_with_its_own_message(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await; // Ada Admin, admin@example.com
    let cases = [
        ("short pass", "too short: use at least 12 characters"),
        (&"x".repeat(129)[..], "too long: use at most 128 characters"),
        ("password1234", "too common: it appears in lists of leaked passwords"),
        ("admin-violet-tractor-92", "must not contain the name in your email address"),
        ("ada-violet-tractor-92", "must not contain your first name"),
        ("zqzqzqzqzqzqzqzq", "too easy to guess"),
    ];
    let mut seen = std::collections::HashSet::new();
    for (password, expected) in cases {
        let r = admin
            .call(
                "change_password",
                &[("current_password", ADMIN_PASSWORD), ("password", password), ("password_confirmation", password)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{password}: {:?}", r.body);
        let message = r.body["Invalid"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(expected), "{password}: {message}");
        assert!(seen.insert(message), "each rule has its own message");
    }
    // The strength meter agrees, and a good passphrase passes.
    let weak = admin.call("password_strength", &[("password", "password1234"), ("email", "")]).await;
    assert_eq!(weak.body["ok"], json!(false));
    assert_eq!(weak.body["score"], json!(0));
    let strong = admin.call("password_strength", &[("password", NEW_PASSWORD), ("email", "")]).await;
    assert_eq!(strong.body["ok"], json!(true), "{:?}", strong.body);
    assert!(strong.body["score"].as_u64().unwrap() >= 3);
}

const NEW_PASSWORD: &str = "quilted lantern ferry orbit";

async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut a = set_up_admin(&server).await;
    let mut b = server.client();
    assert_eq!(b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);

    let r = a
        .call(
            "change_password",
            &[
                ("current_password", "wrong one here"),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("current password is incorrect"), "{:?}", r.body);
    let r = a
        .call(
            "change_password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirmation", "something else entirely"),
            ],
        )
        .await;
    assert!(r.body.to_string().contains("do not match"), "{:?}", r.body);

    let r = a
        .call(
            "change_password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!(1), "one other session ended");
    assert!(a.whoami().await.is_some(), "the session that changed it stays");
    assert_eq!(b.whoami().await, None, "the other session is signed out");
    let mut c = server.client();
    assert_eq!(c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::UNAUTHORIZED, "old password fails");
    assert_eq!(c.sign_in(ADMIN_EMAIL, NEW_PASSWORD).await.status, StatusCode::OK, "new password works");
}

async fn forgot_password_answers_the_same_and_reset_works_once(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;
    let mut anon = server.client();
    let known = anon.call("forgot_password", &[("email", ADMIN_EMAIL)]).await;
    let unknown = anon.call("forgot_password", &[("email", "nobody@example.com")]).await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body), "identical answers");

    let mail = sink.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "only the existing account gets an email");
    assert_eq!(mail[0]["to"], json!([ADMIN_EMAIL]));
    assert_eq!(mail[0]["subject"], json!("Reset your Roster password"));
    let link = signup_link(mail[0]["text"].as_str().unwrap());
    assert!(link.contains("/reset/"), "{link}");
    let token = token_of(&link);
    assert!(admin.emails("").await.iter().any(|e| e["subject"] == json!("Reset your Roster password")));

    assert_eq!(anon.call("reset_info", &[("token", &token)]).await.body, json!(ADMIN_EMAIL));
    let r = anon
        .call(
            "reset_password",
            &[("token", &token), ("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(admin.whoami().await, None, "every session ended");
    assert_eq!(anon.sign_in(ADMIN_EMAIL, NEW_PASSWORD).await.status, StatusCode::OK);
    let r = server
        .client()
        .call(
            "reset_password",
            &[("token", &token), ("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "single use");
}

async fn throttling_counts_across_processes_and_locks_then_unlocks(backend: Backend) {
    let db = TestDb::new(backend);
    let env = [
        ("ROSTER_SIGNIN_FREE_FAILURES", "2"),
        ("ROSTER_SIGNIN_LOCKOUT_FAILURES", "4"),
        ("ROSTER_SIGNIN_FAILURE_WINDOW", "1m"),
        ("ROSTER_SIGNIN_LOCKOUT_DURATION", "1m"),
    ];
    let a = Server::start_with(&db, &env).await;
    let b = Server::start_with(&db, &env).await;
    let mut admin = set_up_admin(&a).await;
    // No SMTP: the invitation stays queued and its link is read from the queue.
    let id = admin.invite("target@example.com", &[]).await.body.as_i64().unwrap();
    let email_id = admin.emails("").await[0]["id"].as_i64().unwrap().to_string();
    let body = admin.call("email_detail", &[("id", &email_id)]).await.body["body_text"].as_str().unwrap().to_string();
    let mut user = a.client();
    let t = token_of(&signup_link(&body));
    assert_eq!(
        user.call("sign_up", &[("token", &t), ("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD)])
            .await
            .status,
        StatusCode::OK
    );

    // Failures on A and on B count together.
    let (mut on_a, mut on_b) = (a.client(), b.client());
    assert_eq!(on_a.sign_in("target@example.com", "wrong password 1").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(on_b.sign_in("target@example.com", "wrong password 2").await.status, StatusCode::UNAUTHORIZED);
    let r = on_b.sign_in("target@example.com", NEW_PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "third attempt must wait: {:?}", r.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(on_a.sign_in("target@example.com", "wrong password 3").await.status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let wrong = on_b.sign_in("target@example.com", "wrong password 4").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Now locked: even the right password gets the wrong-password answer.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let locked = on_a.sign_in("target@example.com", NEW_PASSWORD).await;
    assert_eq!(
        (locked.status, &locked.body),
        (wrong.status, &wrong.body),
        "a lockout reveals no more than a wrong password"
    );

    let list = admin
        .call_json(
            "list_users",
            json!({"query": {"search": "target", "status": "", "role": "", "sort": "", "after": ""}}),
        )
        .await;
    assert_eq!(list.body["rows"][0]["locked"], json!(true));
    let r = admin.call("unlock_user", &[("id", &id.to_string())]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_b.sign_in("target@example.com", NEW_PASSWORD).await.status, StatusCode::OK, "unlocked");
}

async fn security_headers_are_present(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let page = server.client().get("/signin").await;
    let h = page.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain http");
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the page's nonce");
    let r = server.client().get("/healthz").await;
    assert_eq!(r.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    drop(server);
    let https = Server::start_with(&db, &[("ROSTER_PUBLIC_URL", "https://roster.example.com")]).await;
    let r = https.client().get("/signin").await;
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
}

async fn actions_write_audit_entries_and_only_audit_viewers_read_them(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut anon = server.client();
    anon.sign_in(ADMIN_EMAIL, "definitely wrong password").await;
    let id = admin.invite("audited@example.com", &[]).await.body.as_i64().unwrap().to_string();
    admin.call("resend_invitation", &[("id", &id)]).await;
    admin.call_json("update_user", json!({"id": id.parse::<i64>().unwrap(), "first_name": "Audrey", "last_name": "Ted", "email": "audited@example.com", "role_ids": []})).await;
    admin.call("set_user_enabled", &[("id", &id), ("enabled", "false")]).await;
    admin.call("set_user_enabled", &[("id", &id), ("enabled", "true")]).await;
    admin.call("end_user_sessions", &[("id", &id)]).await;
    let email_id = admin.emails("").await[0]["id"].as_i64().unwrap().to_string();
    admin.call("delete_email", &[("id", &email_id)]).await;
    admin.call("revoke_invitation", &[("id", &id)]).await;
    admin.call("forgot_password", &[("email", ADMIN_EMAIL)]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let r = admin
        .call_json(
            "list_audit",
            json!({"query": {"actor": "", "target": "", "action": "", "from": null, "to": null, "before": null}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let actions: Vec<String> =
        r.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    for expected in [
        "sign_in.failure",
        "invitation.sent",
        "invitation.resent",
        "user.updated",
        "user.disabled",
        "user.enabled",
        "session.ended",
        "email.deleted",
        "invitation.revoked",
        "password.reset_requested",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
    let updated = r.body["entries"].as_array().unwrap().iter().find(|e| e["action"] == json!("user.updated")).unwrap();
    assert!(updated["details"].as_str().unwrap().contains("first name: \"\" → \"Audrey\""), "{updated}");
    assert!(updated["actor_email"] == json!(ADMIN_EMAIL) && updated["ip"] == json!("127.0.0.1"), "{updated}");
    let filtered = admin.call_json("list_audit", json!({"query": {"actor": "", "target": "audited@", "action": "user.disabled", "from": null, "to": null, "before": null}})).await;
    assert_eq!(filtered.body["entries"].as_array().unwrap().len(), 1);

    // A signed-in user with no roles cannot read it.
    let link = {
        let e = admin.call("resend_invitation", &[("id", &id)]).await;
        assert_eq!(e.status, StatusCode::OK);
        let eid = admin.emails("").await[0]["id"].as_i64().unwrap().to_string();
        signup_link(admin.call("email_detail", &[("id", &eid)]).await.body["body_text"].as_str().unwrap())
    };
    let mut plain = server.client();
    let t = token_of(&link);
    assert_eq!(
        plain
            .call("sign_up", &[("token", &t), ("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD)])
            .await
            .status,
        StatusCode::OK
    );
    let r = plain
        .call_json(
            "list_audit",
            json!({"query": {"actor": "", "target": "", "action": "", "from": null, "to": null, "before": null}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = server
        .client()
        .call_json(
            "list_audit",
            json!({"query": {"actor": "", "target": "", "action": "", "from": null, "to": null, "before": null}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn sessions_tab_lists_and_signs_out_other_sessions(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut a = set_up_admin(&server).await;
    let mut b = server.client();
    b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let r = a.call("my_sessions", &[]).await;
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == json!(true)).count(), 1);
    assert_eq!(list[0]["ip"], json!("127.0.0.1"));
    let r = a.call("sign_out_other_sessions", &[]).await;
    assert_eq!(r.body, json!(1));
    assert_eq!(b.whoami().await, None);
    assert!(a.whoami().await.is_some());
    assert_eq!(a.call("my_sessions", &[]).await.body.as_array().unwrap().len(), 1);
}
