//! The chat client's behaviour: what to do with each server event, the outbox, catch-up after a
//! reconnect, history pages, and room changes. Components call these functions; the network is
//! reached only through [`crate::socket`] and the `api` server functions.

use leptos::{prelude::*, task::spawn_local};
use shared::{
    Auth, ChatMessage, DEFAULT_ROOM, Done, ErrorPayload, Joined, Members, RenameRequest, Renamed,
    RoomCursor, RoomInfo, RoomRequest, Sent, SyncRequest, Synced, Welcome, event,
};

use crate::{
    socket::{self, ServerEvent},
    state::{ChatState, Delivery, History, Outgoing, Room, Status},
    storage,
};

/// Messages per history page.
const PAGE: u32 = 50;
/// How long "X is typing" stays up without a new signal.
const TYPING_SHOWN_MS: f64 = 4_000.0;
/// How long to hold the outbox after the server said we are sending too fast.
const RATE_LIMIT_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
/// The least time between two typing signals we send.
const TYPING_EVERY_MS: f64 = 2_000.0;

/// Connects and keeps `state` in step with the server.
pub fn start(state: ChatState) {
    socket::connect(
        || Auth {
            token: storage::token(),
            name: storage::name(),
        },
        move |event| on_event(state, event),
    );
    // Expire typing indicators.
    set_interval(
        move || {
            let now = js_sys::Date::now();
            for room in state.rooms.get_untracked().values() {
                if room
                    .typing
                    .with_untracked(|t| t.iter().any(|(_, until)| *until <= now))
                {
                    room.typing.update(|t| t.retain(|(_, until)| *until > now));
                }
            }
        },
        std::time::Duration::from_millis(500),
    );
}

fn on_event(state: ChatState, event: ServerEvent) {
    match event {
        ServerEvent::Connected => {}
        ServerEvent::Disconnected => {
            state.status.set(Status::Reconnecting);
            // Unanswered sends go back in the queue; re-sending them is safe (same client id).
            state.outbox.update(|outbox| {
                for message in outbox
                    .iter_mut()
                    .filter(|m| m.delivery == Delivery::Sending)
                {
                    message.delivery = Delivery::Queued;
                }
            });
        }
        ServerEvent::Unavailable => state.status.set(Status::Failed),
        ServerEvent::Welcome(welcome) => on_welcome(state, welcome),
        ServerEvent::Message(message) => receive(state, message),
        ServerEvent::Presence(presence) => {
            if let Some(room) = state.room(&presence.room) {
                room.apply_presence(presence);
            }
        }
        ServerEvent::Typing(typing) => {
            if let Some(room) = state.room(&typing.room) {
                let until = js_sys::Date::now() + TYPING_SHOWN_MS;
                room.typing.update(|list| {
                    list.retain(|(user, _)| user.id != typing.user.id);
                    list.push((typing.user, until));
                });
            }
        }
        ServerEvent::Refused(error) => state.error.set(Some(error.message)),
    }
}

fn on_welcome(state: ChatState, welcome: Welcome) {
    storage::set_token(&welcome.token);
    state.me.set(Some(welcome.user));
    state.rooms.update(|rooms| {
        rooms.retain(|name, _| welcome.rooms.iter().any(|r| &r.name == name));
        for info in &welcome.rooms {
            match rooms.get(&info.name) {
                Some(room) => {
                    room.last_seq
                        .set(info.last_seq.max(room.last_seq.get_untracked()));
                    // Who is online may have changed while we were away: ask again.
                    room.members.set(None);
                }
                None => {
                    rooms.insert(
                        info.name.clone(),
                        Room::new(info.last_seq, storage::last_read(&info.name)),
                    );
                }
            }
        }
    });
    state.status.set(Status::Connected);
    // Also joins the room a link pointed to, if the user is not in it yet.
    open_room(state, state.current.get_untracked());
    catch_up(state);
}

