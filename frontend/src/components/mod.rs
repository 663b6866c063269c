//! One component per file; they share [`crate::state::ChatState`] through context.

mod account;
mod app;
mod attachment;
mod avatar;
mod composer;
mod delete;
mod dialog;
mod field;
mod header;
mod invite;
mod markup;
mod message_item;
mod message_list;
mod name_dialog;
mod pending_item;
mod people;
mod reactions;
mod room_link;
mod search;
mod sidebar;
mod sign_in;

pub use app::App;

/// Gives focus to `element`, with a warning naming `what` if it cannot take it.
fn focus(element: Option<&web_sys::HtmlElement>, what: &str) {
    if let Some(element) = element
        && element.focus().is_err()
    {
        leptos::logging::warn!("could not focus {what}");
    }
}

/// Gives focus back to the control with `id`, as when what it opened closes.
fn focus_id(id: &str) {
    let element = leptos::prelude::document()
        .get_element_by_id(id)
        .and_then(|element| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(element).ok());
    focus(element.as_ref(), id);
}
