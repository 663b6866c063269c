//! Socket.io transport: the only module that knows event names and payload encodings.
//!
//! Handlers are generic over socketioxide's [`Adapter`] so the same code runs on the in-memory
//! adapter today and on a shared (Redis) adapter when several nodes serve one chat.

mod connection;
mod intake;

use std::{convert::Infallible, sync::Arc, time::Duration};

use serde::Serialize;
use shared::{
    Ack, Auth, ChatInput, Done, ErrorPayload, Joined, Members, Presence, RenameRequest, Renamed,
    RoomRequest, Sent, SyncRequest, Synced, Typing, Welcome, event,
};
use socketioxide::{
    BroadcastError, ParserError, SocketError, SocketIo,
    adapter::Adapter,
    extract::{AckSender, SocketRef, State, TryData},
    handler::{FromMessageParts, Value},
    socket::{DisconnectReason, Socket},
};
use tokio::sync::watch;

pub use connection::RateLimit;
use connection::{Conn, Connection};
pub use intake::Intake;

use crate::chat::{Chat, ChatError, Posted};

/// Runs before the client is told it is connected: resolves who it is and registers the event
/// handlers, so that an event sent right after connecting is never missed.
pub async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    TryData(auth): TryData<Auth>,
    State(chat): State<Chat>,
    State(limit): State<RateLimit>,
) -> Result<(), ChatError> {
    let session = chat.open_session(auth.unwrap_or_default()).await?;
    socket
        .extensions
        .insert(Arc::new(Connection::new(session, limit)));
    socket.on(event::CHAT_MESSAGE, on_chat_message::<A>);
    socket.on(event::SYNC, on_sync::<A>);
    socket.on(event::CREATE_ROOM, on_create_room::<A>);
    socket.on(event::JOIN_ROOM, on_join_room::<A>);
    socket.on(event::LEAVE_ROOM, on_leave_room::<A>);
    socket.on(event::RENAME, on_rename::<A>);
    socket.on(event::TYPING, on_typing::<A>);
    socket.on(event::MEMBERS, on_members::<A>);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
}

/// The client is connected: put it in its rooms and greet it.
pub async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    State(chat): State<Chat>,
) {
    let (user, token, rooms) = connection.welcome_parts();
    tracing::info!(sid = %socket.id, user = %user.id, transport = ?socket.transport_type(), "client connected");
    let names: Vec<String> = rooms.iter().map(|room| room.name.clone()).collect();
    socket.join(names.clone());
    let welcome = Welcome {
        user: user.clone(),
        token,
        rooms,
        max_message_chars: shared::MAX_MESSAGE_CHARS,
    };
    if let Err(error) = socket.emit(event::WELCOME, &welcome) {
        tracing::warn!(sid = %socket.id, %error, "could not send the welcome");
    }
    for room in names {
        chat.presence.enter(&room, &user);
    }
}

async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    reason: DisconnectReason,
    State(chat): State<Chat>,
) {
    tracing::info!(sid = %socket.id, %reason, "client disconnected");
    let user = connection.user();
    for room in connection.rooms() {
        chat.presence.exit(&room, &user);
    }
}

/// `chatMessage`: store, broadcast to the room (sender included), then acknowledge.
async fn on_chat_message<A: Adapter>(
    io: SocketIo<A>,
    Conn(connection): Conn,
    TryData(input): TryData<ChatInput>,
    reply: Reply<A>,
    State(chat): State<Chat>,
    State(intake): State<Arc<Intake>>,
) {
    let Ok(input) = input else {
        return reply.error(ErrorPayload::new(
            "invalid_payload",
            "chatMessage takes a string or an object with a string `text`",
        ));
    };
    if !connection.take_token() {
        return reply.error(ErrorPayload::new(
            "rate_limited",
            "you are sending too fast; wait a moment and retry",
        ));
    }
    let Some(_working) = intake.admit() else {
        return reply.error(ErrorPayload::new(
            "overloaded",
            "the server is busy; retry in a moment",
        ));
    };
    let known_member = connection.is_in(input.room());
    let message = match chat.post(&connection.user(), input, known_member).await {
        Ok(Posted::Duplicate(message)) => message,
        Ok(Posted::New(message)) => {
            // Stored first: a recipient this misses (its queue was full, or the adapter failed)
            // sees a gap in the room's sequence numbers and catches up with `sync`.
            if let Err(error) = io
                .to(message.room.clone())
                .emit(event::CHAT_MESSAGE, &message)
                .await
            {
                missed(&error, &message.room);
            }
            message
        }
        Err(error) => return reply.error(error_payload(&error)),
    };
    reply.ok(&Sent { message });
}

