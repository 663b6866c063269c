//! Title bar: the room list button (on a phone), the open room (or direct conversation) and who
//! is in it, each of them a way to write to them directly, the room's notification choice,
//! leaving, and the connection (with "try now" while it is lost).

use leptos::prelude::*;
use shared::{Author, DEFAULT_ROOM, Role};

use super::{
    avatar::Avatar,
    message_item::{clock, handle},
};
use crate::{
    client,
    state::{ChatState, Dialog, Status},
    storage,
};

#[component]
pub fn Header() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let status = state.status;
    let connected = move || status.get() == Status::Connected;
    let online = move || {
        state
            .current_room()
            .map(|room| room.online.get())
            .unwrap_or_default()
    };
    let members_open = RwSignal::new(false);
    // Another room, another list: it starts closed.
    Effect::new(move |_| {
        state.current.track();
        members_open.set(false);
    });
    let can_leave = move || state.current.get() != DEFAULT_ROOM;
    let direct = move || state.current_room().is_some_and(|room| room.is_direct());
    // A private room, which its members bring others into; a direct conversation is private
    // too, but its people are fixed.
    let private = move || state.current_room().is_some_and(|room| room.private) && !direct();
    let archived = move || state.current_room().is_some_and(|room| room.archived.get());
    // An admin archives a room (not #general) or takes it out of the archive.
    let can_archive = move || {
        can_leave()
            && !direct()
            && state
                .account
                .with(|account| account.as_ref().is_some_and(|a| a.role == Role::Admin))
    };
    let notify_all = RwSignal::new(false);
    Effect::new(move |_| notify_all.set(storage::notify_room(&state.current.get())));
    let toggle_notify_all = move |_| {
        let all = !notify_all.get_untracked();
        storage::set_notify_room(&state.current.get_untracked(), all);
        notify_all.set(all);
    };

    view! {
        <header class="topbar">
            <button
                id="drawer-button"
                class="drawer-button"
                aria-controls="rooms-nav"
                aria-expanded=move || state.drawer.get().to_string()
                on:click=move |_| state.drawer.update(|open| *open = !*open)
            >
                <span aria-hidden="true">"☰"</span>
                " Rooms"
                <Show when=move || { state.unread() > 0 }>
                    <span class="badge">
                        {move || state.unread()}
                        <span class="visually-hidden">" unread"</span>
                    </span>
                </Show>
            </button>
            <div class="room-title">
                <h1 class="title">
                    {move || state.room_heading(&state.current.get())}
                    <Show when=private>
                        <span class="private-mark">" (private)"</span>
                    </Show>
                    <Show when=archived>
                        <span class="private-mark">" (archived)"</span>
                    </Show>
                </h1>
                <button
                    class="link online"
                    aria-expanded=move || members_open.get().to_string()
                    aria-controls=move || members_open.get().then_some("members")
                    disabled=move || !connected()
                    on:click=move |_| members_open.update(|open| *open = !*open)
                >
                    {move || if connected() { format!("{} online", online()) } else { "Online: unknown while offline".to_owned() }}
                </button>
            </div>
            // Only while notifications are on: the choice means nothing otherwise.
            <Show when=move || state.notifications.get()>
                <button
                    class="link"
                    aria-pressed=move || notify_all.get().to_string()
                    title="Desktop notifications for every message here, not only mentions"
                    on:click=toggle_notify_all
                >
                    "Notify all"
                </button>
            </Show>
            <button id="search-button" class="link" aria-haspopup="dialog" aria-keyshortcuts="Control+K"
                on:click=move |_| state.dialog.set(Some(Dialog::Search))>
                "Search"
            </button>
            <Show when=private>
                <button id="invite-button" class="link" aria-haspopup="dialog"
                    on:click=move |_| state.dialog.set(Some(Dialog::Invite))>
                    "Invite"
                </button>
            </Show>
            <Show when=can_archive>
                <button class="link" on:click=move |_| {
                    client::archive_room(state, state.current.get_untracked(), !archived());
                }>{move || if archived() { "Unarchive" } else { "Archive" }}</button>
            </Show>
            <Show when=can_leave>
                <button class="link" on:click=move |_| {
                    client::leave_room(state, state.current.get_untracked());
                }>"Leave"</button>
            </Show>
            <span class=move || status.get().class() role="status">
                <span class="dot" aria-hidden="true"></span>
                {move || status.get().label()}
                {move || state.offline_since.get().map(|since| format!(" since {}", clock(&js_sys::Date::new(&since.into()))))}
            </span>
            <Show when=move || status.get() == Status::Reconnecting>
                <button class="link" on:click=move |_| client::reconnect_now()>"Try now"</button>
            </Show>
            <Show when=move || members_open.get()>
                <MemberList />
            </Show>
        </header>
    }
}

/// Who is online in the open room. Two people with one name are told apart by their colour and
/// a short tag from their id.
#[component]
fn MemberList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let members = move || {
        state
            .current_room()
            .and_then(|room| room.members.get())
            .unwrap_or_default()
    };
    view! {
        <ul id="members" class="members" aria-label="Online in this room">
            {move || {
                let members = members();
                members.iter().map(|member| {
                    let twin = members.iter().any(|other| other.id != member.id && other.name == member.name);
                    member_row(state, member.clone(), twin)
                }).collect_view()
            }}
        </ul>
    }
}

/// One person online: who, and (for anyone but the user) a button that opens the direct
/// conversation with them.
fn member_row(state: ChatState, member: Author, twin: bool) -> impl IntoView {
    let me = state
        .me
        .with_untracked(|me| me.as_ref().is_some_and(|me| me.id == member.id));
    let tag = twin.then(|| {
        let short: String = member
            .id
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(" #{short}")
    });
    view! {
        <li>
            <Avatar author=member.clone() />
            <span>
                {member.name.clone()} {tag}
                <span class="handle">" " {handle(&member)}</span>
                {me.then_some(" (you)")}
            </span>
            {(!me).then(|| {
                let id = member.id.clone();
                view! {
                    <button type="button" class="link" aria-label=format!("Message {} directly", member.name)
                        on:click=move |_| client::open_direct(state, id.clone())>
                        "Message"
                    </button>
                }
            })}
        </li>
    }
}
