//! The permission sweep: every registered server function, called anonymously
//! (401 expected) and as a user without roles (403 expected), except a reviewed
//! list of public and self-service functions.

use crate::helpers::*;
use crate::on_both_backends;
use app::auth::Me;
use app::two_factor::SetRoleTwoFactor;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

on_both_backends!(
    every_server_function_refuses_callers_without_permission,
    a_member_owing_a_second_factor_may_only_set_one_up,
    every_server_function_answers_an_unreadable_body_with_4xx_and_no_panic
);

/// Reviewed: what a member of a role that requires two-factor sign-in may
/// call before they have a second factor (besides the public functions).
const SECOND_FACTOR_SETUP: &[&str] = &[
    "sign_out",
    "two_factor_status",
    "begin_totp_setup",
    "enable_totp",
    "begin_passkey_registration",
    "finish_passkey_registration",
    "confirm_identity",
];

/// Reviewed: callable without a session. Each one checks its own token or
/// credentials (or, for `me`, answers "nobody").
const PUBLIC: &[&str] = &[
    "me",
    "sign_in",
    "setup_check",
    "setup",
    "invitation_info",
    "sign_up",
    "forgot_password",
    "reset_info",
    "reset_password",
    "email_confirmation_info",
    "password_strength",
    "password_rules",
    "sign_in_second_step",
    "begin_passkey_sign_in",
    "finish_passkey_sign_in",
    "begin_passkey_second_step",
    "finish_passkey_second_step",
];

/// Reviewed: any signed-in user, whatever their roles, acts on their own
/// account, password and sessions.
const SELF_SERVICE: &[&str] = &[
    "sign_out",
    "account_info",
    "update_my_name",
    "change_password",
    "my_sessions",
    "sign_out_other_sessions",
    "my_applications",
    "two_factor_status",
    "begin_totp_setup",
    "enable_totp",
    "disable_totp",
    "generate_recovery_codes",
    "begin_passkey_registration",
    "finish_passkey_registration",
    "rename_passkey",
    "remove_passkey",
    "confirm_identity",
    "confirm_email",
];