/// Asks for everything missed in the rooms whose messages are loaded, then sends the outbox.
fn catch_up(state: ChatState) {
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
        return pump(state);
    }
    socket::request(event::SYNC, &SyncRequest { rooms: cursors }, move |reply| {
        match reply {
            Ok(Synced { messages }) => merge_all(state, messages),
            Err(error) => leptos::logging::warn!("catch-up failed: {}", error.message),
        }
        pump(state);
    });
}

fn merge_all(state: ChatState, messages: Vec<ChatMessage>) {
    for message in messages {
        receive(state, message);
    }
}

/// A message from the server, live or caught up: merged by sequence number, so a message seen
/// twice shows once.
fn receive(state: ChatState, message: ChatMessage) {
    let Some(room) = state.room(&message.room) else {
        return;
    };
    if let Some(client_id) = &message.client_id
        && state.is_mine(&message)
    {
        state
            .outbox
            .update(|outbox| outbox.retain(|m| &m.client_id != client_id));
    }
    let behind = message.seq > room.contiguous_seq() + 1
        && room.history.get_untracked() != History::NotLoaded;
    room.merge([message]);
    if behind && state.status.get_untracked() == Status::Connected {
        // A gap: something was missed while this tab was away.
        catch_up(state);
    }
}

/// Queues a message; it is sent when the connection and the messages before it allow.
pub fn send(state: ChatState, room: String, text: String) {
    state.outbox.update(|outbox| {
        outbox.push(Outgoing {
            client_id: new_client_id(),
            room,
            text,
            delivery: Delivery::Queued,
        });
    });
    pump(state);
}

/// Puts a failed message back in the queue, keeping its client id so it cannot be stored twice.
pub fn retry(state: ChatState, client_id: &str) {
    set_delivery(state, client_id, Delivery::Queued);
    pump(state);
}

/// Sends the first queued message if nothing is in flight; each acknowledgement sends the next,
/// so messages arrive in the order they were written.
fn pump(state: ChatState) {
    if state.status.get_untracked() != Status::Connected {
        return;
    }
    let mut next = None;
    state.outbox.update(|outbox| {
        if outbox.iter().any(|m| m.delivery == Delivery::Sending) {
            return;
        }
        if let Some(message) = outbox.iter_mut().find(|m| m.delivery == Delivery::Queued) {
            message.delivery = Delivery::Sending;
            next = Some(message.clone());
        }
    });
    let Some(message) = next else { return };
    let input = shared::ChatInput::Object {
        text: message.text.clone(),
        room: Some(message.room.clone()),
        client_id: Some(message.client_id.clone()),
    };
    socket::request(
        event::CHAT_MESSAGE,
        &input,
        move |reply: Result<Sent, ErrorPayload>| {
            let delivery = state.outbox.with_untracked(|outbox| {
                outbox
                    .iter()
                    .find(|m| m.client_id == message.client_id)
                    .map(|m| m.delivery.clone())
            });
            match delivery {
                Some(Delivery::Sending) => {}
                // The connection dropped meanwhile and the message was queued again: the
                // next attempt owns it.
                Some(_) => return,
                // Its broadcast arrived before this acknowledgement and settled it.
                None => return pump(state),
            }
            match reply {
                Ok(Sent { message: stored }) => {
                    state
                        .outbox
                        .update(|outbox| outbox.retain(|m| m.client_id != message.client_id));
                    receive(state, stored);
                }
                Err(error) if error.code == "rate_limited" || error.code == "overloaded" => {
                    // Too fast, or the server is busy: both pass within a second; try again then.
                    set_delivery(state, &message.client_id, Delivery::Queued);
                    set_timeout(move || pump(state), RATE_LIMIT_PAUSE);
                    return;
                }
                Err(error) => {
                    set_delivery(state, &message.client_id, Delivery::Failed(error.message));
                }
            }
            pump(state);
        },
    );
}

fn set_delivery(state: ChatState, client_id: &str, delivery: Delivery) {
    state.outbox.update(|outbox| {
        if let Some(message) = outbox.iter_mut().find(|m| m.client_id == client_id) {
            message.delivery = delivery;
        }
    });
}

