//! The one definition of acceptable input, run by the UI before sending and by the server
//! before storing anything.

use thiserror::Error;

use crate::ErrorCode;

/// Longest accepted message, in Unicode scalar values (what people count as characters).
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Longest room name, in characters (room names are ASCII, so also in bytes).
pub const MAX_ROOM_CHARS: usize = 32;
/// A direct conversation's room name: this prefix, then [`DIRECT_ROOM_HEX`] lowercase hex
/// digits. No room can be created with such a name (the `.` is not allowed in the names people
/// choose), so the server alone makes them.
pub const DIRECT_ROOM_PREFIX: &str = "dm.";
/// How many hex digits follow [`DIRECT_ROOM_PREFIX`].
pub const DIRECT_ROOM_HEX: usize = 28;
/// Most people in one direct conversation, its opener included.
pub const MAX_DIRECT_PEOPLE: usize = 8;
/// Longest client message id (the idempotency key), in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 64;
/// Longest reaction, in bytes: room for the longest emoji sequences (a family with skin tones
/// takes 41), not for a cluster stacked with combining marks.
pub const MAX_EMOJI_BYTES: usize = 64;
/// Most different emoji on one message.
pub const MAX_REACTIONS: usize = 20;
/// Most people one message may mention.
pub const MAX_MENTIONS: usize = 20;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words a search query may have (each one narrows the search: more would only cost).
pub const MAX_QUERY_WORDS: usize = 10;
/// Longest file name kept, in characters; a longer one is cut, keeping its extension.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// Why some input was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("Write something first.")]
    Empty,
    #[error("This message is {chars} characters long; the limit is {MAX_MESSAGE_CHARS}.")]
    TooLong { chars: usize },
    #[error("This message contains control characters.")]
    ControlCharacters,
    #[error("A name needs 1 to {MAX_NAME_CHARS} visible characters.")]
    InvalidName,
    #[error(
        "A room name needs 1 to {MAX_ROOM_CHARS} lowercase letters, digits, '-' or '_', \
         starting with a letter or digit."
    )]
    InvalidRoom,
    #[error("A clientId must be 1 to {MAX_CLIENT_ID_BYTES} bytes.")]
    InvalidClientId,
    #[error("A reaction is one emoji.")]
    InvalidEmoji,
    #[error(
        "Each mention names someone the text mentions with @, by id, at most {MAX_MENTIONS} of them."
    )]
    InvalidMention,
    #[error("Search for at least one word (letters or digits).")]
    EmptyQuery,
    #[error("A search is at most {MAX_QUERY_CHARS} characters and {MAX_QUERY_WORDS} words.")]
    QueryTooLong,
    #[error(
        "A username needs {} to {} letters, digits, '_', '-' or '.' (no accents or spaces), \
         starting with a letter or digit.",
        crate::MIN_USERNAME_CHARS,
        crate::MAX_USERNAME_CHARS
    )]
    InvalidUsername,
    #[error(
        "A password needs {} to {} characters.",
        crate::MIN_PASSWORD_CHARS,
        crate::MAX_PASSWORD_CHARS
    )]
    InvalidPassword,
}

impl ValidationError {
    /// The stable code sent to clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Empty => ErrorCode::EmptyMessage,
            Self::TooLong { .. } => ErrorCode::MessageTooLong,
            Self::ControlCharacters => ErrorCode::InvalidCharacters,
            Self::InvalidName => ErrorCode::InvalidName,
            Self::InvalidRoom => ErrorCode::InvalidRoom,
            Self::InvalidClientId => ErrorCode::InvalidPayload,
            Self::InvalidEmoji => ErrorCode::InvalidEmoji,
            Self::InvalidMention => ErrorCode::InvalidMention,
            Self::EmptyQuery | Self::QueryTooLong => ErrorCode::InvalidQuery,
            Self::InvalidUsername => ErrorCode::InvalidUsername,
            Self::InvalidPassword => ErrorCode::InvalidPassword,
        }
    }
}

