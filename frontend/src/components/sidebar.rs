//! The rooms this user is in, with unread counts; making, finding and joining rooms.

use leptos::{ev, prelude::*};
use shared::{RoomInfo, validate_room};

use super::room_link::RoomLink;
use crate::{client, state::ChatState};

#[component]
pub fn Sidebar() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let new_room = RwSignal::new(String::new());
    let directory = RwSignal::new(None::<Vec<RoomInfo>>);

    let create = move |event: ev::SubmitEvent| {
        event.prevent_default();
        match validate_room(&new_room.get_untracked()) {
            Ok(name) => {
                client::create_room(state, name);
                new_room.set(String::new());
            }
            Err(error) => state.error.set(Some(error.to_string())),
        }
    };
    // One button opens and closes the directory; Escape inside it closes it too.
    let browse = move |_| {
        if directory.with_untracked(Option::is_some) {
            directory.set(None);
        } else {
            client::browse_rooms(state, move |rooms| directory.set(Some(rooms)));
        }
    };
    let close_on_escape = move |event: ev::KeyboardEvent| {
        if event.key() == "Escape" {
            directory.set(None);
        }
    };
    let joined = move || {
        state
            .rooms
            .with(|rooms| rooms.keys().cloned().collect::<Vec<_>>())
    };

    view! {
        // Behind the name picker, the page can be neither focused nor clicked.
        <nav class="sidebar" aria-label="Rooms" prop:inert=move || state.needs_name.get()>
            <h2 class="brand">"Chat"</h2>
            <ul class="rooms">
                <For each=joined key=|name| name.clone() let:name>
                    <RoomLink name />
                </For>
            </ul>
            <form class="new-room" on:submit=create>
                <input
                    type="text"
                    aria-label="New room name"
                    placeholder="new-room"
                    prop:value=new_room
                    on:input=move |event| new_room.set(event_target_value(&event))
                />
                <button type="submit" title="Create room" aria-label="Create room">"+"</button>
            </form>
            <button
                class="link"
                aria-expanded=move || directory.with(Option::is_some).to_string()
                on:click=browse
            >
                {move || if directory.with(Option::is_some) { "Hide rooms" } else { "Browse rooms" }}
            </button>
            {move || directory.get().map(|rooms| {
                let rooms: Vec<RoomInfo> = rooms
                    .into_iter()
                    .filter(|room| state.room(&room.name).is_none())
                    .collect();
                if rooms.is_empty() {
                    return view! {
                        <p class="directory empty" on:keydown=close_on_escape>
                            "You are in every room there is."
                        </p>
                    }
                    .into_any();
                }
                view! {
                    <ul class="directory" on:keydown=close_on_escape>
                        {rooms.into_iter().map(|room| {
                            let name = room.name.clone();
                            view! {
                                <li>
                                    <button class="link" on:click=move |_| {
                                        directory.set(None);
                                        client::join_room(state, name.clone());
                                    }>{format!("Join #{}", room.name)}</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }
                .into_any()
            })}
        </nav>
    }
}
