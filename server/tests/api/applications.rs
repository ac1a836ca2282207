//! Applications: registering the organization's own applications, their
//! client secrets, and their place in roles and on the Dashboard.

use crate::helpers::*;
use crate::on_both_backends;
use app::applications::{
    ApplicationInput, ClientType, Colour, CreateApplication, Credentials, DeleteApplication, GetApplication,
    ListApplications, Mark, MyApplications, RotateApplicationSecret, SetApplicationEnabled, UpdateApplication,
};
use app::auth::Me;
use app::domain::ApplicationId;
use app::registry::{AppId, Permission};
use app::roles::{AddRoleMember, GetRole, Grant, UserAccess};
use reqwest::StatusCode;

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

pub fn crm(name: &str) -> ApplicationInput {
    ApplicationInput {
        name: name.into(),
        description: "Customers and deals".into(),
        mark: Mark::Letter,
        colour: Colour::Blue,
        launch_url: "https://crm.example.com/".into(),
        redirect_uris: "https://crm.example.com/oidc/callback\nhttp://localhost:8080/cb".into(),
        post_logout_redirect_uris: "https://crm.example.com/bye".into(),
        client_type: ClientType::Confidential,
    }
}

/// Register `input`; returns the credentials (id, client_id, client_secret).
pub async fn register(admin: &mut Client, input: ApplicationInput) -> Credentials {
    admin.send(CreateApplication { input }).await.ok()
}

fn registered(id: ApplicationId) -> AppId {
    AppId::Registered(id)
}

async fn tiles(c: &mut Client) -> Vec<String> {
    c.send(MyApplications {}).await.ok().into_iter().map(|t| t.name).collect()
}

// ---- the tests ----------------------------------------------------------------------

async fn new_application_shows_its_secret_once_and_stores_a_hash(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let secret = c.client_secret.as_deref().unwrap();
    assert_eq!(secret.len(), 43, "256 bits, base64url");
    assert_eq!(c.client_id.len(), 32);

    let id = c.id;
    let d = admin.send(GetApplication { id }).await;
    let detail = d.ok();
    assert_eq!(detail.name, "CRM");
    assert_eq!(detail.redirect_uris, ["https://crm.example.com/oidc/callback", "http://localhost:8080/cb"]);
    assert!(!d.body.to_string().contains(secret), "the secret is never shown again");
    let list = admin.send(ListApplications {}).await;
    assert!(!list.body.to_string().contains(secret));
    assert_eq!(list.ok()[0].client_id, c.client_id);

    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM applications WHERE LENGTH(secret_hash) = 64").await, 1);
    let stored = scalar(&db, &format!("SELECT COUNT(*) FROM applications WHERE secret_hash = '{secret}'")).await;
    assert_eq!(stored, 0, "only a hash is stored");
}

async fn invalid_details_are_refused_with_the_reason(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    type Field = fn(&mut ApplicationInput) -> &mut String;
    let redirect_uris: Field = |i| &mut i.redirect_uris;
    let post_logout_redirect_uris: Field = |i| &mut i.post_logout_redirect_uris;
    let launch_url: Field = |i| &mut i.launch_url;
    let name: Field = |i| &mut i.name;
    let cases = [
        ("redirect_uris", redirect_uris, "http://crm.example.com/cb", "must use https"),
        ("redirect_uris", redirect_uris, "https://crm.example.com/cb#top", "#fragment"),
        ("redirect_uris", redirect_uris, "/cb", "not an absolute URL"),
        ("redirect_uris", redirect_uris, "  ", "at least one redirect URI"),
        ("post_logout_redirect_uris", post_logout_redirect_uris, "http://crm.example.com/bye", "must use https"),
        ("launch_url", launch_url, "javascript:alert(1)", "not an absolute URL"),
        ("launch_url", launch_url, "", "Enter the launch URL"),
        ("name", name, " ", "Enter a name"),
    ];
    for (field, set, value, why) in cases {
        let mut input = crm("CRM");
        *set(&mut input) = value.into();
        let r = admin.send(CreateApplication { input }).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field} = {value:?}: {:?}", r.body);
        assert!(r.body.to_string().contains(why), "{field} = {value:?}: {:?}", r.body);
    }
    register(&mut admin, crm("CRM")).await;
    let r = admin.send(CreateApplication { input: crm("crm") }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "names are unique regardless of case: {:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM applications").await, 1);
}

