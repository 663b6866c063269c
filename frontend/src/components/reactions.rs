//! Reactions: a message's emoji with their counts, each a toggle for the reader's own reaction,
//! naming who reacted (on hover, to screen readers, and on a long press on a phone); and the
//! picker, a few frequent emoji plus a field for any other one (the server checks it is one).

use leptos::{ev, html::Input, prelude::*};
use shared::{Reaction, Reactor};

use super::{focus, focus_id};
use crate::{client, state::ChatState};

/// Offered first in the picker.
const FREQUENT: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

/// The reactions to message `seq` of the open room.
#[component]
pub fn Reactions(seq: i64, reactions: Vec<Reaction>) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let me = state
        .me
        .with_untracked(|me| me.as_ref().map(|me| me.id.clone()));
    // Who reacted with what, after a long press (touch screens have no hover).
    let told = RwSignal::new(None::<String>);
    let items = reactions
        .into_iter()
        .map(|Reaction { emoji, by }| {
            let mine = by.iter().any(|r| Some(&r.user.id) == me.as_ref());
            let who = names(&by, me.as_deref());
            let label = format!("{emoji} {}: {who}", by.len());
            let count = by.len();
            let said = format!("{emoji} {who}");
            let shown = emoji.clone();
            view! {
                <li>
                    <button
                        type="button"
                        class="reaction"
                        aria-pressed=mine.to_string()
                        aria-label=label
                        title=who
                        on:click={
                            let emoji = emoji.clone();
                            move |_| react(state, seq, emoji.clone(), !mine)
                        }
                        on:contextmenu=move |event: ev::MouseEvent| {
                            event.prevent_default();
                            told.set(Some(said.clone()));
                        }
                    >
                        {shown}
                        " "
                        {count}
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="reactions" aria-label="Reactions">{items}</ul>
        <p class="reactors" role="status">{move || told.get()}</p>
    }
}

/// The emoji picker of message `seq`: Escape or a choice closes it, giving focus back to its
/// "React" button.
#[component]
pub fn Picker(seq: i64) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let other = NodeRef::<Input>::new();
    let picker = NodeRef::<leptos::html::Div>::new();
    let close = move || {
        state.reacting.set(None);
        focus_id(&format!("react-{seq}"));
    };
    let pick = move |emoji: String| {
        close();
        react(state, seq, emoji, true);
    };
    // Focus goes to the first emoji once the picker is drawn. By then the row may have been
    // drawn again (a change to its message came), this picker gone with it: nothing to do.
    request_animation_frame(move || {
        let first = picker
            .try_get_untracked()
            .flatten()
            .and_then(|picker| picker.query_selector("button").ok().flatten())
            .and_then(|first| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(first).ok());
        focus(first.as_ref(), "the emoji picker");
    });
    let frequent = FREQUENT
        .iter()
        .map(|&emoji| {
            view! {
                <button type="button" class="emoji" on:click=move |_| pick(emoji.to_owned())>
                    {emoji}
                </button>
            }
        })
        .collect_view();
    view! {
        <div
            node_ref=picker
            class="picker"
            role="group"
            aria-label="Add a reaction"
            on:keydown=move |event: ev::KeyboardEvent| {
                if event.key() == "Escape" {
                    event.stop_propagation();
                    close();
                }
            }
        >
            {frequent}
            <form on:submit=move |event: ev::SubmitEvent| {
                event.prevent_default();
                let emoji = other.get_untracked().map(|input| input.value()).unwrap_or_default();
                let emoji = emoji.trim();
                if !emoji.is_empty() {
                    pick(emoji.to_owned());
                }
            }>
                <input node_ref=other class="other-emoji" aria-label="Any emoji" size="4" />
                <button type="submit" class="link">"Add"</button>
            </form>
        </div>
    }
}

/// Adds or takes away the reader's reaction; a refusal shows above the composer.
fn react(state: ChatState, seq: i64, emoji: String, on: bool) {
    let room = state.current.get_untracked();
    client::react(state, room, seq, emoji, on, move |refused| {
        if let Some(error) = refused {
            state.error.set(Some(error.message));
        }
    });
}

/// "You, Ada and Bob": who reacted, the reader first.
fn names(by: &[Reactor], me: Option<&str>) -> String {
    let mut names: Vec<&str> = by
        .iter()
        .filter(|r| Some(r.user.id.as_str()) != me)
        .map(|r| r.user.name.as_str())
        .collect();
    if by.len() > names.len() {
        names.insert(0, "You");
    }
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => [&rest.join(", "), " and ", last].concat(),
        Some((only, _)) => (*only).to_owned(),
        None => String::new(),
    }
}
