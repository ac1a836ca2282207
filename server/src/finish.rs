//! A page render runs to its end even when the browser goes away.
//!
//! leptos renders a page inside a reactive owner that lives as long as the
//! response. When the client disconnects part-way, hyper drops the handler's
//! future or the response body, the owner is disposed, and work the render
//! had already started (a resource's task, a suspended view) later reads a
//! disposed signal or context and panics. So page loads (GET and HEAD) are
//! handled on a task of their own, and a body the client stopped reading is
//! read to its end in the background (at most [`DRAIN_LIMIT`]) and thrown
//! away: the render finishes as if the browser had stayed, then is dropped
//! in order. Other requests (server functions, token endpoints) are not
//! renders and keep hyper's usual cancellation.

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The longest an abandoned response is read for before it is dropped.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);

pub async fn run_to_completion(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    // Spawned: if this future is dropped (the client left before the
    // headers), the task still finishes and drops its response, whose body
    // is then drained.
    let task = tokio::spawn(async move {
        let (parts, body) = next.run(req).await.into_parts();
        Response::from_parts(parts, Body::from_stream(Finish { body: Some(body.into_data_stream()) }))
    });
    match task.await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!("a page load's task failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A response body that, dropped before its end, reads the rest in the
/// background (`body` is `None` once it has been read to its end).
struct Finish {
    body: Option<BodyDataStream>,
}

impl Stream for Finish {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(body) = self.body.as_mut() else { return Poll::Ready(None) };
        let next = Pin::new(body).poll_next(cx);
        if let Poll::Ready(None) = next {
            self.body = None;
        }
        next
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let (Some(mut body), Ok(runtime)) = (self.body.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        runtime.spawn(async move {
            let drained = tokio::time::timeout(DRAIN_LIMIT, async { while body.next().await.is_some() {} }).await;
            if drained.is_err() {
                tracing::warn!("an abandoned page render did not finish within {DRAIN_LIMIT:?}: dropped");
            }
        });
    }
}
