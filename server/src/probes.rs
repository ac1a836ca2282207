//! `/healthz` and `/readyz`, for load balancers and orchestrators. Both answer
//! without a session and whatever the `Host` (`app::server::session`).
//!
//! - `/healthz` is liveness: 200 whenever the process serves requests. A
//!   database outage does not make it fail (restarting Roster would not
//!   help).
//! - `/readyz` is readiness: 200 when the database answers and has every
//!   migration of this binary applied; 503 with a short reason otherwise, so
//!   a balancer sends no traffic to a node that cannot serve it.

use crate::migrations;
use app::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use std::time::Duration;

/// Longer than this and the database counts as not answering (balancers
/// give up on a probe after a few seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn healthz() -> StatusCode {
    StatusCode::OK
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    match tokio::time::timeout(READY_TIMEOUT, applied(&state)).await {
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the database did not answer within {} s\n", READY_TIMEOUT.as_secs()),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database does not answer\n".into())
        }
        Ok(Ok(applied)) => {
            let missing: Vec<String> = migrations::versions(state.db.backend)
                .into_iter()
                .filter(|v| !applied.contains(v))
                .map(|v| v.to_string())
                .collect();
            if missing.is_empty() {
                (StatusCode::OK, "ready\n".into())
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: migrations not applied: {}\n", missing.join(", ")),
                )
            }
        }
    }
}

/// The versions of the migrations the database has applied successfully
/// (the query is also the "does it answer" check).
async fn applied(state: &AppState) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE").fetch_all(&state.db.pool).await
}
