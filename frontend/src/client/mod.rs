//! The chat client's behaviour. Components call these functions; the network is reached only
//! through [`crate::socket`] (and, for history pages and the room directory, the `api` server
//! functions), never from a component.
//!
//! This module dispatches what the server says; each concern has its own module: the ordered
//! [`outbox`], [`sync`] (what was missed), [`history`] pages, [`rooms`], [`typing`] and
//! [`account`] (logging in, signing up, sessions).

mod account;
mod attention;
mod changes;
mod history;
mod outbox;
mod rooms;
mod sync;
mod typing;

use leptos::prelude::*;
use shared::{Auth, ChatMessage, MessageChanged, Rename, Renamed, Welcome};

pub use account::{
    about_server, change_password, connect, end_session, log_in, log_out, registration, sessions,
    set_banned, set_role, sign_up, users,
};
pub use attention::{set_notifications, watch};
pub use changes::{delete_message, edit_message, last_editable, react};
pub use history::{load_history, search};
pub use outbox::{retry, send};
pub use rooms::{
    archive_room, browse_rooms, create_room, follow_navigation, invite, join_room, leave_room,
    mark_read, open_direct, open_room,
};
pub use typing::typing;

use crate::{
    socket::{self, ServerEvent},
    state::{ChatState, Status},
    storage,
};

/// Connects and keeps `state` in step with the server.
pub fn start(state: ChatState) {
    socket::connect(
        || Auth {
            token: storage::token(),
            name: storage::name(),
        },
        move |event| on_event(state, event),
    );
    typing::expire(state);
}

fn on_event(state: ChatState, event: ServerEvent) {
    match event {
        ServerEvent::Disconnected => {
            state.status.set(Status::Reconnecting);
            if state.offline_since.with_untracked(Option::is_none) {
                state.offline_since.set(Some(js_sys::Date::now()));
            }
            outbox::requeue(state);
        }
        ServerEvent::Closed => account::on_closed(state),
        ServerEvent::Rejected(why) => account::rejected(state, why),
        ServerEvent::Unavailable => state.status.set(Status::Failed),
        ServerEvent::Welcome(welcome) => on_welcome(state, welcome),
        ServerEvent::Message(message) => {
            typing::stopped(state, &message);
            receive(state, vec![*message]);
        }
        ServerEvent::Changed(change) => changed(state, change),
        ServerEvent::Presence(presence) => {
            if let Some(room) = state.room(&presence.room) {
                room.apply_presence(presence);
            }
        }
        ServerEvent::Typing(typing) => typing::someone_types(state, typing),
        ServerEvent::Head(head) => sync::catch_up_to(state, head),
        ServerEvent::Invited(invited) => rooms::invited(state, invited),
        ServerEvent::RoomUpdated(update) => rooms::updated(state, &update.room),
        ServerEvent::Read(read) => rooms::read_elsewhere(state, read),
        ServerEvent::Refused(error) => state.error.set(Some(error.message)),
    }
}

fn on_welcome(state: ChatState, welcome: Welcome) {
    if account::ended_while_away(state, &welcome.token) {
        return;
    }
    storage::set_token(&welcome.token);
    // Someone else now (logged in to another account): nothing shown so far was theirs.
    if state
        .me
        .with_untracked(|me| me.as_ref().is_some_and(|me| me.id != welcome.user.id))
    {
        state.rooms.set(Default::default());
    }
    state.me.set(Some(welcome.user));
    state.account.set(welcome.account);
    state.rooms.update(|rooms| {
        rooms.retain(|name, _| welcome.rooms.iter().any(|r| &r.name == name));
        for info in &welcome.rooms {
            match rooms.get(&info.name) {
                Some(room) => {
                    room.last_seq
                        .set(info.last_seq.max(room.last_seq.get_untracked()));
                    room.archived.set(info.archived);
                    if info.is_direct() {
                        room.people.set(info.people.clone());
                    }
                    // Who is online may have changed while we were away: ask again.
                    room.members.set(None);
                }
                None => {
                    rooms.insert(info.name.clone(), rooms::known_room(info));
                }
            }
        }
    });
    for read in welcome.read {
        rooms::read_elsewhere(state, read);
    }
    state.status.set(Status::Connected);
    state.offline_since.set(None);
    // Also joins the room a link pointed to, if the user is not in it yet.
    open_room(state, state.current.get_untracked());
    sync::after_welcome(state);
    outbox::pump(state);
}

/// Messages of one room from the server, live, synced or acknowledged: they settle what the
/// outbox holds of ours, and join the room's messages by sequence number, so a message seen
/// twice shows once. Messages held beyond a gap ask for a sync.
fn receive(state: ChatState, messages: Vec<ChatMessage>) {
    let Some(name) = messages.first().map(|message| message.room.clone()) else {
        return;
    };
    let Some(room) = state.room(&name) else {
        return;
    };
    for message in &messages {
        outbox::settle(state, message);
    }
    let (gap, fresh) = room.receive(messages, state.keep(&name));
    attention::arrived(state, &name, room, &fresh);
    if gap {
        sync::fill_gap(state, name);
    }
}

/// An edit or a deletion, live or synced: applied to the message if it is held, its sequence
/// number counted as seen. One held beyond a gap asks for a sync.
pub(super) fn changed(state: ChatState, change: MessageChanged) {
    let Some(room) = state.room(&change.room) else {
        return;
    };
    attention::forget(state, &change);
    let name = change.room.clone();
    if room.apply_changes([change]) {
        sync::fill_gap(state, name);
    }
}

/// Tries to reconnect now rather than when the client's back-off says.
pub fn reconnect_now() {
    socket::reconnect();
}

/// Asks for a new display name; `done` hears the refusal, if any, to show where the name was typed.
pub fn rename(state: ChatState, name: String, done: impl FnOnce(Option<String>) + 'static) {
    socket::request(&Rename { name }, move |reply| match reply {
        Ok(Renamed { user }) => {
            state.me.set(Some(user));
            done(None);
        }
        Err(error) => done(Some(error.message)),
    });
}
