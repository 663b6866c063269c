//! What the UI knows, shared with every component through context.

use leptos::prelude::*;
use shared::{Author, ChatMessage};

/// The connection as the user should understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    /// Lost; the client is retrying by itself.
    Reconnecting,
    /// The Socket.io client could not even start (its script failed to load).
    Failed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting…",
            Self::Connected => "Connected",
            Self::Reconnecting => "Reconnecting…",
            Self::Failed => "Offline",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Connecting | Self::Reconnecting => "status pending",
            Self::Connected => "status ok",
            Self::Failed => "status failed",
        }
    }
}

/// Reactive chat state. Signals are `Copy`, so the struct is too.
#[derive(Debug, Clone, Copy)]
pub struct ChatState {
    /// Messages in arrival order, as the server broadcast them.
    pub messages: RwSignal<Vec<ChatMessage>>,
    pub status: RwSignal<Status>,
    /// Who this tab is, from the server's welcome; marks our own messages.
    pub me: RwSignal<Option<Author>>,
    /// The last refusal from the server, shown above the composer.
    pub error: RwSignal<Option<String>>,
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            messages: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::Connecting),
            me: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }

    pub fn is_mine(&self, message: &ChatMessage) -> bool {
        self.me
            .with(|me| me.as_ref().is_some_and(|me| me.id == message.author.id))
    }
}
