//! What the UI knows, shared with every component through context.

use std::{collections::BTreeMap, sync::Arc};

use leptos::prelude::*;
use shared::{
    AccountInfo, Author, ChatMessage, DEFAULT_ROOM, FileInfo, Invited, Mention, MessageChanged,
    PresenceChange, ServerInfo,
};

/// The connection as the user should understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    /// Lost; the client is retrying by itself. Messages wait in the outbox.
    Reconnecting,
    /// The Socket.io client could not even start (its script failed to load).
    Failed,
    /// No session: logged out, ended elsewhere, or refused by the server.
    SignedOut,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting…",
            Self::Connected => "Connected",
            Self::Reconnecting => "Reconnecting…",
            Self::Failed => "Offline",
            Self::SignedOut => "Logged out",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Connecting | Self::Reconnecting => "status pending",
            Self::Connected => "status ok",
            Self::Failed | Self::SignedOut => "status failed",
        }
    }
}

/// The dialog over the page, if any; while one is open, the page behind is inert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialog {
    /// No session yet (a first visit, or after logging out): a name to chat as a guest, or an
    /// account.
    Welcome,
    /// Changing the display name.
    Rename,
    LogIn,
    SignUp,
    /// Who the user is, their password, sessions and (an admin's) registration settings and
    /// people.
    Account,
    /// Bringing someone into the open (private) room.
    Invite,
    /// Confirming the deletion of message [`ChatState::deleting`].
    DeleteMessage,
    /// Finding messages by their words.
    Search,
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

/// Messages a room holds while the reader follows the newest ones (or does not look at it):
/// enough to fill any screen and scroll back a while; older ones come back from history.
pub const WINDOW: usize = 500;

/// Messages a room holds at most while the reader has scrolled up: past this the oldest go as new
/// ones arrive, whatever is on screen, so a long session stays bounded.
pub const MOST_HELD: usize = 4 * WINDOW;

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
    /// A window of the room's messages by sequence number (at most [`MOST_HELD`]): merging by
    /// key makes duplicates impossible.
    /// Shared: the list draws from them every frame without copying one.
    pub messages: RwSignal<BTreeMap<i64, Arc<ChatMessage>>>,
    /// The newest sequence number held with nothing missing between it and the oldest held
    /// (0 while nothing is; below the oldest held when more than the window came beyond a gap):
    /// where a sync resumes. Advanced as messages arrive, so no message costs a walk over the
    /// window.
    cursor: StoredValue<i64>,
    /// Changes (edits, deletions) received beyond the cursor, by sequence number: a change
    /// takes the room's next number like a message, so the cursor passes it as it passes a
    /// message. Kept whole until then: one that overtook the message it changes (the two may
    /// come through different nodes) is applied when the message arrives. At most
    /// [`MOST_HELD`]; one left out is fetched again by the sync its gap asks for.
    changes: StoredValue<Vec<MessageChanged>>,
    /// At most one sync per room at a time, however many gaps are noticed meanwhile.
    pub sync: StoredValue<Sync>,
    /// The newest sequence number the server has told us about.
    pub last_seq: RwSignal<i64>,
    /// The newest sequence number the user has seen (kept in localStorage).
    pub last_read: RwSignal<i64>,
    /// The sequence numbers after `last_read` known to be changes (edits, deletions,
    /// reactions), not messages: the unread count leaves them out. At most [`MOST_HELD`].
    changes_unread: RwSignal<Vec<i64>>,
    /// Who is online, once asked for (`None` until then); kept current by presence updates.
    /// With the authors of the messages held, the people a message here may mention
    /// ([`Room::people`]).
    pub members: RwSignal<Option<Vec<Author>>>,
    /// How many are online, from the latest presence update or member list.
    pub online: RwSignal<usize>,
    /// Who is typing, until when (ms since the epoch).
    pub typing: RwSignal<Vec<(Author, f64)>>,
    pub history: RwSignal<History>,
    /// Unread messages that mention the user, counted apart in the sidebar.
    pub mentions: RwSignal<i64>,
    /// Out of the directory; members bring others in (`invite`).
    pub private: bool,
    /// A direct conversation's people (the user among them), as the server last said; empty
    /// for a room.
    pub people: RwSignal<Vec<Author>>,
    /// Read only (an admin archived it): its history stays, nobody can post.
    pub archived: RwSignal<bool>,
}

