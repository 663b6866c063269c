//! One message. The first of a group shows who wrote it (their name, which opens the direct
//! conversation with them, and their `@username` or "guest", which no one else can borrow) and
//! when; the others only their text,
//! with the time on hover. An edited one says so; a deleted one shows who deleted it in its
//! place. The user's own messages can be edited and deleted from buttons shown on hover or
//! focus (an admin can delete anyone's); anyone's can be answered and reacted to. A reply
//! shows what it answers, which opens the original. Text is rendered from its parsed markup as
//! DOM nodes, never as HTML.

use std::sync::Arc;

use leptos::prelude::*;
use shared::{ChatMessage, DeletedBy, Quote};

use super::{
    attachment::Attachment,
    avatar::Avatar,
    markup::Markup,
    reactions::{Picker, Reactions},
};
use crate::{
    client,
    state::{ChatState, Dialog},
};

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
    let live = message.deleted.is_none();
    let can_edit = mine && live;
    let can_delete = live && (mine || state.is_admin());
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
        <li class="message" class:mine=mine class:head=head class:mentioned=mentioned data-room=message.room.clone() data-seq=message.seq>
            {head.then(|| view! {
                <Avatar author=author.clone() />
                <div class="meta">
                    {if mine {
                        view! { <span class="author">"You"</span> }.into_any()
                    } else {
                        let id = author.id.clone();
                        view! {
                            <button type="button" class="author" title="Message them directly"
                                on:click=move |_| client::open_direct(state, id.clone())>
                                {author.name.clone()}
                            </button>
                        }.into_any()
                    }}
                    {(!mine).then(|| view! { <span class="handle">{handle(&author)}</span> })}
                    <time datetime=iso.clone() on:mouseenter=full.clone()>{time.clone()}</time>
                </div>
            })}
            {(!head).then(|| view! {
                <time class="aside" datetime=iso on:mouseenter=full>{time}</time>
            })}
            {message.reply_to.clone().map(|quote| view! { <QuoteLink quote /> })}
            {match message.deleted {
                // A tombstone: the message's place, without its text (erased on the server).
                Some(by) => view! {
                    <div class="text"><p><em>{tombstone(by)}</em></p></div>
                }.into_any(),
                None => view! { <Markup text=message.text.clone() mentions=message.mentions.clone() /> }
                    .into_any(),
            }}
            {message.attachment.clone().map(|file| view! { <Attachment file /> })}
            {edited.map(|when| view! { <span class="edited" title=when>"(edited)"</span> })}
            {(!message.reactions.is_empty()).then(|| view! {
                <Reactions seq reactions=message.reactions.clone() />
            })}
            {live.then(|| view! {
                <div class="actions">
                    <button type="button" class="link" on:click=move |_| {
                        state.editing.set(None);
                        state.replying.set(Some(seq));
                    }>"Reply"</button>
                    <button
                        type="button"
                        class="link"
                        id=format!("react-{seq}")
                        aria-expanded=move || (state.reacting.get() == Some(seq)).to_string()
                        on:click=move |_| state.reacting.update(|open| {
                            *open = (*open != Some(seq)).then_some(seq);
                        })
                    >"React"</button>
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
            // A closure, not a <Show>: every row has one, and rows are drawn a screenful a frame.
            {move || (state.reacting.get() == Some(seq)).then(|| view! { <Picker seq /> })}
        </li>
    }
}

/// What a reply answers: its author and the start of its text (or that it was deleted), as a
/// button that brings the original into view, loading older messages until it is there.
#[component]
fn QuoteLink(quote: Quote) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let text = quote
        .deleted
        .map_or(quote.text, |by| tombstone(by).to_owned());
    let label = format!(
        "In reply to {}: “{text}”. Show that message",
        quote.author.name
    );
    view! {
        <button
            type="button"
            class="quote"
            class:gone=quote.deleted.is_some()
            aria-label=label
            on:click=move |_| state.seeking.set(Some(quote.seq))
        >
            <span class="quote-author">{quote.author.name}</span>
            " "
            <span class="quote-text">{text}</span>
        </button>
    }
}

/// What stays in a deleted message's place.
fn tombstone(by: DeletedBy) -> &'static str {
    match by {
        DeletedBy::Author => "Message deleted",
        DeletedBy::Admin => "Removed by an admin",
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
