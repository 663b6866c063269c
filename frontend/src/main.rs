//! The chat's browser UI. `socket` is the only module that speaks Socket.io, `http` the only one
//! that calls the server functions, `client` holds the behaviour (outbox, sync, history pages, rooms, typing), and components read the shared
//! [`state::ChatState`] from context.

mod client;
mod components;
mod http;
mod socket;
mod state;
mod storage;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(components::App);
}
