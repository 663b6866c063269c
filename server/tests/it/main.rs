//! Integration tests: the real server on a free port, driven by real Socket.io clients.

mod assets;
mod broadcast;
mod budgets;
mod delivery;
mod helpers;
mod limits;
mod presence;
mod raw;
mod rooms;
mod sessions;
mod sync;
mod validation;
