//! The authorization request as OpenID Connect Core 1.0 §3.1.2.1 says
//! (`prompt`, `max_age`, `id_token_hint`, `login_hint`, `auth_time`), PKCE
//! for every client, and scopes deciding the claims, with the `openidconnect`
//! relying party. Each behaviour is one test, named after the OpenID
//! Foundation's conformance test module where there is one (Basic and Config
//! OP plans: `oidcc-prompt-login` is `oidcc_prompt_login`).

use crate::applications::{crm, register};
use crate::helpers::*;
use crate::oidc::{exchange, http, relying_party, world, world_with, Rp, World, REDIRECT};
use crate::on_both_backends;
use crate::passkeys::{add_passkey, Device};
use crate::two_factor::enable;
use app::applications::{ApplicationEveryClaim, SetApplicationClaimsByScope};
use app::auth::SignIn;
use app::domain::{ApplicationId, RoleId};
use app::registry::{AppId, Permission};
use app::two_factor::{BeginPasskeySignIn, FinishPasskeySignIn, SetRoleTwoFactor};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreIdToken, CoreResponseType, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationRequest, CsrfToken, LoginHint, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, Scope,
    TokenResponse as _,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

on_both_backends!(
    oidcc_prompt_none_not_logged_in,
    oidcc_prompt_none_logged_in,
    prompt_none_never_shows_a_page,
    oidcc_prompt_login,
    prompt_login_is_answered_by_a_passkey_or_the_second_step,
    oidcc_max_age_1,
    max_age_0_is_prompt_login,
    oidcc_max_age_10000,
    oidcc_id_token_hint,
    oidcc_login_hint,
    unknown_prompt_or_none_with_another_is_invalid_request,
    oidcc_ensure_pkce_required,
    oidcc_scope_profile,
    oidcc_scope_email,
    oidcc_scope_all,
    openid_alone_gives_sub_alone,
    applications_registered_before_scopes_keep_every_claim_until_switched,
    oidcc_discovery_endpoint_verification,
);

type Request<'a> = AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType>;

/// One authorization request on its way: what the relying party keeps.
struct Flow {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    state: CsrfToken,
    url: String,
}

/// An authorization request for the code flow with PKCE S256, the scopes
/// `openid` and `scopes`, shaped further by `shape`.
fn request<'a>(rp: &'a Rp, scopes: &[&str], shape: impl FnOnce(Request<'a>) -> Request<'a>) -> Flow {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new(s.to_string()));
    }
    let (url, state, nonce) = shape(req).url();
    Flow { verifier, nonce, state, url: url.to_string() }
}

/// What the browser got from Roster for one GET.
#[derive(Debug)]
struct Seen {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Seen {
    /// The parameters sent to the application's redirect URI, if it was sent there.
    fn at_redirect(&self) -> Option<HashMap<String, String>> {
        let location = self.location.as_deref()?;
        let rest = location.strip_prefix(REDIRECT)?.strip_prefix('?')?;
        Some(url::form_urlencoded::parse(rest.as_bytes()).into_owned().collect())
    }

    /// The code sent to the redirect URI (the state checked), or a panic saying what happened instead.
    fn code(&self, flow: &Flow) -> String {
        let q = self.at_redirect().unwrap_or_else(|| panic!("not at the redirect URI: {self:?}"));
        assert_eq!(q.get("state"), Some(flow.state.secret()), "state round-trips: {q:?}");
        q.get("code").cloned().unwrap_or_else(|| panic!("no code: {q:?}"))
    }

    /// The `error` sent to the redirect URI, with the state.
    fn error(&self, flow: &Flow) -> String {
        let q = self.at_redirect().unwrap_or_else(|| panic!("not at the redirect URI: {self:?}"));
        assert_eq!(q.get("state"), Some(flow.state.secret()), "state round-trips: {q:?}");
        assert!(!q.contains_key("code"), "no code with an error: {q:?}");
        q.get("error").cloned().unwrap_or_else(|| panic!("no error: {q:?}"))
    }

