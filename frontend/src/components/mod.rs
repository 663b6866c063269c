//! One component per file; they share [`crate::state::ChatState`] through context.

mod app;
mod avatar;
mod composer;
mod header;
mod markup;
mod message_item;
mod message_list;
mod name_dialog;
mod pending_item;
mod room_link;
mod sidebar;

pub use app::App;
