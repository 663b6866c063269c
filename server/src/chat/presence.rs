//! Who is online in each room, counted per user so that two tabs are one person, and what
//! changed since the last announcement.
//!
//! Changes are announced in batches (see `transport::announce_presence`), as who joined and who
//! left, never as whole member lists: when thousands connect at once, each member receives a few
//! updates instead of one list per arrival. A batch names at most `PRESENCE_NAMED_MAX` people
//! (past that it only counts), and a big room is told less often, so what presence costs stays
//! bounded however many people arrive.
//!
//! Presence is tracked per connection, under one lock: a connection that closed is forgotten at
//! once, so a request of its that finishes later cannot put it back (no ghosts), and taking a
//! room away twice changes nothing (no other tab loses its place).
//!
//! This map is per node. With several nodes behind one chat, each node applies its changes to a
//! shared [`Board`] (Redis, `crate::redis::RedisBoard`), which counts a user once over all nodes
//! and takes over from a node that died. Presence only feeds the member list, never message
//! delivery.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, btree_map::Entry},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use shared::{Author, PRESENCE_NAMED_MAX, PresenceChange, RoomInfo};

/// One open connection, unique on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(u64);

impl ConnectionId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Debug)]
struct Connection {
    user: Author,
    rooms: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Room {
    /// user id -> (user, open connections in the room)
    online: BTreeMap<String, (Author, usize)>,
    /// Changes not announced yet, by user id: who came online, who went offline, and who was
    /// online already and changed their name (announced as joining again).
    joined: BTreeMap<String, Author>,
    left: BTreeMap<String, Author>,
    renamed: BTreeMap<String, Author>,
    /// When the room's changes were last announced.
    announced: Option<Instant>,
}

impl Room {
    fn enter(&mut self, user: &Author) {
        let entry = self
            .online
            .entry(user.id.clone())
            .or_insert_with(|| (user.clone(), 0));
        entry.1 += 1;
        // Left and came back before anyone was told: nothing to tell.
        if entry.1 == 1 && self.left.remove(&user.id).is_none() {
            self.joined.insert(user.id.clone(), user.clone());
        }
    }

    fn exit(&mut self, user_id: &str) {
        let Entry::Occupied(mut entry) = self.online.entry(user_id.to_owned()) else {
            return;
        };
        entry.get_mut().1 -= 1;
        if entry.get().1 > 0 {
            return;
        }
        let (user, _) = entry.remove();
        self.renamed.remove(&user.id);
        if self.joined.remove(&user.id).is_none() {
            self.left.insert(user.id.clone(), user);
        }
    }
}

/// Quiet time between two announcements in one room, per member online. Every member receives
/// every announcement, so a big room is told less often: 625 members or fewer hear at every
/// tick (250 ms), 10,000 every 4 s. That bounds what presence costs one room to 2,500
/// deliveries a second, however many arrive.
const QUIET_PER_MEMBER: Duration = Duration::from_micros(400);

#[derive(Debug, Default)]
struct State {
    connections: HashMap<ConnectionId, Connection>,
    rooms: BTreeMap<String, Room>,
}

#[derive(Debug, Default)]
pub struct Presence {
    state: Mutex<State>,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("presence lock")
    }

    /// A connection of `user` opened, in `rooms`.
    pub fn connected(&self, connection: ConnectionId, user: &Author, rooms: &[RoomInfo]) {
        let mut state = self.lock();
        let names: BTreeSet<String> = rooms.iter().map(|room| room.name.clone()).collect();
        for name in &names {
            state.rooms.entry(name.clone()).or_default().enter(user);
        }
        state.connections.insert(
            connection,
            Connection {
                user: user.clone(),
                rooms: names,
            },
        );
    }

    /// The connection closed: it leaves every room it was in, once.
    pub fn disconnected(&self, connection: ConnectionId) {
        let mut state = self.lock();
        let Some(closed) = state.connections.remove(&connection) else {
            return;
        };
        for name in &closed.rooms {
            if let Some(room) = state.rooms.get_mut(name) {
                room.exit(&closed.user.id);
            }
        }
    }

    /// Every open connection of the user is in `room` now.
    pub fn entered(&self, user_id: &str, room: &str) {
        let State { connections, rooms } = &mut *self.lock();
        for connection in connections.values_mut() {
            if connection.user.id == user_id && connection.rooms.insert(room.to_owned()) {
                rooms
                    .entry(room.to_owned())
                    .or_default()
                    .enter(&connection.user);
            }
        }
    }

