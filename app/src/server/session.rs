//! Database-backed sessions, the request authentication middleware and the
//! helpers server functions use to reach the caller and the app state.
//!
//! The cookie carries 256 random bits; the database stores only their SHA-256,
//! so a copy of the database holds no live session. Any server process can
//! serve any session, and ending a user's sessions is one `DELETE`.
//!
//! Before any of that, [`check_host`] refuses requests addressed to a host
//! other than the public URL's (DNS rebinding), and [`authenticate`] refuses
//! cross-site state changes and works out the client's address
//! ([`client_ip`]), the one value the sign-in throttle, the audit log and the
//! Sessions list all use.

use super::access::Principal;
use super::crypto::Token;
use super::db::Db;
use super::now_ms;
use super::state::{AppState, Settings};
use crate::error::{AppError, AppResult};
use crate::registry::Permission;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use ipnet::{IpNet, Ipv6Net};
use sqlx::AnyConnection;
use std::net::{IpAddr, SocketAddr};
use url::Url;

/// The session cookie's name over plain http; over https it is
/// `__Host-roster_session` ([`Settings::cookie_name`]).
pub const COOKIE_NAME: &str = "roster_session";

/// Put into every request's extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub struct RequestAuth(pub Option<Principal>);

/// Where a request came from, for the sign-in throttle, the Sessions list and
/// the audit trail. Put into every request's extensions by [`authenticate`].
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// [`ip_key`] of [`client_ip`]: an IPv4 address, or an IPv6 client's /64
    /// network (`2001:db8:1:2::/64`); empty when the peer is unknown.
    pub ip: String,
    pub user_agent: String,
}

pub fn client_info(headers: &HeaderMap, peer: Option<SocketAddr>, trusted_proxies: &[IpNet]) -> ClientInfo {
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(300).collect();
    let ip = peer.map(|p| ip_key(client_ip(headers, p.ip(), trusted_proxies))).unwrap_or_default();
    ClientInfo { ip, user_agent }
}

/// The client's address. The TCP peer, unless the peer is one of
/// `trusted_proxies`: then the proxies' own report, read right to left (each
/// proxy appends the address it received the request from), and the first hop
/// that is not a trusted proxy is the client. Whatever a client writes into the
/// header itself lies further left and is never reached. `X-Forwarded-For` is
/// read when present, otherwise the `for=` of RFC 7239 `Forwarded`. An
/// unreadable hop (`unknown`, an obfuscated name) stops the walk at the last
/// trusted proxy.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !trusted(&client) {
        return client;
    }
    for hop in forwarded_hops(headers).into_iter().rev() {
        let Some(hop) = hop else { return client };
        client = hop.to_canonical();
        if !trusted(&client) {
            return client;
        }
    }
    client
}

/// The form a client address is counted and recorded in: an IPv4 address as
/// it is; an IPv6 address as its /64 network, since one subscriber usually
/// holds a whole /64 and could otherwise take a fresh address per attempt.
pub fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map(|n| n.trunc().to_string()).unwrap_or_else(|_| v6.to_string()),
    }
}

/// The hops the proxies reported, nearest the client first (`None`: unreadable).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("")).collect::<Vec<_>>();
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff.iter().flat_map(|v| v.split(',')).map(parse_node).collect();
    }
    values("forwarded")
        .iter()
        .flat_map(|v| split_unquoted(v, ','))
        .map(|element| {
            split_unquoted(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| parse_node(node))
        })
        .collect()
}

/// Split at `sep` outside double quotes (RFC 7239 values may be quoted strings).
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| node.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// Start a new session for `user_id` with a fresh id, and return the cookie to set.
pub async fn create(db: &Db, settings: &Settings, user_id: i64, client: &ClientInfo) -> AppResult<String> {
    let mut tx = db.begin_write().await?;
    let cookie = create_in(&mut tx, settings, user_id, client).await?;
    tx.commit().await?;
    Ok(cookie)
}

/// [`create`] inside the caller's write transaction.
pub async fn create_in(
    conn: &mut AnyConnection,
    settings: &Settings,
    user_id: i64,
    client: &ClientInfo,
) -> AppResult<String> {
    let token = Token::generate();
    let now = now_ms();
    let absolute = now + settings.session_absolute_timeout.as_millis() as i64;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, absolute_expires_at, user_agent, ip, \
         authenticated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token.hash())
    .bind(user_id)
    .bind(now)
    .bind(now)
    .bind(absolute)
    .bind(&client.user_agent)
    .bind(&client.ip)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(session_cookie(settings, token.expose()))
}

