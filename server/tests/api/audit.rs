//! The Audit log: every registered application opens at its route for the
//! people who may view it (the 403 page for the others); actions write audit
//! entries that only audit viewers read.

use crate::account::NEW_PASSWORD;
use crate::helpers::*;
use crate::on_both_backends;
use app::registry::APPLICATIONS;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    every_application_page_opens_for_its_viewers_only,
    actions_write_audit_entries_and_only_audit_viewers_read_them,
);

async fn every_application_page_opens_for_its_viewers_only(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let nobody = add_user(&mut admin, &server, "no.roles@example.com", &[]).await;
    for app in APPLICATIONS {
        let role = create_role(&mut admin, &format!("{} viewers", app.name), json!([[app.id, "View"]])).await;
        let mut viewer = add_user(&mut admin, &server, &format!("{}.viewer@example.com", app.key), &[role]).await;
        assert_eq!(viewer.call("me", &[]).await.body["apps"], json!([app.id]), "{} viewer sees one app", app.name);

        let page = viewer.get(app.route).await;
        assert_eq!(page.status(), StatusCode::OK, "{} at {} for a viewer", app.name, app.route);
        // (Hydration markers `<!>` may follow a heading's text when it comes from a prop.)
        let html = page.text().await.unwrap().replace("<!>", "");
        assert!(html.contains(&format!("<h1>{}</h1>", app.name)), "{} heading in the page: {html}", app.name);
        assert!(!html.contains("Access denied"), "{}: {html}", app.name);

        let page = nobody.get(app.route).await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{} at {} without View", app.name, app.route);
        let html = page.text().await.unwrap();
        assert!(html.contains("Access denied") && html.contains(app.name), "{}: {html}", app.name);
    }
}

async fn actions_write_audit_entries_and_only_audit_viewers_read_them(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut anon = server.client();
    anon.sign_in(ADMIN_EMAIL, "definitely wrong password").await;
    let id = admin.invite("audited@example.com", &[]).await.body.as_i64().unwrap().to_string();
    admin.call("resend_invitation", &[("id", &id)]).await;
    admin.call_json("update_user", json!({"id": id.parse::<i64>().unwrap(), "first_name": "Audrey", "last_name": "Hale", "email": "audited@example.com", "role_ids": []})).await;
    admin.call("set_user_enabled", &[("id", &id), ("enabled", "false")]).await;
    admin.call("set_user_enabled", &[("id", &id), ("enabled", "true")]).await;
    admin.call("end_user_sessions", &[("id", &id)]).await;
    let email_id = admin.emails("").await[0]["id"].as_i64().unwrap().to_string();
    admin.call("delete_email", &[("id", &email_id)]).await;
    admin.call("revoke_invitation", &[("id", &id)]).await;
    admin.call("forgot_password", &[("email", ADMIN_EMAIL)]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let entries = audit_entries(&mut admin, "").await;
    let actions: Vec<String> = entries.iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
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
    let updated = entries.iter().find(|e| e["action"] == json!("user.updated")).unwrap();
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
