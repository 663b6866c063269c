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
use shared::{
    ChatMessage, Credentials, ErrorCode, ErrorPayload, RegistrationInfo, RoomInfo, ServerInfo,
    SessionInfo, UserEntry,
};

#[cfg(feature = "ssr")]
pub use backend::{Backend, ClientAddress, NewAccount};

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

/// Whether the server has been set up (has an account), who may register, and whether guests
/// may chat: what a login page needs to know.
#[server(endpoint = "server")]
pub async fn about_server() -> Result<ServerInfo, ApiError> {
    Ok(backend()?.server_info().await?)
}

/// Creates an account and logs it in. `token`: a guest's session, which becomes the account
/// (keeping its id, rooms and messages). `invite`: the join link's code, when registration is
/// by invitation. The first account on a server is its admin.
#[server(endpoint = "register")]
pub async fn register(
    username: String,
    password: String,
    name: Option<String>,
    invite: Option<String>,
    token: Option<String>,
) -> Result<Credentials, ApiError> {
    let account = NewAccount {
        username,
        password,
        name,
        invite,
        token,
    };
    Ok(backend()?.register(account, client_address()).await?)
}

/// A new session for this username and password.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<Credentials, ApiError> {
    Ok(backend()?
        .login(&username, &password, client_address())
        .await?)
}

/// Ends this session; its connections are closed.
#[server(endpoint = "logout")]
pub async fn logout(token: String) -> Result<(), ApiError> {
    Ok(backend()?.end_session(&token, None).await?)
}

/// The sessions of this token's user (browsers and devices logged in), most recent first.
#[server(endpoint = "sessions")]
pub async fn sessions(token: String) -> Result<Vec<SessionInfo>, ApiError> {
    Ok(backend()?.sessions(&token).await?)
}

/// Ends one of the user's sessions, by its id from `sessions`; its connections are closed.
#[server(endpoint = "end_session")]
pub async fn end_session(token: String, id: String) -> Result<(), ApiError> {
    Ok(backend()?.end_session(&token, Some(&id)).await?)
}

/// Ends every session of the user, this one included.
#[server(endpoint = "logout_everywhere")]
pub async fn logout_everywhere(token: String) -> Result<(), ApiError> {
    Ok(backend()?.logout_everywhere(&token).await?)
}

/// Changes the password (the current one is asked again) and ends every other session.
#[server(endpoint = "change_password")]
pub async fn change_password(token: String, current: String, new: String) -> Result<(), ApiError> {
    Ok(backend()?.change_password(&token, &current, &new).await?)
}

/// For an admin: the registration mode and the join link's code; `mode` (`open`, `invite`,
/// `closed`) changes the mode, `reset_invite` makes a new link (the old one stops working).
#[server(endpoint = "registration")]
pub async fn registration(
    token: String,
    mode: Option<String>,
    reset_invite: Option<bool>,
) -> Result<RegistrationInfo, ApiError> {
    Ok(backend()?
        .registration(&token, mode.as_deref(), reset_invite.unwrap_or(false))
        .await?)
}

/// For an admin: every account, with its role and whether it is banned.
#[server(endpoint = "users")]
pub async fn users(token: String) -> Result<Vec<UserEntry>, ApiError> {
    Ok(backend()?.users(&token).await?)
}

/// For an admin: makes the account `user` (an id) an `admin` or a `member`.
#[server(endpoint = "set_role")]
pub async fn set_role(token: String, user: String, role: String) -> Result<(), ApiError> {
    Ok(backend()?.set_role(&token, &user, &role).await?)
}

/// For an admin: bans `user` (an id; an account or a guest): their connections close at once
/// on every node, and they cannot connect or log in until the ban is lifted.
#[server(endpoint = "ban")]
pub async fn ban(token: String, user: String) -> Result<(), ApiError> {
    Ok(backend()?.set_banned(&token, &user, true).await?)
}

/// For an admin: lifts `user`'s ban.
#[server(endpoint = "unban")]
pub async fn unban(token: String, user: String) -> Result<(), ApiError> {
    Ok(backend()?.set_banned(&token, &user, false).await?)
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
fn client_address() -> Option<std::net::IpAddr> {
    use_context::<ClientAddress>().and_then(|ClientAddress(address)| address)
}

#[cfg(feature = "ssr")]
mod backend {
    use std::net::IpAddr;

    use shared::{
        ChatMessage, Credentials, ErrorPayload, RegistrationInfo, RoomInfo, ServerInfo,
        SessionInfo, UserEntry,
    };

    /// The client's address, provided as context by the server for each call.
    #[derive(Debug, Clone, Copy)]
    pub struct ClientAddress(pub Option<IpAddr>);

    /// The fields of a registration.
    #[derive(Debug, Clone)]
    pub struct NewAccount {
        pub username: String,
        pub password: String,
        pub name: Option<String>,
        pub invite: Option<String>,
        pub token: Option<String>,
    }

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
        async fn server_info(&self) -> Result<ServerInfo, ErrorPayload>;
        async fn register(
            &self,
            account: NewAccount,
            address: Option<IpAddr>,
        ) -> Result<Credentials, ErrorPayload>;
        async fn login(
            &self,
            username: &str,
            password: &str,
            address: Option<IpAddr>,
        ) -> Result<Credentials, ErrorPayload>;
        async fn sessions(&self, token: &str) -> Result<Vec<SessionInfo>, ErrorPayload>;
        /// Ends the session named `id`, or the token's own (`None`).
        async fn end_session(&self, token: &str, id: Option<&str>) -> Result<(), ErrorPayload>;
        async fn logout_everywhere(&self, token: &str) -> Result<(), ErrorPayload>;
        async fn change_password(
            &self,
            token: &str,
            current: &str,
            new: &str,
        ) -> Result<(), ErrorPayload>;
        async fn registration(
            &self,
            token: &str,
            mode: Option<&str>,
            reset_invite: bool,
        ) -> Result<RegistrationInfo, ErrorPayload>;
        async fn users(&self, token: &str) -> Result<Vec<UserEntry>, ErrorPayload>;
        async fn set_role(&self, token: &str, user: &str, role: &str) -> Result<(), ErrorPayload>;
        async fn set_banned(
            &self,
            token: &str,
            user: &str,
            banned: bool,
        ) -> Result<(), ErrorPayload>;
    }
}