async fn rotate_secret_replaces_the_secret(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let before = scalar(&db, "SELECT COUNT(*) FROM applications WHERE secret_hash IS NOT NULL").await;
    assert_eq!(before, 1);
    let r = admin.send(RotateApplicationSecret { id: c.id }).await.ok();
    let new = r.client_secret.as_deref().unwrap();
    assert_eq!(new.len(), 43);
    assert_ne!(Some(new), c.client_secret.as_deref());
    assert_eq!(r.client_id, c.client_id, "the client id stays");
    assert_eq!(audit_entries(&mut admin, "application.secret_rotated").await.len(), 1);
}

async fn public_clients_have_no_secret(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut input = crm("Wiki");
    input.client_type = ClientType::Public;
    let c = register(&mut admin, input).await;
    assert_eq!(c.client_secret, None);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM applications WHERE secret_hash IS NULL").await, 1);
    let r = admin.send(RotateApplicationSecret { id: c.id }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
}

async fn changes_are_audited_and_delete_takes_the_grants(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let id = c.id;
    let role = create_role(&mut admin, "Sales", &[(registered(id), Permission::Update)]).await;
    let d = admin.send(GetRole { id: role }).await.ok();
    assert_eq!(d.grants, [(registered(id), Permission::View), (registered(id), Permission::Update)]);
    assert_eq!(d.applications[0].name, "CRM");

    let mut input = crm("CRM 2");
    input.launch_url = "https://crm2.example.com/".into();
    let r = admin.send(UpdateApplication { id, input }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = admin.send(GetApplication { id }).await.ok();
    assert_eq!(d.name, "CRM 2");
    assert_eq!(d.launch_url, "https://crm2.example.com/");
    assert_eq!(d.roles, ["Administrator", "Sales"], "who sees its tile");

    for enabled in [false, true] {
        let r = admin.send(SetApplicationEnabled { id, enabled }).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = admin.send(DeleteApplication { id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = admin.send(GetRole { id: role }).await.ok();
    assert_eq!(d.grants, Vec::<Grant>::new(), "the role lost its permissions on it");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM role_permissions WHERE application LIKE 'app:%'").await, 0);
    let r = admin.send(GetApplication { id }).await;
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
        assert_eq!(entries[0].actor_email, ADMIN_EMAIL);
        assert_eq!(entries[0].target_type, "application");
    }
    let updated = &audit_entries(&mut admin, "application.updated").await[0];
    assert!(updated.details.contains("crm2.example.com"), "{updated:?}");
}

async fn applications_view_does_not_reach_changes_or_secrets(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let c = register(&mut admin, crm("CRM")).await;
    let id = c.id;
    let viewers = create_role(&mut admin, "App viewers", &[(AppId::Applications, Permission::View)]).await;
    let mut viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;

    assert_eq!(viewer.send(ListApplications {}).await.status, StatusCode::OK);
    let d = viewer.send(GetApplication { id }).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(!d.body.to_string().contains(c.client_secret.as_deref().unwrap()));
    let forbidden = [
        viewer.send(CreateApplication { input: crm("Mine") }).await.untyped(),
        viewer.send(UpdateApplication { id, input: crm("Mine") }).await.untyped(),
        viewer.send(SetApplicationEnabled { id, enabled: false }).await.untyped(),
        viewer.send(RotateApplicationSecret { id }).await.untyped(),
        viewer.send(DeleteApplication { id }).await.untyped(),
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
    let crm_id = register(&mut admin, crm("CRM")).await.id;
    let wiki_id = register(&mut admin, crm("Wiki")).await.id;
    let sales = create_role(&mut admin, "Sales", &[(registered(crm_id), Permission::View)]).await;
    let mut laura = add_user(&mut admin, &server, "laura@example.com", &[sales]).await;
    let mut other = add_user(&mut admin, &server, "other@example.com", &[]).await;

    assert_eq!(tiles(&mut laura).await, vec!["CRM"]);
    let r = laura.send(MyApplications {}).await;
    assert_eq!(r.ok()[0].launch_url, "https://crm.example.com/");
    assert_eq!(tiles(&mut other).await, Vec::<String>::new());
    assert_eq!(tiles(&mut admin).await, vec!["CRM", "Wiki"], "the administrator sees every one");
    // Registered applications are not Roster's own: no navigation entry, no access to Roster's pages.
    assert_eq!(laura.send(Me {}).await.ok().unwrap().apps, Vec::<AppId>::new());
    assert_eq!(laura.send(ListApplications {}).await.status, StatusCode::FORBIDDEN);

    // Disabled: the tile disappears at once, for everyone.
    admin.send(SetApplicationEnabled { id: crm_id, enabled: false }).await;
    assert_eq!(tiles(&mut laura).await, Vec::<String>::new());
    assert_eq!(tiles(&mut admin).await, vec!["Wiki"]);
    admin.send(SetApplicationEnabled { id: crm_id, enabled: true }).await;
    assert_eq!(tiles(&mut laura).await, vec!["CRM"]);

    // A role change shows at the next request.
    let r = set_grants(&mut admin, sales, &[(registered(wiki_id), Permission::View)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(tiles(&mut laura).await, vec!["Wiki"]);
}

async fn administrator_holds_every_registered_application(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let id = register(&mut admin, crm("CRM")).await.id;
    let admin_role = administrator_role(&mut admin).await;
    let grants = admin.send(GetRole { id: admin_role }).await.ok().grants;
    for p in [Permission::View, Permission::Create, Permission::Update, Permission::Delete] {
        assert!(grants.contains(&(registered(id), p)), "{p:?}: {grants:?}");
        assert!(grants.contains(&(AppId::Applications, p)), "{p:?}: {grants:?}");
    }
    let me = user_id(&mut admin).await;
    let lines = admin.send(UserAccess { user_id: me }).await.ok().lines;
    assert!(
        lines.iter().any(|l| l.app_name == "CRM" && l.permission == Permission::Delete),
        "effective access names the application: {lines:?}"
    );
}

async fn roles_hand_out_registered_applications_only_within_the_callers_access(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let crm_id = register(&mut admin, crm("CRM")).await.id;
    let wiki_id = register(&mut admin, crm("Wiki")).await.id;
    let managers = create_role(
        &mut admin,
        "Role managers",
        &[
            (AppId::Roles, Permission::Update),
            (AppId::Users, Permission::View),
            (registered(wiki_id), Permission::View),
        ],
    )
    .await;
    let sales = create_role(&mut admin, "Sales", &[(registered(crm_id), Permission::View)]).await;
    let (mut mallory, mallory_id) = add_user_and_id(&mut admin, &server, "mallory@example.com", &[managers]).await;

    // Ticking an application she cannot open herself: refused.
    let r = set_grants(&mut mallory, managers, &[(registered(crm_id), Permission::View)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // Giving herself a role that grants it: refused.
    let r = mallory.send(AddRoleMember { role_id: sales, user_id: mallory_id }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(tiles(&mut mallory).await, vec!["Wiki"]);
    let grants = [
        (AppId::Roles, Permission::Update),
        (AppId::Users, Permission::View),
        (registered(wiki_id), Permission::Update),
    ];
    let r = set_grants(&mut mallory, managers, &grants).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "View on Wiki is not Update: {:?}", r.body);
    // What she holds she may hand out.
    let r = set_grants(&mut mallory, sales, &[(registered(wiki_id), Permission::View)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn roles_grant_only_applications_that_exist(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Future", &[]).await;
    let r = set_grants(&mut admin, role, &[(registered(ApplicationId::new(77)), Permission::View)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let id = register(&mut admin, crm("CRM")).await.id;
    admin.send(DeleteApplication { id }).await;
    let again = register(&mut admin, crm("CRM")).await.id;
    assert_ne!(again, id, "an id is never given again, so old grants cannot reach a new application");
}
