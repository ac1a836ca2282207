//! Two-factor sign-in: the authenticator app, recovery codes, the second
//! step, roles that require a second factor, and an administrator's reset.

use crate::helpers::*;
use crate::on_both_backends;
use app::account::AccountInfo;
use app::auth::Me;
use app::error::AppError;
use app::registry::{AppId, Permission};
use app::roles::{AddRoleMember, GetRole};
use app::two_factor::{
    BeginTotpSetup, DisableTotp, EnableTotp, GenerateRecoveryCodes, ResetTwoFactor, SetRoleTwoFactor, SignInSecondStep,
    TwoFactorStatus, UserTwoFactor,
};
use app::two_factor::{SecurityStatus, UserFactors};
use app::users::{GetUser, ListUsers, UnlockUser, UserQuery};
use reqwest::StatusCode;

on_both_backends!(
    enabling_needs_a_valid_code,
    enabling_gives_ten_recovery_codes_once_and_emails_the_owner,
    the_secret_is_never_shown_again_once_enabled,
    a_right_password_starts_no_session_before_the_second_step,
    the_second_step_with_a_code_starts_the_session,
    a_totp_code_is_accepted_once,
    a_wrong_code_is_refused_and_recorded,
    second_step_attempts_count_in_the_sign_in_throttle,
    failed_second_steps_lock_for_longer_each_time,
    second_step_without_a_pending_sign_in_is_refused,
    an_expired_pending_sign_in_is_refused,
    a_wrong_password_answers_as_for_an_unknown_account,
    a_recovery_code_works_once_and_emails_the_owner,
    new_recovery_codes_invalidate_the_old_ones,
    new_recovery_codes_need_the_password,
    new_recovery_codes_email_the_owner,
    disabling_needs_the_password,
    removing_the_authenticator_app_emails_the_owner,
    disabling_ends_the_second_step,
    a_role_requiring_two_factor_sends_its_member_to_setup,
    a_member_of_a_requiring_role_cannot_remove_the_last_factor,
    only_an_administrator_changes_the_administrator_roles_requirement,
    a_role_granting_more_than_the_caller_holds_keeps_its_requirement,
    an_administrator_sees_factors_but_never_secrets,
    an_administrator_resets_two_factor,
    only_an_administrator_resets_an_administrator,
    viewing_users_is_not_enough_to_reset,
);

/// The code of `secret` (base32) for the time step `offset` steps from now.
pub fn code(secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes, None, String::new());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    totp.generate((now + offset * 30) as u64)
}

/// Start setting up an authenticator app; returns its secret.
async fn begin(c: &mut Client) -> String {
    let r = c.send(BeginTotpSetup {}).await;
    let setup = r.ok();
    assert!(setup.qr_svg.contains("<svg"), "{:?}", r.body);
    assert!(setup.uri.starts_with("otpauth://totp/"), "{:?}", r.body);
    setup.secret
}

/// Set up and enable an authenticator app, spending the previous step's code;
/// returns the secret and the recovery codes.
pub async fn enable(c: &mut Client) -> (String, Vec<String>) {
    let secret = begin(c).await;
    let r = c.send(EnableTotp { code: code(&secret, -1).to_string() }).await;
    (secret, r.ok())
}

const USER: &str = "tfa@example.com";

/// A server, its admin and a user with an authenticator app enabled: (server, admin, user, secret, codes).
async fn with_totp_user(db: &TestDb) -> (Server, Client, Client, String, Vec<String>) {
    let server = Server::start(db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, USER, &[]).await;
    let (secret, codes) = enable(&mut user).await;
    (server, admin, user, secret, codes)
}

/// Sign in with the right password: the answer sends to the second step.
async fn password_step(server: &Server) -> Client {
    let mut c = server.client();
    let r = c.sign_in(USER, PASSWORD).await;
    assert_eq!(r.ok(), "/signin/verify?next=%2F");
    assert!(c.pending.is_some(), "the pending sign-in cookie is set");
    c
}

async fn second(c: &mut Client, code: &str) -> Reply<String> {
    c.send(SignInSecondStep { code: code.to_string(), next: Some("/account".into()) }).await
}

