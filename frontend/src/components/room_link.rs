//! One room (or direct conversation) in the sidebar: a link that opens it, with its unread and
//! mention counts.

use leptos::{ev, prelude::*};

use crate::{client, state::ChatState};

#[component]
pub fn RoomLink(name: String) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let room = state.room(&name);
    let target = name.clone();
    let label = {
        let name = name.clone();
        move || state.room_heading(&name)
    };
    let active = Memo::new(move |_| state.current.get() == name);
    let unread = move || room.map(|room| room.unread()).unwrap_or_default();
    let mentions = move || room.map(|room| room.mentions.get()).unwrap_or_default();

    view! {
        <li>
            <a
                href=format!("/r/{target}")
                class="room-link"
                class:active=active
                class:unread=move || { unread() > 0 && !active.get() }
                aria-current=move || active.get().then_some("page")
                on:click=move |event: ev::MouseEvent| {
                    event.prevent_default();
                    client::open_room(state, target.clone());
                }
            >
                <span>{label}</span>
                <Show when=move || { mentions() > 0 && !active.get() }>
                    <span class="badge mention">
                        "@" {mentions}
                        <span class="visually-hidden">
                            {move || if mentions() == 1 { " mention" } else { " mentions" }}
                        </span>
                    </span>
                </Show>
                <Show when=move || { unread() > 0 && !active.get() }>
                    <span class="badge">
                        {unread}
                        <span class="visually-hidden">" unread"</span>
                    </span>
                </Show>
            </a>
        </li>
    }
}
