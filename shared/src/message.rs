//! Payloads carried by the chat events.

use serde::{Deserialize, Serialize};

/// The room every connection is in and every bare message goes to.
pub const DEFAULT_ROOM: &str = "general";

/// What a client may send with `chatMessage`.
///
/// A bare string posts to the default room; an object can name the room and a `clientId`. Both
/// forms stay accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChatInput {
    /// `"hello"`: goes to [`DEFAULT_ROOM`].
    Text(String),
    /// `{ "text": "hello", "room": "general", "clientId": "..." }`.
    Object {
        text: String,
        /// Defaults to [`DEFAULT_ROOM`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// Chosen by the client, unique per message: the idempotency key. A retry with the same
        /// id stores nothing new and gets the first acknowledgement again.
        #[serde(default, rename = "clientId", skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The `seq` of the message of the same room this one answers.
        #[serde(default, rename = "replyTo", skip_serializing_if = "Option::is_none")]
        reply_to: Option<i64>,
        /// The people its text mentions (`@name`), resolved by the client to their ids.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<Mention>,
        /// The id of a file its author uploaded to the same room and attached to no message
        /// yet (`POST /api/files`): the message carries it. `text` may then be empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<String>,
    },
}

impl ChatInput {
    /// The text, whichever form the client used.
    pub fn text(&self) -> &str {
        match self {
            Self::Text(text) | Self::Object { text, .. } => text,
        }
    }

    /// The room it is for.
    pub fn room(&self) -> &str {
        match self {
            Self::Object {
                room: Some(room), ..
            } => room,
            _ => DEFAULT_ROOM,
        }
    }

    /// The client's own id for this message, if it sent one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Text(_) => None,
            Self::Object { client_id, .. } => client_id.as_deref(),
        }
    }

    /// The `seq` of the message this one answers, if it is a reply.
    pub fn reply_to(&self) -> Option<i64> {
        match self {
            Self::Text(_) => None,
            Self::Object { reply_to, .. } => *reply_to,
        }
    }

    /// The people it mentions, as the client resolved them.
    pub fn mentions(&self) -> &[Mention] {
        match self {
            Self::Text(_) => &[],
            Self::Object { mentions, .. } => mentions,
        }
    }

    /// The id of the file it carries, if any.
    pub fn attachment(&self) -> Option<&str> {
        match self {
            Self::Text(_) => None,
            Self::Object { attachment, .. } => attachment.as_deref(),
        }
    }
}

/// A person a message mentions: `@` and their name in its text, and who that is, resolved when
/// it was sent. It keeps naming them after they rename themselves, and two people of one name
/// are told apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mention {
    /// Their user id.
    pub id: String,
    /// Their name as the text writes it after the `@` (its case aside).
    pub name: String,
}

/// A person, as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    /// Stable across reconnects and tabs of the same session.
    pub id: String,
    /// Shown next to their messages.
    pub name: String,
    /// Their account's username, which no one else can have: shown beside the name, so that a
    /// name cannot be borrowed. Absent for a guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl Author {
    /// A guest (no account): an id and a display name.
    pub fn guest(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            username: None,
        }
    }
}

/// A stored message as the server broadcasts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Server-assigned, unique.
    pub id: String,
    pub room: String,
    /// Position in the room: 1, 2, 3, ... with no gaps, shared with the room's changes
    /// ([`MessageChanged`]). Catch-up and paging use it.
    pub seq: i64,
    pub text: String,
    pub author: Author,
    /// Server clock, milliseconds since the Unix epoch.
    pub sent_at: i64,
    /// Echo of the sender's `clientId`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// When its text was last edited (server clock, ms); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// Who deleted it, if it was deleted; its `text` is then empty (a tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DeletedBy>,
    /// The message it answers, as that message is now; absent for a message that is no reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    /// Its reactions, each emoji once, in the order of their first reactor ([`Reaction`]);
    /// absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The people it mentions ([`Mention`]), as its sender resolved them; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Mention>,
    /// The file it carries, read with it; absent when none, and once it is deleted (the file
    /// goes with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<FileInfo>,
}