impl Room {
    pub fn new(last_seq: i64, last_read: i64) -> Self {
        Self {
            messages: RwSignal::new(BTreeMap::new()),
            cursor: StoredValue::new(0),
            changes: StoredValue::new(Vec::new()),
            sync: StoredValue::new(Sync::Idle),
            last_seq: RwSignal::new(last_seq),
            last_read: RwSignal::new(last_read.min(last_seq)),
            changes_unread: RwSignal::new(Vec::new()),
            members: RwSignal::new(None),
            online: RwSignal::new(0),
            typing: RwSignal::new(Vec::new()),
            history: RwSignal::new(History::NotLoaded),
            mentions: RwSignal::new(0),
            private: false,
            people: RwSignal::new(Vec::new()),
            archived: RwSignal::new(false),
        }
    }

    /// Whether this is a direct conversation rather than a room (which never changes: nothing
    /// to track).
    pub fn is_direct(&self) -> bool {
        self.people.with_untracked(|people| !people.is_empty())
    }

    /// The people a message here may mention, but for the user (`me`): who is online first,
    /// then the authors of the messages held, the latest first; each once. Tracked.
    pub fn people(&self, me: Option<&str>) -> Vec<Author> {
        let mut people: Vec<Author> = self.members.get().unwrap_or_default();
        self.messages.with(|held| {
            for message in held.values().rev() {
                if !people.iter().any(|person| person.id == message.author.id) {
                    people.push(message.author.clone());
                }
            }
        });
        people.retain(|person| Some(person.id.as_str()) != me);
        people
    }

    /// Adds messages from the server (live, synced or acknowledged), keeping at most `keep`.
    /// What is at or below the cursor was held already, or is older than the window and comes
    /// back through history paging, so it is dropped. Returns whether messages are held beyond a
    /// gap: something was missed and a sync must fill it, and the messages seen for the first
    /// time, newest last.
    pub fn receive(
        &self,
        incoming: impl IntoIterator<Item = ChatMessage>,
        keep: usize,
    ) -> (bool, Vec<Arc<ChatMessage>>) {
        self.add(incoming, keep, false)
    }

    /// Applies edits and deletions from the server (live or synced) to the messages held, and
    /// counts their sequence numbers as seen. Returns whether something is held beyond a gap.
    /// While nothing is held, there is nothing to apply them to: the newest page, loaded when
    /// the room is opened, has them applied already.
    pub fn apply_changes(&self, incoming: impl IntoIterator<Item = MessageChanged>) -> bool {
        let incoming: Vec<MessageChanged> = incoming.into_iter().collect();
        self.not_unread(incoming.iter().map(|change| change.seq));
        let mut cursor = self.cursor.get_value();
        let mut changes = self
            .changes
            .try_update_value(std::mem::take)
            .unwrap_or_default();
        let mut gap = false;
        self.messages.update(|messages| {
            if messages.is_empty() {
                return;
            }
            for change in incoming {
                // The message changed, and the replies that quote it.
                for message in messages.values_mut().filter(|message| {
                    message.seq == change.target
                        || message
                            .reply_to
                            .as_ref()
                            .is_some_and(|q| q.seq == change.target)
                }) {
                    Arc::make_mut(message).apply(&change);
                }
                let place = changes.binary_search_by_key(&change.seq, |held| held.seq);
                if let (true, Err(at)) = (change.seq > cursor, place) {
                    changes.insert(at, change);
                }
            }
            changes.truncate(MOST_HELD);
            advance(messages, &mut changes, &mut cursor);
            gap = beyond(messages, &changes, cursor);
        });
        self.cursor.set_value(cursor);
        self.changes.set_value(changes);
        gap
    }

    /// Notes `seqs` as changes' (not messages'), for the unread count, however many times each
    /// is seen.
    fn not_unread(&self, seqs: impl Iterator<Item = i64>) {
        let read = self.last_read.get_untracked();
        let new: Vec<i64> = self.changes_unread.with_untracked(|known| {
            seqs.filter(|seq| *seq > read && known.binary_search(seq).is_err())
                .collect()
        });
        if new.is_empty() {
            return;
        }
        self.changes_unread.update(|known| {
            known.retain(|&seq| seq > read);
            for seq in new {
                if let Err(at) = known.binary_search(&seq) {
                    known.insert(at, seq);
                }
            }
            let excess = known.len().saturating_sub(MOST_HELD);
            known.drain(..excess);
        });
    }

