//! Roles, per-application permissions, members and effective access.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    restricted_user_gets_exactly_the_granted_applications,
    permission_change_applies_at_the_next_request_on_another_process,
    last_administrator_keeps_the_role,
    builtin_administrator_role_cannot_be_changed,
    no_privilege_escalation_through_roles_or_users,
    role_names_are_unique_regardless_of_case,
    create_update_and_delete_imply_view,
    deleting_a_role_takes_it_from_its_members,
    effective_access_names_the_granting_roles,
    seed_demo_creates_the_demo_roles_once,
    role_changes_are_audited,
);

// ---- helpers ------------------------------------------------------------------------

async fn apps(c: &mut Client) -> Value {
    let r = c.call("me", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body["apps"].clone()
}

// ---- the tests ----------------------------------------------------------------------

async fn restricted_user_gets_exactly_the_granted_applications(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    assert!(apps(&mut admin).await.as_array().unwrap().len() >= 3, "the administrator sees everything");
    let dcm =
        create_role(&mut admin, "Digital Channel Manager", json!([["Users", "View"], ["EmailQueue", "View"]])).await;
    let mut laura = add_user(&mut admin, &server, "lauram@kbank.com", &[dcm]).await;

    assert_eq!(apps(&mut laura).await, json!(["Users", "EmailQueue"]));
    assert_eq!(
        laura
            .call_json(
                "list_users",
                json!({"query": {"search": "", "status": "", "role": "", "sort": "", "after": ""}})
            )
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(laura.call("list_emails", &[("status", "")]).await.status, StatusCode::OK);
    assert_eq!(laura.call("list_roles", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(laura.call("role_detail", &[("id", &id_arg(dcm))]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(laura.call("create_role", &[("name", "Mine"), ("description", "")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(laura.invite("someone@example.com", &[]).await.status, StatusCode::FORBIDDEN, "View is not Create");

    // Opening Roles by its address shows the 403 page, not a blank one.
    let page = laura.get("/roles").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = page.text().await.unwrap();
    assert!(html.contains("Access denied") && html.contains("Back to the Dashboard"), "{html}");
    let page = laura.get("/users").await;
    assert_eq!(page.status(), StatusCode::OK);
}

async fn permission_change_applies_at_the_next_request_on_another_process(backend: Backend) {
    let db = TestDb::new(backend);
    let a = Server::start(&db).await;
    let b = Server::start(&db).await;
    let mut admin = set_up_admin(&a).await;
    let dcm =
        create_role(&mut admin, "Digital Channel Manager", json!([["Users", "View"], ["EmailQueue", "View"]])).await;
    // Laura signs up and works on process B.
    let mut laura = add_user(&mut admin, &b, "lauram@kbank.com", &[dcm]).await;
    assert_eq!(laura.call("list_roles", &[]).await.status, StatusCode::FORBIDDEN);

    // The administrator grants Roles View on process A.
    let r = admin
        .call_json(
            "set_role_permissions",
            json!({"id": dcm, "grants": [["Users", "View"], ["EmailQueue", "View"], ["Roles", "View"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(apps(&mut laura).await, json!(["Users", "Roles", "EmailQueue"]), "next request on B, same session");
    assert_eq!(laura.call("list_roles", &[]).await.status, StatusCode::OK);

    // And taken away again, just as fast.
    let r = admin.call_json("set_role_permissions", json!({"id": dcm, "grants": [["Users", "View"]]})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(laura.call("list_roles", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(laura.call("list_emails", &[("status", "")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(apps(&mut laura).await, json!(["Users"]));
}

async fn last_administrator_keeps_the_role(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let ada = user_id(&mut admin).await;

    let r = admin.call("remove_role_member", &[("role_id", &id_arg(admin_role)), ("user_id", &id_arg(ada))]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.body.to_string().contains("last Global administrator"), "{:?}", r.body);
    assert!(admin.call("me", &[]).await.body["is_admin"] == json!(true));

    // With a second administrator, the first may go; then the second is the last.
    let (mut grace, grace_id) = add_user_and_id(&mut admin, &server, "grace@example.com", &[admin_role]).await;
    let r = grace.call("remove_role_member", &[("role_id", &id_arg(admin_role)), ("user_id", &id_arg(ada))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(admin.call("list_roles", &[]).await.status, StatusCode::FORBIDDEN, "Ada lost it at her next request");
    let r = grace.call("remove_role_member", &[("role_id", &id_arg(admin_role)), ("user_id", &id_arg(grace_id))]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    // The Users application asks the same guard.
    let r = grace
        .call_json(
            "update_user",
            json!({"id": grace_id, "first_name": "", "last_name": "", "email": "grace@example.com", "role_ids": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = grace.call("set_user_enabled", &[("id", &id_arg(grace_id)), ("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.builtin = 'administrator'"
        )
        .await,
        1
    );
}

async fn builtin_administrator_role_cannot_be_changed(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let id = administrator_role(&mut admin).await;
    let attempts = [
        admin.call("update_role", &[("id", &id_arg(id)), ("name", "Boss"), ("description", "")]).await,
        admin.call_json("set_role_permissions", json!({"id": id, "grants": [["Users", "View"]]})).await,
        admin.call("delete_role", &[("id", &id_arg(id))]).await,
    ];
    for r in attempts {
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert!(
            r.body.to_string().contains("The built-in Administrator role cannot be changed or deleted"),
            "{:?}",
            r.body
        );
    }
    let d = admin.call("role_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(d.body["name"], json!("Administrator"));
    assert_eq!(d.body["builtin"], json!(true));
    assert!(
        d.body["grants"].as_array().unwrap().contains(&json!(["Roles", "Delete"])),
        "every permission: {:?}",
        d.body
    );
}

async fn no_privilege_escalation_through_roles_or_users(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let editor = create_role(
        &mut admin,
        "Role Editor",
        json!([["Roles", "View"], ["Roles", "Update"], ["Users", "View"], ["Users", "Update"]]),
    )
    .await;
    let mailer = create_role(&mut admin, "Mailer", json!([["EmailQueue", "View"]])).await;
    let empty = create_role(&mut admin, "Empty", json!([])).await;
    let (mut rita, rita_id) = add_user_and_id(&mut admin, &server, "rita@example.com", &[editor]).await;

    // Grant what she does not hold: refused, and nothing changes.
    let r = rita.call_json("set_role_permissions", json!({"id": empty, "grants": [["Users", "Delete"]]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = rita
        .call_json(
            "set_role_permissions",
            json!({"id": editor, "grants": [["Roles", "Update"], ["EmailQueue", "View"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not even on her own role: {:?}", r.body);
    assert_eq!(admin.call("role_detail", &[("id", &id_arg(empty))]).await.body["grants"], json!([]));
    // What she holds, she may grant.
    let r = rita.call_json("set_role_permissions", json!({"id": empty, "grants": [["Users", "Update"]]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!([["Users", "View"], ["Users", "Update"]]));

    // Membership is a grant too: not a role beyond her own, never Administrator.
    for role in [mailer, admin_role] {
        let r = rita.call("add_role_member", &[("role_id", &id_arg(role)), ("user_id", &id_arg(rita_id))]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "role {role}: {:?}", r.body);
    }
    let ada = user_id(&mut admin).await;
    let r = rita.call("remove_role_member", &[("role_id", &id_arg(admin_role)), ("user_id", &id_arg(ada))]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // The same rule in the Users application.
    let r = rita
        .call_json(
            "update_user",
            json!({"id": rita_id, "first_name": "", "last_name": "", "email": "rita@example.com", "role_ids": [editor, mailer]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(apps(&mut rita).await, json!(["Users", "Roles"]));
    // A role within her own access she may hand out.
    let r = rita.call("add_role_member", &[("role_id", &id_arg(empty)), ("user_id", &id_arg(rita_id))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn role_names_are_unique_regardless_of_case(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let r = admin.call("create_role", &[("name", "  Content Editor "), ("description", " Writes things. ")]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body.as_i64().unwrap();
    let d = admin.call("role_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(
        (d.body["name"].clone(), d.body["description"].clone()),
        (json!("Content Editor"), json!("Writes things."))
    );

    let r = admin.call("create_role", &[("name", "content EDITOR"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.to_string().contains("A role named content EDITOR already exists."), "{:?}", r.body);
    let r = admin.call("create_role", &[("name", "administrator"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the built-in name is taken too");
    let r = admin.call("create_role", &[("name", "   "), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = "x".repeat(101);
    assert_eq!(
        admin.call("create_role", &[("name", &long), ("description", "")]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let other = admin.call("create_role", &[("name", "Reviewer"), ("description", "")]).await.body.as_i64().unwrap();
    let r = admin.call("update_role", &[("id", &id_arg(other)), ("name", "CONTENT editor"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = admin.call("update_role", &[("id", &id_arg(id)), ("name", "content editor"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::OK, "a role may change the case of its own name: {:?}", r.body);
    let r = admin.call("update_role", &[("id", &id_arg(999_999)), ("name", "Ghost"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn create_update_and_delete_imply_view(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let id = create_role(&mut admin, "Cleaner", json!([["EmailQueue", "Delete"], ["Users", "Update"]])).await;
    let d = admin.call("role_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(
        d.body["grants"],
        json!([["Users", "View"], ["Users", "Update"], ["EmailQueue", "View"], ["EmailQueue", "Delete"]])
    );
    let r = admin.call_json("set_role_permissions", json!({"id": id, "grants": [["EmailQueue", "Create"]]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("Email queue has no Create permission."), "{:?}", r.body);
    let r = admin.call_json("set_role_permissions", json!({"id": id, "grants": [["Nope", "View"]]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an unknown application is refused: {:?}", r.body);
    assert!(r.body["Invalid"].as_str().unwrap_or_default().contains("Nope"), "the reason names it: {:?}", r.body);
}

async fn deleting_a_role_takes_it_from_its_members(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Temporary", json!([["EmailQueue", "View"]])).await;
    let mut tom = add_user(&mut admin, &server, "tom@example.com", &[role]).await;
    assert_eq!(apps(&mut tom).await, json!(["EmailQueue"]));
    let list = admin.call("list_roles", &[]).await;
    let row = list.body.as_array().unwrap().iter().find(|r| r["id"] == json!(role)).unwrap().clone();
    assert_eq!(row["member_count"], json!(1));

    let r = admin.call("delete_role", &[("id", &id_arg(role))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!(1), "one user lost it");
    assert_eq!(apps(&mut tom).await, json!([]));
    assert_eq!(admin.call("role_detail", &[("id", &id_arg(role))]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM role_permissions WHERE role_id NOT IN (SELECT id FROM roles)").await,
        0
    );
}

async fn effective_access_names_the_granting_roles(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let a = create_role(&mut admin, "Alpha", json!([["Users", "View"], ["EmailQueue", "View"]])).await;
    let b = create_role(&mut admin, "Beta", json!([["Users", "Update"]])).await;
    let (mut u, uid) = add_user_and_id(&mut admin, &server, "both@example.com", &[a, b]).await;

    let r = admin.call("user_access", &[("user_id", &id_arg(uid))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["is_admin"], json!(false));
    assert_eq!(
        r.body["lines"],
        json!([
            {"app": "Users", "app_name": "Users", "permission": "View", "granted_by": ["Alpha", "Beta"]},
            {"app": "Users", "app_name": "Users", "permission": "Update", "granted_by": ["Beta"]},
            {"app": "EmailQueue", "app_name": "Email queue", "permission": "View", "granted_by": ["Alpha"]},
        ])
    );
    let ada = user_id(&mut admin).await;
    let r = admin.call("user_access", &[("user_id", &id_arg(ada))]).await;
    assert_eq!(r.body["is_admin"], json!(true));
    assert!(r.body["lines"].as_array().unwrap().iter().all(|l| l["granted_by"] == json!(["Administrator"])));
    assert_eq!(u.call("user_access", &[("user_id", &id_arg(ada))]).await.status, StatusCode::OK, "Users View suffices");
    assert_eq!(admin.call("user_access", &[("user_id", "999999")]).await.status, StatusCode::NOT_FOUND);
}

async fn seed_demo_creates_the_demo_roles_once(backend: Backend) {
    let db = TestDb::new(backend);
    let seed = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("seed-demo")
            .env_clear()
            .env("ROSTER_DATABASE_URL", &db.url)
            .env("ROSTER_CONFIG", "/nonexistent/roster.toml")
            .output()
            .expect("server seed-demo runs");
        assert!(out.status.success(), "seed-demo: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = seed();
    assert!(first.contains("Created the role Digital Channel Manager."), "{first}");
    assert!(first.contains("Created the role Content Editor."), "{first}");
    let again = seed();
    assert!(again.contains("The role Digital Channel Manager already exists"), "{again}");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM roles").await, 3);

    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let list = admin.call("list_roles", &[]).await;
    let id = list.body.as_array().unwrap().iter().find(|r| r["name"] == json!("Digital Channel Manager")).unwrap()
        ["id"]
        .as_i64()
        .unwrap();
    let d = admin.call("role_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(d.body["grants"], json!([["Users", "View"], ["EmailQueue", "View"]]));
}

async fn role_changes_are_audited(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Auditors", json!([["Users", "View"]])).await;
    let (_, ann_id) = add_user_and_id(&mut admin, &server, "ann@example.com", &[]).await;
    let both = [("role_id", id_arg(role)), ("user_id", id_arg(ann_id))];
    let both: Vec<(&str, &str)> = both.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(admin.call("add_role_member", &both).await.status, StatusCode::OK);
    assert_eq!(admin.call("remove_role_member", &both).await.status, StatusCode::OK);
    let r =
        admin.call("update_role", &[("id", &id_arg(role)), ("name", "Auditors"), ("description", "Read only")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(admin.call("delete_role", &[("id", &id_arg(role))]).await.status, StatusCode::OK);

    let entries: Vec<(String, String)> = audit_entries(&mut admin, "")
        .await
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("role."))
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["details"].as_str().unwrap().to_string()))
        .rev()
        .collect();
    let expected = [
        ("role.created", ""),
        ("role.permissions_changed", "nothing → Users: View"),
        ("role.members_changed", "added ann@example.com"),
        ("role.members_changed", "removed ann@example.com"),
        ("role.updated", "description: \"\" → \"Read only\""),
        ("role.deleted", "0 members lost it"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(a, d)| (a.to_string(), d.to_string())).collect();
    assert_eq!(entries, expected);
}
