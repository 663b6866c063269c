//! Telling the user that something happened while they looked elsewhere: the tab's title counts
//! unread messages, mentions of them (and every message of a direct conversation) are counted
//! apart, screen readers hear each new message of
//! the open room once, and, when turned on, desktop notifications show mentions (and every
//! message of rooms the user chose) while the tab is hidden.

use std::{cell::RefCell, sync::Arc, time::Duration};

use leptos::prelude::*;
use shared::{Change, ChatMessage, MessageChanged};
use wasm_bindgen::JsCast;

use crate::{
    state::{ChatState, Room},
    storage,
};

/// How many announcements the hidden log keeps: screen readers read additions, so older ones
/// only cost memory.
const ANNOUNCED: usize = 5;
/// The title and the screen-reader log change at most this often: a busy room would otherwise
/// cost page work per message, and nobody reads faster than this anyway.
const ATTENTION_EVERY: Duration = Duration::from_millis(250);

/// Keeps the title and the tab's visibility in step with the state, for as long as the page lives.
pub fn watch(state: ChatState) {
    state.notifications.set(notifications_allowed());
    let title = Memo::new(move |_| {
        let unread = state.unread();
        let room = state.room_label(&state.current.get());
        if unread > 0 {
            format!("({unread}) {room} - Chat")
        } else {
            format!("{room} - Chat")
        }
    });
    let asked = StoredValue::new(false);
    Effect::new(move |_| {
        title.track();
        if !asked.get_value() {
            asked.set_value(true);
            set_timeout(
                move || {
                    asked.set_value(false);
                    document().set_title(&title.get_untracked());
                },
                ATTENTION_EVERY,
            );
        }
    });
    let handle = window_event_listener_untyped("visibilitychange", move |_| {
        let visible = !document().hidden();
        if !visible && let Some(room) = state.room(&state.current.get_untracked()) {
            // Coming back, the "new messages" line shows where the reader left.
            state.read_marker.set(Some(room.last_read.get_untracked()));
        }
        state.visible.set(visible);
    });
    // The listener lives as long as the page.
    std::mem::forget(handle);
}

/// Messages seen for the first time in `room`: count the mentions among the unread, announce
/// those of the open room, and notify when the tab is hidden.
pub(super) fn arrived(state: ChatState, name: &str, room: Room, fresh: &[Arc<ChatMessage>]) {
    let others: Vec<&ChatMessage> = fresh
        .iter()
        .map(Arc::as_ref)
        .filter(|m| !state.is_mine(m))
        .collect();
    let Some(newest) = others.last() else {
        return;
    };
    // In a direct conversation, every message is for the user.
    let direct = room.is_direct();
    let mentions = others
        .iter()
        .filter(|m| room.is_unread(m) && (direct || state.mentions_me(m)))
        .count();
    if mentions > 0 {
        room.mentions
            .update(|n| *n += i64::try_from(mentions).unwrap_or(i64::MAX));
    }
    if state.current.with_untracked(|current| current == name) {
        announce(state, newest);
    }
    // Cheapest first: a visible tab is never notified, and most messages mention nobody.
    if !state.visible.get_untracked()
        && (mentions > 0 || storage::notify_room(name))
        && notifications_allowed()
    {
        notify(state, name, newest);
    }
}

/// Puts `message` in the screen-reader log, or, when others came within [`ATTENTION_EVERY`],
/// the newest of them.
fn announce(state: ChatState, message: &ChatMessage) {
    thread_local! {
        static NEXT: RefCell<Option<ChatMessage>> = const { RefCell::new(None) };
    }
    if NEXT.replace(Some(message.clone())).is_some() {
        return;
    }
    set_timeout(
        move || {
            let Some(message) = NEXT.take() else {
                return;
            };
            // The room may have gone off screen meanwhile: its messages are not the news.
            if state
                .current
                .with_untracked(|current| *current != message.room)
            {
                return;
            }
            // Nor is a message deleted meanwhile; one edited is read as it is now.
            let Some(text) = state.room(&message.room).and_then(|room| {
                room.messages.with_untracked(|held| {
                    held.get(&message.seq)
                        .filter(|held| held.deleted.is_none())
                        .map(|held| held.text.clone())
                })
            }) else {
                return;
            };
            state.announcements.update(|said| {
                said.push((message.seq, format!("{}: {text}", message.author.name)));
                let over = said.len().saturating_sub(ANNOUNCED);
                said.drain(..over);
            });
        },
        ATTENTION_EVERY,
    );
}

/// A message of the open room was deleted: its text leaves the screen readers' log too.
pub(super) fn forget(state: ChatState, change: &MessageChanged) {
    let deleted = matches!(change.change, Change::Deleted { .. })
        && state
            .current
            .with_untracked(|current| *current == change.room);
    if deleted
        && state
            .announcements
            .with_untracked(|said| said.iter().any(|(seq, _)| *seq == change.target))
    {
        state
            .announcements
            .update(|said| said.retain(|(seq, _)| *seq != change.target));
    }
}

/// Whether the user turned notifications on and the browser lets us show them.
fn notifications_allowed() -> bool {
    storage::notifications_on()
        && web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
}

/// Turns desktop notifications on or off. Turning them on asks the browser's permission, which
/// browsers only grant in answer to a user's action: this runs from a click, never on load.
pub fn set_notifications(state: ChatState, on: bool) {
    let done = move |on| state.notifications.set(on);
    if !on {
        storage::set_notifications_on(false);
        return done(false);
    }
    let Ok(asked) = web_sys::Notification::request_permission() else {
        return done(false);
    };
    leptos::task::spawn_local(async move {
        let granted = wasm_bindgen_futures::JsFuture::from(asked)
            .await
            .ok()
            .and_then(|answer| answer.as_string())
            .is_some_and(|answer| answer == "granted");
        storage::set_notifications_on(granted);
        done(granted);
    });
}

fn notify(state: ChatState, room: &str, message: &ChatMessage) {
    let options = web_sys::NotificationOptions::new();
    options.set_body(&message.text);
    // One notification per room: a newer message replaces the one before.
    options.set_tag(room);
    let title = match state.room(room).is_some_and(|held| held.is_direct()) {
        true => message.author.name.clone(),
        false => format!("{} in #{room}", message.author.name),
    };
    match web_sys::Notification::new_with_options(&title, &options) {
        Ok(notification) => {
            let room = room.to_owned();
            let open = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
                if window().focus().is_err() {
                    leptos::logging::warn!("could not focus the window");
                }
                super::open_room(state, room.clone());
            });
            notification.set_onclick(Some(open.as_ref().unchecked_ref()));
            open.forget();
        }
        Err(error) => leptos::logging::warn!("notification failed: {error:?}"),
    }
}
