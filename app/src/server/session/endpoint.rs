//! What server functions use to reach the request: the app state, the
//! caller, the client, cookies, the session they start, the status an error
//! gives, and the guards `authorized!`, `public!` and `signed_in!` that
//! `#[app_macros::endpoint]` wraps a server function's body in (written by
//! that attribute, not by hand).

use super::client::{client_info, ClientInfo};
use super::store::{cookie_token, delete};
use crate::error::{AppError, AppResult};
use crate::server::access::Principal;
use crate::server::crypto::Token;
use crate::server::state::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use std::net::SocketAddr;
use url::Url;

/// Put into every request's extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub struct RequestAuth(pub Option<Principal>);

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
/// // What `#[endpoint(authorized(Users, View))]` writes around the body:
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
/// // What `#[endpoint(public)]` writes around the body:
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
/// // What `#[endpoint(signed_in)]` and `#[endpoint(signed_in(setup))]` write around the body:
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
}