/// A file as the server stored it: the reply to an upload, and a message's `attachment`. Its
/// bytes are at `GET /files/{id}` (and an image's thumbnail at `GET /files/{id}/thumbnail`),
/// for the members of its room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub id: String,
    /// The uploader's name for it, cleaned ([`crate::clean_file_name`]).
    pub name: String,
    /// What it is served as: `image/png`, `image/jpeg`, `image/gif` or `image/webp` for an
    /// image the server decoded itself, `application/octet-stream` for anything else, whatever
    /// the uploader claimed.
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// An image's size in pixels; absent for other files (then it has no thumbnail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSize>,
}

/// An image's width and height, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// The message a reply answers, as a reply carries it: read with the reply (never copied into
/// it), so an edit or a deletion of the original shows in its quotes. A client holding a reply
/// applies the original's changes to the quote too ([`Quote::apply`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The original's `seq`, in the reply's room.
    pub seq: i64,
    pub author: Author,
    /// The original's text, cut to [`QUOTE_CHARS`] ([`quote_snippet`]); empty once deleted.
    pub text: String,
    /// Who deleted the original, if it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DeletedBy>,
}

/// Longest quoted text, in characters (Unicode scalar values).
pub const QUOTE_CHARS: usize = 140;

/// What a quote shows of a message's `text`: all of it up to [`QUOTE_CHARS`] characters, or
/// the first ones and `…` to make [`QUOTE_CHARS`].
pub fn quote_snippet(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        None => text.to_owned(),
        Some(_) => {
            let (cut, _) = text
                .char_indices()
                .nth(QUOTE_CHARS - 1)
                .expect("longer than the quote");
            [&text[..cut], "…"].concat()
        }
    }
}

impl Quote {
    /// Applies `change`, made to the quoted message, to the quote: its new text, or a
    /// tombstone. Reactions do not show in quotes.
    fn apply(&mut self, change: &Change) {
        match change {
            Change::Edited { text, .. } => self.text = quote_snippet(text),
            Change::Deleted { by } => {
                self.text.clear();
                self.deleted = Some(*by);
            }
            Change::Reacted { .. } | Change::Unreacted { .. } => {}
        }
    }
}

/// One emoji on a message and who put it there. A message's reactions are in the order of
/// their first reactor's `seq`, and each one's reactors in `seq` order: an order that follows
/// from who reacted when, so every client holds them alike, whether it heard the reactions
/// live or read the message later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// Never empty: an emoji nobody reacts with any more is no reaction.
    pub by: Vec<Reactor>,
}

/// Someone's reaction: who, and the `seq` of the change that added it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactor {
    pub user: Author,
    pub seq: i64,
}

/// Who deleted a message: its author, or an admin (moderation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletedBy {
    Author,
    Admin,
}

