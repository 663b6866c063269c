//! The one edge where a refusal becomes what a client sees, for socket handlers, the handshake
//! and the server functions alike: a stable code and a message safe to show. Internal detail
//! (storage errors) goes to the log at error level, never to the client.

use shared::ErrorPayload;

use crate::{chat::ChatError, store::StoreError};

/// What the client is told about `error`.
pub fn refusal(error: &ChatError) -> ErrorPayload {
    if let ChatError::Store(detail) = error {
        crate::throttled!(error, %detail, "storage failed");
        let message = match detail {
            StoreError::Unavailable(_) => "The server cannot reach its database right now.",
            _ => "The server could not do that right now; try again.",
        };
        return ErrorPayload::new(error.code(), message);
    }
    ErrorPayload::new(error.code(), error.to_string())
}