    /// Sent to Roster's Sign in page: its query (`next`, `login_hint`).
    fn sign_in(&self) -> HashMap<String, String> {
        let location = self.location.as_deref().unwrap_or_else(|| panic!("no redirect: {self:?}"));
        let rest = location.strip_prefix("/signin?").unwrap_or_else(|| panic!("not to Sign in: {location}"));
        let q: HashMap<String, String> = url::form_urlencoded::parse(rest.as_bytes()).into_owned().collect();
        assert!(q["next"].starts_with("/oidc/authorize?"), "back to the request after: {q:?}");
        q
    }
}

async fn get(browser: &Client, url: &str) -> Seen {
    let path = url.strip_prefix(&browser.base).unwrap_or(url);
    let r = browser.get(path).await;
    let status = r.status();
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    Seen { status, location, body: r.text().await.unwrap_or_default() }
}

/// Open `flow` in `browser`.
async fn open(browser: &Client, flow: &Flow) -> Seen {
    get(browser, &flow.url).await
}

/// Sign in as `email` with the password on the page `seen` sent the browser to, then follow `next`.
async fn sign_in_again(browser: &mut Client, seen: &Seen, email: &str) -> Seen {
    let next = seen.sign_in()["next"].clone();
    let r = browser.send(SignIn { email: email.into(), password: PASSWORD.into(), next: Some(next) }).await;
    let back = r.ok();
    assert!(back.starts_with("/oidc/authorize?"), "{back}");
    get(browser, &back).await
}

/// Exchange the code: the token response, and the ID token verified by the library (signature, nonce, aud).
async fn finish(rp: &Rp, seen: &Seen, flow: Flow) -> (CoreTokenResponse, Value) {
    let code = seen.code(&flow);
    let tokens = exchange(rp, &code, Some(flow.verifier)).await.unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    id_token.claims(&rp.id_token_verifier(), &flow.nonce).expect("the ID token verifies");
    let claims = payload(id_token);
    (tokens, claims)
}

/// The ID token's claims, as JSON (to see which are there at all).
fn payload(t: &CoreIdToken) -> Value {
    use base64::Engine;
    let part = t.to_string().split('.').nth(1).unwrap().to_string();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Userinfo's answer as JSON.
async fn userinfo_json(base: &str, tokens: &CoreTokenResponse) -> Value {
    let r =
        http().get(format!("{base}/oidc/userinfo")).bearer_auth(tokens.access_token().secret()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The claim names of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// Laura signs in to CRM with every scope: the token response and the ID token's claims.
async fn signed_in(w: &World, rp: &Rp) -> (CoreTokenResponse, Value) {
    let flow = request(rp, &["profile", "email", "roster"], |r| r);
    let seen = open(&w.laura, &flow).await;
    finish(rp, &seen, flow).await
}

/// Seconds since the epoch.
fn now_s() -> i64 {
    now_ms() / 1000
}

/// Laura's session's last authentication, in seconds since the epoch.
async fn laura_authenticated_at(w: &World) -> i64 {
    let sql = "SELECT MAX(s.authenticated_at) FROM sessions s JOIN users u ON u.id = s.user_id \
               WHERE u.email = 'laura@example.com'";
    scalar(&w.db, sql).await / 1000
}

// ---- prompt=none --------------------------------------------------------------------

/// Signed out, `prompt=none`: `login_required` at the redirect URI with the
/// state, never the Sign in page; and never to an unregistered address.
async fn oidcc_prompt_none_not_logged_in(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let anonymous = w.server.client();
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let seen = open(&anonymous, &flow).await;
    assert_eq!(seen.status, StatusCode::SEE_OTHER, "{seen:?}");
    assert_eq!(seen.error(&flow), "login_required");
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_codes").await, 0);

    // The redirect URI is checked first: an unregistered one gets Roster's page.
    let evil =
        rp.clone().set_redirect_uri(openidconnect::RedirectUrl::new("https://evil.example.com/cb".into()).unwrap());
    let flow = request(&evil, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let seen = open(&anonymous, &flow).await;
    assert_eq!(seen.status, StatusCode::BAD_REQUEST);
    assert!(seen.location.is_none(), "{seen:?}");
}

/// Signed in, `prompt=none`: a code at once, and the ID token's `auth_time`
/// is when Laura signed in (the same as the first token's), not when the
/// code was issued.
async fn oidcc_prompt_none_logged_in(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    age_sign_ins(&w.db, 3).await;
    let signed_in_at = laura_authenticated_at(&w).await;
    let (_, first) = signed_in(&w, &rp).await;
    let flow = request(&rp, &["email"], |r| r.add_prompt(CoreAuthPrompt::None));
    let seen = open(&w.laura, &flow).await;
    let (_, second) = finish(&rp, &seen, flow).await;
    assert_eq!(second["sub"], first["sub"]);
    assert_eq!(second["auth_time"].as_i64(), Some(signed_in_at), "{second}");
    assert_eq!(first["auth_time"], second["auth_time"]);
    assert!(now_s() - signed_in_at >= 170, "three minutes ago, not now");
}

/// `prompt=none` shows no page whatever stops the code: someone without
/// View gets `access_denied`, someone who owes a second factor
/// `interaction_required` (without `prompt=none`: the No access page, and
/// the page that sets up a second factor).
async fn prompt_none_never_shows_a_page(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let tom = add_user(&mut w.admin, &w.server, "tom@example.com", &[]).await;
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_eq!(open(&tom, &flow).await.error(&flow), "access_denied");
    let flow = request(&rp, &[], |r| r);
    assert_eq!(open(&tom, &flow).await.status, StatusCode::FORBIDDEN, "the No access page");

    // Sales now requires a second factor, which Laura has not set up.
    let sales = scalar(&w.db, "SELECT id FROM roles WHERE name = 'Sales'").await;
    let r = w.admin.send(SetRoleTwoFactor { id: RoleId::new(sales), required: true }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_eq!(open(&w.laura, &flow).await.error(&flow), "interaction_required");
    let flow = request(&rp, &[], |r| r);
    assert_eq!(open(&w.laura, &flow).await.location.as_deref(), Some("/account?tab=security"));
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_codes").await, 0);
}

// ---- prompt=login, max_age ----------------------------------------------------------

/// Signed in, `prompt=login`: Sign in again (no code before), then back to
/// the application with a code whose `auth_time` is the new sign-in.
/// Opening the request again without signing in still asks for it.
async fn oidcc_prompt_login(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let (_, first) = signed_in(&w, &rp).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::Login));
    let seen = open(&w.laura, &flow).await;
    assert!(seen.at_redirect().is_none(), "no code before a new sign-in: {seen:?}");
    let next = seen.sign_in()["next"].clone();
    assert!(get(&w.laura, &next).await.sign_in().contains_key("next"), "the old session does not answer it");
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_codes").await, 1, "only the first sign-in's code");

    let before = now_s();
    let back = sign_in_again(&mut w.laura, &seen, "laura@example.com").await;
    let (_, second) = finish(&rp, &back, flow).await;
    assert_eq!(second["sub"], first["sub"]);
    let auth_time = second["auth_time"].as_i64().unwrap();
    assert!(auth_time >= before && auth_time > first["auth_time"].as_i64().unwrap(), "{first} {second}");
}

/// The new sign-in `prompt=login` asks for may be a passkey, or the password
/// and the second step: either brings the browser back to the application.
async fn prompt_login_is_answered_by_a_passkey_or_the_second_step(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let mut device = Device::new();
    add_passkey(&mut w.laura, &mut device, "Laptop").await;

    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::Login));
    let seen = open(&w.laura, &flow).await;
    let next = seen.sign_in()["next"].clone();
    let started = w.laura.send(BeginPasskeySignIn {}).await.ok();
    let credential = device.get(&w.server.base, &started.options).await;
    let r = w.laura.send(FinishPasskeySignIn { ceremony: started.ceremony, credential, next: Some(next) }).await;
    let back = get(&w.laura, &r.ok()).await;
    finish(&rp, &back, flow).await;

    // The administrator signs in with a password and an authenticator code.
    let (secret, _) = enable(&mut w.admin).await;
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::Login));
    let seen = open(&w.admin, &flow).await;
    let next = seen.sign_in()["next"].clone();
    let r = w.admin.send(SignIn { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), next: Some(next) }).await;
    let verify = r.ok();
    assert!(verify.starts_with("/signin/verify?next="), "{verify}");
    let next: String = url::form_urlencoded::parse(verify.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let code = crate::two_factor::code(&secret, 0);
    let r = w.admin.send(app::two_factor::SignInSecondStep { code, next: Some(next) }).await;
    let back = get(&w.admin, &r.ok()).await;
    finish(&rp, &back, flow).await;
}

