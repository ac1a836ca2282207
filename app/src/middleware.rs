//! The request middleware: [`check_host`] refuses requests addressed to a
//! host other than the public URL's (DNS rebinding), and [`authenticate`]
//! refuses cross-site state changes, works out the client's address
//! ([`client_ip`](crate::server::session::client_ip)), resolves the session with the
//! user's grants (`crate::grants`), and sends page loads without one to Sign in.

use crate::error::{AppError, AppResult};
use crate::registry::Permission;
use crate::server::access::Principal;
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::session::{clear_cookie, client_info, cookie_token, find, RequestAuth};
use crate::server::state::{AppState, Settings};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use url::Url;

/// Look up a live session ([`find`]) and load the user's permissions, and
/// whether they owe a second factor.
pub async fn resolve(db: &Db, settings: &Settings, token: &Token) -> AppResult<Option<Principal>> {
    let Some((hash, row)) = find(db, settings, token).await? else { return Ok(None) };
    let (crate::grants::Held { is_admin, grants, .. }, two_factor_setup_owed) =
        crate::grants::load_for_session(db, row.user_id).await?;
    Ok(Some(Principal {
        user_id: row.user_id,
        session_hash: hash,
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        is_admin,
        grants,
        two_factor_setup_owed,
        authenticated_at: row.authenticated_at,
    }))
}

/// Pages anyone may load without a session.
fn is_public_page(path: &str) -> bool {
    path == "/signin"
        || path == "/signin/verify"
        || path == "/healthz"
        || path == "/readyz"
        // It asks for its own bearer token (server/src/monitoring.rs).
        || path == "/metrics"
        || path == "/favicon.ico"
        || path.starts_with("/setup/")
        || path.starts_with("/signup/")
        || path == "/forgot-password"
        || path.starts_with("/reset/")
        || path.starts_with(crate::paths::CONFIRM_EMAIL)
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
        // The OpenID Connect endpoints answer for themselves: authorize
        // sends a signed-out person to Sign in only once the client and its
        // redirect URI are known good.
        || path.starts_with("/oidc/")
        || path == "/.well-known/openid-configuration"
}

/// The OpenID Connect endpoints a relying party calls from its server: no
/// Origin, form-encoded. They never read the session cookie (the client
/// authenticates with its secret or PKCE, userinfo with a bearer token), so a
/// cross-site form posting to them gains nothing from the browser.
fn is_server_to_server(path: &str) -> bool {
    path == crate::paths::oidc::TOKEN || path == crate::paths::oidc::USERINFO
}

/// Is this state-changing request from Roster's own pages? Browsers send
/// `Origin` on every POST; `Sec-Fetch-Site` backs it up. A request with
/// neither is accepted only with `Content-Type: application/json`: a
/// cross-site page can send a form or a "simple" fetch (urlencoded, multipart,
/// text/plain) without asking, but any other type needs a CORS preflight that
/// Roster never grants. Scripts calling form-encoded functions send `Origin`.
fn same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if origin == public_origin {
            return true;
        }
        // Same host as the request was addressed to (behind a TLS-terminating
        // proxy the scheme seen here may differ from the browser's).
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
        return !host.is_empty() && origin_host == host;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => is_json(headers),
    }
}

/// `Content-Type: application/json` (any parameters, any case).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Is `host` (a `Host` header) the public URL's host and port? Loopback names
/// count as one (`localhost`, `127.0.0.1`, `[::1]`) when the public URL is a
/// loopback one: a rebinding attacker's page is always at a name of its own.
fn host_matches(host: &str, public: &Url) -> bool {
    if host.is_empty() || host.contains(['/', '\\', '?', '#', '@']) || host.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    // Listening on every interface without a public_url: no name to hold the
    // request to (the start-up warns about it).
    let unspecified = match public.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    };
    if unspecified {
        return true;
    }
    let Ok(seen) = Url::parse(&format!("{}://{host}/", public.scheme())) else { return false };
    if seen.port_or_known_default() != public.port_or_known_default() {
        return false;
    }
    let loopback = |h: Option<url::Host<&str>>| match h {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    seen.host() == public.host() || (loopback(seen.host()) && loopback(public.host()))
}

/// Axum middleware: refuse a request whose `Host` is not the public URL's
/// (421), so a page at an attacker's name that resolves to Roster's address
/// (DNS rebinding) gets nothing. `/healthz` and `/readyz` answer any host:
/// load balancers probe nodes by their own address. So does `/metrics`:
/// Prometheus scrapes each node by its address and cannot set `Host`, and
/// what it answers depends on a bearer token no browser sends by itself,
/// never on a cookie, so a rebound page gains nothing there.
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if !matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics")
        && !host_matches(host, &state.settings.public_url)
    {
        tracing::warn!(path = req.uri().path(), "request for another host refused");
        let message = format!(
            "This server answers only for {}. Open Roster at that address (or set public_url to the address you use).",
            state.settings.origin()
        );
        return (StatusCode::MISDIRECTED_REQUEST, message).into_response();
    }
    next.run(req).await
}

