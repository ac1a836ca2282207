//! Single sign-on: a real relying-party library (`openidconnect`) signs in to
//! a registered application through Roster: discovery, authorize with PKCE,
//! token exchange, ID token verification against the JWKS, userinfo. Then
//! every refusal, each on its own.

use crate::applications::{crm, register};
use crate::helpers::*;
use crate::on_both_backends;
use app::account::UpdateMyName;
use app::applications::{ClientType, Credentials, RotateApplicationSecret, SetApplicationEnabled};
use app::auth::{Me, SignIn};
use app::domain::ApplicationId;
use app::email_confirmation::ConfirmEmail;
use app::registry::{AppId, Permission};
use app::roles::{ListRoles, SetRolePermissions};
use app::users::SetUserEnabled;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim, CoreIdToken, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AccessToken, AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    TokenResponse as _, UserInfoClaims,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_relying_party_signs_in_with_pkce_and_verifies_the_id_token,
    client_secret_post_works_too,
    public_clients_must_use_pkce,
    wrong_redirect_uri_gets_no_redirect,
    reused_code_is_refused_and_revokes_the_first_tokens,
    wrong_pkce_verifier_is_refused,
    expired_code_is_refused,
    wrong_or_rotated_away_secret_is_refused,
    person_without_view_gets_the_no_access_page,
    disabled_application_refuses_sign_in,
    disabled_person_gets_nothing,
    token_of_another_application_is_for_that_application_only,
    signing_key_rotation_keeps_old_tokens_verifiable,
    signing_keys_are_sealed_at_rest,
    a_rotated_key_leaves_the_jwks_once_its_tokens_have_expired,
    signing_keys_rotate_on_schedule,
    the_encryption_key_is_a_file_beside_sqlite_and_required_with_postgres,
    authorize_on_one_node_exchange_on_another,
    end_session_returns_only_to_registered_uris,
    email_verified_is_true_only_for_an_address_its_owner_proved,
);

pub(crate) const REDIRECT: &str = "https://crm.example.com/oidc/callback";

pub(crate) type Rp =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Roster's claims beyond the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RosterClaims {
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
}
impl AdditionalClaims for RosterClaims {}

/// The application a userinfo answer is about (its client id).
fn aud(info: &UserInfoClaims<RosterClaims, CoreGenderClaim>) -> String {
    info.audiences().and_then(|a| a.first()).map(|a| a.to_string()).unwrap_or_default()
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn discover(base: &str) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(base.to_string()).unwrap(), &http()).await.unwrap()
}

pub(crate) async fn relying_party(base: &str, creds: &Credentials) -> Rp {
    let secret = creds.client_secret.as_deref().map(|s| ClientSecret::new(s.to_string()));
    CoreClient::from_provider_metadata(discover(base).await, ClientId::new(creds.client_id.clone()), secret)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).unwrap())
}

/// One authorization request as the browser makes it.
struct Started {
    code: Option<String>,
    /// Where Roster sent the browser (or the page's status when it did not).
    location: Option<String>,
    status: StatusCode,
    body: String,
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

/// Open the application's authorization URL in `browser` (a signed-in client, or not).
async fn authorize(rp: &Rp, browser: &Client, pkce: bool) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("roster".into()));
    if pkce {
        req = req.set_pkce_challenge(challenge);
    }
    let (url, state, nonce) = req.url();
    open(browser, url.as_str(), verifier, nonce, state).await
}

async fn open(browser: &Client, url: &str, verifier: PkceCodeVerifier, nonce: Nonce, state: CsrfToken) -> Started {
    let path = url.strip_prefix(&browser.base).unwrap_or(url).to_string();
    let r = browser.get(&path).await;
    let status = r.status();
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap_or_default();
    let code = location.as_deref().and_then(|l| {
        let url = url::Url::parse(l).ok()?;
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        if let Some(s) = q.get("state") {
            assert_eq!(s, state.secret(), "state round-trips");
        }
        q.get("code").cloned()
    });
    Started { code, location, status, body, verifier, nonce }
}