/// Logs a broadcast that did not reach everyone. Full queues (slow clients) and closing sockets
/// are expected; anything else is a fault.
fn missed(error: &BroadcastError, room: &str) {
    let BroadcastError::Socket(failed) = error else {
        return tracing::error!(%room, %error, "broadcast failed");
    };
    let full = failed
        .iter()
        .filter(|error| matches!(error, SocketError::InternalChannelFull))
        .count();
    tracing::debug!(%room, full, closed = failed.len() - full, "broadcast missed sockets");
}

/// `sync`: the messages missed since the client's cursors, in order.
async fn on_sync<A: Adapter>(
    Conn(connection): Conn,
    TryData(request): TryData<SyncRequest>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    let Ok(request) = request else {
        return reply.error(invalid("sync takes { rooms: [{ room, afterSeq }] }"));
    };
    let result = chat.missed(&connection.user(), &request.rooms).await;
    reply.result(result.map(|messages| Synced { messages }));
}

async fn on_create_room<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    TryData(request): TryData<RoomRequest>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    enter(socket, connection, request, reply, chat, Entry::Create).await;
}

async fn on_join_room<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    TryData(request): TryData<RoomRequest>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    enter(socket, connection, request, reply, chat, Entry::Join).await;
}

/// How `createRoom` and `joinRoom` differ: whether the room must be new or must exist.
#[derive(Clone, Copy)]
enum Entry {
    Create,
    Join,
}

async fn enter<A: Adapter>(
    socket: SocketRef<A>,
    connection: Arc<Connection>,
    request: Result<RoomRequest, ParserError>,
    reply: Reply<A>,
    chat: Chat,
    entry: Entry,
) {
    let Ok(request) = request else {
        return reply.error(invalid("createRoom and joinRoom take { room }"));
    };
    if let Err(error) = connection.remember(&chat).await {
        return reply.error(error_payload(&error));
    }
    let user = connection.user();
    let entered = match entry {
        Entry::Create => chat.create_room(&user, &request.room).await,
        Entry::Join => chat.join_room(&user, &request.room).await,
    };
    match entered {
        Ok(room) => {
            let members = enter_room(&socket, &chat, &connection, &room.name);
            reply.ok(&Joined { room, members });
        }
        Err(error) => reply.error(error_payload(&error)),
    }
}

async fn on_leave_room<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    TryData(request): TryData<RoomRequest>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    let Ok(request) = request else {
        return reply.error(invalid("leaveRoom takes { room }"));
    };
    let user = connection.user();
    match chat.leave_room(&user, &request.room).await {
        Ok(room) => {
            socket.leave(room.clone());
            if connection.left(&room) {
                chat.presence.exit(&room, &user);
            }
            reply.ok(&Done {});
        }
        Err(error) => reply.error(error_payload(&error)),
    }
}

async fn on_rename<A: Adapter>(
    Conn(connection): Conn,
    TryData(request): TryData<RenameRequest>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    let Ok(request) = request else {
        return reply.error(invalid("rename takes { name }"));
    };
    if let Err(error) = connection.remember(&chat).await {
        return reply.error(error_payload(&error));
    }
    match chat.rename(&connection.user(), &request.name).await {
        Ok(user) => {
            connection.set_user(user.clone());
            chat.presence.rename(&user);
            reply.ok(&Renamed { user });
        }
        Err(error) => reply.error(error_payload(&error)),
    }
}

