//! Database-backed sessions, the request authentication middleware and the
//! helpers server functions use to reach the caller and the app state.
//!
//! The cookie carries 256 random bits; the database stores only their SHA-256,
//! so a copy of the database holds no live session. Any server process can
//! serve any session, and ending a user's sessions is one `DELETE`.

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
use sqlx::{AnyConnection, Row};

pub const COOKIE_NAME: &str = "roster_session";

/// Put into every request's extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub struct RequestAuth(pub Option<Principal>);

/// Where a request came from, for the Sessions list and the audit trail.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

pub fn client_info(headers: &HeaderMap, peer: Option<std::net::SocketAddr>) -> ClientInfo {
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(300).collect();
    ClientInfo { ip: peer.map(|p| p.ip().to_string()).unwrap_or_default(), user_agent }
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
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, absolute_expires_at, user_agent, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.hash())
    .bind(user_id)
    .bind(now)
    .bind(now)
    .bind(absolute)
    .bind(&client.user_agent)
    .bind(&client.ip)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(session_cookie(settings, token.expose()))
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

fn session_cookie(settings: &Settings, value: &str) -> String {
    Cookie::build((COOKIE_NAME, value.to_string()))
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
    Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

fn cookie_token(headers: &HeaderMap) -> Option<Token> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .and_then(|c| Token::parse(c.value()))
}

/// Look up a live session, slide its idle timeout, and load the user's
/// permissions. Expired sessions are deleted; disabled users have none.
pub async fn resolve(db: &Db, settings: &Settings, token: &Token) -> AppResult<Option<Principal>> {
    let hash = token.hash();
    let row = sqlx::query(
        "SELECT s.user_id, s.last_seen_at, s.absolute_expires_at, u.email, u.first_name, u.last_name, u.enabled \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let now = now_ms();
    let last_seen: i64 = row.try_get("last_seen_at")?;
    let absolute: i64 = row.try_get("absolute_expires_at")?;
    let enabled: i64 = row.try_get("enabled")?;
    let idle_ms = settings.session_idle_timeout.as_millis() as i64;
    if enabled == 0 || now >= absolute || now >= last_seen + idle_ms {
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
    let user_id: i64 = row.try_get("user_id")?;
    let (is_admin, grants) = crate::grants::load(db, user_id).await?;
    Ok(Some(Principal {
        user_id,
        session_hash: hash,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        is_admin,
        grants,
    }))
}

/// Pages anyone may load without a session.
fn is_public_page(path: &str) -> bool {
    path == "/signin"
        || path == "/healthz"
        || path == "/favicon.ico"
        || path.starts_with("/setup/")
        || path.starts_with("/signup/")
        || path == "/forgot-password"
        || path.starts_with("/reset/")
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
}

/// Is this state-changing request from Roster's own pages? Browsers send
/// `Origin` on every POST; `Sec-Fetch-Site` backs it up. A request with
/// neither is not from a browser and cannot ride on a victim's cookies.
fn same_origin(headers: &HeaderMap, settings: &Settings) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if origin == settings.origin() {
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
        None => true,
    }
}

/// Axum middleware: refuse cross-site state changes, resolve the session, and
/// send unauthenticated page loads to Sign in with a way back.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let safe = method == Method::GET || method == Method::HEAD || method == Method::OPTIONS;
    if !safe && !same_origin(req.headers(), &state.settings) {
        tracing::warn!(path = req.uri().path(), "cross-origin request refused");
        return (StatusCode::FORBIDDEN, "Cross-origin requests are not allowed.").into_response();
    }

    let token = cookie_token(req.headers());
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

/// Only same-site relative paths are allowed as a post-sign-in destination.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
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

/// The signed-in caller, or `Unauthorized`.
pub fn principal() -> AppResult<Principal> {
    request_parts()?.extensions.get::<RequestAuth>().and_then(|a| a.0.clone()).ok_or(AppError::Unauthorized)
}

/// The signed-in caller, if any.
pub fn maybe_principal() -> AppResult<Option<Principal>> {
    Ok(request_parts()?.extensions.get::<RequestAuth>().and_then(|a| a.0.clone()))
}

pub fn client() -> ClientInfo {
    match request_parts() {
        Ok(parts) => {
            let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
            client_info(&parts.headers, peer)
        }
        Err(_) => ClientInfo::default(),
    }
}

/// Add a `Set-Cookie` header to the server function's response.
pub fn set_cookie(value: &str) {
    if let (Some(opts), Ok(v)) =
        (leptos::prelude::use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(value))
    {
        opts.append_header(header::SET_COOKIE, v);
    }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next(Some("/users?page=2")), "/users?page=2");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
