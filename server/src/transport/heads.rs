//! Rooms whose live delivery failed between nodes, and the `roomHead` that makes up for it.
//!
//! A message is stored before it is broadcast, so when the fan-out between nodes (Redis) fails
//! nothing is lost, but nobody learns of the message until the room's next one reveals the gap.
//! Two sides make up for it, both with `roomHead` (clients behind it catch up with `sync`):
//! - the node whose broadcast failed notes the room with its newest sequence number, and the
//!   background task sends the head to the room until the adapter takes it (a retried message
//!   that was stored already is noted too: its first broadcast may never have happened);
//! - a node whose own connection to Redis came back (it may have missed what others published
//!   meanwhile, pub/sub keeps nothing) sends every room's head to its own clients.

use std::{collections::BTreeMap, sync::Mutex};

use shared::{Event, RoomHead};
use socketioxide::{BroadcastError, SocketIo, adapter::Adapter};

use crate::chat::Chat;

#[derive(Debug, Default)]
pub struct Heads(Mutex<BTreeMap<String, i64>>);

impl Heads {
    /// The broadcast of message `seq` of `room` failed.
    pub fn missed(&self, room: &str, seq: i64) {
        let mut missed = self.0.lock().expect("heads lock");
        let head = missed.entry(room.to_owned()).or_default();
        *head = (*head).max(seq);
    }

    /// Sends every noted room's head to it. While the adapter fails, the rooms stay noted for
    /// next time (and no more are tried: each failure waits out a reconnection attempt).
    pub async fn resend<A: Adapter>(&self, io: &SocketIo<A>) {
        let missed = std::mem::take(&mut *self.0.lock().expect("heads lock"));
        let mut rooms = missed.into_iter();
        for (room, last_seq) in rooms.by_ref() {
            let head = RoomHead { room, last_seq };
            match io.to(head.room.clone()).emit(RoomHead::NAME, &head).await {
                Err(BroadcastError::Adapter(error)) => {
                    crate::telemetry::broadcast_missed("adapter", 1);
                    crate::throttled!(warn, %error, room = %head.room, "the fan-out is still down");
                    self.missed(&head.room, head.last_seq);
                    break;
                }
                // A socket that missed it (a full queue) sees the gap at the next message.
                _ => tracing::debug!(room = %head.room, last_seq = head.last_seq, "room head sent"),
            }
        }
        for (room, last_seq) in rooms {
            self.missed(&room, last_seq);
        }
    }
}

/// Sends every room's head, from the store, to this node's clients in it.
pub async fn send_local<A: Adapter>(io: &SocketIo<A>, chat: &Chat) {
    let rooms = match chat.all_rooms().await {
        Ok(rooms) => rooms,
        Err(error) => {
            return crate::throttled!(warn, %error, "cannot read the rooms' heads to resend");
        }
    };
    for room in rooms {
        let head = RoomHead {
            room: room.name,
            last_seq: room.last_seq,
        };
        if let Err(error) = io
            .local()
            .to(head.room.clone())
            .emit(RoomHead::NAME, &head)
            .await
        {
            crate::throttled!(debug, %error, room = %head.room, "a room head missed some sockets");
        }
    }
    tracing::info!("sent every room's head to this node's clients after Redis came back");
}
