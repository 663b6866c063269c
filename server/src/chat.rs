//! The chat domain: sessions, rooms, messages and presence.
//!
//! It knows nothing of Socket.io or HTTP; the transport and the server functions call it with
//! typed values and map [`ChatError`] to wire errors. Everything that must survive a restart or
//! be shared between nodes goes through the [`Store`].

mod presence;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use shared::{
    Auth, Author, ChatInput, ChatMessage, DEFAULT_ROOM, RoomCursor, RoomInfo, ValidationError,
    validate_name, validate_room, validate_text,
};

pub use presence::Presence;

use crate::store::{Appended, NewMessage, Store, StoreError};

/// Most messages one `sync` returns per room; a client that gets this many syncs again.
pub const SYNC_LIMIT: u32 = 500;
/// Most messages one history page returns.
pub const PAGE_LIMIT: u32 = 100;
/// Longest accepted client message id.
const MAX_CLIENT_ID_LEN: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("clientId must be 1 to {MAX_CLIENT_ID_LEN} characters")]
    InvalidClientId,
    #[error("a room with that name already exists")]
    RoomExists,
    #[error("no room has that name")]
    RoomNotFound,
    #[error("join the room first")]
    NotMember,
    #[error("everyone stays in #{DEFAULT_ROOM}")]
    CannotLeaveDefault,
    #[error("your session is unknown; reconnect")]
    UnknownSession,
    #[error("storage failed: {0}")]
    Store(StoreError),
}

impl From<StoreError> for ChatError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::RoomExists => Self::RoomExists,
            StoreError::RoomNotFound => Self::RoomNotFound,
            other => Self::Store(other),
        }
    }
}

impl ChatError {
    /// The stable code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(error) => error.code(),
            Self::InvalidClientId => "invalid_payload",
            Self::RoomExists => "room_exists",
            Self::RoomNotFound => "room_not_found",
            Self::NotMember => "not_a_member",
            Self::CannotLeaveDefault => "cannot_leave_default_room",
            Self::UnknownSession => "unknown_session",
            Self::Store(_) => "internal",
        }
    }
}

pub type ChatResult<T> = Result<T, ChatError>;

/// Who a connection is, once its handshake is resolved.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: Author,
    /// The secret to present next time. Only its hash is stored.
    pub token: String,
    pub rooms: Vec<RoomInfo>,
    /// Whether the user is in the store. A guest (a client that sent no auth, as in the seed) is
    /// not, until it does something that must be remembered (see [`Chat::remember`]): a
    /// thousand bare clients connecting cost no database writes.
    pub stored: bool,
}

/// A message the chat accepted.
#[derive(Debug, Clone)]
pub enum Posted {
    /// Stored now: broadcast it.
    New(ChatMessage),
    /// A retry of a message stored earlier: acknowledge it again, broadcast nothing.
    Duplicate(ChatMessage),
}

/// The chat service, cheap to clone.
#[derive(Clone)]
pub struct Chat {
    store: Arc<dyn Store>,
    /// Who is online where. Per node; see [`Presence`].
    pub presence: Arc<Presence>,
}

