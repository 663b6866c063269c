//! The open room's conversation. It follows new messages while the reader is at the bottom,
//! leaves a reader who scrolled up alone (offering a "new messages" button instead), and loads
//! older pages when the reader reaches the top, keeping their place.
//!
//! However many messages arrive between two frames, the list is redrawn once, in the next
//! animation frame: a busy room costs a frame's work per frame, not a list's work per message.
//! Messages of one author a few minutes apart share a header, each day starts with its date, and
//! a line marks where the unread messages begin.
//!
//! Screen readers hear new messages from a separate log that holds only those (each once), not
//! the list: a room coming on screen or an older page loading would otherwise be read out whole.

use std::sync::Arc;

use leptos::{html::Div, prelude::*, task::spawn_local};
use shared::ChatMessage;

use super::{message_item::MessageItem, pending_item::PendingItem};
use crate::{
    client,
    state::{ChatState, History, Outgoing, WINDOW},
};

/// How close to an edge, in pixels, still counts as being at it.
const EDGE: i32 = 48;
/// Messages of one author this close together (ms) share one header.
const GROUP_MS: i64 = 5 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// A room coming on screen shows its newest messages first and the rest of what it holds this
/// many more per frame: each frame's work stays small however much the room holds.
const ROWS_PER_FRAME: usize = 60;

/// One message as the list shows it: whether it opens a group, the day it starts, and whether
/// the unread ones begin with it.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    /// Shared: the list is handed over whole each frame, and a row costs a count to copy.
    message: Arc<ChatMessage>,
    head: bool,
    day: Option<String>,
    first_unread: bool,
}

#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let scroller = NodeRef::<Div>::new();
    let following = state.following;
    let unseen = RwSignal::new(0_usize);
    // While an older page comes in above: the message at the top of the list and how far it was
    // from the top of the view, to put it back there (the reader's place) once the page is in.
    let anchor = StoredValue::new(None::<(i64, i32)>);
    // What the list shows, as of the last animation frame: the open room's messages, and ours on
    // their way to it. Both change in the same frame, so a message of ours going from one to the
    // other never blinks.
    let shown = RwSignal::new((Vec::<Row>::new(), Vec::<Outgoing>::new()));
    let frame_asked = StoredValue::new(false);
    // How many of the open room's newest messages are drawn; grows each frame up to all held.
    let drawn = StoredValue::new(ROWS_PER_FRAME);
    let grow = RwSignal::new(());
    Effect::new(move |_| {
        state.current.track();
        drawn.set_value(ROWS_PER_FRAME);
    });

    Effect::new(move |_| {
        if let Some(room) = state.current_room() {
            room.messages.track();
        }
        state.outbox.track();
        state.read_marker.track();
        grow.track();
        if frame_asked.get_value() {
            return;
        }
        frame_asked.set_value(true);
        request_animation_frame(move || {
            frame_asked.set_value(false);
            let current = state.current.get_untracked();
            let marker = state.read_marker.get_untracked();
            let (rows, held) = state
                .room(&current)
                .map(|room| {
                    room.messages.with_untracked(|m| {
                        let skip = m.len().saturating_sub(drawn.get_value());
                        (rows(state, m.values().skip(skip), marker), m.len())
                    })
                })
                .unwrap_or_default();
            if held > drawn.get_value() {
                drawn.update_value(|n| *n += ROWS_PER_FRAME);
                grow.set(());
            } else {
                // All drawn: from now on (new messages, older pages) the list is drawn whole.
                drawn.set_value(usize::MAX);
            }
            let pending = state.outbox.with_untracked(|outbox| {
                outbox
                    .iter()
                    .filter(|m| m.room == current)
                    .cloned()
                    .collect::<Vec<_>>()
            });
            shown.set((rows, pending));
        });
    });
    let history = move || state.current_room().map(|room| room.history.get());

    let scroll_to_bottom = move || {
        if let Some(element) = scroller.get_untracked() {
            element.set_scroll_top(element.scroll_height());
        }
    };

    // A new room on screen starts at the bottom, with nothing announced yet.
    Effect::new(move |_| {
        state.current.track();
        following.set(true);
        unseen.set(0);
        state.announcements.set(Vec::new());
    });

    // After the list changed: keep the reader's place, follow, or count what they have not seen.
    Effect::new(move |previous: Option<(String, Option<i64>)>| {
        let current = state.current.get();
        let room = state.current_room();
        let visible = state.visible.get();
        let newest = shown.with(|(rows, _)| rows.last().map(|row| row.message.seq));
        shown.with(|(_, pending)| pending.len());
        let opened = previous.as_ref().is_none_or(|(was, _)| *was != current);
        if opened && let Some(room) = room {
            // Where the unread messages begin, before they are marked read below.
            let read = room.last_read.get_untracked();
            let unread = room.last_seq.get_untracked() > read;
            state.read_marker.set(unread.then_some(read));
        }
        // The DOM is updated by effects that run as the list changed, like this one: whatever
        // is measured or scrolled waits until they have run.
        spawn_local(async move {
            if let Some((seq, offset)) = anchor.get_value()
                && let Some(element) = scroller.get_untracked()
            {
                if let Some(top) = message_top(&element, seq) {
                    anchor.set_value(None);
                    element.set_scroll_top(top - offset);
                }
            } else if following.get_untracked() {
                scroll_to_bottom();
                if let Some(room) = room
                    && visible
                {
                    client::mark_read(&current, room);
                }
            }
        });
        if !following.get_untracked()
            && let Some((was_room, was_newest)) = &previous
            && *was_room == state.current.get_untracked()
            && newest > *was_newest
        {
            let from_others = shown.with_untracked(|(rows, _)| {
                rows.iter()
                    .rev()
                    .take_while(|row| Some(row.message.seq) > *was_newest)
                    .filter(|row| !state.is_mine(&row.message))
                    .count()
            });
            unseen.update(|n| *n += from_others);
        }
        (state.current.get_untracked(), newest)
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
            if let Some(oldest) = oldest
                && let Some(top) = message_top(&element, oldest)
            {
                anchor.set_value(Some((oldest, top - element.scroll_top())));
            }
            client::load_history(state, state.current.get_untracked(), oldest);
        }
    };
    let jump = move |_| {
        following.set(true);
        scroll_to_bottom();
    };

    view! {
        <div id="conversation" class="conversation" node_ref=scroller on:scroll=on_scroll tabindex="0">
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
            <MissingRoom />
            <ol class="messages" aria-label=move || format!("Messages in #{}", state.current.get())>
                <For
                    each=move || shown.with(|(rows, _)| rows.clone())
                    key=|row| (row.message.id.clone(), row.head, row.day.is_some(), row.first_unread)
                    let:row
                >
                    {row.day.map(|day| view! { <li class="day"><span>{day}</span></li> })}
                    {row.first_unread.then(|| view! {
                        <li class="unread-line"><span>"New messages"</span></li>
                    })}
                    <MessageItem message=row.message head=row.head />
                </For>
                <For
                    each=move || shown.with(|(_, pending)| pending.clone())
                    key=|message| (message.client_id.clone(), format!("{:?}", message.delivery))
                    let:message
                >
                    <PendingItem message />
                </For>
            </ol>
            <div class="visually-hidden" role="log" aria-label="New messages">
                <For
                    each=move || state.announcements.get()
                    key=|(seq, _)| *seq
                    let:said
                >
                    <p>{said.1}</p>
                </For>
            </div>
        </div>
        <Show when=move || { unseen.get() > 0 }>
            <button class="jump" aria-keyshortcuts="Alt+End" on:click=jump>
                {move || match unseen.get() {
                    1 => "1 new message ↓".to_owned(),
                    n => format!("{n} new messages ↓"),
                }}
            </button>
        </Show>
    }
}

