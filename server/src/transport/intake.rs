//! How much this node takes in: a bound on the `chatMessage`s it handles at once.
//!
//! socketioxide runs each event's handler as its own task, as fast as sockets deliver them, so
//! without a bound a flood of messages becomes a flood of waiting tasks. Past the bound a message
//! is refused with `overloaded` (nothing stored, the client retries), so memory stays bounded
//! however far senders go above what the store and the fan-out can take.

use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
pub struct Intake(Semaphore);

impl Intake {
    /// At most `limit` messages handled at once.
    pub fn new(limit: usize) -> Self {
        Self(Semaphore::new(limit))
    }

    /// A slot for one message, held until it is stored, broadcast and acknowledged; `None` when
    /// all are taken.
    pub fn admit(&self) -> Option<SemaphorePermit<'_>> {
        self.0.try_acquire().ok()
    }
}
