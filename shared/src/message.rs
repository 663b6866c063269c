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
/// new text, or `"change": "deleted"` with who deleted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Edited { text: String, edited_at: i64 },
    Deleted { by: DeletedBy },
}

/// Server -> a room's members: a message of the room was edited or deleted. A change takes the
/// room's next sequence number (`seq`), like a message, so catch-up carries changes too;
/// `target` is the changed message's `seq`.
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
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChangeKind {
    Edited,
    Deleted,
}

impl TryFrom<ChangeOnTheWire> for MessageChanged {
    type Error = &'static str;

    fn try_from(wire: ChangeOnTheWire) -> Result<Self, Self::Error> {
        let change = match (wire.change, wire.text, wire.edited_at, wire.by) {
            (ChangeKind::Edited, Some(text), Some(edited_at), _) => {
                Change::Edited { text, edited_at }
            }
            (ChangeKind::Deleted, _, _, Some(by)) => Change::Deleted { by },
            (ChangeKind::Edited, ..) => return Err("an edit has `text` and `editedAt`"),
            (ChangeKind::Deleted, ..) => return Err("a deletion has `by`"),
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
        let (change, text, edited_at, by) = match changed.change {
            Change::Edited { text, edited_at } => {
                (ChangeKind::Edited, Some(text), Some(edited_at), None)
            }
            Change::Deleted { by } => (ChangeKind::Deleted, None, None, Some(by)),
        };
        Self {
            room: changed.room,
            seq: changed.seq,
            target: changed.target,
            change,
            text,
            edited_at,
            by,
        }
    }
}

impl ChatMessage {
    /// Applies `change` to this message (which it targets): the new text, or a tombstone.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Edited { text, edited_at } => {
                self.text.clone_from(text);
                self.edited_at = Some(*edited_at);
            }
            Change::Deleted { by } => {
                self.text.clear();
                self.deleted = Some(*by);
            }
        }
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

/// What `sync` acknowledgements carry: missed messages, room by room, in sequence order, in their
/// current state (edited or deleted); and the changes made since the cursors, for messages the
/// client holds already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced {
    pub messages: Vec<ChatMessage>,
    /// The changes (edits, deletions) with `seq` after the cursors, room by room, in sequence
    /// order. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<MessageChanged>,
    /// The reply was cut short (a page per room, a size for the whole reply): some room may have
    /// newer messages. Sync again from the new cursors.
    #[serde(default)]
    pub more: bool,
}

/// What `editMessage` and `deleteMessage` acknowledgements carry: the change made, absent when
/// there was nothing to change (the same text again; a message deleted already).
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
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({ "id": "m", "room": "general", "seq": 3, "text": "typo",
                    "author": { "id": "a", "name": "A" }, "sentAt": 1 })
        );
        message.apply(&edited.change);
        assert_eq!(
            (message.text.as_str(), message.edited_at),
            ("fixed", Some(42))
        );
        message.apply(&decoded.change);
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