    /// Adds a history page (older messages). Nothing is dropped: the reader asked for them, a
    /// page at a time; the next message received while they read trims to [`MOST_HELD`].
    pub fn add_page(&self, page: Vec<ChatMessage>) {
        self.add(page, usize::MAX, true);
    }

    fn add(
        &self,
        incoming: impl IntoIterator<Item = ChatMessage>,
        keep: usize,
        older: bool,
    ) -> (bool, Vec<Arc<ChatMessage>>) {
        let mut fresh = Vec::new();
        let mut newest = self.last_seq.get_untracked();
        let mut cursor = self.cursor.get_value();
        let mut changes = self
            .changes
            .try_update_value(std::mem::take)
            .unwrap_or_default();
        let mut trimmed = false;
        let mut gap = false;
        self.messages.update(|messages| {
            for message in incoming {
                let seq = message.seq;
                if messages.is_empty() {
                    cursor = seq - 1;
                    changes.clear();
                } else if seq <= cursor && !older {
                    continue;
                }
                newest = newest.max(seq);
                if let std::collections::btree_map::Entry::Vacant(entry) = messages.entry(seq) {
                    let mut message = message;
                    // `apply` picks what concerns this message or its quote; in seq order, the
                    // last change wins.
                    for change in &changes {
                        message.apply(change);
                    }
                    let message = Arc::new(message);
                    if !older {
                        fresh.push(Arc::clone(&message));
                    }
                    entry.insert(message);
                }
                advance(messages, &mut changes, &mut cursor);
            }
            // The cursor moved first, so dropping the oldest never forgets where to resume.
            while messages.len() > keep {
                messages.pop_first();
                trimmed = true;
            }
            gap = beyond(messages, &changes, cursor);
        });
        self.cursor.set_value(cursor);
        self.changes.set_value(changes);
        if newest > self.last_seq.get_untracked() {
            self.last_seq.set(newest);
        }
        if trimmed {
            self.history.set(History::Partial);
        }
        (gap, fresh)
    }

    /// Drops the oldest messages past `keep`, as when the reader comes back to the newest.
    pub fn trim(&self, keep: usize) {
        if self
            .messages
            .with_untracked(|messages| messages.len() > keep)
        {
            self.add([], keep, false);
        }
    }

    /// Where a sync resumes: `None` while nothing is held (the newest page is loaded instead).
    pub fn cursor(&self) -> Option<i64> {
        self.messages
            .with_untracked(|messages| !messages.is_empty())
            .then(|| self.cursor.get_value())
    }

