//! Socket.io transport: the only server module that knows event names and payload encodings.
//! Event names come from the `shared` types ([`Event::NAME`]); each handler receives its typed
//! request from the [`Payload`] extractor and answers through one [`Reply`].
//!
//! Handlers are generic over socketioxide's [`Adapter`] so the same code runs on the in-memory
//! adapter today and on a shared (Redis) adapter when several nodes serve one chat. Room
//! membership of live connections is the sockets' rooms in the adapter; every connection of a
//! user is also in the room [`user_room`], so a join or leave reaches all of that user's tabs on
//! every node.

mod budget;
mod connection;
mod heads;
mod intake;

use std::{
    convert::Infallible,
    marker::PhantomData,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::extract::ConnectInfo;

use shared::{
    Ack, ArchiveRoom, Auth, Changed, ChatInput, CreateRoom, DeleteMessage, Done, EditMessage,
    ErrorCode, ErrorPayload, Event, Found, Invite, Invited, JoinRoom, Joined, LeaveRoom, MarkRead,
    MemberList, Members, MessageChanged, NowTyping, OpenDirect, React, ReadUpTo, Rename, Renamed,
    Request, RoomUpdated, Search, Sent, Sync, Typing, Unreact, Welcome,
};
use socketioxide::{
    BroadcastError, SocketError, SocketIo, TransportType,
    adapter::Adapter,
    extract::{AckSender, SocketRef, State, TryData},
    handler::{FromMessageParts, Value},
    socket::{DisconnectReason, Socket},
};
use tokio::sync::watch;

pub use budget::{RateLimit, SharedBudget};
use connection::{Conn, Connection};
pub use heads::Heads;
pub use intake::Intake;

use crate::{
    chat::{Chat, ChatError, InRooms, Posted},
    error::refusal,
    telemetry,
};

/// The adapter room every connection of user `id` is in.
pub fn user_room(id: &str) -> String {
    // Chat room names cannot contain ':', so this never names a chat room.
    format!("user:{id}")
}

/// The adapter room of every connection of one session, on every node: ending the session
/// disconnects them.
pub fn session_room(token: &str) -> String {
    session_id_room(&crate::chat::session_id(token))
}

/// [`session_room`] for a session named by its id.
pub fn session_id_room(id: &str) -> String {
    format!("session:{id}")
}

/// A socket's rooms, as the chat asks about them: read from the adapter at the first question
/// (most messages go to the default room, which needs none) and kept for the rest of the request.
struct SocketRooms<'a, A: Adapter> {
    socket: &'a SocketRef<A>,
    rooms: std::sync::OnceLock<Vec<std::borrow::Cow<'static, str>>>,
}

impl<'a, A: Adapter> SocketRooms<'a, A> {
    fn of(socket: &'a SocketRef<A>) -> Self {
        Self {
            socket,
            rooms: std::sync::OnceLock::new(),
        }
    }
}

impl<A: Adapter> InRooms for SocketRooms<'_, A> {
    fn contains(&self, room: &str) -> bool {
        self.rooms
            .get_or_init(|| self.socket.rooms())
            .iter()
            .any(|joined| joined == room)
    }
}

/// A handshake refusal, as the client's `connect_error` shows it.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message)]
pub struct Refused(ErrorPayload);

impl Refused {
    fn new(payload: ErrorPayload) -> Self {
        telemetry::refused(payload.code);
        Self(payload)
    }
}

