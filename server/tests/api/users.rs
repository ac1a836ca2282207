//! Users: what a non-administrator may do to an administrator's account, the
//! last-administrator guard under concurrency, and what an email change ends.

use crate::helpers::*;
use crate::on_both_backends;
use crate::roles::{add_user, administrator_role, create_role, id_arg, user_id, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    administrators_are_protected_from_non_administrators,
    the_last_administrator_guard_holds_under_concurrency,
    changing_the_email_ends_pending_invitation_and_reset_links,
);

const PROTECTED: &str = "Only a Global administrator";

/// Every action on another person, as (endpoint, JSON arguments).
fn actions(id: i64, email: &str, role: i64) -> Vec<(&'static str, Value)> {
    vec![
        ("update_user", json!({"id": id, "first_name": "Renamed", "last_name": "", "email": email, "role_ids": []})),
        ("set_user_enabled", json!({"id": id, "enabled": false})),
        ("end_user_sessions", json!({"id": id})),
        ("unlock_user", json!({"id": id})),
        ("add_role_member", json!({"role_id": role, "user_id": id})),
        ("remove_role_member", json!({"role_id": role, "user_id": id})),
    ]
}

/// Server functions with form-encoded arguments take the same values as strings.
async fn act(c: &mut Client, endpoint: &str, args: &Value) -> (StatusCode, Value) {
    let r = if endpoint == "update_user" {
        c.call_json(endpoint, args.clone()).await
    } else {
        let pairs: Vec<(String, String)> = args
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        c.call(endpoint, &refs).await
    };
    (r.status, r.body)
}