impl DeletedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Author => "author",
            Self::Admin => "admin",
        }
    }

    pub fn parse(by: &str) -> Option<Self> {
        match by {
            "author" => Some(Self::Author),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// What happened to a message, as a [`MessageChanged`] carries it: `"change": "edited"` with the
/// new text, `"change": "deleted"` with who deleted it, or `"change": "reacted"` /
/// `"unreacted"` with the emoji and who added or took it away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Edited { text: String, edited_at: i64 },
    Deleted { by: DeletedBy },
    Reacted { emoji: String, user: Author },
    Unreacted { emoji: String, user: Author },
}

/// Server -> a room's members: a message of the room was edited, deleted or reacted to. A change
/// takes the room's next sequence number (`seq`), like a message, so catch-up carries changes
/// too; `target` is the changed message's `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ChangeOnTheWire", into = "ChangeOnTheWire")]
pub struct MessageChanged {
    pub room: String,
    pub seq: i64,
    pub target: i64,
    pub change: Change,
}

/// [`MessageChanged`] as it goes over the wire: one flat object, whose fields depend on
/// `change`. (Decoding it flat, then checking, costs the UI far less code than serde's
/// flattened, internally tagged enum.)
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeOnTheWire {
    room: String,
    seq: i64,
    target: i64,
    change: ChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    edited_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<DeletedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<Author>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChangeKind {
    Edited,
    Deleted,
    Reacted,
    Unreacted,
}

impl TryFrom<ChangeOnTheWire> for MessageChanged {
    type Error = &'static str;

    fn try_from(wire: ChangeOnTheWire) -> Result<Self, Self::Error> {
        let reaction = wire.emoji.zip(wire.user);
        let change = match (wire.change, wire.text, wire.edited_at, wire.by, reaction) {
            (ChangeKind::Edited, Some(text), Some(edited_at), ..) => {
                Change::Edited { text, edited_at }
            }
            (ChangeKind::Deleted, _, _, Some(by), _) => Change::Deleted { by },
            (ChangeKind::Reacted, .., Some((emoji, user))) => Change::Reacted { emoji, user },
            (ChangeKind::Unreacted, .., Some((emoji, user))) => Change::Unreacted { emoji, user },
            (ChangeKind::Edited, ..) => return Err("an edit has `text` and `editedAt`"),
            (ChangeKind::Deleted, ..) => return Err("a deletion has `by`"),
            (ChangeKind::Reacted | ChangeKind::Unreacted, ..) => {
                return Err("a reaction has `emoji` and `user`");
            }
        };
        Ok(Self {
            room: wire.room,
            seq: wire.seq,
            target: wire.target,
            change,
        })
    }
}

impl From<MessageChanged> for ChangeOnTheWire {
    fn from(changed: MessageChanged) -> Self {
        let (change, text, edited_at, by, reaction) = match changed.change {
            Change::Edited { text, edited_at } => {
                (ChangeKind::Edited, Some(text), Some(edited_at), None, None)
            }
            Change::Deleted { by } => (ChangeKind::Deleted, None, None, Some(by), None),
            Change::Reacted { emoji, user } => {
                (ChangeKind::Reacted, None, None, None, Some((emoji, user)))
            }
            Change::Unreacted { emoji, user } => {
                (ChangeKind::Unreacted, None, None, None, Some((emoji, user)))
            }
        };
        let (emoji, user) = reaction.unzip();
        Self {
            room: changed.room,
            seq: changed.seq,
            target: changed.target,
            change,
            text,
            edited_at,
            by,
            emoji,
            user,
        }
    }
}

impl ChatMessage {
    /// Applies `changed`, a change to a message of this message's room, to whatever of it
    /// shows here: this message, if it is the change's target (its new text; a tombstone,
    /// without reactions; a reaction added or taken away), or the message it quotes (the new
    /// text, or the tombstone). Other changes leave it as it is, and so does a change it shows
    /// already (`sync` returns messages as they are now, with the changes made since the
    /// cursor): apply every change to every message held.
    pub fn apply(&mut self, changed: &MessageChanged) {
        if changed.room != self.room {
            return;
        }
        if changed.target == self.seq {
            self.change(&changed.change, changed.seq);
        }
        if let Some(quote) = &mut self.reply_to
            && quote.seq == changed.target
        {
            quote.apply(&changed.change);
        }
    }

    /// Makes `change`, which took sequence number `seq`, to this message.
    fn change(&mut self, change: &Change, seq: i64) {
        match change {
            Change::Edited { text, edited_at } => {
                self.text.clone_from(text);
                self.edited_at = Some(*edited_at);
            }
            Change::Deleted { by } => {
                self.text.clear();
                self.deleted = Some(*by);
                self.reactions.clear();
                self.mentions.clear();
                self.attachment = None;
            }
            Change::Reacted { emoji, user } => {
                let reactor = Reactor {
                    user: user.clone(),
                    seq,
                };
                match self.reactions.iter_mut().find(|r| r.emoji == *emoji) {
                    Some(reaction) if reaction.by.iter().any(|r| r.user.id == user.id) => {}
                    Some(reaction) => {
                        let at = reaction.by.partition_point(|r| r.seq < seq);
                        reaction.by.insert(at, reactor);
                    }
                    None => self.reactions.push(Reaction {
                        emoji: emoji.clone(),
                        by: vec![reactor],
                    }),
                }
            }
            Change::Unreacted { emoji, user } => {
                for reaction in self.reactions.iter_mut().filter(|r| r.emoji == *emoji) {
                    reaction.by.retain(|r| r.user.id != user.id);
                }
                self.reactions.retain(|r| !r.by.is_empty());
            }
        }
        self.reactions.sort_by_key(|r| r.by[0].seq);
    }
}

/// A room and how far its history goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    pub name: String,
    /// The room's newest sequence number (of a message or a change); 0 for an empty room.
    pub last_seq: i64,
    /// Not in the directory; only members can bring others in. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Read only: its history stays, nobody can post (an admin archived it). Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// A direct conversation's members (the reader among them), by name; absent for any other
    /// room. A direct conversation is a private room the server named ([`RoomInfo::is_direct`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Author>,
}

impl RoomInfo {
    /// Whether this is a direct conversation (opened with `openDirect`) rather than a room.
    pub fn is_direct(&self) -> bool {
        crate::is_direct_room(&self.name)
    }
}

/// Handshake `auth` a client may send. Both fields are optional: a bare client becomes a guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auth {
    /// The session token from an earlier `welcome`: same person as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The display name for a new session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Sent once to each client when it connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    /// Who this connection is.
    pub user: Author,
    /// The session token to present next time (in `auth.token`); keep it secret.
    pub token: String,
    /// The rooms this user is in (the connection has joined them all).
    pub rooms: Vec<RoomInfo>,
    /// Longest accepted message, in Unicode scalar values, after trimming.
    pub max_message_chars: usize,
    /// The user's account (username and role); absent for a guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<crate::AccountInfo>,
    /// How far the user has read their rooms, as stored (from any device). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<crate::ReadUpTo>,
}

