//! Single sign-on: a real relying-party library (`openidconnect`) signs in to
//! a registered application through Roster: discovery, authorize with PKCE,
//! token exchange, ID token verification against the JWKS, userinfo. Then
//! every refusal, each on its own.

use crate::applications::{crm, register};
use crate::helpers::*;
use crate::on_both_backends;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim, CoreIdToken, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AccessToken, AdditionalClaims, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse as _, UserInfoClaims,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    authorize_on_one_node_exchange_on_another,
    end_session_returns_only_to_registered_uris,
    email_verified_is_true_only_for_an_address_its_owner_proved,
);

const REDIRECT: &str = "https://crm.example.com/oidc/callback";

type Rp = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Roster's claims beyond the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RosterClaims {
    roles: Vec<String>,
    permissions: Vec<String>,
}
impl AdditionalClaims for RosterClaims {}

/// The application a userinfo answer is about (its client id).
fn aud(info: &UserInfoClaims<RosterClaims, CoreGenderClaim>) -> String {
    info.audiences().and_then(|a| a.first()).map(|a| a.to_string()).unwrap_or_default()
}

fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn discover(base: &str) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(base.to_string()).unwrap(), &http()).await.unwrap()
}

async fn relying_party(base: &str, creds: &Value) -> Rp {
    let secret = creds["client_secret"].as_str().map(|s| ClientSecret::new(s.to_string()));
    CoreClient::from_provider_metadata(
        discover(base).await,
        ClientId::new(creds["client_id"].as_str().unwrap().to_string()),
        secret,
    )
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
        .add_scope(Scope::new("profile".into()));
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

async fn exchange(
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

async fn userinfo(rp: &Rp, token: &AccessToken) -> Result<UserInfoClaims<RosterClaims, CoreGenderClaim>, String> {
    rp.user_info(token.clone(), None).unwrap().request_async(&http()).await.map_err(|e| format!("{e:?}"))
}

/// A Roster with CRM registered, the role Sales granting View + Update on it, and Laura in Sales.
struct World {
    // Stopped before its database is dropped.
    server: Server,
    db: TestDb,
    admin: Client,
    laura: Client,
    creds: Value,
    app_id: i64,
}

async fn world(backend: Backend) -> World {
    world_with(backend, &[]).await
}

async fn world_with(backend: Backend, env: &[(&str, &str)]) -> World {
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, env).await;
    let mut admin = set_up_admin(&server).await;
    let creds = register(&mut admin, crm("CRM")).await;
    let app_id = creds["id"].as_i64().unwrap();
    let sales = create_role(&mut admin, "Sales", json!([[{"Registered": app_id}, "Update"]])).await;
    let laura = add_user(&mut admin, &server, "laura@example.com", &[sales]).await;
    World { server, db, admin, laura, creds, app_id }
}

// ---- the tests ----------------------------------------------------------------------

async fn a_relying_party_signs_in_with_pkce_and_verifies_the_id_token(backend: Backend) {
    let mut w = world(backend).await;
    w.admin.call("update_my_name", &[("first_name", "Ada"), ("last_name", "Admin")]).await;
    w.laura.call("update_my_name", &[("first_name", "Laura"), ("last_name", "M")]).await;
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
    let role =
        w.admin.call("list_roles", &[]).await.body.as_array().unwrap().iter().find(|r| r["name"] == "Sales").unwrap()
            ["id"]
            .clone();
    let r = w
        .admin
        .call_json("set_role_permissions", json!({"id": role, "grants": [[{"Registered": w.app_id}, "View"]]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(userinfo(&rp, tokens.access_token()).await.unwrap().additional_claims().permissions, vec!["view"]);

    let entries = audit_entries(&mut w.admin, "application.signed_in").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor_email"], json!("laura@example.com"));
    assert_eq!(entries[0]["details"], json!("signed in to CRM"));
    assert!(!entries[0]["ip"].as_str().unwrap().is_empty(), "the person's IP");
}

async fn client_secret_post_works_too(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await.set_auth_type(AuthType::RequestBody);
    let s = authorize(&rp, &w.laura, true).await;
    let tokens = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &s.nonce).unwrap();
    // Confidential clients may also leave PKCE out.
    let s = authorize(&rp, &w.laura, false).await;
    exchange(&rp, &s.code.unwrap(), None).await.unwrap();
}

async fn public_clients_must_use_pkce(backend: Backend) {
    let mut w = world(backend).await;
    let mut input = crm("Wiki");
    input["client_type"] = json!("Public");
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
    let expires = scalar(&w.db, "SELECT expires_at - auth_time FROM oidc_codes").await;
    assert!(expires <= 60_000, "codes expire within 60 s");
    scalar(&w.db, "UPDATE oidc_codes SET expires_at = expires_at - 61000 RETURNING 1").await;
    assert_eq!(exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_grant");
}

async fn wrong_or_rotated_away_secret_is_refused(backend: Backend) {
    let mut w = world(backend).await;
    let mut wrong = w.creds.clone();
    wrong["client_secret"] = json!("A".repeat(43));
    let rp = relying_party(&w.server.base, &wrong).await;
    let s = authorize(&rp, &w.laura, true).await;
    assert_eq!(exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_client");

    let r = w.admin.call("rotate_application_secret", &[("id", &id_arg(w.app_id))]).await;
    let rotated = r.body["client_secret"].as_str().unwrap().to_string();
    let old = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&old, &w.laura, true).await;
    assert_eq!(exchange(&old, &s.code.unwrap(), Some(s.verifier)).await.unwrap_err(), "invalid_client");
    let mut new = w.creds.clone();
    new["client_secret"] = json!(rotated);
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
    let r = tom.call("sign_in", &[("email", "laura@example.com"), ("password", PASSWORD), ("next", &next)]).await;
    assert!(
        r.body.as_str().unwrap().starts_with("/oidc/authorize?"),
        "after sign-in the request continues: {:?}",
        r.body
    );
}

async fn disabled_application_refuses_sign_in(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let before = authorize(&rp, &w.laura, true).await;
    w.admin.call("set_application_enabled", &[("id", &id_arg(w.app_id)), ("enabled", "false")]).await;
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
    let r = w.admin.call("set_user_enabled", &[("id", &id_arg(laura_id)), ("enabled", "false")]).await;
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
    assert_eq!(aud(&at_crm), wiki["client_id"].as_str().unwrap());
    assert_ne!(aud(&at_crm), w.creds["client_id"].as_str().unwrap(), "CRM sees it is not its token");
    // A Wiki ID token does not verify as a CRM one (aud).
    let s = authorize(&wiki_rp, &w.admin, true).await;
    let t = exchange(&wiki_rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    assert!(t.id_token().unwrap().claims(&crm_rp.id_token_verifier(), &s.nonce).is_err());
    // Laura holds CRM only: a token of hers for CRM stops at userinfo once she loses View.
    let s = authorize(&crm_rp, &w.laura, true).await;
    let t = exchange(&crm_rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    assert_eq!(aud(&userinfo(&wiki_rp, t.access_token()).await.unwrap()), w.creds["client_id"].as_str().unwrap());
    let sales =
        w.admin.call("list_roles", &[]).await.body.as_array().unwrap().iter().find(|r| r["name"] == "Sales").unwrap()
            ["id"]
            .clone();
    w.admin.call_json("set_role_permissions", json!({"id": sales, "grants": []})).await;
    assert!(userinfo(&crm_rp, t.access_token()).await.is_err());
}

async fn signing_key_rotation_keeps_old_tokens_verifiable(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let s = authorize(&rp, &w.laura, true).await;
    let old = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    let old_token = old.id_token().unwrap().clone();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("rotate-signing-key")
        .env_clear()
        .env("ROSTER_DATABASE_URL", &w.db.url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The relying party fetches the JWKS again: both keys are there.
    let rp = relying_party(&w.server.base, &w.creds).await;
    let jwks: Value = http().get(format!("{}/oidc/jwks", w.server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    old_token.claims(&rp.id_token_verifier(), &s.nonce).expect("a token signed before the rotation still verifies");
    let s = authorize(&rp, &w.laura, true).await;
    let new = exchange(&rp, &s.code.unwrap(), Some(s.verifier)).await.unwrap();
    new.id_token().unwrap().claims(&rp.id_token_verifier(), &s.nonce).unwrap();
    let kid = |t: &CoreIdToken| {
        let header = t.to_string().split('.').next().unwrap().to_string();
        use base64::Engine;
        let h: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        h["kid"].as_str().unwrap().to_string()
    };
    assert_ne!(kid(&old_token), kid(new.id_token().unwrap()), "new tokens use the new key");
    assert_eq!(kid(new.id_token().unwrap()), jwks["keys"][0]["kid"].as_str().unwrap());
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
        .basic_auth(w.creds["client_id"].as_str().unwrap(), w.creds["client_secret"].as_str())
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
    let _ = w.admin.call("me", &[]).await;
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
    let _ = w.admin.call("me", &[]).await;
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
    let r = w.laura.call("confirm_email", &[("token", &token)]).await;
    assert_eq!((r.status, &r.body), (StatusCode::OK, &json!("laura.new@example.com")));
    let (email, id_token, info, _) = email_claims(&rp, &w.laura).await;
    assert_eq!((email.as_str(), id_token, info), ("laura.new@example.com", Some(true), Some(true)));
}
