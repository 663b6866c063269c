//! The conversation. It follows new messages while the reader is at the bottom and leaves a
//! reader who scrolled up alone, offering a "new messages" button instead.

use leptos::{html::Main, prelude::*};

use super::message_item::MessageItem;
use crate::state::ChatState;

/// How close to the bottom, in pixels, still counts as "at the bottom".
const STICK_THRESHOLD: i32 = 48;

#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let scroller = NodeRef::<Main>::new();
    let at_bottom = RwSignal::new(true);
    let unseen = RwSignal::new(0_usize);

    let scroll_to_bottom = move || {
        if let Some(element) = scroller.get_untracked() {
            element.set_scroll_top(element.scroll_height());
        }
    };

    // Runs after the list has rendered the new message.
    Effect::new(move |previous: Option<usize>| {
        let count = state.messages.with(Vec::len);
        if previous.is_some_and(|previous| count > previous) {
            if at_bottom.get_untracked() {
                scroll_to_bottom();
            } else {
                unseen.update(|unseen| *unseen += count - previous.unwrap_or(count));
            }
        }
        count
    });

    let on_scroll = move |_| {
        if let Some(element) = scroller.get_untracked() {
            let distance = element.scroll_height() - element.scroll_top() - element.client_height();
            let bottom = distance <= STICK_THRESHOLD;
            at_bottom.set(bottom);
            if bottom {
                unseen.set(0);
            }
        }
    };

    view! {
        <main class="conversation" node_ref=scroller on:scroll=on_scroll>
            <Show
                when=move || state.messages.with(|messages| !messages.is_empty())
                fallback=|| view! { <p class="empty">"No messages yet. Say hello!"</p> }
            >
                <ol class="messages" aria-live="polite">
                    <For
                        each=move || state.messages.get()
                        key=|message| message.id.clone()
                        children=|message| view! { <MessageItem message /> }
                    />
                </ol>
            </Show>
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