/// Where a `sync` resumes in one room: after the last sequence number the client holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomCursor {
    pub room: String,
    pub after_seq: i64,
}

/// Server -> room: who came online and who went offline since the last update (updates are
/// batched, a few per second at most), and how many are online now. A user who joins again under
/// a new name (a rename) is in `joined` with the same id.
///
/// When more people came and went in one batch than are worth naming
/// ([`PRESENCE_NAMED_MAX`]), the lists are left empty and `partial` is true: a member list the
/// client holds is out of date. Every member receives every update, so naming thousands of
/// arrivals would cost each of them as much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub room: String,
    pub online: usize,
    pub joined: Vec<Author>,
    pub left: Vec<Author>,
    #[serde(default)]
    pub partial: bool,
}

/// Most people one `presence` update names (joined and left together).
pub const PRESENCE_NAMED_MAX: usize = 16;

/// What `members` acknowledgements carry: everyone online in the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberList {
    pub members: Vec<Author>,
}

/// Server -> room (but the typist): someone is typing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub room: String,
    pub user: Author,
}

/// What a `chatMessage` acknowledgement carries: the stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub message: ChatMessage,
}

/// What `joinRoom` and `createRoom` acknowledgements carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    pub room: RoomInfo,
    pub members: Vec<Author>,
}

/// What `search` acknowledgements carry: at most [`crate::MAX_SEARCH_RESULTS`] messages that
/// match, newest first, each as it is now (as `history` and `sync` read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub results: Vec<ChatMessage>,
}

