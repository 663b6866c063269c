//! The open room's conversation. It follows new messages while the reader is at the bottom,
//! leaves a reader who scrolled up alone (offering a "new messages" button instead), and draws
//! older messages when the reader reaches the top (those held, then older pages from the
//! server), keeping their place.
//!
//! However many messages arrive between two frames, the list is redrawn once, in the next
//! animation frame: a busy room costs a frame's work per frame, not a list's work per message.
//! A frame's work stays that of a screenful or two: the list draws only the newest
//! [`FOLLOWING_ROWS`] messages while the reader follows them, and adds or takes away at most
//! [`ROWS_PER_FRAME`] rows a frame otherwise.
//! Messages of one author a few minutes apart share a header, each day starts with its date, and
//! a line marks where the unread messages begin.
//!
//! A room that goes off screen is hidden at once and its rows are taken down a frame's worth at
//! a time: switching rooms costs no more than that, however much either room holds.
//!
//! Screen readers hear new messages from a separate log that holds only those (each once), not
//! the list: a room coming on screen or an older page loading would otherwise be read out whole.

use std::{collections::BTreeMap, sync::Arc};

use leptos::{html::Div, prelude::*, task::spawn_local};
use shared::{ChatMessage, DeletedBy};

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
/// How many of the newest messages are drawn while the reader follows them: more than a tall
/// screen holds (about 30 at 1280 x 800). Opening a room draws them in one frame: 100 took 50 ms
/// on 2 cores once rows had their reply and react buttons.
const FOLLOWING_ROWS: usize = 60;
/// The most rows one frame adds or takes away: older messages drawn as the reader reaches the
/// top, rows taken down after the reader came back to the newest or switched rooms. (60 drew a
/// frame of 67 ms on 2 cores once rows had their reply and react buttons.)
const ROWS_PER_FRAME: usize = 40;
/// The most history pages loaded to bring one message into view (a quote or a search result
/// followed to it): a thousand messages back.
const SEEK_PAGES: usize = 20;
/// The most new messages one frame draws while the reader follows: in a burst, only its newest
/// this many, and the rows above them a frame's worth at a time after.
const BURST_ROWS: usize = 20;

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

/// One list of rows in the page: the open room's, or one that went off screen and is hidden
/// while its rows are taken down.
#[derive(Clone)]
struct Sheet {
    id: u64,
    /// `None` while the sheet shows the open room; then the rows still up, fewer each frame.
    leaving: ArcRwSignal<Option<Vec<Row>>>,
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
    // The oldest message drawn: `None` for a room just opened, `i64::MIN` for all held.
    let from = StoredValue::new(None::<i64>);
    let all_drawn = RwSignal::new(true);
    // Asks for another frame while rows remain to be added or taken away.
    let redraw = RwSignal::new(());
    let sheets = RwSignal::new(vec![Sheet {
        id: 0,
        leaving: ArcRwSignal::new(None),
    }]);
    // The room the open sheet was last drawn for.
    let drawn_room = StoredValue::new(None::<String>);

    Effect::new(move |_| {
        if let Some(room) = state.current_room() {
            room.messages.track();
        }
        state.outbox.track();
        state.read_marker.track();
        redraw.track();
        if frame_asked.get_value() {
            return;
        }
        frame_asked.set_value(true);
        request_animation_frame(move || {
            frame_asked.set_value(false);
            let current = state.current.get_untracked();
            let switched = drawn_room.with_value(|room| room.as_ref() != Some(&current));
            if switched {
                from.set_value(None);
            }
            let marker = state.read_marker.get_untracked();
            let rows = state
                .room(&current)
                .map(|room| {
                    room.messages.with_untracked(|held| {
                        let drawn_up_to = (!switched)
                            .then(|| {
                                shown.with_untracked(|(rows, _)| {
                                    rows.last().map(|row| row.message.seq)
                                })
                            })
                            .flatten();
                        let (start, more) = window(
                            held,
                            from.get_value(),
                            following.get_untracked(),
                            drawn_up_to,
                        );
                        from.set_value(start);
                        if more {
                            redraw.set(());
                        }
                        let start = start.unwrap_or(i64::MIN);
                        all_drawn.set(held.keys().next().is_none_or(|&first| first >= start));
                        rows(state, held.range(start..).map(|(_, m)| m), marker)
                    })
                })
                .unwrap_or_default();
            let pending = state.outbox.with_untracked(|outbox| {
                outbox
                    .iter()
                    .filter(|m| m.room == current)
                    .cloned()
                    .collect::<Vec<_>>()
            });
            drawn_room.set_value(Some(current));
            let was_big = shown.with_untracked(|(rows, _)| rows.len() > ROWS_PER_FRAME);
            if switched && was_big {
                // The sheet that goes keeps the rows it has (nothing in it changes now) and is
                // hidden; a new sheet shows the room that comes.
                let old = shown.with_untracked(|(rows, _)| rows.clone());
                let id = sheets.with_untracked(|all| {
                    let open = all.last().expect("there is always an open sheet");
                    open.leaving.set(Some(old));
                    open.id + 1
                });
                shown.set((rows, pending));
                sheets.update(|all| {
                    all.push(Sheet {
                        id,
                        leaving: ArcRwSignal::new(None),
                    });
                });
                take_down(sheets);
            } else {
                shown.set((rows, pending));
            }
        });
    });
    let history = move || state.current_room().map(|room| room.history.get());

