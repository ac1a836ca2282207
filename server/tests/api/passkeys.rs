//! Passkeys (WebAuthn): adding, renaming and removing them, signing in with
//! one alone, and using one as the second step. The other side of every
//! ceremony is a real software authenticator (1Password's `passkey` crates),
//! fed the very JSON the browser would get and answering what
//! `credential.toJSON()` would.

use crate::helpers::*;
use crate::on_both_backends;
use app::auth::Me;
use app::email_queue::GetEmail;
use app::error::AppError;
use app::registry::{AppId, Permission};
use app::two_factor::{
    BeginPasskeyRegistration, BeginPasskeySecondStep, BeginPasskeySignIn, FinishPasskeyRegistration,
    FinishPasskeySecondStep, FinishPasskeySignIn, RemovePasskey, RenamePasskey, ResetTwoFactor, SetRoleTwoFactor,
    TwoFactorStatus, UserTwoFactor,
};
use app::two_factor::{PasskeyCeremony, UserFactors};
use app::users::{ListUsers, SetUserEnabled, UserQuery};
use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client as WebAuthnClient, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use passkey::types::Passkey;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    a_passkey_signs_in_alone,
    adding_a_passkey_gives_recovery_codes_and_emails_the_owner,
    an_expired_challenge_is_refused,
    a_challenge_is_answered_once,
    a_replayed_assertion_is_refused,
    a_counter_that_goes_back_is_refused,
    a_passkey_is_a_second_factor_after_the_password,
    another_users_passkey_is_refused_in_the_second_step,
    removing_a_passkey_needs_the_password,
    removing_a_passkey_emails_the_owner,
    renaming_a_passkey_is_recorded,
    passkey_sign_in_tells_nothing_about_accounts,
    passkey_sign_in_counts_in_the_sign_in_throttle,
    a_member_owing_a_second_factor_may_add_a_passkey,
    an_administrator_sees_and_resets_passkeys,
    anonymous_sign_in_ceremonies_are_capped_per_client,
);

/// The authenticator's user check: present always, verified when `0`.
struct Person(bool);

#[async_trait::async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence, verification: verification && self.0 })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// A device holding at most one passkey (discoverable), with a signature counter.
#[derive(Clone)]
pub struct Device {
    store: Option<Passkey>,
}

impl Device {
    pub fn new() -> Self {
        Self { store: None }
    }

    /// The page's origin as the browser sees it: Roster serves a loopback
    /// address's passkeys as `localhost` (browsers refuse an IP address).
    fn origin(base: &str) -> url::Url {
        let mut url = url::Url::parse(base).unwrap();
        url.set_host(Some("localhost")).unwrap();
        url
    }

    /// `navigator.credentials.create` with the server's options; the answer as JSON.
    pub async fn create(&mut self, base: &str, options: &str) -> String {
        let options: CredentialCreationOptions = serde_json::from_str(options).unwrap();
        let mut client = WebAuthnClient::new(self.authenticator()).allows_insecure_localhost(true);
        let created = client.register(Self::origin(base), options, DefaultClientData).await;
        self.store = client.authenticator().store().clone();
        serde_json::to_string(&created.expect("the authenticator makes a passkey")).unwrap()
    }

    /// `navigator.credentials.get` with the server's options; the answer as JSON.
    pub async fn get(&mut self, base: &str, options: &str) -> String {
        let options: CredentialRequestOptions = serde_json::from_str(options).unwrap();
        let mut client = WebAuthnClient::new(self.authenticator()).allows_insecure_localhost(true);
        let asserted = client.authenticate(Self::origin(base), options, DefaultClientData).await;
        self.store = client.authenticator().store().clone();
        serde_json::to_string(&asserted.expect("the authenticator signs")).unwrap()
    }

    /// The authenticator over this device's store (which it takes; put back after use).
    fn authenticator(&mut self) -> Authenticator<Option<Passkey>, Person, RustCryptoBackend> {
        let mut authenticator =
            Authenticator::new(Aaguid::new_empty(), self.store.take(), Person(true), RustCryptoBackend);
        authenticator.set_make_credentials_with_signature_counter(true);
        authenticator
    }
}

