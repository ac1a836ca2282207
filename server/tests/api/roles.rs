//! Roles, per-application permissions, members and effective access.

use crate::helpers::*;
use crate::on_both_backends;
use app::auth::Me;
use app::email_queue::ListEmails;
use app::registry::{AppId, Permission};
use app::roles::{
    AccessLine, AddRoleMember, CreateRole, DeleteRole, GetRole, ListRoles, RemoveRoleMember, UpdateRole, UserAccess,
};
use app::users::{ListUsers, SetUserEnabled, UpdateUser, UserQuery};
use reqwest::StatusCode;
use serde_json::json;

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

async fn apps(c: &mut Client) -> Vec<AppId> {
    c.send(Me {}).await.ok().expect("signed in").apps
}

// ---- the tests ----------------------------------------------------------------------

async fn restricted_user_gets_exactly_the_granted_applications(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    assert!(apps(&mut admin).await.len() >= 3, "the administrator sees everything");
    let dcm = create_role(
        &mut admin,
        "Digital Channel Manager",
        &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)],
    )
    .await;
    let mut laura = add_user(&mut admin, &server, "lauram@kbank.com", &[dcm]).await;

    assert_eq!(apps(&mut laura).await, [AppId::Users, AppId::EmailQueue]);
    assert_eq!(laura.send(ListUsers { query: UserQuery::default() }).await.status, StatusCode::OK);
    assert_eq!(laura.send(ListEmails { status: String::new(), before: None }).await.status, StatusCode::OK);
    assert_eq!(laura.send(ListRoles {}).await.status, StatusCode::FORBIDDEN);
    assert_eq!(laura.send(GetRole { id: dcm }).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        laura.send(CreateRole { name: "Mine".into(), description: String::new() }).await.status,
        StatusCode::FORBIDDEN
    );
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
    let dcm = create_role(
        &mut admin,
        "Digital Channel Manager",
        &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)],
    )
    .await;
    // Laura signs up and works on process B.
    let mut laura = add_user(&mut admin, &b, "lauram@kbank.com", &[dcm]).await;
    assert_eq!(laura.send(ListRoles {}).await.status, StatusCode::FORBIDDEN);

    // The administrator grants Roles View on process A.
    let r = set_grants(
        &mut admin,
        dcm,
        &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View), (AppId::Roles, Permission::View)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        apps(&mut laura).await,
        [AppId::Users, AppId::Roles, AppId::EmailQueue],
        "next request on B, same session"
    );
    assert_eq!(laura.send(ListRoles {}).await.status, StatusCode::OK);

    // And taken away again, just as fast.
    let r = set_grants(&mut admin, dcm, &[(AppId::Users, Permission::View)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(laura.send(ListRoles {}).await.status, StatusCode::FORBIDDEN);
    assert_eq!(laura.send(ListEmails { status: String::new(), before: None }).await.status, StatusCode::FORBIDDEN);
    assert_eq!(apps(&mut laura).await, [AppId::Users]);
}

async fn last_administrator_keeps_the_role(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let ada = user_id(&mut admin).await;

    let r = admin.send(RemoveRoleMember { role_id: admin_role, user_id: ada }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.body.to_string().contains("last Global administrator"), "{:?}", r.body);
    assert!(admin.send(Me {}).await.ok().unwrap().is_admin);

    // With a second administrator, the first may go; then the second is the last.
    let (mut grace, grace_id) = add_user_and_id(&mut admin, &server, "grace@example.com", &[admin_role]).await;
    let r = grace.send(RemoveRoleMember { role_id: admin_role, user_id: ada }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(admin.send(ListRoles {}).await.status, StatusCode::FORBIDDEN, "Ada lost it at her next request");
    let r = grace.send(RemoveRoleMember { role_id: admin_role, user_id: grace_id }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    // The Users application asks the same guard.
    let r = grace
        .send(UpdateUser {
            id: grace_id,
            first_name: String::new(),
            last_name: String::new(),
            email: "grace@example.com".into(),
            role_ids: vec![],
        })
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = grace.send(SetUserEnabled { id: grace_id, enabled: false }).await;
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
        admin.send(UpdateRole { id, name: "Boss".into(), description: String::new() }).await.untyped(),
        set_grants(&mut admin, id, &[(AppId::Users, Permission::View)]).await.untyped(),
        admin.send(DeleteRole { id }).await.untyped(),
    ];
    for r in attempts {
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert!(
            r.body.to_string().contains("The built-in Administrator role cannot be changed or deleted"),
            "{:?}",
            r.body
        );
    }
    let d = admin.send(GetRole { id }).await.ok();
    assert_eq!(d.name, "Administrator");
    assert!(d.builtin);
    assert!(d.grants.contains(&(AppId::Roles, Permission::Delete)), "every permission: {d:?}");
}

async fn no_privilege_escalation_through_roles_or_users(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let editor = create_role(
        &mut admin,
        "Role Editor",
        &[
            (AppId::Roles, Permission::View),
            (AppId::Roles, Permission::Update),
            (AppId::Users, Permission::View),
            (AppId::Users, Permission::Update),
        ],
    )
    .await;
    let mailer = create_role(&mut admin, "Mailer", &[(AppId::EmailQueue, Permission::View)]).await;
    let empty = create_role(&mut admin, "Empty", &[]).await;
    let (mut rita, rita_id) = add_user_and_id(&mut admin, &server, "rita@example.com", &[editor]).await;

    // Grant what she does not hold: refused, and nothing changes.
    let r = set_grants(&mut rita, empty, &[(AppId::Users, Permission::Delete)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = set_grants(&mut rita, editor, &[(AppId::Roles, Permission::Update), (AppId::EmailQueue, Permission::View)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not even on her own role: {:?}", r.body);
    assert_eq!(admin.send(GetRole { id: empty }).await.ok().grants, Vec::<(AppId, Permission)>::new());
    // What she holds, she may grant.
    let r = set_grants(&mut rita, empty, &[(AppId::Users, Permission::Update)]).await;
    assert_eq!(r.ok(), [(AppId::Users, Permission::View), (AppId::Users, Permission::Update)]);

    // Membership is a grant too: not a role beyond her own, never Administrator.
    for role in [mailer, admin_role] {
        let r = rita.send(AddRoleMember { role_id: role, user_id: rita_id }).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "role {role}: {:?}", r.body);
    }
    let ada = user_id(&mut admin).await;
    let r = rita.send(RemoveRoleMember { role_id: admin_role, user_id: ada }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // The same rule in the Users application.
    let r = rita
        .send(UpdateUser {
            id: rita_id,
            first_name: String::new(),
            last_name: String::new(),
            email: "rita@example.com".into(),
            role_ids: vec![editor, mailer],
        })
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(apps(&mut rita).await, [AppId::Users, AppId::Roles]);
    // A role within her own access she may hand out.
    let r = rita.send(AddRoleMember { role_id: empty, user_id: rita_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn role_names_are_unique_regardless_of_case(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let r = admin.send(CreateRole { name: "  Content Editor ".into(), description: " Writes things. ".into() }).await;
    let id = r.ok();
    let d = admin.send(GetRole { id }).await.ok();
    assert_eq!((d.name.as_str(), d.description.as_str()), ("Content Editor", "Writes things."));

    let r = admin.send(CreateRole { name: "content EDITOR".into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.to_string().contains("A role named content EDITOR already exists."), "{:?}", r.body);
    let r = admin.send(CreateRole { name: "administrator".into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the built-in name is taken too");
    let r = admin.send(CreateRole { name: "   ".into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = "x".repeat(101);
    assert_eq!(
        admin.send(CreateRole { name: long.to_string(), description: String::new() }).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let other = admin.send(CreateRole { name: "Reviewer".into(), description: String::new() }).await.ok();
    let r = admin.send(UpdateRole { id: other, name: "CONTENT editor".into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = admin.send(UpdateRole { id, name: "content editor".into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::OK, "a role may change the case of its own name: {:?}", r.body);
    let r = admin.send(UpdateRole { id: RoleId::new(999_999), name: "Ghost".into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn create_update_and_delete_imply_view(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let id = create_role(
        &mut admin,
        "Cleaner",
        &[(AppId::EmailQueue, Permission::Delete), (AppId::Users, Permission::Update)],
    )
    .await;
    let d = admin.send(GetRole { id }).await.ok();
    let implied = [
        (AppId::Users, Permission::View),
        (AppId::Users, Permission::Update),
        (AppId::EmailQueue, Permission::View),
        (AppId::EmailQueue, Permission::Delete),
    ];
    assert_eq!(d.grants, implied);
    let r = set_grants(&mut admin, id, &[(AppId::EmailQueue, Permission::Create)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("Email queue has no Create permission."), "{:?}", r.body);
    // (Raw: no `AppId` names an application that does not exist.)
    let r = admin.call_raw_json("set_role_permissions", json!({"id": id, "grants": [["Nope", "View"]]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an unknown application is refused: {:?}", r.body);
    assert!(r.invalid().contains("Nope"), "the reason names it: {:?}", r.body);
}

async fn deleting_a_role_takes_it_from_its_members(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Temporary", &[(AppId::EmailQueue, Permission::View)]).await;
    let mut tom = add_user(&mut admin, &server, "tom@example.com", &[role]).await;
    assert_eq!(apps(&mut tom).await, [AppId::EmailQueue]);
    let list = admin.send(ListRoles {}).await.ok();
    let row = list.into_iter().find(|r| r.id == role).unwrap();
    assert_eq!(row.member_count, 1);

    let r = admin.send(DeleteRole { id: role }).await;
    assert_eq!(r.ok(), 1, "one user lost it");
    assert_eq!(apps(&mut tom).await, Vec::<AppId>::new());
    assert_eq!(admin.send(GetRole { id: role }).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM role_permissions WHERE role_id NOT IN (SELECT id FROM roles)").await,
        0
    );
}

async fn effective_access_names_the_granting_roles(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let a =
        create_role(&mut admin, "Alpha", &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)])
            .await;
    let b = create_role(&mut admin, "Beta", &[(AppId::Users, Permission::Update)]).await;
    let (mut u, uid) = add_user_and_id(&mut admin, &server, "both@example.com", &[a, b]).await;

    let r = admin.send(UserAccess { user_id: uid }).await;
    let access = r.ok();
    assert!(!access.is_admin);
    let line = |app, app_name: &str, permission, granted_by: &[&str]| AccessLine {
        app,
        app_name: app_name.into(),
        permission,
        granted_by: granted_by.iter().map(|r| r.to_string()).collect(),
    };
    assert_eq!(
        access.lines,
        [
            line(AppId::Users, "Users", Permission::View, &["Alpha", "Beta"]),
            line(AppId::Users, "Users", Permission::Update, &["Beta"]),
            line(AppId::EmailQueue, "Email queue", Permission::View, &["Alpha"]),
        ]
    );
    let ada = user_id(&mut admin).await;
    let access = admin.send(UserAccess { user_id: ada }).await.ok();
    assert!(access.is_admin);
    assert!(access.lines.iter().all(|l| l.granted_by == ["Administrator"]));
    assert_eq!(u.send(UserAccess { user_id: ada }).await.status, StatusCode::OK, "Users View suffices");
    assert_eq!(admin.send(UserAccess { user_id: UserId::new(999999) }).await.status, StatusCode::NOT_FOUND);
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
    let list = admin.send(ListRoles {}).await.ok();
    let id = list.into_iter().find(|r| r.name == "Digital Channel Manager").unwrap().id;
    let d = admin.send(GetRole { id }).await.ok();
    assert_eq!(d.grants, [(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)]);
}

async fn role_changes_are_audited(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Auditors", &[(AppId::Users, Permission::View)]).await;
    let (_, ann_id) = add_user_and_id(&mut admin, &server, "ann@example.com", &[]).await;
    let add = AddRoleMember { role_id: role, user_id: ann_id };
    assert_eq!(admin.send(add).await.status, StatusCode::OK);
    let remove = RemoveRoleMember { role_id: role, user_id: ann_id };
    assert_eq!(admin.send(remove).await.status, StatusCode::OK);
    let r = admin.send(UpdateRole { id: role, name: "Auditors".into(), description: "Read only".into() }).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(admin.send(DeleteRole { id: role }).await.status, StatusCode::OK);

    let entries: Vec<(String, String)> = audit_entries(&mut admin, "")
        .await
        .iter()
        .map(|e| (word_of(&e.action), e.details.clone()))
        .filter(|(action, _)| action.starts_with("role."))
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