    /// No connection of the user is in `room` any more.
    pub fn left(&self, user_id: &str, room: &str) {
        let State { connections, rooms } = &mut *self.lock();
        for connection in connections.values_mut() {
            if connection.user.id == user_id
                && connection.rooms.remove(room)
                && let Some(room) = rooms.get_mut(room)
            {
                room.exit(user_id);
            }
        }
    }

    /// The user's name changed: announced as joining again, under the new name.
    pub fn renamed(&self, user: &Author) {
        let State { connections, rooms } = &mut *self.lock();
        for connection in connections.values_mut() {
            if connection.user.id == user.id {
                connection.user = user.clone();
            }
        }
        for room in rooms.values_mut() {
            if let Some(entry) = room.online.get_mut(&user.id) {
                entry.0 = user.clone();
                match room.joined.get_mut(&user.id) {
                    Some(joined) => *joined = user.clone(),
                    None => {
                        room.renamed.insert(user.id.clone(), user.clone());
                    }
                }
            }
        }
    }

    /// Everyone online in `room`, by name.
    pub fn members(&self, room: &str) -> Vec<Author> {
        let state = self.lock();
        let mut members: Vec<Author> = state
            .rooms
            .get(room)
            .map(|room| room.online.values().map(|(user, _)| user.clone()).collect())
            .unwrap_or_default();
        members.sort_by_key(|user| user.name.to_lowercase());
        members
    }

    /// The changes not announced yet, of the rooms due an announcement at `now` (see
    /// [`QUIET_PER_MEMBER`]); forgets them, and rooms nobody is in any more.
    pub fn take_changes(&self, now: Instant) -> Vec<Changes> {
        let mut state = self.lock();
        let changes = state
            .rooms
            .iter_mut()
            .filter(|(_, room)| {
                let quiet = QUIET_PER_MEMBER
                    .saturating_mul(room.online.len().try_into().unwrap_or(u32::MAX));
                let due = room
                    .announced
                    .is_none_or(|at| now.saturating_duration_since(at) >= quiet);
                due && !(room.joined.is_empty() && room.left.is_empty() && room.renamed.is_empty())
            })
            .map(|(name, room)| {
                room.announced = Some(now);
                let take = |changes: &mut BTreeMap<String, Author>| {
                    std::mem::take(changes).into_values().collect()
                };
                Changes {
                    room: name.clone(),
                    online: room.online.len(),
                    joined: take(&mut room.joined),
                    renamed: take(&mut room.renamed),
                    left: take(&mut room.left),
                }
            })
            .collect();
        state
            .rooms
            .retain(|_, room| !room.online.is_empty() || !room.left.is_empty());
        changes
    }

    /// Changes taken by [`Presence::take_changes`] that could not be applied (the board was
    /// unreachable): pending again, as far as they still hold. Applying one twice changes
    /// nothing on the board, so whether the failed attempt got through does not matter.
    pub fn retry(&self, changes: Changes) {
        let mut state = self.lock();
        let room = state.rooms.entry(changes.room).or_default();
        for user in changes.joined {
            if room.online.contains_key(&user.id) && !room.left.contains_key(&user.id) {
                room.joined.entry(user.id.clone()).or_insert(user);
            }
        }
        for user in changes.renamed {
            if room.online.contains_key(&user.id) && !room.joined.contains_key(&user.id) {
                room.renamed.entry(user.id.clone()).or_insert(user);
            }
        }
        for user in changes.left {
            if !room.online.contains_key(&user.id) {
                room.left.entry(user.id.clone()).or_insert(user);
            }
        }
    }

    /// How many rooms have someone online on this node.
    pub fn rooms_online(&self) -> usize {
        let state = self.lock();
        state
            .rooms
            .values()
            .filter(|room| !room.online.is_empty())
            .count()
    }

    /// Who is online on this node, room by room.
    pub fn snapshot(&self) -> Vec<(String, Vec<Author>)> {
        self.lock()
            .rooms
            .iter()
            .map(|(name, room)| {
                let users = room.online.values().map(|(user, _)| user.clone());
                (name.clone(), users.collect())
            })
            .filter(|(_, users): &(String, Vec<Author>)| !users.is_empty())
            .collect()
    }
}