/// `max_age=1` one second after signing in: Sign in again, then back with a
/// code, however long the sign-in took; `auth_time` is the new sign-in.
async fn oidcc_max_age_1(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let flow = request(&rp, &[], |r| r.set_max_age(Duration::from_secs(1)));
    let seen = open(&w.laura, &flow).await;
    assert!(seen.at_redirect().is_none(), "{seen:?}");
    let next = seen.sign_in()["next"].clone();
    let before = now_s();
    let r =
        w.laura.send(SignIn { email: "laura@example.com".into(), password: PASSWORD.into(), next: Some(next) }).await;
    // Slower than max_age between the sign-in and the return: the sign-in still answers it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let back = get(&w.laura, &r.ok()).await;
    let (_, claims) = finish(&rp, &back, flow).await;
    let auth_time = claims["auth_time"].as_i64().expect("auth_time, as max_age was asked");
    assert!(auth_time >= before && auth_time <= now_s(), "{claims}");
}

/// `max_age=0` asks for a sign-in as `prompt=login` does, even right after one.
async fn max_age_0_is_prompt_login(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let flow = request(&rp, &[], |r| r.set_max_age(Duration::from_secs(0)));
    let seen = open(&w.laura, &flow).await;
    assert!(seen.at_redirect().is_none(), "{seen:?}");
    let back = sign_in_again(&mut w.laura, &seen, "laura@example.com").await;
    finish(&rp, &back, flow).await;
    // With prompt=none it cannot: login_required.
    let flow = request(&rp, &[], |r| r.set_max_age(Duration::from_secs(0)).add_prompt(CoreAuthPrompt::None));
    assert_eq!(open(&w.laura, &flow).await.error(&flow), "login_required");
}

