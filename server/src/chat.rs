//! The chat domain: turns what a client sent into a message everyone can receive.
//!
//! It knows nothing of Socket.io or HTTP; the transport calls it with typed values.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::{SystemTime, UNIX_EPOCH};

use shared::{Author, ChatInput, ChatMessage, ValidationError, validate_text};

/// Shared state of the chat, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Chat {
    /// Connections on this node, for the lifecycle logs. It decides nothing: with several nodes
    /// each counts its own.
    connections: Arc<AtomicUsize>,
}

impl Chat {
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates `input` and stamps it with a server id and time.
    pub fn accept(&self, author: Author, input: ChatInput) -> Result<ChatMessage, ValidationError> {
        let text = validate_text(input.text())?.to_owned();
        Ok(ChatMessage {
            id: uuid::Uuid::now_v7().to_string(),
            text,
            author,
            sent_at: now_millis(),
            client_id: input.client_id().map(str::to_owned),
        })
    }

    /// Records a new connection; returns how many this node now has.
    pub fn connected(&self) -> usize {
        self.connections.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records a closed connection; returns how many this node now has.
    pub fn disconnected(&self) -> usize {
        self.connections.fetch_sub(1, Ordering::Relaxed) - 1
    }
}

/// The display identity of a connection until accounts exist: derived from its socket id.
pub fn guest(socket_id: &str) -> Author {
    let tag: String = socket_id.chars().take(4).collect();
    Author {
        id: socket_id.to_owned(),
        name: format!("Guest {tag}"),
    }
}

fn now_millis() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_trims_stamps_and_keeps_the_client_id() {
        let chat = Chat::new();
        let message = chat
            .accept(
                guest("abcdef"),
                ChatInput::Object {
                    text: "  hi  ".into(),
                    client_id: Some("c-1".into()),
                },
            )
            .unwrap();
        assert_eq!(message.text, "hi");
        assert_eq!(message.author.name, "Guest abcd");
        assert_eq!(message.client_id.as_deref(), Some("c-1"));
        assert!(message.sent_at > 1_600_000_000_000);
    }

    #[test]
    fn ids_are_unique() {
        let chat = Chat::new();
        let a = chat
            .accept(guest("a"), ChatInput::Text("x".into()))
            .unwrap();
        let b = chat
            .accept(guest("a"), ChatInput::Text("x".into()))
            .unwrap();
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn accept_refuses_invalid_text() {
        let chat = Chat::new();
        assert_eq!(
            chat.accept(guest("a"), ChatInput::Text("   ".into())),
            Err(ValidationError::Empty)
        );
    }
}
