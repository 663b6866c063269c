//! `sync`: asking the server for the messages missed in a room, after every welcome and when a
//! gap shows. Each room has at most one sync on its way, however many gaps are noticed
//! meanwhile, so a flood of live messages after a gap costs one request, not one each; a reply
//! cut short (`more`) is followed by the next, and a busy server is asked again after a pause.

use std::time::Duration;

use leptos::prelude::*;
use shared::{
    ChatMessage, ErrorCode, ErrorPayload, RoomCursor, RoomHead, Sync as SyncRequest, Synced,
};

use super::history::load_history;
use crate::{
    socket,
    state::{ChatState, History, Status, Sync},
};

/// The least pause before asking a busy (or silent) server again; a random share of it again is
/// added, so that clients refused together do not all come back together.
const PAUSE: Duration = Duration::from_secs(1);

/// A new connection: everything since each room's cursor may be missing, even without a gap.
pub(super) fn after_welcome(state: ChatState) {
    let names = state.rooms.with_untracked(|rooms| {
        rooms
            .iter()
            .filter(|(_, room)| room.cursor().is_some())
            .map(|(name, _)| name.clone())
            .collect()
    });
    start(state, names, true);
}

/// A room holds messages beyond a gap.
pub(super) fn fill_gap(state: ChatState, room: String) {
    // A sync on its way checks for a gap when it returns, so there is nothing to remember.
    start(state, vec![room], false);
}

/// The server says live delivery may have missed messages of a room up to `head`.
pub(super) fn catch_up_to(state: ChatState, head: RoomHead) {
    let Some(room) = state.room(&head.room) else {
        return;
    };
    match room.cursor() {
        Some(cursor) if cursor < head.last_seq => start(state, vec![head.room], true),
        Some(_) => {}
        // Nothing held yet (an empty room when it was opened): the newest page, now if the room
        // is open, else when it is.
        None if head.last_seq > room.last_seq.get_untracked() => {
            room.last_seq.set(head.last_seq);
            if room.history.get_untracked() != History::Loading {
                room.history.set(History::NotLoaded);
                if state.current.get_untracked() == head.room {
                    load_history(state, head.room, None);
                }
            }
        }
        None => {}
    }
}

/// Sends one sync for those of `names` that have none on its way. With `again`, a room that has
/// one is synced once more after it, since the one on its way may not cover what is asked now.
fn start(state: ChatState, names: Vec<String>, again: bool) {
    if state.status.get_untracked() != Status::Connected {
        // The next welcome syncs every room.
        return;
    }
    let mut cursors = Vec::new();
    for name in names {
        let Some(room) = state.room(&name) else {
            continue;
        };
        let Some(after_seq) = room.cursor() else {
            continue;
        };
        match room.sync.get_value() {
            Sync::Idle => {
                room.sync.set_value(Sync::Busy { again: false });
                cursors.push(RoomCursor {
                    room: name,
                    after_seq,
                });
            }
            Sync::Busy { .. } if again => room.sync.set_value(Sync::Busy { again: true }),
            Sync::Busy { .. } => {}
        }
    }
    if cursors.is_empty() {
        return;
    }
    let before: Vec<(String, Option<i64>)> = cursors
        .iter()
        .map(|cursor| (cursor.room.clone(), Some(cursor.after_seq)))
        .collect();
    socket::request(&SyncRequest { rooms: cursors }, move |reply| {
        on_reply(state, before, reply);
    });
}

/// What comes after a sync: nothing, another one now, or another one after a pause.
fn on_reply(
    state: ChatState,
    before: Vec<(String, Option<i64>)>,
    reply: Result<Synced, ErrorPayload>,
) {
    let (more, error) = match reply {
        Ok(Synced {
            messages,
            changes,
            more,
        }) => {
            // Changes first: those the cursor reaches now take no detour through a gap.
            for change in changes {
                super::changed(state, change);
            }
            for run in by_room(messages) {
                super::receive(state, run);
            }
            (more, None)
        }
        Err(error) => (false, Some(error)),
    };
    let mut now = Vec::new();
    let mut later = Vec::new();
    for (name, cursor) in before {
        let Some(room) = state.room(&name) else {
            continue;
        };
        let again = room.sync.get_value() == Sync::Busy { again: true };
        let moved = room.cursor() != cursor;
        match &error {
            None if more || again || (room.has_gap() && moved) => now.push(name),
            // The reply did not fill the gap: the server may not have stored what the live
            // message skipped to yet. Look again in a while rather than at once.
            None if room.has_gap() => later.push(name),
            None => room.sync.set_value(Sync::Idle),
            Some(error)
                if error.code.is_transient() || error.code == ErrorCode::Timeout || again =>
            {
                later.push(name);
            }
            Some(error) => {
                leptos::logging::warn!("sync of {name} failed: {}", error.message);
                room.sync.set_value(Sync::Idle);
            }
        }
    }
    resend(state, now);
    if !later.is_empty() {
        let pause = PAUSE.mul_f64(1.0 + js_sys::Math::random());
        set_timeout(move || resend(state, later), pause);
    }
}

/// Syncs rooms whose sync just ended (or paused) again.
fn resend(state: ChatState, names: Vec<String>) {
    for name in &names {
        if let Some(room) = state.room(name) {
            room.sync.set_value(Sync::Idle);
        }
    }
    start(state, names, false);
}

/// A sync reply groups messages by room; the runs of one room are merged together.
fn by_room(messages: Vec<ChatMessage>) -> impl Iterator<Item = Vec<ChatMessage>> {
    let mut messages = messages.into_iter().peekable();
    std::iter::from_fn(move || {
        let room = messages.peek()?.room.clone();
        Some(std::iter::from_fn(|| messages.next_if(|m| m.room == room)).collect())
    })
}