impl Chat {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            presence: Arc::default(),
        }
    }

    /// Resolves a handshake: a known token is the same person again; anything else is a new
    /// session, named as asked or as a guest.
    pub async fn open_session(&self, auth: Auth) -> ChatResult<Session> {
        if let Some(token) = &auth.token
            && let Some(user) = self.store.user_by_token(&hash(token)).await?
        {
            let rooms = self.store.memberships(&user.id).await?;
            return Ok(Session {
                user,
                token: token.clone(),
                rooms,
                stored: true,
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        let token = new_token();
        let Some(name) = &auth.name else {
            let general = self
                .store
                .room(DEFAULT_ROOM)
                .await?
                .ok_or(ChatError::RoomNotFound)?;
            return Ok(Session {
                user: Author {
                    name: format!("Guest {}", &id[id.len() - 4..]),
                    id,
                },
                token,
                rooms: vec![general],
                stored: false,
            });
        };
        let user = Author {
            id,
            name: validate_name(name)?.to_owned(),
        };
        self.store
            .create_user(&user, &hash(&token), now_millis())
            .await?;
        let rooms = self.store.memberships(&user.id).await?;
        Ok(Session {
            user,
            token,
            rooms,
            stored: true,
        })
    }

    /// Stores a guest, so that its rooms and name can be remembered.
    pub async fn remember(&self, user: &Author, token: &str) -> ChatResult<()> {
        Ok(self
            .store
            .create_user(user, &hash(token), now_millis())
            .await?)
    }

    /// The user behind a token, for requests outside a socket (server functions).
    pub async fn user_by_token(&self, token: &str) -> ChatResult<Author> {
        self.store
            .user_by_token(&hash(token))
            .await?
            .ok_or(ChatError::UnknownSession)
    }

    pub async fn rename(&self, user: &Author, name: &str) -> ChatResult<Author> {
        let name = validate_name(name)?;
        self.store.rename_user(&user.id, name).await?;
        Ok(Author {
            id: user.id.clone(),
            name: name.to_owned(),
        })
    }

    /// Validates and stores a message. `member_of` says whether the author is known to be in the
    /// room; when it is not known, the store is asked.
    pub async fn post(
        &self,
        author: &Author,
        input: ChatInput,
        known_member: bool,
    ) -> ChatResult<Posted> {
        let text = validate_text(input.text())?.to_owned();
        let room = validate_room(input.room())?;
        let client_id = input.client_id().map(str::to_owned);
        if client_id
            .as_ref()
            .is_some_and(|id| id.is_empty() || id.len() > MAX_CLIENT_ID_LEN)
        {
            return Err(ChatError::InvalidClientId);
        }
        if !known_member && !self.store.is_member(&author.id, &room).await? {
            return Err(match self.store.room(&room).await? {
                Some(_) => ChatError::NotMember,
                None => ChatError::RoomNotFound,
            });
        }
        let appended = self
            .store
            .append(NewMessage {
                id: uuid::Uuid::now_v7().to_string(),
                room,
                text,
                author: author.clone(),
                sent_at: now_millis(),
                client_id,
            })
            .await?;
        Ok(match appended {
            Appended::New(message) => Posted::New(message),
            Appended::Duplicate(message) => Posted::Duplicate(message),
        })
    }

    pub async fn create_room(&self, user: &Author, name: &str) -> ChatResult<RoomInfo> {
        let name = validate_room(name)?;
        let room = self.store.create_room(&name, now_millis()).await?;
        self.store.join(&user.id, &name).await?;
        Ok(room)
    }

    pub async fn join_room(&self, user: &Author, name: &str) -> ChatResult<RoomInfo> {
        let name = validate_room(name)?;
        self.store.join(&user.id, &name).await?;
        self.store.room(&name).await?.ok_or(ChatError::RoomNotFound)
    }

    pub async fn leave_room(&self, user: &Author, name: &str) -> ChatResult<String> {
        let name = validate_room(name)?;
        if name == DEFAULT_ROOM {
            return Err(ChatError::CannotLeaveDefault);
        }
        self.store.leave(&user.id, &name).await?;
        Ok(name)
    }

    /// Messages after each cursor, for the rooms the user is in; oldest first per room.
    pub async fn missed(
        &self,
        user: &Author,
        cursors: &[RoomCursor],
    ) -> ChatResult<Vec<ChatMessage>> {
        let mut messages = Vec::new();
        for cursor in cursors {
            let room = validate_room(&cursor.room)?;
            if !self.store.is_member(&user.id, &room).await? {
                return Err(ChatError::NotMember);
            }
            messages.extend(
                self.store
                    .after(&room, cursor.after_seq, SYNC_LIMIT)
                    .await?,
            );
        }
        Ok(messages)
    }

    /// A page of a room's history: up to `PAGE_LIMIT` messages before `before`, oldest first.
    pub async fn history(
        &self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> ChatResult<Vec<ChatMessage>> {
        let room = validate_room(room)?;
        if self.store.room(&room).await?.is_none() {
            return Err(ChatError::RoomNotFound);
        }
        Ok(self
            .store
            .before(&room, before, limit.clamp(1, PAGE_LIMIT))
            .await?)
    }

    pub async fn rooms(&self) -> ChatResult<Vec<RoomInfo>> {
        Ok(self.store.rooms().await?)
    }
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// 256 random bits, hex.
fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn now_millis() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}
