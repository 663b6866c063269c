//! First visit: pick the name others will see. It is kept in the browser with the session.

use leptos::{ev, html::Input, prelude::*};
use shared::{MAX_NAME_CHARS, validate_name};

use crate::{client, state::ChatState, storage};

#[component]
pub fn NamePicker() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let name = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let field = NodeRef::<Input>::new();
    // The dialog is the only thing on the page that takes input: what the person types first
    // is their name.
    Effect::new(move |_| {
        if let Some(field) = field.get()
            && field.focus().is_err()
        {
            leptos::logging::warn!("could not focus the name field");
        }
    });

    let submit = move |event: ev::SubmitEvent| {
        event.prevent_default();
        match validate_name(&name.get_untracked()) {
            Ok(valid) => {
                storage::set_name(valid);
                state.needs_name.set(false);
                client::start(state);
            }
            Err(error) => problem.set(Some(error.to_string())),
        }
    };

    view! {
        // The dialog role goes on a container: a form may not carry it.
        <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="name-picker-title">
            <form class="dialog" on:submit=submit>
                <h2 id="name-picker-title">"Welcome"</h2>
                <p>"Pick the name others will see. You can change it later."</p>
                <input
                    type="text"
                    aria-label="Your name"
                    placeholder="Your name"
                    maxlength=MAX_NAME_CHARS
                    node_ref=field
                    prop:value=name
                    on:input=move |event| name.set(event_target_value(&event))
                />
                <Show when=move || problem.get().is_some()>
                    <p class="error" role="alert">{move || problem.get()}</p>
                </Show>
                <button type="submit">"Start chatting"</button>
            </form>
        </div>
    }
}