/// One room's presence changes since its last announcement, not announced yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub room: String,
    /// How many are online: on this node, or in the whole chat once a [`Board`] applied them.
    pub online: usize,
    pub joined: Vec<Author>,
    /// Online already, under a new name (announced as joining again).
    pub renamed: Vec<Author>,
    pub left: Vec<Author>,
}

impl Changes {
    /// The `presence` event: at most [`PRESENCE_NAMED_MAX`] people named, else only counted.
    pub fn announcement(self) -> PresenceChange {
        let mut joined = self.joined;
        joined.extend(self.renamed);
        let partial = joined.len() + self.left.len() > PRESENCE_NAMED_MAX;
        let named = |changes: Vec<Author>| if partial { Vec::new() } else { changes };
        PresenceChange {
            room: self.room,
            online: self.online,
            joined: named(joined),
            left: named(self.left),
            partial,
        }
    }
}

pub type BoardResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Presence shared by the nodes of a cluster. Each node tracks its own connections (with
/// [`Presence`]) and tells the board what changed; the board counts each user once however many
/// nodes they are connected to, and takes over the users of a node that stopped without a word.
#[async_trait::async_trait]
pub trait Board: Send + Sync + 'static {
    /// Applies this node's changes in one room; returns the changes for the whole chat (a user
    /// joins when their first node has them, leaves when their last one lets go) with `online`
    /// counted over all nodes.
    async fn apply(&self, changes: Changes) -> BoardResult<Changes>;
    /// Everyone online in `room`, on any node, by name.
    async fn members(&self, room: &str) -> BoardResult<Vec<Author>>;
    /// Called every few seconds: keeps this node counted (registering `local` again if the
    /// board lost it, as when Redis restarted) and returns the departures of the users of nodes
    /// that stopped.
    async fn upkeep(&self, local: Vec<(String, Vec<Author>)>) -> BoardResult<Vec<Changes>>;
    /// This node is stopping: takes its users off the board; returns who is offline now.
    async fn leave(&self) -> BoardResult<Vec<Changes>>;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn user(id: &str) -> Author {
        Author {
            id: id.into(),
            name: id.to_uppercase(),
            username: None,
        }
    }

    fn general() -> Vec<RoomInfo> {
        vec![RoomInfo {
            name: "general".into(),
            last_seq: 0,
            private: false,
            archived: false,
            people: Vec::new(),
        }]
    }

    /// A new connection of `id`, in general.
    fn open(presence: &Presence, id: &str) -> ConnectionId {
        let connection = ConnectionId::next();
        presence.connected(connection, &user(id), &general());
        connection
    }

    /// The changes, announced a minute after the previous call: every room is due.
    fn changes(presence: &Presence) -> Vec<(usize, Vec<Author>, Vec<Author>)> {
        presence
            .take_changes(a_minute_later())
            .into_iter()
            .map(|c| {
                let c = c.announcement();
                assert!(!c.partial);
                (c.online, c.joined, c.left)
            })
            .collect()
    }

    fn a_minute_later() -> Instant {
        static MINUTES: AtomicU64 = AtomicU64::new(1);
        Instant::now() + Duration::from_secs(60 * MINUTES.fetch_add(1, Ordering::Relaxed))
    }

    #[test]
    fn a_big_room_is_told_less_often() {
        let presence = Presence::default();
        let first = open(&presence, "0");
        for id in 1..5_000 {
            open(&presence, &id.to_string());
        }
        let start = Instant::now();
        assert_eq!(presence.take_changes(start).len(), 1);
        presence.disconnected(first);
        assert_eq!(presence.take_changes(start + Duration::from_secs(1)), []);
        let [news] = &presence.take_changes(start + Duration::from_secs(2))[..] else {
            panic!("due after 5,000 x 400 us");
        };
        assert_eq!((news.online, &news.left[..]), (4_999, &[user("0")][..]));
        let [(room, online)] = &presence.snapshot()[..] else {
            panic!("one room has people");
        };
        assert_eq!((room.as_str(), online.len()), ("general", 4_999));
    }

    #[test]
    fn a_crowd_arriving_at_once_is_counted_not_named() {
        let presence = Presence::default();
        let first = open(&presence, "0");
        for id in 1..=PRESENCE_NAMED_MAX {
            open(&presence, &id.to_string());
        }
        let [crowd] = &presence.take_changes(a_minute_later())[..] else {
            panic!("one room changed");
        };
        let crowd = crowd.clone().announcement();
        assert!(crowd.partial);
        assert_eq!(crowd.online, PRESENCE_NAMED_MAX + 1);
        assert!(crowd.joined.is_empty() && crowd.left.is_empty());
        presence.disconnected(first);
        assert_eq!(
            changes(&presence),
            [(PRESENCE_NAMED_MAX, vec![], vec![user("0")])]
        );
    }

    #[test]
    fn two_tabs_are_one_member_until_both_close() {
        let presence = Presence::default();
        let tab1 = open(&presence, "a");
        let tab2 = open(&presence, "a");
        open(&presence, "b");
        assert_eq!(
            changes(&presence),
            [(2, vec![user("a"), user("b")], vec![])]
        );
        presence.disconnected(tab1);
        assert_eq!(changes(&presence), []);
        presence.disconnected(tab2);
        assert_eq!(changes(&presence), [(1, vec![], vec![user("a")])]);
        assert_eq!(presence.members("general"), [user("b")]);
    }

    #[test]
    fn a_quick_reconnect_announces_nothing() {
        let presence = Presence::default();
        let first = open(&presence, "a");
        changes(&presence);
        presence.disconnected(first);
        open(&presence, "a");
        assert_eq!(changes(&presence), []);
        // Joining and leaving within one batch is no news either.
        let b = open(&presence, "b");
        presence.disconnected(b);
        assert_eq!(changes(&presence), []);
    }

    #[test]
    fn changes_the_board_missed_are_pending_again_as_far_as_they_still_hold() {
        let presence = Presence::default();
        let a = open(&presence, "a");
        let b = open(&presence, "b");
        changes(&presence);
        presence.disconnected(a);
        open(&presence, "c");
        let [missed] = &presence.take_changes(a_minute_later())[..] else {
            panic!("one room changed");
        };
        // Before the retry, b leaves too; c is still there.
        presence.disconnected(b);
        presence.retry(missed.clone());
        assert_eq!(
            changes(&presence),
            [(1, vec![user("c")], vec![user("a"), user("b")])]
        );
    }

    #[test]
    fn a_rename_is_announced_as_a_join() {
        let presence = Presence::default();
        open(&presence, "a");
        changes(&presence);
        let renamed = Author {
            id: "a".into(),
            name: "Ada".into(),
            username: None,
        };
        presence.renamed(&renamed);
        assert_eq!(changes(&presence), [(1, vec![renamed.clone()], vec![])]);
        assert_eq!(presence.members("general"), [renamed]);
    }

    #[test]
    fn renaming_then_leaving_is_announced_as_leaving() {
        let presence = Presence::default();
        let tab = open(&presence, "a");
        open(&presence, "b");
        changes(&presence);
        let renamed = Author {
            id: "a".into(),
            name: "Ada".into(),
            username: None,
        };
        presence.renamed(&renamed);
        presence.disconnected(tab);
        assert_eq!(changes(&presence), [(1, vec![], vec![renamed])]);
        assert_eq!(presence.members("general"), [user("b")]);
    }

    #[test]
    fn a_closed_connection_is_not_put_back_by_a_late_request() {
        let presence = Presence::default();
        let gone = open(&presence, "a");
        presence.disconnected(gone);
        // A join request of that connection finishes after it closed.
        presence.entered("a", "rust");
        assert_eq!(presence.members("rust"), []);
        presence.disconnected(gone);
        assert_eq!(presence.members("general"), []);
    }

    #[test]
    fn rooms_follow_the_user_to_every_tab_and_leaving_twice_takes_nothing_else() {
        let presence = Presence::default();
        let tab1 = open(&presence, "a");
        let tab2 = open(&presence, "a");
        open(&presence, "b");
        presence.entered("a", "rust");
        assert_eq!(presence.members("rust"), [user("a")]);
        presence.left("a", "rust");
        presence.left("a", "rust");
        assert_eq!(presence.members("rust"), []);
        presence.disconnected(tab1);
        assert_eq!(presence.members("general"), [user("a"), user("b")]);
        presence.disconnected(tab2);
        assert_eq!(presence.members("general"), [user("b")]);
    }
}
