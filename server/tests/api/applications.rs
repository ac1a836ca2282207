//! Applications: registering the organization's own applications, their
//! client secrets, and their place in roles and on the Dashboard.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    new_application_shows_its_secret_once_and_stores_a_hash,
    invalid_details_are_refused_with_the_reason,
    rotate_secret_replaces_the_secret,
    public_clients_have_no_secret,
    changes_are_audited_and_delete_takes_the_grants,
    applications_view_does_not_reach_changes_or_secrets,
    dashboard_shows_registered_applications_a_person_may_view,
    administrator_holds_every_registered_application,
    roles_hand_out_registered_applications_only_within_the_callers_access,
    roles_grant_only_applications_that_exist,
);

// ---- helpers ------------------------------------------------------------------------

pub fn crm(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Customers and deals",
        "mark": "Letter",
        "colour": "Blue",
        "launch_url": "https://crm.example.com/",
        "redirect_uris": "https://crm.example.com/oidc/callback\nhttp://localhost:8080/cb",
        "post_logout_redirect_uris": "https://crm.example.com/bye",
        "client_type": "Confidential",
    })
}

/// Register `input`; returns the credentials (id, client_id, client_secret).
pub async fn register(admin: &mut Client, input: Value) -> Value {
    let r = admin.call_json("create_application", json!({ "input": input })).await;
    assert_eq!(r.status, StatusCode::OK, "create_application: {:?}", r.body);
    r.body
}

fn registered(id: i64) -> Value {
    json!({ "Registered": id })
}

