//! Storage behind a small trait: the domain asks for what it needs and never sees SQL.
//!
//! [`sqlite::SqliteStore`] is the embedded default; [`postgres::PgStore`] is the store several
//! nodes share. Both give the same guarantees, proven by one conformance suite
//! (`conformance.rs`): gap-free sequence numbers come from a counter row bumped inside the
//! storing transaction, not from in-process state, and appends are group-committed
//! (`batch.rs`).

mod batch;
#[cfg(test)]
mod conformance;
pub mod postgres;
pub mod sqlite;

use std::{path::Path, sync::Arc};

use async_trait::async_trait;
use shared::{Author, ChatMessage, RoomInfo};
use sqlx::postgres::PgDatabaseError;

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

/// Caps on rooms, checked in the transaction that would exceed them, so that concurrent
/// requests (on any node) cannot overshoot: SQLite has one writer; PostgreSQL takes a lock.
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
    Database(sqlx::Error),
    /// The database cannot be reached (down, restarting, out of connections); nothing was
    /// stored. Worth trying again later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the transaction storing this message failed: {0}")]
    Batch(String),
    #[error("the store is shut down")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let unreachable = match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL's classes: connection exception, operator intervention (shutting
            // down, starting up), insufficient resources (too many connections).
            sqlx::Error::Database(error) => {
                error.try_downcast_ref::<PgDatabaseError>().is_some()
                    && error
                        .code()
                        .is_some_and(|code| ["08", "57", "53"].iter().any(|c| code.starts_with(c)))
            }
            _ => false,
        };
        if unreachable {
            Self::Unavailable(error.to_string())
        } else {
            Self::Database(error)
        }
    }
}

/// Opens the store `database_url` names (`postgres://...`), or the embedded SQLite store in
/// `data_dir` when there is none.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> StoreResult<Arc<dyn Store>> {
    Ok(match database_url {
        Some(url) => Arc::new(postgres::PgStore::open(url).await?),
        None => Arc::new(sqlite::SqliteStore::open(data_dir).await?),
    })
}

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

    /// Answers a trivial query: whether the database can be reached now (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Whether the committer task runs now (readiness): false after a failure until it is
    /// restarted, and once the store is closed.
    fn committing(&self) -> bool;

    /// Stops taking messages, commits those already queued, and closes the connections.
    async fn close(&self);
}