const USER: &str = "pk@example.com";

/// The ceremony token and options of a `begin_*` answer.
fn started(r: &Reply<PasskeyCeremony>) -> (String, String) {
    let started = r.ok();
    (started.ceremony, started.options)
}

/// Add a passkey named `name` with `device`; returns the recovery codes (if first).
pub async fn add_passkey(c: &mut Client, device: &mut Device, name: &str) -> Vec<String> {
    let (ceremony, options) = started(&c.send(BeginPasskeyRegistration { name: name.to_string() }).await);
    let options_json: Value = serde_json::from_str(&options).unwrap();
    let selection = &options_json["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], json!("required"), "{options}");
    assert_eq!(selection["userVerification"], json!("required"), "{options}");
    let credential = device.create(&c.base, &options).await;
    let r =
        c.send(FinishPasskeyRegistration { ceremony: ceremony.to_string(), credential: credential.to_string() }).await;
    r.ok()
}

/// Start a passkey sign-in on a fresh client: (client, ceremony, options).
async fn begin_sign_in(server: &Server) -> (Client, String, String) {
    let mut c = server.client();
    let (ceremony, options) = started(&c.send(BeginPasskeySignIn {}).await);
    let json: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(json["publicKey"]["userVerification"], json!("required"), "{options}");
    assert_eq!(json["mediation"], json!("conditional"), "the options suit the autofill too: {options}");
    (c, ceremony, options)
}

async fn finish_sign_in(c: &mut Client, ceremony: &str, credential: &str) -> Reply<String> {
    c.send(FinishPasskeySignIn {
        ceremony: ceremony.to_string(),
        credential: credential.to_string(),
        next: Some("/account".into()),
    })
    .await
}

/// Sign in with `device`'s passkey alone on a fresh client.
async fn sign_in_with(server: &Server, device: &mut Device) -> (Client, Reply<String>) {
    let (mut c, ceremony, options) = begin_sign_in(server).await;
    let credential = device.get(&server.base, &options).await;
    let r = finish_sign_in(&mut c, &ceremony, &credential).await;
    (c, r)
}

/// A server, its admin, and a user with one passkey: (server, admin, user, device).
async fn with_passkey_user(db: &TestDb) -> (Server, Client, Client, Device) {
    let server = Server::start(db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, USER, &[]).await;
    let mut device = Device::new();
    add_passkey(&mut user, &mut device, "Work laptop").await;
    (server, admin, user, device)
}

fn assert_refused(r: &Reply<String>) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(r.err(), AppError::PasskeyRefused);
}

async fn a_passkey_signs_in_alone(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, mut device) = with_passkey_user(&db).await;
    let status = user.send(TwoFactorStatus {}).await.ok();
    assert_eq!(status.passkeys.len(), 1, "{status:?}");
    assert_eq!(status.passkeys[0].name, "Work laptop");
    assert_eq!(status.passkeys[0].last_used_at, None);
    let (mut c, r) = sign_in_with(&server, &mut device).await;
    assert_eq!(r.ok(), "/account");
    assert!(c.pending.is_none(), "no second step after a passkey");
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
    let status = c.send(TwoFactorStatus {}).await.ok();
    assert!(status.passkeys[0].last_used_at.is_some(), "{status:?}");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM webauthn_challenges").await, 0, "every challenge was spent");
    let entries = audit_entries(&mut admin, "sign_in.success").await;
    assert!(
        entries.iter().any(|e| e.target_label == USER
            && e.details.starts_with("passkey ")
            && e.details.ends_with(": Work laptop")),
        "{entries:?}"
    );
}

