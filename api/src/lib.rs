//! Server functions: the chat's request/response reads, served by `leptos_axum` at
//! `/api/<endpoint>` (docs/PROTOCOL.md). Real-time traffic stays on Socket.io.
//!
//! The bodies ask the [`Backend`] the server provides as context. The UI does not link this
//! crate: it calls the endpoints with the browser's `fetch` (`frontend/src/http.rs`), which keeps
//! Leptos' server-function client out of the page. Each function has a fixed endpoint so that a
//! UI and a server built from different checkouts agree on the URL. A refusal is the same
//! `{ code, message }` JSON as on the socket.

use leptos::{
    prelude::*,
    server_fn::{
        codec::JsonEncoding,
        error::{FromServerFnError, ServerFnErrorErr},
    },
};
use serde::{Deserialize, Serialize};
use shared::{ChatMessage, ErrorCode, ErrorPayload, RoomInfo};

#[cfg(feature = "ssr")]
pub use backend::Backend;

/// Every room on the server, by name.
#[server(endpoint = "rooms")]
pub async fn list_rooms(token: String) -> Result<Vec<RoomInfo>, ApiError> {
    Ok(backend()?.rooms(&token).await?)
}

/// Up to `limit` messages of `room` before sequence number `before` (the newest if `None`),
/// oldest first. An empty page means the start of the room.
#[server(endpoint = "history")]
pub async fn history(
    token: String,
    room: String,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<ChatMessage>, ApiError> {
    Ok(backend()?.history(&token, &room, before, limit).await?)
}

/// A server function's refusal: the socket's `{ code, message }`, as the JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiError(pub ErrorPayload);

impl From<ErrorPayload> for ApiError {
    fn from(error: ErrorPayload) -> Self {
        Self(error)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Errors of the server-function layer itself, with fixed messages: their detail can name
    /// server internals.
    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        let (code, message) = match error {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                (ErrorCode::InvalidPayload, "a field is missing or malformed")
            }
            ServerFnErrorErr::Deserialization(_) => (
                ErrorCode::InvalidPayload,
                "the request or its answer could not be read (too large or malformed)",
            ),
            ServerFnErrorErr::Request(_) => (ErrorCode::Timeout, "the server could not be reached"),
            _ => (ErrorCode::Internal, "the request failed; try again"),
        };
        Self(ErrorPayload::new(code, message))
    }
}

#[cfg(feature = "ssr")]
fn backend() -> Result<std::sync::Arc<dyn Backend>, ApiError> {
    use_context::<std::sync::Arc<dyn Backend>>().ok_or_else(|| {
        ApiError(ErrorPayload::new(
            ErrorCode::Internal,
            "server functions are not wired to the chat",
        ))
    })
}

#[cfg(feature = "ssr")]
mod backend {
    use shared::{ChatMessage, ErrorPayload, RoomInfo};

    /// What the server functions need from the chat; the server implements it. Refusals come
    /// back already mapped to what the client may see.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn rooms(&self, token: &str) -> Result<Vec<RoomInfo>, ErrorPayload>;
        async fn history(
            &self,
            token: &str,
            room: &str,
            before: Option<i64>,
            limit: u32,
        ) -> Result<Vec<ChatMessage>, ErrorPayload>;
    }
}
