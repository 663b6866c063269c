//! Rooms: showing one (joining it if needed), creating, joining and leaving, direct
//! conversations, who is online, how far each is read, the room directory, and the address bar
//! that names the open room.

use leptos::{prelude::*, task::spawn_local};
use std::{cell::RefCell, collections::HashSet};

use shared::{
    ArchiveRoom, CreateRoom, DEFAULT_ROOM, Done, ErrorCode, ErrorPayload, Invite, Invited,
    JoinRoom, Joined, LeaveRoom, MarkRead, MemberList, Members, OpenDirect, ReadUpTo, RoomInfo,
    RoomUpdated,
};

use super::history::load_history;
use crate::{
    http, socket,
    state::{ChatState, History, Missing, Room},
    storage,
};

/// Shows `room` (joining it if needed), loading its latest messages the first time.
pub fn open_room(state: ChatState, name: String) {
    push_url(&name);
    // On a phone, the room list makes way for the room.
    state.drawer.set(false);
    if state.current.get_untracked() != name {
        state.current.set(name.clone());
        state.error.set(None);
    }
    let Some(room) = state.room(&name) else {
        return join_room(state, name);
    };
    if room.members.with_untracked(Option::is_none) {
        load_members(state, name.clone());
    }
    if room.history.get_untracked() == History::NotLoaded {
        load_history(state, name, None);
    }
}

/// Asks who is online in `room`; presence updates keep the list current afterwards.
fn load_members(state: ChatState, name: String) {
    socket::request(&Members { room: name.clone() }, move |reply| {
        match (reply, state.room(&name)) {
            (Ok(MemberList { members }), Some(room)) => room.set_members(members),
            (Err(error), _) => leptos::logging::warn!("members failed: {}", error.message),
            (Ok(_), None) => {}
        }
    });
}

/// How long a read position waits before going to the server: reading a busy room moves it
/// with every message, and the other devices need only where the reader stopped.
const SHARE_READ_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Marks everything in the room on screen as read, here and (a little later) on the user's
/// other devices.
pub fn mark_read(room_name: &str, room: Room) {
    if room.mentions.get_untracked() != 0 {
        room.mentions.set(0);
    }
    let last = room.last_seq.get_untracked();
    if room.last_read.get_untracked() != last {
        room.last_read.set(last);
        storage::set_last_read(room_name, last);
        share_read(room_name, room);
    }
}

/// Sends the room's read position once the reader has paused, at most once per wait.
fn share_read(room_name: &str, room: Room) {
    thread_local! {
        static WAITING: RefCell<HashSet<String>> = RefCell::default();
    }
    if !WAITING.with_borrow_mut(|waiting| waiting.insert(room_name.to_owned())) {
        return;
    }
    let name = room_name.to_owned();
    let send = move || {
        WAITING.with_borrow_mut(|waiting| waiting.remove(&name));
        let seq = room.last_read.get_untracked();
        socket::request(&MarkRead { room: name, seq }, |reply| {
            if let Err(error) = reply {
                leptos::logging::warn!("could not share the read position: {}", error.message);
            }
        });
    };
    if set_timeout_with_handle(send, SHARE_READ_AFTER).is_err() {
        leptos::logging::warn!("could not schedule sharing the read position");
    }
}

/// The user read `room` up to `seq` on another device (or before, as the welcome says): it is
/// read here too.
pub fn read_elsewhere(state: ChatState, ReadUpTo { room: name, seq }: ReadUpTo) {
    let Some(room) = state.room(&name) else {
        return;
    };
    let seq = seq.min(room.last_seq.get_untracked());
    if seq > room.last_read.get_untracked() {
        room.last_read.set(seq);
        storage::set_last_read(&name, seq);
        if seq == room.last_seq.get_untracked() {
            room.mentions.set(0);
        }
    }
}

/// Makes a room (`private`: out of the directory, members invite others); why it could not be
/// made is shown beside the field its name was typed in.
pub fn create_room(state: ChatState, name: String, private: bool) {
    state.room_error.set(None);
    socket::request(
        &CreateRoom {
            room: name,
            private,
        },
        move |reply| match reply {
            Ok(joined) => {
                state.missing_room.set(None);
                entered(state, Ok(joined));
            }
            Err(error) => state.room_error.set(Some(error.message)),
        },
    );
}