pub(crate) async fn exchange(
    rp: &Rp,
    code: &str,
    verifier: Option<PkceCodeVerifier>,
) -> Result<openidconnect::core::CoreTokenResponse, String> {
    let mut req = rp.exchange_code(AuthorizationCode::new(code.to_string())).unwrap();
    if let Some(v) = verifier {
        req = req.set_pkce_verifier(v);
    }
    req.request_async(&http()).await.map_err(|e| match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            CoreErrorResponseType::InvalidGrant => "invalid_grant".to_string(),
            CoreErrorResponseType::InvalidClient => "invalid_client".to_string(),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    })
}

pub(crate) async fn userinfo(
    rp: &Rp,
    token: &AccessToken,
) -> Result<UserInfoClaims<RosterClaims, CoreGenderClaim>, String> {
    rp.user_info(token.clone(), None).unwrap().request_async(&http()).await.map_err(|e| format!("{e:?}"))
}

/// A Roster with CRM registered, the role Sales granting View + Update on it, and Laura in Sales.
pub(crate) struct World {
    // Stopped before its database is dropped.
    pub(crate) server: Server,
    pub(crate) db: TestDb,
    pub(crate) admin: Client,
    pub(crate) laura: Client,
    pub(crate) creds: Credentials,
    pub(crate) app_id: ApplicationId,
}

pub(crate) async fn world(backend: Backend) -> World {
    world_with(backend, &[]).await
}

pub(crate) async fn world_with(backend: Backend, env: &[(&str, &str)]) -> World {
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, env).await;
    let mut admin = set_up_admin(&server).await;
    let creds = register(&mut admin, crm("CRM")).await;
    let app_id = creds.id;
    let sales = create_role(&mut admin, "Sales", &[(AppId::Registered(app_id), Permission::Update)]).await;
    let laura = add_user(&mut admin, &server, "laura@example.com", &[sales]).await;
    World { server, db, admin, laura, creds, app_id }
}

// ---- the tests ----------------------------------------------------------------------

async fn a_relying_party_signs_in_with_pkce_and_verifies_the_id_token(backend: Backend) {
    let mut w = world(backend).await;
    w.admin.send(UpdateMyName { first_name: "Ada".into(), last_name: "Admin".into() }).await;
    w.laura.send(UpdateMyName { first_name: "Laura".into(), last_name: "M".into() }).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    assert_eq!(s.status, StatusCode::SEE_OTHER, "{:?} {}", s.location, s.body);
    assert!(s.location.as_deref().unwrap().starts_with(REDIRECT));
    let tokens = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    // Signature against the JWKS, iss, aud, expiry and nonce: the library's verifier.
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&rp.id_token_verifier(), &s.nonce).unwrap();
    assert_eq!(claims.email().unwrap().as_str(), "laura@example.com");
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.given_name().unwrap().get(None).unwrap().as_str(), "Laura");
    assert_ne!(claims.subject().as_str(), "laura@example.com", "sub is never the email");
    assert_eq!(claims.issuer().as_str(), w.server.base);
    // A wrong nonce fails verification.
    assert!(id_token.claims(&rp.id_token_verifier(), &Nonce::new("other".into())).is_err());

    let info = userinfo(&rp, tokens.access_token()).await.unwrap();
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.additional_claims().permissions, vec!["view", "update"]);
    assert_eq!(info.additional_claims().roles, vec!["Sales"]);
    // A role change shows at the next userinfo call.
    let role = w.admin.send(ListRoles {}).await.ok().into_iter().find(|r| r.name == "Sales").unwrap().id;
    let grants = vec![(AppId::Registered(w.app_id), Permission::View)];
    let r = w.admin.send(SetRolePermissions { id: role, grants }).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(userinfo(&rp, tokens.access_token()).await.unwrap().additional_claims().permissions, vec!["view"]);

    let entries = audit_entries(&mut w.admin, "application.signed_in").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_email, "laura@example.com");
    assert_eq!(entries[0].details, "signed in to CRM");
    assert!(!entries[0].ip.is_empty(), "the person's IP");
}

