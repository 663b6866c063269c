//! Serves the server functions of the `api` crate at `/api/<endpoint>`, backed by the chat.
//! Refusals go through the same edge as the socket's, with an HTTP status to match the code.

use std::sync::Arc;

use std::net::{IpAddr, SocketAddr};

use api::{Backend, ClientAddress, NewAccount};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use leptos::prelude::{provide_context, use_context};
use shared::{
    ChatMessage, Credentials, ErrorCode, ErrorPayload, Registration, RegistrationInfo, Role,
    RoomInfo, ServerInfo, SessionInfo, UserEntry,
};
use socketioxide::{SocketIo, adapter::Adapter};

use crate::{
    chat::{Chat, ChatError, Register},
    error::refusal,
    transport::{SharedBudget, rate_limited, session_id_room, user_room},
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
    let context = move || {
        provide_context(backend.clone());
        provide_context(ClientAddress(address));
    };
    leptos_axum::handle_server_fns_with_context(context, request)
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

/// The chat as the server functions see it; `io` closes the connections of sessions that end.
pub struct Api<A: Adapter> {
    pub chat: Chat,
    pub io: SocketIo<A>,
}

impl<A: Adapter> Api<A> {
    /// Disconnects every connection of the sessions `ended`, on every node.
    async fn disconnect(&self, ended: Vec<String>) {
        if ended.is_empty() {
            return;
        }
        let rooms: Vec<String> = ended.iter().map(|id| session_id_room(id)).collect();
        self.disconnect_rooms(rooms).await;
    }

    /// Disconnects every connection in the adapter `rooms`, on every node.
    async fn disconnect_rooms(&self, rooms: Vec<String>) {
        if let Err(error) = self.io.to(rooms).disconnect().await {
            tracing::warn!(%error, "could not disconnect sockets");
        }
    }
}

#[async_trait::async_trait]
impl<A: Adapter> Backend for Api<A> {
    async fn rooms(&self, token: &str) -> Result<Vec<RoomInfo>, ErrorPayload> {
        self.chat.rooms(token).await.map_err(refuse)
    }

    async fn history(
        &self,
        token: &str,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, ErrorPayload> {
        self.chat
            .history(token, room, before, limit)
            .await
            .map_err(refuse)
    }

    async fn server_info(&self) -> Result<ServerInfo, ErrorPayload> {
        self.chat.server_info().await.map_err(refuse)
    }

    async fn register(
        &self,
        account: NewAccount,
        address: Option<IpAddr>,
    ) -> Result<Credentials, ErrorPayload> {
        let request = Register {
            username: account.username,
            password: account.password,
            name: account.name,
            invite: account.invite,
            token: account.token,
        };
        self.chat.register(request, address).await.map_err(refuse)
    }

    async fn login(
        &self,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<Credentials, ErrorPayload> {
        self.chat
            .login(username, password, address)
            .await
            .map_err(refuse)
    }

    async fn sessions(&self, token: &str) -> Result<Vec<SessionInfo>, ErrorPayload> {
        self.chat.sessions(token).await.map_err(refuse)
    }

    async fn end_session(&self, token: &str, id: Option<&str>) -> Result<(), ErrorPayload> {
        let ended = self.chat.end_session(token, id).await.map_err(refuse)?;
        self.disconnect(ended).await;
        Ok(())
    }

    async fn logout_everywhere(&self, token: &str) -> Result<(), ErrorPayload> {
        let ended = self.chat.logout_everywhere(token).await.map_err(refuse)?;
        self.disconnect(ended).await;
        Ok(())
    }

    async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> Result<(), ErrorPayload> {
        let ended = self
            .chat
            .change_password(token, current, new)
            .await
            .map_err(refuse)?;
        self.disconnect(ended).await;
        Ok(())
    }

    async fn registration(
        &self,
        token: &str,
        mode: Option<&str>,
        reset_invite: bool,
    ) -> Result<RegistrationInfo, ErrorPayload> {
        let mode = match mode {
            None => None,
            Some(mode) => Some(Registration::parse(mode).ok_or_else(|| {
                refuse_payload(ErrorPayload::new(
                    ErrorCode::InvalidPayload,
                    "The mode is one of open, invite and closed.",
                ))
            })?),
        };
        self.chat
            .registration(token, mode, reset_invite)
            .await
            .map_err(refuse)
    }

    async fn users(&self, token: &str) -> Result<Vec<UserEntry>, ErrorPayload> {
        self.chat.users(token).await.map_err(refuse)
    }

    async fn set_role(&self, token: &str, user: &str, role: &str) -> Result<(), ErrorPayload> {
        let role = Role::parse(role).ok_or_else(|| {
            refuse_payload(ErrorPayload::new(
                ErrorCode::InvalidPayload,
                "The role is admin or member.",
            ))
        })?;
        self.chat.set_role(token, user, role).await.map_err(refuse)
    }

    async fn set_banned(&self, token: &str, user: &str, banned: bool) -> Result<(), ErrorPayload> {
        let user = self
            .chat
            .set_banned(token, user, banned)
            .await
            .map_err(refuse)?;
        if banned {
            self.disconnect_rooms(vec![user_room(&user)]).await;
        }
        Ok(())
    }
}

/// The client's view of `error`, with the response's status set to match.
fn refuse(error: ChatError) -> ErrorPayload {
    refuse_payload(refusal(&error))
}

fn refuse_payload(payload: ErrorPayload) -> ErrorPayload {
    crate::telemetry::refused(payload.code);
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status(payload.code));
    }
    payload
}

/// The HTTP status a refusal with `code` is answered with (server functions and files).
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::FileNotFound => StatusCode::NOT_FOUND,
        ErrorCode::NotAMember => StatusCode::FORBIDDEN,
        ErrorCode::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::UnknownSession | ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Banned => StatusCode::FORBIDDEN,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::RoomNotFound => StatusCode::NOT_FOUND,
        ErrorCode::UsernameTaken => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal | ErrorCode::Timeout | ErrorCode::Unknown => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}