/// Joins a room. A link to a room that does not exist shows #general, saying so and offering to
/// make the room.
pub fn join_room(state: ChatState, name: String) {
    socket::request(&JoinRoom { room: name.clone() }, move |reply| {
        if let Err(error) = &reply {
            if state.room(&state.current.get_untracked()).is_none() {
                open_room(state, DEFAULT_ROOM.to_owned());
            }
            if error.code == ErrorCode::RoomNotFound {
                // The server answers requests concurrently: the room may have been made since
                // this was asked. A second answer for the same room changes nothing (drawing
                // the notice again would swap its button under a click).
                let shown = state
                    .missing_room
                    .with_untracked(|missing| missing.as_ref().is_some_and(|m| m.name == name));
                if state.room(&name).is_none() && !shown {
                    state.missing_room.set(Some(Missing { name, valid: true }));
                }
                return;
            }
        }
        entered(state, reply);
    });
}

/// Opens the direct conversation with the person `id` (made the first time).
pub fn open_direct(state: ChatState, id: String) {
    socket::request(&OpenDirect { with: vec![id] }, move |reply| {
        entered(state, reply);
    });
}

fn entered(state: ChatState, reply: Result<Joined, ErrorPayload>) {
    match reply {
        Ok(Joined {
            room: info,
            members,
        }) => {
            let room = held_room(state, &info);
            room.set_members(members);
            open_room(state, info.name);
        }
        Err(error) => state.error.set(Some(error.message)),
    }
}

/// A room the server told us of, read as far as this browser remembers.
pub fn known_room(info: &RoomInfo) -> Room {
    let mut room = Room::new(info.last_seq, storage::last_read(&info.name));
    room.private = info.private;
    room.people.set(info.people.clone());
    room.archived.set(info.archived);
    room
}

/// The room `info` names, in the list from now on (a direct conversation's people as the
/// server says now).
fn held_room(state: ChatState, info: &RoomInfo) -> Room {
    if let Some(room) = state.room(&info.name) {
        if info.is_direct() {
            room.people.set(info.people.clone());
        }
        return room;
    }
    let room = known_room(info);
    state.rooms.update(|rooms| {
        rooms.insert(info.name.clone(), room);
    });
    room
}

/// Someone brought this user into a room, or opened a conversation with them (every tab of
/// theirs is in it now): it joins the list, and the person is told who did it (unless it was
/// themselves, in another tab).
pub fn invited(state: ChatState, invitation: Invited) {
    held_room(state, &invitation.room);
    let by_me = state
        .me
        .with_untracked(|me| me.as_ref().is_some_and(|me| me.id == invitation.by.id));
    if !by_me {
        state.invitation.set(Some(invitation));
    }
}

/// A room changed (archived, or back): what the UI shows of it follows.
pub fn updated(state: ChatState, info: &RoomInfo) {
    if let Some(room) = state.room(&info.name) {
        room.archived.set(info.archived);
    }
}

/// For an admin: archives the open room (read only) or takes it out of the archive.
pub fn archive_room(state: ChatState, room: String, archived: bool) {
    socket::request(&ArchiveRoom { room, archived }, move |reply| match reply {
        Ok(RoomUpdated { room }) => updated(state, &room),
        Err(error) => state.error.set(Some(error.message)),
    });
}

/// Brings the account `username` into the private room `room`; `done` gets the refusal, if any.
pub fn invite(room: String, username: String, done: impl FnOnce(Option<ErrorPayload>) + 'static) {
    socket::request(
        &Invite {
            room,
            user: username,
        },
        move |reply| {
            done(reply.err());
        },
    );
}

pub fn leave_room(state: ChatState, name: String) {
    socket::request(
        &LeaveRoom { room: name.clone() },
        move |reply| match reply {
            Ok(Done {}) => {
                state.rooms.update(|rooms| {
                    rooms.remove(&name);
                });
                open_room(state, DEFAULT_ROOM.to_owned());
            }
            Err(error) => state.error.set(Some(error.message)),
        },
    );
}

/// Every room on the server, for the directory; a refusal is shown like any other.
pub fn browse_rooms(state: ChatState, on_rooms: impl FnOnce(Vec<RoomInfo>) + 'static) {
    let token = storage::token().unwrap_or_default();
    spawn_local(async move {
        match http::rooms(&token).await {
            Ok(rooms) => on_rooms(rooms),
            Err(error) => state.error.set(Some(error.message)),
        }
    });
}

/// Follows the browser's back and forward buttons.
pub fn follow_navigation(state: ChatState) {
    let handle = window_event_listener(leptos::ev::popstate, move |_| {
        let path = window().location().pathname().unwrap_or_default();
        let name = crate::state::room_from_path(&path);
        if state.room(&name).is_some() {
            state.current.set(name);
        } else {
            join_room(state, name);
        }
    });
    // The listener lives as long as the page.
    std::mem::forget(handle);
}

fn push_url(room: &str) {
    let url = format!("/r/{room}");
    if window().location().pathname().ok().as_deref() != Some(url.as_str())
        && let Ok(history) = window().history()
        && history
            .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
            .is_err()
    {
        leptos::logging::warn!("could not update the address bar");
    }
}