/// `max_age=10000` five minutes after signing in: a code at once, its
/// `auth_time` the sign-in of five minutes ago. Older than `max_age`, the
/// same request asks for a sign-in (with `prompt=none`: `login_required`).
async fn oidcc_max_age_10000(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    age_sign_ins(&w.db, 5).await;
    let signed_in_at = laura_authenticated_at(&w).await;
    let flow = request(&rp, &[], |r| r.set_max_age(Duration::from_secs(10_000)));
    let seen = open(&w.laura, &flow).await;
    let (_, claims) = finish(&rp, &seen, flow).await;
    assert_eq!(claims["auth_time"].as_i64(), Some(signed_in_at), "{claims}");
    assert!(now_s() - signed_in_at >= 290);

    age_sign_ins(&w.db, 200).await;
    let flow = request(&rp, &[], |r| r.set_max_age(Duration::from_secs(10_000)));
    open(&w.laura, &flow).await.sign_in();
    let flow = request(&rp, &[], |r| r.set_max_age(Duration::from_secs(10_000)).add_prompt(CoreAuthPrompt::None));
    assert_eq!(open(&w.laura, &flow).await.error(&flow), "login_required");
}

// ---- hints --------------------------------------------------------------------------

/// An ID token Roster issued, expired or not, as `id_token_hint` with
/// `prompt=none`: a code when it names the person signed in;
/// `login_required` when it names someone else (without `prompt=none`: Sign
/// in); `invalid_request` for a token Roster did not sign, or one issued to
/// another application.
async fn oidcc_id_token_hint(backend: Backend) {
    let mut w = world_with(backend, &[("ROSTER_ID_TOKEN_TTL", "3s")]).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let (laura_tokens, laura_claims) = signed_in(&w, &rp).await;
    let laura_hint = laura_tokens.id_token().unwrap().clone();
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let admin_seen = open(&w.admin, &flow).await;
    let (admin_tokens, _) = finish(&rp, &admin_seen, flow).await;
    let admin_hint = admin_tokens.id_token().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert!(payload(&laura_hint)["exp"].as_i64().unwrap() < now_s(), "expired by now");

    let flow = request(&rp, &[], |r| r.set_id_token_hint(&laura_hint).add_prompt(CoreAuthPrompt::None));
    let seen = open(&w.laura, &flow).await;
    let (_, claims) = finish(&rp, &seen, flow).await;
    assert_eq!(claims["sub"], laura_claims["sub"]);

    let flow = request(&rp, &[], |r| r.set_id_token_hint(&admin_hint).add_prompt(CoreAuthPrompt::None));
    assert_eq!(open(&w.laura, &flow).await.error(&flow), "login_required");
    let flow = request(&rp, &[], |r| r.set_id_token_hint(&admin_hint));
    let seen = open(&w.laura, &flow).await;
    assert!(seen.at_redirect().is_none(), "{seen:?}");
    seen.sign_in();

    // Not one of Roster's: a token signed by another key, and garbage.
    let forged = {
        use base64::Engine;
        let mut parts: Vec<String> = laura_hint.to_string().split('.').map(str::to_string).collect();
        let mut claims = payload(&laura_hint);
        claims["sub"] = admin_tokens.id_token().map(|t| payload(t)["sub"].clone()).unwrap();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    for bad in [forged.as_str(), "not-a-token"] {
        let flow = request(&rp, &[], |r| r.add_extra_param("id_token_hint", bad).add_prompt(CoreAuthPrompt::None));
        assert_eq!(open(&w.laura, &flow).await.error(&flow), "invalid_request", "{bad}");
    }
    // Issued to another application.
    let wiki = register(&mut w.admin, crm("Wiki")).await;
    let wiki_rp = relying_party(&w.server.base, &wiki).await;
    let flow = request(&wiki_rp, &[], |r| r.set_id_token_hint(&admin_hint).add_prompt(CoreAuthPrompt::None));
    let seen = open(&w.admin, &flow).await;
    assert_eq!(seen.error(&flow), "invalid_request");
}

/// `login_hint` goes on to Sign in, whose email field starts with it.
async fn oidcc_login_hint(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let anonymous = w.server.client();
    let flow = request(&rp, &[], |r| r.set_login_hint(LoginHint::new("laura@example.com".into())));
    let seen = open(&anonymous, &flow).await;
    let q = seen.sign_in();
    assert_eq!(q.get("login_hint").map(String::as_str), Some("laura@example.com"), "{q:?}");
    let page = get(&anonymous, seen.location.as_deref().unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let field = page.body.split("<input").find(|i| i.contains("id=\"email\"")).expect("the email field");
    assert!(field.contains("value=\"laura@example.com\""), "the email field is filled in: {field}");
}

/// `prompt` holds only none, login, consent and select_account, and none
/// alone; `max_age` is a number: anything else is `invalid_request` at the
/// redirect URI, for someone signed in and someone signed out alike.
async fn unknown_prompt_or_none_with_another_is_invalid_request(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let anonymous = w.server.client();
    for (name, value) in [
        ("prompt", "create"),
        ("prompt", "none login"),
        ("prompt", "consent none"),
        ("max_age", "-1"),
        ("max_age", "soon"),
    ] {
        for browser in [&w.laura, &anonymous] {
            let flow = request(&rp, &[], |r| r.add_extra_param(name, value));
            assert_eq!(open(browser, &flow).await.error(&flow), "invalid_request", "{name}={value}");
        }
    }
    // consent is granted by the roles; select_account is the Sign in page.
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::Consent));
    let seen = open(&w.laura, &flow).await;
    finish(&rp, &seen, flow).await;
    let flow = request(&rp, &[], |r| r.add_prompt(CoreAuthPrompt::SelectAccount));
    open(&w.laura, &flow).await.sign_in();
}