/// Runs before the client is told it is connected: resolves who it is, puts the socket in its
/// rooms and registers the event handlers, so that an event sent right after connecting is
/// never missed or refused.
pub async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    TryData(auth): TryData<Auth>,
    State(chat): State<Chat>,
    State(limit): State<RateLimit>,
    State(shared): State<Arc<SharedBudget>>,
) -> Result<(), Refused> {
    let address = socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if !shared.connect(address) {
        return Err(Refused::new(rate_limited()));
    }
    let session = chat
        .open_session(auth.unwrap_or_default(), address)
        .await
        .map_err(|error| Refused::new(refusal(&error)))?;
    let mut rooms: Vec<String> = session.rooms.iter().map(|room| room.name.clone()).collect();
    rooms.push(user_room(&session.user.id));
    rooms.push(session_room(&session.token));
    // Rooms joined here are left by socketioxide whatever becomes of the socket.
    socket.join(rooms);
    socket
        .extensions
        .insert(Arc::new(Connection::new(session, limit)));
    socket.on(ChatInput::NAME, on_chat_message::<A>);
    socket.on(Sync::NAME, on_sync::<A>);
    socket.on(EditMessage::NAME, on_edit_message::<A>);
    socket.on(DeleteMessage::NAME, on_delete_message::<A>);
    socket.on(React::NAME, on_reaction::<A, React>);
    socket.on(Unreact::NAME, on_reaction::<A, Unreact>);
    socket.on(CreateRoom::NAME, on_create_room::<A>);
    socket.on(JoinRoom::NAME, on_join_room::<A>);
    socket.on(LeaveRoom::NAME, on_leave_room::<A>);
    socket.on(Invite::NAME, on_invite::<A>);
    socket.on(OpenDirect::NAME, on_open_direct::<A>);
    socket.on(ArchiveRoom::NAME, on_archive_room::<A>);
    socket.on(MarkRead::NAME, on_mark_read::<A>);
    socket.on(Rename::NAME, on_rename::<A>);
    socket.on(NowTyping::NAME, on_typing::<A>);
    socket.on(Members::NAME, on_members::<A>);
    socket.on(Search::NAME, on_search::<A>);
    socket.on_fallback(on_unknown_event);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
}

/// The client is connected: count it online and greet it.
pub async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    State(chat): State<Chat>,
) {
    let user = connection.user();
    let rooms = connection.rooms_at_connect().to_vec();
    crate::throttled!(info, sid = %socket.id, user = %user.id, transport = ?socket.transport_type(), "client connected");
    chat.connected(connection.id, &user, &rooms);
    // This handler and `on_disconnect` run as separate tasks. A socket that closed already has
    // cleared its flag before its disconnect handler started, so whichever ran first, the
    // connection is not left online.
    if !socket.connected() {
        chat.disconnected(connection.id);
        return;
    }
    // Without them the page works (positions kept in the browser): not worth refusing for.
    let read = chat.read_positions(&user).await.unwrap_or_else(|error| {
        crate::throttled!(warn, %error, "could not read the read positions");
        Vec::new()
    });
    let welcome = Welcome {
        user,
        token: connection.token().to_owned(),
        rooms,
        max_message_chars: shared::MAX_MESSAGE_CHARS,
        account: connection.account().cloned(),
        read,
    };
    if let Err(error) = socket.emit(Welcome::NAME, &welcome) {
        crate::throttled!(warn, sid = %socket.id, %error, "could not send the welcome");
    }
}

async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    reason: DisconnectReason,
    State(chat): State<Chat>,
) {
    crate::throttled!(info, sid = %socket.id, user = %connection.user().id, %reason, "client disconnected");
    telemetry::disconnected(reason_label(reason));
    chat.disconnected(connection.id);
}

/// A disconnection's reason as a metric's label.
fn reason_label(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportClose => "transport_close",
        DisconnectReason::MultipleHttpPollingError => "multiple_polling_requests",
        DisconnectReason::PacketParsingError => "packet_parsing_error",
        DisconnectReason::TransportError => "transport_error",
        DisconnectReason::HeartbeatTimeout => "heartbeat_timeout",
        DisconnectReason::ClientNSDisconnect => "client_disconnect",
        DisconnectReason::ServerNSDisconnect => "server_disconnect",
        DisconnectReason::ClosingServer => "closing_server",
    }
}

/// An event no handler is registered for: counted, otherwise ignored.
async fn on_unknown_event() {
    telemetry::event_received("other");
}

/// This node's open connections by transport, into the connections gauge.
pub fn measure_connections<A: Adapter>(io: &SocketIo<A>) {
    let sockets = io.local().sockets();
    let websocket = sockets
        .iter()
        .filter(|socket| socket.transport_type() == TransportType::Websocket)
        .count();
    telemetry::connections("websocket", websocket);
    telemetry::connections("polling", sockets.len() - websocket);
}

