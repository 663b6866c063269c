//! The chat's wire protocol: event names, payload types and the validation both ends run.
//!
//! This crate only speaks the wire. It has no runtime, no I/O and no business logic, so the
//! server and the WebAssembly UI compile the very same definitions. Field names are camelCase on
//! the wire because every Socket.io client out there is JavaScript first.

mod message;
mod validate;

pub use message::{
    Ack, Auth, Author, ChatInput, ChatMessage, DEFAULT_ROOM, Done, ErrorPayload, Joined, Members,
    PRESENCE_NAMED_MAX, Presence, RenameRequest, Renamed, RoomCursor, RoomInfo, RoomRequest,
    SendAck, Sent, SyncRequest, Synced, Typing, Welcome,
};
pub use validate::{
    MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_ROOM_CHARS, ValidationError, validate_name,
    validate_room, validate_text,
};

/// Socket.io event names. Only the server's transport module and the UI's socket module use them.
pub mod event {
    /// Client -> server: post a message. Server -> every client: a stored, stamped message.
    pub const CHAT_MESSAGE: &str = "chatMessage";
    /// Server -> one client, right after it connects: who it is, its rooms, the limits.
    pub const WELCOME: &str = "welcome";
    /// Client -> server, with ack: messages missed in each room since a sequence number.
    pub const SYNC: &str = "sync";
    /// Client -> server, with ack: make a new room and join it.
    pub const CREATE_ROOM: &str = "createRoom";
    /// Client -> server, with ack: join an existing room.
    pub const JOIN_ROOM: &str = "joinRoom";
    /// Client -> server, with ack: leave a room.
    pub const LEAVE_ROOM: &str = "leaveRoom";
    /// Client -> server, with ack: change the display name.
    pub const RENAME: &str = "rename";
    /// Client -> server: the user is typing in a room. Server -> the room's other members.
    pub const TYPING: &str = "typing";
    /// Server -> a room: who came online and who left (batched).
    pub const PRESENCE: &str = "presence";
    /// Client -> server, with ack: everyone online in a room the client is in.
    pub const MEMBERS: &str = "members";
    /// Server -> one client: a request of its was refused and no acknowledgement was asked for.
    /// Not plain `error`: several clients (rust_socketio, older socket.io) reserve that name for
    /// their own connection errors.
    pub const ERROR: &str = "chatError";
}

/// Largest Socket.io packet (polling request body or WebSocket message) the server accepts, in
/// bytes. Bigger ones close the connection at the Engine.IO layer; anything that fits is answered
/// with a structured error instead. Comfortably above [`MAX_MESSAGE_CHARS`] of 4-byte characters.
pub const MAX_PACKET_BYTES: u64 = 64 * 1024;
