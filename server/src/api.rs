//! Serves the server functions of the `api` crate at `/api/<endpoint>`, backed by the chat.

use std::sync::Arc;

use api::{Backend, BackendError};
use axum::{body::Body, extract::Request, response::IntoResponse};
use leptos::prelude::provide_context;
use shared::{ChatMessage, RoomInfo};

use crate::chat::{Chat, ChatError};

/// The route the functions live under; `api` names each endpoint below it.
pub const ROUTE: &str = "/api/{*fn_name}";

pub async fn handle(backend: Arc<dyn Backend>, request: Request<Body>) -> impl IntoResponse {
    leptos_axum::handle_server_fns_with_context(move || provide_context(backend.clone()), request)
        .await
}

#[async_trait::async_trait]
impl Backend for Chat {
    async fn rooms(&self, token: &str) -> Result<Vec<RoomInfo>, BackendError> {
        self.user_by_token(token).await.map_err(refusal)?;
        Chat::rooms(self).await.map_err(refusal)
    }

    async fn history(
        &self,
        token: &str,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, BackendError> {
        self.user_by_token(token).await.map_err(refusal)?;
        Chat::history(self, room, before, limit)
            .await
            .map_err(refusal)
    }
}

fn refusal(error: ChatError) -> BackendError {
    if let ChatError::Store(detail) = &error {
        tracing::error!(%detail, "storage failed");
    }
    BackendError {
        code: error.code(),
        message: error.to_string(),
    }
}
