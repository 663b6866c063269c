//! Bringing someone into the open private room by their username; several in a row, each one
//! confirmed, until closed.

use leptos::{ev, prelude::*};
use shared::MAX_USERNAME_CHARS;

use super::{
    dialog::{Modal, close_dialog},
    field::{Field, Problem},
};
use crate::{client, state::ChatState};

#[component]
pub fn InviteDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let room = state.current.get_untracked();
    let username = RwSignal::new(String::new());
    let problem: Problem = RwSignal::new(None);
    let invited = RwSignal::new(None::<String>);
    let close = move || close_dialog(state, "invite-button");
    let submit = move |event: ev::SubmitEvent| {
        event.prevent_default();
        invited.set(None);
        let typed = username.get_untracked().trim().to_owned();
        if typed.is_empty() {
            return problem.set(Some(("invitee", "Type their username.".to_owned())));
        }
        client::invite(room.clone(), typed.clone(), move |refused| match refused {
            Some(error) => problem.set(Some(("invitee", error.message))),
            None => {
                username.set(String::new());
                invited.set(Some(typed));
            }
        });
    };
    let intro = format!(
        "#{} is private: only its members can find and read it. Whoever you add can read all of it.",
        state.current.get_untracked()
    );
    view! {
        <Modal title="Invite someone" close=Some(Callback::new(move |()| close()))>
            <form on:submit=submit>
                <p>{intro}</p>
                <Field id="invitee" label="Their username" value=username problem
                    autocomplete="off" maxlength=MAX_USERNAME_CHARS + 1 />
                <p role="status" class="done">
                    {move || invited.get().map(|who| format!("Added {who}."))}
                </p>
                <div class="dialog-actions">
                    <button type="button" class="secondary" on:click=move |_| close()>"Done"</button>
                    <button type="submit">"Add to room"</button>
                </div>
            </form>
        </Modal>
    }
}