    /// Whether messages or changes are held beyond a gap.
    pub fn has_gap(&self) -> bool {
        let cursor = self.cursor.get_value();
        self.changes.with_value(|changes| {
            self.messages
                .with_untracked(|messages| beyond(messages, changes, cursor))
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
        // A direct conversation is named after its people: a rename (announced as a join)
        // renames it.
        if self.is_direct() {
            self.people.update(|people| {
                for person in people.iter_mut() {
                    if let Some(now) = joined.iter().find(|j| j.id == person.id) {
                        person.name.clone_from(&now.name);
                    }
                }
            });
        }
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

    /// Messages after the last one read: the sequence numbers passed since, less those known to
    /// be changes. (Changes made while the page was closed are not known until a sync brings
    /// them; until then they count.)
    pub fn unread(&self) -> i64 {
        let (newest, read) = (self.last_seq.get(), self.last_read.get());
        let changes = self.changes_unread.with(|known| {
            known
                .iter()
                .filter(|&&seq| seq > read && seq <= newest)
                .count()
        });
        (newest - read - i64::try_from(changes).unwrap_or(0)).max(0)
    }

    /// Whether the user may have missed `message`: it is newer than what they have read.
    pub fn is_unread(&self, message: &ChatMessage) -> bool {
        message.seq > self.last_read.get_untracked()
    }
}

/// Moves `cursor` past the messages and changes that follow it without a gap, forgetting those
/// changes (held in order, all beyond the cursor: the first is the next one). Each step passes a
/// message or a change once, so this costs O(log n) per message overall. (A sorted `Vec`: the
/// changes beyond a gap are few, and a `BTreeMap` would cost the page 2 KB of gzip.)
fn advance(
    messages: &BTreeMap<i64, Arc<ChatMessage>>,
    changes: &mut Vec<MessageChanged>,
    cursor: &mut i64,
) {
    loop {
        if changes.first().map(|change| change.seq) == Some(*cursor + 1) {
            changes.remove(0);
        } else if !messages.contains_key(&(*cursor + 1)) {
            break;
        }
        *cursor += 1;
    }
}

/// Whether a message or a change is held beyond `cursor` (past a gap).
fn beyond(
    messages: &BTreeMap<i64, Arc<ChatMessage>>,
    changes: &[MessageChanged],
    cursor: i64,
) -> bool {
    let last_message = messages.last_key_value().map(|(&seq, _)| seq);
    last_message.max(changes.last().map(|change| change.seq)) > Some(cursor)
}

/// Where an outgoing message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for the connection or for the messages before it.
    Queued,
    /// Sent, waiting for the server's acknowledgement.
    Sending,
    /// Refused for now (the server cannot store it yet, says why); sent again by itself, and
    /// the messages after it wait.
    Retrying(String),
    /// Refused or unanswered; the user may retry (with the same client id).
    Failed(String),
}

/// A message the user wrote that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub client_id: String,
    pub room: String,
    pub text: String,
    /// The `seq` of the message of the room it answers.
    pub reply_to: Option<i64>,
    /// The people it mentions, resolved when it was written.
    pub mentions: Vec<Mention>,
    /// The file it carries, uploaded already.
    pub attachment: Option<FileInfo>,
    pub delivery: Delivery,
}

/// A room a link named that is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The name as the link spelled it.
    pub name: String,
    /// Whether it could be a room's name (then the user is offered to make it).
    pub valid: bool,
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
    /// The account the user is logged in to; `None` for a guest.
    pub account: RwSignal<Option<AccountInfo>>,
    /// What the server says about accounts and guests, once asked (before logging in).
    pub server: RwSignal<Option<ServerInfo>>,
    /// The join link's code, from `/?invite=CODE`, for signing up.
    pub invite: RwSignal<Option<String>>,
    /// Why the user must log in (again): their session ended, or the server refused the
    /// connection. Shown in the log-in dialog.
    pub signed_out: RwSignal<Option<String>>,
    pub dialog: RwSignal<Option<Dialog>>,
    /// On a phone, the room list is open over the conversation.
    pub drawer: RwSignal<bool>,
    /// The last refusal worth showing, above the composer.
    pub error: RwSignal<Option<String>>,
    /// Why the last room could not be made, shown beside the new-room field.
    pub room_error: RwSignal<Option<String>>,
    /// A room a link pointed to that does not exist, offered to be created.
    pub missing_room: RwSignal<Option<Missing>>,
    /// The latest room someone brought this user into, until opened or dismissed.
    pub invitation: RwSignal<Option<Invited>>,
    /// The message of the open room being edited in the composer (its `seq`).
    pub editing: RwSignal<Option<i64>>,
    /// The message of the open room whose deletion is being confirmed (its `seq`).
    pub deleting: RwSignal<Option<i64>>,
    /// The message of the open room the next one sent answers (its `seq`).
    pub replying: RwSignal<Option<i64>>,
    /// The message of the open room whose emoji picker is open (its `seq`).
    pub reacting: RwSignal<Option<i64>>,
    /// A message of the open room to bring into view once it is held (a quote was followed to
    /// it): older pages load until it is.
    pub seeking: RwSignal<Option<i64>>,
    /// When the connection was lost (ms since the epoch), while it is.
    pub offline_since: RwSignal<Option<f64>>,
    /// Where the open room's "new messages" line goes: the newest message read when the room
    /// came on screen (or when the tab was left), if newer ones followed.
    pub read_marker: RwSignal<Option<i64>>,
    /// New messages of the open room from others, for screen readers: each is announced once.
    pub announcements: RwSignal<Vec<(i64, String)>>,
    /// Whether the tab is on screen: while it is not, nothing is marked read.
    pub visible: RwSignal<bool>,
    /// Whether the reader turned desktop notifications on (and the browser allows them).
    pub notifications: RwSignal<bool>,
    /// The reader is at the bottom of the open room, following new messages: only then may its
    /// oldest messages go down to [`WINDOW`] without taking away what they are reading.
    pub following: RwSignal<bool>,
}

