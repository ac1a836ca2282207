//! Roster as an OpenID Connect provider for the registered applications
//! (OpenID Connect Core 1.0, authorization code flow; PKCE S256 per RFC 7636,
//! required of every client). The axum routes are in `server/src/main.rs`;
//! these handlers only read the request and answer: `authorize` decides the
//! authorization request, `claims` what the scopes give, `service` the rest.
//!
//! - `GET /.well-known/openid-configuration`, `GET /oidc/jwks`
//! - `GET /oidc/authorize`: not signed in, or `prompt=login`, or a sign-in
//!   older than `max_age` → Sign in, then back here (with `prompt=none`:
//!   `login_required` at the redirect URI instead); signed in without View on
//!   the application, or the application disabled → Roster's "no access"
//!   page, no code (`access_denied`); owing a second factor → Account,
//!   Security, to set it up (`interaction_required`). A client or redirect
//!   URI Roster does not know gets an error page, never a redirect.
//! - `POST /oidc/token`: called server to server (no Origin, form-encoded):
//!   the session middleware lets this one path through its cross-site rule,
//!   as it never reads a cookie.
//! - `GET|POST /oidc/userinfo` (bearer token), `GET /oidc/end_session`.

pub mod authorize;
pub mod claims;
pub mod keys;
pub mod service;

use crate::server::session::{clear_cookie, Caller, ClientInfo};
use crate::server::state::AppState;
use authorize::{Answer, AuthorizeRefusal};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use service::TokenError;

pub use authorize::AuthorizeParams;

/// The paths, under the public URL.
pub use crate::paths::oidc::{AUTHORIZE, DISCOVERY, END_SESSION, JWKS, TOKEN, USERINFO};

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A small page of Roster's own, in Roster's look, for what cannot be sent
/// back to the application. Its policy allows Roster's stylesheet and nothing else.
fn page(state: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| html_escape::encode_text(s).to_string();
    let stylesheet = crate::server::assets::stylesheet_href(&state.leptos_options);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Roster</title><link rel=\"stylesheet\" href=\"{stylesheet}\"></head>\
         <body><main class=\"auth-page\"><section class=\"auth-card error-view\" role=\"alert\">\
         <p class=\"brand\">Roster</p><h1>{t}</h1><p>{x}</p><p><a href=\"/\">Go to the Dashboard</a></p>\
         </section></main></body></html>",
        t = esc(title),
        x = esc(text)
    );
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; frame-ancestors 'none'"),
    );
    no_store(r)
}

fn internal(state: &AppState) -> Response {
    page(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Something went wrong on the server. Please try again.",
    )
}

pub async fn discovery(State(state): State<AppState>) -> Response {
    let o = state.settings.origin();
    Json(serde_json::json!({
        "issuer": o,
        "authorization_endpoint": format!("{o}{AUTHORIZE}"),
        "token_endpoint": format!("{o}{TOKEN}"),
        "userinfo_endpoint": format!("{o}{USERINFO}"),
        "jwks_uri": format!("{o}{JWKS}"),
        "end_session_endpoint": format!("{o}{END_SESSION}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": claims::SCOPES_SUPPORTED,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims::CLAIMS_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    }))
    .into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    // Publish a key from the first request on, so clients can fetch it before the first sign-in.
    if let Err(e) = keys::current(&state.db, &state.settings).await {
        tracing::error!(?e, "no signing key");
        return internal(&state);
    }
    match keys::jwks(&state.db, &state.settings).await {
        Ok(set) => Json(set).into_response(),
        Err(_) => internal(&state),
    }
}

/// `redirect_uri` with these query parameters added (after any it has).
fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    // Registered URIs were parsed when saved: this cannot fail.
    let Ok(mut url) = url::Url::parse(uri) else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    no_store(Redirect::to(url.as_str()).into_response())
}

