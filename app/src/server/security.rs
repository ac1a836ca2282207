//! Security headers. Every response gets the static ones (set by the router in
//! `server`); HTML pages also get a Content-Security-Policy with a per-page
//! nonce, so that only Roster's own scripts and WebAssembly run.

use axum::http::{header, HeaderValue};

/// The policy for HTML pages. `'wasm-unsafe-eval'` lets the page compile
/// Roster's own WebAssembly; nothing else may run.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy for everything that is not a page (JSON, files).
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Called while rendering a page: provide a nonce and set the page's policy.
pub fn provide_csp() {
    use leptos::prelude::use_context;
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(resp)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(&page_policy(&nonce)) {
        resp.insert_header(header::CONTENT_SECURITY_POLICY, v);
    }
}