async fn tiles(c: &mut Client) -> Vec<String> {
    let r = c.call("my_applications", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

// ---- the tests ----------------------------------------------------------------------

async fn new_application_shows_its_secret_once_and_stores_a_hash(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let secret = c["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256 bits, base64url");
    assert_eq!(c["client_id"].as_str().unwrap().len(), 32);

    let id = c["id"].as_i64().unwrap();
    let d = admin.call("application_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["name"], json!("CRM"));
    assert_eq!(d.body["redirect_uris"], json!(["https://crm.example.com/oidc/callback", "http://localhost:8080/cb"]));
    assert!(!d.body.to_string().contains(secret), "the secret is never shown again");
    let list = admin.call("list_applications", &[]).await;
    assert!(!list.body.to_string().contains(secret));
    assert_eq!(list.body[0]["client_id"], c["client_id"]);

    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM applications WHERE LENGTH(secret_hash) = 64").await, 1);
    let stored = scalar(&db, &format!("SELECT COUNT(*) FROM applications WHERE secret_hash = '{secret}'")).await;
    assert_eq!(stored, 0, "only a hash is stored");
}

async fn invalid_details_are_refused_with_the_reason(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let cases = [
        ("redirect_uris", "http://crm.example.com/cb", "must use https"),
        ("redirect_uris", "https://crm.example.com/cb#top", "#fragment"),
        ("redirect_uris", "/cb", "not an absolute URL"),
        ("redirect_uris", "  ", "at least one redirect URI"),
        ("post_logout_redirect_uris", "http://crm.example.com/bye", "must use https"),
        ("launch_url", "javascript:alert(1)", "not an absolute URL"),
        ("launch_url", "", "Enter the launch URL"),
        ("name", " ", "Enter a name"),
    ];
    for (field, value, why) in cases {
        let mut input = crm("CRM");
        input[field] = json!(value);
        let r = admin.call_json("create_application", json!({ "input": input })).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field} = {value:?}: {:?}", r.body);
        assert!(r.body.to_string().contains(why), "{field} = {value:?}: {:?}", r.body);
    }
    register(&mut admin, crm("CRM")).await;
    let r = admin.call_json("create_application", json!({ "input": crm("crm") })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "names are unique regardless of case: {:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM applications").await, 1);
}

async fn rotate_secret_replaces_the_secret(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let id = id_arg(c["id"].as_i64().unwrap());
    let before = scalar(&db, "SELECT COUNT(*) FROM applications WHERE secret_hash IS NOT NULL").await;
    assert_eq!(before, 1);
    let r = admin.call("rotate_application_secret", &[("id", &id)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let new = r.body["client_secret"].as_str().unwrap();
    assert_eq!(new.len(), 43);
    assert_ne!(new, c["client_secret"].as_str().unwrap());
    assert_eq!(r.body["client_id"], c["client_id"], "the client id stays");
    assert_eq!(audit_entries(&mut admin, "application.secret_rotated").await.len(), 1);
}

async fn public_clients_have_no_secret(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut input = crm("Wiki");
    input["client_type"] = json!("Public");
    let c = register(&mut admin, input).await;
    assert_eq!(c["client_secret"], Value::Null);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM applications WHERE secret_hash IS NULL").await, 1);
    let r = admin.call("rotate_application_secret", &[("id", &id_arg(c["id"].as_i64().unwrap()))]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
}

async fn changes_are_audited_and_delete_takes_the_grants(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let id = c["id"].as_i64().unwrap();
    let role = create_role(&mut admin, "Sales", json!([[registered(id), "Update"]])).await;
    let d = admin.call("role_detail", &[("id", &id_arg(role))]).await;
    assert_eq!(d.body["grants"], json!([[registered(id), "View"], [registered(id), "Update"]]));
    assert_eq!(d.body["applications"][0]["name"], json!("CRM"));

    let mut input = crm("CRM 2");
    input["launch_url"] = json!("https://crm2.example.com/");
    let r = admin.call_json("update_application", json!({"id": id, "input": input})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = admin.call("application_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(d.body["name"], json!("CRM 2"));
    assert_eq!(d.body["launch_url"], json!("https://crm2.example.com/"));
    assert_eq!(d.body["roles"], json!(["Administrator", "Sales"]), "who sees its tile");

    for enabled in ["false", "true"] {
        let r = admin.call("set_application_enabled", &[("id", &id_arg(id)), ("enabled", enabled)]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = admin.call("delete_application", &[("id", &id_arg(id))]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = admin.call("role_detail", &[("id", &id_arg(role))]).await;
    assert_eq!(d.body["grants"], json!([]), "the role lost its permissions on it");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM role_permissions WHERE application LIKE 'app:%'").await, 0);
    let r = admin.call("application_detail", &[("id", &id_arg(id))]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    for action in [
        "application.created",
        "application.updated",
        "application.disabled",
        "application.enabled",
        "application.deleted",
    ] {
        let entries = audit_entries(&mut admin, action).await;
        assert_eq!(entries.len(), 1, "{action}: {entries:?}");
        assert_eq!(entries[0]["actor_email"], json!(ADMIN_EMAIL));
        assert_eq!(entries[0]["target_type"], json!("application"));
    }
    let updated = &audit_entries(&mut admin, "application.updated").await[0];
    assert!(updated["details"].as_str().unwrap().contains("crm2.example.com"), "{updated:?}");
}

async fn applications_view_does_not_reach_changes_or_secrets(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let id = id_arg(c["id"].as_i64().unwrap());
    let viewers = create_role(&mut admin, "App viewers", json!([["Applications", "View"]])).await;
    let mut viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;

    assert_eq!(viewer.call("list_applications", &[]).await.status, StatusCode::OK);
    let d = viewer.call("application_detail", &[("id", &id)]).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(!d.body.to_string().contains(c["client_secret"].as_str().unwrap()));
    let forbidden = [
        viewer.call_json("create_application", json!({"input": crm("Mine")})).await,
        viewer.call_json("update_application", json!({"id": c["id"], "input": crm("Mine")})).await,
        viewer.call("set_application_enabled", &[("id", &id), ("enabled", "false")]).await,
        viewer.call("rotate_application_secret", &[("id", &id)]).await,
        viewer.call("delete_application", &[("id", &id)]).await,
    ];
    for r in forbidden {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    // Seeing Applications is not opening them.
    assert_eq!(tiles(&mut viewer).await, Vec::<String>::new());
    assert_eq!(viewer.get("/applications").await.status(), StatusCode::OK);
}

async fn dashboard_shows_registered_applications_a_person_may_view(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let crm_id = register(&mut admin, crm("CRM")).await["id"].as_i64().unwrap();
    let wiki_id = register(&mut admin, crm("Wiki")).await["id"].as_i64().unwrap();
    let sales = create_role(&mut admin, "Sales", json!([[registered(crm_id), "View"]])).await;
    let mut laura = add_user(&mut admin, &server, "laura@example.com", &[sales]).await;
    let mut other = add_user(&mut admin, &server, "other@example.com", &[]).await;

    assert_eq!(tiles(&mut laura).await, vec!["CRM"]);
    let r = laura.call("my_applications", &[]).await;
    assert_eq!(r.body[0]["launch_url"], json!("https://crm.example.com/"));
    assert_eq!(tiles(&mut other).await, Vec::<String>::new());
    assert_eq!(tiles(&mut admin).await, vec!["CRM", "Wiki"], "the administrator sees every one");
    // Registered applications are not Roster's own: no navigation entry, no access to Roster's pages.
    assert_eq!(laura.call("me", &[]).await.body["apps"], json!([]));
    assert_eq!(laura.call("list_applications", &[]).await.status, StatusCode::FORBIDDEN);

    // Disabled: the tile disappears at once, for everyone.
    admin.call("set_application_enabled", &[("id", &id_arg(crm_id)), ("enabled", "false")]).await;
    assert_eq!(tiles(&mut laura).await, Vec::<String>::new());
    assert_eq!(tiles(&mut admin).await, vec!["Wiki"]);
    admin.call("set_application_enabled", &[("id", &id_arg(crm_id)), ("enabled", "true")]).await;
    assert_eq!(tiles(&mut laura).await, vec!["CRM"]);

    // A role change shows at the next request.
    let r =
        admin.call_json("set_role_permissions", json!({"id": sales, "grants": [[registered(wiki_id), "View"]]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(tiles(&mut laura).await, vec!["Wiki"]);
}

async fn administrator_holds_every_registered_application(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let id = register(&mut admin, crm("CRM")).await["id"].as_i64().unwrap();
    let admin_role = administrator_role(&mut admin).await;
    let d = admin.call("role_detail", &[("id", &id_arg(admin_role))]).await;
    let grants = d.body["grants"].as_array().unwrap();
    for p in ["View", "Create", "Update", "Delete"] {
        assert!(grants.contains(&json!([registered(id), p])), "{p}: {grants:?}");
        assert!(grants.contains(&json!(["Applications", p])), "{p}: {grants:?}");
    }
    let me = user_id(&mut admin).await;
    let access = admin.call("user_access", &[("user_id", &id_arg(me))]).await;
    let lines = access.body["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["app_name"] == json!("CRM") && l["permission"] == json!("Delete")),
        "effective access names the application: {lines:?}"
    );
}

async fn roles_hand_out_registered_applications_only_within_the_callers_access(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let crm_id = register(&mut admin, crm("CRM")).await["id"].as_i64().unwrap();
    let wiki_id = register(&mut admin, crm("Wiki")).await["id"].as_i64().unwrap();
    let managers = create_role(
        &mut admin,
        "Role managers",
        json!([["Roles", "Update"], ["Users", "View"], [registered(wiki_id), "View"]]),
    )
    .await;
    let sales = create_role(&mut admin, "Sales", json!([[registered(crm_id), "View"]])).await;
    let (mut mallory, mallory_id) = add_user_and_id(&mut admin, &server, "mallory@example.com", &[managers]).await;

    // Ticking an application she cannot open herself: refused.
    let r = mallory
        .call_json("set_role_permissions", json!({"id": managers, "grants": [[registered(crm_id), "View"]]}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // Giving herself a role that grants it: refused.
    let r = mallory.call("add_role_member", &[("role_id", &id_arg(sales)), ("user_id", &id_arg(mallory_id))]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(tiles(&mut mallory).await, vec!["Wiki"]);
    let r = mallory
        .call_json("set_role_permissions", json!({"id": managers, "grants": [["Roles", "Update"], ["Users", "View"], [registered(wiki_id), "Update"]]}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "View on Wiki is not Update: {:?}", r.body);
    // What she holds she may hand out.
    let r = mallory
        .call_json("set_role_permissions", json!({"id": sales, "grants": [[registered(wiki_id), "View"]]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn roles_grant_only_applications_that_exist(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Future", json!([])).await;
    let r = admin.call_json("set_role_permissions", json!({"id": role, "grants": [[registered(77), "View"]]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let id = register(&mut admin, crm("CRM")).await["id"].as_i64().unwrap();
    admin.call("delete_application", &[("id", &id_arg(id))]).await;
    let again = register(&mut admin, crm("CRM")).await["id"].as_i64().unwrap();
    assert_ne!(again, id, "an id is never given again, so old grants cannot reach a new application");
}