async fn enabling_needs_a_valid_code(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let secret = begin(&mut admin).await;
    let wrong = if code(&secret, 0) == "000000" { "111111" } else { "000000" };
    let r = admin.send(EnableTotp { code: wrong.to_string() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(!admin.send(TwoFactorStatus {}).await.ok().totp_enabled);
    let r = admin.send(EnableTotp { code: code(&secret, 0).to_string() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(admin.send(TwoFactorStatus {}).await.ok().totp_enabled);
}

async fn enabling_gives_ten_recovery_codes_once_and_emails_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let since = now_ms();
    let (_server, mut admin, mut user, _secret, codes) = with_totp_user(&db).await;
    assert_eq!(codes.len(), 10);
    let status = user.send(TwoFactorStatus {}).await.ok();
    let expected = SecurityStatus { totp_enabled: true, passkeys: vec![], recovery_codes_left: 10, required: false };
    assert_eq!(status, expected);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM recovery_codes").await, 10);
    for c in &codes {
        let n = scalar(&db, &format!("SELECT COUNT(*) FROM recovery_codes WHERE code_hash LIKE '%{c}%'")).await;
        assert_eq!(n, 0, "only hashes are stored");
    }
    let sealed = scalar(&db, "SELECT COUNT(*) FROM totp_credentials WHERE secret LIKE 'key:v1:%'").await;
    assert_eq!(sealed, 1, "the secret is sealed with the encryption key (configured, or the key file)");
    let subject = "An authenticator app was added to your Roster account";
    notice(&mut admin, USER, subject, "An authenticator app was added to your", since).await;
    assert_eq!(audit_entries(&mut admin, "two_factor.totp_enabled").await.len(), 1);
    assert_eq!(audit_entries(&mut admin, "two_factor.recovery_codes_generated").await.len(), 1);
}

async fn the_secret_is_never_shown_again_once_enabled(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, _admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let r = user.send(BeginTotpSetup {}).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.body.get("secret").is_none());
    let status = user.send(TwoFactorStatus {}).await.body.to_string();
    assert!(!status.contains("secret"), "{status}");
}

async fn a_right_password_starts_no_session_before_the_second_step(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, _secret, _codes) = with_totp_user(&db).await;
    let mut c = password_step(&server).await;
    assert!(c.cookie.is_none(), "no session cookie");
    assert_eq!(c.whoami().await, None);
    let r = c.send(AccountInfo {}).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    let r = c.send(TwoFactorStatus {}).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM pending_sign_ins").await, 1);
}

async fn the_second_step_with_a_code_starts_the_session(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, _user, secret, _codes) = with_totp_user(&db).await;
    let mut c = password_step(&server).await;
    let r = second(&mut c, &code(&secret, 0)).await;
    assert_eq!(r.ok(), "/account");
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM pending_sign_ins").await, 0, "the pending sign-in is spent");
    let entries = audit_entries(&mut admin, "sign_in.success").await;
    assert!(entries.iter().any(|e| e.details == "second step: authenticator app"), "{entries:?}");
}

async fn a_totp_code_is_accepted_once(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, secret, _codes) = with_totp_user(&db).await;
    let now = code(&secret, 0);
    let mut c = password_step(&server).await;
    assert_eq!(second(&mut c, &now).await.status, StatusCode::OK);
    let mut again = password_step(&server).await;
    let r = second(&mut again, &now).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a replayed code: {:?}", r.body);
    assert_eq!(again.whoami().await, None);
    // The code enabling the app (the previous step) is spent too.
    let r = second(&mut again, &code(&secret, -1)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
}

async fn a_wrong_code_is_refused_and_recorded(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, _user, secret, _codes) = with_totp_user(&db).await;
    let mut c = password_step(&server).await;
    let wrong = if code(&secret, 0) == "123456" || code(&secret, 1) == "123456" { "654321" } else { "123456" };
    let r = second(&mut c, wrong).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(c.whoami().await, None);
    let r = second(&mut c, "abcde-fghjk").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown recovery code: {:?}", r.body);
    let entries = audit_entries(&mut admin, "sign_in.failure").await;
    assert_eq!(entries.iter().filter(|e| e.details == "wrong second-step code").count(), 2, "{entries:?}");
    // The pending sign-in still works with the right code.
    assert_eq!(second(&mut c, &code(&secret, 0)).await.status, StatusCode::OK);
}

async fn second_step_attempts_count_in_the_sign_in_throttle(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, _secret, _codes) = with_totp_user(&db).await;
    let mut c = password_step(&server).await;
    for _ in 0..5 {
        let r = second(&mut c, "zzzzz-zzzzz").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    }
    let r = second(&mut c, "zzzzz-zzzzz").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the sixth guess waits: {:?}", r.body);
    // The same count as passwords: signing in again waits too (a right
    // password would not have cleared it, see sign_in_checked).
    let r = server.client().sign_in(USER, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    let failures = scalar(&db, &format!("SELECT COUNT(*) FROM sign_in_failures WHERE account_key = '{USER}'")).await;
    assert_eq!(failures, 5);
}