// ---- PKCE ---------------------------------------------------------------------------

/// Every client must use PKCE with S256, confidential ones too: a request
/// without it, or with `plain`, is refused with `invalid_request` at the
/// redirect URI, before anyone is asked to sign in.
async fn oidcc_ensure_pkce_required(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    assert!(w.creds.client_secret.is_some(), "a confidential client");
    let (url, state, _) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let flow = Flow {
        verifier: PkceCodeVerifier::new("unused".into()),
        nonce: Nonce::new("unused".into()),
        state,
        url: url.to_string(),
    };
    for browser in [&w.laura, &w.server.client()] {
        let seen = open(browser, &flow).await;
        assert_eq!(seen.error(&flow), "invalid_request", "{seen:?}");
        let q = seen.at_redirect().unwrap();
        assert!(q["error_description"].contains("PKCE"), "{q:?}");
    }
    let plain = format!("{}&code_challenge={}&code_challenge_method=plain", flow.url, "a".repeat(43));
    let flow = Flow { url: plain, ..flow };
    assert_eq!(open(&w.laura, &flow).await.error(&flow), "invalid_request");
    assert_eq!(scalar(&w.db, "SELECT COUNT(*) FROM oidc_codes").await, 0);
}

// ---- scopes -------------------------------------------------------------------------

