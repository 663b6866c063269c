//! The message box: Enter sends, Shift+Enter starts a new line. Text is checked with the same
//! rules the server applies; sending goes through the outbox, so it works offline too.

use leptos::{ev, html::Textarea, prelude::*};
use shared::{MAX_MESSAGE_CHARS, ValidationError, validate_text};

use crate::{client, state::ChatState};

/// Show the character count once this close to the limit.
const COUNTER_FROM: usize = MAX_MESSAGE_CHARS - 200;

#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let input = NodeRef::<Textarea>::new();
    let draft = RwSignal::new(String::new());
    let chars = move || draft.with(|draft| draft.chars().count());
    // What is wrong with the draft as it stands, shown while it is wrong and gone once fixed. An
    // empty draft is not wrong: there is just nothing to send yet.
    let problem = Memo::new(move |_| {
        draft.with(|draft| match validate_text(draft) {
            Ok(_) | Err(ValidationError::Empty) => None,
            Err(refusal) => Some(refusal.to_string()),
        })
    });
    let sendable = Memo::new(move |_| draft.with(|draft| validate_text(draft).is_ok()));
    let typing = move || {
        let me = state.me.with(|me| me.as_ref().map(|me| me.id.clone()));
        let names: Vec<String> = state
            .current_room()
            .map(|room| room.typing.get())
            .unwrap_or_default()
            .into_iter()
            .filter(|(user, _)| Some(&user.id) != me.as_ref())
            .map(|(user, _)| user.name)
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => format!("{one} is typing…"),
            [one, two] => format!("{one} and {two} are typing…"),
            _ => "Several people are typing…".to_owned(),
        }
    };

    let send = move || {
        let text = draft.get_untracked();
        // Nothing to send, or a problem already shown beside the box: Enter does nothing.
        if let Ok(text) = validate_text(&text) {
            state.error.set(None);
            client::send(state, state.current.get_untracked(), text.to_owned());
            draft.set(String::new());
        }
        if let Some(input) = input.get_untracked()
            && input.focus().is_err()
        {
            leptos::logging::warn!("could not focus the composer");
        }
    };

    // Once a name is picked, and whenever another room comes on screen (created, joined, left,
    // opened), the next thing to do is write: focus goes to the box, not to <body> or to the
    // control that was used.
    Effect::new(move |first: Option<()>| {
        state.current.track();
        if state.needs_name.get() || first.is_none() {
            return;
        }
        if let Some(input) = input.get_untracked()
            && input.focus().is_err()
        {
            leptos::logging::warn!("could not focus the composer");
        }
    });

    let on_keydown = move |event: ev::KeyboardEvent| {
        // While an IME is composing, Enter picks a candidate; it must not send.
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            send();
        }
    };

    view! {
        <footer class="composer">
            <p class="typing" aria-live="polite">{typing}</p>
            <Show when=move || state.error.get().is_some()>
                <p class="error" role="alert">{move || state.error.get()}</p>
            </Show>
            <Show when=move || problem.get().is_some()>
                <p class="error draft-problem" role="alert">{move || problem.get()}</p>
            </Show>
            <form class="compose-row" on:submit=move |event: ev::SubmitEvent| {
                event.prevent_default();
                send();
            }>
                <textarea
                    node_ref=input
                    rows="1"
                    placeholder=move || format!("Message #{}", state.current.get())
                    aria-label="Message"
                    autofocus
                    prop:value=draft
                    on:input=move |event| {
                        draft.set(event_target_value(&event));
                        client::typing(state);
                    }
                    on:keydown=on_keydown
                ></textarea>
                <button type="submit" disabled=move || !sendable.get()>"Send"</button>
            </form>
            <Show when=move || { chars() >= COUNTER_FROM }>
                <p class="counter" class:over=move || { chars() > MAX_MESSAGE_CHARS }>
                    {move || format!("{} / {MAX_MESSAGE_CHARS}", chars())}
                </p>
            </Show>
        </footer>
    }
}