/// `chatMessage`: store, broadcast to the room (sender included), then acknowledge.
async fn on_chat_message<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(input): Payload<ChatInput>,
    reply: Reply<A, ChatInput>,
    State(chat): State<Chat>,
    State(intake): State<Arc<Intake>>,
    State(heads): State<Arc<Heads>>,
) {
    let received = Instant::now();
    if !connection.budget.message() {
        return reply.refuse(rate_limited());
    }
    let Some(_working) = intake.admit() else {
        return reply.refuse(ErrorPayload::new(
            ErrorCode::Overloaded,
            "The server is busy; retry in a moment.",
        ));
    };
    let posted = chat
        .post(&connection.user(), &SocketRooms::of(&socket), input)
        .await;
    let message = match posted {
        // A retry of a stored message. Its broadcast may never have happened (the node that
        // stored it died first, or the commit's answer was lost): the room's head goes out, so
        // whoever missed it catches up.
        Ok(Posted::Duplicate(message)) => {
            heads.missed(&message.room, message.seq);
            message
        }
        Ok(Posted::New(message)) => {
            broadcast(&socket, &heads, &message.room, message.seq, &message).await;
            message
        }
        Err(error) => return reply.fail(&error),
    };
    telemetry::acked(received);
    reply.ok(Sent { message });
}

/// Sends `event`, which took sequence number `seq` of `room`, to the room, the sender included.
/// Stored first: a recipient this misses (its queue was full) sees a gap in the room's sequence
/// numbers and catches up with `sync`; if the fan-out failed, the room's head follows once it
/// works again.
async fn broadcast<A: Adapter, E: Event>(
    socket: &SocketRef<A>,
    heads: &Heads,
    room: &str,
    seq: i64,
    event: &E,
) {
    if let Err(error) = socket.within(room.to_owned()).emit(E::NAME, event).await {
        if matches!(error, BroadcastError::Adapter(_)) {
            heads.missed(room, seq);
        }
        log_broadcast_failure(&error, room);
    }
}

/// `editMessage`: the author's new text, stored, broadcast to the room, then acknowledged.
async fn on_edit_message<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<EditMessage>,
    reply: Reply<A, EditMessage>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
    State(heads): State<Arc<Heads>>,
) {
    if !shared.change(&connection.user().id) {
        return reply.refuse(rate_limited());
    }
    let rooms = SocketRooms::of(&socket);
    let (room, seq, text) = (&request.room, request.seq, &request.text);
    let edited = chat.edit(connection.token(), &rooms, room, seq, text).await;
    reply.result(announce_change(&socket, &heads, edited).await);
}

/// `deleteMessage`: a tombstone in the message's place, stored, broadcast, acknowledged.
async fn on_delete_message<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<DeleteMessage>,
    reply: Reply<A, DeleteMessage>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
    State(heads): State<Arc<Heads>>,
) {
    if !shared.change(&connection.user().id) {
        return reply.refuse(rate_limited());
    }
    let rooms = SocketRooms::of(&socket);
    let deleted = chat
        .delete(connection.token(), &rooms, &request.room, request.seq)
        .await;
    reply.result(announce_change(&socket, &heads, deleted).await);
}

/// `react` and `unreact`, which differ only in whether the reaction is to be there after.
trait ReactionRequest: Request<Reply = Changed> {
    const ON: bool;
    /// `room`, `seq` and `emoji`.
    fn reaction(&self) -> (&str, i64, &str);
}

impl ReactionRequest for React {
    const ON: bool = true;
    fn reaction(&self) -> (&str, i64, &str) {
        (&self.room, self.seq, &self.emoji)
    }
}

impl ReactionRequest for Unreact {
    const ON: bool = false;
    fn reaction(&self) -> (&str, i64, &str) {
        (&self.room, self.seq, &self.emoji)
    }
}

/// `react` and `unreact`: the reaction added or taken away, stored, broadcast, acknowledged.
async fn on_reaction<A: Adapter, R: ReactionRequest>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<R>,
    reply: Reply<A, R>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
    State(heads): State<Arc<Heads>>,
) {
    if !shared.reaction(&connection.user().id) {
        return reply.refuse(rate_limited());
    }
    let rooms = SocketRooms::of(&socket);
    let (room, seq, emoji) = request.reaction();
    let token = connection.token();
    let reacted = chat.react(token, &rooms, room, seq, emoji, R::ON).await;
    reply.result(announce_change(&socket, &heads, reacted).await);
}