/// `openid profile`: `sub` and the names, nothing of the email, roles or permissions.
async fn oidcc_scope_profile(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let flow = request(&rp, &["profile"], |r| r);
    let seen = open(&w.laura, &flow).await;
    let (tokens, claims) = finish(&rp, &seen, flow).await;
    let granted: Vec<String> = tokens.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(granted, ["openid", "profile"]);
    for c in ["name", "given_name", "family_name"] {
        assert!(claims.get(c).is_some(), "{c}: {claims}");
    }
    for c in ["email", "email_verified", "roles", "permissions"] {
        assert!(claims.get(c).is_none(), "{c}: {claims}");
    }
    let info = userinfo_json(&w.server.base, &tokens).await;
    assert_eq!(keys(&info), ["aud", "family_name", "given_name", "name", "sub"]);
}

/// `openid email`: `sub`, `email` and `email_verified`, nothing else about the person.
async fn oidcc_scope_email(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let flow = request(&rp, &["email"], |r| r);
    let seen = open(&w.laura, &flow).await;
    let (tokens, claims) = finish(&rp, &seen, flow).await;
    assert_eq!(claims["email"], "laura@example.com");
    assert_eq!(claims["email_verified"], true);
    for c in ["name", "given_name", "family_name", "roles", "permissions"] {
        assert!(claims.get(c).is_none(), "{c}: {claims}");
    }
    let info = userinfo_json(&w.server.base, &tokens).await;
    assert_eq!(keys(&info), ["aud", "email", "email_verified", "sub"]);
}

/// Every scope Roster has (and one it has not, ignored): every claim, the
/// roles and this application's permissions with `roster`; the token
/// response says what was granted.
async fn oidcc_scope_all(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let flow = request(&rp, &["roster", "phone", "email", "profile"], |r| r);
    let seen = open(&w.laura, &flow).await;
    let (tokens, claims) = finish(&rp, &seen, flow).await;
    let granted: Vec<String> = tokens.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(granted, ["openid", "profile", "email", "roster"]);
    assert_eq!(claims["roles"], serde_json::json!(["Sales"]));
    assert_eq!(claims["permissions"], serde_json::json!(["view", "update"]));
    let info = userinfo_json(&w.server.base, &tokens).await;
    assert_eq!(
        keys(&info),
        ["aud", "email", "email_verified", "family_name", "given_name", "name", "permissions", "roles", "sub"]
    );
    assert_eq!(info["permissions"], serde_json::json!(["view", "update"]));
}

/// `openid` alone: the ID token says who (`sub`) and nothing about them; userinfo the same.
async fn openid_alone_gives_sub_alone(backend: Backend) {
    let w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    let flow = request(&rp, &[], |r| r);
    let seen = open(&w.laura, &flow).await;
    let (tokens, claims) = finish(&rp, &seen, flow).await;
    assert_eq!(keys(&claims), ["at_hash", "aud", "auth_time", "exp", "iat", "iss", "nonce", "sub"]);
    let info = userinfo_json(&w.server.base, &tokens).await;
    assert_eq!(keys(&info), ["aud", "sub"]);
}