    // A quote or a search result followed to its message: older pages load until it is held
    // (at most SEEK_PAGES of them), then the list draws down to it and brings it into view
    // (below, once drawn).
    let reveal = StoredValue::new(None::<(String, i64)>);
    let pages_loaded = StoredValue::new(0_usize);
    Effect::new(move |_| {
        let Some(seq) = state.seeking.get() else {
            return pages_loaded.set_value(0);
        };
        let Some(room) = state.current_room() else {
            return;
        };
        let (held, oldest) = room
            .messages
            .with(|held| (held.contains_key(&seq), held.keys().next().copied()));
        if held {
            state.seeking.set(None);
            following.set(false);
            reveal.set_value(Some((state.current.get_untracked(), seq)));
            if from.get_value().is_none_or(|from| from > seq) {
                from.set_value(Some(seq));
            }
            redraw.set(());
            return;
        }
        match room.history.get() {
            History::NotLoaded | History::Partial if pages_loaded.get_value() >= SEEK_PAGES => {
                state.seeking.set(None);
                state.error.set(Some(
                    "That message is further back than the page goes by itself: scroll up to it."
                        .to_owned(),
                ));
            }
            History::NotLoaded | History::Partial => {
                pages_loaded.update_value(|pages| *pages += 1);
                client::load_history(state, state.current.get_untracked(), oldest);
            }
            History::Loading => {}
            // Not in the room any more (it only ever had the seqs it holds).
            History::Complete => state.seeking.set(None),
        }
    });

    let scroll_to_bottom = move || {
        if let Some(element) = scroller.get_untracked() {
            element.set_scroll_top(element.scroll_height());
        }
    };

