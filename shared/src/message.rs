//! Payloads carried by the chat events.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// What a client may send with `chatMessage`.
///
/// The seed sent a bare string; richer clients send an object. Both are accepted forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChatInput {
    /// `"hello"`, the seed's own protocol.
    Text(String),
    /// `{ "text": "hello", "clientId": "..." }`.
    Object {
        text: String,
        /// Chosen by the client to recognise the echo of its own message.
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

    /// The client's own id for this message, if it sent one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Text(_) => None,
            Self::Object { client_id, .. } => client_id.as_deref(),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Stable for the lifetime of the connection.
    pub id: String,
    /// Shown next to the message.
    pub name: String,
}

/// A message as the server broadcasts it: the client's text plus server-assigned fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Server-assigned, unique.
    pub id: String,
    pub text: String,
    pub author: Author,
    /// Server clock, milliseconds since the Unix epoch.
    pub sent_at: i64,
    /// Echo of the sender's `clientId`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Sent once to each client when it connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    /// The identity the server gave this connection; it marks the client's own messages.
    pub author: Author,
    /// Longest accepted message, in characters.
    pub max_message_chars: usize,
}

/// A refusal the client can show and act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// Stable, machine-readable: `invalid_payload`, `empty_message`, `message_too_long`, `internal`.
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
}

impl From<&ValidationError> for ErrorPayload {
    fn from(error: &ValidationError) -> Self {
        Self {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

/// The acknowledgement of a `chatMessage` emitted with a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum SendAck {
    /// The message was accepted and broadcast.
    Ok { message: ChatMessage },
    /// The message was refused; nobody received it.
    Error { error: ErrorPayload },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_seed_string_and_the_object_form() {
        let bare: ChatInput = serde_json::from_value(json!("hi")).unwrap();
        assert_eq!(bare.text(), "hi");
        assert_eq!(bare.client_id(), None);

        let object: ChatInput =
            serde_json::from_value(json!({ "text": "hi", "clientId": "c1" })).unwrap();
        assert_eq!(object.text(), "hi");
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

    #[test]
    fn ack_is_tagged_by_status() {
        let ack = SendAck::Error {
            error: ErrorPayload {
                code: "empty_message".into(),
                message: "nope".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&ack).unwrap(),
            json!({ "status": "error", "error": { "code": "empty_message", "message": "nope" } })
        );
    }
}
