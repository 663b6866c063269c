//! What the UI knows, shared with every component through context.

use std::collections::BTreeMap;

use leptos::prelude::*;
use shared::{Author, ChatMessage, DEFAULT_ROOM, PresenceChange};

/// The connection as the user should understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    /// Lost; the client is retrying by itself. Messages wait in the outbox.
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

/// How much of a room's past is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    NotLoaded,
    Loading,
    /// Older pages exist.
    Partial,
    /// The first message of the room is loaded.
    Complete,
}

/// Whether a room is asking the server for what it missed (see `client::sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    Idle,
    /// A sync is on its way or waiting out a pause; `again` if a new connection asked for one
    /// meanwhile, which the reply on its way may not cover.
    Busy {
        again: bool,
    },
}

/// One joined room. Signals are `Copy`, so the struct is too.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    /// Messages by sequence number: merging by key makes duplicates impossible.
    pub messages: RwSignal<BTreeMap<i64, ChatMessage>>,
    /// At most one sync per room at a time, however many gaps are noticed meanwhile.
    pub sync: StoredValue<Sync>,
    /// The newest sequence number the server has told us about.
    pub last_seq: RwSignal<i64>,
    /// The newest sequence number the user has seen (kept in localStorage).
    pub last_read: RwSignal<i64>,
    /// Who is online, once asked for (`None` until then); kept current by presence updates.
    pub members: RwSignal<Option<Vec<Author>>>,
    /// How many are online, from the latest presence update or member list.
    pub online: RwSignal<usize>,
    /// Who is typing, until when (ms since the epoch).
    pub typing: RwSignal<Vec<(Author, f64)>>,
    pub history: RwSignal<History>,
}

impl Room {
    pub fn new(last_seq: i64, last_read: i64) -> Self {
        Self {
            messages: RwSignal::new(BTreeMap::new()),
            sync: StoredValue::new(Sync::Idle),
            last_seq: RwSignal::new(last_seq),
            last_read: RwSignal::new(last_read.min(last_seq)),
            members: RwSignal::new(None),
            online: RwSignal::new(0),
            typing: RwSignal::new(Vec::new()),
            history: RwSignal::new(History::NotLoaded),
        }
    }

    /// Adds messages, ignoring any already present.
    pub fn merge(&self, incoming: impl IntoIterator<Item = ChatMessage>) {
        let mut newest = 0;
        self.messages.update(|messages| {
            for message in incoming {
                newest = newest.max(message.seq);
                messages.entry(message.seq).or_insert(message);
            }
        });
        if newest > self.last_seq.get_untracked() {
            self.last_seq.set(newest);
        }
    }

    /// Where a sync resumes: `None` while nothing is held (the newest page is loaded instead).
    pub fn cursor(&self) -> Option<i64> {
        self.messages
            .with_untracked(|messages| !messages.is_empty())
            .then(|| self.contiguous_seq())
    }

    /// Whether messages are held beyond a gap.
    pub fn has_gap(&self) -> bool {
        let newest = self
            .messages
            .with_untracked(|messages| messages.keys().next_back().copied());
        newest.is_some_and(|newest| newest > self.contiguous_seq())
    }

    /// The newest sequence number held with nothing missing before it (down to the oldest
    /// loaded): where a sync must resume.
    fn contiguous_seq(&self) -> i64 {
        self.messages.with_untracked(|messages| {
            let mut keys = messages.keys().copied();
            let Some(mut last) = keys.next() else {
                return 0;
            };
            for seq in keys {
                if seq != last + 1 {
                    break;
                }
                last = seq;
            }
            last
        })
    }

    /// Sets the full member list.
    pub fn set_members(&self, members: Vec<Author>) {
        self.online.set(members.len());
        self.members.set(Some(members));
    }

    /// Applies a presence update. One that names nobody (a crowd came or went) makes the member
    /// list unknown; it is asked for again when the room is opened.
    pub fn apply_presence(&self, presence: PresenceChange) {
        self.online.set(presence.online);
        if presence.partial {
            self.members.set(None);
            return;
        }
        let PresenceChange { joined, left, .. } = presence;
        self.members.update(|members| {
            if let Some(members) = members {
                members.retain(|m| {
                    !left.iter().any(|l| l.id == m.id) && !joined.iter().any(|j| j.id == m.id)
                });
                members.extend(joined);
                members.sort_by_key(|m| m.name.to_lowercase());
            }
        });
    }

    pub fn unread(&self) -> i64 {
        (self.last_seq.get() - self.last_read.get()).max(0)
    }
}

/// Where an outgoing message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for the connection or for the messages before it.
    Queued,
    /// Sent, waiting for the server's acknowledgement.
    Sending,
    /// Refused or unanswered; the user may retry (with the same client id).
    Failed(String),
}

/// A message the user wrote that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub client_id: String,
    pub room: String,
    pub text: String,
    pub delivery: Delivery,
}

/// Reactive chat state.
#[derive(Debug, Clone, Copy)]
pub struct ChatState {
    /// The rooms this user is in.
    pub rooms: RwSignal<BTreeMap<String, Room>>,
    /// The room on screen (also in the URL).
    pub current: RwSignal<String>,
    /// Unacknowledged messages, in the order they were written. Sent one at a time.
    pub outbox: RwSignal<Vec<Outgoing>>,
    pub status: RwSignal<Status>,
    pub me: RwSignal<Option<Author>>,
    /// No session yet: ask for a display name before connecting.
    pub needs_name: RwSignal<bool>,
    /// The last refusal worth showing, above the composer.
    pub error: RwSignal<Option<String>>,
}

impl ChatState {
    pub fn new(current: String, needs_name: bool) -> Self {
        Self {
            rooms: RwSignal::new(BTreeMap::new()),
            current: RwSignal::new(current),
            outbox: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::Connecting),
            me: RwSignal::new(None),
            needs_name: RwSignal::new(needs_name),
            error: RwSignal::new(None),
        }
    }

    pub fn room(&self, name: &str) -> Option<Room> {
        self.rooms.with_untracked(|rooms| rooms.get(name).copied())
    }

    /// The room on screen, tracked.
    pub fn current_room(&self) -> Option<Room> {
        let name = self.current.get();
        self.rooms.with(|rooms| rooms.get(&name).copied())
    }

    pub fn is_mine(&self, message: &ChatMessage) -> bool {
        self.me
            .with_untracked(|me| me.as_ref().is_some_and(|me| me.id == message.author.id))
    }
}

/// The room named by the URL (`/r/<name>`), or the default room.
pub fn room_from_path(path: &str) -> String {
    path.strip_prefix("/r/")
        .filter(|name| shared::validate_room(name).is_ok())
        .map_or_else(|| DEFAULT_ROOM.to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_room() {
        assert_eq!(room_from_path("/r/rust"), "rust");
        assert_eq!(room_from_path("/"), "general");
        assert_eq!(room_from_path("/r/Not Valid"), "general");
    }
}