/// `typing`: relayed to the room's other members; nothing is stored.
async fn on_typing<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    TryData(request): TryData<RoomRequest>,
) {
    let Ok(request) = request else {
        return;
    };
    if !connection.is_in(&request.room) {
        return;
    }
    let typing = Typing {
        room: request.room,
        user: connection.user(),
    };
    if let Err(error) = socket
        .to(typing.room.clone())
        .emit(event::TYPING, &typing)
        .await
    {
        tracing::warn!(sid = %socket.id, %error, "typing relay failed");
    }
}

/// Joins the socket to `room` (if it was not in it) and returns the room's members.
fn enter_room<A: Adapter>(
    socket: &SocketRef<A>,
    chat: &Chat,
    connection: &Connection,
    room: &str,
) -> Vec<shared::Author> {
    if connection.joined(room) {
        socket.join(room.to_owned());
        chat.presence.enter(room, &connection.user());
    }
    chat.presence.members(room)
}

/// `members`: everyone online in a room the client is in.
async fn on_members<A: Adapter>(
    Conn(connection): Conn,
    TryData(request): TryData<RoomRequest>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    let Ok(request) = request else {
        return reply.error(invalid("members takes { room }"));
    };
    if !connection.is_in(&request.room) {
        return reply.error(error_payload(&ChatError::NotMember));
    }
    reply.ok(&Members {
        members: chat.presence.members(&request.room),
    });
}

/// How often presence changes are announced, at most.
const PRESENCE_EVERY: Duration = Duration::from_millis(250);

/// Announces presence changes, batched, until `stop` turns true.
pub async fn announce_presence<A: Adapter>(
    io: SocketIo<A>,
    chat: Chat,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(PRESENCE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        for changes in chat.presence.take_changes(std::time::Instant::now()) {
            let presence = Presence {
                room: changes.room,
                online: changes.online,
                joined: changes.joined,
                left: changes.left,
                partial: changes.partial,
            };
            if let Err(error) = io
                .to(presence.room.clone())
                .emit(event::PRESENCE, &presence)
                .await
            {
                tracing::warn!(room = %presence.room, %error, "presence broadcast failed");
            }
        }
    }
}

fn invalid(message: &str) -> ErrorPayload {
    ErrorPayload::new("invalid_payload", message)
}

/// The client sees a stable code and a plain message; storage details stay in the log.
fn error_payload(error: &ChatError) -> ErrorPayload {
    if let ChatError::Store(detail) = error {
        tracing::error!(%detail, "storage failed");
        return ErrorPayload::new(error.code(), "the server could not store that; try again");
    }
    ErrorPayload::new(error.code(), error.to_string())
}

/// How to answer a client's request: through its acknowledgement callback if it asked for one,
/// otherwise with a `chatError` event for refusals (and nothing for successes, as in the seed).
struct Reply<A: Adapter> {
    socket: SocketRef<A>,
    ack: AckSender<A>,
    wants_ack: bool,
}

impl<A: Adapter> Reply<A> {
    fn ok<T: Serialize>(self, data: &T) {
        if self.wants_ack {
            self.send_ack(&Ack::Ok(data));
        }
    }

    fn result<T: Serialize>(self, result: Result<T, ChatError>) {
        match result {
            Ok(data) => self.ok(&data),
            Err(error) => self.error(error_payload(&error)),
        }
    }

    fn error(self, error: ErrorPayload) {
        tracing::debug!(sid = %self.socket.id, code = %error.code, "request refused");
        if self.wants_ack {
            self.send_ack(&Ack::<Done>::Error { error });
        } else if let Err(send_error) = self.socket.emit(event::ERROR, &error) {
            tracing::warn!(sid = %self.socket.id, %send_error, "could not send an error event");
        }
    }

    fn send_ack(self, ack: &impl Serialize) {
        if let Err(error) = self.ack.send(ack) {
            tracing::warn!(sid = %self.socket.id, %error, "could not send an acknowledgement");
        }
    }
}

impl<A: Adapter> FromMessageParts<A> for Reply<A> {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self {
            socket: SocketRef::from(socket.clone()),
            ack: AckSender::from_message_parts(socket, value, ack_id)?,
            wants_ack: ack_id.is_some(),
        })
    }
}
