//! Integration tests: the real server on a free port, driven by real Socket.io clients.

mod assets;
mod attachments;
mod broadcast;
mod delivery;
mod helpers;
mod limits;
mod raw;
mod rooms;
mod shutdown;
mod validation;
