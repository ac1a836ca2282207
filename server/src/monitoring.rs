//! `/metrics`: Roster's counters, timings and gauges in Prometheus's text
//! format, for a scraper that sends the `metrics_token` as a bearer token.
//!
//! Deny by default: without `metrics_token` no recorder is installed (the
//! `metrics` calls in the services cost nothing) and `/metrics` answers 404.
//! With it, `metrics-exporter-prometheus` records what the services count
//! (`app::server::metrics`: sign-ins, throttle decisions, Argon2 waits) and
//! what [`track`] sees of each request; at each scrape, [`scrape`] reads the
//! gauges that must be right across many processes (the email outbox, from
//! the database) or that are cheapest read when asked (the pool, the Argon2
//! queue), then renders everything through the exporter's handle. The
//! exporter runs no listener of its own: `/metrics` is one more route.

use app::server::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http_body::{Frame, SizeHint};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const HTTP_REQUESTS: &str = "roster_http_requests_total";
pub const HTTP_DURATION: &str = "roster_http_request_duration_seconds";
pub const OUTBOX: &str = "roster_outbox_emails";
pub const OUTBOX_OLDEST: &str = "roster_outbox_oldest_queued_age_seconds";
pub const DATABASE_UP: &str = "roster_database_up";
pub const POOL: &str = "roster_db_pool_connections";
pub const POOL_MAX: &str = "roster_db_pool_max_connections";
pub const ARGON2_JOBS: &str = "roster_argon2_jobs";
pub const ARGON2_LIMIT: &str = "roster_argon2_queue_limit";

/// Histogram buckets (seconds) of every timing: Prometheus's defaults, from
/// 5 ms to 10 s. Without buckets the exporter would write summaries, which
/// cannot be added up across processes.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often the recorded timings are folded in when nobody scrapes (so
/// they do not pile up in memory).
const UPKEEP: Duration = Duration::from_secs(5);

/// Longer than this and the outbox query counts as failed for this scrape.
const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// The installed recorder's handle, and the SHA-256 of the token a scrape
/// must present (compared in constant time, digest to digest, so neither
/// the token's content nor its length shows in the time an answer takes).
pub struct Exporter {
    handle: PrometheusHandle,
    token: [u8; 32],
}

/// `/metrics`'s exporter, or `None` when `metrics_token` is not set.
pub type Metrics = Option<Arc<Exporter>>;

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// With a token, install the Prometheus recorder as the process's global
/// recorder (once per process, from within the runtime) and describe every
/// metric; without one, nothing.
pub fn install(token: Option<&str>) -> Result<Metrics, String> {
    let Some(token) = token else { return Ok(None) };
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot start the metrics recorder: {e}"))?;
    describe();
    app::server::metrics::register_zeros();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP).await;
            upkeep.run_upkeep();
        }
    });
    Ok(Some(Arc::new(Exporter { handle, token: digest(token) })))
}

/// The `# HELP` line of each metric (README's Monitoring section says the same).
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    use app::server::metrics as m;
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route group (page, api, oidc, static, export, probe, metrics, other) and status (499: \
         the client left before the answer began)"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to the end of its response body (or the client leaving), by route group"
    );
    describe_counter!(
        m::SIGN_INS,
        "Sign-ins with email and password, by outcome (success, second_factor_required, wrong_credentials, \
         locked, throttled, busy, error)"
    );
    describe_counter!(
        m::THROTTLE_DECISIONS,
        "Sign-in throttle decisions on counted attempts: passwords, second-step codes, passkeys (allow, wait, locked)"
    );
    describe_histogram!(m::ARGON2_WAIT, Unit::Seconds, "Time a password hashing job waited for an Argon2 thread");
    describe_counter!(m::ARGON2_REJECTED, "Password hashing jobs refused with 503 because the queue was full");
    describe_gauge!(ARGON2_JOBS, "Password hashing jobs now waiting for a thread or running (state)");
    describe_gauge!(ARGON2_LIMIT, "Password hashing jobs queued or running at most (argon2_queue_limit)");
    describe_gauge!(OUTBOX, "Emails not sent yet, by status (queued, sending, failed), read from the database");
    describe_gauge!(
        OUTBOX_OLDEST,
        Unit::Seconds,
        "Age of the oldest queued email (0 when none is queued), read from the database"
    );
    describe_gauge!(
        DATABASE_UP,
        "1 when the database answered this scrape's outbox query within 2 s; 0 otherwise (the outbox gauges then \
         keep their last values)"
    );
    describe_gauge!(POOL, "This process's database connections, by state (idle, in_use)");
    describe_gauge!(POOL_MAX, "This process's database connections at most");
}

/// `GET /metrics`: 404 without `metrics_token`; 401 with
/// `WWW-Authenticate: Bearer` without the right bearer token; else the
/// metrics as Prometheus text.
pub async fn scrape(
    State(state): State<AppState>,
    Extension(metrics): Extension<Metrics>,
    headers: HeaderMap,
) -> Response {
    let Some(exporter) = metrics else {
        return (StatusCode::NOT_FOUND, "Not found. (Set metrics_token to serve /metrics.)\n").into_response();
    };
    let given = app::server::security::bearer_token(&headers);
    let right = given.is_some_and(|t| bool::from(digest(t)[..].ct_eq(&exporter.token[..])));
    if !right {
        // RFC 6750: a token that was sent and is wrong is `invalid_token`.
        let challenge = if given.is_some() {
            tracing::warn!("a /metrics request with a wrong bearer token was refused");
            "Bearer realm=\"roster metrics\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"roster metrics\""
        };
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge))],
            "/metrics needs the metrics token: Authorization: Bearer <metrics_token>.\n",
        )
            .into_response();
    }
    observe(&state).await;
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        exporter.handle.render(),
    )
        .into_response()
}