/// The session's person proved who they are just now (a confirmation, or a
/// password typed with the request): the fresh-sign-in rule counts from here.
pub async fn mark_authenticated(db: &Db, session_hash: &str) -> AppResult<()> {
    sqlx::query("UPDATE sessions SET authenticated_at = $1 WHERE id_hash = $2")
        .bind(now_ms())
        .bind(session_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, session_hash: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(session_hash).execute(&db.pool).await?;
    Ok(())
}

/// End every session of a user (disable, password change, reset).
pub async fn delete_all_for_user(db: &Db, user_id: i64) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&db.pool).await?;
    Ok(r.rows_affected())
}

/// `Set-Cookie` for a new session. Over https its name has the `__Host-`
/// prefix, which requires exactly what it has: Secure, `Path=/`, no Domain.
fn session_cookie(settings: &Settings, value: &str) -> String {
    Cookie::build((settings.cookie_name(), value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::seconds(settings.session_absolute_timeout.as_secs() as i64))
        .build()
        .to_string()
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(settings: &Settings) -> String {
    Cookie::build((settings.cookie_name(), ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The session token from the cookie named for this deployment (only the
/// `__Host-` one over https: an unprefixed cookie may have been planted by a
/// sibling subdomain).
fn cookie_token(headers: &HeaderMap, name: &str) -> Option<Token> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| Token::parse(c.value()))
}

/// Look up a live session, slide its idle timeout, and load the user's
/// permissions. Expired sessions are deleted; disabled users have none.
pub async fn resolve(db: &Db, settings: &Settings, token: &Token) -> AppResult<Option<Principal>> {
    let hash = token.hash();
    let row: Option<Live> = sqlx::query_as(
        "SELECT s.user_id, s.last_seen_at, s.absolute_expires_at, s.authenticated_at, u.email, u.first_name, u.last_name, u.enabled \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let now = now_ms();
    let last_seen = row.last_seen_at;
    let idle_ms = settings.session_idle_timeout.as_millis() as i64;
    if !row.enabled || now >= row.absolute_expires_at || now >= last_seen + idle_ms {
        delete(db, &hash).await?;
        return Ok(None);
    }
    // Slide the idle timeout, but write at most every quarter timeout (capped at a minute).
    if now - last_seen >= (idle_ms / 4).min(60_000) {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(&db.pool)
            .await?;
    }
    let crate::grants::Held { is_admin, grants, two_factor_required } = crate::grants::load(db, row.user_id).await?;
    // Only members of a role that requires a second factor pay for this query.
    let two_factor_setup_owed = two_factor_required
        && !crate::two_factor::service::has_second_factor(&mut *db.pool.acquire().await?, row.user_id).await?;
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

/// A session and its user, as [`resolve`] reads them.
#[derive(sqlx::FromRow)]
struct Live {
    user_id: i64,
    last_seen_at: i64,
    absolute_expires_at: i64,
    authenticated_at: i64,
    email: String,
    first_name: String,
    last_name: String,
    #[sqlx(try_from = "crate::server::sql::Flag")]
    enabled: bool,
}

/// Pages anyone may load without a session.
fn is_public_page(path: &str) -> bool {
    path == "/signin"
        || path == "/signin/verify"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/favicon.ico"
        || path.starts_with("/setup/")
        || path.starts_with("/signup/")
        || path == "/forgot-password"
        || path.starts_with("/reset/")
        || path.starts_with(crate::email_confirmation::PATH)
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
    path == crate::oidc::TOKEN || path == crate::oidc::USERINFO
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
/// load balancers probe nodes by their own address.
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if !matches!(req.uri().path(), "/healthz" | "/readyz") && !host_matches(host, &state.settings.public_url) {
        tracing::warn!(path = req.uri().path(), "request for another host refused");
        let message = format!(
            "This server answers only for {}. Open Roster at that address (or set public_url to the address you use).",
            state.settings.origin()
        );
        return (StatusCode::MISDIRECTED_REQUEST, message).into_response();
    }
    next.run(req).await
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
            Err(_) => {
                return (StatusCode::SERVICE_UNAVAILABLE, "The database is not answering.").into_response();
            }
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
    // taken to set one up, whatever page they asked for.
    let setup_page_or_asset =
        path.starts_with("/api/") || path.starts_with("/pkg/") || path == "/account" || path == "/favicon.ico";
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

/// Where to go after sign-in: [`next_destination`] against this process's public URL.
pub fn safe_next(next: Option<&str>) -> String {
    match app_state() {
        Ok(state) => next_destination(&state.settings.public_url, next),
        Err(_) => "/".to_string(),
    }
}

/// A post-sign-in destination on Roster itself. `next` is resolved as a URL
/// relative to `public` the way a browser resolves it (tabs and newlines
/// dropped, `\` read as `/`, `//host` and schemes honoured); anything that
/// lands on another origin gives `/`. The answer is the path and query alone,
/// so it resolves to the public origin from any page of Roster's.
pub fn next_destination(public: &Url, next: Option<&str>) -> String {
    let Some(url) = next.filter(|n| !n.is_empty()).and_then(|n| public.join(n).ok()) else {
        return "/".to_string();
    };
    if url.origin() != public.origin() {
        return "/".to_string();
    }
    let mut out = String::new();
    // A path that starts with `//` would read as a host: `/.//x` is the same path.
    if url.path().starts_with("//") {
        out.push_str("/.");
    }
    out.push_str(url.path());
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    out
}

// ---- helpers for server functions -------------------------------------------------

/// The app state, provided to every server function and page render.
pub fn app_state() -> AppResult<AppState> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| AppError::internal("context", "AppState missing"))
}

fn request_parts() -> AppResult<axum::http::request::Parts> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .ok_or_else(|| AppError::internal("context", "request parts missing"))
}

/// The signed-in caller, or `Unauthorized`; `TwoFactorSetupRequired` while a
/// role requires a second factor the caller has not set up.
pub fn principal() -> AppResult<Principal> {
    let p = principal_for_setup()?;
    if p.two_factor_setup_owed {
        return Err(AppError::TwoFactorSetupRequired);
    }
    Ok(p)
}

/// The signed-in caller, or `Unauthorized`, even while a second factor is
/// owed: only for setting one up (`two_factor`) and signing out.
pub fn principal_for_setup() -> AppResult<Principal> {
    request_parts()?.extensions.get::<RequestAuth>().and_then(|a| a.0.clone()).ok_or(AppError::Unauthorized)
}

/// The token in the request's cookie `name`, if it is shaped like one.
pub fn request_cookie_token(name: &str) -> Option<Token> {
    cookie_token(&request_parts().ok()?.headers, name)
}

/// The signed-in caller, if any.
pub fn maybe_principal() -> AppResult<Option<Principal>> {
    Ok(request_parts()?.extensions.get::<RequestAuth>().and_then(|a| a.0.clone()))
}

/// Where the current request came from (see [`client_ip`]).
pub fn client() -> ClientInfo {
    let Ok(parts) = request_parts() else { return ClientInfo::default() };
    if let Some(client) = parts.extensions.get::<ClientInfo>() {
        return client.clone();
    }
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0);
    let trusted = app_state().map(|s| s.settings.trusted_proxies.clone()).unwrap_or_default();
    client_info(&parts.headers, peer, &trusted)
}

/// Add a `Set-Cookie` header to the server function's response.
pub fn set_cookie(value: &str) {
    if let (Some(opts), Ok(v)) =
        (leptos::prelude::use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(value))
    {
        opts.append_header(header::SET_COOKIE, v);
    }
}

/// Make `cookie` the browser's session: a new session id at every sign-in,
/// and the one the browser presented (if any) ends.
pub async fn replace_session(state: &AppState, cookie: &str) -> AppResult<()> {
    if let Some(old) = maybe_principal()? {
        delete(&state.db, &old.session_hash).await?;
    }
    set_cookie(cookie);
    Ok(())
}

/// Sign the browser in as `user_id` with a new session (see [`replace_session`]).
pub async fn start(state: &AppState, user_id: i64) -> AppResult<()> {
    let cookie = create(&state.db, &state.settings, user_id, &client()).await?;
    replace_session(state, &cookie).await
}

/// Give a server function's error its HTTP status (401, 403, 422, ...).
pub fn respond<T>(result: AppResult<T>) -> AppResult<T> {
    if let Err(e) = &result {
        if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
            if let Some(secs) = e.retry_after() {
                opts.insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
            }
        }
    }
    result
}

/// The body of a server function that needs one permission: authenticate (or
/// 401), authorize application `$app` for permission `$perm` (or 403), run
/// `$body` with the resulting `Access<'_, apps::$app, perms::$perm>` proof
/// ([`Access`](crate::server::access::Access)) and the [`AppState`], and give
/// any error its HTTP status.
///
/// ```ignore
/// authorized!(Users, View, |access, state| { service::list(access, &state, &query).await })
/// ```
#[macro_export]
macro_rules! authorized {
    ($app:ident, $perm:ident, |$access:ident, $state:ident| $body:block) => {{
        use $crate::server::session::{app_state, principal, respond};
        respond(
            async move {
                let ($state, caller) = (app_state()?, principal()?);
                let $access =
                    caller.authorize::<$crate::server::access::apps::$app, $crate::server::access::perms::$perm>()?;
                $body
            }
            .await,
        )
    }};
    // One of the most powerful administrator actions: also a sign-in or
    // confirmation within `fresh_sign_in` (`Principal::require_fresh`).
    (fresh $app:ident, $perm:ident, |$access:ident, $state:ident| $body:block) => {
        $crate::authorized!($app, $perm, |$access, $state| {
            $access.principal().require_fresh($state.settings.fresh_sign_in)?;
            $body
        })
    };
}

/// The body of a public server function (sign-in, setup, sign-up, reset):
/// run `$body` with the [`AppState`] and give any error its HTTP status.
/// Whoever may call it is decided by what it asks for (a token, a password).
///
/// ```ignore
/// public!(|state| { service::invited(&state, &token).await })
/// ```
#[macro_export]
macro_rules! public {
    (|$state:ident| $body:block) => {{
        use $crate::server::session::{app_state, respond};
        respond(
            async move {
                let $state = app_state()?;
                $body
            }
            .await,
        )
    }};
}

/// The body of a self-service server function (Account, sign-out): the caller
/// must be signed in (or 401) and acts only on their own account, so no
/// permission is asked; `$me` is their [`Principal`].
///
/// ```ignore
/// signed_in!(|me, state| { service::sessions(&state, &me).await })
/// signed_in!(setup |me, state| { service::begin_totp(&state, &me).await })
/// ```
#[macro_export]
macro_rules! signed_in {
    (|$me:ident, $state:ident| $body:block) => {{
        use $crate::server::session::{app_state, principal, respond};
        respond(
            async move {
                let ($state, $me) = (app_state()?, principal()?);
                $body
            }
            .await,
        )
    }};
    // Also for someone who still owes a second factor: setting one up, and Sign out.
    (setup |$me:ident, $state:ident| $body:block) => {{
        use $crate::server::session::{app_state, principal_for_setup, respond};
        respond(
            async move {
                let ($state, $me) = (app_state()?, principal_for_setup()?);
                $body
            }
            .await,
        )
    }};
    // Adding a second factor, also while one is owed: only with a sign-in or
    // confirmation within `fresh_sign_in`, never with a session cookie alone.
    (setup fresh |$me:ident, $state:ident| $body:block) => {
        $crate::signed_in!(
            setup | $me,
            $state | {
                $me.require_fresh($state.settings.fresh_sign_in)?;
                $body
            }
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> Url {
        Url::parse("https://roster.example.com/").unwrap()
    }

    #[test]
    fn next_must_stay_on_the_public_origin() {
        let p = public();
        assert_eq!(next_destination(&p, Some("/users?page=2")), "/users?page=2");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example/",
            "\\\\evil.example",
            "/\n/evil.example",
            "http://roster.example.com/x",
            "javascript:alert(1)",
            "https://roster.example.com@evil.example/",
        ] {
            assert_eq!(next_destination(&p, Some(evil)), "/", "{evil:?}");
        }
        // Encoded slashes stay a path on Roster.
        assert_eq!(next_destination(&p, Some("/%2F%2Fevil.example")), "/%2F%2Fevil.example");
        assert_eq!(next_destination(&p, Some("https://roster.example.com//evil.example/")), "/.//evil.example/");
        assert_eq!(next_destination(&p, None), "/");
        assert_eq!(next_destination(&p, Some("")), "/");
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let lb: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer_lb: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.5")]);
        // Not trusted (or nothing trusted): the header is ignored.
        assert_eq!(client_ip(&spoofed, stranger, &lb), stranger);
        assert_eq!(client_ip(&spoofed, peer_lb, &[]), peer_lb);
        // Trusted: the right-most hop that is not a trusted proxy.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.5, 10.0.0.7")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "203.0.113.5");
        // Several header lines are one list; ports and brackets are accepted.
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "[2001:db8::1]:4711")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "2001:db8::1");
        // RFC 7239, quoted IPv6 with a port, other parameters and quoted commas.
        let h = headers(&[("forwarded", r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";by="a,b";proto=https"#)]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "2001:db8:cafe::17");
        let h = headers(&[("forwarded", "For=192.0.2.60;proto=http")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "192.0.2.60");
        // An unreadable hop stops at the last trusted proxy; no header: the peer.
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(&h, peer_lb, &lb), peer_lb);
        assert_eq!(client_ip(&HeaderMap::new(), peer_lb, &lb), peer_lb);
        // Every hop trusted: the left-most.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "10.1.1.1");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:bbbb::9".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(ip_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
        assert_eq!(ip_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
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