enum Body {
    Form(&'static [(&'static str, &'static str)]),
    Json(Value),
    /// A file upload: these fields and a file.
    Multipart(&'static [(&'static str, &'static str)], &'static [u8]),
}

/// Well-formed arguments for every server function, so that a refusal can
/// only come from the permission check, never from decoding. A function
/// missing here fails the test: add it, with arguments of the right shape.
fn well_formed_args(endpoint: &str) -> Option<Body> {
    use Body::*;
    let query = json!({"search": "", "status": "", "role": "", "sort": "", "after": ""});
    Some(match endpoint {
        "me"
        | "sign_out"
        | "role_options"
        | "list_roles"
        | "account_info"
        | "my_sessions"
        | "sign_out_other_sessions"
        | "password_rules"
        | "email_server_settings"
        | "use_configured_email_server"
        | "email_templates"
        | "list_applications"
        | "my_applications"
        | "two_factor_status"
        | "begin_totp_setup"
        | "begin_passkey_sign_in"
        | "begin_passkey_second_step" => Form(&[]),
        "begin_passkey_registration" => Form(&[("name", "Sneaky")]),
        "finish_passkey_registration" => Form(&[("ceremony", "not-a-ceremony"), ("credential", "{}")]),
        "finish_passkey_sign_in" | "finish_passkey_second_step" => {
            Form(&[("ceremony", "not-a-ceremony"), ("credential", "{}"), ("next", "")])
        }
        "rename_passkey" => Form(&[("id", "1"), ("name", "Sneaky")]),
        "remove_passkey" => Form(&[("id", "1"), ("password", "not the password")]),
        "get_application"
        | "rotate_application_secret"
        | "delete_application"
        | "application_every_claim"
        | "set_application_claims_by_scope" => Form(&[("id", "1")]),
        "set_application_enabled" => Form(&[("id", "1"), ("enabled", "false")]),
        "create_application" => Json(json!({"input": crate::applications::crm("Sneaky")})),
        "update_application" => Json(json!({"id": 1, "input": crate::applications::crm("Sneaky")})),
        "enable_totp" => Form(&[("code", "000000")]),
        "confirm_identity" => Form(&[("password", "not the password"), ("code", "")]),
        "disable_totp" | "generate_recovery_codes" => Form(&[("password", "not the password")]),
        "sign_in_second_step" => Form(&[("code", "000000"), ("next", "")]),
        "user_two_factor" | "reset_two_factor" => Form(&[("id", "1")]),
        "set_role_two_factor" => Form(&[("id", "1"), ("required", "false")]),
        "save_email_server" => Json(json!({"settings": {
            "host": "smtp.example.com", "port": 587, "security": "StartTls", "username": "u",
            "password": {"Set": "secret"}, "from_name": "X", "from_address": "x@example.com"
        }})),
        "send_test_email" => Form(&[("to", "x@example.com")]),
        "save_email_template" => {
            Form(&[("kind", "invitation"), ("subject", "Hi"), ("body_text", "{{link}}"), ("body_html", "{{link}}")])
        }
        "reset_email_template" => Form(&[("kind", "invitation")]),
        "sign_in" => Form(&[("email", "nobody@example.com"), ("password", "not the password"), ("next", "")]),
        "setup_check" | "invitation_info" | "reset_info" | "email_confirmation_info" | "confirm_email" => {
            Form(&[("token", "not-a-token")])
        }
        "setup" => Form(&[
            ("token", "not-a-token"),
            ("email", "x@example.com"),
            ("first_name", "X"),
            ("last_name", "Y"),
            ("password", "correct horse battery staple"),
            ("password_confirmation", "correct horse battery staple"),
        ]),
        "sign_up" | "reset_password" => Form(&[
            ("token", "not-a-token"),
            ("password", "correct horse battery staple"),
            ("password_confirmation", "correct horse battery staple"),
        ]),
        "forgot_password" => Form(&[("email", "nobody@example.com")]),
        "password_strength" => Form(&[("password", "correct horse"), ("email", "x@example.com")]),
        "update_my_name" => Form(&[("first_name", "No"), ("last_name", "Roles")]),
        "change_password" => Form(&[
            ("current_password", "not the password"),
            ("password", "correct horse battery staple"),
            ("password_confirmation", "correct horse battery staple"),
        ]),
        "list_users" => Json(json!({ "query": query })),
        "bulk_progress" => Form(&[("id", "1")]),
        "latest_bulk_job" => Form(&[]),
        "review_import" | "run_import" => Multipart(&[], b"email\nsneaky@example.com\n"),
        "count_users" => Json(json!({ "selection": {"Matching": query} })),
        "bulk_users" => Json(json!({ "selection": {"Matching": query}, "action": "Disable" })),
        "invite_user" => Json(json!({"email": "new@example.com", "role_ids": []})),
        "update_user" => Json(json!({
            "id": 1, "first_name": "A", "last_name": "B", "email": "a@example.com", "role_ids": []
        })),
        "get_user"
        | "resend_invitation"
        | "revoke_invitation"
        | "get_email"
        | "resend_email"
        | "delete_email"
        | "get_role"
        | "delete_role"
        | "end_user_sessions"
        | "unlock_user"
        | "send_email_confirmation" => Form(&[("id", "1")]),
        "set_user_enabled" => Form(&[("id", "1"), ("enabled", "false")]),
        "list_emails" => Form(&[("status", "")]),
        "list_audit" => {
            Json(json!({"query": {"actor": "", "target": "", "action": "", "from": null, "to": null, "before": null}}))
        }
        "create_role" => Form(&[("name", "Sneaky"), ("description", "")]),
        "update_role" => Form(&[("id", "2"), ("name", "Sneaky"), ("description", "")]),
        "set_role_permissions" => Json(json!({"id": 2, "grants": [["Roles", "Update"]]})),
        "role_member_candidates" => Form(&[("role_id", "1"), ("search", "")]),
        "add_role_member" | "remove_role_member" => Form(&[("role_id", "1"), ("user_id", "1")]),
        "user_access" => Form(&[("user_id", "1")]),
        _ => return None,
    })
}

/// Every registered server function, as `(method, endpoint)`, from the
/// server binary's own registry.
fn registered_server_fns() -> Vec<(String, String)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("list-server-fns")
        .env_clear()
        .output()
        .expect("server list-server-fns runs");
    assert!(out.status.success(), "list-server-fns: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (method, path) = l.split_once(' ').expect("METHOD /path");
            let endpoint = path.strip_prefix("/api/").unwrap_or_else(|| panic!("server fn outside /api: {path}"));
            (method.to_string(), endpoint.to_string())
        })
        .collect()
}