/// Broadcasts a change that was made (`messageChanged`); the acknowledgement's content.
async fn announce_change<A: Adapter>(
    socket: &SocketRef<A>,
    heads: &Heads,
    changed: Result<Option<MessageChanged>, ChatError>,
) -> Result<Changed, ChatError> {
    let change = changed?;
    if let Some(change) = &change {
        broadcast(socket, heads, &change.room, change.seq, change).await;
    }
    Ok(Changed { change })
}

/// Logs a broadcast that did not reach everyone. Full queues (slow clients) and closing sockets
/// are expected; anything else is a fault.
fn log_broadcast_failure(error: &BroadcastError, room: &str) {
    let BroadcastError::Socket(failed) = error else {
        telemetry::broadcast_missed("adapter", 1);
        return crate::throttled!(error, %room, %error, "broadcast failed");
    };
    let full = failed
        .iter()
        .filter(|error| matches!(error, SocketError::InternalChannelFull))
        .count();
    telemetry::broadcast_missed("queue_full", full);
    telemetry::broadcast_missed("closed", failed.len() - full);
    tracing::debug!(%room, full, closed = failed.len() - full, "broadcast missed sockets");
}

/// `sync`: the messages missed since the client's cursors, in order.
async fn on_sync<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<Sync>,
    reply: Reply<A, Sync>,
    State(chat): State<Chat>,
) {
    if !connection.budget.read() {
        return reply.refuse(rate_limited());
    }
    reply.result(chat.sync(&SocketRooms::of(&socket), &request.rooms).await);
}

async fn on_create_room<A: Adapter>(
    io: SocketIo<A>,
    Conn(connection): Conn,
    Payload(request): Payload<CreateRoom>,
    reply: Reply<A, CreateRoom>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    let entry = Entry::Create {
        private: request.private,
    };
    let entered = enter(&io, &connection, &chat, &shared, entry, &request.room);
    reply.result(entered.await);
}

async fn on_join_room<A: Adapter>(
    io: SocketIo<A>,
    Conn(connection): Conn,
    Payload(request): Payload<JoinRoom>,
    reply: Reply<A, JoinRoom>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    let entered = enter(&io, &connection, &chat, &shared, Entry::Join, &request.room);
    reply.result(entered.await);
}

/// How `createRoom` and `joinRoom` differ: whether the room must be new or must exist.
enum Entry {
    Create { private: bool },
    Join,
}

/// `createRoom` and `joinRoom`: the chat lets the user into the room, then every connection of
/// theirs joins it, on every node.
async fn enter<A: Adapter>(
    io: &SocketIo<A>,
    connection: &Connection,
    chat: &Chat,
    shared: &SharedBudget,
    entry: Entry,
    room: &str,
) -> Result<Joined, Refusal> {
    let user = connection.user();
    if !shared.write(&user.id) {
        return Err(Refusal::Now(rate_limited()));
    }
    let remember = async || connection.remember(chat).await;
    let room = match entry {
        Entry::Create { private } => chat.create_room(&user, room, private, remember).await?,
        Entry::Join => chat.join_room(&user, room, remember).await?,
    };
    join_everywhere(io, &user.id, &room.name)
        .await
        .map_err(Refusal::Now)?;
    let members = chat.members(&room.name).await;
    Ok(Joined { room, members })
}

/// `invite`: the invitee becomes a member, and every connection of theirs, on every node, joins
/// the room and is told.
async fn on_invite<A: Adapter>(
    io: SocketIo<A>,
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<Invite>,
    reply: Reply<A, Invite>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    let user = connection.user();
    if !shared.write(&user.id) {
        return reply.refuse(rate_limited());
    }
    let rooms = SocketRooms::of(&socket);
    let (room, invitee) = match chat.invite(&rooms, &request.room, &request.user).await {
        Ok(invited) => invited,
        Err(error) => return reply.fail(&error),
    };
    if let Err(refusal) = join_everywhere(&io, &invitee, &room.name).await {
        return reply.refuse(refusal);
    }
    let invited = Invited { room, by: user };
    if let Err(error) = io
        .to(user_room(&invitee))
        .emit(Invited::NAME, &invited)
        .await
    {
        crate::throttled!(warn, %error, "could not tell a user they were invited");
    }
    reply.ok(Done {});
}