/// What `sync` acknowledgements carry: missed messages, room by room, in sequence order, in their
/// current state (edited or deleted); and the changes made since the cursors, for messages the
/// client holds already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced {
    pub messages: Vec<ChatMessage>,
    /// The changes (edits, deletions, reactions) with `seq` after the cursors, room by room, in
    /// sequence order. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<MessageChanged>,
    /// The reply was cut short (a page per room, a size for the whole reply): some room may have
    /// newer messages. Sync again from the new cursors.
    #[serde(default)]
    pub more: bool,
}

/// What `editMessage`, `deleteMessage`, `react` and `unreact` acknowledgements carry: the change
/// made, absent when there was nothing to change (the same text again; a message deleted
/// already; a reaction that was there already, or was not).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<MessageChanged>,
}

/// What `rename` acknowledgements carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renamed {
    pub user: Author,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_seed_string_and_the_object_form() {
        let bare: ChatInput = serde_json::from_value(json!("hi")).unwrap();
        assert_eq!(bare.text(), "hi");
        assert_eq!(bare.room(), DEFAULT_ROOM);
        assert_eq!(bare.client_id(), None);

        let object: ChatInput =
            serde_json::from_value(json!({ "text": "hi", "room": "rust", "clientId": "c1" }))
                .unwrap();
        assert_eq!(object.text(), "hi");
        assert_eq!(object.room(), "rust");
        assert_eq!(object.client_id(), Some("c1"));
        assert_eq!(object.reply_to(), None);

        let reply: ChatInput =
            serde_json::from_value(json!({ "text": "yes", "replyTo": 7 })).unwrap();
        assert_eq!((reply.room(), reply.reply_to()), (DEFAULT_ROOM, Some(7)));
        assert_eq!(bare.reply_to(), None);
    }

    fn someone(id: &str) -> Author {
        Author::guest(id, id.to_uppercase())
    }

    fn message(seq: i64) -> ChatMessage {
        ChatMessage {
            id: format!("m{seq}"),
            room: "general".into(),
            seq,
            text: "hello".into(),
            author: someone("a"),
            sent_at: 1,
            client_id: None,
            edited_at: None,
            deleted: None,
            reply_to: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachment: None,
        }
    }

    #[test]
    fn reactions_and_replies_on_the_wire() {
        let reacted = MessageChanged {
            room: "general".into(),
            seq: 9,
            target: 3,
            change: Change::Reacted {
                emoji: "👍".into(),
                user: someone("b"),
            },
        };
        let wire = json!({
            "room": "general", "seq": 9, "target": 3, "change": "reacted", "emoji": "👍",
            "user": { "id": "b", "name": "B" }
        });
        assert_eq!(serde_json::to_value(&reacted).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<MessageChanged>(wire).unwrap(),
            reacted
        );
        let unreacted = json!({
            "room": "general", "seq": 10, "target": 3, "change": "unreacted", "emoji": "👍",
            "user": { "id": "b", "name": "B" }
        });
        let decoded: MessageChanged = serde_json::from_value(unreacted.clone()).unwrap();
        assert!(matches!(decoded.change, Change::Unreacted { .. }));
        assert_eq!(serde_json::to_value(&decoded).unwrap(), unreacted);
        for broken in [
            json!({ "room": "general", "seq": 1, "target": 1, "change": "reacted", "emoji": "👍" }),
            json!({ "room": "general", "seq": 1, "target": 1, "change": "unreacted",
                    "user": { "id": "b", "name": "B" } }),
        ] {
            assert!(serde_json::from_value::<MessageChanged>(broken).is_err());
        }

        let mut reply = message(4);
        reply.reply_to = Some(Quote {
            seq: 3,
            author: someone("a"),
            text: "hello".into(),
            deleted: None,
        });
        reply.apply(&MessageChanged {
            target: 4,
            ..reacted
        });
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            json!({ "id": "m4", "room": "general", "seq": 4, "text": "hello",
                    "author": { "id": "a", "name": "A" }, "sentAt": 1,
                    "replyTo": { "seq": 3, "author": { "id": "a", "name": "A" }, "text": "hello" },
                    "reactions": [{ "emoji": "👍", "by": [{ "user": { "id": "b", "name": "B" },
                                                              "seq": 9 }] }] })
        );
    }

    #[test]
    fn quotes_are_cut_and_follow_their_original() {
        assert_eq!(quote_snippet("short"), "short");
        let exactly = "é".repeat(QUOTE_CHARS);
        assert_eq!(quote_snippet(&exactly), exactly);
        let cut = quote_snippet(&"é".repeat(QUOTE_CHARS + 1));
        assert_eq!(cut.chars().count(), QUOTE_CHARS);
        assert!(cut.ends_with("é…"));

        let mut reply = message(4);
        reply.reply_to = Some(Quote {
            seq: 3,
            author: someone("a"),
            text: "typo".into(),
            deleted: None,
        });
        let changed = |seq: i64, target: i64, change: Change| MessageChanged {
            room: "general".into(),
            seq,
            target,
            change,
        };
        let long = "x".repeat(QUOTE_CHARS * 2);
        let edited = Change::Edited {
            text: long.clone(),
            edited_at: 5,
        };
        reply.apply(&changed(5, 3, edited.clone()));
        let quote = reply.reply_to.clone().unwrap();
        assert_eq!(quote.text, quote_snippet(&long));
        assert_eq!(reply.text, "hello", "the reply is not what was edited");
        // Another message's change, and a reaction to the original, leave the quote alone.
        reply.apply(&changed(
            6,
            2,
            Change::Deleted {
                by: DeletedBy::Admin,
            },
        ));
        let reacted = Change::Reacted {
            emoji: "👍".into(),
            user: someone("b"),
        };
        reply.apply(&changed(7, 3, reacted));
        assert_eq!(reply.reply_to.as_ref(), Some(&quote));
        assert!(reply.reactions.is_empty());
        reply.apply(&changed(
            8,
            3,
            Change::Deleted {
                by: DeletedBy::Author,
            },
        ));
        let quote = reply.reply_to.unwrap();
        assert_eq!(
            (quote.text.as_str(), quote.deleted),
            ("", Some(DeletedBy::Author))
        );
    }

    /// What a store does with reactions, as `server/src/store` does it in SQL: a row per person
    /// and emoji with the seq that added it, read back in seq order and grouped by emoji.
    #[derive(Default)]
    struct Stored {
        rows: Vec<(String, Author, i64)>,
        deleted: bool,
        seq: i64,
    }

    impl Stored {
        /// Makes `change`, unless it changes nothing or is refused; the change made.
        fn change(&mut self, change: Change) -> Option<MessageChanged> {
            if self.deleted {
                return None;
            }
            let mine = |rows: &[(String, Author, i64)], emoji: &str, user: &Author| {
                rows.iter()
                    .position(|(e, u, _)| e == emoji && u.id == user.id)
            };
            match &change {
                Change::Reacted { emoji, user } => {
                    if mine(&self.rows, emoji, user).is_some() {
                        return None;
                    }
                    self.rows.push((emoji.clone(), user.clone(), self.seq + 1));
                }
                Change::Unreacted { emoji, user } => {
                    self.rows.remove(mine(&self.rows, emoji, user)?);
                }
                Change::Deleted { .. } => {
                    self.rows.clear();
                    self.deleted = true;
                }
                Change::Edited { .. } => unreachable!("not generated"),
            }
            self.seq += 1;
            Some(MessageChanged {
                room: "general".into(),
                seq: self.seq,
                target: 1,
                change,
            })
        }

        fn reactions(&self) -> Vec<Reaction> {
            let mut reactions: Vec<Reaction> = Vec::new();
            for (emoji, user, seq) in self.rows.iter().cloned() {
                let reactor = Reactor { user, seq };
                match reactions.iter_mut().find(|r| r.emoji == emoji) {
                    Some(reaction) => reaction.by.push(reactor),
                    None => reactions.push(Reaction {
                        emoji,
                        by: vec![reactor],
                    }),
                }
            }
            reactions
        }
    }

    fn a_change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        let emoji = prop::sample::select(vec!["👍", "🎉", "❤️"]);
        let user = prop::sample::select(vec!["u1", "u2", "u3"]);
        (0..20_u8, emoji, user).prop_map(|(kind, emoji, user)| {
            let (emoji, user) = (emoji.to_owned(), someone(user));
            match kind {
                0 => Change::Deleted {
                    by: DeletedBy::Author,
                },
                1..10 => Change::Reacted { emoji, user },
                _ => Change::Unreacted { emoji, user },
            }
        })
    }

    proptest::proptest! {
        /// A client that applies the changes as they come, one that reads the message once
        /// they are made, and one that applies them again to what it read (as a `sync` reply
        /// has it: the message as it is now, and the changes since the cursor) all hold the
        /// same message.
        #[test]
        fn applying_reactions_live_equals_reading_them_after(
            changes in proptest::collection::vec(a_change(), 0..40)
        ) {
            let mut store = Stored::default();
            let mut live = message(1);
            let made: Vec<MessageChanged> =
                changes.into_iter().filter_map(|change| store.change(change)).collect();
            for changed in &made {
                live.apply(changed);
            }
            let mut read = message(1);
            read.reactions = store.reactions();
            if store.deleted {
                read.text.clear();
                read.deleted = Some(DeletedBy::Author);
            }
            proptest::prop_assert_eq!(&live, &read);
            let mut again = read.clone();
            for changed in &made {
                again.apply(changed);
            }
            proptest::prop_assert_eq!(&again, &read);
            proptest::prop_assert!(live.reactions.iter().all(|r| !r.by.is_empty()));
        }
    }

    #[test]
    fn changes_are_flat_objects_and_plain_messages_keep_the_seed_shape() {
        let edited = MessageChanged {
            room: "general".into(),
            seq: 7,
            target: 3,
            change: Change::Edited {
                text: "fixed".into(),
                edited_at: 42,
            },
        };
        let wire = json!({
            "room": "general", "seq": 7, "target": 3,
            "change": "edited", "text": "fixed", "editedAt": 42
        });
        assert_eq!(serde_json::to_value(&edited).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<MessageChanged>(wire).unwrap(),
            edited
        );
        let deleted = json!({
            "room": "general", "seq": 8, "target": 3, "change": "deleted", "by": "admin"
        });
        let decoded: MessageChanged = serde_json::from_value(deleted.clone()).unwrap();
        assert_eq!(
            decoded.change,
            Change::Deleted {
                by: DeletedBy::Admin
            }
        );
        assert_eq!(serde_json::to_value(&decoded).unwrap(), deleted);

        let mut message = ChatMessage {
            id: "m".into(),
            room: "general".into(),
            seq: 3,
            text: "typo".into(),
            author: Author {
                id: "a".into(),
                name: "A".into(),
                username: None,
            },
            sent_at: 1,
            client_id: None,
            edited_at: None,
            deleted: None,
            reply_to: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachment: None,
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({ "id": "m", "room": "general", "seq": 3, "text": "typo",
                    "author": { "id": "a", "name": "A" }, "sentAt": 1 })
        );
        message.apply(&edited);
        assert_eq!(
            (message.text.as_str(), message.edited_at),
            ("fixed", Some(42))
        );
        message.apply(&decoded);
        assert_eq!(
            (message.text.as_str(), message.deleted),
            ("", Some(DeletedBy::Admin))
        );
    }

    #[test]
    fn rejects_other_shapes() {
        for value in [
            json!(42),
            json!(null),
            json!({ "body": "hi" }),
            json!(["hi"]),
        ] {
            assert!(serde_json::from_value::<ChatInput>(value).is_err());
        }
    }
}