/// Whoever fails second steps knows the password: each lockout they cause
/// lasts longer than the one before (the lockout, 4 times it, 96 times it:
/// 15 minutes, 1 hour, 24 hours by default; 1 s, 4 s, 96 s here). A
/// completed sign-in starts the ladder again.
async fn failed_second_steps_lock_for_longer_each_time(backend: Backend) {
    let db = TestDb::new(backend);
    let env = [
        ("ROSTER_SIGNIN_FREE_FAILURES", "2"),
        ("ROSTER_SIGNIN_LOCKOUT_FAILURES", "3"),
        ("ROSTER_SIGNIN_LOCKOUT_DURATION", "1s"),
    ];
    let server = Server::start_with(&db, &env).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, USER, &[]).await;
    let (secret, _) = enable(&mut user).await;
    let mut c = password_step(&server).await;
    let locked_for = |r: &Reply<String>| -> u64 {
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
        match r.err() {
            AppError::Throttled(seconds) => seconds,
            other => panic!("{other:?}"),
        }
    };
    // Each failure moved two minutes into the past: past the waits between
    // attempts and past the flat 1 s lockout, still inside the 15 min window.
    let fail = |c: &mut Client| {
        let mut c = c.clone();
        let db = &db;
        async move {
            assert_eq!(second(&mut c, "zzzzz-zzzzz").await.status, StatusCode::UNPROCESSABLE_ENTITY);
            execute(db, "UPDATE sign_in_failures SET at = at - 120000").await;
        }
    };
    for _ in 0..3 {
        fail(&mut c).await;
    }
    assert!(locked_for(&second(&mut c, &code(&secret, 0)).await) <= 1, "first lockout: the configured one");
    execute(&db, "UPDATE second_step_lockouts SET locked_until = 1").await;
    fail(&mut c).await;
    let second_lock = locked_for(&second(&mut c, &code(&secret, 0)).await);
    assert!((3..=4).contains(&second_lock), "second lockout: 4 times as long, {second_lock} s");
    execute(&db, "UPDATE second_step_lockouts SET locked_until = 1").await;
    fail(&mut c).await;
    let third_lock = locked_for(&second(&mut c, &code(&secret, 0)).await);
    assert!((90..=96).contains(&third_lock), "third lockout: 96 times as long, {third_lock} s");
    // The flat lockout is long over; the longer one holds.
    assert!(locked_for(&second(&mut c, &code(&secret, 0)).await) > 60);
    // An administrator's unlock lifts it; a completed sign-in starts the ladder again.
    let id = UserId::new(scalar(&db, &format!("SELECT id FROM users WHERE email = '{USER}'")).await);
    let r = admin.send(UnlockUser { id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = second(&mut c, &code(&secret, 1)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM second_step_lockouts").await, 0);
}

async fn second_step_without_a_pending_sign_in_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, secret, _codes) = with_totp_user(&db).await;
    let mut none = server.client();
    let a = second(&mut none, &code(&secret, 0)).await;
    let mut forged = server.client();
    forged.pending = Some("A".repeat(43));
    let b = second(&mut forged, &code(&secret, 0)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    assert_eq!((a.status, &a.body), (b.status, &b.body), "no cookie and an unknown one answer alike");
    assert_eq!(none.whoami().await, None);
    assert_eq!(forged.whoami().await, None);
}

async fn an_expired_pending_sign_in_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, secret, _codes) = with_totp_user(&db).await;
    let mut c = password_step(&server).await;
    scalar(&db, "UPDATE pending_sign_ins SET expires_at = 1 RETURNING 1").await;
    let r = second(&mut c, &code(&secret, 0)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(c.whoami().await, None);
}

async fn a_wrong_password_answers_as_for_an_unknown_account(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, _secret, _codes) = with_totp_user(&db).await;
    let mut c = server.client();
    let wrong = c.sign_in(USER, "not the password at all").await;
    let unknown = c.sign_in("nobody-here@example.com", "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert!(c.pending.is_none(), "no pending sign-in for a wrong password");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM pending_sign_ins").await, 0);
}