/// An error met before the request reached its page or server function (the
/// session could not be read): its status and `Retry-After`, and its message
/// as a server function's error (JSON) under `/api/`, as plain text for a
/// page (short, so whatever shows it can show it whole).
fn error_response(e: &AppError, path: &str) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = if path.starts_with("/api/") {
        match serde_json::to_string(e) {
            Ok(json) => (status, [(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(_) => (status, e.to_string()).into_response(),
        }
    } else {
        (status, e.to_string()).into_response()
    };
    if let Some(secs) = e.retry_after() {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Axum middleware: refuse cross-site state changes, resolve the session, and
/// send unauthenticated page loads to Sign in with a way back.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let safe = method == Method::GET || method == Method::HEAD || method == Method::OPTIONS;
    if !safe && !is_server_to_server(req.uri().path()) && !same_origin(req.headers(), &state.settings.origin()) {
        tracing::warn!(path = req.uri().path(), "cross-origin request refused");
        return (
            StatusCode::FORBIDDEN,
            "Cross-origin requests are not allowed. (A request without Origin and Sec-Fetch-Site must be \
             Content-Type: application/json, or send Origin.)",
        )
            .into_response();
    }
    let peer = req.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0);
    let client = client_info(req.headers(), peer, &state.settings.trusted_proxies);
    req.extensions_mut().insert(client);

    let token = cookie_token(req.headers(), state.settings.cookie_name());
    let mut clear = false;
    let principal = match &token {
        Some(t) => match resolve(&state.db, &state.settings, t).await {
            Ok(p) => {
                clear = p.is_none();
                p
            }
            Err(e) => return error_response(&e, req.uri().path()),
        },
        None => None,
    };
    let path = req.uri().path().to_string();
    if principal.is_none() && safe && !is_public_page(&path) {
        let wanted = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let target = if wanted == "/" {
            "/signin".to_string()
        } else {
            format!("/signin?next={}", url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>())
        };
        let mut resp = Redirect::to(&target).into_response();
        if clear {
            if let Ok(v) = HeaderValue::from_str(&clear_cookie(&state.settings)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        return resp;
    }
    // A member of a role that requires a second factor, without one, is
    // taken to set one up, whatever page they asked for. The OpenID Connect
    // endpoints answer for themselves: authorize sends them there too, but
    // with `prompt=none` it must answer the application instead.
    let setup_page_or_asset = path.starts_with("/api/")
        || path.starts_with("/pkg/")
        || path.starts_with("/oidc/")
        || path == "/account"
        || path == "/favicon.ico";
    if safe && !setup_page_or_asset && principal.as_ref().is_some_and(|p| p.two_factor_setup_owed) {
        return Redirect::to("/account?tab=security").into_response();
    }
    // An application's page without View renders as the 403 page
    // (`shell::RequireView`); say so in the status too.
    let forbidden_page = method == Method::GET
        && principal
            .as_ref()
            .is_some_and(|p| crate::registry::app_at(&path).is_some_and(|app| !p.can(app, Permission::View)));
    req.extensions_mut().insert(RequestAuth(principal));
    let mut resp = next.run(req).await;
    if forbidden_page && resp.status() == StatusCode::OK {
        *resp.status_mut() = StatusCode::FORBIDDEN;
    }
    if clear && !resp.headers().contains_key(header::SET_COOKIE) {
        if let Ok(v) = HeaderValue::from_str(&clear_cookie(&state.settings)) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> Url {
        Url::parse("https://roster.example.com/").unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn host_must_be_the_public_host_and_port() {
        let p = public();
        assert!(host_matches("roster.example.com", &p));
        assert!(host_matches("ROSTER.example.com:443", &p));
        assert!(!host_matches("roster.example.com:8443", &p));
        assert!(!host_matches("evil.example", &p));
        assert!(!host_matches("evil.example@roster.example.com", &p));
        assert!(!host_matches("roster.example.com@evil.example", &p));
        assert!(!host_matches("", &p));
        assert!(!host_matches("localhost:443", &p));
        let local = Url::parse("http://127.0.0.1:3000/").unwrap();
        assert!(host_matches("127.0.0.1:3000", &local));
        assert!(host_matches("localhost:3000", &local));
        assert!(host_matches("[::1]:3000", &local));
        assert!(!host_matches("localhost:3001", &local));
        assert!(!host_matches("rebind.evil.example:3000", &local));
        // No public_url and every interface: nothing to compare with.
        assert!(host_matches("192.168.1.5:3000", &Url::parse("http://0.0.0.0:3000/").unwrap()));
    }

    #[test]
    fn only_json_passes_without_origin_or_fetch_metadata() {
        const ORIGIN: &str = "https://roster.example.com";
        let s = |ct: &str| same_origin(&headers(&[("content-type", ct)]), ORIGIN);
        assert!(s("application/json"));
        assert!(s("Application/JSON; charset=utf-8"));
        assert!(!s("application/x-www-form-urlencoded"));
        assert!(!s("multipart/form-data; boundary=x"));
        assert!(!s("text/plain"));
        assert!(!same_origin(&HeaderMap::new(), ORIGIN));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")]), ORIGIN));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site"), ("content-type", "application/json")]),
            ORIGIN
        ));
    }
}
