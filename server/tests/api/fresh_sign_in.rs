//! Fresh sign-in: what changes how someone signs in (adding a passkey or an
//! authenticator app, new recovery codes, removing a factor, one's own email)
//! and the most powerful administrator actions (Reset two-factor, rotating an
//! application's secret, saving the Email server) need a sign-in or a
//! "Confirm it's you" within `fresh_sign_in` (10 minutes). A session cookie
//! alone never adds a factor.

use crate::helpers::*;
use crate::on_both_backends;
use crate::passkeys::{add_passkey, Device};
use crate::two_factor::{code, enable};
use app::applications::{ListApplications, RotateApplicationSecret};
use app::error::AppError;
use app::settings::{EmailServerInput, PasswordChange, SaveEmailServer, SmtpSecurity};
use app::two_factor::{
    BeginPasskeyRegistration, BeginTotpSetup, ConfirmIdentity, EnableTotp, FinishPasskeyRegistration,
    GenerateRecoveryCodes, ResetTwoFactor,
};
use app::users::UpdateUser;
use reqwest::StatusCode;

on_both_backends!(
    a_stale_session_cannot_add_a_factor_until_its_person_confirms,
    a_stale_session_cannot_finish_a_passkey_begun_while_fresh,
    an_authenticator_code_confirms_once,
    the_most_powerful_administrator_actions_need_a_fresh_sign_in,
    changing_ones_own_email_needs_a_fresh_sign_in,
    confirmations_count_in_the_sign_in_throttle,
);

fn must_confirm<T>(r: &Reply<T>, what: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {:?}", r.body);
    assert_eq!(r.err(), AppError::ConfirmIdentity, "{what}: the page learns it must ask to confirm");
}

async fn confirm_with_password(c: &mut Client, password: &str) -> Reply<()> {
    c.send(ConfirmIdentity { password: password.to_string(), code: String::new() }).await
}