impl ChatState {
    pub fn new(current: String, dialog: Option<Dialog>) -> Self {
        Self {
            rooms: RwSignal::new(BTreeMap::new()),
            current: RwSignal::new(current),
            outbox: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::Connecting),
            me: RwSignal::new(None),
            account: RwSignal::new(None),
            server: RwSignal::new(None),
            invite: RwSignal::new(None),
            signed_out: RwSignal::new(None),
            dialog: RwSignal::new(dialog),
            drawer: RwSignal::new(false),
            error: RwSignal::new(None),
            room_error: RwSignal::new(None),
            missing_room: RwSignal::new(None),
            invitation: RwSignal::new(None),
            editing: RwSignal::new(None),
            deleting: RwSignal::new(None),
            replying: RwSignal::new(None),
            reacting: RwSignal::new(None),
            seeking: RwSignal::new(None),
            offline_since: RwSignal::new(None),
            read_marker: RwSignal::new(None),
            announcements: RwSignal::new(Vec::new()),
            visible: RwSignal::new(true),
            notifications: RwSignal::new(false),
            following: RwSignal::new(true),
        }
    }

    pub fn room(&self, name: &str) -> Option<Room> {
        self.rooms.with_untracked(|rooms| rooms.get(name).copied())
    }

    /// Unread messages in all rooms, tracked.
    pub fn unread(&self) -> i64 {
        self.rooms
            .with(|rooms| rooms.values().map(Room::unread).sum())
    }

    /// The room on screen, tracked.
    pub fn current_room(&self) -> Option<Room> {
        let name = self.current.get();
        self.rooms.with(|rooms| rooms.get(&name).copied())
    }

    /// The names of the rooms held (`direct` false) or of the direct conversations, in the
    /// order the sidebar lists them. Tracked.
    pub fn listed(&self, direct: bool) -> Vec<String> {
        self.rooms.with(|rooms| {
            rooms
                .iter()
                .filter(|(_, room)| room.is_direct() == direct)
                .map(|(name, _)| name.clone())
                .collect()
        })
    }

    /// What `name` is called on screen, tracked: `#name` for a room; for a direct
    /// conversation, the other people's names (or the user's own, if no one else is left).
    pub fn room_label(&self, name: &str) -> String {
        let people = self
            .rooms
            .with(|rooms| rooms.get(name).map(|room| room.people.get()))
            .unwrap_or_default();
        if people.is_empty() {
            return format!("#{name}");
        }
        let me = self.me.with(|me| me.as_ref().map(|me| me.id.clone()));
        let others: Vec<&str> = people
            .iter()
            .filter(|person| Some(&person.id) != me.as_ref())
            .map(|person| person.name.as_str())
            .collect();
        if others.is_empty() {
            "You alone".to_owned()
        } else {
            others.join(", ")
        }
    }

    /// [`ChatState::room_label`] as headings and the sidebar show it: a room's `#` set apart
    /// (`# general`). Tracked.
    pub fn room_heading(&self, name: &str) -> String {
        let label = self.room_label(name);
        match label.strip_prefix('#') {
            Some(room) => format!("# {room}"),
            None => label,
        }
    }

    /// How many messages `room` may hold now.
    pub fn keep(&self, room: &str) -> usize {
        let reading = self.current.with_untracked(|current| current == room)
            && !self.following.get_untracked();
        if reading { MOST_HELD } else { WINDOW }
    }

    /// Whether `message` mentions the user (their own messages never do): by id, as its
    /// sender resolved it, or by the user's name where the sender resolved no one of that name
    /// (an older client, or someone it did not know).
    pub fn mentions_me(&self, message: &ChatMessage) -> bool {
        // Most messages have no `@`: they are not parsed at all.
        message.text.contains('@')
            && self.me.with_untracked(|me| {
                me.as_ref().is_some_and(|me| {
                    me.id != message.author.id && mentioned(message, &me.id, &me.name)
                })
            })
    }

    /// Whether the user is an admin (who may delete anyone's message).
    pub fn is_admin(&self) -> bool {
        self.account.with_untracked(|account| {
            account
                .as_ref()
                .is_some_and(|account| account.role == shared::Role::Admin)
        })
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

/// Whether `message` mentions the person `id`, now called `name`: by id, or by name where the
/// sender resolved no one of that name (an older client, or someone it did not know). A name
/// resolved to someone else is theirs, even if this person has taken it since.
pub fn mentioned(message: &ChatMessage, id: &str, name: &str) -> bool {
    message.mentions.iter().any(|mention| mention.id == id)
        || (!message
            .mentions
            .iter()
            .any(|mention| same_name(&mention.name, name))
            && shared::mentions(&message.text, name))
}

/// Two spellings of one name: the same letters, ignoring case letter by letter (as
/// [`shared::mentions`] compares them).
pub fn same_name(a: &str, b: &str) -> bool {
    a.chars().count() == b.chars().count()
        && a.chars()
            .zip(b.chars())
            .all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
}

/// A room link whose name cannot be a room's (`/r/Bad%20Name!`), as the person would read it.
pub fn bad_link(path: &str) -> Option<Missing> {
    let name = path.strip_prefix("/r/")?;
    if shared::validate_room(name).is_ok() {
        return None;
    }
    let name = js_sys::decode_uri_component(name)
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_else(|| name.to_owned());
    Some(Missing { name, valid: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: i64) -> ChatMessage {
        ChatMessage {
            id: format!("m{seq}"),
            room: "r".to_owned(),
            seq,
            text: format!("text {seq}"),
            author: Author {
                id: "a".to_owned(),
                name: "A".to_owned(),
                username: None,
            },
            sent_at: 0,
            client_id: None,
            edited_at: None,
            deleted: None,
            reply_to: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachment: None,
        }
    }

    /// Runs a test that makes signals, inside a reactive owner (which the workspace build's
    /// `sandboxed-arenas` feature requires).
    fn in_an_owner(test: impl FnOnce()) {
        Owner::new().with(test);
    }

    fn held(room: &Room) -> Vec<i64> {
        room.messages
            .with_untracked(|m| m.keys().copied().collect())
    }

    #[test]
    fn the_cursor_follows_what_is_gap_free_and_gaps_are_told() {
        in_an_owner(|| {
            let room = Room::new(0, 0);
            assert_eq!(room.cursor(), None);
            assert!(!room.receive([message(5)], WINDOW).0);
            assert_eq!(room.cursor(), Some(5));
            assert!(room.receive([message(8)], WINDOW).0, "7 and 6 are missing");
            assert!(room.receive([message(6)], WINDOW).0, "7 is missing");
            assert_eq!(room.cursor(), Some(6));
            assert!(!room.receive([message(7)], WINDOW).0);
            assert_eq!(room.cursor(), Some(8));
            assert!(!room.has_gap());
            // Seen already (live, then in a sync reply): shown once, and new only the first time.
            let (_, fresh) = room.receive([message(7), message(8), message(9)], WINDOW);
            assert_eq!(fresh.iter().map(|m| m.seq).collect::<Vec<_>>(), [9]);
            assert_eq!(held(&room), [5, 6, 7, 8, 9]);
            assert_eq!(room.last_seq.get_untracked(), 9);
        });
    }

    #[test]
    fn changes_take_seqs_the_cursor_passes_and_apply_to_what_is_held() {
        use shared::{Change, DeletedBy};
        let change = |seq, target, change| MessageChanged {
            room: "r".to_owned(),
            seq,
            target,
            change,
        };
        in_an_owner(|| {
            let room = Room::new(0, 0);
            assert!(
                !room.apply_changes([change(
                    2,
                    1,
                    Change::Deleted {
                        by: DeletedBy::Admin
                    }
                )]),
                "nothing held: nothing to apply"
            );
            room.receive([message(1), message(2)], WINDOW);
            // 3 is an edit, 4 a message; the message comes first (a sync will bring the edit).
            assert!(room.receive([message(4)], WINDOW).0, "3 is missing");
            let edited = Change::Edited {
                text: "better".to_owned(),
                edited_at: 9,
            };
            assert!(!room.apply_changes([change(3, 1, edited)]));
            assert_eq!(room.cursor(), Some(4));
            // A change beyond a gap is a gap too, until what came before it arrives.
            let deleted = Change::Deleted {
                by: DeletedBy::Author,
            };
            assert!(room.apply_changes([change(6, 2, deleted)]));
            assert!(room.has_gap());
            assert!(!room.receive([message(5)], WINDOW).0);
            assert_eq!(room.cursor(), Some(6));
            let held = room.messages.get_untracked();
            assert_eq!(
                (held[&1].text.as_str(), held[&1].edited_at),
                ("better", Some(9))
            );
            assert_eq!(held[&2].deleted, Some(DeletedBy::Author));
            assert_eq!(held[&2].text, "");
            // A change that overtook its message (7, changed by 8) applies when it arrives.
            let fixed = Change::Edited {
                text: "fixed".to_owned(),
                edited_at: 10,
            };
            assert!(room.apply_changes([change(8, 7, fixed)]));
            assert!(!room.receive([message(7)], WINDOW).0);
            assert_eq!(room.cursor(), Some(8));
            assert_eq!(room.messages.get_untracked()[&7].text, "fixed");
        });
    }

    #[test]
    fn unread_counts_messages_not_the_changes_between_them() {
        use shared::Change;
        let reaction = |seq| MessageChanged {
            room: "r".to_owned(),
            seq,
            target: 1,
            change: Change::Reacted {
                emoji: "👍".to_owned(),
                user: Author::guest("u", "U"),
            },
        };
        in_an_owner(|| {
            let room = Room::new(1, 1);
            room.receive([message(1)], WINDOW);
            // A reaction, then a message: its seq passes the reaction's.
            room.apply_changes([reaction(2)]);
            assert_eq!(
                room.unread(),
                0,
                "a change ahead of the newest message counts nothing"
            );
            room.receive([message(3)], WINDOW);
            assert_eq!(room.unread(), 1);
            // Seen again (in a sync reply), it still counts once.
            room.apply_changes([reaction(2), reaction(4)]);
            room.receive([message(5)], WINDOW);
            assert_eq!(room.unread(), 2);
            room.last_read.set(3);
            assert_eq!(room.unread(), 1);
            room.last_read.set(5);
            assert_eq!(room.unread(), 0);
        });
    }

    #[test]
    fn a_long_session_keeps_the_newest_window_and_pages_back_in() {
        in_an_owner(|| {
            let room = Room::new(0, 0);
            room.history.set(History::Complete);
            for seq in 1..=10_000 {
                room.receive([message(seq)], WINDOW);
            }
            assert_eq!(held(&room), (9_501..=10_000).collect::<Vec<_>>());
            assert_eq!(room.cursor(), Some(10_000));
            assert_eq!(
                room.history.get_untracked(),
                History::Partial,
                "what was dropped can be paged back in"
            );
            room.add_page((9_451..=9_500).map(message).collect());
            assert_eq!(held(&room).len(), WINDOW + 50);
            // A late copy of a message older than the window is not held again: it would leave
            // a hole that history paging could not see.
            room.receive([message(3)], MOST_HELD);
            assert_eq!(held(&room).first(), Some(&9_451));
            room.trim(WINDOW);
            assert_eq!(held(&room).first(), Some(&9_501));
        });
    }

    #[test]
    fn dropping_the_oldest_never_moves_where_a_sync_resumes() {
        in_an_owner(|| {
            let room = Room::new(0, 0);
            room.receive([message(1)], WINDOW);
            // A thousand messages beyond a gap: more than the window holds.
            assert!(room.receive((3..=1_002).map(message), WINDOW).0);
            assert_eq!(room.cursor(), Some(1));
            assert_eq!(held(&room).first(), Some(&503));
            // The sync reply fills the gap, and the cursor runs on through what was held ahead.
            assert!(!room.receive((2..=502).map(message), WINDOW).0);
            assert_eq!(room.cursor(), Some(1_002));
            assert_eq!(held(&room), (503..=1_002).collect::<Vec<_>>());
        });
    }

    #[test]
    fn a_mention_names_its_person_by_id_and_unresolved_names_by_name() {
        let ada = |name: &str| Mention {
            id: "ada".to_owned(),
            name: name.to_owned(),
        };
        let resolved = ChatMessage {
            text: "@Ada and @Bob, look".to_owned(),
            mentions: vec![ada("Ada")],
            ..message(1)
        };
        // Ada renamed herself: still hers. Another Ada: not hers. Bob, unresolved: by name.
        assert!(mentioned(&resolved, "ada", "Adele"));
        assert!(!mentioned(&resolved, "another", "Ada"));
        assert!(mentioned(&resolved, "bob", "Bob"));
        assert!(!mentioned(&resolved, "cy", "Cy"));
        let older_client = ChatMessage {
            mentions: Vec::new(),
            ..resolved
        };
        assert!(mentioned(&older_client, "another", "ada"));
        assert!(!mentioned(&older_client, "ada", "Adele"));
    }

    #[test]
    fn the_url_names_the_room() {
        assert_eq!(room_from_path("/r/rust"), "rust");
        assert_eq!(room_from_path("/"), "general");
        assert_eq!(room_from_path("/r/Not Valid"), "general");
    }
}