async fn client_secret_post_works_too(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await.set_auth_type(AuthType::RequestBody);
    let s = authorize(&rp, &w.laura, true).await;
    let tokens = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &s.nonce).unwrap();
}

async fn public_clients_must_use_pkce(backend: Backend) {
    let mut w = world(backend).await;
    let mut input = crm("Wiki");
    input.client_type = ClientType::Public;
    let creds = register(&mut w.admin, input).await;
    let rp = relying_party(&w.server.base, &creds).await.set_auth_type(AuthType::RequestBody);
    let s = authorize(&rp, &w.admin, false).await;
    assert!(s.code.is_none());
    assert!(s.location.unwrap().contains("error=invalid_request"), "refused at the redirect URI, with the reason");
    let s = authorize(&rp, &w.admin, true).await;
    let tokens = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &s.nonce).unwrap();
}

async fn wrong_redirect_uri_gets_no_redirect(backend: Backend) {
    let w = world(backend).await;
    for wrong in [
        "https://crm.example.com/oidc/callback/../evil",
        "https://crm.example.com/oidc/callbackx",
        "https://crm.example.com/oidc/",
        "https://CRM.example.com/oidc/callback",
        "https://crm.example.com/oidc/Callback",
        "https://crm.example.com.evil.com/oidc/callback",
        "https://crm.example.com/oidc/callback?x=1",
    ] {
        let rp =
            relying_party(&w.server.base, &w.creds).await.set_redirect_uri(RedirectUrl::new(wrong.into()).unwrap());
        let s = authorize(&rp, &w.laura, true).await;
        assert_eq!(s.status, StatusCode::BAD_REQUEST, "{wrong}");
        assert!(s.location.is_none(), "{wrong}: never a redirect to an unregistered URI");
        assert!(s.body.contains("not one registered"), "{wrong}: {}", s.body);
    }
    // The token endpoint checks it too.
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let other = rp.clone().set_redirect_uri(RedirectUrl::new("http://localhost:8080/cb".into()).unwrap());
    assert_eq!(exchange(&other, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_grant");
}

async fn reused_code_is_refused_and_revokes_the_first_tokens(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let code = s.code.unwrap();
    let verifier = s.verifier.secret().clone();
    let tokens = exchange(&rp, &code, Some(s.verifier)).await.unwrap();
    assert!(userinfo(&rp, tokens.access_token()).await.is_ok());
    let again = exchange(&rp, &code, Some(PkceCodeVerifier::new(verifier))).await;
    assert_eq!(again.unwrap_err(), "invalid_grant");
    assert!(userinfo(&rp, tokens.access_token()).await.is_err(), "what the first use issued is revoked");
}

async fn wrong_pkce_verifier_is_refused(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let wrong = PkceCodeChallenge::new_random_sha256().1;
    assert_eq!(exchange(&rp, &s.code.clone().unwrap(), Some(wrong)).await.unwrap_err(), "invalid_grant");
    // Without a verifier at all.
    let s = authorize(&rp, &w.laura, true).await;
    assert_eq!(exchange(&rp, &s.code.unwrap(), None).await.unwrap_err(), "invalid_grant");
}

async fn expired_code_is_refused(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let expires = scalar(&w.db, "SELECT expires_at FROM oidc_codes").await - now_ms();
    assert!(expires <= 60_000, "codes expire within 60 s");
    scalar(&w.db, "UPDATE oidc_codes SET expires_at = expires_at - 61000 RETURNING 1").await;
    assert_eq!(exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_grant");
}

async fn wrong_or_rotated_away_secret_is_refused(backend: Backend) {
    let mut w = world(backend).await;
    let mut wrong = w.creds.clone();
    wrong.client_secret = Some("A".repeat(43));
    let rp = relying_party(&w.server.base, &wrong).await;
    let s = authorize(&rp, &w.laura, true).await;
    assert_eq!(exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_client");

    let r = w.admin.send(RotateApplicationSecret { id: w.app_id }).await;
    let rotated = r.ok().client_secret.unwrap();
    let old = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&old, &w.laura, true).await;
    assert_eq!(exchange(&old, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_client");
    let mut new = w.creds.clone();
    new.client_secret = Some(rotated);
    let rp = relying_party(&w.server.base, &new).await;
    let s = authorize(&rp, &w.laura, true).await;
    exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
}

async fn person_without_view_gets_the_no_access_page(backend: Backend) {
    let mut w = world(backend).await;
    let mut tom = add_user(&mut w.admin, &w.server, "tom@example.com", &[]).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &tom, true).await;
    assert_eq!(s.status, StatusCode::FORBIDDEN);
    assert!(s.location.is_none() && s.code.is_none());
    assert!(
        s.body.contains("You don&#x27;t have access to CRM. Ask an administrator.")
            || s.body.contains("You don't have access to CRM. Ask an administrator."),
        "{}",
        s.body
    );
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_codes").await, 0, "no code is issued");
    // Not signed in: Sign in first, then back to the same request.
    let anonymous = w.server.client();
    let s = authorize(&rp, &anonymous, true).await;
    let location = s.location.unwrap();
    assert!(location.starts_with("/signin?next=%2Foidc%2Fauthorize%3F"), "{location}");
    let next =
        url::form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).next().unwrap().1.into_owned();
    let r = tom
        .send(SignIn { email: "laura@example.com".into(), password: PASSWORD.into(), next: Some(next.to_string()) })
        .await;
    assert!(r.ok().starts_with("/oidc/authorize?"), "after sign-in the request continues: {:?}", r.body);
}

async fn disabled_application_refuses_sign_in(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let before = authorize(&rp, &w.laura, true).await;
    w.admin.send(SetApplicationEnabled { id: w.app_id, enabled: false }).await;
    let s = authorize(&rp, &w.laura, true).await;
    assert_eq!(s.status, StatusCode::FORBIDDEN);
    assert!(s.body.contains("have access to CRM"));
    assert_eq!(exchange(&rp, &before.code.unwrap(), Some(before.verifier)).await.unwrap_err(), "invalid_client");
}

async fn disabled_person_gets_nothing(backend: Backend) {
    let mut w = world(backend).await;
    let laura_id = user_id(&mut w.laura).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let before = authorize(&rp, &w.laura, true).await;
    let ok = authorize(&rp, &w.laura, true).await;
    let tokens = exchange(&rp, &ok.code.unwrap(), Some(ok.verifier)).await.unwrap();
    let r = w.admin.send(SetUserEnabled { id: laura_id, enabled: false }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let s = authorize(&rp, &w.laura, true).await;
    assert!(s.code.is_none());
    assert!(s.location.unwrap().starts_with("/signin"), "her session is over");
    assert_eq!(exchange(&rp, &before.code.unwrap(), Some(before.verifier)).await.unwrap_err(), "invalid_grant");
    assert!(userinfo(&rp, tokens.access_token()).await.is_err());
}

async fn token_of_another_application_is_for_that_application_only(backend: Backend) {
    let mut w = world(backend).await;
    let wiki = register(&mut w.admin, crm("Wiki")).await;
    let wiki_rp = relying_party(&w.server.base, &wiki).await;
    let crm_rp = relying_party(&w.server.base, &w.creds).await;
    // The administrator may open both; a Wiki token answers for Wiki only.
    let s = authorize(&wiki_rp, &w.admin, true).await;
    let wiki_tokens = exchange(&wiki_rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    let at_crm = userinfo(&crm_rp, wiki_tokens.access_token()).await.unwrap();
    assert_eq!(aud(&at_crm), wiki.client_id.as_str());
    assert_ne!(aud(&at_crm), w.creds.client_id.as_str(), "CRM sees it is not its token");
    // A Wiki ID token does not verify as a CRM one (aud).
    let s = authorize(&wiki_rp, &w.admin, true).await;
    let t = exchange(&wiki_rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    assert!(t.id_token().unwrap().claims(&crm_rp.id_token_verifier(), &s.nonce).is_err());
    // Laura holds CRM only: a token of hers for CRM stops at userinfo once she loses View.
    let s = authorize(&crm_rp, &w.laura, true).await;
    let t = exchange(&crm_rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    assert_eq!(aud(&userinfo(&wiki_rp, t.access_token()).await.unwrap()), w.creds.client_id.as_str());
    let sales = w.admin.send(ListRoles {}).await.ok().into_iter().find(|r| r.name == "Sales").unwrap().id;
    w.admin.send(SetRolePermissions { id: sales, grants: vec![] }).await;
    assert!(userinfo(&crm_rp, t.access_token()).await.is_err());
}

/// The `kid` in an ID token's header.
fn kid(t: &CoreIdToken) -> String {
    use base64::Engine;
    let header = t.to_string().split('.').next().unwrap().to_string();
    let h: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    h["kid"].as_str().unwrap().to_string()
}

/// The key ids in the JWKS, in its order.
async fn jwks_kids(server: &Server) -> Vec<String> {
    let jwks: Value = http().get(format!("{}/oidc/jwks", server.base)).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

/// `server rotate-signing-key` against the world's database; its standard output.
fn rotate_signing_key(db: &TestDb) -> String {
    let out = command(db).arg("rotate-signing-key").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Sign Laura in to CRM: the ID token and its nonce.
async fn id_token(w: &World) -> (CoreIdToken, Nonce) {
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let tokens = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    (tokens.id_token().unwrap().clone(), s.nonce)
}

async fn signing_key_rotation_keeps_old_tokens_verifiable(backend: Backend) {
    let w = world(backend).await;
    // Published: the key that signs, and the one that signs after the next rotation.
    let before = jwks_kids(&w.server).await;
    assert_eq!(before.len(), 2, "{before:?}");
    let (old_token, old_nonce) = id_token(&w).await;
    assert_eq!(kid(&old_token), before[0], "the active key comes first");
    let printed = rotate_signing_key(&w.db);
    assert!(printed.contains(&before[1]) && printed.contains(&before[0]), "{printed}");
    // The relying party fetches the JWKS again: the old key is still there, with the new ones.
    let after = jwks_kids(&w.server).await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[0], before[1], "the key published before the rotation signs now");
    assert!(after.contains(&before[0]) && !before.contains(&after[1]), "{before:?} → {after:?}");
    let rp = relying_party(&w.server.base, &w.creds).await;
    old_token.claims(&rp.id_token_verifier(), &old_nonce).expect("a token signed before the rotation still verifies");
    let (new_token, new_nonce) = id_token(&w).await;
    new_token.claims(&rp.id_token_verifier(), &new_nonce).unwrap();
    assert_eq!(kid(&new_token), before[1], "new tokens use the key that was published before it signed");
}

/// The stored private key of `kid`.
async fn private_key(db: &TestDb, kid: &str) -> String {
    scalar_text(db, &format!("SELECT private_key FROM oidc_signing_keys WHERE kid = '{kid}'")).await.unwrap()
}

/// Every private key at rest is sealed with the encryption key: none parses as
/// PKCS#8 (as it is, or as base64). A key an earlier version stored in clear
/// is sealed at the next start.
async fn signing_keys_are_sealed_at_rest(backend: Backend) {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING as P256};
    let mut w = world(backend).await;
    let (token, _) = id_token(&w).await;
    let rng = ring::rand::SystemRandom::new();
    let is_pkcs8 = |bytes: &[u8]| EcdsaKeyPair::from_pkcs8(&P256, bytes, &rng).is_ok();
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_signing_keys").await, 2);
    for kid in jwks_kids(&w.server).await {
        let value = private_key(&w.db, &kid).await;
        assert!(value.starts_with("v1:"), "{kid}: sealed");
        assert!(!is_pkcs8(value.as_bytes()), "{kid}: not PKCS#8 as stored");
        for text in [value.as_str(), value.trim_start_matches("v1:")] {
            if let Ok(bytes) = STANDARD.decode(text) {
                assert!(!is_pkcs8(&bytes), "{kid}: not PKCS#8 in base64");
            }
        }
    }

    // An earlier version's key, in clear (base64 PKCS#8), still published.
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&P256, &rng).unwrap();
    let plain = STANDARD.encode(pkcs8.as_ref());
    let point = {
        use ring::signature::KeyPair;
        EcdsaKeyPair::from_pkcs8(&P256, pkcs8.as_ref(), &rng).unwrap().public_key().as_ref().to_vec()
    };
    let b64url = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
        "kid": "legacy", "use": "sig", "alg": "ES256"});
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let insert = format!(
        "INSERT INTO oidc_signing_keys (kid, private_key, public_jwk, created_at, state, state_since) \
         VALUES ('legacy', '{plain}', '{jwk}', {now}, 'retiring', {now}) RETURNING 1"
    );
    scalar(&w.db, &insert).await;
    w.server.kill();
    w.server = Server::start(&w.db).await;
    let value = private_key(&w.db, "legacy").await;
    assert!(value.starts_with("v1:") && !value.contains(&plain), "sealed at start: {value}");
    assert!(jwks_kids(&w.server).await.contains(&"legacy".to_string()), "and still published");
    // The same key signs after the restart (on another port: another issuer).
    w.laura.base = w.server.base.clone();
    let rp = relying_party(&w.server.base, &w.creds).await;
    let (again, again_nonce) = id_token(&w).await;
    again.claims(&rp.id_token_verifier(), &again_nonce).unwrap();
    assert_eq!(kid(&again), kid(&token));
}

/// After `server rotate-signing-key`, the old key stays published while the
/// tokens it signed can be valid (ID token lifetime plus the margin, here
/// 3 s and 5 s: room for a loaded machine), then leaves the JWKS: a token it signed no longer verifies, even at
/// a time when it had not expired.
async fn a_rotated_key_leaves_the_jwks_once_its_tokens_have_expired(backend: Backend) {
    let env = [("ROSTER_ID_TOKEN_TTL", "3s"), ("ROSTER_SIGNING_KEY_RETIRE_MARGIN", "5s")];
    let mut w = world_with(backend, &env).await;
    let (old_token, nonce) = id_token(&w).await;
    let old_kid = kid(&old_token);
    let rp = relying_party(&w.server.base, &w.creds).await;
    // Checked at the moment it was issued, so that only the signature can fail it.
    let issued = old_token.claims(&rp.id_token_verifier(), &nonce).unwrap().issue_time();
    old_token.claims(&rp.id_token_verifier().set_time_fn(move || issued), &nonce).unwrap();

    rotate_signing_key(&w.db);
    let rotated = std::time::Instant::now();
    let rp = relying_party(&w.server.base, &w.creds).await;
    assert!(jwks_kids(&w.server).await.contains(&old_kid), "still published right after the rotation");
    old_token
        .claims(&rp.id_token_verifier().set_time_fn(move || issued), &nonce)
        .expect("still verifies right after the rotation");

    tokio::time::sleep(Duration::from_millis(8500).saturating_sub(rotated.elapsed())).await;
    let kids = jwks_kids(&w.server).await;
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(!kids.contains(&old_kid), "the retired key left the JWKS: {kids:?}");
    let rp = relying_party(&w.server.base, &w.creds).await;
    let refused = old_token.claims(&rp.id_token_verifier().set_time_fn(move || issued), &nonce).unwrap_err();
    assert!(
        matches!(refused, ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)),
        "{refused:?}"
    );
    // New tokens verify (checked at a moment before they expire: with a 3 s
    // lifetime, a loaded machine can take longer than that to get here).
    let (token, nonce) = id_token(&w).await;
    token.claims(&rp.id_token_verifier().set_time_fn(move || issued), &nonce).unwrap();
    // Its private key is erased at the next upkeep (here: the next start).
    w.server.kill();
    w.server = Server::start_with(&w.db, &env).await;
    let erased = "SELECT COUNT(*) FROM oidc_signing_keys WHERE state = 'retired' AND private_key IS NULL";
    assert_eq!(scalar(&w.db, erased).await, 1);
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_signing_keys WHERE private_key IS NOT NULL").await, 2);
}

/// With `signing_key_rotation` elapsed, the next token is signed by the key
/// published before, and a new one is published.
async fn signing_keys_rotate_on_schedule(backend: Backend) {
    let w = world_with(backend, &[("ROSTER_SIGNING_KEY_ROTATION", "4s")]).await;
    let before = jwks_kids(&w.server).await;
    assert_eq!(before.len(), 2, "{before:?}");
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let (token, _) = id_token(&w).await;
    assert_eq!(kid(&token), before[1], "the key published before signs now");
    let after = jwks_kids(&w.server).await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[0], before[1]);
    assert!(after.contains(&before[0]), "the old key stays published while its tokens may be valid");
}

/// Zero configuration on SQLite: the encryption key is made in `roster.key`
/// beside the database (mode 0600), said in the log, and read again at the
/// next start, where the signing keys it sealed still open. PostgreSQL
/// refuses to start without `encryption_key`, saying how to set it.
async fn the_encryption_key_is_a_file_beside_sqlite_and_required_with_postgres(backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let db = TestDb::new(backend);
            let dir = std::path::Path::new(db.url.trim_start_matches("sqlite://")).parent().unwrap().to_path_buf();
            let key_file = dir.join("roster.key");
            let log = dir.join("first.log");
            let server = Server::start_logging(&db, &[], Some(&log)).await;
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(text.contains(&format!("created an encryption key in {}", key_file.display())), "{text}");
            assert!(text.contains("Back it up, separately from the database"), "{text}");
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
            let key = std::fs::read_to_string(&key_file).unwrap();
            assert_eq!(key.trim().len(), 44, "32 bytes in base64");
            // A signing key sealed with it signs.
            let mut admin = set_up_admin(&server).await;
            let creds = register(&mut admin, crm("CRM")).await;
            let rp = relying_party(&server.base, &creds).await;
            let s = authorize(&rp, &admin, true).await;
            let first = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap().id_token().unwrap().clone();
            drop(server);

            // The next start reads the same key, and the sealed signing key opens.
            let log = dir.join("second.log");
            let server = Server::start_logging(&db, &[], Some(&log)).await;
            assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key, "the same key");
            assert!(!std::fs::read_to_string(&log).unwrap().contains("created an encryption key"));
            admin.base = server.base.clone();
            let rp = relying_party(&server.base, &creds).await;
            let s = authorize(&rp, &admin, true).await;
            let again = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
            again.id_token().unwrap().claims(&rp.id_token_verifier(), &s.nonce).unwrap();
            assert_eq!(kid(again.id_token().unwrap()), kid(&first), "signed with the key sealed before the restart");
        }
        Backend::Postgres => {
            let db = TestDb::new(backend);
            let stderr = Server::refuses_to_start(&db, &[]);
            assert!(stderr.contains("encryption_key is not set"), "{stderr}");
            assert!(stderr.contains("ROSTER_ENCRYPTION_KEY") && stderr.contains("openssl rand -base64 32"), "{stderr}");
            let tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'";
            assert_eq!(scalar(&db, tables).await, 0, "it stopped before touching the database");
            Server::start_with(&db, &[("ROSTER_ENCRYPTION_KEY", TEST_KEY)]).await;
        }
    }
}

