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
}

/// A stored message as the server broadcasts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Server-assigned, unique.
    pub id: String,
    pub room: String,
    /// Position in the room: 1, 2, 3, ... with no gaps. Catch-up and paging use it.
    pub seq: i64,
    pub text: String,
    pub author: Author,
    /// Server clock, milliseconds since the Unix epoch.
    pub sent_at: i64,
    /// Echo of the sender's `clientId`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A room and how far its history goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    pub name: String,
    /// Sequence number of the newest message; 0 for an empty room.
    pub last_seq: i64,
    /// Not in the directory; only members can bring others in. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
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

/// What `sync` acknowledgements carry: missed messages, room by room, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced {
    pub messages: Vec<ChatMessage>,
    /// The reply was cut short (a page per room, a size for the whole reply): some room may have
    /// newer messages. Sync again from the new cursors.
    #[serde(default)]
    pub more: bool,
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
