//! The validators' answers are stable: what one accepts, it accepts again unchanged (the UI and
//! the server both run them, on each other's output), within its documented bounds.

use proptest::prelude::*;
use shared::{
    ErrorCode, MAX_CLIENT_ID_BYTES, MAX_NAME_CHARS, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS,
    ValidationError, validate_client_id, validate_name, validate_password, validate_room,
    validate_text, validate_username,
};

/// Strings from every plane, with the characters validation cares about made common.
fn awkward_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "\\PC{0,8}",
        prop::sample::select(
            &[
                " ", "\n", "\t", "\u{0}", "\u{7f}", "\u{200b}", "\u{202e}", "\u{feff}", "\u{3164}",
                "é", "😀", "-", "_", "A",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn accepted_text_is_accepted_again_as_is(input in awkward_text()) {
        if let Ok(text) = validate_text(&input) {
            prop_assert_eq!(validate_text(text), Ok(text));
            prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        }
    }

    #[test]
    fn refusals_have_their_code(input in awkward_text()) {
        for refusal in [
            validate_text(&input).err(),
            validate_name(&input).err(),
            validate_room(&input).err(),
            validate_client_id(&input).err(),
        ]
        .into_iter()
        .flatten()
        {
            // Every refusal has a code this build knows, and says why to a person.
            prop_assert!(!refusal.to_string().is_empty());
            prop_assert!(!matches!(refusal.code(), ErrorCode::Unknown | ErrorCode::Internal));
        }
    }

    #[test]
    fn accepted_names_are_trimmed_visible_and_bounded(input in awkward_text()) {
        if let Ok(name) = validate_name(&input) {
            prop_assert_eq!(name, name.trim());
            prop_assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert_eq!(validate_name(name), Ok(name));
        }
    }

    #[test]
    fn accepted_client_ids_are_bounded_and_printable(input in awkward_text()) {
        match validate_client_id(&input) {
            Ok(id) => {
                prop_assert_eq!(id, input.as_str());
                prop_assert!((1..=MAX_CLIENT_ID_BYTES).contains(&id.len()));
                prop_assert!(!id.chars().any(char::is_control));
            }
            Err(refusal) => prop_assert_eq!(refusal, ValidationError::InvalidClientId),
        }
    }

    #[test]
    fn accepted_rooms_are_canonical_whatever_the_input(input in awkward_text()) {
        if let Ok(room) = validate_room(&input) {
            prop_assert_eq!(validate_room(&room), Ok(room.clone()));
            prop_assert!(room.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
        }
    }

    #[test]
    fn accepted_usernames_and_passwords_are_accepted_again(input in awkward_text()) {
        if let Ok(username) = validate_username(&input) {
            prop_assert_eq!(validate_username(username), Ok(username));
            prop_assert!(username.len() <= MAX_USERNAME_CHARS);
        }
        if let Ok(password) = validate_password(&input) {
            prop_assert_eq!(validate_password(password), Ok(password));
            prop_assert!(password.chars().count() <= MAX_PASSWORD_CHARS);
        }
    }
}
