//! The frame every dialog shares: modal over the page (which is inert meanwhile), named by its
//! heading, focus on its first control when it opens, Escape closing it when it may be closed.

use leptos::{ev, html::Div, prelude::*};
use wasm_bindgen::JsCast;

use super::focus;

#[component]
pub fn Modal(
    title: &'static str,
    /// Escape calls it; `None`: the dialog must be answered (a first visit).
    close: Option<Callback<()>>,
    /// For dialogs with sections (the account), wider than a form's.
    #[prop(optional)]
    wide: bool,
    children: Children,
) -> impl IntoView {
    let root = NodeRef::<Div>::new();
    // What the person types first goes into the first field, selected (a name to change).
    Effect::new(move |_| {
        let Some(root) = root.get() else {
            return;
        };
        let first = root
            .query_selector("input:not([hidden]), button")
            .ok()
            .flatten()
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
        focus(first.as_ref(), "the dialog");
        if let Some(input) =
            first.and_then(|first| first.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.select();
        }
    });
    let on_keydown = move |event: ev::KeyboardEvent| {
        if event.key() == "Escape"
            && let Some(close) = close
        {
            // Not also the page's own Escape (closing the phone's drawer under the dialog).
            event.stop_propagation();
            event.prevent_default();
            close.run(());
        }
    };

    view! {
        <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="dialog-title"
            node_ref=root on:keydown=on_keydown>
            <div class="dialog" class:wide=wide>
                <h2 id="dialog-title">{title}</h2>
                {children()}
            </div>
        </div>
    }
}

/// Closes the open dialog and gives focus to the control `id` (the one that opened it, or the
/// message box), once the page behind is no longer inert.
pub fn close_dialog(state: crate::state::ChatState, id: &'static str) {
    state.dialog.set(None);
    request_animation_frame(move || super::focus_id(id));
}