/// Where the message `seq` is in the list, from the top of its content.
fn message_top(list: &web_sys::HtmlDivElement, seq: i64) -> Option<i32> {
    let item = list
        .query_selector(&format!("li.message[data-seq=\"{seq}\"]"))
        .ok()??;
    let item: web_sys::HtmlElement = wasm_bindgen::JsCast::dyn_into(item).ok()?;
    Some(item.offset_top())
}

/// A link named a room that is not there: say so, and offer to make it when the name can be one.
#[component]
fn MissingRoom() -> impl IntoView {
    let state = expect_context::<ChatState>();
    move || {
        state.missing_room.get().map(|missing| {
            let name = missing.name.clone();
            let text = if missing.valid {
                format!("There is no room #{}.", missing.name)
            } else {
                format!(
                    "“{}” cannot be a room: room names are lowercase letters, digits, - and _.",
                    missing.name
                )
            };
            view! {
                <div class="notice" role="alert">
                    <p>{text}</p>
                    <Show when=move || missing.valid>
                        <button class="link" on:click={
                            let name = name.clone();
                            move |_| client::create_room(state, name.clone())
                        }>{format!("Create #{name}")}</button>
                    </Show>
                    <button class="link" on:click=move |_| state.missing_room.set(None)>"Dismiss"</button>
                </div>
            }
        })
    }
}

/// The rows for a room's held messages, oldest first.
fn rows<'a>(
    state: ChatState,
    messages: impl Iterator<Item = &'a ChatMessage>,
    marker: Option<i64>,
) -> Vec<Row> {
    // The reader's offset from UTC, taken once per redraw.
    #[allow(clippy::cast_possible_truncation)]
    let offset = js_sys::Date::new_0().get_timezone_offset() as i64 * 60_000;
    let day_of = |millis: i64| (millis - offset).div_euclid(DAY_MS);
    #[allow(clippy::cast_possible_truncation)]
    let today = day_of(js_sys::Date::now() as i64);
    let mut rows: Vec<Row> = Vec::new();
    for message in messages {
        let day = day_of(message.sent_at);
        let previous = rows.last().map(|row| &row.message);
        let new_day = previous.is_none_or(|p| day_of(p.sent_at) != day);
        let first_unread = marker.is_some_and(|read| {
            // With nothing held before it, only the message right after the last one read is
            // known to be the first unread.
            message.seq > read
                && previous.map_or(message.seq == read + 1, |p| p.seq <= read)
                && !state.is_mine(message)
        });
        let head = new_day
            || first_unread
            || previous.is_none_or(|p| {
                p.author.id != message.author.id || message.sent_at - p.sent_at > GROUP_MS
            });
        rows.push(Row {
            day: new_day.then(|| day_label(message.sent_at, today - day)),
            message: Arc::new(message.clone()),
            head,
            first_unread,
        });
    }
    rows
}

/// "Today", "Yesterday", or the date, in the reader's language.
fn day_label(millis: i64, days_ago: i64) -> String {
    match days_ago {
        0 => "Today".to_owned(),
        1 => "Yesterday".to_owned(),
        _ => {
            let options = js_sys::Object::new();
            for (key, value) in [
                ("weekday", "long"),
                ("day", "numeric"),
                ("month", "long"),
                ("year", "numeric"),
            ] {
                if js_sys::Reflect::set(&options, &key.into(), &value.into()).is_err() {
                    leptos::logging::warn!("could not set a date option");
                }
            }
            #[allow(clippy::cast_precision_loss)]
            let date = js_sys::Date::new(&(millis as f64).into());
            date.to_locale_date_string("default", &options).into()
        }
    }
}
