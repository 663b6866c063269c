//! Which payload travels under which Socket.io event name, and what answers it.
//!
//! Every event is a type: [`Event::NAME`] is its name on the wire and [`Request::Reply`] what its
//! acknowledgement carries. The server's transport and the UI's socket module use these traits
//! and never spell an event name themselves.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    Author, Changed, ChatInput, ChatMessage, ErrorPayload, Found, Joined, MemberList,
    MessageChanged, PresenceChange, Renamed, RoomCursor, RoomInfo, Sent, Synced, Typing, Welcome,
};

/// A payload sent under one event name, in either direction.
pub trait Event: Serialize + DeserializeOwned {
    const NAME: &'static str;
}

/// A client event the server answers through the acknowledgement: `Ack<Self::Reply>`.
pub trait Request: Event {
    type Reply: Serialize + DeserializeOwned;
}

/// `chatMessage` with a bare string posts to the default room, as in the original protocol.
impl Event for ChatInput {
    const NAME: &'static str = "chatMessage";
}
impl Request for ChatInput {
    type Reply = Sent;
}

/// Client -> server: the messages missed in each room since a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sync {
    pub rooms: Vec<RoomCursor>,
}
impl Event for Sync {
    const NAME: &'static str = "sync";
}
impl Request for Sync {
    type Reply = Synced;
}

/// Client -> server: replace the text of one's own message `seq` of `room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessage {
    pub room: String,
    pub seq: i64,
    pub text: String,
}
impl Event for EditMessage {
    const NAME: &'static str = "editMessage";
}
impl Request for EditMessage {
    type Reply = Changed;
}

/// Client -> server: delete message `seq` of `room` (one's own; an admin, anyone's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub room: String,
    pub seq: i64,
}
impl Event for DeleteMessage {
    const NAME: &'static str = "deleteMessage";
}
impl Request for DeleteMessage {
    type Reply = Changed;
}

/// Client -> server: react to message `seq` of `room` with `emoji` (one emoji). A person
/// reacts with one emoji at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct React {
    pub room: String,
    pub seq: i64,
    pub emoji: String,
}
impl Event for React {
    const NAME: &'static str = "react";
}
impl Request for React {
    type Reply = Changed;
}

/// Client -> server: take one's reaction `emoji` to message `seq` of `room` away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreact {
    pub room: String,
    pub seq: i64,
    pub emoji: String,
}
impl Event for Unreact {
    const NAME: &'static str = "unreact";
}
impl Request for Unreact {
    type Reply = Changed;
}

/// Server -> every member of the room: a message was edited, deleted or reacted to.
impl Event for MessageChanged {
    const NAME: &'static str = "messageChanged";
}

/// Client -> server: the user has read `room` up to `seq`. Positions only move forward; the
/// user's other connections are told ([`ReadUpTo`]) and later welcomes carry them, so unread
/// state is the same on every device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub room: String,
    pub seq: i64,
}
impl Event for MarkRead {
    const NAME: &'static str = "markRead";
}
impl Request for MarkRead {
    type Reply = Done;
}

/// Server -> a user's connections: they have read `room` up to `seq` (on another device, or as
/// stored, in `welcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadUpTo {
    pub room: String,
    pub seq: i64,
}
impl Event for ReadUpTo {
    const NAME: &'static str = "read";
}

/// Client -> server (an admin): archive `room` (read only: its history stays, nobody can post)
/// or, with `archived: false`, take it out of the archive. Its members are told
/// ([`RoomUpdated`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRoom {
    pub room: String,
    pub archived: bool,
}
impl Event for ArchiveRoom {
    const NAME: &'static str = "archiveRoom";
}
impl Request for ArchiveRoom {
    type Reply = RoomUpdated;
}

/// Server -> a room's members: the room changed (archived, or out of the archive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomUpdated {
    pub room: RoomInfo,
}
impl Event for RoomUpdated {
    const NAME: &'static str = "roomUpdated";
}