async fn authorize_on_one_node_exchange_on_another(backend: Backend) {
    // Two nodes behind one public address (a load balancer passes the browser's Host through).
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let public_env = [("ROSTER_PUBLIC_URL", public.as_str())];
    let mut w =
        world_with(backend, &[("ROSTER_PUBLIC_URL", public.as_str()), ("ROSTER_LISTEN", listen.as_str())]).await;
    let b = Server::start_with(&w.db, &public_env).await;
    let host = format!("127.0.0.1:{port}");
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let code = s.code.unwrap();
    // The token request reaches node B.
    let r = http()
        .post(format!("{}/oidc/token", b.base))
        .header("Host", &host)
        .basic_auth(w.creds.client_id.as_str(), w.creds.client_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", s.verifier.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let id_token: CoreIdToken = serde_json::from_value(body["id_token"].clone()).unwrap();
    id_token.claims(&rp.id_token_verifier(), &s.nonce).expect("signed with the key both nodes share");
    // Userinfo on B too.
    let r = http()
        .get(format!("{}/oidc/userinfo", b.base))
        .header("Host", &host)
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["email"], json!("laura@example.com"));
    let _ = w.admin.send(Me {}).await;
}

async fn end_session_returns_only_to_registered_uris(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let tokens = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    let hint = tokens.id_token().unwrap().to_string();
    let q = |uri: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", &hint)
            .append_pair("post_logout_redirect_uri", uri)
            .append_pair("state", "s1")
            .finish()
    };
    let r = w.laura.get(&format!("/oidc/end_session?{}", q("https://evil.example.com/bye"))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "an unregistered address: no redirect");
    assert!(w.laura.whoami().await.is_some(), "and no sign-out");
    let r = w.laura.get(&format!("/oidc/end_session?{}", q("https://crm.example.com/bye"))).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "https://crm.example.com/bye?state=s1");
    assert!(w.laura.whoami().await.is_none(), "signed out of Roster");
    let _ = w.admin.send(Me {}).await;
}

