//! One component per file; they share [`crate::state::ChatState`] through context.

mod app;
mod composer;
mod header;
mod message_item;
mod message_list;
mod name_picker;
mod pending_item;
mod room_link;
mod sidebar;

pub use app::App;
