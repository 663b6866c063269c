//! Confirming a deletion: it cannot be undone, and everyone sees a tombstone in its place.

use leptos::prelude::*;

use super::{
    dialog::{Modal, close_dialog},
    field::{FormProblem, Problem},
};
use crate::{client, state::ChatState};

#[component]
pub fn DeleteDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let problem: Problem = RwSignal::new(None);
    let room = state.current.get_untracked();
    let seq = state.deleting.get_untracked();
    let theirs = state
        .current_room()
        .zip(seq)
        .and_then(|(held, seq)| {
            held.messages
                .with_untracked(|messages| messages.get(&seq).cloned())
        })
        .is_some_and(|message| !state.is_mine(&message));
    let close = move || {
        state.deleting.set(None);
        close_dialog(state, "composer-box");
    };
    let delete = move |_| {
        let Some(seq) = seq else {
            return close();
        };
        client::delete_message(state, room.clone(), seq, move |refused| match refused {
            Some(error) => problem.set(Some(("", error.message))),
            None => close(),
        });
    };
    let tombstone = if theirs {
        "It disappears for everyone; “Removed by an admin” stays in its place."
    } else {
        "It disappears for everyone; “Message deleted” stays in its place."
    };
    view! {
        <Modal title="Delete this message?" close=Some(Callback::new(move |()| close()))>
            <p>{tombstone}</p>
            <FormProblem problem />
            <div class="dialog-actions">
                <button type="button" class="secondary" on:click=move |_| close()>"Cancel"</button>
                <button type="button" class="danger" on:click=delete>"Delete"</button>
            </div>
        </Modal>
    }
}
