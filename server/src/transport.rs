//! Socket.io transport: the only module that knows event names and payload encodings.
//!
//! Handlers are generic over socketioxide's [`Adapter`] so the same code runs on the in-memory
//! adapter today and on a shared (Redis) adapter when several nodes serve one chat.

use std::{convert::Infallible, sync::Arc};

use serde::Serialize;
use shared::{ChatInput, ErrorPayload, SendAck, Welcome, event};
use socketioxide::{
    SocketIo,
    adapter::Adapter,
    extract::{AckSender, SocketRef, State, TryData},
    handler::{FromMessageParts, Value},
    socket::{DisconnectReason, Socket},
};

use crate::chat::{self, Chat};

/// A new connection: greet it and listen for its messages.
pub async fn on_connect<A: Adapter>(socket: SocketRef<A>, State(chat): State<Chat>) {
    let online = chat.connected();
    tracing::info!(sid = %socket.id, transport = ?socket.transport_type(), online, "client connected");

    socket.on(event::CHAT_MESSAGE, on_chat_message::<A>);
    socket.on_disconnect(on_disconnect::<A>);

    let welcome = Welcome {
        author: chat::guest(socket.id.as_str()),
        max_message_chars: shared::MAX_MESSAGE_CHARS,
    };
    if let Err(error) = socket.emit(event::WELCOME, &welcome) {
        tracing::warn!(sid = %socket.id, %error, "could not send the welcome");
    }
}

async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    reason: DisconnectReason,
    State(chat): State<Chat>,
) {
    let online = chat.disconnected();
    tracing::info!(sid = %socket.id, %reason, online, "client disconnected");
}

/// `chatMessage`: validate, stamp, broadcast to everyone (sender included), then acknowledge.
async fn on_chat_message<A: Adapter>(
    io: SocketIo<A>,
    socket: SocketRef<A>,
    TryData(input): TryData<ChatInput>,
    reply: Reply<A>,
    State(chat): State<Chat>,
) {
    let input = match input {
        Ok(input) => input,
        Err(error) => {
            tracing::debug!(sid = %socket.id, %error, "undecodable chatMessage");
            return reply.error(ErrorPayload {
                code: "invalid_payload".into(),
                message: "chatMessage takes a string or an object with a string `text`".into(),
            });
        }
    };
    let message = match chat.accept(chat::guest(socket.id.as_str()), input) {
        Ok(message) => message,
        Err(error) => return reply.error((&error).into()),
    };
    if let Err(error) = io.emit(event::CHAT_MESSAGE, &message).await {
        tracing::error!(sid = %socket.id, %error, "broadcast failed");
        return reply.error(ErrorPayload {
            code: "internal".into(),
            message: "the message could not be delivered; try again".into(),
        });
    }
    reply.ok(&SendAck::Ok { message });
}

/// How to answer a client's request: through its acknowledgement callback if it asked for one,
/// otherwise with an `error` event for refusals (and nothing for successes, as in the seed).
struct Reply<A: Adapter> {
    socket: SocketRef<A>,
    ack: AckSender<A>,
    wants_ack: bool,
}

impl<A: Adapter> Reply<A> {
    fn ok(self, ack: &impl Serialize) {
        if self.wants_ack {
            self.send_ack(ack);
        }
    }

    fn error(self, error: ErrorPayload) {
        tracing::debug!(sid = %self.socket.id, code = %error.code, "request refused");
        if self.wants_ack {
            self.send_ack(&SendAck::Error { error });
        } else if let Err(send_error) = self.socket.emit(event::ERROR, &error) {
            tracing::warn!(sid = %self.socket.id, %send_error, "could not send an error event");
        }
    }

    fn send_ack(self, ack: &impl Serialize) {
        if let Err(error) = self.ack.send(ack) {
            tracing::warn!(sid = %self.socket.id, %error, "could not send an acknowledgement");
        }
    }
}

impl<A: Adapter> FromMessageParts<A> for Reply<A> {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self {
            socket: SocketRef::from(socket.clone()),
            ack: AckSender::from_message_parts(socket, value, ack_id)?,
            wants_ack: ack_id.is_some(),
        })
    }
}