/// Whether `c` shows nothing on its own: white space, or a default-ignorable code point (zero-width
/// spaces and joiners, direction marks and overrides, the byte order mark, variation selectors,
/// fillers; Unicode's `Default_Ignorable_Code_Point`).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Trims surrounding white space and checks what is left; returns the text to store and show.
///
/// Newlines and tabs inside a message are kept; other control characters are refused because
/// they render as nothing or garble terminals and logs. Text that shows nothing (only zero-width
/// or direction characters) counts as empty.
pub fn validate_text(text: &str) -> Result<&str, ValidationError> {
    let text = text.trim();
    if text.chars().all(is_invisible) {
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

/// The text of a message that carries a file: like [`validate_text`], except that it may be
/// empty (a picture needs no words), which it returns as `""`.
pub fn validate_caption(text: &str) -> Result<&str, ValidationError> {
    match validate_text(text) {
        Err(ValidationError::Empty) => Ok(""),
        validated => validated,
    }
}

/// A file's name as the server keeps and shows it, from whatever the uploader sent: never
/// refused, but made harmless. Path separators, control characters and direction overrides
/// become `_` (a name cannot name a directory, garble a log or reorder what the reader sees,
/// `exe.txt` shown for `txt.exe`); surrounding white space and dots go; a name longer than
/// [`MAX_FILE_NAME_CHARS`] is cut, keeping its extension; nothing left is `file`.
pub fn clean_file_name(name: &str) -> String {
    let reorders = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || reorders(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c.is_whitespace() || c == '.');
    if cleaned.chars().all(is_invisible) {
        return "file".to_owned();
    }
    if cleaned.chars().count() <= MAX_FILE_NAME_CHARS {
        return cleaned.to_owned();
    }
    // The extension, if short, survives the cut: it is what tells what the file is.
    let extension = cleaned
        .rsplit_once('.')
        .map(|(_, extension)| extension)
        .filter(|extension| (1..=16).contains(&extension.chars().count()))
        .map_or(String::new(), |extension| format!(".{extension}"));
    let keep = MAX_FILE_NAME_CHARS - extension.chars().count();
    let stem: String = cleaned.chars().take(keep).collect();
    format!("{}{extension}", stem.trim_end())
}

/// A display name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, something visible among them, no
/// control characters and no direction overrides or isolates (which would let a name reorder
/// the text shown after it, or pass for someone else's).
pub fn validate_name(name: &str) -> Result<&str, ValidationError> {
    let name = name.trim();
    let chars = name.chars().count();
    let reorders = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if chars > MAX_NAME_CHARS
        || name.chars().all(is_invisible)
        || name.chars().any(|c| c.is_control() || reorders(c))
    {
        return Err(ValidationError::InvalidName);
    }
    Ok(name)
}

/// A room name: 1 to [`MAX_ROOM_CHARS`] of `a-z 0-9 - _`, starting with a letter or digit, or a
/// direct conversation's ([`is_direct_room`]). Surrounding white space is trimmed and capitals
/// are lowered, so `" Rust "` is `rust`.
pub fn validate_room(room: &str) -> Result<String, ValidationError> {
    let room = room.trim().to_lowercase();
    if is_direct_room(&room) {
        return Ok(room);
    }
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let starts_well = room
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !starts_well || room.len() > MAX_ROOM_CHARS || !room.chars().all(valid_char) {
        return Err(ValidationError::InvalidRoom);
    }
    Ok(room)
}

/// Whether `room` names a direct conversation: [`DIRECT_ROOM_PREFIX`] and
/// [`DIRECT_ROOM_HEX`] lowercase hex digits.
pub fn is_direct_room(room: &str) -> bool {
    room.strip_prefix(DIRECT_ROOM_PREFIX).is_some_and(|hex| {
        hex.len() == DIRECT_ROOM_HEX
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// A client message id: 1 to [`MAX_CLIENT_ID_BYTES`] bytes, no control characters (PostgreSQL
/// refuses a NUL in text, which would fail the whole batch the id is stored in).
pub fn validate_client_id(id: &str) -> Result<&str, ValidationError> {
    if id.is_empty() || id.len() > MAX_CLIENT_ID_BYTES || id.chars().any(char::is_control) {
        return Err(ValidationError::InvalidClientId);
    }
    Ok(id)
}

/// A message's mentions: at most [`MAX_MENTIONS`], each a different person with an id (of at
/// most [`MAX_CLIENT_ID_BYTES`]) and a name that `text` mentions ([`crate::mentions`]), so
/// nobody is notified of a message that does not name them.
pub fn validate_mentions(text: &str, mentions: &[crate::Mention]) -> Result<(), ValidationError> {
    let named = |mention: &crate::Mention| {
        !mention.id.is_empty()
            && mention.id.len() <= MAX_CLIENT_ID_BYTES
            && crate::mentions(text, &mention.name)
    };
    let distinct = mentions
        .iter()
        .enumerate()
        .all(|(i, mention)| mentions[..i].iter().all(|other| other.id != mention.id));
    if mentions.len() > MAX_MENTIONS || !distinct || !mentions.iter().all(named) {
        return Err(ValidationError::InvalidMention);
    }
    Ok(())
}

/// A reaction: one emoji, that is one grapheme cluster (flags, keycaps, skin tones and joined
/// sequences are one each) of at most [`MAX_EMOJI_BYTES`], whose first character is a
/// pictograph or symbol of Unicode's emoji blocks (or a keycap's `0-9 # *` before U+20E3), and
/// whose others are pictographs or the characters that join and dress them (a flag: two
/// regional indicators). Taken as it is: nothing is trimmed.
pub fn validate_emoji(emoji: &str) -> Result<&str, ValidationError> {
    let mut clusters = unicode_segmentation::UnicodeSegmentation::graphemes(emoji, true);
    let one = clusters.next().is_some() && clusters.next().is_none();
    let mut chars = emoji.chars();
    let first = chars.next().unwrap_or_default();
    let keycap = matches!(first, '0'..='9' | '#' | '*') && emoji.ends_with('\u{20E3}');
    let base = is_pictograph(first) || keycap;
    // A flag is two regional indicators; one alone is a letter in a box.
    let regional = ('\u{1F1E6}'..='\u{1F1FF}').contains(&first);
    let flag = !regional || emoji.chars().count() == 2;
    if !one || emoji.len() > MAX_EMOJI_BYTES || !base || !flag || !chars.all(dresses_an_emoji) {
        return Err(ValidationError::InvalidEmoji);
    }
    Ok(emoji)
}

/// A search query's words: the runs of letters and digits (Unicode's), in order; everything
/// else separates words, so a query has no syntax of its own (quotes, operators, `*` are
/// separators like spaces). A message matches when each word begins one of its words, whatever
/// the case. At most [`MAX_QUERY_CHARS`] characters and [`MAX_QUERY_WORDS`] words, and at
/// least one word.
pub fn search_words(query: &str) -> Result<Vec<&str>, ValidationError> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ValidationError::QueryTooLong);
    }
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    match words.len() {
        0 => Err(ValidationError::EmptyQuery),
        n if n > MAX_QUERY_WORDS => Err(ValidationError::QueryTooLong),
        _ => Ok(words),
    }
}

/// Whether `c` is in one of the blocks emoji come from (or is one of the few emoji elsewhere).
fn is_pictograph(c: char) -> bool {
    matches!(
        c,
        '\u{00A9}'
            | '\u{00AE}'
            | '\u{203C}'
            | '\u{2049}'
            | '\u{2122}'
            | '\u{2139}'
            | '\u{2194}'..='\u{2199}'
            | '\u{21A9}'..='\u{21AA}'
            | '\u{231A}'..='\u{23FF}'
            | '\u{24C2}'
            | '\u{25AA}'..='\u{25FE}'
            | '\u{2600}'..='\u{27BF}'
            | '\u{2934}'..='\u{2935}'
            | '\u{2B05}'..='\u{2B55}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
            | '\u{1F000}'..='\u{1FAFF}'
    )
}

/// Whether `c` may follow an emoji's first character: another pictograph (after a joiner; skin
/// tones and regional indicators are pictographs too), the zero-width joiner, a variation
/// selector, the keycap, or a tag (subdivision flags).
fn dresses_an_emoji(c: char) -> bool {
    is_pictograph(c)
        || matches!(
            c,
            '\u{200D}' | '\u{FE0E}' | '\u{FE0F}' | '\u{20E3}' | '\u{E0020}'..='\u{E007F}'
        )
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

    #[test]
    fn text_that_shows_nothing_is_empty() {
        for blank in [
            "\u{200B}",
            " \u{FEFF} ",
            "\u{200B}\u{200D}\u{2060}",
            "\u{202E}\u{3164}",
        ] {
            assert_eq!(
                validate_text(blank),
                Err(ValidationError::Empty),
                "{blank:?}"
            );
            assert_eq!(
                validate_name(blank),
                Err(ValidationError::InvalidName),
                "{blank:?}"
            );
        }
        // Invisible characters inside visible text are left alone (emoji sequences need them).
        assert_eq!(validate_text("a\u{200D}b"), Ok("a\u{200D}b"));
        assert_eq!(validate_name("Zoë\u{FE0F}"), Ok("Zoë\u{FE0F}"));
    }

    #[test]
    fn client_ids() {
        assert!(validate_client_id("c1").is_ok());
        assert!(validate_client_id("").is_err());
        assert!(validate_client_id(&"x".repeat(MAX_CLIENT_ID_BYTES)).is_ok());
        assert!(validate_client_id(&"x".repeat(MAX_CLIENT_ID_BYTES + 1)).is_err());
        assert!(validate_client_id("c\u{0}1").is_err());
        assert!(validate_client_id("c\n1").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  Ada Lovelace "), Ok("Ada Lovelace"));
        assert_eq!(validate_name("   "), Err(ValidationError::InvalidName));
        assert_eq!(validate_name("a\nb"), Err(ValidationError::InvalidName));
        assert!(validate_name(&"n".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(validate_name(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
        // "Bob" followed by a right-to-left override would show the text after it reversed.
        assert!(validate_name("Bob\u{202E}nimda").is_err());
        assert!(validate_name("\u{2067}Eve").is_err());
    }

    #[test]
    fn rooms() {
        assert_eq!(validate_room(" Rust-Lang "), Ok("rust-lang".to_owned()));
        for bad in [
            "",
            "-x",
            "has space",
            "émoji",
            "a/b",
            &"r".repeat(MAX_ROOM_CHARS + 1),
            "dm.0123",
            "dm.0123456789abcdef0123456789ag",
            "xm.0123456789abcdef0123456789ab",
        ] {
            assert_eq!(
                validate_room(bad),
                Err(ValidationError::InvalidRoom),
                "{bad}"
            );
        }
        let direct = "dm.0123456789abcdef0123456789ab";
        assert!(is_direct_room(direct));
        assert_eq!(
            validate_room(" DM.0123456789ABCDEF0123456789AB"),
            Ok(direct.to_owned())
        );
        assert!(!is_direct_room("general"));
    }

    #[test]
    fn mentions_name_someone_the_text_mentions() {
        let ada = |name: &str| crate::Mention {
            id: "u-ada".to_owned(),
            name: name.to_owned(),
        };
        let text = "hi @Ada Lovelace, and `@Bob`";
        assert_eq!(validate_mentions(text, &[]), Ok(()));
        assert_eq!(validate_mentions(text, &[ada("ada lovelace")]), Ok(()));
        assert_eq!(validate_mentions(text, &[ada("Ada")]), Ok(()));
        let refused = Err(ValidationError::InvalidMention);
        // Not in the text, or only in code; no id; twice the same person.
        assert_eq!(validate_mentions(text, &[ada("Bob")]), refused);
        assert_eq!(validate_mentions(text, &[ada("Ad")]), refused);
        let nobody = crate::Mention {
            id: String::new(),
            ..ada("Ada")
        };
        assert_eq!(validate_mentions(text, &[nobody]), refused);
        assert_eq!(
            validate_mentions(text, &[ada("Ada"), ada("Ada Lovelace")]),
            refused
        );
        let many: Vec<_> = (0..=MAX_MENTIONS)
            .map(|i| crate::Mention {
                id: format!("u{i}"),
                name: "Ada".to_owned(),
            })
            .collect();
        assert_eq!(validate_mentions(text, &many[..MAX_MENTIONS]), Ok(()));
        assert_eq!(validate_mentions(text, &many), refused);
    }

    #[test]
    fn emoji() {
        for good in [
            "👍",
            "❤️",
            "❤",
            "🇫🇷",
            "1️⃣",
            "#️⃣",
            "👍🏽",
            "👩‍💻",
            "👨🏻‍👩🏻‍👧🏻‍👦🏻",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "🏳️‍🌈",
            "©",
            "⭐",
        ] {
            assert_eq!(validate_emoji(good), Ok(good), "{good:?}");
        }
        for bad in [
            "",
            " ",
            "a",
            "1",
            "é",
            "中",
            "👍👍",
            " 👍",
            "👍 ",
            "🇫",
            "🇫🇷🇩🇪",
            "ab",
            "\u{200D}",
            "\u{FE0F}",
            "👍\u{301}",
            "<script>",
            "\u{7}",
        ] {
            assert_eq!(
                validate_emoji(bad),
                Err(ValidationError::InvalidEmoji),
                "{bad:?}"
            );
        }
        let stacked = ["👩", &"\u{200D}👩".repeat(20)].concat();
        assert!(
            validate_emoji(&stacked).is_err(),
            "over {MAX_EMOJI_BYTES} bytes"
        );
    }

    #[test]
    fn search_queries_are_words_without_syntax() {
        assert_eq!(search_words("  Deplo  prod "), Ok(vec!["Deplo", "prod"]));
        assert_eq!(
            search_words(r#""rust" AND (tokio*) -x:y|z!"#),
            Ok(vec!["rust", "AND", "tokio", "x", "y", "z"])
        );
        assert_eq!(
            search_words("café_au-lait 東京"),
            Ok(vec!["café", "au", "lait", "東京"])
        );
        assert_eq!(search_words(""), Err(ValidationError::EmptyQuery));
        assert_eq!(
            search_words(" \"*&|!()' "),
            Err(ValidationError::EmptyQuery)
        );
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(search_words(&long), Err(ValidationError::QueryTooLong));
        assert!(search_words(&"é".repeat(MAX_QUERY_CHARS)).is_ok());
        let many = "a ".repeat(MAX_QUERY_WORDS + 1);
        assert_eq!(search_words(&many), Err(ValidationError::QueryTooLong));
        assert_eq!(ValidationError::EmptyQuery.code(), ErrorCode::InvalidQuery);
    }

    #[test]
    fn a_caption_may_be_empty_and_is_otherwise_text() {
        assert_eq!(validate_caption("  \u{200B} "), Ok(""));
        assert_eq!(validate_caption(" look "), Ok("look"));
        assert_eq!(
            validate_caption("a\u{7}b"),
            Err(ValidationError::ControlCharacters)
        );
    }

    #[test]
    fn file_names_are_made_harmless() {
        assert_eq!(clean_file_name("cat.png"), "cat.png");
        assert_eq!(clean_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(clean_file_name("C:\\x\\y.txt"), "C:_x_y.txt");
        assert_eq!(clean_file_name("evil\u{202E}gnp.exe"), "evil_gnp.exe");
        assert_eq!(clean_file_name("a\nb"), "a_b");
        assert_eq!(clean_file_name("  .hidden. "), "hidden");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name("\u{200B}"), "file");
        let long = format!("{}.pdf", "é".repeat(300));
        let cut = clean_file_name(&long);
        assert_eq!(cut.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(cut.ends_with("é.pdf"), "{cut}");
    }

    proptest! {
        #[test]
        fn cleaned_file_names_are_bounded_and_name_no_path(input in "\\PC{0,300}") {
            let name = clean_file_name(&input);
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_FILE_NAME_CHARS);
            prop_assert!(!name.contains(['/', '\\']));
            prop_assert!(!name.chars().any(char::is_control));
        }

        #[test]
        fn accepted_emoji_are_one_bounded_cluster_of_no_letters(
            chars in prop::collection::vec(
                prop_oneof![
                    any::<char>(),
                    prop::char::range('\u{1F300}', '\u{1F6FF}'),
                    prop::char::range('\u{1F3FB}', '\u{1F3FF}'),
                    prop::char::range('\u{1F1E6}', '\u{1F1FF}'),
                    prop::sample::select(vec!['\u{200D}', '\u{FE0F}', '\u{20E3}', '1', 'a', ' ']),
                ],
                0..8,
            )
        ) {
            let input: String = chars.into_iter().collect();
            if let Ok(emoji) = validate_emoji(&input) {
                let clusters = unicode_segmentation::UnicodeSegmentation::graphemes(emoji, true);
                prop_assert_eq!(clusters.count(), 1);
                prop_assert!(emoji.len() <= MAX_EMOJI_BYTES);
                prop_assert!(!emoji.chars().any(|c| c.is_ascii_alphabetic()
                    || c.is_whitespace()
                    || c.is_control()));
            }
        }

        #[test]
        fn accepted_text_is_trimmed_bounded_and_printable(input in "\\PC{0,2100}") {
            if let Ok(text) = validate_text(&input) {
                prop_assert!(!text.chars().all(is_invisible));
                prop_assert_eq!(text, text.trim());
                prop_assert!(text.chars().count() <= MAX_MESSAGE_CHARS);
            }
        }

        #[test]
        fn never_panics(input in any::<String>()) {
            let _ = validate_text(&input);
            let _ = validate_name(&input);
            let _ = validate_room(&input);
            let _ = validate_emoji(&input);
        }

        #[test]
        fn search_words_are_letters_and_digits_only(input in any::<String>()) {
            if let Ok(words) = search_words(&input) {
                prop_assert!(!words.is_empty() && words.len() <= MAX_QUERY_WORDS);
                for word in words {
                    prop_assert!(!word.is_empty() && word.chars().all(char::is_alphanumeric));
                }
            }
        }

        #[test]
        fn accepted_rooms_are_canonical(input in "[ a-zA-Z0-9_-]{0,40}") {
            if let Ok(room) = validate_room(&input) {
                prop_assert_eq!(validate_room(&room), Ok(room.clone()));
                prop_assert!(room.len() <= MAX_ROOM_CHARS);
            }
        }
    }
}