    // While following, the newest stays in view when something changes size after it was
    // scrolled to: a row laid out at its real height as it comes on screen (rows off screen
    // skip layout), a picture, the list growing as the "new messages" button goes.
    let content = NodeRef::<Div>::new();
    Effect::new(move |_| {
        let (Some(list), Some(content)) = (scroller.get(), content.get()) else {
            return;
        };
        let pin = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
            let placing = reveal.with_value(Option::is_some) || anchor.with_value(Option::is_some);
            if following.get_untracked() && !placing {
                scroll_to_bottom();
            }
        });
        match web_sys::ResizeObserver::new(wasm_bindgen::JsCast::unchecked_ref(pin.as_ref())) {
            Ok(observer) => {
                observer.observe(&list);
                observer.observe(&content);
            }
            Err(error) => leptos::logging::warn!("cannot keep the newest in view: {error:?}"),
        }
        // The list lives as long as the page, and so do its observer and handler.
        pin.forget();
    });

    // Following the newest (back at the bottom, or just sent a message), nothing is unseen.
    Effect::new(move |_| {
        if following.get() {
            unseen.set(0);
        }
    });

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
            if reveal.with_value(Option::is_some)
                && let Some(element) = scroller.get_untracked()
            {
                reveal_when_drawn(element, reveal, REVEAL_FRAMES);
            } else if let Some((seq, offset)) = anchor.get_value()
                && let Some(element) = scroller.get_untracked()
            {
                if let Some(top) = message_top(&element, &current, seq) {
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
            if bottom {
                // Back at the newest, the rows far above go, a frame's worth at a time.
                redraw.set(());
            }
        }
        if bottom && let Some(room) = state.current_room() {
            client::mark_read(&state.current.get_untracked(), room);
            // Back at the newest: what was kept for reading further up may go.
            room.trim(WINDOW);
        }
        if element.scroll_top() > EDGE {
            return;
        }
        let Some(room) = state.current_room() else {
            return;
        };
        // The oldest message drawn, and where the next older ones start among those held.
        let (oldest, older) = room.messages.with_untracked(|held| {
            let start = from.get_value().unwrap_or(i64::MIN);
            let oldest = held.range(start..).next().map(|(&seq, _)| seq);
            (oldest, older_start(held, start))
        });
        if older.is_none() && history() != Some(History::Partial) {
            return;
        }
        if let Some(oldest) = oldest
            && let Some(top) = message_top(&element, &state.current.get_untracked(), oldest)
        {
            anchor.set_value(Some((oldest, top - element.scroll_top())));
        }
        if let Some(start) = older {
            from.set_value(Some(start));
            redraw.set(());
        } else {
            // Everything held is drawn: the page that comes is drawn whole.
            from.set_value(Some(i64::MIN));
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
                class:start=move || all_drawn.get() && history() == Some(History::Complete)
            >
                {move || match history() {
                    Some(History::Loading) => "Loading…",
                    Some(History::Complete) if all_drawn.get() => {
                        if state.current_room().is_some_and(|room| room.is_direct()) {
                            "This is the start of the conversation."
                        } else {
                            "This is the start of the room."
                        }
                    }
                    _ => "",
                }}
            </p>
            <MissingRoom />
            <div node_ref=content>
                <For each=move || sheets.get() key=|sheet| sheet.id let:sheet>
                    <ol
                        class="messages"
                        hidden={
                            let leaving = sheet.leaving.clone();
                            move || leaving.with(Option::is_some)
                        }
                        aria-label=move || format!("Messages in {}", state.room_label(&state.current.get()))
                    >
                        <For
                            each={
                                let leaving = sheet.leaving.clone();
                                move || {
                                    leaving
                                        .get()
                                        .unwrap_or_else(|| shown.with(|(rows, _)| rows.clone()))
                                }
                            }
                            // A change to the message (or to the one it quotes) draws the row again.
                            key=|row| (
                                row.message.id.clone(),
                                Revision::of(&row.message),
                                row.head,
                                row.day.is_some(),
                                row.first_unread,
                            )
                            let:row
                        >
                            {row.day.map(|day| view! { <li class="day"><span>{day}</span></li> })}
                            {row.first_unread.then(|| view! {
                                <li class="unread-line"><span>"New messages"</span></li>
                            })}
                            <MessageItem message=row.message head=row.head />
                        </For>
                        <For
                            each={
                                let leaving = sheet.leaving.clone();
                                move || {
                                    if leaving.with(Option::is_some) {
                                        Vec::new()
                                    } else {
                                        shown.with(|(_, pending)| pending.clone())
                                    }
                                }
                            }
                            key=|message| (message.client_id.clone(), format!("{:?}", message.delivery))
                            let:message
                        >
                            <PendingItem message />
                        </For>
                    </ol>
                </For>
            </div>
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

/// Where the list starts drawing the held messages, from `from` (`None` for a room just opened:
/// its newest [`FOLLOWING_ROWS`]), and whether it wants another frame. For a reader who follows
/// the newest the list tends to the newest [`FOLLOWING_ROWS`]: a burst of more than
/// [`BURST_ROWS`] new messages since `drawn_up_to` (the newest on screen) is drawn from its
/// newest [`BURST_ROWS`] (the rows on screen all go), the rows above are then added
/// [`BURST_ROWS`] a frame, and rows beyond the window are taken away at most [`ROWS_PER_FRAME`] a
/// frame. Any other reader keeps what they have. `None` while nothing is held.
fn window<T>(
    held: &BTreeMap<i64, T>,
    from: Option<i64>,
    following: bool,
    drawn_up_to: Option<i64>,
) -> (Option<i64>, bool) {
    let newest = |count: usize| held.keys().rev().take(count).last().copied();
    let Some(target) = newest(FOLLOWING_ROWS) else {
        return (None, false);
    };
    let Some(start) = from else {
        return (Some(target), false);
    };
    if !following {
        return (Some(start), false);
    }
    let arrived = drawn_up_to.map_or(0, |drawn| held.range(drawn + 1..).count());
    if arrived > BURST_ROWS {
        return (newest(BURST_ROWS), true);
    }
    if start > target {
        // Fewer than the window: the rows above come back, a few a frame.
        let grown = held
            .range(target..start)
            .rev()
            .take(BURST_ROWS)
            .last()
            .map_or(start, |(&seq, _)| seq);
        return (Some(grown), grown > target);
    }
    let mut budget = ROWS_PER_FRAME;
    let stop = held.range(start..target).map(|(&seq, _)| seq).find(|&seq| {
        let on_screen = drawn_up_to.is_some_and(|newest| seq <= newest);
        if on_screen {
            if budget == 0 {
                return true;
            }
            budget -= 1;
        }
        false
    });
    match stop {
        Some(seq) => (Some(seq), true),
        None => (Some(target), false),
    }
}

/// Where the list starts once the next [`ROWS_PER_FRAME`] held messages older than `start` are
/// drawn too; `None` when none are held.
fn older_start<T>(held: &BTreeMap<i64, T>, start: i64) -> Option<i64> {
    held.range(..start)
        .rev()
        .take(ROWS_PER_FRAME)
        .last()
        .map(|(&seq, _)| seq)
}

/// Takes down the rows of the sheets that went off screen, a frame's worth per frame, and the
/// sheets once they are empty.
fn take_down(sheets: RwSignal<Vec<Sheet>>) {
    request_animation_frame(move || {
        let mut budget = ROWS_PER_FRAME;
        let mut emptied = Vec::new();
        for sheet in sheets.get_untracked() {
            if sheet.leaving.with_untracked(Option::is_none) {
                continue;
            }
            sheet.leaving.update(|rows| {
                if let Some(rows) = rows {
                    let taken = budget.min(rows.len());
                    rows.truncate(rows.len() - taken);
                    budget -= taken;
                    if rows.is_empty() {
                        emptied.push(sheet.id);
                    }
                }
            });
        }
        if !emptied.is_empty() {
            sheets.update(|all| all.retain(|sheet| !emptied.contains(&sheet.id)));
        }
        if sheets.with_untracked(|all| all.len() > 1) {
            take_down(sheets);
        }
    });
}

/// The message `seq` of `room` in the list, if drawn. Named by its room too: right after a
/// switch, the room that goes is still on screen, with rows of the same seqs.
fn message_item(
    list: &web_sys::HtmlDivElement,
    room: &str,
    seq: i64,
) -> Option<web_sys::HtmlElement> {
    let item = list
        .query_selector(&format!(
            "ol.messages:not([hidden]) li.message[data-room=\"{room}\"][data-seq=\"{seq}\"]"
        ))
        .ok()??;
    wasm_bindgen::JsCast::dyn_into(item).ok()
}

/// Where the message `seq` of `room` is in the list, from the top of its content.
fn message_top(list: &web_sys::HtmlDivElement, room: &str, seq: i64) -> Option<i32> {
    message_item(list, room, seq).map(|item| item.offset_top())
}

/// How many frames a message sought is looked for once the list was redrawn for it: a room
/// switched to gets its rows in a new sheet, which is in the page a frame or so after the list
/// changed.
const REVEAL_FRAMES: u8 = 30;

/// Brings the message sought into view once its row is in the page, looking again each frame,
/// `frames` more times at most.
fn reveal_when_drawn(
    list: web_sys::HtmlDivElement,
    reveal: StoredValue<Option<(String, i64)>>,
    frames: u8,
) {
    let Some((room, seq)) = reveal.get_value() else {
        return;
    };
    if frames > 0 && !show(&list, &room, seq) {
        request_animation_frame(move || reveal_when_drawn(list, reveal, frames - 1));
    } else {
        // Shown, or given up on: the list goes back to keeping the reader's place.
        reveal.set_value(None);
    }
}

/// Brings message `seq` of `room` into view and gives it focus (so keyboard and screen reader
/// users land on it too); false while it is not drawn yet, or cannot take focus yet (the page is
/// still inert in the frame a dialog closes).
fn show(list: &web_sys::HtmlDivElement, room: &str, seq: i64) -> bool {
    let Some(item) = message_item(list, room, seq) else {
        return false;
    };
    item.scroll_into_view();
    if item.set_attribute("tabindex", "-1").is_err() || item.focus().is_err() {
        leptos::logging::warn!("could not focus the message");
    }
    let item: &web_sys::Element = &item;
    document().active_element().as_ref() == Some(item)
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
                            move |_| client::create_room(state, name.clone(), false)
                        }>{format!("Create #{name}")}</button>
                    </Show>
                    <button class="link" on:click=move |_| state.missing_room.set(None)>"Dismiss"</button>
                </div>
            }
        })
    }
}

