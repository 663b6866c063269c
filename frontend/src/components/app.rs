//! The page: rooms on the side, the open room's conversation, and the composer.

use leptos::prelude::*;

use super::{
    composer::Composer, header::Header, message_list::MessageList, name_picker::NamePicker,
    sidebar::Sidebar,
};
use crate::{
    client,
    state::{ChatState, room_from_path},
    storage,
};

#[component]
pub fn App() -> impl IntoView {
    let path = window().location().pathname().unwrap_or_default();
    let needs_name = storage::token().is_none() && storage::name().is_none();
    let state = ChatState::new(room_from_path(&path), needs_name);
    provide_context(state);
    client::follow_navigation(state);
    if !needs_name {
        client::start(state);
    }

    view! {
        <div class="app">
            <Sidebar />
            // Behind the name picker, the page can be neither focused nor clicked.
            <section class="room" prop:inert=move || state.needs_name.get()>
                <Header />
                <MessageList />
                <Composer />
            </section>
            <Show when=move || state.needs_name.get()>
                <NamePicker />
            </Show>
        </div>
    }
}
