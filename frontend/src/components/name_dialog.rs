//! The name others see: picked on the first visit (before connecting) to chat as a guest, with
//! logging in and creating an account beside it; changed later from the sidebar. Escape or
//! Cancel closes it when a name is already set.

use leptos::{ev, prelude::*};
use shared::{MAX_NAME_CHARS, validate_name};

use super::dialog::{Modal, close_dialog};
use crate::{
    client,
    state::{ChatState, Dialog},
    storage,
};

#[component]
pub fn NameDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let first_visit = state.dialog.get_untracked() == Some(Dialog::Welcome);
    let current = state
        .me
        .with_untracked(|me| me.as_ref().map(|me| me.name.clone()))
        .unwrap_or_default();
    let name = RwSignal::new(current.clone());
    let problem = RwSignal::new(None::<String>);
    // Back to the control that opened the dialog.
    let close = move || close_dialog(state, "rename");

    let submit = move |event: ev::SubmitEvent| {
        event.prevent_default();
        let typed = name.get_untracked();
        let valid = match validate_name(&typed) {
            Ok(valid) => valid.to_owned(),
            Err(error) => return problem.set(Some(error.to_string())),
        };
        if first_visit {
            storage::set_name(&valid);
            close_dialog(state, "composer-box");
            client::connect(state);
        } else if valid == current {
            close();
        } else {
            client::rename(state, valid, move |refused| match refused {
                Some(why) => problem.set(Some(why)),
                None => close(),
            });
        }
    };
    let (title, intro, action) = if first_visit {
        (
            "Welcome",
            "Pick the name others will see to chat as a guest. You can change it later.",
            "Start chatting",
        )
    } else {
        (
            "Change your name",
            "Everyone sees the new name from now on.",
            "Save name",
        )
    };
    let setup = move || {
        state
            .server
            .with(|info| info.as_ref().is_some_and(|info| info.setup))
    };
    let open = move |dialog| move |_| state.dialog.set(Some(dialog));

    view! {
        <Modal title close=(!first_visit).then(|| Callback::new(move |()| close()))>
            <form on:submit=submit>
                <p>{intro}</p>
                <input
                    type="text"
                    aria-label="Your name"
                    aria-describedby="name-problem"
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                    placeholder="Your name"
                    autocomplete="nickname"
                    maxlength=MAX_NAME_CHARS
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
                <Show when=move || first_visit>
                    <Show when=setup>
                        <p class="why">"This chat is new: the first account created becomes its admin."</p>
                    </Show>
                    <p class="alternatives">
                        <button type="button" class="link" on:click=open(Dialog::LogIn)>"Log in"</button>
                        <button type="button" class="link" on:click=open(Dialog::SignUp)>"Create account"</button>
                    </p>
                </Show>
            </form>
        </Modal>
    }
}