async fn adding_a_passkey_gives_recovery_codes_and_emails_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, USER, &[]).await;
    let since = now_ms();
    let codes = add_passkey(&mut user, &mut Device::new(), "Phone").await;
    assert_eq!(codes.len(), 10, "the first second factor comes with recovery codes");
    let again = add_passkey(&mut user, &mut Device::new(), "Laptop").await;
    assert!(again.is_empty(), "a second one does not: {again:?}");
    let status = user.send(TwoFactorStatus {}).await.ok();
    assert_eq!(status.recovery_codes_left, 10);
    assert!(!status.totp_enabled);
    // The same device cannot be added twice (its passkey is excluded).
    let options: Value =
        serde_json::from_str(&started(&user.send(BeginPasskeyRegistration { name: "Phone again".into() }).await).1)
            .unwrap();
    assert_eq!(options["publicKey"]["excludeCredentials"].as_array().unwrap().len(), 2, "{options}");
    let mails = admin.emails("").await;
    let added: Vec<_> =
        mails.iter().filter(|m| m.to == USER && m.subject == "A passkey was added to your Roster account").collect();
    assert_eq!(added.len(), 2, "{mails:?}");
    let d = admin.send(GetEmail { id: added[0].id }).await.ok();
    assert_notice(&d.body_text, &d.body_html, "A passkey was added to your", since);
    let entries = audit_entries(&mut admin, "two_factor.passkey_added").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(audit_entries(&mut admin, "two_factor.recovery_codes_generated").await.len(), 1);
    // A name is needed.
    let r = user.send(BeginPasskeyRegistration { name: "  ".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
}

async fn an_expired_challenge_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, mut device) = with_passkey_user(&db).await;
    let (mut c, ceremony, options) = begin_sign_in(&server).await;
    let credential = device.get(&server.base, &options).await;
    scalar(&db, "UPDATE webauthn_challenges SET expires_at = 1 RETURNING 1").await;
    let r = finish_sign_in(&mut c, &ceremony, &credential).await;
    assert_refused(&r);
    assert_eq!(c.whoami().await, None);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM webauthn_challenges").await, 0, "spent all the same");
}

async fn a_challenge_is_answered_once(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, USER, &[]).await;
    let mut device = Device::new();
    let (ceremony, options) = started(&user.send(BeginPasskeyRegistration { name: "Laptop".into() }).await);
    let credential = device.create(&user.base, &options).await;
    let args = FinishPasskeyRegistration { ceremony, credential };
    assert_eq!(user.send(args.clone()).await.status, StatusCode::OK);
    let r = user.send(args).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a registration's challenge is spent: {:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 1);
    // Another person cannot finish someone's registration ceremony.
    let mut other = add_user(&mut admin, &server, "other@example.com", &[]).await;
    let (ceremony, options) = started(&user.send(BeginPasskeyRegistration { name: "Phone".into() }).await);
    let credential = Device::new().create(&user.base, &options).await;
    let r = other
        .send(FinishPasskeyRegistration { ceremony: ceremony.to_string(), credential: credential.to_string() })
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 1);
}

async fn a_replayed_assertion_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, mut device) = with_passkey_user(&db).await;
    let (mut c, ceremony, options) = begin_sign_in(&server).await;
    let credential = device.get(&server.base, &options).await;
    assert_eq!(finish_sign_in(&mut c, &ceremony, &credential).await.status, StatusCode::OK);
    // The same answer again, with its spent ceremony…
    let mut thief = server.client();
    assert_refused(&finish_sign_in(&mut thief, &ceremony, &credential).await);
    // …and with a fresh one (the signed challenge is not the fresh one's).
    let (mut thief, fresh, _) = begin_sign_in(&server).await;
    assert_refused(&finish_sign_in(&mut thief, &fresh, &credential).await);
    assert_eq!(thief.whoami().await, None);
}

async fn a_counter_that_goes_back_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, mut device) = with_passkey_user(&db).await;
    let mut clone = device.clone();
    let (_, r) = sign_in_with(&server, &mut device).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT sign_count FROM passkeys").await, 1);
    // A copy of the authenticator as it was: its counter says 1 again.
    let (mut c, r) = sign_in_with(&server, &mut clone).await;
    assert_refused(&r);
    assert_eq!(c.whoami().await, None);
    assert_eq!(scalar(&db, "SELECT sign_count FROM passkeys").await, 1);
    // The real one goes on.
    let (_, r) = sign_in_with(&server, &mut device).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT sign_count FROM passkeys").await, 2);
}