async fn a_recovery_code_works_once_and_emails_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, _user, _secret, codes) = with_totp_user(&db).await;
    let since = now_ms();
    let mut c = password_step(&server).await;
    let r = second(&mut c, &codes[3].to_uppercase()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
    assert_eq!(c.send(TwoFactorStatus {}).await.ok().recovery_codes_left, 9);
    let mut again = password_step(&server).await;
    let r = second(&mut again, &codes[3]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a spent recovery code: {:?}", r.body);
    assert_eq!(again.whoami().await, None);
    assert_eq!(audit_entries(&mut admin, "two_factor.recovery_code_used").await.len(), 1);
    let subject = "A recovery code was used to sign in to Roster";
    notice(&mut admin, USER, subject, "A recovery code was used to sign in to your", since).await;
}

async fn new_recovery_codes_invalidate_the_old_ones(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, mut user, _secret, old) = with_totp_user(&db).await;
    let r = user.send(GenerateRecoveryCodes { password: PASSWORD.into() }).await;
    let new: Vec<String> = r.ok();
    assert_eq!(new.len(), 10);
    let mut c = password_step(&server).await;
    assert_eq!(second(&mut c, &old[0]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(second(&mut c, &new[0]).await.status, StatusCode::OK);
}

async fn new_recovery_codes_need_the_password(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, _admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let before = scalar(&db, "SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL").await;
    let r = user.send(GenerateRecoveryCodes { password: "not my password".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL").await, before);
}

async fn new_recovery_codes_email_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, mut admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let subject = "New recovery codes for your Roster account";
    let r = user.send(GenerateRecoveryCodes { password: "not my password".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(count_emails(&mut admin, USER, subject).await, 0, "refused, nothing to tell");
    let since = now_ms();
    let r = user.send(GenerateRecoveryCodes { password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let text = notice(&mut admin, USER, subject, "New recovery codes were made for your", since).await;
    assert!(text.contains("The old codes no longer work."), "{text}");
    for code in r.ok() {
        assert!(!text.contains(&code), "never a code: {text}");
    }
}

async fn removing_the_authenticator_app_emails_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, mut admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let subject = "An authenticator app was removed from your Roster account";
    let r = user.send(DisableTotp { password: "not my password".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(count_emails(&mut admin, USER, subject).await, 0, "refused, nothing to tell");
    let since = now_ms();
    let r = user.send(DisableTotp { password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let text = notice(&mut admin, USER, subject, "The authenticator app was removed from your", since).await;
    assert!(text.contains("/account?tab=security"), "what to do, where: {text}");
}

async fn disabling_needs_the_password(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, _admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let r = user.send(DisableTotp { password: "not my password".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(user.send(TwoFactorStatus {}).await.ok().totp_enabled);
}

async fn disabling_ends_the_second_step(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let r = user.send(DisableTotp { password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM recovery_codes").await, 0, "no factor left, no recovery codes");
    let mut c = server.client();
    let r = c.sign_in(USER, PASSWORD).await;
    assert_eq!(r.ok(), "/", "{:?}", r.body);
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
    assert_eq!(audit_entries(&mut admin, "two_factor.totp_disabled").await.len(), 1);
}

async fn require(admin: &mut Client, role_id: RoleId, required: bool) {
    let r = admin.send(SetRoleTwoFactor { id: role_id, required }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn a_role_requiring_two_factor_sends_its_member_to_setup(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    require(&mut admin, role, true).await;
    assert!(admin.send(GetRole { id: role }).await.ok().require_two_factor);
    let mut user = add_user(&mut admin, &server, USER, &[role]).await;
    assert!(user.send(Me {}).await.ok().unwrap().two_factor_setup_owed);
    let r = user.send(ListUsers { query: UserQuery::default() }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.err(), AppError::TwoFactorSetupRequired);
    assert_eq!(user.send(AccountInfo {}).await.status, StatusCode::FORBIDDEN);
    // Pages lead to the setup.
    let page = user.get("/users").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER, "{:?}", page.status());
    assert_eq!(page.headers()["location"], "/account?tab=security");
    assert_eq!(user.get("/account?tab=security").await.status(), StatusCode::OK);
    // Setting one up lifts the gate.
    assert!(user.send(TwoFactorStatus {}).await.ok().required);
    enable(&mut user).await;
    let r = user.send(ListUsers { query: UserQuery::default() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!user.send(Me {}).await.ok().unwrap().two_factor_setup_owed);
    let entries = audit_entries(&mut admin, "role.two_factor_required").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
}

async fn a_member_of_a_requiring_role_cannot_remove_the_last_factor(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, mut admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let role = create_role(&mut admin, "Careful", &[]).await;
    require(&mut admin, role, true).await;
    let uid = user_id(&mut user).await;
    let r = admin.send(AddRoleMember { role_id: role, user_id: uid }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = user.send(DisableTotp { password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(user.send(TwoFactorStatus {}).await.ok().totp_enabled);
}

async fn only_an_administrator_changes_the_administrator_roles_requirement(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Role editors", &[(AppId::Roles, Permission::Update)]).await;
    let mut editor = add_user(&mut admin, &server, "editor@example.com", &[editors]).await;
    let admin_role = administrator_role(&mut admin).await;
    let r = editor.send(SetRoleTwoFactor { id: admin_role, required: false }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // Their own kind of role they may change.
    let r = editor.send(SetRoleTwoFactor { id: editors, required: true }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // An administrator may require it of administrators (having a factor first).
    enable(&mut admin).await;
    require(&mut admin, admin_role, true).await;
    assert!(!admin.send(Me {}).await.ok().unwrap().two_factor_setup_owed);
}

/// The hand-out rule: Roles Update alone does not reach a role that grants
/// more than the caller holds (here Users Delete), whether to loosen or to
/// tighten what it requires.
async fn a_role_granting_more_than_the_caller_holds_keeps_its_requirement(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Role editors", &[(AppId::Roles, Permission::Update)]).await;
    let mut editor = add_user(&mut admin, &server, "editor@example.com", &[editors]).await;
    let powerful = create_role(&mut admin, "User removers", &[(AppId::Users, Permission::Delete)]).await;
    require(&mut admin, powerful, true).await;
    for required in [false, true] {
        let r = editor.send(SetRoleTwoFactor { id: powerful, required }).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{required}: {:?}", r.body);
        assert!(r.body.to_string().contains("grants something you do not have"), "{:?}", r.body);
    }
    assert_eq!(
        scalar(&db, &format!("SELECT COUNT(*) FROM roles WHERE id = {powerful} AND require_two_factor")).await,
        1
    );
    // A role within the editor's own grants stays theirs to change.
    let r = editor.send(SetRoleTwoFactor { id: editors, required: true }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn an_administrator_sees_factors_but_never_secrets(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, mut admin, mut user, secret, codes) = with_totp_user(&db).await;
    let uid = user_id(&mut user).await;
    let r = admin.send(UserTwoFactor { id: uid }).await;
    let expected = UserFactors { totp_enabled: true, passkeys: 0, recovery_codes_left: 10, required: false };
    assert_eq!(r.ok(), expected);
    let all = r.body.to_string() + &admin.send(GetUser { id: uid }).await.body.to_string();
    assert!(!all.contains(&secret) && !all.contains(&codes[0]), "{all}");
}

async fn an_administrator_resets_two_factor(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let uid = user_id(&mut user).await;
    let since = now_ms();
    let r = admin.send(ResetTwoFactor { id: uid }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(user.whoami().await, None, "their sessions ended");
    let r = admin.send(UserTwoFactor { id: uid }).await;
    let expected = UserFactors { totp_enabled: false, passkeys: 0, recovery_codes_left: 0, required: false };
    assert_eq!(r.ok(), expected);
    let mut c = server.client();
    assert_eq!(c.sign_in(USER, PASSWORD).await.ok(), "/", "the password alone signs in again");
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
    let entries = audit_entries(&mut admin, "two_factor.reset").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].actor_email, ADMIN_EMAIL);
    let subject = "Your Roster two-factor sign-in was reset";
    notice(&mut admin, USER, subject, "An administrator reset the two-factor sign-in of your", since).await;
}

async fn only_an_administrator_resets_an_administrator(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    enable(&mut admin).await;
    let managers = create_role(&mut admin, "Managers", &[(AppId::Users, Permission::Update)]).await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[managers]).await;
    let admin_id = user_id(&mut admin).await;
    let r = manager.send(ResetTwoFactor { id: admin_id }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(admin.send(TwoFactorStatus {}).await.ok().totp_enabled);
    assert!(admin.whoami().await.is_some(), "the administrator's session goes on");
}

async fn viewing_users_is_not_enough_to_reset(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, _secret, _codes) = with_totp_user(&db).await;
    let viewers = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    let mut viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;
    let uid = user_id(&mut user).await;
    assert_eq!(viewer.send(UserTwoFactor { id: uid }).await.status, StatusCode::OK);
    let r = viewer.send(ResetTwoFactor { id: uid }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(user.send(TwoFactorStatus {}).await.ok().totp_enabled);
}
