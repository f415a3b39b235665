//! `/metrics`, `/healthz` and `/readyz` on their own listener (loopback by
//! default): nothing here shows message data, and `/metrics` can require a
//! bearer token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::queue::Queue;
use crate::settings::Secret;
use crate::store::Store;

/// What the health and metrics pages read.
pub struct Ops {
    /// `/metrics` needs it as a bearer token when not empty.
    pub token: Secret,
    pub queue: Arc<Queue>,
    pub store: Store,
    /// Set once the listeners are serving.
    pub ready: Arc<AtomicBool>,
}

async fn metrics_page(State(gw): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    let token = gw.token.expose().trim();
    if !token.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::auth::same(given.as_bytes(), token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is needed\n",
            )
                .into_response();
        }
    }
    let Some(handle) = crate::metrics::install() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not available\n",
        )
            .into_response();
    };
    // Gauges read at scrape time.
    let spool = gw.queue.spool().clone();
    let queue = tokio::task::spawn_blocking(move || spool.list())
        .await
        .ok()
        .and_then(|r| r.ok());
    let now = chrono::Utc::now().timestamp();
    let (depth, oldest) = match &queue {
        Some((entries, _)) => (
            entries.len(),
            entries.iter().map(|e| now - e.created).max().unwrap_or(0),
        ),
        None => (0, 0),
    };
    let held = gw.store.count_held().await.unwrap_or(0);
    crate::metrics::queue(depth, oldest, held as usize);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

async fn readyz(State(gw): State<Arc<Ops>>) -> Response {
    let listening = gw.ready.load(Ordering::SeqCst);
    let store = gw.store.ping().await;
    let probe = gw.queue.spool().dir().join(".ready-probe");
    let writable = tokio::task::spawn_blocking(move || {
        std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe))
    })
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    let body = format!(
        "listeners {}\nstore {}\nqueue {}\n",
        ok(listening),
        ok(store),
        ok(writable)
    );
    let status = if listening && store && writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "failing" }
}

pub fn router(gw: Arc<Ops>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(gw)
}

pub async fn serve(listener: TcpListener, gw: Arc<Ops>, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics and health listening");
    }
    if let Err(e) = axum::serve(listener, router(gw))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::warn!(error = %e, "metrics listener stopped");
    }
}
