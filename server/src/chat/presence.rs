//! Who is online in each room, counted per user so that two tabs are one person.
//!
//! This map is per node. With several nodes behind one chat it must move to the shared adapter
//! or store; it only feeds the member list, never message delivery.

use std::{collections::BTreeMap, sync::Mutex};

use shared::Author;

/// user id -> (user, open connections in the room)
type Members = BTreeMap<String, (Author, usize)>;

#[derive(Debug, Default)]
pub struct Presence {
    /// room -> its members
    rooms: Mutex<BTreeMap<String, Members>>,
}

impl Presence {
    /// A connection of `user` is in `room`. Returns the new member list if it changed.
    pub fn enter(&self, room: &str, user: &Author) -> Option<Vec<Author>> {
        let mut rooms = self.rooms.lock().expect("presence lock");
        let members = rooms.entry(room.to_owned()).or_default();
        let entry = members
            .entry(user.id.clone())
            .or_insert_with(|| (user.clone(), 0));
        entry.1 += 1;
        (entry.1 == 1).then(|| Self::list(members))
    }

    /// A connection of `user` left `room`. Returns the new member list if it changed.
    pub fn exit(&self, room: &str, user: &Author) -> Option<Vec<Author>> {
        let mut rooms = self.rooms.lock().expect("presence lock");
        let members = rooms.get_mut(room)?;
        let count = &mut members.get_mut(&user.id)?.1;
        *count -= 1;
        if *count > 0 {
            return None;
        }
        members.remove(&user.id);
        let list = Self::list(members);
        if members.is_empty() {
            rooms.remove(room);
        }
        Some(list)
    }

    /// Updates the user's name wherever they are; returns the rooms whose lists changed.
    pub fn rename(&self, user: &Author) -> Vec<(String, Vec<Author>)> {
        let mut rooms = self.rooms.lock().expect("presence lock");
        rooms
            .iter_mut()
            .filter_map(|(room, members)| {
                let entry = members.get_mut(&user.id)?;
                entry.0 = user.clone();
                Some((room.clone(), Self::list(members)))
            })
            .collect()
    }

    pub fn members(&self, room: &str) -> Vec<Author> {
        let rooms = self.rooms.lock().expect("presence lock");
        rooms.get(room).map(Self::list).unwrap_or_default()
    }

    fn list(members: &Members) -> Vec<Author> {
        let mut list: Vec<Author> = members.values().map(|(user, _)| user.clone()).collect();
        list.sort_by_key(|user| user.name.to_lowercase());
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> Author {
        Author {
            id: id.into(),
            name: id.to_uppercase(),
        }
    }

    #[test]
    fn two_tabs_are_one_member_until_both_close() {
        let presence = Presence::default();
        assert_eq!(presence.enter("general", &user("a")), Some(vec![user("a")]));
        assert_eq!(presence.enter("general", &user("a")), None);
        assert_eq!(
            presence.enter("general", &user("b")),
            Some(vec![user("a"), user("b")])
        );
        assert_eq!(presence.exit("general", &user("a")), None);
        assert_eq!(presence.exit("general", &user("a")), Some(vec![user("b")]));
        assert_eq!(presence.exit("general", &user("b")), Some(vec![]));
        assert_eq!(presence.members("general"), vec![]);
        assert_eq!(presence.exit("general", &user("b")), None);
    }
}
