//! The message box: Enter sends, Shift+Enter starts a new line. Text is checked with the same
//! rules the server applies before anything goes out.

use leptos::{ev, html::Textarea, prelude::*};
use shared::{ChatInput, MAX_MESSAGE_CHARS, SendAck, validate_text};

use crate::{
    socket,
    state::{ChatState, Status},
};

/// Show the character count once this close to the limit.
const COUNTER_FROM: usize = MAX_MESSAGE_CHARS - 200;

#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let input = NodeRef::<Textarea>::new();
    let draft = RwSignal::new(String::new());
    let connected = move || state.status.get() == Status::Connected;
    let chars = move || draft.with(|draft| draft.chars().count());

    let send = move || {
        let text = draft.get_untracked();
        match validate_text(&text) {
            Ok(text) => {
                state.error.set(None);
                let error = state.error;
                socket::send(&ChatInput::Text(text.to_owned()), move |ack| {
                    if let SendAck::Error { error: refusal } = ack {
                        error.set(Some(refusal.message));
                    }
                });
                draft.set(String::new());
            }
            Err(refusal) => state.error.set(Some(refusal.to_string())),
        }
        if let Some(input) = input.get_untracked() {
            let _ = input.focus();
        }
    };

    let on_keydown = move |event: ev::KeyboardEvent| {
        // While an IME is composing, Enter picks a candidate; it must not send.
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            if connected() {
                send();
            }
        }
    };

    view! {
        <footer class="composer">
            <Show when=move || state.error.get().is_some()>
                <p class="error" role="alert">{move || state.error.get()}</p>
            </Show>
            <form class="compose-row" on:submit=move |event: ev::SubmitEvent| {
                event.prevent_default();
                send();
            }>
                <textarea
                    node_ref=input
                    rows="1"
                    placeholder="Write a message…"
                    aria-label="Message"
                    autofocus
                    prop:value=draft
                    on:input=move |event| draft.set(event_target_value(&event))
                    on:keydown=on_keydown
                ></textarea>
                <button type="submit" disabled=move || !connected()>"Send"</button>
            </form>
            <Show when=move || { chars() >= COUNTER_FROM }>
                <p class="counter" class:over=move || { chars() > MAX_MESSAGE_CHARS }>
                    {move || format!("{} / {MAX_MESSAGE_CHARS}", chars())}
                </p>
            </Show>
        </footer>
    }
}
