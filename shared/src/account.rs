//! Accounts: who can log in, with which name, and what a session looks like on the wire.
//!
//! A username is the unique handle a person logs in with and others can tell them apart by
//! (display names are free and need not be unique). Usernames are ASCII so that no two can look
//! alike through Unicode; within ASCII, [`username_key`] folds case and the look-alikes (`0`/`o`,
//! `1`/`l`/`i`, `rn`/`m`, `vv`/`w`, and the separators), and the key is what must be unique.

use serde::{Deserialize, Serialize};

use crate::{Author, ValidationError};

/// Shortest and longest username, in characters (ASCII, so also bytes).
pub const MIN_USERNAME_CHARS: usize = 3;
pub const MAX_USERNAME_CHARS: usize = 32;
/// Shortest and longest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A username as typed, trimmed: [`MIN_USERNAME_CHARS`] to [`MAX_USERNAME_CHARS`] of ASCII letters,
/// digits, `_`, `-` and `.`, starting with a letter or digit.
pub fn validate_username(username: &str) -> Result<&str, ValidationError> {
    let username = username.trim();
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let starts_well = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_well
        || !(MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&username.len())
        || !username.chars().all(valid)
    {
        return Err(ValidationError::InvalidUsername);
    }
    Ok(username)
}

/// What must be unique among usernames: two usernames with the same key look alike.
pub fn username_key(username: &str) -> String {
    let folded: String = username
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            '0' => 'o',
            '1' | 'i' | '|' => 'l',
            '5' => 's',
            '-' | '.' => '_',
            c => c,
        })
        .collect();
    folded.replace("rn", "m").replace("vv", "w")
}

/// A password: [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`] characters, not only spaces.
/// Kept exactly as typed.
pub fn validate_password(password: &str) -> Result<&str, ValidationError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) || password.trim().is_empty() {
        return Err(ValidationError::InvalidPassword);
    }
    Ok(password)
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the chat: the first account on a new server.
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// Who may create an account, once the first one (the admin) exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone who can reach the page.
    Open,
    /// Whoever has the join link (its code); an admin can make a new one.
    Invite,
    /// Nobody.
    Closed,
}

impl Registration {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Invite => "invite",
            Self::Closed => "closed",
        }
    }

    pub fn parse(mode: &str) -> Option<Self> {
        match mode {
            "open" => Some(Self::Open),
            "invite" => Some(Self::Invite),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// What anyone may know before logging in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// No account exists yet: the first to register becomes the admin.
    pub setup: bool,
    pub registration: Registration,
    /// Whether people can chat without an account.
    pub guests: bool,
}

/// What an admin sees of registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationInfo {
    pub mode: Registration,
    /// The join link's code (for `invite` mode).
    pub invite: String,
}

/// The account behind a user, when there is one (a guest has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub username: String,
    pub role: Role,
}

/// One user as an admin sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    pub user: Author,
    /// `None` for a guest.
    pub account: Option<AccountInfo>,
    /// Banned users cannot connect or log in.
    pub banned: bool,
}

/// The answer to registering or logging in: a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The session token, for `auth.token` in the Socket.io handshake; keep it secret.
    pub token: String,
    pub user: Author,
    pub account: AccountInfo,
}

/// One of a user's sessions (a browser or device that is logged in), for the sessions list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Names the session to revoke it; not a token (it cannot log anyone in).
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub last_used_at: i64,
    /// The client address it was last used from, if known.
    pub last_address: Option<String>,
    /// The session asking.
    pub current: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(validate_username(" ada.l "), Ok("ada.l"));
        for bad in ["ab", "-ada", "ada lovelace", "adà", &"a".repeat(33), ""] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn look_alike_usernames_share_a_key() {
        for (one, other) in [
            ("Alice", "alice"),
            ("alice", "a1ice"),
            ("bob0", "BOBO"),
            ("modern", "modem"),
            ("john.doe", "john_doe"),
            ("vvill", "will"),
        ] {
            assert_eq!(username_key(one), username_key(other), "{one} / {other}");
        }
        assert_ne!(username_key("alice"), username_key("alicia"));
    }

    #[test]
    fn passwords() {
        assert!(validate_password("correct horse").is_ok());
        assert!(validate_password("short").is_err());
        assert!(validate_password("        ").is_err());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn accepted_usernames_are_ascii_and_bounded(input in "\\PC{0,40}") {
                if let Ok(username) = validate_username(&input) {
                    prop_assert!(username.is_ascii());
                    prop_assert!((MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&username.len()));
                }
            }

            #[test]
            fn the_key_ignores_case(input in "[a-zA-Z0-9_.-]{3,32}") {
                prop_assert_eq!(username_key(&input), username_key(&input.to_ascii_uppercase()));
            }
        }
    }
}
