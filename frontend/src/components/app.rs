//! The page: header, the conversation and the composer.

use leptos::prelude::*;

use super::{composer::Composer, header::Header, message_list::MessageList};
use crate::{socket, state::ChatState};

#[component]
pub fn App() -> impl IntoView {
    let state = ChatState::new();
    provide_context(state);
    socket::connect(state);

    view! {
        <div class="app">
            <Header />
            <MessageList />
            <Composer />
        </div>
    }
}
