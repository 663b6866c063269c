//! What the transport keeps per connection: who it is, its id in presence, its budgets. The
//! rooms it is in are the socket's rooms in the adapter, not kept here.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use shared::{AccountInfo, Author, RoomInfo};
use socketioxide::{
    adapter::Adapter,
    handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value},
    socket::{DisconnectReason, Socket},
};

use super::budget::{ConnectionBudget, RateLimit};
use crate::chat::{Chat, ChatError, ConnectionId, Session};

#[derive(Debug)]
pub struct Connection {
    pub id: ConnectionId,
    user: Mutex<Author>,
    token: String,
    /// False for a guest not written to the store yet.
    stored: AtomicBool,
    /// The user's rooms when the connection opened, for the welcome.
    rooms_at_connect: Vec<RoomInfo>,
    /// The user's account; `None` for a guest.
    account: Option<AccountInfo>,
    pub budget: ConnectionBudget,
}

/// The connection state of a socket that passed [`super::authenticate`].
fn of<A: Adapter>(socket: &Socket<A>) -> Option<Arc<Connection>> {
    let connection = socket.extensions.get::<Arc<Connection>>();
    if connection.is_none() {
        tracing::error!(sid = %socket.id, "socket without a session");
    }
    connection
}

/// Extractor: the connection state of the socket an event came from. Handlers that take it are
/// not called for a socket without one (which `authenticate` makes impossible).
pub struct Conn(pub Arc<Connection>);

#[derive(Debug, thiserror::Error)]
#[error("socket without a session")]
pub struct NoSession;

impl<A: Adapter> FromMessageParts<A> for Conn {
    type Error = NoSession;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, NoSession> {
        of(socket).map(Conn).ok_or(NoSession)
    }
}

impl<A: Adapter> FromConnectParts<A> for Conn {
    type Error = NoSession;

    fn from_connect_parts(socket: &Arc<Socket<A>>, _: &Option<Value>) -> Result<Self, NoSession> {
        of(socket).map(Conn).ok_or(NoSession)
    }
}

impl<A: Adapter> FromDisconnectParts<A> for Conn {
    type Error = NoSession;

    fn from_disconnect_parts(
        socket: &Arc<Socket<A>>,
        _: DisconnectReason,
    ) -> Result<Self, NoSession> {
        of(socket).map(Conn).ok_or(NoSession)
    }
}

impl Connection {
    pub fn new(session: Session, messages: RateLimit) -> Self {
        Self {
            id: ConnectionId::next(),
            user: Mutex::new(session.user),
            token: session.token,
            stored: AtomicBool::new(session.stored),
            rooms_at_connect: session.rooms,
            account: session.account,
            budget: ConnectionBudget::new(messages),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn rooms_at_connect(&self) -> &[RoomInfo] {
        &self.rooms_at_connect
    }

    pub fn account(&self) -> Option<&AccountInfo> {
        self.account.as_ref()
    }

    /// Writes a guest to the store before something that must be remembered about it. Two
    /// requests doing this at once both succeed: storing a user is idempotent.
    pub async fn remember(&self, chat: &Chat) -> Result<(), ChatError> {
        if !self.stored.load(Ordering::Acquire) {
            chat.remember(&self.user(), &self.token).await?;
            self.stored.store(true, Ordering::Release);
        }
        Ok(())
    }

    pub fn user(&self) -> Author {
        self.user.lock().expect("user lock").clone()
    }

    pub fn set_user(&self, user: Author) {
        *self.user.lock().expect("user lock") = user;
    }
}
