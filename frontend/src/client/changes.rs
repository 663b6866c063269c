//! Changing messages: editing, deleting, reacting. A change is applied as soon as the server
//! acknowledges it (its broadcast, arriving too, changes nothing more); every other tab and
//! person gets the broadcast.

use leptos::prelude::*;
use shared::{Changed, DeleteMessage, EditMessage, ErrorPayload, React, Unreact};

use crate::{socket, state::ChatState};

/// Replaces the text of the user's message `seq` of `room`; `done` gets the refusal, if any.
pub fn edit_message(
    state: ChatState,
    room: String,
    seq: i64,
    text: String,
    done: impl FnOnce(Option<ErrorPayload>) + 'static,
) {
    socket::request(&EditMessage { room, seq, text }, move |reply| {
        settle(state, reply, done);
    });
}

/// Deletes message `seq` of `room` (the user's own, or, for an admin, anyone's).
pub fn delete_message(
    state: ChatState,
    room: String,
    seq: i64,
    done: impl FnOnce(Option<ErrorPayload>) + 'static,
) {
    socket::request(&DeleteMessage { room, seq }, move |reply| {
        settle(state, reply, done);
    });
}

/// Adds the user's reaction `emoji` to message `seq` of `room` (`on`), or takes it away.
pub fn react(
    state: ChatState,
    room: String,
    seq: i64,
    emoji: String,
    on: bool,
    done: impl FnOnce(Option<ErrorPayload>) + 'static,
) {
    let settled = move |reply| settle(state, reply, done);
    if on {
        socket::request(&React { room, seq, emoji }, settled);
    } else {
        socket::request(&Unreact { room, seq, emoji }, settled);
    }
}

fn settle(
    state: ChatState,
    reply: Result<Changed, ErrorPayload>,
    done: impl FnOnce(Option<ErrorPayload>),
) {
    match reply {
        Ok(Changed { change }) => {
            if let Some(change) = change {
                super::changed(state, change);
            }
            done(None);
        }
        Err(error) => done(Some(error)),
    }
}

/// The user's newest message in the open room that can still be edited (Up in an empty box).
pub fn last_editable(state: ChatState) -> Option<i64> {
    let room = state.current_room()?;
    room.messages.with_untracked(|messages| {
        messages
            .values()
            .rev()
            .find(|message| message.deleted.is_none() && state.is_mine(message))
            .map(|message| message.seq)
    })
}
