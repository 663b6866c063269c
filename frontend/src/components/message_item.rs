//! One message. The first of a group shows who wrote it (their name, and their `@username` or
//! "guest", which no one else can borrow) and when; the others only their text,
//! with the time on hover. An edited one says so; a deleted one shows who deleted it in its
//! place. The user's own messages can be edited and deleted from buttons shown on hover or
//! focus (an admin can delete anyone's). Text is rendered from its parsed markup as DOM nodes,
//! never as HTML.

use std::sync::Arc;

use leptos::prelude::*;
use shared::{ChatMessage, DeletedBy};

use super::{avatar::Avatar, markup::Markup};
use crate::state::{ChatState, Dialog};

#[component]
pub fn MessageItem(message: Arc<ChatMessage>, head: bool) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let mine = state.is_mine(&message);
    let mentioned = state.mentions_me(&message);
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&(message.sent_at as f64).into());
    let time = clock(&date);
    let iso: String = date.to_iso_string().into();
    let author = message.author.clone();
    let seq = message.seq;
    let can_edit = mine && message.deleted.is_none();
    let can_delete = message.deleted.is_none() && (mine || state.is_admin());
    let edited = message
        .edited_at
        .filter(|_| message.deleted.is_none())
        .map(|at| {
            #[allow(clippy::cast_precision_loss)]
            let at = js_sys::Date::new(&(at as f64).into());
            let at: String = at
                .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
                .into();
            ["Edited ", &at].concat()
        });
    // The full date and time, written when first pointed at: formatting it for every message
    // as it arrives would cost a busy room more than the rest of the message.
    let full = move |event: leptos::ev::MouseEvent| {
        let Some(time) = event
            .target()
            .and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(target).ok())
        else {
            return;
        };
        if !time.has_attribute("title") {
            let full: String = date
                .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
                .into();
            if time.set_attribute("title", &full).is_err() {
                leptos::logging::warn!("could not show the full time");
            }
        }
    };

    view! {
        <li class="message" class:mine=mine class:head=head class:mentioned=mentioned data-seq=message.seq>
            {head.then(|| view! {
                <Avatar author=author.clone() />
                <div class="meta">
                    <span class="author">{if mine { "You".to_owned() } else { author.name.clone() }}</span>
                    {(!mine).then(|| view! { <span class="handle">{handle(&author)}</span> })}
                    <time datetime=iso.clone() on:mouseenter=full.clone()>{time.clone()}</time>
                </div>
            })}
            {(!head).then(|| view! {
                <time class="aside" datetime=iso on:mouseenter=full>{time}</time>
            })}
            {match message.deleted {
                // A tombstone: the message's place, without its text (erased on the server).
                Some(by) => view! {
                    <div class="text"><p><em>{match by {
                        DeletedBy::Author => "Message deleted",
                        DeletedBy::Admin => "Removed by an admin",
                    }}</em></p></div>
                }.into_any(),
                None => view! { <Markup text=message.text.clone() /> }.into_any(),
            }}
            {edited.map(|when| view! { <span class="edited" title=when>"(edited)"</span> })}
            {(can_edit || can_delete).then(|| view! {
                <div class="actions">
                    {can_edit.then(|| view! {
                        <button type="button" class="link" on:click=move |_| state.editing.set(Some(seq))>
                            "Edit"
                        </button>
                    })}
                    {can_delete.then(|| view! {
                        <button type="button" class="link" on:click=move |_| {
                            state.deleting.set(Some(seq));
                            state.dialog.set(Some(Dialog::DeleteMessage));
                        }>"Delete"</button>
                    })}
                </div>
            })}
        </li>
    }
}

/// What no one else can show beside a name: the account's `@username`, or that this is a guest
/// (whose avatar colour, from their id, tells two guests of one name apart).
pub fn handle(author: &shared::Author) -> String {
    author
        .username
        .as_ref()
        .map_or_else(|| "guest".to_owned(), |username| ["@", username].concat())
}

/// `HH:MM` in the reader's time zone.
pub fn clock(date: &js_sys::Date) -> String {
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
