//! Reading back: history pages (a room's newest messages when it is first shown, and older
//! pages as the reader scrolls up, through the `history` server function), and searching.

use leptos::{prelude::*, task::spawn_local};
use shared::{ChatMessage, ErrorPayload, Found, Search};

use crate::{
    http, socket,
    state::{ChatState, History},
    storage,
};

/// The messages of the rooms the user can read (or of `room`) holding every word of `query`,
/// newest first.
pub fn search(
    query: String,
    room: Option<String>,
    done: impl FnOnce(Result<Vec<ChatMessage>, ErrorPayload>) + 'static,
) {
    socket::request(&Search { query, room }, move |reply| {
        done(reply.map(|Found { results }| results));
    });
}

/// Messages per history page.
const PAGE: u32 = 50;

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
        match http::history(&token, &room_name, before, PAGE).await {
            Ok(page) => {
                let complete =
                    page.len() < PAGE as usize || page.first().is_some_and(|m| m.seq == 1);
                room.add_page(page);
                // A first page holds no changes, whose seqs are holes in it: a sync fills them,
                // so the cursor reaches the newest message.
                if room.has_gap() {
                    super::sync::fill_gap(state, room_name);
                }
                room.history.set(if complete {
                    History::Complete
                } else {
                    History::Partial
                });
            }
            Err(error) => {
                leptos::logging::warn!("history failed: {}", error.message);
                room.history.set(History::Partial);
            }
        }
    });
}
