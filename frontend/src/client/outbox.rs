//! The outbox: what the user wrote, sent one message at a time in the order written, each
//! with a client id so that a retry is never stored twice.

use leptos::prelude::*;
use shared::{ChatInput, ChatMessage, ErrorCode, FileInfo, Mention, Sent};

use crate::{
    socket,
    state::{ChatState, Delivery, Outgoing, Status},
};

/// How long to hold the outbox after the server said we are sending too fast, is busy, or cannot
/// reach its database: the first two pass within a second, and the last is worth asking about
/// every second or two.
const TRANSIENT_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Queues a message (answering message `reply_to` of the room, if given); it is sent when the
/// connection and the messages before it allow.
pub fn send(
    state: ChatState,
    room: String,
    text: String,
    reply_to: Option<i64>,
    mentions: Vec<Mention>,
    attachment: Option<FileInfo>,
) {
    state.outbox.update(|outbox| {
        outbox.push(Outgoing {
            client_id: new_client_id(),
            room,
            text,
            reply_to,
            mentions,
            attachment,
            delivery: Delivery::Queued,
        });
    });
    pump(state);
}

/// Puts a failed message back in the queue, keeping its client id so it cannot be stored twice.
pub fn retry(state: ChatState, client_id: &str) {
    set_delivery(state, client_id, Delivery::Queued);
    pump(state);
}

/// The connection dropped: unanswered sends go back in the queue. Sending them again is safe
/// (same client id), and the answer of the first attempt, if it ever comes, is ignored.
pub(super) fn requeue(state: ChatState) {
    state.outbox.update(|outbox| {
        for message in outbox
            .iter_mut()
            .filter(|m| matches!(m.delivery, Delivery::Sending | Delivery::Retrying(_)))
        {
            message.delivery = Delivery::Queued;
        }
    });
}

/// A stored message of ours, from any path, settles its entry in the outbox.
pub(super) fn settle(state: ChatState, message: &ChatMessage) {
    if let Some(client_id) = &message.client_id
        && state.is_mine(message)
    {
        remove(state, client_id);
    }
}

fn remove(state: ChatState, client_id: &str) {
    // Most messages are someone else's or settled already: look before writing, so that they
    // do not wake everything that reads the outbox.
    if state
        .outbox
        .with_untracked(|outbox| outbox.iter().any(|m| m.client_id == client_id))
    {
        state
            .outbox
            .update(|outbox| outbox.retain(|m| m.client_id != client_id));
    }
}

/// Sends the first queued message if nothing is in flight; each acknowledgement sends the next,
/// so messages arrive in the order they were written.
pub(super) fn pump(state: ChatState) {
    if state.status.get_untracked() != Status::Connected {
        return;
    }
    let mut next = None;
    state.outbox.update(|outbox| {
        if outbox
            .iter()
            .any(|m| matches!(m.delivery, Delivery::Sending | Delivery::Retrying(_)))
        {
            return;
        }
        if let Some(message) = outbox.iter_mut().find(|m| m.delivery == Delivery::Queued) {
            message.delivery = Delivery::Sending;
            next = Some(message.clone());
        }
    });
    let Some(message) = next else { return };
    let input = ChatInput::Object {
        text: message.text,
        room: Some(message.room),
        client_id: Some(message.client_id.clone()),
        reply_to: message.reply_to,
        mentions: message.mentions,
        attachment: message.attachment.map(|file| file.id),
    };
    let client_id = message.client_id;
    socket::request(&input, move |reply| {
        let delivery = state.outbox.with_untracked(|outbox| {
            outbox
                .iter()
                .find(|m| m.client_id == client_id)
                .map(|m| m.delivery.clone())
        });
        match delivery {
            Some(Delivery::Sending) => {}
            // The connection dropped meanwhile and the message was queued again: the next
            // attempt owns it.
            Some(_) => return,
            // Its broadcast arrived before this acknowledgement and settled it.
            None => return pump(state),
        }
        match reply {
            Ok(Sent { message: stored }) => {
                remove(state, &client_id);
                super::receive(state, vec![stored]);
            }
            Err(error) if error.code.is_transient() => {
                // Said (as "Not sent") only when it lasts: the database being away, not a
                // moment's rate limit.
                let delivery = if error.code == ErrorCode::Unavailable {
                    Delivery::Retrying(error.message)
                } else {
                    Delivery::Queued
                };
                set_delivery(state, &client_id, delivery);
                set_timeout(
                    move || {
                        let retrying = |m: &Outgoing| {
                            m.client_id == client_id && matches!(m.delivery, Delivery::Retrying(_))
                        };
                        if state.outbox.with_untracked(|o| o.iter().any(retrying)) {
                            set_delivery(state, &client_id, Delivery::Queued);
                        }
                        pump(state);
                    },
                    TRANSIENT_PAUSE,
                );
                return;
            }
            Err(error) => set_delivery(state, &client_id, Delivery::Failed(error.message)),
        }
        pump(state);
    });
}

fn set_delivery(state: ChatState, client_id: &str, delivery: Delivery) {
    state.outbox.update(|outbox| {
        if let Some(message) = outbox.iter_mut().find(|m| m.client_id == client_id) {
            message.delivery = delivery;
        }
    });
}

/// A random id for the idempotency key.
fn new_client_id() -> String {
    let mut bytes = [0_u8; 12];
    let filled = window()
        .crypto()
        .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes).map(drop));
    if filled.is_err() {
        leptos::logging::warn!("no secure random source");
    }
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{:x}-{random}", js_sys::Date::now() as u64)
}
