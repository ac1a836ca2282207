//! Server-function bodies are checked by their `Content-Type` before
//! server_fn decodes them, so a body a function cannot read gets a 4xx with a
//! one-line reason instead of reaching a decoder that assumes its shape (the
//! multipart decoder panics on a missing boundary).
//!
//! Server functions take `application/x-www-form-urlencoded` (the default),
//! `application/json`, or, for the import uploads alone
//! ([`app::users::upload_paths`]), `multipart/form-data`. A form body sent to
//! a JSON function (or the reverse) is read and refused by its decoder with a
//! 400 (`app::error::unreadable_request`).

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const MULTIPART: &str = "multipart/form-data";

/// Axum middleware: refuse a server-function call whose body its function cannot read.
pub async fn check(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path().starts_with("/api/") {
        if let Err((status, why)) = readable(req.uri().path(), req.headers()) {
            tracing::info!(path = req.uri().path(), %status, "server function body refused: {why}");
            return (status, why).into_response();
        }
    }
    next.run(req).await
}

/// Whether the function at `path` can read a body of this `Content-Type`.
fn readable(path: &str, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let upload = app::users::upload_paths().contains(&path);
    match essence.as_str() {
        MULTIPART if !upload => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This function takes application/x-www-form-urlencoded or application/json, not multipart/form-data.",
        )),
        // An empty boundary parses, then fails in the decoder: refuse it here too.
        MULTIPART if !multer::parse_boundary(content_type).is_ok_and(|b| !b.is_empty()) => {
            Err((StatusCode::BAD_REQUEST, "The multipart/form-data body has no readable boundary in its Content-Type."))
        }
        MULTIPART => Ok(()),
        _ if upload => {
            Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "This function takes a file upload: multipart/form-data."))
        }
        FORM | JSON => Ok(()),
        // No body at all reads as "no arguments" (`curl -X POST`, a script's bare POST).
        "" if no_body(headers) => Ok(()),
        "" => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "A Content-Type is required: application/x-www-form-urlencoded or application/json.",
        )),
        _ => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This Content-Type cannot be read: send application/x-www-form-urlencoded or application/json.",
        )),
    }
}

/// The request says it carries no body (`Content-Length: 0`, or neither a
/// length nor a chunked body).
fn no_body(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()) {
        Some(length) => length.trim() == "0",
        None => !headers.contains_key(header::TRANSFER_ENCODING),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(content_type: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h
    }

    fn status(path: &str, content_type: Option<&str>) -> Option<StatusCode> {
        readable(path, &with(content_type)).err().map(|(s, _)| s)
    }

    #[test]
    fn each_function_reads_only_what_it_can() {
        let upload = app::users::upload_paths()[0];
        assert_eq!(upload, "/api/review_import");
        assert_eq!(status("/api/me", Some("application/x-www-form-urlencoded")), None);
        assert_eq!(status("/api/me", Some("Application/JSON; charset=utf-8")), None);
        // No Content-Type: fine without a body (no arguments), refused with one.
        assert_eq!(status("/api/me", None), None);
        let mut with_body = with(None);
        with_body.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        assert_eq!(readable("/api/me", &with_body).err().map(|(s, _)| s), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(status("/api/me", Some("text/plain")), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(
            status("/api/me", Some("multipart/form-data; boundary=x")),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(status(upload, Some("multipart/form-data; boundary=x")), None);
        assert_eq!(status(upload, Some("multipart/form-data")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status(upload, Some("multipart/form-data; boundary=")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status(upload, Some("application/json")), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(status(upload, None), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
}