/// `openDirect`: everyone in the conversation is a member, every connection of theirs, on every
/// node, joins it, and those new to it are told (the opener on their other connections).
async fn on_open_direct<A: Adapter>(
    io: SocketIo<A>,
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<OpenDirect>,
    reply: Reply<A, OpenDirect>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    let user = connection.user();
    if !shared.write(&user.id) {
        return reply.refuse(rate_limited());
    }
    let remember = async || connection.remember(&chat).await;
    let opened = match chat.open_direct(&user, &request.with, remember).await {
        Ok(opened) => opened,
        Err(error) => return reply.fail(&error),
    };
    for person in &opened.people {
        if let Err(refusal) = join_everywhere(&io, person, &opened.room.name).await {
            return reply.refuse(refusal);
        }
    }
    let invited = Invited {
        room: opened.room.clone(),
        by: user.clone(),
    };
    for person in &opened.added {
        let told = socket.to(user_room(person)).emit(Invited::NAME, &invited);
        if let Err(error) = told.await {
            crate::throttled!(warn, %error, "could not tell a user they were invited");
        }
    }
    let members = chat.members(&opened.room.name).await;
    reply.ok(Joined {
        room: opened.room,
        members,
    });
}

/// Every connection of the user `user_id`, on every node, joins `room` (through the adapter room
/// `user:<id>`).
async fn join_everywhere<A: Adapter>(
    io: &SocketIo<A>,
    user_id: &str,
    room: &str,
) -> Result<(), ErrorPayload> {
    io.to(user_room(user_id))
        .join(room.to_owned())
        .await
        .map_err(|error| {
            crate::throttled!(error, %error, %room, "could not add a user's connections to a room");
            adapter_failed()
        })
}

/// `markRead`: the position is stored and the user's other connections, on every node, follow.
async fn on_mark_read<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<MarkRead>,
    reply: Reply<A, MarkRead>,
    State(chat): State<Chat>,
) {
    if !connection.budget.read() {
        return reply.refuse(rate_limited());
    }
    let user = connection.user();
    let rooms = SocketRooms::of(&socket);
    let room = match chat
        .mark_read(&user, &rooms, &request.room, request.seq)
        .await
    {
        Ok(room) => room,
        Err(error) => return reply.fail(&error),
    };
    let read = ReadUpTo {
        room,
        seq: request.seq,
    };
    if let Err(error) = socket
        .to(user_room(&user.id))
        .emit(ReadUpTo::NAME, &read)
        .await
    {
        crate::throttled!(warn, %error, "could not tell a user's other connections what they read");
    }
    reply.ok(Done {});
}

/// `archiveRoom` (an admin's): the room is archived or back, and its members are told on every
/// node.
async fn on_archive_room<A: Adapter>(
    io: SocketIo<A>,
    Conn(connection): Conn,
    Payload(request): Payload<ArchiveRoom>,
    reply: Reply<A, ArchiveRoom>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    if !shared.write(&connection.user().id) {
        return reply.refuse(rate_limited());
    }
    let room = match chat
        .archive(connection.token(), &request.room, request.archived)
        .await
    {
        Ok(room) => room,
        Err(error) => return reply.fail(&error),
    };
    let updated = RoomUpdated { room };
    if let Err(error) = io
        .to(updated.room.name.clone())
        .emit(RoomUpdated::NAME, &updated)
        .await
    {
        crate::throttled!(warn, %error, "could not tell a room it was archived");
    }
    reply.ok(updated);
}

async fn on_leave_room<A: Adapter>(
    io: SocketIo<A>,
    Conn(connection): Conn,
    Payload(request): Payload<LeaveRoom>,
    reply: Reply<A, LeaveRoom>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    let user = connection.user();
    if !shared.write(&user.id) {
        return reply.refuse(rate_limited());
    }
    let room = match chat.leave_room(&user, &request.room).await {
        Ok(room) => room,
        Err(error) => return reply.fail(&error),
    };
    if let Err(error) = io.to(user_room(&user.id)).leave(room.clone()).await {
        crate::throttled!(error, %error, %room, "could not take a user's connections out of a room");
        return reply.refuse(adapter_failed());
    }
    reply.ok(Done {});
}

