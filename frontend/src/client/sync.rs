//! `sync`: asking the server for the messages missed in the rooms whose messages are loaded,
//! after every welcome and when a gap shows.

use leptos::prelude::*;
use shared::{RoomCursor, Sync, Synced};

use crate::{socket, state::ChatState};

pub(super) fn sync(state: ChatState) {
    let cursors: Vec<RoomCursor> = state.rooms.with_untracked(|rooms| {
        rooms
            .iter()
            .filter(|(_, room)| room.messages.with_untracked(|m| !m.is_empty()))
            .map(|(name, room)| RoomCursor {
                room: name.clone(),
                after_seq: room.contiguous_seq(),
            })
            .collect()
    });
    if cursors.is_empty() {
        return;
    }
    socket::request(&Sync { rooms: cursors }, move |reply| match reply {
        Ok(Synced { messages, .. }) => {
            for message in messages {
                super::receive(state, vec![message]);
            }
        }
        Err(error) => leptos::logging::warn!("sync failed: {}", error.message),
    });
}
