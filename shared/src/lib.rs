//! The chat's wire protocol: event names, payload types, error codes and the validation both ends
//! run.
//!
//! This crate only speaks the wire. It has no runtime, no I/O and no business logic, so the
//! server and the WebAssembly UI compile the very same definitions. Field names are camelCase on
//! the wire because every Socket.io client out there is JavaScript first.

mod account;
mod error;
pub mod markup;
mod message;
mod protocol;
mod validate;

pub use account::{
    AccountInfo, Credentials, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS,
    MIN_USERNAME_CHARS, Registration, RegistrationInfo, Role, ServerInfo, SessionInfo, UserEntry,
    username_key, validate_password, validate_username,
};
pub use error::{Ack, ErrorCode, ErrorPayload};
pub use markup::mentions;
pub use message::{
    Auth, Author, Change, Changed, ChatInput, ChatMessage, DEFAULT_ROOM, DeletedBy, FileInfo,
    Found, ImageSize, Joined, MemberList, Mention, MessageChanged, PRESENCE_NAMED_MAX,
    PresenceChange, QUOTE_CHARS, Quote, Reaction, Reactor, Renamed, RoomCursor, RoomInfo, Sent,
    Synced, Typing, Welcome, quote_snippet,
};
pub use protocol::{
    ArchiveRoom, CreateRoom, DeleteMessage, Done, EditMessage, Event, Invite, Invited, JoinRoom,
    LeaveRoom, MAX_SEARCH_RESULTS, MarkRead, Members, NowTyping, OpenDirect, React, ReadUpTo,
    Rename, Request, RoomHead, RoomUpdated, Search, Sync, Unreact,
};
pub use validate::{
    DIRECT_ROOM_HEX, DIRECT_ROOM_PREFIX, MAX_CLIENT_ID_BYTES, MAX_DIRECT_PEOPLE, MAX_EMOJI_BYTES,
    MAX_FILE_NAME_CHARS, MAX_MENTIONS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_QUERY_CHARS,
    MAX_QUERY_WORDS, MAX_REACTIONS, MAX_ROOM_CHARS, ValidationError, clean_file_name,
    is_direct_room, search_words, validate_caption, validate_client_id, validate_emoji,
    validate_mentions, validate_name, validate_room, validate_text,
};

/// Largest Socket.io packet (polling request body or WebSocket message) the server accepts, in
/// bytes. Bigger ones close the connection at the Engine.IO layer; anything that fits is answered
/// with a structured error instead. Comfortably above [`MAX_MESSAGE_CHARS`] of 4-byte characters.
pub const MAX_PACKET_BYTES: u64 = 64 * 1024;
