//! Refusals: one list of stable codes, and the `{ code, message }` payload every refusal carries,
//! in an acknowledgement, a `chatError` event or a server function's error body.

use serde::{Deserialize, Serialize};

/// Why a request was refused: stable, machine-readable, serialized as the snake_case strings
/// listed in `docs/PROTOCOL.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload does not have the expected shape, a `clientId` is not 1-64 bytes without
    /// control characters, or a `sync` names more than 100 rooms.
    InvalidPayload,
    EmptyMessage,
    MessageTooLong,
    InvalidCharacters,
    InvalidName,
    InvalidRoom,
    RoomExists,
    RoomNotFound,
    NotAMember,
    /// No message has that sequence number in the room (it may be a change's).
    MessageNotFound,
    /// The message was deleted: there is nothing left to edit or react to.
    MessageDeleted,
    /// A reaction is not one emoji.
    InvalidEmoji,
    /// The message has as many different emoji as it may (20).
    TooManyReactions,
    /// A `mentions` entry that its text does not mention (`@` and the name), with no id, or
    /// more than 20 of them.
    InvalidMention,
    /// A search query without a word (letters or digits), or longer than allowed.
    InvalidQuery,
    /// The room is archived: it can be read, not written to.
    RoomArchived,
    /// An upload is larger than the server takes (`--max-file-size`, 10 MiB unless set): HTTP
    /// 413, nothing stored.
    FileTooLarge,
    /// No file has that id for this user: unknown, in a room they are not in, not yet attached
    /// by its uploader, deleted with its message, or (to attach) not theirs, of another room or
    /// attached already. One answer for all, so it tells nothing of other rooms' files (HTTP 404).
    FileNotFound,
    CannotLeaveDefaultRoom,
    /// The user is in as many rooms as allowed, or the server holds as many rooms as allowed.
    TooManyRooms,
    /// Too many requests of this kind in a short time; nothing was done.
    RateLimited,
    /// The server is handling as many messages as it will at once; nothing was stored.
    Overloaded,
    UnknownSession,
    /// No valid session, or wrong username or password; or this server admits no guests.
    Unauthorized,
    UsernameTaken,
    InvalidUsername,
    InvalidPassword,
    /// This server does not take new accounts now (or needs an invitation it was not given).
    RegistrationClosed,
    /// An admin banned this user: they cannot connect or log in.
    Banned,
    /// The request is not allowed from where it came: a web page of an origin the server does
    /// not accept (HTTP 403).
    Forbidden,
    /// The server cannot reach its database right now; nothing was stored. Send again later.
    Unavailable,
    /// The server failed; the detail is in its log, not in the reply.
    Internal,
    /// Made by a client, never sent by the server: no answer came in time.
    Timeout,
    /// A code this build does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Whether the same request may succeed if sent again a little later, unchanged.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Overloaded | Self::Unavailable
        )
    }
}

/// A refusal the client can show and act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// For programs.
    pub code: ErrorCode,
    /// For people; may change between versions.
    pub message: String,
}

impl ErrorPayload {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The acknowledgement of any request: `{ "status": "ok", ...fields of T }` or
/// `{ "status": "error", "error": { "code", "message" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Ack<T> {
    Ok(T),
    Error { error: ErrorPayload },
}

impl<T> From<Ack<T>> for Result<T, ErrorPayload> {
    fn from(ack: Ack<T>) -> Self {
        match ack {
            Ack::Ok(data) => Ok(data),
            Ack::Error { error } => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Done;

    #[test]
    fn codes_are_the_documented_strings() {
        for (code, wire) in [
            (ErrorCode::InvalidPayload, "invalid_payload"),
            (ErrorCode::NotAMember, "not_a_member"),
            (
                ErrorCode::CannotLeaveDefaultRoom,
                "cannot_leave_default_room",
            ),
            (ErrorCode::TooManyRooms, "too_many_rooms"),
            (ErrorCode::RateLimited, "rate_limited"),
            (ErrorCode::InvalidEmoji, "invalid_emoji"),
            (ErrorCode::TooManyReactions, "too_many_reactions"),
            (ErrorCode::InvalidMention, "invalid_mention"),
            (ErrorCode::InvalidQuery, "invalid_query"),
            (ErrorCode::FileTooLarge, "file_too_large"),
            (ErrorCode::FileNotFound, "file_not_found"),
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(wire));
            assert_eq!(
                serde_json::from_value::<ErrorCode>(json!(wire)).unwrap(),
                code
            );
        }
        let newer: ErrorCode = serde_json::from_value(json!("from_the_future")).unwrap();
        assert_eq!(newer, ErrorCode::Unknown);
    }

    #[test]
    fn acks_are_tagged_by_status() {
        let refused: Ack<Done> = Ack::Error {
            error: ErrorPayload::new(ErrorCode::EmptyMessage, "nope"),
        };
        assert_eq!(
            serde_json::to_value(&refused).unwrap(),
            json!({ "status": "error", "error": { "code": "empty_message", "message": "nope" } })
        );
        let done: Ack<Done> = Ack::Ok(Done {});
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            json!({ "status": "ok" })
        );
        let back: Ack<Done> = serde_json::from_value(json!({ "status": "ok" })).unwrap();
        assert_eq!(back, done);
    }
}
