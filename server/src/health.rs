//! `GET /healthz` and `GET /readyz`, for load balancers, orchestrators and monitoring.
//!
//! Health says the process answers HTTP. Readiness says this node can do its work now: its
//! store answers a trivial query in time, its committer task runs, and, in a cluster, its link
//! to Redis is up. Each answer is a short JSON object; the detail of a failure goes to the log.

use std::{sync::Arc, time::Duration};

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::sync::watch;

use crate::store::Store;

/// How long the store has to answer the readiness query.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// What readiness looks at.
#[derive(Clone)]
pub struct Readiness {
    pub store: Arc<dyn Store>,
    /// Whether Redis is reachable now; `None` for a single node.
    pub redis: Option<watch::Receiver<bool>>,
}

/// `GET /healthz`: 200 `{"status":"ok"}` while the process serves HTTP.
pub async fn healthz() -> Response {
    reply(StatusCode::OK, json!({ "status": "ok" }))
}

impl Readiness {
    /// `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"unready","reasons":[...]}`.
    pub async fn check(&self) -> Response {
        let mut reasons = Vec::new();
        match tokio::time::timeout(STORE_TIMEOUT, self.store.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                crate::throttled!(warn, %error, "not ready: the store does not answer");
                reasons.push("the store does not answer");
            }
            Err(_) => {
                crate::throttled!(warn, timeout = ?STORE_TIMEOUT, "not ready: the store did not answer in time");
                reasons.push("the store did not answer in time");
            }
        }
        if !self.store.committing() {
            crate::throttled!(warn, "not ready: the committer is not running");
            reasons.push("the committer is not running");
        }
        if let Some(redis) = &self.redis
            && !*redis.borrow()
        {
            reasons.push("Redis is unreachable");
        }
        if reasons.is_empty() {
            reply(StatusCode::OK, json!({ "status": "ready" }))
        } else {
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "unready", "reasons": reasons }),
            )
        }
    }
}

pub(crate) fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}
