//! Serves the server functions of the `api` crate at `/api/<endpoint>`, backed by the chat.
//! Refusals go through the same edge as the socket's, with an HTTP status to match the code.

use std::sync::Arc;

use api::Backend;
use std::net::SocketAddr;

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use leptos::prelude::{provide_context, use_context};
use shared::{ChatMessage, ErrorCode, ErrorPayload, RoomInfo};

use crate::{
    chat::{Chat, ChatError},
    error::refusal,
    transport::{SharedBudget, rate_limited},
};

/// The route the functions live under; `api` names each endpoint below it.
pub const ROUTE: &str = "/api/{*fn_name}";

/// Largest request body a server function reads: its arguments are a token, a room name and
/// two numbers. The server-function layer reads the whole body into memory, so the bound is
/// set here.
const MAX_BODY_BYTES: usize = 4 * 1024;

pub async fn handle(
    backend: Arc<dyn Backend>,
    budget: Arc<SharedBudget>,
    request: Request<Body>,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if !budget.call(address) {
        return refused(&rate_limited());
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, MAX_BODY_BYTES)));
    leptos_axum::handle_server_fns_with_context(move || provide_context(backend.clone()), request)
        .await
        .into_response()
}

/// A refusal made before the server-function layer runs, in the same shape as its own.
fn refused(payload: &ErrorPayload) -> Response {
    crate::telemetry::refused(payload.code);
    let body = serde_json::to_string(payload).expect("a payload serializes");
    (
        status(payload.code),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[async_trait::async_trait]
impl Backend for Chat {
    async fn rooms(&self, token: &str) -> Result<Vec<RoomInfo>, ErrorPayload> {
        self.user_by_token(token).await.map_err(refuse)?;
        Chat::rooms(self).await.map_err(refuse)
    }

    async fn history(
        &self,
        token: &str,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, ErrorPayload> {
        self.user_by_token(token).await.map_err(refuse)?;
        Chat::history(self, room, before, limit)
            .await
            .map_err(refuse)
    }
}

/// The client's view of `error`, with the response's status set to match.
fn refuse(error: ChatError) -> ErrorPayload {
    let payload = refusal(&error);
    crate::telemetry::refused(payload.code);
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status(payload.code));
    }
    payload
}

fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UnknownSession => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::RoomNotFound => StatusCode::NOT_FOUND,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal | ErrorCode::Overloaded | ErrorCode::Timeout | ErrorCode::Unknown => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}
