//! The Audit log: every registered application opens at its route for the
//! people who may view it (the 403 page for the others); actions write audit
//! entries that only audit viewers read.

use crate::account::NEW_PASSWORD;
use crate::helpers::*;
use crate::on_both_backends;
use app::audit::{AuditQuery, ListAudit};
use app::auth::{ForgotPassword, Me};
use app::email_queue::{DeleteEmail, GetEmail};
use app::invitations::{ResendInvitation, RevokeInvitation, SignUp};
use app::registry::{Permission, APPLICATIONS};
use app::users::{EndUserSessions, SetUserEnabled, UpdateUser};
use reqwest::StatusCode;
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
        let role = create_role(&mut admin, &format!("{} viewers", app.name), &[(app.id, Permission::View)]).await;
        let mut viewer = add_user(&mut admin, &server, &format!("{}.viewer@example.com", app.key), &[role]).await;
        assert_eq!(viewer.send(Me {}).await.ok().unwrap().apps, [app.id], "{} viewer sees one app", app.name);

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
    let id = admin.invite("audited@example.com", &[]).await.ok();
    admin.send(ResendInvitation { id }).await;
    let name = UpdateUser {
        id,
        first_name: "Audrey".into(),
        last_name: "Hale".into(),
        email: "audited@example.com".into(),
        role_ids: vec![],
    };
    admin.send(name).await;
    admin.send(SetUserEnabled { id, enabled: false }).await;
    admin.send(SetUserEnabled { id, enabled: true }).await;
    admin.send(EndUserSessions { id }).await;
    let email_id = admin.emails("").await[0].id;
    admin.send(DeleteEmail { id: email_id }).await;
    admin.send(RevokeInvitation { id }).await;
    admin.send(ForgotPassword { email: ADMIN_EMAIL.into() }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let entries = audit_entries(&mut admin, "").await;
    let actions: Vec<String> = entries.iter().map(|e| word_of(&e.action)).collect();
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
    let updated = entries.iter().find(|e| word_of(&e.action) == "user.updated").unwrap();
    assert!(updated.details.contains("first name: \"\" → \"Audrey\""), "{updated:?}");
    assert!(updated.actor_email == ADMIN_EMAIL && updated.ip == "127.0.0.1", "{updated:?}");
    let query = AuditQuery { target: "audited@".into(), action: word("user.disabled"), ..Default::default() };
    let filtered = admin.send(ListAudit { query }).await;
    assert_eq!(filtered.ok().entries.len(), 1);

    // A signed-in user with no roles cannot read it.
    let link = {
        let e = admin.send(ResendInvitation { id }).await;
        assert_eq!(e.status, StatusCode::OK);
        let eid = admin.emails("").await[0].id;
        signup_link(&admin.send(GetEmail { id: eid }).await.ok().body_text)
    };
    let mut plain = server.client();
    let t = token_of(&link);
    assert_eq!(
        plain
            .send(SignUp {
                token: t.to_string(),
                first_name: None,
                last_name: None,
                password: NEW_PASSWORD.into(),
                password_confirmation: NEW_PASSWORD.into()
            })
            .await
            .status,
        StatusCode::OK
    );
    let r = plain.send(ListAudit { query: AuditQuery::default() }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = server.client().send(ListAudit { query: AuditQuery::default() }).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
