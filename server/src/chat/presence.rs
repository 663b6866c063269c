//! Who is online in each room, counted per user so that two tabs are one person, and what
//! changed since the last announcement.
//!
//! Changes are announced in batches (see `transport::announce_presence`), as who joined and who
//! left, never as whole member lists: when thousands connect at once, each member receives a few
//! updates instead of one list per arrival. A batch names at most `PRESENCE_NAMED_MAX` people
//! (past that it only counts), and a big room is told less often, so what presence costs stays
//! bounded however many people arrive.
//!
//! This map is per node. With several nodes behind one chat it must move to the shared adapter
//! or store; it only feeds the member list, never message delivery.

use std::{
    collections::{BTreeMap, btree_map::Entry},
    sync::Mutex,
    time::{Duration, Instant},
};

use shared::{Author, PRESENCE_NAMED_MAX};

#[derive(Debug, Default)]
struct Room {
    /// user id -> (user, open connections in the room)
    online: BTreeMap<String, (Author, usize)>,
    /// Changes not announced yet, by user id.
    joined: BTreeMap<String, Author>,
    left: BTreeMap<String, Author>,
    /// When the room's changes were last announced.
    announced: Option<Instant>,
}

/// Quiet time between two announcements in one room, per member online. Every member receives
/// every announcement, so a big room is told less often: 625 members or fewer hear at every
/// tick (250 ms), 10,000 every 4 s. That bounds what presence costs one room to 2,500
/// deliveries a second, however many arrive.
const QUIET_PER_MEMBER: Duration = Duration::from_micros(400);

/// A room's changes since the last announcement. Past [`PRESENCE_NAMED_MAX`] changes nobody is
/// named: `partial` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub room: String,
    pub online: usize,
    pub joined: Vec<Author>,
    pub left: Vec<Author>,
    pub partial: bool,
}

#[derive(Debug, Default)]
pub struct Presence {
    rooms: Mutex<BTreeMap<String, Room>>,
}

impl Presence {
    /// A connection of `user` is in `room`.
    pub fn enter(&self, room: &str, user: &Author) {
        let mut rooms = self.rooms.lock().expect("presence lock");
        let room = rooms.entry(room.to_owned()).or_default();
        let entry = room
            .online
            .entry(user.id.clone())
            .or_insert_with(|| (user.clone(), 0));
        entry.1 += 1;
        // Left and came back before anyone was told: nothing to tell.
        if entry.1 == 1 && room.left.remove(&user.id).is_none() {
            room.joined.insert(user.id.clone(), user.clone());
        }
    }

    /// A connection of `user` left `room`.
    pub fn exit(&self, room_name: &str, user: &Author) {
        let mut rooms = self.rooms.lock().expect("presence lock");
        let Some(room) = rooms.get_mut(room_name) else {
            return;
        };
        let Entry::Occupied(mut entry) = room.online.entry(user.id.clone()) else {
            return;
        };
        entry.get_mut().1 -= 1;
        if entry.get().1 > 0 {
            return;
        }
        let (user, _) = entry.remove();
        if room.joined.remove(&user.id).is_none() {
            room.left.insert(user.id.clone(), user);
        }
    }

    /// The user's name changed: announced as joining again, under the new name.
    pub fn rename(&self, user: &Author) {
        let mut rooms = self.rooms.lock().expect("presence lock");
        for room in rooms.values_mut() {
            if let Some(entry) = room.online.get_mut(&user.id) {
                entry.0 = user.clone();
                room.joined.insert(user.id.clone(), user.clone());
            }
        }
    }

    /// Everyone online in `room`, by name.
    pub fn members(&self, room: &str) -> Vec<Author> {
        let rooms = self.rooms.lock().expect("presence lock");
        let mut members: Vec<Author> = rooms
            .get(room)
            .map(|room| room.online.values().map(|(user, _)| user.clone()).collect())
            .unwrap_or_default();
        members.sort_by_key(|user| user.name.to_lowercase());
        members
    }