async fn a_stale_session_cannot_add_a_factor_until_its_person_confirms(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, "fresh@example.com", &[]).await;
    // Signed in 11 minutes ago: the cookie still works, but adds nothing.
    age_sign_ins(&db, 11).await;
    assert_eq!(user.whoami().await.as_deref(), Some("fresh@example.com"));
    must_confirm(&user.send(BeginTotpSetup {}).await, "begin_totp_setup");
    must_confirm(&user.send(EnableTotp { code: "000000".into() }).await, "enable_totp");
    must_confirm(&user.send(BeginPasskeyRegistration { name: "Mine".into() }).await, "begin_passkey_registration");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM totp_credentials").await, 0);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM webauthn_challenges").await, 0);

    // A wrong password does not confirm.
    let r = confirm_with_password(&mut user, "not my password").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    must_confirm(&user.send(BeginTotpSetup {}).await, "after a wrong confirmation");
    let r = user.send(ConfirmIdentity { password: String::new(), code: String::new() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "nothing typed: {:?}", r.body);

    // The right one does, and what was asked then works.
    let r = confirm_with_password(&mut user, PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (_, codes) = enable(&mut user).await;
    assert_eq!(codes.len(), 10);
    add_passkey(&mut user, &mut Device::new(), "Laptop").await;

    // Stale again: the password asked with these is itself the confirmation.
    age_sign_ins(&db, 11).await;
    let r = user.send(GenerateRecoveryCodes { password: "wrong".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let r = user.send(GenerateRecoveryCodes { password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // ...and counts as a fresh sign-in from then on.
    let r = user.send(BeginPasskeyRegistration { name: "Phone".into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn a_stale_session_cannot_finish_a_passkey_begun_while_fresh(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, "fresh@example.com", &[]).await;
    let r = user.send(BeginPasskeyRegistration { name: "Planted".into() }).await;
    let started = r.ok();
    let (ceremony, options) = (started.ceremony, started.options);
    let credential = Device::new().create(&user.base, &options).await;
    age_sign_ins(&db, 11).await;
    let r = user
        .send(FinishPasskeyRegistration { ceremony: ceremony.to_string(), credential: credential.to_string() })
        .await;
    must_confirm(&r, "finish_passkey_registration");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 0, "no passkey was added");
}

async fn an_authenticator_code_confirms_once(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, "fresh@example.com", &[]).await;
    let (secret, _) = enable(&mut user).await;
    age_sign_ins(&db, 11).await;
    must_confirm(&user.send(BeginPasskeyRegistration { name: "Mine".into() }).await, "stale");
    let now = code(&secret, 0);
    let r = user.send(ConfirmIdentity { password: String::new(), code: now.to_string() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = user.send(BeginPasskeyRegistration { name: "Mine".into() }).await;
    assert_eq!(r.status, StatusCode::OK, "confirmed: {:?}", r.body);
    // The same code again (a shoulder-surfer's replay) confirms nothing.
    age_sign_ins(&db, 11).await;
    let r = user.send(ConfirmIdentity { password: String::new(), code: now.to_string() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    must_confirm(&user.send(BeginPasskeyRegistration { name: "Mine".into() }).await, "after a replay");
}

async fn the_most_powerful_administrator_actions_need_a_fresh_sign_in(backend: Backend) {
    let db = TestDb::new(backend);
    let server =
        Server::start_with(&db, &[("ROSTER_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")]).await;
    let mut admin = set_up_admin(&server).await;
    let (mut grace, grace_id) = add_user_and_id(&mut admin, &server, "grace@example.com", &[]).await;
    enable(&mut grace).await;
    let app = crate::applications::register(&mut admin, crate::applications::crm("CRM")).await;
    let app_id = app.id;
    let email_server = SaveEmailServer {
        settings: EmailServerInput {
            host: "smtp.example.com".into(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: "u".into(),
            password: PasswordChange::Set("secret".into()),
            from_name: "X".into(),
            from_address: "x@example.com".into(),
        },
    };
    age_sign_ins(&db, 11).await;
    must_confirm(&admin.send(ResetTwoFactor { id: grace_id }).await, "reset_two_factor");
    must_confirm(&admin.send(RotateApplicationSecret { id: app_id }).await, "rotate_application_secret");
    must_confirm(&admin.send(email_server.clone()).await, "save_email_server");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM totp_credentials").await, 1, "Grace's authenticator stays");
    // Viewing stays possible with the stale session.
    let r = admin.send(ListApplications {}).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    assert_eq!(confirm_with_password(&mut admin, ADMIN_PASSWORD).await.status, StatusCode::OK);
    let r = admin.send(RotateApplicationSecret { id: app_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(email_server).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(ResetTwoFactor { id: grace_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM totp_credentials").await, 0);
}

async fn changing_ones_own_email_needs_a_fresh_sign_in(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_id = user_id(&mut admin).await;
    let (_other, other_id) = add_user_and_id(&mut admin, &server, "other@example.com", &[]).await;
    let admin_role = administrator_role(&mut admin).await;
    age_sign_ins(&db, 11).await;
    let update = |id: UserId, email: &str, role_ids: Vec<RoleId>| UpdateUser {
        id,
        first_name: "Ada".into(),
        last_name: "Admin".into(),
        email: email.into(),
        role_ids,
    };
    let r = admin.send(update(admin_id, "ada@example.com", vec![admin_role])).await;
    must_confirm(&r, "own email");
    assert_eq!(admin.whoami().await.as_deref(), Some(ADMIN_EMAIL), "the email stays");
    // Someone else's email, or one's own name, needs no confirmation.
    let r = admin.send(update(other_id, "someone@example.com", vec![])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(update(admin_id, ADMIN_EMAIL, vec![admin_role])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(confirm_with_password(&mut admin, ADMIN_PASSWORD).await.status, StatusCode::OK);
    let r = admin.send(update(admin_id, "ada@example.com", vec![admin_role])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(admin.whoami().await.as_deref(), Some("ada@example.com"));
}

async fn confirmations_count_in_the_sign_in_throttle(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, "fresh@example.com", &[]).await;
    age_sign_ins(&db, 11).await;
    let mut statuses: Vec<u16> = Vec::new();
    for _ in 0..8 {
        statuses.push(confirm_with_password(&mut user, "guess").await.status.as_u16());
    }
    assert!(statuses.contains(&429), "guessing is slowed like at sign-in: {statuses:?}");
    must_confirm(&user.send(BeginTotpSetup {}).await, "still stale");
}
