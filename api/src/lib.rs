//! Server functions: the chat's request/response reads, called from the UI like async functions
//! and served by `leptos_axum` at `/api/<endpoint>`. Real-time traffic stays on Socket.io.
//!
//! Bodies run only on the server (`ssr`), where they ask the [`Backend`] the server provides as
//! context. Each function has a fixed endpoint so that a UI and a server built from different
//! checkouts agree on the URL.

use leptos::prelude::*;
use shared::{ChatMessage, RoomInfo};

#[cfg(feature = "ssr")]
pub use backend::{Backend, BackendError};

/// Every room on the server, by name.
#[server(endpoint = "rooms")]
pub async fn list_rooms(token: String) -> Result<Vec<RoomInfo>, ServerFnError> {
    backend()?.rooms(&token).await.map_err(Into::into)
}

/// Up to `limit` messages of `room` before sequence number `before` (the newest if `None`),
/// oldest first. An empty page means the start of the room.
#[server(endpoint = "history")]
pub async fn history(
    token: String,
    room: String,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<ChatMessage>, ServerFnError> {
    backend()?
        .history(&token, &room, before, limit)
        .await
        .map_err(Into::into)
}

#[cfg(feature = "ssr")]
fn backend() -> Result<std::sync::Arc<dyn Backend>, ServerFnError> {
    use_context::<std::sync::Arc<dyn Backend>>()
        .ok_or_else(|| ServerFnError::new("server functions are not wired to the chat"))
}

#[cfg(feature = "ssr")]
mod backend {
    use leptos::prelude::ServerFnError;
    use shared::{ChatMessage, RoomInfo};

    /// A refusal with a stable code, like the socket errors.
    #[derive(Debug)]
    pub struct BackendError {
        pub code: &'static str,
        pub message: String,
    }

    impl From<BackendError> for ServerFnError {
        fn from(error: BackendError) -> Self {
            ServerFnError::ServerError(format!("{}: {}", error.code, error.message))
        }
    }

    /// What the server functions need from the chat; the server implements it.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn rooms(&self, token: &str) -> Result<Vec<RoomInfo>, BackendError>;
        async fn history(
            &self,
            token: &str,
            room: &str,
            before: Option<i64>,
            limit: u32,
        ) -> Result<Vec<ChatMessage>, BackendError>;
    }
}
