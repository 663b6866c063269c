//! Title bar: the open room, who is online in it, who you are, and the connection.

use leptos::prelude::*;
use shared::DEFAULT_ROOM;

use crate::{client, state::ChatState};

#[component]
pub fn Header() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let status = state.status;
    let online = move || {
        state
            .current_room()
            .map(|room| room.online.get())
            .unwrap_or_default()
    };
    let names = move || {
        state
            .current_room()
            .and_then(|room| room.members.get())
            .map(|members| {
                let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
                names.join(", ")
            })
            .unwrap_or_default()
    };
    let my_name = move || state.me.with(|me| me.as_ref().map(|me| me.name.clone()));
    let rename = move |_| {
        let current = my_name().unwrap_or_default();
        if let Ok(Some(name)) = window().prompt_with_message_and_default("Your name", &current)
            && name.trim() != current
        {
            client::rename(state, name);
        }
    };
    let can_leave = move || state.current.get() != DEFAULT_ROOM;

    view! {
        <header class="topbar">
            <div class="room-title">
                <h1 class="title">"# " {move || state.current.get()}</h1>
                <span class="online" title=names>
                    {move || format!("{} online", online())}
                </span>
            </div>
            <Show when=can_leave>
                <button class="link" on:click=move |_| {
                    client::leave_room(state, state.current.get_untracked());
                }>"Leave"</button>
            </Show>
            <button class="whoami link" title="Change your name" on:click=rename>
                {move || my_name().map(|name| view! { <span>"You are " <strong>{name}</strong></span> })}
            </button>
            <span class=move || status.get().class() role="status" aria-live="polite">
                <span class="dot" aria-hidden="true"></span>
                {move || status.get().label()}
            </span>
        </header>
    }
}