async fn on_rename<A: Adapter>(
    io: SocketIo<A>,
    Conn(connection): Conn,
    Payload(request): Payload<Rename>,
    reply: Reply<A, Rename>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    if !shared.write(&connection.user().id) {
        return reply.refuse(rate_limited());
    }
    let remember = async || connection.remember(&chat).await;
    let renamed = chat
        .rename(&connection.user(), &request.name, remember)
        .await;
    if let Ok(user) = &renamed {
        // Every tab of the user on this node posts under the new name from now on.
        for socket in io.local().within(user_room(&user.id)).sockets() {
            if let Some(tab) = socket.extensions.get::<Arc<Connection>>() {
                tab.set_user(user.clone());
            }
        }
    }
    reply.result(renamed.map(|user| Renamed { user }));
}

/// `typing`: relayed to the room's other members; nothing is stored. Bad payloads, rooms the
/// connection is not in and signals over budget are dropped without an answer.
async fn on_typing<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    TryData(request): TryData<NowTyping>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    telemetry::event_received(NowTyping::NAME);
    let Ok(request) = request else {
        return;
    };
    if !connection.budget.typing() {
        return;
    }
    let Ok(room) = chat
        .member_room(&SocketRooms::of(&socket), &request.room)
        .await
    else {
        return;
    };
    if !shared.room_typing(&room) {
        return;
    }
    let typing = Typing {
        room,
        user: connection.user(),
    };
    if let Err(error) = socket
        .to(typing.room.clone())
        .emit(Typing::NAME, &typing)
        .await
    {
        log_broadcast_failure(&error, &typing.room);
    }
}

/// `members`: everyone online in a room the client is in.
async fn on_members<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<Members>,
    reply: Reply<A, Members>,
    State(chat): State<Chat>,
) {
    if !connection.budget.read() {
        return reply.refuse(rate_limited());
    }
    let room = chat
        .member_room(&SocketRooms::of(&socket), &request.room)
        .await;
    match room {
        Ok(room) => reply.ok(MemberList {
            members: chat.members(&room).await,
        }),
        Err(error) => reply.fail(&error),
    }
}

/// `search`: the newest messages matching the query, in the rooms the user can read.
async fn on_search<A: Adapter>(
    socket: SocketRef<A>,
    Conn(connection): Conn,
    Payload(request): Payload<Search>,
    reply: Reply<A, Search>,
    State(chat): State<Chat>,
    State(shared): State<Arc<SharedBudget>>,
) {
    if !shared.search(&connection.user().id) {
        return reply.refuse(rate_limited());
    }
    let rooms = SocketRooms::of(&socket);
    let (query, room) = (&request.query, request.room.as_deref());
    let found = chat.search(&connection.user(), &rooms, query, room).await;
    reply.result(found.map(|results| Found { results }));
}

/// How often presence changes are announced, at most.
const PRESENCE_EVERY: Duration = Duration::from_millis(250);
/// How often (in announcement ticks: 5 s) this node renews its place on a cluster's shared
/// presence and takes over from nodes that stopped.
const UPKEEP_EVERY: u32 = 20;
/// How often budgets of users and rooms gone quiet are forgotten.
const FORGET_BUDGETS_EVERY: u32 = 40;

