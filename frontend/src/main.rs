//! The chat's browser UI. `socket` is the only module that talks to the network; components
//! read and change the shared [`state::ChatState`] from context.

mod components;
mod socket;
mod state;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(components::App);
}