/// Sign in with the right password: the answer sends to the second step.
async fn password_step(server: &Server, email: &str) -> Client {
    let mut c = server.client();
    let r = c.sign_in(email, PASSWORD).await;
    assert_eq!(r.ok(), "/signin/verify?next=%2F");
    c
}

async fn finish_second_step(c: &mut Client, ceremony: &str, credential: &str) -> Reply<String> {
    c.send(FinishPasskeySecondStep {
        ceremony: ceremony.to_string(),
        credential: credential.to_string(),
        next: Some("/account".into()),
    })
    .await
}

async fn a_passkey_is_a_second_factor_after_the_password(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, _user, mut device) = with_passkey_user(&db).await;
    let mut c = password_step(&server, USER).await;
    assert_eq!(c.whoami().await, None);
    let (ceremony, options) = started(&c.send(BeginPasskeySecondStep {}).await);
    let json: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(json["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1, "only their passkeys: {options}");
    let credential = device.get(&server.base, &options).await;
    let r = finish_second_step(&mut c, &ceremony, &credential).await;
    assert_eq!(r.ok(), "/account");
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM pending_sign_ins").await, 0, "the pending sign-in is spent");
    let entries = audit_entries(&mut admin, "sign_in.success").await;
    assert!(entries.iter().any(|e| e.details.starts_with("second step: passkey ")), "{entries:?}");
    // Without a pending sign-in there is no second step to start.
    let r = server.client().send(BeginPasskeySecondStep {}).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
}

async fn another_users_passkey_is_refused_in_the_second_step(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, _user, mut device) = with_passkey_user(&db).await;
    let mut other = add_user(&mut admin, &server, "other@example.com", &[]).await;
    let mut others_device = Device::new();
    add_passkey(&mut other, &mut others_device, "Theirs").await;
    let mut c = password_step(&server, USER).await;
    let (ceremony, options) = started(&c.send(BeginPasskeySecondStep {}).await);
    // The other person's authenticator signs this challenge (the list of
    // allowed credentials taken out, as a forged page would).
    let mut forged: Value = serde_json::from_str(&options).unwrap();
    forged["publicKey"]["allowCredentials"] = json!([]);
    let credential = others_device.get(&server.base, &forged.to_string()).await;
    let r = finish_second_step(&mut c, &ceremony, &credential).await;
    assert_refused(&r);
    assert_eq!(c.whoami().await, None);
    let failures = audit_entries(&mut admin, "sign_in.failure").await;
    assert!(failures.iter().any(|e| e.details == "second step: passkey refused"), "{failures:?}");
    // Their own passkey still completes this pending sign-in.
    let (ceremony, options) = started(&c.send(BeginPasskeySecondStep {}).await);
    let credential = device.get(&server.base, &options).await;
    assert_eq!(finish_second_step(&mut c, &ceremony, &credential).await.status, StatusCode::OK);
    assert_eq!(c.whoami().await.as_deref(), Some(USER));
}

