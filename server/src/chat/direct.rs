//! Direct conversations: a private room for two people (or a few), opened from someone's name.
//!
//! A direct conversation is a private room like any other (only its members read it, by any
//! path), whose name the server makes from a digest of its people's ids: the same people always
//! have the same conversation, whoever opens it and on whichever node, and no one can make a
//! room of that name ([`shared::is_direct_room`]: `createRoom` refuses it). Its people are fixed:
//! nobody is invited in, and it is never in the directory nor archived.

use sha2::{Digest, Sha256};
use shared::{
    Author, DEFAULT_ROOM, DIRECT_ROOM_HEX, DIRECT_ROOM_PREFIX, MAX_DIRECT_PEOPLE, RoomInfo,
};

use super::{Chat, ChatError, ChatResult, accounts, guest, now_millis, to_hex};
use crate::store::{Standing, StoreError};

/// A direct conversation, as `openDirect` left it.
pub struct Opened {
    /// The room, with its people.
    pub room: RoomInfo,
    /// Everyone in it (the opener included), by id: all their connections join it.
    pub people: Vec<String>,
    /// Those who were not in it before this (the opener included, the first time): they are
    /// told.
    pub added: Vec<String>,
}

impl Chat {
    /// The direct conversation of `user` with the people `with` (ids): made the first time, the
    /// same room ever after, and everyone in it a member again. A guest never stored is stored
    /// when named, if they are online (how another person learns a guest's id). `remember` as
    /// for [`Chat::rename`], once the request is known to be acceptable.
    pub async fn open_direct(
        &self,
        user: &Author,
        with: &[String],
        remember: impl AsyncFnOnce() -> ChatResult<()>,
    ) -> ChatResult<Opened> {
        let mut people = vec![user.id.clone()];
        for id in with {
            let id = accounts::canonical_user_id(id)?;
            if !people.contains(&id) {
                people.push(id);
            }
        }
        if !(2..=MAX_DIRECT_PEOPLE).contains(&people.len()) {
            return Err(ChatError::DirectPeople);
        }
        for id in &people[1..] {
            self.known_person(id).await?;
        }
        remember().await?;
        people.sort_unstable();
        let name = direct_room_name(&people);
        let before = self.store.people(std::slice::from_ref(&name)).await?;
        // A digest names one set of people: anyone else in the room would mean it is not theirs.
        if before
            .iter()
            .any(|(_, member)| !people.contains(&member.id))
        {
            return Err(ChatError::Forbidden);
        }
        if self.store.room(&name).await?.is_none() {
            let created = self
                .store
                .create_room(&name, true, &user.id, now_millis(), self.limits)
                .await;
            match created {
                // Opened at the same time by someone else: the same room.
                Ok(_) | Err(StoreError::RoomExists) => {}
                Err(error) => return Err(error.into()),
            }
        }
        // Each join answers with the room as it is now; the last one is kept.
        let mut room = None;
        for id in &people {
            room = Some(self.store.join(id, &name, self.limits).await?);
            self.presence.entered(id, &name);
        }
        let mut room = room.expect("two people or more, each joined");
        self.with_people(std::slice::from_mut(&mut room)).await?;
        let added = people
            .iter()
            .filter(|id| !before.iter().any(|(_, member)| member.id == **id))
            .cloned()
            .collect();
        Ok(Opened {
            room,
            people,
            added,
        })
    }

    /// Fills in the people of the direct conversations among `rooms`, in one read.
    pub(super) async fn with_people(&self, rooms: &mut [RoomInfo]) -> ChatResult<()> {
        let direct: Vec<String> = rooms
            .iter()
            .filter(|room| room.is_direct())
            .map(|room| room.name.clone())
            .collect();
        if direct.is_empty() {
            return Ok(());
        }
        for (name, person) in self.store.people(&direct).await? {
            if let Some(room) = rooms.iter_mut().find(|room| room.name == name) {
                room.people.push(person);
            }
        }
        Ok(())
    }

    /// Whether `id` is someone a conversation can be opened with: stored and not banned, or a
    /// guest never stored who is online (then stored, with the name every node gives them).
    async fn known_person(&self, id: &str) -> ChatResult<()> {
        if self.store.standing(id).await? == Standing::Banned {
            return Err(ChatError::Forbidden);
        }
        if self.store.user(id).await?.is_some() {
            return Ok(());
        }
        let online = self.members(DEFAULT_ROOM).await;
        if !online.iter().any(|member| member.id == id) {
            return Err(ChatError::UserNotFound);
        }
        self.remember(&guest(id.to_owned()), &self.guest_token(id))
            .await
    }
}

/// The room of the people `ids` (sorted): [`DIRECT_ROOM_PREFIX`] and the first
/// [`DIRECT_ROOM_HEX`] hex digits of the SHA-256 of their ids, one per line.
fn direct_room_name(ids: &[String]) -> String {
    let mut digest = Sha256::new();
    for id in ids {
        digest.update(id.as_bytes());
        digest.update(b"\n");
    }
    let hex = to_hex(&digest.finalize());
    format!("{DIRECT_ROOM_PREFIX}{}", &hex[..DIRECT_ROOM_HEX])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_people_have_the_same_room_and_no_one_else_has_it() {
        let ids = |list: &[&str]| list.iter().map(|id| (*id).to_owned()).collect::<Vec<_>>();
        let ada_bob = direct_room_name(&ids(&["a", "b"]));
        assert!(shared::is_direct_room(&ada_bob), "{ada_bob}");
        assert_eq!(ada_bob, direct_room_name(&ids(&["a", "b"])));
        assert_ne!(ada_bob, direct_room_name(&ids(&["a", "c"])));
        assert_ne!(ada_bob, direct_room_name(&ids(&["a", "b", "c"])));
        // The separator keeps ids from running into each other.
        assert_ne!(
            direct_room_name(&ids(&["ab", "c"])),
            direct_room_name(&ids(&["a", "bc"]))
        );
    }
}