/// Client -> server: make a new room and join it. A private room is not in the directory, and
/// only its members can bring others in ([`Invite`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    pub room: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}
impl Event for CreateRoom {
    const NAME: &'static str = "createRoom";
}
impl Request for CreateRoom {
    type Reply = Joined;
}

/// Client -> server: join an existing room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoom {
    pub room: String,
}
impl Event for JoinRoom {
    const NAME: &'static str = "joinRoom";
}
impl Request for JoinRoom {
    type Reply = Joined;
}

/// Client -> server: make user `user` (an id) a member of `room`, which the sender is in (the way
/// into a private room). Every connection of theirs joins it and is told ([`Invited`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub room: String,
    pub user: String,
}
impl Event for Invite {
    const NAME: &'static str = "invite";
}
impl Request for Invite {
    type Reply = Done;
}

/// Server -> the invited user's connections: they are now in `room`, brought in by `by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invited {
    pub room: RoomInfo,
    pub by: Author,
}
impl Event for Invited {
    const NAME: &'static str = "invited";
}

/// Client -> server: the direct conversation between the sender and the people `with` (user
/// ids, 1 to [`crate::MAX_DIRECT_PEOPLE`] - 1 of them, the sender's own left out), made the
/// first time and the same one ever after, whoever opens it. Everyone in it is a member again
/// (someone who left it is back), every connection of theirs joins it, and the others are told
/// ([`Invited`]). Only its members can read it, by any path; nobody can be invited into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDirect {
    pub with: Vec<String>,
}
impl Event for OpenDirect {
    const NAME: &'static str = "openDirect";
}
impl Request for OpenDirect {
    type Reply = Joined;
}

/// Client -> server: leave a room, in every tab of this user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveRoom {
    pub room: String,
}
impl Event for LeaveRoom {
    const NAME: &'static str = "leaveRoom";
}
impl Request for LeaveRoom {
    type Reply = Done;
}

/// Client -> server: change the display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    pub name: String,
}
impl Event for Rename {
    const NAME: &'static str = "rename";
}
impl Request for Rename {
    type Reply = Renamed;
}

/// Most messages one `search` returns.
pub const MAX_SEARCH_RESULTS: usize = 50;

/// Client -> server: the newest messages (at most [`MAX_SEARCH_RESULTS`]) of the rooms the user
/// can read, or of `room` alone, in which every word of `query` ([`crate::search_words`])
/// begins a word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Search {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}
impl Event for Search {
    const NAME: &'static str = "search";
}
impl Request for Search {
    type Reply = Found;
}

/// Client -> server: everyone online in a room the client is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    pub room: String,
}
impl Event for Members {
    const NAME: &'static str = "members";
}
impl Request for Members {
    type Reply = MemberList;
}

/// Client -> server: the user is typing in a room. No acknowledgement; the server relays
/// [`Typing`] to the room's other members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NowTyping {
    pub room: String,
}
impl Event for NowTyping {
    const NAME: &'static str = "typing";
}

/// Server -> a room (but the typist).
impl Event for Typing {
    const NAME: &'static str = "typing";
}

/// Server -> every member of the room, the sender included: a stored message.
impl Event for ChatMessage {
    const NAME: &'static str = "chatMessage";
}

/// Server -> one client, right after it connects.
impl Event for Welcome {
    const NAME: &'static str = "welcome";
}

/// Server -> a room's members: the room's newest sequence number. Sent when live delivery may
/// have missed messages (the fan-out between nodes failed for a while); a client whose cursor is
/// behind it catches up with `sync`, without waiting for the room's next message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomHead {
    pub room: String,
    pub last_seq: i64,
}
impl Event for RoomHead {
    const NAME: &'static str = "roomHead";
}

/// Server -> a room: who came online and who left (batched).
impl Event for PresenceChange {
    const NAME: &'static str = "presence";
}

/// Server -> one client: a request of its was refused and it asked for no acknowledgement.
/// Not plain `error`: several clients (rust_socketio, older socket.io) reserve that name for
/// their own connection errors.
impl Event for ErrorPayload {
    const NAME: &'static str = "chatError";
}

/// An acknowledgement with nothing more to say than "ok".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}
