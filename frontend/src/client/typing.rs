//! "Is typing": telling the room while the user types, and showing who else does for a few
//! seconds after each signal (there is no "stopped typing" on the wire).

use std::cell::Cell;

use leptos::prelude::*;
use shared::{ChatMessage, NowTyping, Typing};

use crate::{
    socket,
    state::{ChatState, Status},
};

/// How long "X is typing" stays up without a new signal.
const TYPING_SHOWN_MS: f64 = 4_000.0;
/// The least time between two typing signals we send.
const TYPING_EVERY_MS: f64 = 2_000.0;

/// Tells the room the user is typing, at most every [`TYPING_EVERY_MS`].
pub fn typing(state: ChatState) {
    thread_local! {
        static LAST: Cell<f64> = const { Cell::new(0.0) };
    }
    let now = js_sys::Date::now();
    if state.status.get_untracked() != Status::Connected || now - LAST.get() < TYPING_EVERY_MS {
        return;
    }
    LAST.set(now);
    socket::notify(&NowTyping {
        room: state.current.get_untracked(),
    });
}

/// Someone else types: show them until [`TYPING_SHOWN_MS`] after this signal.
pub(super) fn someone_types(state: ChatState, typing: Typing) {
    if let Some(room) = state.room(&typing.room) {
        let until = js_sys::Date::now() + TYPING_SHOWN_MS;
        room.typing.update(|list| {
            list.retain(|(user, _)| user.id != typing.user.id);
            list.push((typing.user, until));
        });
    }
}

/// Someone's message arrived: they are done typing it.
pub(super) fn stopped(state: ChatState, message: &ChatMessage) {
    if let Some(room) = state.room(&message.room)
        && room
            .typing
            .with_untracked(|list| list.iter().any(|(user, _)| user.id == message.author.id))
    {
        room.typing
            .update(|list| list.retain(|(user, _)| user.id != message.author.id));
    }
}

/// Takes down indicators whose time is up, for as long as the page lives.
pub(super) fn expire(state: ChatState) {
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
