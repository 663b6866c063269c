//! The name others see: picked on the first visit (before connecting), changed later from the
//! sidebar. A modal dialog: the page behind is inert, focus starts in the field, Escape or
//! Cancel closes it when a name is already set.

use leptos::{ev, html::Input, prelude::*};
use shared::{MAX_NAME_CHARS, validate_name};

use super::focus_id;
use crate::{client, state::ChatState, storage};

#[component]
pub fn NameDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let first_visit = state.needs_name.get_untracked();
    let current = state
        .me
        .with_untracked(|me| me.as_ref().map(|me| me.name.clone()))
        .unwrap_or_default();
    let name = RwSignal::new(current.clone());
    let problem = RwSignal::new(None::<String>);
    let field = NodeRef::<Input>::new();
    // What the person types first goes into the field.
    Effect::new(move |_| {
        if let Some(field) = field.get() {
            if field.focus().is_err() {
                leptos::logging::warn!("could not focus the name field");
            }
            field.select();
        }
    });
    let close = move || {
        state.renaming.set(false);
        // Back to the control that opened the dialog.
        focus_id("rename");
    };

    let submit = move |event: ev::SubmitEvent| {
        event.prevent_default();
        let typed = name.get_untracked();
        let valid = match validate_name(&typed) {
            Ok(valid) => valid.to_owned(),
            Err(error) => return problem.set(Some(error.to_string())),
        };
        if first_visit {
            storage::set_name(&valid);
            state.needs_name.set(false);
            client::start(state);
        } else if valid == current {
            close();
        } else {
            client::rename(state, valid, move |refused| match refused {
                Some(why) => problem.set(Some(why)),
                None => close(),
            });
        }
    };
    let on_keydown = move |event: ev::KeyboardEvent| {
        if event.key() == "Escape" && !first_visit {
            event.prevent_default();
            close();
        }
    };
    let (title, intro, action) = if first_visit {
        (
            "Welcome",
            "Pick the name others will see. You can change it later.",
            "Start chatting",
        )
    } else {
        (
            "Change your name",
            "Everyone sees the new name from now on.",
            "Save name",
        )
    };

    view! {
        // The dialog role goes on a container: a form may not carry it.
        <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="name-dialog-title"
            on:keydown=on_keydown>
            <form class="dialog" on:submit=submit>
                <h2 id="name-dialog-title">{title}</h2>
                <p>{intro}</p>
                <input
                    type="text"
                    aria-label="Your name"
                    aria-describedby="name-problem"
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                    placeholder="Your name"
                    autocomplete="nickname"
                    maxlength=MAX_NAME_CHARS
                    node_ref=field
                    prop:value=name
                    on:input=move |event| {
                        name.set(event_target_value(&event));
                        problem.set(None);
                    }
                />
                <p id="name-problem" class="error" role="alert">{move || problem.get()}</p>
                <div class="dialog-actions">
                    <Show when=move || !first_visit>
                        <button type="button" class="secondary" on:click=move |_| close()>
                            "Cancel"
                        </button>
                    </Show>
                    <button type="submit">{action}</button>
                </div>
            </form>
        </div>
    }
}