/// Sign `browser` in to the application: the ID token's email and
/// `email_verified`, userinfo's `email_verified`, and the access token.
async fn email_claims(rp: &Rp, browser: &Client) -> (String, Option<bool>, Option<bool>, AccessToken) {
    let s = authorize(rp, browser, true).await;
    let tokens = exchange(rp, &s.code.expect("a code"), Some(s.verifier)).await.unwrap();
    let claims = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &s.nonce).unwrap().clone();
    let info = userinfo(rp, tokens.access_token()).await.unwrap();
    (claims.email().unwrap().to_string(), claims.email_verified(), info.email_verified(), tokens.access_token().clone())
}

async fn email_verified_is_true_only_for_an_address_its_owner_proved(backend: Backend) {
    let sink = SmtpSink::start();
    let mut w = world_with(backend, &as_refs(&mail_env(&sink))).await;
    let laura_id = user_id(&mut w.laura).await;
    let rp = relying_party(&w.server.base, &w.creds).await;

    // Laura signed up from the invitation sent to her address.
    let (email, id_token, info, first_access) = email_claims(&rp, &w.laura).await;
    assert_eq!((email.as_str(), id_token, info), ("laura@example.com", Some(true), Some(true)));

    // An administrator changes it: an address nobody proved, in the ID token
    // and at userinfo, also for the token issued before the change.
    let r = change_email(&mut w.admin, laura_id, "laura.new@example.com").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (email, id_token, info, _) = email_claims(&rp, &w.laura).await;
    assert_eq!((email.as_str(), id_token, info), ("laura.new@example.com", Some(false), Some(false)));
    assert_eq!(userinfo(&rp, &first_access).await.unwrap().email_verified(), Some(false));

    // Laura follows the link sent to the new address, signed in: proved.
    let token = confirmation_token(&sink, "laura.new@example.com", 1).await;
    let r = w.laura.send(ConfirmEmail { token: token.to_string() }).await;
    assert_eq!(r.ok(), "laura.new@example.com");
    let (email, id_token, info, _) = email_claims(&rp, &w.laura).await;
    assert_eq!((email.as_str(), id_token, info), ("laura.new@example.com", Some(true), Some(true)));
}