async fn administrators_are_protected_from_non_administrators(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    // Everything the Users and Roles applications offer, short of being an administrator.
    let manager_role = create_role(
        &mut admin,
        "User manager",
        json!([["Users", "View"], ["Users", "Create"], ["Users", "Update"], ["Roles", "View"], ["Roles", "Update"]]),
    )
    .await;
    let editors = create_role(&mut admin, "Editors", json!([["Users", "View"]])).await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;
    let mut grace = add_user(&mut admin, &server, "grace@example.com", &[admin_role]).await;
    let grace_id = user_id(&mut grace).await;
    let mut plain = add_user(&mut admin, &server, "plain@example.com", &[]).await;
    let plain_id = user_id(&mut plain).await;
    // Grace already has Editors, so that removing it is a real change.
    let r = admin.call("add_role_member", &[("role_id", &id_arg(editors)), ("user_id", &id_arg(grace_id))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    for (endpoint, args) in actions(grace_id, "grace@example.com", editors) {
        let (status, body) = act(&mut manager, endpoint, &args).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint} on an administrator: {body:?}");
        assert!(body.to_string().contains(PROTECTED), "{endpoint}: {body:?}");
    }
    assert_eq!(grace.whoami().await.as_deref(), Some("grace@example.com"), "Grace is untouched and signed in");
    let roles = admin.call("user_detail", &[("id", &id_arg(grace_id))]).await.body["role_ids"].clone();
    assert!(roles.as_array().unwrap().contains(&json!(editors)), "{roles}");

    // A pending invitation that carries the Administrator role.
    let pending = admin.invite("pending-admin@example.com", &[admin_role]).await.body.as_i64().unwrap();
    for endpoint in ["resend_invitation", "revoke_invitation"] {
        let r = manager.call(endpoint, &[("id", &id_arg(pending))]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint} on an administrator's invitation: {:?}", r.body);
        assert!(r.body.to_string().contains(PROTECTED), "{endpoint}: {:?}", r.body);
    }

    // The same actions on someone who is not an administrator are the manager's to take.
    let r = manager.call("add_role_member", &[("role_id", &id_arg(editors)), ("user_id", &id_arg(plain_id))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (endpoint, args) in actions(plain_id, "plain@example.com", editors) {
        let (status, body) = act(&mut manager, endpoint, &args).await;
        assert_eq!(status, StatusCode::OK, "{endpoint} on a non-administrator: {body:?}");
    }
    let invited = manager.invite("invited@example.com", &[]).await.body.as_i64().unwrap();
    for endpoint in ["resend_invitation", "revoke_invitation"] {
        let r = manager.call(endpoint, &[("id", &id_arg(invited))]).await;
        assert_eq!(r.status, StatusCode::OK, "{endpoint}: {:?}", r.body);
    }
    // An administrator may still act on an administrator.
    let r = admin.call("end_user_sessions", &[("id", &id_arg(grace_id))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(grace.whoami().await, None);
}

const ENABLED_ADMINS: &str = "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
     JOIN roles r ON r.id = ur.role_id WHERE r.builtin = 'administrator' AND u.enabled = 1";

async fn the_last_administrator_guard_holds_under_concurrency(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut ada = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut ada).await;
    let ada_id = user_id(&mut ada).await;
    let mut grace = add_user(&mut ada, &server, "grace@example.com", &[admin_role]).await;
    let grace_id = user_id(&mut grace).await;
    let mut both_went_through = 0;
    for round in 0..50 {
        // Each administrator disables the other at the same moment.
        let (grace_arg, ada_arg) = (id_arg(grace_id), id_arg(ada_id));
        let (disable_grace, disable_ada) =
            ([("id", grace_arg.as_str()), ("enabled", "false")], [("id", ada_arg.as_str()), ("enabled", "false")]);
        let (a, b) =
            tokio::join!(ada.call("set_user_enabled", &disable_grace), grace.call("set_user_enabled", &disable_ada),);
        let remaining = scalar(&db, ENABLED_ADMINS).await;
        assert!(remaining >= 1, "round {round}: no enabled administrator left ({} and {})", a.status, b.status);
        if a.status == StatusCode::OK && b.status == StatusCode::OK {
            both_went_through += 1;
        }
        // Whoever remains enables the other, who signs in again.
        let ada_enabled = scalar(&db, &format!("SELECT enabled FROM users WHERE id = {ada_id}")).await == 1;
        let (keeper, other, other_id, other_email, other_password) = if ada_enabled {
            (&mut ada, &mut grace, grace_id, "grace@example.com", PASSWORD)
        } else {
            (&mut grace, &mut ada, ada_id, ADMIN_EMAIL, ADMIN_PASSWORD)
        };
        let r = keeper.call("set_user_enabled", &[("id", &id_arg(other_id)), ("enabled", "true")]).await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {:?}", r.body);
        if other.whoami().await.is_none() {
            let r = other.sign_in(other_email, other_password).await;
            assert_eq!(r.status, StatusCode::OK, "round {round}: {:?}", r.body);
        }
        assert_eq!(scalar(&db, ENABLED_ADMINS).await, 2);
    }
    assert_eq!(both_went_through, 0);
}

async fn changing_the_email_ends_pending_invitation_and_reset_links(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;

    // A pending invitation: its link stops working when the address changes.
    let id = admin.invite("old@example.com", &[]).await.body.as_i64().unwrap();
    let mail = sink.wait_for(1, 20).await;
    let token = token_of(&signup_link(mail[0]["text"].as_str().unwrap()));
    assert_eq!(server.client().call("invitation_info", &[("token", &token)]).await.status, StatusCode::OK);
    let r = admin
        .call_json(
            "update_user",
            json!({"id": id, "first_name": "", "last_name": "", "email": "new@example.com", "role_ids": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["invitation_revoked"], json!(true), "the answer offers a new invitation: {:?}", r.body);
    assert_eq!(server.client().call("invitation_info", &[("token", &token)]).await.status, StatusCode::NOT_FOUND);
    let r = server
        .client()
        .call("sign_up", &[("token", &token), ("password", PASSWORD), ("password_confirmation", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    // A new invitation goes to the new address only.
    assert_eq!(admin.call("resend_invitation", &[("id", &id_arg(id))]).await.status, StatusCode::OK);
    let mail = sink.wait_for(2, 20).await;
    assert_eq!(mail[1]["to"], json!(["new@example.com"]));

    // An active user's pending reset link ends too.
    let mut user = server.client();
    let token = token_of(&signup_link(mail[1]["text"].as_str().unwrap()));
    let r =
        user.call("sign_up", &[("token", &token), ("password", PASSWORD), ("password_confirmation", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(server.client().call("forgot_password", &[("email", "new@example.com")]).await.status, StatusCode::OK);
    let mail = sink.wait_for(3, 20).await;
    let reset = token_of(&signup_link(mail[2]["text"].as_str().unwrap()));
    assert_eq!(server.client().call("reset_info", &[("token", &reset)]).await.status, StatusCode::OK);
    let r = admin
        .call_json(
            "update_user",
            json!({"id": id, "first_name": "", "last_name": "", "email": "newer@example.com", "role_ids": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["invitation_revoked"], json!(false), "{:?}", r.body);
    assert_eq!(server.client().call("reset_info", &[("token", &reset)]).await.status, StatusCode::NOT_FOUND);
}