/// Loads the page of `room` before `before` (the newest page if `None`).
pub fn load_history(state: ChatState, room_name: String, before: Option<i64>) {
    let Some(room) = state.room(&room_name) else {
        return;
    };
    if room.history.get_untracked() == History::Loading {
        return;
    }
    room.history.set(History::Loading);
    let token = storage::token().unwrap_or_default();
    spawn_local(async move {
        match api::history(token, room_name, before, PAGE).await {
            Ok(page) => {
                let complete =
                    page.len() < PAGE as usize || page.first().is_some_and(|m| m.seq == 1);
                room.merge(page);
                room.history.set(if complete {
                    History::Complete
                } else {
                    History::Partial
                });
            }
            Err(error) => {
                leptos::logging::warn!("history failed: {error}");
                room.history.set(History::Partial);
            }
        }
    });
}

/// Shows `room` (joining it if needed), loading its latest messages the first time.
pub fn open_room(state: ChatState, name: String) {
    push_url(&name);
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
    socket::request(
        event::MEMBERS,
        &RoomRequest { room: name.clone() },
        move |reply: Result<Members, ErrorPayload>| match (reply, state.room(&name)) {
            (Ok(Members { members }), Some(room)) => room.set_members(members),
            (Err(error), _) => leptos::logging::warn!("members failed: {}", error.message),
            (Ok(_), None) => {}
        },
    );
}

/// Marks everything in the room on screen as read.
pub fn mark_read(room_name: &str, room: Room) {
    let last = room.last_seq.get_untracked();
    if room.last_read.get_untracked() != last {
        room.last_read.set(last);
        storage::set_last_read(room_name, last);
    }
}

pub fn create_room(state: ChatState, name: String) {
    socket::request(
        event::CREATE_ROOM,
        &RoomRequest { room: name },
        move |reply| {
            entered(state, reply);
        },
    );
}

pub fn join_room(state: ChatState, name: String) {
    socket::request(
        event::JOIN_ROOM,
        &RoomRequest { room: name },
        move |reply| {
            if reply.is_err() && state.room(&state.current.get_untracked()).is_none() {
                open_room(state, DEFAULT_ROOM.to_owned());
            }
            entered(state, reply);
        },
    );
}

fn entered(state: ChatState, reply: Result<Joined, ErrorPayload>) {
    match reply {
        Ok(Joined {
            room: RoomInfo { name, last_seq },
            members,
        }) => {
            let room = Room::new(last_seq, storage::last_read(&name));
            room.set_members(members);
            state.rooms.update(|rooms| {
                rooms.entry(name.clone()).or_insert(room);
            });
            open_room(state, name);
        }
        Err(error) => state.error.set(Some(error.message)),
    }
}

pub fn leave_room(state: ChatState, name: String) {
    socket::request(
        event::LEAVE_ROOM,
        &RoomRequest { room: name.clone() },
        move |reply: Result<Done, ErrorPayload>| match reply {
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

pub fn rename(state: ChatState, name: String) {
    socket::request(
        event::RENAME,
        &RenameRequest { name },
        move |reply| match reply {
            Ok(Renamed { user }) => state.me.set(Some(user)),
            Err(error) => state.error.set(Some(error.message)),
        },
    );
}

/// Tells the room the user is typing, at most every [`TYPING_EVERY_MS`].
pub fn typing(state: ChatState) {
    thread_local! {
        static LAST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
    }
    let now = js_sys::Date::now();
    if state.status.get_untracked() != Status::Connected || now - LAST.get() < TYPING_EVERY_MS {
        return;
    }
    LAST.set(now);
    socket::notify(
        event::TYPING,
        &RoomRequest {
            room: state.current.get_untracked(),
        },
    );
}

/// Follows the browser's back and forward buttons.
pub fn follow_history(state: ChatState) {
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

/// A random id for the idempotency key.
fn new_client_id() -> String {
    let mut bytes = [0_u8; 12];
    let filled = window()
        .crypto()
        .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes).map(drop));
    if filled.is_err() {
        leptos::logging::warn!("no secure random source");
    }
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{:x}-{random}", js_sys::Date::now() as u64)
}