async fn removing_a_passkey_needs_the_password(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, mut device) = with_passkey_user(&db).await;
    let id = user.send(TwoFactorStatus {}).await.ok().passkeys[0].id;
    let r = user.send(RemovePasskey { id, password: "not my password".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 1);
    // Nobody removes another person's passkey.
    let mut other = add_user(&mut admin, &server, "other@example.com", &[]).await;
    let r = other.send(RemovePasskey { id, password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = user.send(RemovePasskey { id, password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM recovery_codes").await, 0, "no factor left, no recovery codes");
    assert_eq!(audit_entries(&mut admin, "two_factor.passkey_removed").await.len(), 1);
    // It signs in no more; the password alone does again.
    let (_, r) = sign_in_with(&server, &mut device).await;
    assert_refused(&r);
    assert_eq!(server.client().sign_in(USER, PASSWORD).await.ok(), "/");
}

async fn removing_a_passkey_emails_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, mut admin, mut user, _device) = with_passkey_user(&db).await;
    let subject = "A passkey was removed from your Roster account";
    let id = user.send(TwoFactorStatus {}).await.ok().passkeys[0].id;
    let r = user.send(RemovePasskey { id, password: "not my password".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(count_emails(&mut admin, USER, subject).await, 0, "refused, nothing to tell");
    let since = now_ms();
    let r = user.send(RemovePasskey { id, password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let text = notice(&mut admin, USER, subject, "A passkey was removed from your", since).await;
    assert!(text.contains("/account?tab=security"), "what to do, where: {text}");
}

async fn renaming_a_passkey_is_recorded(backend: Backend) {
    let db = TestDb::new(backend);
    let (_server, mut admin, mut user, _device) = with_passkey_user(&db).await;
    let id = user.send(TwoFactorStatus {}).await.ok().passkeys[0].id;
    let r = user.send(RenamePasskey { id, name: " Home desktop ".into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(user.send(TwoFactorStatus {}).await.ok().passkeys[0].name, "Home desktop");
    let r = user.send(RenamePasskey { id, name: "x".repeat(101) }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let entries = audit_entries(&mut admin, "two_factor.passkey_renamed").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].details.ends_with("Work laptop → Home desktop"), "{entries:?}");
}

async fn passkey_sign_in_tells_nothing_about_accounts(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, mut device) = with_passkey_user(&db).await;
    let mut answers = Vec::new();
    // A credential the server does not know (its passkey was removed).
    let mut gone = Device::new();
    add_passkey(&mut user, &mut gone, "Soon gone").await;
    let gone_id = scalar(&db, "SELECT MAX(id) FROM passkeys").await;
    user.send(RemovePasskey { id: gone_id, password: PASSWORD.into() }).await;
    answers.push(("unknown credential", sign_in_with(&server, &mut gone).await.1));
    // A spent or unknown ceremony.
    let (mut c, _, options) = begin_sign_in(&server).await;
    let credential = device.get(&server.base, &options).await;
    answers.push(("unknown ceremony", finish_sign_in(&mut c, &"A".repeat(43), &credential).await));
    // An answer that is not a credential at all.
    let (mut c, ceremony, _) = begin_sign_in(&server).await;
    answers.push(("not a credential", finish_sign_in(&mut c, &ceremony, "{\"id\": 1}").await));
    // A credential whose user id is not the one it was registered with.
    scalar(&db, "UPDATE passkeys SET user_handle = user_handle || '-x' RETURNING 1").await;
    answers.push(("another user id", sign_in_with(&server, &mut device.clone()).await.1));
    scalar(&db, "UPDATE passkeys SET user_handle = substr(user_handle, 1, length(user_handle) - 2) RETURNING 1").await;
    // A disabled account.
    let uid = user_id(&mut user).await;
    let r = admin.send(SetUserEnabled { id: uid, enabled: false }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    answers.push(("disabled account", sign_in_with(&server, &mut device).await.1));
    for (what, r) in &answers {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", r.body);
        assert_eq!(r.err(), AppError::PasskeyRefused, "{what}");
    }
    // Enabled again, the same passkey signs in: the refusals were not its fault.
    admin.send(SetUserEnabled { id: uid, enabled: true }).await;
    let (_, r) = sign_in_with(&server, &mut device).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn passkey_sign_in_counts_in_the_sign_in_throttle(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, _admin, _user, mut device) = with_passkey_user(&db).await;
    // Right passkey, spent ceremonies: five counted failures on the account.
    for _ in 0..5 {
        let (mut c, _, options) = begin_sign_in(&server).await;
        let credential = device.get(&server.base, &options).await;
        assert_refused(&finish_sign_in(&mut c, &"B".repeat(43), &credential).await);
    }
    let failures = scalar(&db, &format!("SELECT COUNT(*) FROM sign_in_failures WHERE account_key = '{USER}'")).await;
    assert_eq!(failures, 5);
    let (_, r) = sign_in_with(&server, &mut device).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the sixth attempt waits: {:?}", r.body);
    // The same count as passwords.
    let r = server.client().sign_in(USER, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
}

async fn a_member_owing_a_second_factor_may_add_a_passkey(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let role = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    let r = admin.send(SetRoleTwoFactor { id: role, required: true }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut user = add_user(&mut admin, &server, USER, &[role]).await;
    assert!(user.send(Me {}).await.ok().unwrap().two_factor_setup_owed);
    let mut device = Device::new();
    let codes = add_passkey(&mut user, &mut device, "Laptop").await;
    assert_eq!(codes.len(), 10);
    assert!(!user.send(Me {}).await.ok().unwrap().two_factor_setup_owed);
    let r = user.send(ListUsers { query: UserQuery::default() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Their only factor cannot be removed while the role requires one.
    let id = user.send(TwoFactorStatus {}).await.ok().passkeys[0].id;
    let r = user.send(RemovePasskey { id, password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 1);
    // With an authenticator app beside it, it can.
    crate::two_factor::enable(&mut user).await;
    let r = user.send(RemovePasskey { id, password: PASSWORD.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM recovery_codes").await, 10, "a factor is left: codes stay");
}

async fn an_administrator_sees_and_resets_passkeys(backend: Backend) {
    let db = TestDb::new(backend);
    let (server, mut admin, mut user, mut device) = with_passkey_user(&db).await;
    let uid = user_id(&mut user).await;
    let r = admin.send(UserTwoFactor { id: uid }).await;
    let expected = UserFactors { totp_enabled: false, passkeys: 1, recovery_codes_left: 10, required: false };
    assert_eq!(r.ok(), expected);
    let r = admin.send(ResetTwoFactor { id: uid }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM passkeys").await, 0);
    let entries = audit_entries(&mut admin, "two_factor.reset").await;
    assert!(entries[0].details.contains("1 passkeys removed"), "{entries:?}");
    let (_, r) = sign_in_with(&server, &mut device).await;
    assert_refused(&r);
}

/// Start a passkey sign-in from the client address `ip` (the server trusts
/// the loopback proxy): (ceremony, options).
async fn begin_sign_in_from(c: &Client, ip: &str) -> (String, String) {
    let resp = c.post_form_with(BeginPasskeySignIn {}, &[("Origin", c.base.as_str()), ("X-Forwarded-For", ip)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let started: PasskeyCeremony = resp.json().await.unwrap();
    (started.ceremony, started.options)
}

async fn anonymous_sign_in_ceremonies_are_capped_per_client(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, &[("ROSTER_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let mut admin = set_up_admin(&server).await;
    let mut user = add_user(&mut admin, &server, USER, &[]).await;
    let mut device = Device::new();
    add_passkey(&mut user, &mut device, "Work laptop").await;
    let count = || scalar(&db, "SELECT COUNT(*) FROM webauthn_challenges WHERE purpose = 'sign_in'");

    // Someone else, behind another address, starts signing in first.
    let mut other = server.client();
    let (other_ceremony, other_options) = begin_sign_in_from(&other, "198.51.100.7").await;

    // One address asks again and again without an account: it keeps its
    // newest 100 ceremonies, no more.
    let spammer = server.client();
    let (first, _) = begin_sign_in_from(&spammer, "203.0.113.9").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await; // strictly the oldest
    let mut newest = (String::new(), String::new());
    for _ in 0..110 {
        newest = begin_sign_in_from(&spammer, "203.0.113.9").await;
    }
    assert_eq!(count().await, 101, "100 for the busy address, 1 for the other");

    // Its oldest is gone, its newest works, and so does the other person's.
    let mut c = server.client();
    let credential = device.get(&server.base, &newest.1).await;
    assert_refused(&finish_sign_in(&mut c, &first, &credential).await);
    let r = finish_sign_in(&mut c, &newest.0, &credential).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let credential = device.get(&server.base, &other_options).await;
    let r = finish_sign_in(&mut other, &other_ceremony, &credential).await;
    assert_eq!(r.status, StatusCode::OK, "the other address's ceremony survived: {:?}", r.body);
    assert_eq!(other.whoami().await.as_deref(), Some(USER));
}