/// Set the gauges read at scrape time.
async fn observe(state: &AppState) {
    use ::metrics::gauge;
    // The pool first: the outbox query below takes a connection of it.
    let pool = &state.db.pool;
    let (open, idle) = (pool.size() as usize, pool.num_idle());
    gauge!(POOL, "state" => "idle").set(idle as f64);
    gauge!(POOL, "state" => "in_use").set(open.saturating_sub(idle) as f64);
    gauge!(POOL_MAX).set(f64::from(pool.options().get_max_connections()));

    let queue = state.passwords.queue();
    gauge!(ARGON2_JOBS, "state" => "waiting").set(queue.waiting as f64);
    gauge!(ARGON2_JOBS, "state" => "running").set(queue.running as f64);
    gauge!(ARGON2_LIMIT).set(queue.limit as f64);

    match tokio::time::timeout(DB_TIMEOUT, app::mail::outbox(&state.db)).await {
        Ok(Ok(outbox)) => {
            gauge!(OUTBOX, "status" => "queued").set(outbox.queued as f64);
            gauge!(OUTBOX, "status" => "sending").set(outbox.sending as f64);
            gauge!(OUTBOX, "status" => "failed").set(outbox.failed as f64);
            let age = outbox.oldest_queued_at.map_or(Duration::ZERO, |at| app::domain::Timestamp::now().since(at));
            gauge!(OUTBOX_OLDEST).set(age.as_secs_f64());
            gauge!(DATABASE_UP).set(1.0);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "/metrics: the outbox could not be read");
            gauge!(DATABASE_UP).set(0.0);
        }
        Err(_) => {
            tracing::warn!("/metrics: the outbox query did not answer within {DB_TIMEOUT:?}");
            gauge!(DATABASE_UP).set(0.0);
        }
    }
}

/// The few words a request's path is counted under: never the path itself
/// (ids and tokens would make a series each).
fn group(method: &Method, path: &str) -> &'static str {
    match path {
        "/healthz" | "/readyz" => "probe",
        "/metrics" => "metrics",
        "/favicon.ico" => "static",
        "/users/export.csv" => "export",
        app::paths::oidc::DISCOVERY => "oidc",
        p if p.starts_with("/api/") => "api",
        p if p.starts_with("/pkg/") => "static",
        p if p.starts_with("/oidc/") => "oidc",
        _ if matches!(*method, Method::GET | Method::HEAD) => "page",
        _ => "other",
    }
}

/// Axum middleware (outermost, when metrics are on): count each request by
/// group and status and time it until its response body ends, or until the
/// client leaves. A request whose client left before its answer's head is
/// counted as `499` (nginx's "client closed request").
pub async fn track(State(on): State<bool>, req: Request, next: Next) -> Response {
    if !on {
        return next.run(req).await;
    }
    // Dropped with this future if the client leaves first: counted as 499.
    let mut done = Done { group: group(req.method(), req.uri().path()), status: None, started: Instant::now() };
    let response = next.run(req).await;
    done.status = Some(response.status());
    let (parts, body) = response.into_parts();
    if http_body::Body::is_end_stream(&body) {
        // An empty body: nothing more to wait for.
        drop(done);
        return Response::from_parts(parts, body);
    }
    Response::from_parts(parts, Body::new(Timed { body, done: Some(done) }))
}

/// The status a request is counted under when its client left before the answer's head.
const CLIENT_CLOSED: u16 = 499;

/// One request, recorded when dropped.
struct Done {
    group: &'static str,
    /// The answer's status, once there is an answer.
    status: Option<StatusCode>,
    started: Instant,
}

impl Drop for Done {
    fn drop(&mut self) {
        let status = self.status.map_or(CLIENT_CLOSED, |s| s.as_u16()).to_string();
        ::metrics::counter!(HTTP_REQUESTS, "group" => self.group, "status" => status).increment(1);
        ::metrics::histogram!(HTTP_DURATION, "group" => self.group).record(self.started.elapsed());
    }
}

/// A response body that records its request ([`Done`]) as its last frame
/// is produced, or when it is dropped before its end.
struct Timed {
    body: Body,
    done: Option<Done>,
}

impl http_body::Body for Timed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            self.done.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_a_few_groups() {
        let get = Method::GET;
        assert_eq!(group(&get, "/healthz"), "probe");
        assert_eq!(group(&get, "/readyz"), "probe");
        assert_eq!(group(&get, "/metrics"), "metrics");
        assert_eq!(group(&Method::POST, "/api/sign_in"), "api");
        assert_eq!(group(&get, "/pkg/roster.0123abcd.wasm"), "static");
        assert_eq!(group(&get, "/favicon.ico"), "static");
        assert_eq!(group(&Method::POST, "/oidc/token"), "oidc");
        assert_eq!(group(&get, "/.well-known/openid-configuration"), "oidc");
        assert_eq!(group(&get, "/users/export.csv"), "export");
        assert_eq!(group(&get, "/users/42"), "page");
        assert_eq!(group(&Method::HEAD, "/signup/a-secret-token"), "page");
        assert_eq!(group(&Method::POST, "/users/42"), "other");
        assert_eq!(group(&Method::DELETE, "/"), "other");
    }
}