/// Raw calls: the sweep reaches every function by the name the server's
/// registry lists, so it cannot name their argument types.
async fn call_with(client: &mut Client, method: &str, endpoint: &str, body: &Body) -> Reply {
    assert_eq!(method, "POST", "{endpoint}: only POST server functions are expected");
    match body {
        Body::Form(args) => client.call_raw(endpoint, args).await,
        Body::Json(v) => client.call_raw_json(endpoint, v.clone()).await,
        Body::Multipart(fields, file) => client.call_raw_multipart(endpoint, fields, Some(file)).await,
    }
}

async fn every_server_function_refuses_callers_without_permission(backend: Backend) {
    let fns = registered_server_fns();
    let names: BTreeSet<&str> = fns.iter().map(|(_, e)| e.as_str()).collect();
    for known in ["me", "list_users", "list_roles", "set_role_permissions", "list_emails"] {
        assert!(names.contains(known), "the registry lists {known}: {names:?}");
    }
    for listed in PUBLIC.iter().chain(SELF_SERVICE) {
        assert!(names.contains(listed), "{listed} is reviewed here but no longer registered: update the lists");
    }
    let missing: Vec<&str> = names.iter().copied().filter(|e| well_formed_args(e).is_none()).collect();
    assert!(missing.is_empty(), "no well-formed arguments for {missing:?}: add them to well_formed_args");

    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut nobody = add_user(&mut admin, &server, "noroles@example.com", &[]).await;
    assert_eq!(nobody.send(Me {}).await.ok().unwrap().apps, Vec::<app::registry::AppId>::new());

    let mut wrong = Vec::new();
    // Anonymous: 401 for everything but the public functions.
    let mut anon = server.client();
    for (method, endpoint) in &fns {
        if PUBLIC.contains(&endpoint.as_str()) {
            continue;
        }
        let r = call_with(&mut anon, method, endpoint, &well_formed_args(endpoint).unwrap()).await;
        if r.status != StatusCode::UNAUTHORIZED {
            wrong.push(format!("anonymous {endpoint}: {} {}", r.status, r.body));
        }
    }
    // Signed in without roles: 403 for everything but public and self-service
    // functions; self-service ones must not refuse for lack of a role (sign_out last).
    let mut order: Vec<&(String, String)> = fns.iter().filter(|(_, e)| !PUBLIC.contains(&e.as_str())).collect();
    order.sort_by_key(|(_, e)| (SELF_SERVICE.contains(&e.as_str()), e == "sign_out"));
    for (method, endpoint) in order {
        let r = call_with(&mut nobody, method, endpoint, &well_formed_args(endpoint).unwrap()).await;
        let ok = if SELF_SERVICE.contains(&endpoint.as_str()) {
            !matches!(r.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) && !r.status.is_server_error()
        } else {
            r.status == StatusCode::FORBIDDEN
        };
        if !ok {
            wrong.push(format!("no roles {endpoint}: {} {}", r.status, r.body));
        }
    }
    assert!(wrong.is_empty(), "server functions that did not refuse as expected:\n{}", wrong.join("\n"));
    assert!(fns.len() >= 30, "only {} server functions listed", fns.len());
}

