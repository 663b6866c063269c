//! What the transport keeps per connection: who it is, the rooms it is in, its rate budget.
//! Nothing here decides anything beyond this one connection.

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use shared::{Author, RoomInfo};
use socketioxide::{
    adapter::Adapter,
    handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value},
    socket::{DisconnectReason, Socket},
};
use tokio::time::Instant;

use crate::chat::{Chat, ChatError, Session};

/// Messages a connection may send: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 10.0,
            burst: 20.0,
        }
    }
}

#[derive(Debug)]
pub struct Connection {
    user: Mutex<Author>,
    token: String,
    /// False for a guest not written to the store yet.
    stored: AtomicBool,
    /// Rooms this connection has joined, with their state at connect time.
    joined_at_connect: Vec<RoomInfo>,
    rooms: Mutex<BTreeSet<String>>,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    refilled: Instant,
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
    pub fn new(session: Session, limit: RateLimit) -> Self {
        let rooms = session.rooms.iter().map(|room| room.name.clone()).collect();
        Self {
            user: Mutex::new(session.user),
            token: session.token,
            stored: AtomicBool::new(session.stored),
            joined_at_connect: session.rooms,
            rooms: Mutex::new(rooms),
            bucket: Mutex::new(Bucket {
                limit,
                tokens: limit.burst,
                refilled: Instant::now(),
            }),
        }
    }

    /// What the welcome carries.
    pub fn welcome_parts(&self) -> (Author, String, Vec<RoomInfo>) {
        (
            self.user(),
            self.token.clone(),
            self.joined_at_connect.clone(),
        )
    }

    /// Writes a guest to the store before something that must be remembered about it.
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

    pub fn rooms(&self) -> Vec<String> {
        self.rooms
            .lock()
            .expect("rooms lock")
            .iter()
            .cloned()
            .collect()
    }

    pub fn is_in(&self, room: &str) -> bool {
        self.rooms.lock().expect("rooms lock").contains(room)
    }

    /// Records a join; false if the connection was already in the room.
    pub fn joined(&self, room: &str) -> bool {
        self.rooms
            .lock()
            .expect("rooms lock")
            .insert(room.to_owned())
    }

    /// Records a leave; false if the connection was not in the room.
    pub fn left(&self, room: &str) -> bool {
        self.rooms.lock().expect("rooms lock").remove(room)
    }

    /// Spends one message from the budget; false when it is exhausted.
    pub fn take_token(&self) -> bool {
        let mut bucket = self.bucket.lock().expect("bucket lock");
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.refilled);
        bucket.refilled = now;
        bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * bucket.limit.per_second)
            .min(bucket.limit.burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long until a connection that just ran dry may send one message again.
    fn one_token(limit: RateLimit) -> Duration {
        Duration::from_secs_f64(1.0 / limit.per_second)
    }

    fn connection(limit: RateLimit) -> Connection {
        Connection::new(
            Session {
                user: Author {
                    id: "u".into(),
                    name: "U".into(),
                },
                token: "t".into(),
                rooms: vec![],
                stored: true,
            },
            limit,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_refill_rate() {
        let limit = RateLimit {
            per_second: 2.0,
            burst: 3.0,
        };
        let connection = connection(limit);
        assert!((0..3).all(|_| connection.take_token()));
        assert!(!connection.take_token());
        tokio::time::advance(one_token(limit)).await;
        assert!(connection.take_token());
        assert!(!connection.take_token());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!((0..10).filter(|_| connection.take_token()).count(), 3);
    }
}
