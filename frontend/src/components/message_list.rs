//! The open room's conversation. It follows new messages while the reader is at the bottom,
//! leaves a reader who scrolled up alone (offering a "new messages" button instead), and loads
//! older pages when the reader reaches the top, keeping their place.
//!
//! However many messages arrive between two frames, the list is redrawn once, in the next
//! animation frame: a busy room costs a frame's work per frame, not a list's work per message.

use leptos::{html::Main, prelude::*};
use shared::ChatMessage;

use super::{message_item::MessageItem, pending_item::PendingItem};
use crate::{
    client,
    state::{ChatState, History, Outgoing, WINDOW},
};

/// How close to an edge, in pixels, still counts as being at it.
const EDGE: i32 = 48;

#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let scroller = NodeRef::<Main>::new();
    let following = state.following;
    let unseen = RwSignal::new(0_i64);
    // The scroll height before an older page was added above, to restore the reader's place.
    let height_before_page = StoredValue::new(None::<i32>);
    // What the list shows, as of the last animation frame: the open room's messages, and ours on
    // their way to it. Both change in the same frame, so a message of ours going from one to the
    // other never blinks.
    let shown = RwSignal::new((Vec::<ChatMessage>::new(), Vec::<Outgoing>::new()));
    let frame_asked = StoredValue::new(false);

    Effect::new(move |_| {
        if let Some(room) = state.current_room() {
            room.messages.track();
        }
        state.outbox.track();
        if frame_asked.get_value() {
            return;
        }
        frame_asked.set_value(true);
        request_animation_frame(move || {
            frame_asked.set_value(false);
            let current = state.current.get_untracked();
            let messages = state
                .room(&current)
                .map(|room| {
                    room.messages
                        .with_untracked(|m| m.values().cloned().collect::<Vec<_>>())
                })
                .unwrap_or_default();
            let pending = state.outbox.with_untracked(|outbox| {
                outbox
                    .iter()
                    .filter(|m| m.room == current)
                    .cloned()
                    .collect::<Vec<_>>()
            });
            shown.set((messages, pending));
        });
    });
    let history = move || state.current_room().map(|room| room.history.get());

    let scroll_to_bottom = move || {
        if let Some(element) = scroller.get_untracked() {
            element.set_scroll_top(element.scroll_height());
        }
    };

    // A new room on screen starts at the bottom.
    Effect::new(move |_| {
        state.current.track();
        following.set(true);
        unseen.set(0);
    });

    // After the list changed: keep the reader's place, follow, or count what they have not seen.
    Effect::new(move |previous: Option<(String, Option<i64>, usize)>| {
        let current = state.current.get();
        let room = state.current_room();
        let (newest, pending) =
            shown.with(|(messages, pending)| (messages.last().map(|m| m.seq), pending.len()));
        if let Some(height) = height_before_page.get_value()
            && let Some(element) = scroller.get_untracked()
        {
            height_before_page.set_value(None);
            element.set_scroll_top(element.scroll_top() + element.scroll_height() - height);
        } else if following.get_untracked() {
            scroll_to_bottom();
            if let Some(room) = room {
                client::mark_read(&current, room);
            }
        } else if let Some((was_room, was_newest, _)) = previous
            && was_room == current
            && newest > was_newest
        {
            unseen.update(|n| *n += newest.unwrap_or(0) - was_newest.unwrap_or(0));
        }
        (current, newest, pending)
    });

    let on_scroll = move |_| {
        let Some(element) = scroller.get_untracked() else {
            return;
        };
        let bottom =
            element.scroll_height() - element.scroll_top() - element.client_height() <= EDGE;
        if following.get_untracked() != bottom {
            following.set(bottom);
        }
        if bottom {
            unseen.set(0);
            if let Some(room) = state.current_room() {
                client::mark_read(&state.current.get_untracked(), room);
                // Back at the newest: what was kept for reading further up may go.
                room.trim(WINDOW);
            }
        }
        if element.scroll_top() <= EDGE && history() == Some(History::Partial) {
            let oldest = state
                .current_room()
                .and_then(|room| room.messages.with_untracked(|m| m.keys().next().copied()));
            height_before_page.set_value(Some(element.scroll_height()));
            client::load_history(state, state.current.get_untracked(), oldest);
        }
    };

    view! {
        <main class="conversation" node_ref=scroller on:scroll=on_scroll>
            // Always there, one line high, so that nothing above the messages changes height
            // while an older page comes in: the place kept is exact.
            <p
                class="edge"
                class:loading=move || history() == Some(History::Loading)
                class:start=move || history() == Some(History::Complete)
            >
                {move || match history() {
                    Some(History::Loading) => "Loading…",
                    Some(History::Complete) => "This is the start of the room.",
                    _ => "",
                }}
            </p>
            <ol class="messages" aria-live="polite">
                <For
                    each=move || shown.with(|(messages, _)| messages.clone())
                    key=|message| message.id.clone()
                    let:message
                >
                    <MessageItem message />
                </For>
                <For
                    each=move || shown.with(|(_, pending)| pending.clone())
                    key=|message| (message.client_id.clone(), format!("{:?}", message.delivery))
                    let:message
                >
                    <PendingItem message />
                </For>
            </ol>
            <Show when=move || { unseen.get() > 0 }>
                <button class="jump" on:click=move |_| scroll_to_bottom()>
                    {move || match unseen.get() {
                        1 => "1 new message ↓".to_owned(),
                        n => format!("{n} new messages ↓"),
                    }}
                </button>
            </Show>
        </main>
    }
}