    /// The changes not announced yet, of the rooms due an announcement at `now` (see
    /// [`QUIET_PER_MEMBER`]); forgets them, and rooms nobody is in any more.
    pub fn take_changes(&self, now: Instant) -> Vec<Changes> {
        let mut rooms = self.rooms.lock().expect("presence lock");
        let changes = rooms
            .iter_mut()
            .filter(|(_, room)| {
                let quiet = QUIET_PER_MEMBER
                    .saturating_mul(room.online.len().try_into().unwrap_or(u32::MAX));
                let due = room
                    .announced
                    .is_none_or(|at| now.saturating_duration_since(at) >= quiet);
                due && (!room.joined.is_empty() || !room.left.is_empty())
            })
            .map(|(name, room)| {
                room.announced = Some(now);
                let joined = std::mem::take(&mut room.joined);
                let left = std::mem::take(&mut room.left);
                let partial = joined.len() + left.len() > PRESENCE_NAMED_MAX;
                let named = |changes: BTreeMap<String, Author>| {
                    if partial {
                        Vec::new()
                    } else {
                        changes.into_values().collect()
                    }
                };
                Changes {
                    room: name.clone(),
                    online: room.online.len(),
                    joined: named(joined),
                    left: named(left),
                    partial,
                }
            })
            .collect();
        rooms.retain(|_, room| !room.online.is_empty() || !room.left.is_empty());
        changes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn user(id: &str) -> Author {
        Author {
            id: id.into(),
            name: id.to_uppercase(),
        }
    }

    /// The changes, announced a minute after the previous call: every room is due.
    fn changes(presence: &Presence) -> Vec<(usize, Vec<Author>, Vec<Author>)> {
        presence
            .take_changes(a_minute_later())
            .into_iter()
            .map(|c| {
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
        for id in 0..5_000 {
            presence.enter("general", &user(&id.to_string()));
        }
        let start = Instant::now();
        assert_eq!(presence.take_changes(start).len(), 1);
        presence.exit("general", &user("0"));
        assert_eq!(presence.take_changes(start + Duration::from_secs(1)), []);
        let [news] = &presence.take_changes(start + Duration::from_secs(2))[..] else {
            panic!("due after 5,000 x 400 us");
        };
        assert_eq!((news.online, &news.left[..]), (4_999, &[user("0")][..]));
    }

    #[test]
    fn a_crowd_arriving_at_once_is_counted_not_named() {
        let presence = Presence::default();
        for id in 0..=PRESENCE_NAMED_MAX {
            presence.enter("general", &user(&id.to_string()));
        }
        let [crowd] = &presence.take_changes(a_minute_later())[..] else {
            panic!("one room changed");
        };
        assert!(crowd.partial);
        assert_eq!(crowd.online, PRESENCE_NAMED_MAX + 1);
        assert!(crowd.joined.is_empty() && crowd.left.is_empty());
        presence.exit("general", &user("0"));
        assert_eq!(
            changes(&presence),
            [(PRESENCE_NAMED_MAX, vec![], vec![user("0")])]
        );
    }

    #[test]
    fn two_tabs_are_one_member_until_both_close() {
        let presence = Presence::default();
        presence.enter("general", &user("a"));
        presence.enter("general", &user("a"));
        presence.enter("general", &user("b"));
        assert_eq!(
            changes(&presence),
            [(2, vec![user("a"), user("b")], vec![])]
        );
        presence.exit("general", &user("a"));
        assert_eq!(changes(&presence), []);
        presence.exit("general", &user("a"));
        assert_eq!(changes(&presence), [(1, vec![], vec![user("a")])]);
        assert_eq!(presence.members("general"), [user("b")]);
    }

    #[test]
    fn a_quick_reconnect_announces_nothing() {
        let presence = Presence::default();
        presence.enter("general", &user("a"));
        changes(&presence);
        presence.exit("general", &user("a"));
        presence.enter("general", &user("a"));
        assert_eq!(changes(&presence), []);
        // Joining and leaving within one batch is no news either.
        presence.enter("general", &user("b"));
        presence.exit("general", &user("b"));
        assert_eq!(changes(&presence), []);
    }

    #[test]
    fn a_rename_is_announced_as_a_join() {
        let presence = Presence::default();
        presence.enter("general", &user("a"));
        changes(&presence);
        let renamed = Author {
            id: "a".into(),
            name: "Ada".into(),
        };
        presence.rename(&renamed);
        assert_eq!(changes(&presence), [(1, vec![renamed.clone()], vec![])]);
        assert_eq!(presence.members("general"), [renamed]);
    }
}
