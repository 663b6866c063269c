//! The one definition of an acceptable message, run by the UI before sending and by the server
//! before broadcasting.

use thiserror::Error;

/// Longest accepted message, in Unicode scalar values (what people count as characters).
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("message is empty")]
    Empty,
    #[error("message is {chars} characters long; the limit is {MAX_MESSAGE_CHARS}")]
    TooLong { chars: usize },
    #[error("message contains control characters")]
    ControlCharacters,
}

impl ValidationError {
    /// The stable code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_message",
            Self::TooLong { .. } => "message_too_long",
            Self::ControlCharacters => "invalid_characters",
        }
    }
}

/// Trims surrounding white space and checks what is left; returns the text to store and show.
///
/// Newlines and tabs inside a message are kept; other control characters are refused because
/// they render as nothing or garble terminals and logs.
pub fn validate_text(text: &str) -> Result<&str, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValidationError::Empty);
    }
    let chars = text.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(ValidationError::TooLong { chars });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::ControlCharacters);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_accepts_ordinary_text() {
        assert_eq!(validate_text("  hello\n"), Ok("hello"));
        assert_eq!(
            validate_text("line one\nline two"),
            Ok("line one\nline two")
        );
    }

    #[test]
    fn refuses_empty_and_blank() {
        assert_eq!(validate_text(""), Err(ValidationError::Empty));
        assert_eq!(validate_text(" \n\t "), Err(ValidationError::Empty));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_MESSAGE_CHARS);
        assert!(validate_text(&at_limit).is_ok());
        let over = "é".repeat(MAX_MESSAGE_CHARS + 1);
        assert_eq!(
            validate_text(&over),
            Err(ValidationError::TooLong {
                chars: MAX_MESSAGE_CHARS + 1
            })
        );
    }

    #[test]
    fn refuses_control_characters() {
        assert_eq!(
            validate_text("bell\u{7}"),
            Err(ValidationError::ControlCharacters)
        );
    }

    proptest! {
        #[test]
        fn accepted_text_is_trimmed_bounded_and_printable(input in "\\PC{0,2100}") {
            if let Ok(text) = validate_text(&input) {
                prop_assert!(!text.is_empty());
                prop_assert_eq!(text, text.trim());
                prop_assert!(text.chars().count() <= MAX_MESSAGE_CHARS);
            }
        }

        #[test]
        fn never_panics(input in any::<String>()) {
            let _ = validate_text(&input);
        }
    }
}
