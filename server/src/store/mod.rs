//! Storage behind a small trait: the domain asks for what it needs and never sees SQL.
//!
//! [`sqlite::SqliteStore`] is the embedded default. A clustered store (PostgreSQL) implements
//! the same trait; its SQL carries over because gap-free sequence numbers come from a counter
//! row bumped inside the storing transaction, not from in-process state.

pub mod sqlite;

use async_trait::async_trait;
use shared::{Author, ChatMessage, RoomInfo};

/// A message about to be stored; the store assigns `seq`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub room: String,
    pub text: String,
    pub author: Author,
    pub sent_at: i64,
    pub client_id: Option<String>,
}

/// The result of [`Store::append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// Newly stored: broadcast it.
    New(ChatMessage),
    /// The author already stored a message with this client id: here it is, unchanged.
    /// Acknowledge it again, broadcast nothing.
    Duplicate(ChatMessage),
}

/// Caps on rooms, checked in the statement that would exceed them. With SQLite's single writer
/// concurrent requests cannot overshoot; a clustered store must lock or serialise to say the
/// same.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Rooms on the server, in all (the default room included).
    pub rooms: usize,
    /// Rooms one user is a member of (the default room not counted).
    pub per_user: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("room already exists")]
    RoomExists,
    #[error("no such room")]
    RoomNotFound,
    #[error("the server holds as many rooms as it allows")]
    TooManyRooms,
    #[error("the user is in as many rooms as allowed")]
    TooManyMemberships,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the transaction storing this message failed: {0}")]
    Batch(String),
    #[error("the store is shut down")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a user with the hash of their session token. Idempotent: a user already stored
    /// (by a concurrent request of the same guest) is left as it is.
    async fn create_user(&self, user: &Author, token_hash: &[u8], now: i64) -> StoreResult<()>;
    async fn user_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Author>>;
    /// The chat's own secret (made once, when the database is created).
    async fn server_key(&self) -> StoreResult<Vec<u8>>;
    async fn rename_user(&self, user_id: &str, name: &str) -> StoreResult<()>;

    /// Creates a room with `user_id` as its first member, in one transaction;
    /// [`StoreError::RoomExists`] if the name is taken.
    async fn create_room(
        &self,
        name: &str,
        user_id: &str,
        now: i64,
        limits: RoomLimits,
    ) -> StoreResult<RoomInfo>;
    async fn room(&self, name: &str) -> StoreResult<Option<RoomInfo>>;
    async fn rooms(&self) -> StoreResult<Vec<RoomInfo>>;

    /// The rooms `user_id` joined, by name. (The domain adds the default room, which is never
    /// stored as a membership.)
    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<RoomInfo>>;
    /// Idempotent; [`StoreError::RoomNotFound`] for a room that does not exist,
    /// [`StoreError::TooManyMemberships`] past the per-user cap.
    async fn join(&self, user_id: &str, room: &str, limits: RoomLimits) -> StoreResult<RoomInfo>;
    /// Idempotent.
    async fn leave(&self, user_id: &str, room: &str) -> StoreResult<()>;

    /// Stores a message with the room's next sequence number, durably, before returning.
    async fn append(&self, message: NewMessage) -> StoreResult<Posted>;
    /// For `sync`: up to `limit` messages of `room` with `seq > after`, oldest first.
    async fn sync(&self, room: &str, after: i64, limit: u32) -> StoreResult<Vec<ChatMessage>>;
    /// A history page: up to `limit` messages of `room` with `seq < before` (the newest if
    /// `None`), oldest first.
    async fn history(
        &self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>>;
}