/// Announces presence changes, batched, until `stop` turns true; sends the heads of rooms whose
/// fan-out failed, and of every room after `reconnections` changed; now and then keeps shared
/// presence up to date and forgets idle budgets.
pub async fn announce_presence<A: Adapter>(
    io: SocketIo<A>,
    chat: Chat,
    shared: Arc<SharedBudget>,
    heads: Arc<Heads>,
    mut reconnections: Option<watch::Receiver<u64>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(PRESENCE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 1_u32.. {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let mut changes = chat.presence_changes(std::time::Instant::now()).await;
        if tick % UPKEEP_EVERY == 0 {
            changes.extend(chat.presence_upkeep().await);
        }
        announce(&io, changes).await;
        heads.resend(&io).await;
        if let Some(reconnections) = &mut reconnections
            && reconnections.has_changed().unwrap_or(false)
        {
            reconnections.mark_unchanged();
            heads::send_local(&io, &chat).await;
        }
        if tick % FORGET_BUDGETS_EVERY == 0 {
            shared.forget_idle();
        }
    }
}

/// Sends presence changes to their rooms.
pub async fn announce<A: Adapter>(io: &SocketIo<A>, changes: Vec<shared::PresenceChange>) {
    for change in changes {
        if let Err(error) = io
            .to(change.room.clone())
            .emit(shared::PresenceChange::NAME, &change)
            .await
        {
            log_broadcast_failure(&error, &change.room);
        }
    }
}

fn adapter_failed() -> ErrorPayload {
    ErrorPayload::new(
        ErrorCode::Internal,
        "The server could not do that right now; try again.",
    )
}

/// Why a request was refused: by the chat, or by the transport itself.
enum Refusal {
    Chat(ChatError),
    Now(ErrorPayload),
}

impl From<ChatError> for Refusal {
    fn from(error: ChatError) -> Self {
        Self::Chat(error)
    }
}

pub fn rate_limited() -> ErrorPayload {
    ErrorPayload::new(
        ErrorCode::RateLimited,
        "You are doing that too fast; wait a moment and retry.",
    )
}

/// Extractor: the request, parsed, and counted in the events metric. A payload that does not
/// parse is refused with `invalid_payload` right here (through the ack, or a `chatError` event),
/// and the handler is not called.
struct Payload<R>(R);

#[derive(Debug, thiserror::Error)]
#[error("payload refused")]
struct PayloadRefused;

impl<A: Adapter, R: Request> FromMessageParts<A> for Payload<R> {
    type Error = PayloadRefused;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, PayloadRefused> {
        // Every request event passes here once, readable or not.
        telemetry::event_received(R::NAME);
        let Ok(TryData(parsed)) = TryData::<R>::from_message_parts(socket, value, ack_id);
        parsed.map(Payload).map_err(|error| {
            tracing::debug!(event = R::NAME, %error, "unreadable payload");
            let reply = Reply::<A, R>::from_message_parts(socket, value, ack_id)
                .unwrap_or_else(|never| match never {});
            reply.refuse(ErrorPayload::new(
                ErrorCode::InvalidPayload,
                format!(
                    "`{}` could not read that payload; see the protocol.",
                    R::NAME
                ),
            ));
            PayloadRefused
        })
    }
}

/// The id of the user a socket belongs to, for log lines.
fn user_of<A: Adapter>(socket: &Socket<A>) -> String {
    socket
        .extensions
        .get::<Arc<Connection>>()
        .map(|connection| connection.user().id)
        .unwrap_or_default()
}

/// How to answer a client's request: through its acknowledgement callback if it asked for one,
/// otherwise with a `chatError` event for refusals; a success without an acknowledgement sends
/// nothing.
struct Reply<A: Adapter, R> {
    socket: SocketRef<A>,
    ack: AckSender<A>,
    wants_ack: bool,
    request: PhantomData<R>,
}

impl<A: Adapter, R: Request> Reply<A, R> {
    fn ok(self, data: R::Reply) {
        if self.wants_ack {
            self.send_ack(&Ack::Ok(data));
        }
    }

    fn result(self, result: Result<R::Reply, impl Into<Refusal>>) {
        match result.map_err(Into::into) {
            Ok(data) => self.ok(data),
            Err(Refusal::Chat(error)) => self.fail(&error),
            Err(Refusal::Now(error)) => self.refuse(error),
        }
    }

    fn fail(self, error: &ChatError) {
        self.refuse(refusal(error));
    }

    fn refuse(self, error: ErrorPayload) {
        telemetry::refused(error.code);
        tracing::debug!(sid = %self.socket.id, user = %user_of(&self.socket), code = ?error.code, "request refused");
        if self.wants_ack {
            self.send_ack(&Ack::<R::Reply>::Error { error });
        } else if let Err(send_error) = self.socket.emit(ErrorPayload::NAME, &error) {
            crate::throttled!(warn, sid = %self.socket.id, user = %user_of(&self.socket), %send_error, "could not send an error event");
        }
    }

    fn send_ack(self, ack: &Ack<R::Reply>) {
        if let Err(error) = self.ack.send(ack) {
            crate::throttled!(warn, sid = %self.socket.id, user = %user_of(&self.socket), %error, "could not send an acknowledgement");
        }
    }
}

impl<A: Adapter, R> FromMessageParts<A> for Reply<A, R> {
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
            request: PhantomData,
        })
    }
}