pub async fn authorize(
    State(state): State<AppState>,
    Caller(principal): Caller,
    client_info: Option<Extension<ClientInfo>>,
    uri: axum::http::Uri,
    Query(q): Query<AuthorizeParams>,
) -> Response {
    // Client and redirect URI first: until both are known good, nothing is sent to the redirect URI.
    let Some(client_id) = q.client_id.as_deref() else {
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in request not valid",
            "The request names no application (client_id).",
        );
    };
    let client = match service::client(&state.db, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return page(
                &state,
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "This sign-in request comes from an application that is not registered in Roster.",
            )
        }
        Err(_) => return internal(&state),
    };
    let Some(redirect_uri) = q.redirect_uri.clone().filter(|u| client.allows_redirect(u)) else {
        tracing::info!(application_id = client.id.get(), "authorize with an unregistered redirect_uri");
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in request not valid",
            &format!("The address {} asked to return to is not one registered for it.", client.name),
        );
    };
    let st = q.state.as_deref();
    let refuse = |refusal: AuthorizeRefusal| {
        redirect_with(
            &redirect_uri,
            &[("error", Some(refusal.code())), ("error_description", Some(refusal.description())), ("state", st)],
        )
    };
    // The request itself, before anyone is asked to sign in for it.
    let checked = match authorize::check(&q) {
        Ok(c) => c,
        Err(refusal) => return refuse(refusal),
    };
    let hinted = match &q.id_token_hint {
        None => None,
        Some(t) => match service::hint(&state, t).await {
            Some((sub, aud)) if aud == client.client_id => Some(sub),
            Some(_) => {
                return refuse(AuthorizeRefusal::InvalidRequest("The id_token_hint was issued to another application."))
            }
            None => {
                return refuse(AuthorizeRefusal::InvalidRequest("The id_token_hint is not an ID token Roster issued."))
            }
        },
    };
    let login_after = q.roster_login_after.as_deref().and_then(|t| t.parse().ok());
    let now = crate::server::now_ms();
    match authorize::decide(principal.as_ref(), &client, &checked, hinted, login_after, now) {
        Answer::Refuse(refusal) => {
            tracing::info!(
                application_id = client.id.get(),
                error = refusal.code(),
                "authorize answered with an error"
            );
            refuse(refusal)
        }
        Answer::SignIn => {
            let next = authorize::after_sign_in(uri.path(), uri.query(), now);
            no_store(Redirect::to(&authorize::sign_in_url(&next, q.login_hint.as_deref())).into_response())
        }
        Answer::SetUpSecondFactor => no_store(Redirect::to("/account?tab=security").into_response()),
        Answer::NoAccess => {
            let user_id = principal.as_ref().map(|p| p.user_id.get());
            tracing::info!(application_id = client.id.get(), user_id, "authorize refused: no access");
            page(
                &state,
                StatusCode::FORBIDDEN,
                "No access",
                &format!("You don't have access to {}. Ask an administrator.", client.name),
            )
        }
        Answer::Issue => {
            let Some(principal) = principal else { return internal(&state) };
            let mut scopes = checked.scopes;
            match claims::every_claim(&state.db, client.id).await {
                Ok(true) => scopes = scopes.union(claims::Scopes::EVERY),
                Ok(false) => {}
                Err(_) => return internal(&state),
            }
            let req = service::AuthorizeRequest {
                redirect_uri: redirect_uri.clone(),
                code_challenge: checked.code_challenge,
                nonce: q.nonce.clone(),
                scope: scopes.to_scope(),
            };
            let ip = client_info.map(|Extension(c)| c.ip).unwrap_or_default();
            match service::issue_code(&state.db, &principal, &client, &req, &ip).await {
                Ok(code) => redirect_with(&redirect_uri, &[("code", Some(&code)), ("state", st)]),
                Err(_) => internal(&state),
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(e: &TokenError, basic: bool) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::json!({"error": e.code(), "error_description": e.description()});
    let mut r = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if basic { "Basic realm=\"roster\"" } else { "Bearer realm=\"roster\"" };
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    no_store(r)
}

/// RFC 6749 2.3.1: `Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape =
        |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

pub async fn token(State(state): State<AppState>, headers: HeaderMap, Form(p): Form<TokenParams>) -> Response {
    let basic = basic_credentials(&headers);
    let is_basic = basic.is_some();
    let auth = match (basic, &p.client_id, &p.client_secret) {
        (Some((id, secret)), form_id, None) if form_id.as_ref().is_none_or(|f| *f == id) => {
            service::ClientAuth { client_id: id, secret: Some(secret) }
        }
        (None, Some(id), secret) => service::ClientAuth { client_id: id.clone(), secret: secret.clone() },
        // Two methods at once, or none: RFC 6749 2.3.
        _ => return oauth_error(&TokenError::InvalidClient, is_basic),
    };
    if p.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(&TokenError::UnsupportedGrantType, is_basic);
    }
    let (Some(code), Some(redirect_uri)) = (&p.code, &p.redirect_uri) else {
        return oauth_error(&TokenError::InvalidRequest("code and redirect_uri are required."), is_basic);
    };
    match service::exchange(&state, &auth, code, redirect_uri, p.code_verifier.as_deref()).await {
        Ok(t) => no_store(Json(t).into_response()),
        Err(e) => oauth_error(&e, is_basic),
    }
}

pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(bearer) = crate::server::security::bearer_token(&headers) else {
        return oauth_error(&TokenError::InvalidToken, false);
    };
    match service::userinfo(&state.db, bearer).await {
        Ok(info) => no_store(Json(info).into_response()),
        Err(e) => oauth_error(&e, false),
    }
}

#[derive(Debug, Deserialize)]
pub struct EndSessionParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    client_id: Option<String>,
    state: Option<String>,
}

/// RP-initiated logout. The Roster session ends when the `id_token_hint` is
/// one Roster signed for the person signed in (so a link on another site
/// cannot sign people out); the browser then goes to the application's
/// registered post-logout redirect URI, or to Sign in.
pub async fn end_session(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Query(q): Query<EndSessionParams>,
) -> Response {
    let hinted = match &q.id_token_hint {
        Some(t) => service::hint(&state, t).await,
        None => None,
    };
    let client_id = hinted.as_ref().map(|(_, aud)| aud.clone()).or(q.client_id.clone());
    let client = match &client_id {
        Some(id) => service::client(&state.db, id).await.ok().flatten(),
        None => None,
    };
    if let Some(uri) = &q.post_logout_redirect_uri {
        if !client.as_ref().is_some_and(|c| c.allows_post_logout_redirect(uri)) {
            return page(
                &state,
                StatusCode::BAD_REQUEST,
                "Sign-out request not valid",
                "The address to return to after signing out is not one registered for this application.",
            );
        }
    }
    let mut signed_out = false;
    if let (Some(p), Some((sub, _))) = (&principal, &hinted) {
        if p.user_id == *sub {
            if crate::server::session::delete(&state.db, &p.session_hash).await.is_err() {
                return internal(&state);
            }
            signed_out = true;
            tracing::info!(user_id = p.user_id.get(), "signed out by an application");
        }
    }
    let mut r = match &q.post_logout_redirect_uri {
        Some(uri) => redirect_with(uri, &[("state", q.state.as_deref())]),
        None if signed_out || principal.is_none() => no_store(Redirect::to("/signin").into_response()),
        None => page(
            &state,
            StatusCode::OK,
            "Still signed in",
            "You are still signed in to Roster. To sign out, use Sign out in the User menu.",
        ),
    };
    if signed_out {
        if let Ok(v) = HeaderValue::from_str(&clear_cookie(&state.settings)) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}
