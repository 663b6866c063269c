//! One component per file; they share [`crate::state::ChatState`] through context.

mod app;
mod composer;
mod header;
mod message_item;
mod message_list;

pub use app::App;