/// What can change in a message after it was stored, as a row's key: each change draws the
/// row again.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Revision {
    edited_at: Option<i64>,
    deleted: Option<DeletedBy>,
    /// The quote's text and whether its original is gone.
    quote: Option<(String, bool)>,
    /// Per emoji, how many reacted and the newest reactor's `seq`: a reaction added raises the
    /// one, taken away lowers the other.
    reactions: Vec<(usize, i64)>,
}

impl Revision {
    fn of(message: &ChatMessage) -> Self {
        Self {
            edited_at: message.edited_at,
            deleted: message.deleted,
            quote: message
                .reply_to
                .as_ref()
                .map(|quote| (quote.text.clone(), quote.deleted.is_some())),
            reactions: message
                .reactions
                .iter()
                .map(|r| (r.by.len(), r.by.last().map_or(0, |by| by.seq)))
                .collect(),
        }
    }
}

/// The rows for a room's held messages, oldest first.
fn rows<'a>(
    state: ChatState,
    messages: impl Iterator<Item = &'a Arc<ChatMessage>>,
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
            message: Arc::clone(message),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn held(seqs: std::ops::RangeInclusive<i64>) -> BTreeMap<i64, ()> {
        seqs.map(|seq| (seq, ())).collect()
    }

    #[test]
    fn a_room_just_opened_draws_its_newest_messages() {
        assert_eq!(
            window(&held(1..=1000), None, true, None),
            (Some(941), false)
        );
        assert_eq!(
            window(&held(1..=1000), None, false, None),
            (Some(941), false)
        );
        assert_eq!(window(&held(5..=20), None, true, None), (Some(5), false));
        assert_eq!(
            window(&BTreeMap::<i64, ()>::new(), None, true, None),
            (None, false)
        );
    }

    #[test]
    fn a_reader_back_at_the_newest_loses_the_rows_far_above_a_frame_at_a_time() {
        let room = held(1..=1000);
        let drawn = Some(1000);
        assert_eq!(window(&room, Some(781), true, drawn), (Some(821), true));
        assert_eq!(window(&room, Some(821), true, drawn), (Some(861), true));
        assert_eq!(window(&room, Some(861), true, drawn), (Some(901), true));
        assert_eq!(window(&room, Some(901), true, drawn), (Some(941), false));
        // All held, as after an older page was asked for.
        assert_eq!(window(&room, Some(i64::MIN), true, drawn), (Some(41), true));
    }

    #[test]
    fn a_burst_is_drawn_from_its_newest_and_the_window_fills_up_after() {
        // Rows 1 to 100 are on screen, then 500 arrive in one frame: only the newest 20 are
        // drawn (the rows on screen all go), then 20 more above them each frame.
        let room = held(1..=600);
        assert_eq!(window(&room, Some(1), true, Some(100)), (Some(581), true));
        assert_eq!(window(&room, Some(581), true, Some(600)), (Some(561), true));
        assert_eq!(
            window(&room, Some(561), true, Some(600)),
            (Some(541), false)
        );
        // A few new ones are added, and as many rows at the top go.
        assert_eq!(
            window(&room, Some(531), true, Some(590)),
            (Some(541), false)
        );
        // Scrolled up, nothing changes.
        assert_eq!(window(&room, Some(1), false, Some(100)), (Some(1), false));
    }

    #[test]
    fn a_reader_scrolled_up_keeps_every_row_they_have() {
        let room = held(1..=1000);
        assert_eq!(window(&room, Some(3), false, Some(1000)), (Some(3), false));
        assert_eq!(
            window(&room, Some(i64::MIN), false, Some(1000)),
            (Some(i64::MIN), false)
        );
    }

    #[test]
    fn reaching_the_top_draws_a_frame_of_older_held_messages_then_none() {
        let room = held(1..=1000);
        assert_eq!(older_start(&room, 941), Some(901));
        assert_eq!(older_start(&room, 31), Some(1));
        assert_eq!(older_start(&room, 1), None);
        assert_eq!(older_start(&room, i64::MIN), None);
    }
}
