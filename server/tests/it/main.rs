//! Integration tests: the real server on a free port, driven by real Socket.io clients.

mod accounts;
mod archive;
mod assets;
mod attachments;
mod broadcast;
mod budgets;
mod changes;
mod connections;
mod delivery;
mod edge;
mod files;
mod helpers;
mod limits;
mod operations;
mod presence;
mod private_rooms;
mod raw;
mod reactions;
mod replies;
mod rooms;
mod search;
mod server_fns;
mod sessions;
mod shutdown;
mod sync;
mod validation;
