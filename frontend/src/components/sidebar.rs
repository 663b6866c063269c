//! The rooms this user is in, and apart from them their direct conversations, with unread and
//! mention counts; making, finding and joining rooms; who the user is, their name, account and notifications. On a phone it is a drawer,
//! opened from the header.

use leptos::{ev, html::Nav, prelude::*};
use shared::{RoomInfo, validate_room};

use super::{avatar::Avatar, focus, focus_id, room_link::RoomLink};
use crate::{
    client,
    state::{ChatState, Dialog},
};

#[component]
pub fn Sidebar() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let new_room = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let directory = RwSignal::new(None::<Vec<RoomInfo>>);
    let nav = NodeRef::<Nav>::new();

    let create = move |event: ev::SubmitEvent| {
        event.prevent_default();
        match validate_room(&new_room.get_untracked()) {
            Ok(name) => {
                client::create_room(state, name, private.get_untracked());
                new_room.set(String::new());
                private.set(false);
            }
            Err(error) => state.room_error.set(Some(error.to_string())),
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
    let on_keydown = move |event: ev::KeyboardEvent| {
        // Escape closes the directory first; the page's own Escape (closing the drawer) waits
        // for the next press.
        if event.key() == "Escape" && directory.with_untracked(Option::is_some) {
            event.stop_propagation();
            directory.set(None);
        }
    };
    // Opened on a phone, the drawer takes focus to its first room, once it is shown (a hidden
    // link cannot take focus).
    Effect::new(move |_| {
        if !state.drawer.get() {
            return;
        }
        request_animation_frame(move || {
            // Closed again before this frame (Escape pressed at once): focus stays where
            // closing put it.
            if !state.drawer.get_untracked() {
                return;
            }
            let link = nav
                .get_untracked()
                .and_then(|nav| nav.query_selector(".room-link").ok().flatten())
                .and_then(|link| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(link).ok());
            focus(link.as_ref(), "the room list");
        });
    });
    let joined = move |direct| state.listed(direct);
    let me = move || state.me.get();
    let open = move |dialog| move |_| state.dialog.set(Some(dialog));
    let notifications = state.notifications;
    let toggle_notifications =
        move |_| client::set_notifications(state, !notifications.get_untracked());

    view! {
        <nav
            id="rooms-nav"
            class="sidebar"
            aria-label="Rooms"
            node_ref=nav
            on:keydown=on_keydown
            prop:inert=move || state.dialog.with(Option::is_some)
        >
            <h2 class="brand">"Chat"</h2>
            <ul class="rooms" aria-keyshortcuts="Alt+ArrowUp Alt+ArrowDown">
                <For each=move || joined(false) key=|name| name.clone() let:name>
                    <RoomLink name />
                </For>
            </ul>
            <Show when=move || !joined(true).is_empty()>
                <h3 id="direct-heading" class="list-heading">"Direct messages"</h3>
                <ul class="rooms" aria-labelledby="direct-heading">
                    <For each=move || joined(true) key=|name| name.clone() let:name>
                        <RoomLink name />
                    </For>
                </ul>
            </Show>
            <form class="new-room" on:submit=create>
                <input
                    type="text"
                    aria-label="New room name"
                    aria-describedby="room-problem"
                    aria-invalid=move || state.room_error.with(Option::is_some).to_string()
                    placeholder="new-room"
                    prop:value=new_room
                    on:input=move |event| {
                        new_room.set(event_target_value(&event));
                        state.room_error.set(None);
                    }
                />
                <button type="submit" aria-label="Create room">"Create"</button>
                <label class="choice">
                    <input type="checkbox" prop:checked=private
                        on:change=move |event| private.set(event_target_checked(&event)) />
                    "Private: only people invited can find it"
                </label>
            </form>
            <p id="room-problem" class="error" role="alert">{move || state.room_error.get()}</p>
            <button
                class="link"
                aria-expanded=move || directory.with(Option::is_some).to_string()
                aria-controls="directory"
                on:click=browse
            >
                {move || if directory.with(Option::is_some) { "Hide rooms" } else { "Browse rooms" }}
            </button>
            <div id="directory">
                {move || directory.get().map(|rooms| directory_view(state, directory, rooms))}
            </div>
            <div class="account">
                {move || me().map(|me| view! {
                    <Avatar author=me.clone() />
                    <span class="me-name">
                        "You are " <strong>{me.name}</strong>
                        {move || state.account.get().map(|account| view! {
                            <span class="handle">"@" {account.username}</span>
                        })}
                    </span>
                })}
                <Show
                    when=move || state.account.with(Option::is_some)
                    fallback=move || view! {
                        <button id="log-in" class="link" on:click=open(Dialog::LogIn)>"Log in"</button>
                        <button id="sign-up" class="link" on:click=open(Dialog::SignUp)>
                            "Create account"
                        </button>
                    }
                >
                    <button id="account-button" class="link" aria-haspopup="dialog"
                        on:click=open(Dialog::Account)>
                        "Your account"
                    </button>
                </Show>
                <button id="rename" class="link" on:click=open(Dialog::Rename)>
                    "Change name"
                </button>
                <button
                    class="link"
                    aria-pressed=move || notifications.get().to_string()
                    on:click=toggle_notifications
                >
                    "Notify me of mentions"
                </button>
            </div>
        </nav>
        <div class="backdrop" aria-hidden="true" on:click=move |_| close_drawer(state)></div>
    }
}

/// Closes the phone's room drawer, back to the button that opened it.
pub fn close_drawer(state: ChatState) {
    state.drawer.set(false);
    focus_id("drawer-button");
}

/// The rooms the user is not in, each with a button to join it.
fn directory_view(
    state: ChatState,
    directory: RwSignal<Option<Vec<RoomInfo>>>,
    rooms: Vec<RoomInfo>,
) -> AnyView {
    let rooms: Vec<RoomInfo> = rooms
        .into_iter()
        .filter(|room| state.room(&room.name).is_none())
        .collect();
    if rooms.is_empty() {
        return view! { <p class="directory empty">"You are in every room there is."</p> }
            .into_any();
    }
    view! {
        <ul class="directory" aria-label="Other rooms">
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
}