/// An application registered before scopes decided the claims (its row made
/// by the migration) keeps every claim whatever it asks, until an
/// administrator switches it to claims by scope; one registered now never had them.
async fn applications_registered_before_scopes_keep_every_claim_until_switched(backend: Backend) {
    let mut w = world(backend).await;
    let rp = relying_party(&w.server.base, &w.creds).await;
    assert!(!w.admin.send(ApplicationEveryClaim { id: w.app_id }).await.ok(), "registered now: claims by scope");
    // As the migration marks every application registered before it.
    execute(&w.db, &format!("INSERT INTO oidc_every_claim (application_id) VALUES ({})", w.app_id)).await;
    assert!(w.admin.send(ApplicationEveryClaim { id: w.app_id }).await.ok());

    let flow = request(&rp, &["email"], |r| r);
    let seen = open(&w.laura, &flow).await;
    let (tokens, claims) = finish(&rp, &seen, flow).await;
    assert_eq!(claims["permissions"], serde_json::json!(["view", "update"]), "{claims}");
    assert!(claims.get("given_name").is_some(), "{claims}");
    let granted: Vec<String> = tokens.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(granted, ["openid", "profile", "email", "roster"], "the response says what was granted");

    // Someone with Applications View only may not switch it.
    let viewer_role = create_role(&mut w.admin, "Viewers", &[(AppId::Applications, Permission::View)]).await;
    let mut viewer = add_user(&mut w.admin, &w.server, "viewer@example.com", &[viewer_role]).await;
    assert!(viewer.send(ApplicationEveryClaim { id: w.app_id }).await.ok());
    let r = viewer.send(SetApplicationClaimsByScope { id: w.app_id }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = w.admin.send(SetApplicationClaimsByScope { id: w.app_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!w.admin.send(ApplicationEveryClaim { id: w.app_id }).await.ok());
    let entries = audit_entries(&mut w.admin, "application.updated").await;
    assert!(entries.iter().any(|e| e.details == "claims by scope" && e.target_label == "CRM"), "audited");
    let flow = request(&rp, &["email"], |r| r);
    let seen = open(&w.laura, &flow).await;
    let (_, claims) = finish(&rp, &seen, flow).await;
    assert!(claims.get("permissions").is_none(), "{claims}");
    // Unknown application: 404.
    assert_eq!(
        w.admin.send(SetApplicationClaimsByScope { id: ApplicationId::new(9999) }).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Discovery says what Roster does: its scopes, every claim it can send, the
/// prompt values, S256 alone, and no request objects or claims parameter.
async fn oidcc_discovery_endpoint_verification(backend: Backend) {
    let w = world(backend).await;
    let d: Value = http()
        .get(format!("{}/.well-known/openid-configuration", w.server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["scopes_supported"], serde_json::json!(["openid", "profile", "email", "roster"]));
    let claims: Vec<&str> = d["claims_supported"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for c in
        ["sub", "auth_time", "name", "given_name", "family_name", "email", "email_verified", "roles", "permissions"]
    {
        assert!(claims.contains(&c), "{c}: {claims:?}");
    }
    // Every claim an ID token or userinfo held with every scope is listed.
    let rp = relying_party(&w.server.base, &w.creds).await;
    let (tokens, id_claims) = signed_in(&w, &rp).await;
    let info = userinfo_json(&w.server.base, &tokens).await;
    for c in keys(&id_claims).into_iter().chain(keys(&info)) {
        assert!(claims.contains(&c.as_str()), "{c} is sent but not listed: {claims:?}");
    }
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(d["prompt_values_supported"], serde_json::json!(["none", "login", "consent", "select_account"]));
    assert_eq!(d["request_uri_parameter_supported"], false, "its default would be true");
    assert_eq!(d["request_parameter_supported"], false);
    assert_eq!(d["claims_parameter_supported"], false);
}
