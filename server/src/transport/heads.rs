//! Rooms whose live delivery failed between nodes, and the `roomHead` that makes up for it.
//!
//! A message is stored before it is broadcast, so when the broadcast itself fails (the Redis
//! fan-out is down) nothing is lost, but nobody learns of the message until the room's next one
//! reveals the gap. Such rooms are noted here with their newest sequence number, and the
//! background task sends each one's `roomHead` to the room until the adapter takes it: clients
//! behind it catch up with `sync` as soon as the fan-out is back.

use std::{collections::BTreeMap, sync::Mutex};

use shared::{Event, RoomHead};
use socketioxide::{SocketIo, adapter::Adapter};

#[derive(Debug, Default)]
pub struct Heads(Mutex<BTreeMap<String, i64>>);

impl Heads {
    /// The broadcast of message `seq` of `room` failed.
    pub fn missed(&self, room: &str, seq: i64) {
        let mut missed = self.0.lock().expect("heads lock");
        let head = missed.entry(room.to_owned()).or_default();
        *head = (*head).max(seq);
    }

    /// Sends every noted room's head to it; a room whose send fails stays noted for next time.
    pub async fn resend<A: Adapter>(&self, io: &SocketIo<A>) {
        let missed = std::mem::take(&mut *self.0.lock().expect("heads lock"));
        for (room, last_seq) in missed {
            let head = RoomHead { room, last_seq };
            if let Err(error) = io.to(head.room.clone()).emit(RoomHead::NAME, &head).await {
                crate::throttled!(warn, %error, room = %head.room, "the fan-out is still down");
                self.missed(&head.room, head.last_seq);
            } else {
                tracing::info!(room = %head.room, last_seq = head.last_seq, "room head sent after a failed fan-out");
            }
        }
    }
}