/// A member of the Administrator role, which requires two-factor sign-in,
/// without a second factor: every function but the public ones, the setup
/// ones and Sign out refuses with `TwoFactorSetupRequired`, although their
/// role grants everything.
async fn a_member_owing_a_second_factor_may_only_set_one_up(backend: Backend) {
    let fns = registered_server_fns();
    for listed in SECOND_FACTOR_SETUP {
        assert!(fns.iter().any(|(_, e)| e == listed), "{listed} is reviewed here but no longer registered");
    }
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    crate::two_factor::enable(&mut admin).await;
    let admin_role = administrator_role(&mut admin).await;
    let mut owing = add_user(&mut admin, &server, "owing@example.com", &[admin_role]).await;
    let r = admin.send(SetRoleTwoFactor { id: admin_role, required: true }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(owing.send(Me {}).await.ok().unwrap().two_factor_setup_owed);

    let mut wrong = Vec::new();
    let mut order: Vec<&(String, String)> = fns.iter().filter(|(_, e)| !PUBLIC.contains(&e.as_str())).collect();
    order.sort_by_key(|(_, e)| (SECOND_FACTOR_SETUP.contains(&e.as_str()), e == "sign_out"));
    for (method, endpoint) in order {
        let r = call_with(&mut owing, method, endpoint, &well_formed_args(endpoint).unwrap()).await;
        let ok = if SECOND_FACTOR_SETUP.contains(&endpoint.as_str()) {
            !matches!(r.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) && !r.status.is_server_error()
        } else {
            r.status == StatusCode::FORBIDDEN && r.body == json!("TwoFactorSetupRequired")
        };
        if !ok {
            wrong.push(format!("owing a second factor {endpoint}: {} {}", r.status, r.body));
        }
    }
    assert!(wrong.is_empty(), "server functions that did not refuse as expected:\n{}", wrong.join("\n"));
}

/// Bodies a server function cannot read: each gets a 4xx with a reason,
/// never a dropped connection, a 5xx or a panic in the server's log. A form
/// or JSON body, or none at all, may reach a public function that takes no
/// arguments (it reads them as "no arguments"), so those may also answer 2xx.
async fn every_server_function_answers_an_unreadable_body_with_4xx_and_no_panic(backend: Backend) {
    let fns = registered_server_fns();
    let db = TestDb::new(backend);
    let log = std::env::temp_dir().join(unique("roster_bodies_log"));
    let server = Server::start_logging(&db, &[("ROSTER_LOG", "info")], Some(&log)).await;
    set_up_admin(&server).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let bodies: [(&str, Option<&str>, &str); 6] = [
        ("form", Some("application/x-www-form-urlencoded"), "nonsense=%ZZ&id=not-a-number"),
        ("json", Some("application/json"), r#"{"nonsense": [1, 2"#),
        ("empty", None, ""),
        ("text without a type", None, "id=1"),
        ("text", Some("text/plain"), "hello"),
        ("multipart without a boundary", Some("multipart/form-data; boundary="), "--\r\n\r\n--"),
    ];
    let mut wrong = Vec::new();
    for (_, endpoint) in &fns {
        for (label, content_type, body) in &bodies {
            let mut req = http
                .post(format!("{}/api/{endpoint}", server.base))
                .header("Origin", &server.base)
                .body(body.to_string());
            if let Some(ct) = content_type {
                req = req.header("Content-Type", *ct);
            }
            match req.send().await {
                Err(e) => wrong.push(format!("{endpoint}, {label} body: no answer ({e})")),
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    let may_succeed =
                        matches!(*label, "form" | "json" | "empty") && PUBLIC.contains(&endpoint.as_str());
                    let fine = status.is_client_error() || (may_succeed && status.is_success());
                    if !fine || text.trim().is_empty() {
                        wrong.push(format!("{endpoint}, {label} body: {status} {text:?}"));
                    }
                }
            }
        }
    }
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(wrong.is_empty(), "unreadable bodies not refused with 4xx:\n{}", wrong.join("\n"));
    assert!(!logged.contains("panicked"), "the server panicked:\n{logged}");
    assert!(fns.len() >= 30, "only {} server functions listed", fns.len());
}
