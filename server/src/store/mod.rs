//! Storage behind a small trait: the domain asks for what it needs and never sees SQL.
//!
//! [`sqlite::SqliteStore`] is the embedded default; [`postgres::PgStore`] is the store several
//! nodes share. Both give the same guarantees, proven by one conformance suite
//! (`conformance.rs`): gap-free sequence numbers come from a counter row bumped inside the
//! storing transaction, not from in-process state, and appends and changes are group-committed
//! (`batch.rs`).

mod batch;
#[cfg(test)]
mod conformance;
pub mod postgres;
pub mod sqlite;

use std::{collections::HashMap, path::Path, sync::Arc};

use async_trait::async_trait;
use shared::{
    AccountInfo, Author, Change, ChatMessage, DeletedBy, FileInfo, ImageSize, MAX_REACTIONS,
    Mention, MessageChanged, Quote, Reaction, Reactor, Role, RoomInfo, UserEntry, quote_snippet,
};
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
    /// The seq of the message of the same room it answers.
    pub reply_to: Option<i64>,
    /// The id of the file it carries (its author's, of the same room, attached to no other
    /// message: the domain checked).
    pub attachment: Option<String>,
    /// The people it mentions (validated: its text names each).
    pub mentions: Vec<Mention>,
}

impl NewMessage {
    /// How its mentions are stored: a JSON array, or NULL for none (most messages).
    fn mentions_column(&self) -> Option<String> {
        (!self.mentions.is_empty())
            .then(|| serde_json::to_string(&self.mentions).expect("mentions serialize"))
    }
}

/// A file to store, uploaded and not attached to a message yet.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Its id and what messages will carry of it.
    pub info: FileInfo,
    pub room: String,
    pub uploader_id: String,
    pub created_at: i64,
    pub data: Vec<u8>,
    /// An image's thumbnail (PNG or JPEG).
    pub thumbnail: Option<Vec<u8>>,
}

/// What the store knows of a file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub info: FileInfo,
    pub room: String,
    pub uploader_id: String,
    /// The message that carries it: its author and client id. `None` until it is attached.
    pub attached_to: Option<(String, Option<String>)>,
}

/// A change to store: `change` made to message `target` of `room` by user `actor_id` at `at`.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub room: String,
    pub target: i64,
    pub actor_id: String,
    pub at: i64,
    pub change: Change,
}

/// A session to store: the hash of its token (never the token), whose it is, and until when it
/// works unless used again.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: &'a str,
    pub now: i64,
    /// The client address it is used from, if known.
    pub address: Option<&'a str>,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
}

/// Who a session token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: Author,
    /// `None` for a guest.
    pub account: Option<AccountInfo>,
    /// When its session was last recorded as used; `None` for a guest's token that was never
    /// stored.
    pub last_used_at: Option<i64>,
    pub banned: bool,
}

impl Identity {
    /// A user as the author of their own request, without looking anything up: no account
    /// role, so nothing that needs one is allowed.
    pub fn of(user: Author) -> Self {
        Self {
            user,
            account: None,
            last_used_at: None,
            banned: false,
        }
    }
}

/// What the store knows of a user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing, or a user who is neither banned nor an account.
    Free,
    /// Banned, account or not.
    Banned,
    /// The user has an account (which only its own sessions speak for), not banned.
    Account,
}

/// What [`Store::set_role`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    Done,
    NoAccount,
    /// Refused: the chat would have no admin left.
    LastAdmin,
}

/// An account to create, for `user` (a new user, or a guest becoming an account), with its first
/// session.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    pub user: &'a Author,
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub session: NewSession<'a>,
}

/// An account as stored, for logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub user: Author,
    pub account: AccountInfo,
    pub banned: bool,
    /// The password's hash (PHC string).
    pub password_hash: String,
}

/// One of a user's sessions that still works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub token_hash: Vec<u8>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub last_address: Option<String>,
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
    /// No message has that seq in the room (a change's seq, or none at all).
    #[error("no such message")]
    MessageNotFound,
    /// An edit of, or a reaction to, a deleted message.
    #[error("the message is deleted")]
    MessageDeleted,
    /// A reaction with one emoji more than a message may have.
    #[error("the message has as many different reactions as allowed")]
    TooManyReactions,
    #[error("the user is in as many rooms as allowed")]
    TooManyMemberships,
    /// Another account has this username, or one that looks the same.
    #[error("username taken")]
    UsernameTaken,
    /// The user has an account already.
    #[error("account exists")]
    AccountExists,
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
    /// Creates a user with its session. Idempotent: a user or session already stored (by a
    /// concurrent request of the same guest) is left as it is.
    async fn create_user(&self, user: &Author, session: NewSession<'_>) -> StoreResult<()>;
    /// Who the session with this token hash is, unless it expired before `now` or is unknown.
    async fn identity(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<Identity>>;
    /// Records that the session was used now, from `address`, and moves its expiry.
    async fn touch_session(&self, session: NewSession<'_>) -> StoreResult<()>;
    /// Sessions without an expiry get one, `lifetime` after their last use (those made before
    /// expiry existed, or under a policy without it), and expired sessions are deleted.
    async fn expire_sessions(&self, now: i64, lifetime: Option<i64>) -> StoreResult<()>;
    /// Adds a session for an existing user (a login).
    async fn create_session(&self, session: NewSession<'_>) -> StoreResult<()>;
    /// Every account, with whether its user is banned, by username key.
    async fn accounts(&self) -> StoreResult<Vec<UserEntry>>;
    /// Bans `user` at `banned_at`, or lifts the ban (`None`). A guest never stored is stored
    /// first, so that its ban is remembered.
    async fn set_banned(&self, user: &Author, banned_at: Option<i64>) -> StoreResult<()>;
    /// What is stored about `user_id` (for guests' tokens, which name no stored session).
    async fn standing(&self, user_id: &str) -> StoreResult<Standing>;
    /// Gives the account `role`, unless that would leave the chat without an admin.
    async fn set_role(&self, user_id: &str, role: Role) -> StoreResult<RoleChange>;
    /// The user's sessions that have not expired by `now`, most recently used first.
    async fn sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<StoredSession>>;
    /// Ends the user's sessions: the one with `token_hash`, or (`None`) all of them but
    /// `keep`. Returns the token hashes of the sessions ended.
    async fn end_sessions(
        &self,
        user_id: &str,
        token_hash: Option<&[u8]>,
        keep: Option<&[u8]>,
    ) -> StoreResult<Vec<Vec<u8>>>;

    /// Creates an account (and the user, if it is new) with its first session, in one
    /// transaction. The first account on the server is an admin, every later one a member.
    /// [`StoreError::UsernameTaken`] if another account's username has the same key,
    /// [`StoreError::AccountExists`] if the user has one.
    async fn create_account(&self, account: NewAccount<'_>) -> StoreResult<Role>;
    /// Whether any account exists (before the first, the first visitor sets the chat up).
    async fn has_accounts(&self) -> StoreResult<bool>;
    async fn account_by_username(&self, username_key: &str) -> StoreResult<Option<StoredAccount>>;
    async fn account_of(&self, user_id: &str) -> StoreResult<Option<StoredAccount>>;
    async fn set_password(&self, user_id: &str, password_hash: &str) -> StoreResult<()>;

    /// A setting an admin changed (`None` if never set).
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;
    /// The chat's own secret (made once, when the database is created).
    async fn server_key(&self) -> StoreResult<Vec<u8>>;
    async fn rename_user(&self, user_id: &str, name: &str) -> StoreResult<()>;

    /// Creates a room (`private` or not) with `user_id` as its first member, in one
    /// transaction; [`StoreError::RoomExists`] if the name is taken.
    async fn create_room(
        &self,
        name: &str,
        private: bool,
        user_id: &str,
        now: i64,
        limits: RoomLimits,
    ) -> StoreResult<RoomInfo>;
    /// The user with this id, if stored.
    async fn user(&self, user_id: &str) -> StoreResult<Option<Author>>;
    async fn room(&self, name: &str) -> StoreResult<Option<RoomInfo>>;
    async fn rooms(&self) -> StoreResult<Vec<RoomInfo>>;
    /// Moves `user_id`'s read position in `room` forward to `seq` (never back).
    async fn mark_read(&self, user_id: &str, room: &str, seq: i64) -> StoreResult<()>;
    /// `user_id`'s read positions, by room.
    async fn read_positions(&self, user_id: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Archives room `name` (at `archived_at`) or, with `None`, takes it out of the archive.
    /// An archived room's messages are refused (the counter bump of a batch skips it, as for a
    /// room that does not exist). The room as it is now; `None` if there is no such room.
    async fn set_archived(
        &self,
        name: &str,
        archived_at: Option<i64>,
    ) -> StoreResult<Option<RoomInfo>>;

    /// The rooms `user_id` joined, by name. (The domain adds the default room, which is never
    /// stored as a membership.)
    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<RoomInfo>>;
    /// The stored members of `rooms`, as `(room, member)`, by room, then by name.
    async fn people(&self, rooms: &[String]) -> StoreResult<Vec<(String, Author)>>;
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
    /// Up to `limit` messages of `rooms` in which each of `words` (letters and digits, see
    /// [`shared::search_words`]) begins a word, whatever the case (accents count), newest first
    /// (in the order they were stored), each as it is now: a deleted message has no words, an
    /// edited one only its new text's.
    async fn search(
        &self,
        words: &[&str],
        rooms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>>;
    /// The message `seq` of `room` as it is now; `None` if no message has that seq.
    async fn message(&self, room: &str, seq: i64) -> StoreResult<Option<ChatMessage>>;
    /// Edits, deletes or reacts to a message, group-committed (in the next batch's transaction,
    /// after the changes queued before it): bumps the room's counter, updates the message (or
    /// its reactions) and stores the change under the new seq; a deletion erases the message's
    /// text, and the text of its earlier edits, and takes its reactions away. Returns the
    /// change once committed, or `None` if there was nothing to change (see
    /// [`changes_anything`]).
    async fn change(&self, change: NewChange) -> StoreResult<Option<MessageChanged>>;
    /// For `sync`: up to `limit` changes of `room` with `seq > after`, oldest first.
    async fn changes(&self, room: &str, after: i64, limit: u32)
    -> StoreResult<Vec<MessageChanged>>;

    /// Stores an uploaded file, attached to no message yet.
    async fn add_file(&self, file: NewFile) -> StoreResult<()>;
    /// The file with this id, without its bytes; `None` if there is none (never stored, or
    /// removed with its message or for never being attached).
    async fn file(&self, id: &str) -> StoreResult<Option<StoredFile>>;
    /// The file's bytes, or (`thumbnail`) its thumbnail's; `None` if there are none.
    async fn file_content(&self, id: &str, thumbnail: bool) -> StoreResult<Option<Vec<u8>>>;
    /// Removes the files uploaded before `before` that no message carries. Returns how many.
    async fn purge_files(&self, before: i64) -> StoreResult<u64>;

    /// Answers a trivial query: whether the database can be reached now (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Whether the committer task runs now (readiness): false after a failure until it is
    /// restarted, and once the store is closed.
    fn committing(&self) -> bool;

    /// Stops taking messages, commits those already queued, and closes the connections.
    async fn close(&self);
}

/// A message as a change to it finds it, in the change's transaction.
#[derive(Debug, Default)]
struct Target {
    text: String,
    deleted: bool,
    /// How many different emoji it has; for a reaction only (0 otherwise).
    emoji_count: i64,
    /// Whether the reaction's emoji is among them.
    has_emoji: bool,
    /// Whether the reaction is there already (this person, this emoji).
    reacted: bool,
}

/// Whether `change` changes `target`: an edit to the same text, a second deletion, a reaction
/// that is there already or one taken away that is not, do nothing; a deleted message cannot
/// be edited or reacted to, and a message takes at most [`MAX_REACTIONS`] different emoji.
fn changes_anything(change: &Change, target: &Target) -> StoreResult<bool> {
    match change {
        Change::Deleted { .. } => Ok(!target.deleted),
        _ if target.deleted => Err(StoreError::MessageDeleted),
        Change::Edited { text, .. } => Ok(*text != target.text),
        Change::Reacted { .. } if target.reacted => Ok(false),
        Change::Reacted { .. }
            if !target.has_emoji && target.emoji_count >= batch::count(MAX_REACTIONS) =>
        {
            Err(StoreError::TooManyReactions)
        }
        Change::Reacted { .. } => Ok(true),
        Change::Unreacted { .. } => Ok(target.reacted),
    }
}

/// What a change stores: an edit or a deletion in `changes` (`kind`, `text`, `deleted_by`), or
/// a reaction in `reaction_changes` (`kind`, `emoji`, and who).
enum ChangeRow<'a> {
    Edit(&'static str, Option<&'a str>, Option<&'static str>),
    Reaction(&'static str, &'a str, &'a Author),
}

fn change_row(change: &Change) -> ChangeRow<'_> {
    match change {
        Change::Edited { text, .. } => ChangeRow::Edit("edit", Some(text), None),
        Change::Deleted { by } => ChangeRow::Edit("delete", None, Some(by.as_str())),
        Change::Reacted { emoji, user } => ChangeRow::Reaction("react", emoji, user),
        Change::Unreacted { emoji, user } => ChangeRow::Reaction("unreact", emoji, user),
    }
}

// Rows both stores read the same way (their `Row` types differ, the columns do not).

/// How every query reads messages, with their author's username (an account's; none for a
/// guest) and what a reply quotes (the original as it is now, with its author's). Conditions
/// name the columns of `messages` in full: `quoted` has the same.
const MESSAGE_SELECT: &str = "SELECT messages.id, messages.room, messages.seq, messages.text, \
     messages.author_id, messages.author_name, messages.sent_at, messages.client_id, \
     messages.edited_at, messages.deleted_by, accounts.username AS author_username, \
     messages.mentions, messages.reply_to, quoted.author_id AS quoted_author_id, \
     quoted.author_name AS quoted_author_name, quoted_accounts.username AS quoted_author_username, \
     quoted.text AS quoted_text, quoted.deleted_by AS quoted_deleted_by, \
     files.id AS file_id, files.name AS file_name, files.content_type AS file_type, \
     files.size AS file_size, files.width AS file_width, files.height AS file_height \
     FROM messages LEFT JOIN accounts ON accounts.user_id = messages.author_id \
     LEFT JOIN messages AS quoted ON quoted.room = messages.room AND quoted.seq = messages.reply_to \
     LEFT JOIN accounts AS quoted_accounts ON quoted_accounts.user_id = quoted.author_id \
     LEFT JOIN files ON files.id = messages.attachment AND messages.deleted_by IS NULL";

/// A row of `rooms` (`name, last_seq, is_private, archived_at`).
fn room<R>(row: &R) -> RoomInfo
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    RoomInfo {
        name: row.get("name"),
        last_seq: row.get("last_seq"),
        private: row.get("is_private"),
        archived: row.get::<Option<i64>, _>("archived_at").is_some(),
        people: Vec::new(),
    }
}

/// How a user is read: `id, name, username` (an account's; none for a guest).
const USER_SELECT: &str = "SELECT users.id, users.name, accounts.username FROM users \
     LEFT JOIN accounts ON accounts.user_id = users.id";

/// How the members of rooms are read: `room`, then as [`USER_SELECT`]; each store adds the
/// condition on `memberships.room` and [`PEOPLE_ORDER`].
const PEOPLE_SELECT: &str = "SELECT memberships.room, users.id, users.name, accounts.username \
     FROM memberships JOIN users ON users.id = memberships.user_id \
     LEFT JOIN accounts ON accounts.user_id = users.id";
const PEOPLE_ORDER: &str = "ORDER BY memberships.room, users.name, users.id";

/// A row of [`PEOPLE_SELECT`]: the room, and the member.
fn member<R>(row: &R) -> (String, Author)
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (row.get("room"), author(row))
}

/// A row of [`USER_SELECT`].
fn author<R>(row: &R) -> Author
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Author {
        id: row.get("id"),
        name: row.get("name"),
        username: row.get("username"),
    }
}

/// A row of [`MESSAGE_SELECT`], without its reactions (see [`with_reactions`]).
fn message<R>(row: &R) -> ChatMessage
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let reply_to: Option<i64> = row.get("reply_to");
    ChatMessage {
        id: row.get("id"),
        room: row.get("room"),
        seq: row.get("seq"),
        text: row.get("text"),
        author: Author {
            id: row.get("author_id"),
            name: row.get("author_name"),
            username: row.get("author_username"),
        },
        sent_at: row.get("sent_at"),
        client_id: row.get("client_id"),
        edited_at: row.get("edited_at"),
        deleted: deleted_by(row, "deleted_by"),
        reply_to: reply_to.map(|seq| Quote {
            seq,
            author: Author {
                id: row.get("quoted_author_id"),
                name: row.get("quoted_author_name"),
                username: row.get("quoted_author_username"),
            },
            text: quote_snippet(&row.get::<String, _>("quoted_text")),
            deleted: deleted_by(row, "quoted_deleted_by"),
        }),
        reactions: Vec::new(),
        mentions: row
            .get::<Option<String>, _>("mentions")
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default(),
        attachment: file_info(row, "file_"),
    }
}

/// The file columns named `{prefix}id`, `name`, `type`, `size`, `width`, `height` (all NULL for
/// none), as a [`FileInfo`].
fn file_info<R>(row: &R, prefix: &str) -> Option<FileInfo>
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let column = |name: &str| format!("{prefix}{name}");
    let id: Option<String> = row.get(column("id").as_str());
    let width: Option<i64> = row.get(column("width").as_str());
    let height: Option<i64> = row.get(column("height").as_str());
    let pixels = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Some(FileInfo {
        id: id?,
        name: row.get(column("name").as_str()),
        content_type: row.get(column("type").as_str()),
        size: u64::try_from(row.get::<i64, _>(column("size").as_str())).unwrap_or(0),
        image: width.zip(height).map(|(width, height)| ImageSize {
            width: pixels(width),
            height: pixels(height),
        }),
    })
}

/// How a file is read, as [`stored_file`] takes it: its columns, and the author and client id
/// of the message that carries it (NULL until one does). A deleted message carries nothing: its
/// deletion removes the file, but a node of the version before files deletes without knowing.
fn file_query(p: char) -> String {
    format!(
        "SELECT files.id AS file_id, files.name AS file_name, files.content_type AS file_type, \
         files.size AS file_size, files.width AS file_width, files.height AS file_height, \
         files.room, files.uploader_id, carrier.author_id AS carrier_author, \
         carrier.client_id AS carrier_client_id FROM files \
         LEFT JOIN messages AS carrier \
         ON carrier.attachment = files.id AND carrier.deleted_by IS NULL \
         WHERE files.id = {p}1 LIMIT 1"
    )
}

/// A row of [`file_query`].
fn stored_file<R>(row: &R) -> Option<StoredFile>
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let carrier: Option<String> = row.get("carrier_author");
    Some(StoredFile {
        info: file_info(row, "file_")?,
        room: row.get("room"),
        uploader_id: row.get("uploader_id"),
        attached_to: carrier.map(|author| (author, row.get("carrier_client_id"))),
    })
}

/// The files uploaded before `{p}1` that no message carries, for [`Store::purge_files`].
fn purge_query(p: char) -> String {
    format!(
        "DELETE FROM files WHERE created_at < {p}1 \
         AND NOT EXISTS (SELECT 1 FROM messages \
         WHERE messages.attachment = files.id AND messages.deleted_by IS NULL)"
    )
}

/// How reactions are read, with their reactor's username, for [`with_reactions`].
const REACTIONS_SELECT: &str = "SELECT reactions.room, reactions.target, reactions.emoji, \
     reactions.user_id, reactions.user_name, accounts.username, reactions.seq FROM reactions \
     LEFT JOIN accounts ON accounts.user_id = reactions.user_id";

/// The reactions to the messages of room `{p}1` from seq `{p}2` to `{p}3`, as [`with_reactions`]
/// takes them, with the store's placeholder `p` (`?` or `$`).
fn reactions_query(p: char) -> String {
    format!(
        "{REACTIONS_SELECT} \
         WHERE reactions.room = {p}1 AND reactions.target BETWEEN {p}2 AND {p}3 \
         ORDER BY reactions.target, reactions.seq"
    )
}

/// The reactions to the messages whose `(room, seq)` the query `pairs` selects (messages of
/// any rooms, far apart: search results), as [`with_reactions`] takes them.
fn reactions_of_query(pairs: &str) -> String {
    format!(
        "{REACTIONS_SELECT} WHERE (reactions.room, reactions.target) IN ({pairs}) \
         ORDER BY reactions.room, reactions.target, reactions.seq"
    )
}

/// `messages` with their reactions, from the rows of [`reactions_query`] or
/// [`reactions_of_query`] over them: each emoji in the order of its first reactor, as
/// [`ChatMessage::apply`] keeps them.
fn with_reactions<R>(mut messages: Vec<ChatMessage>, rows: &[R]) -> Vec<ChatMessage>
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let positions: HashMap<(String, i64), usize> = messages
        .iter()
        .enumerate()
        .map(|(at, message)| ((message.room.clone(), message.seq), at))
        .collect();
    for row in rows {
        let Some(&at) = positions.get(&(row.get("room"), row.get("target"))) else {
            continue;
        };
        let reactions = &mut messages[at].reactions;
        let emoji: String = row.get("emoji");
        let reactor = Reactor {
            user: Author {
                id: row.get("user_id"),
                name: row.get("user_name"),
                username: row.get("username"),
            },
            seq: row.get("seq"),
        };
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.by.push(reactor),
            None => reactions.push(Reaction {
                emoji,
                by: vec![reactor],
            }),
        }
    }
    messages
}

/// The changes of room `{p}1` after seq `{p}2`, at most `{p}3`, in seq order, as
/// [`message_changed`] reads them: edits and deletions, and reactions.
fn changes_query(p: char) -> String {
    format!(
        "SELECT changes.*, accounts.username AS actor_username FROM ( \
         SELECT room, seq, target, kind, at, text, deleted_by, NULL AS emoji, NULL AS actor_id, \
         NULL AS actor_name FROM changes WHERE room = {p}1 AND seq > {p}2 \
         UNION ALL \
         SELECT room, seq, target, kind, at, NULL, NULL, emoji, actor_id, actor_name \
         FROM reaction_changes WHERE room = {p}1 AND seq > {p}2 \
         ) AS changes LEFT JOIN accounts ON accounts.user_id = changes.actor_id \
         ORDER BY changes.seq LIMIT {p}3"
    )
}

/// A row of [`changes_query`].
fn message_changed<R>(row: &R) -> MessageChanged
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.get("kind");
    let reaction = || {
        let emoji = row.get("emoji");
        let user = Author {
            id: row.get("actor_id"),
            name: row.get("actor_name"),
            username: row.get("actor_username"),
        };
        (emoji, user)
    };
    // The columns' CHECKs allow only these kinds.
    let change = match kind.as_str() {
        "edit" => Change::Edited {
            // Erased once the message was deleted (a later change says so).
            text: row.get::<Option<String>, _>("text").unwrap_or_default(),
            edited_at: row.get("at"),
        },
        "react" => {
            let (emoji, user) = reaction();
            Change::Reacted { emoji, user }
        }
        "unreact" => {
            let (emoji, user) = reaction();
            Change::Unreacted { emoji, user }
        }
        _ => Change::Deleted {
            by: deleted_by(row, "deleted_by").unwrap_or(DeletedBy::Admin),
        },
    };
    MessageChanged {
        room: row.get("room"),
        seq: row.get("seq"),
        target: row.get("target"),
        change,
    }
}

/// A `deleted_by` column.
fn deleted_by<R>(row: &R, column: &str) -> Option<DeletedBy>
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let by: Option<String> = row.get(column);
    by.as_deref().and_then(DeletedBy::parse)
}

/// `id, name, username, role` (the last two NULL for a guest), and `last_used_at` if selected.
fn identity<R>(row: &R) -> Identity
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let username: Option<String> = row.get("username");
    let role: Option<String> = row.get("role");
    Identity {
        user: Author {
            id: row.get("id"),
            name: row.get("name"),
            username: username.clone(),
        },
        account: username.zip(role).map(|(username, role)| AccountInfo {
            username,
            // The column's CHECK allows only the two.
            role: Role::parse(&role).unwrap_or(Role::Member),
        }),
        last_used_at: row.try_get("last_used_at").ok(),
        banned: row
            .try_get::<Option<i64>, _>("banned_at")
            .ok()
            .flatten()
            .is_some(),
    }
}

/// `id, name, username, role, banned_at` of `accounts JOIN users`.
fn user_entry<R>(row: &R) -> UserEntry
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let Identity {
        user,
        account,
        banned,
        ..
    } = identity(row);
    UserEntry {
        user,
        account,
        banned,
    }
}

/// Every account with its ban, by username key.
const ACCOUNTS_QUERY: &str = "SELECT users.id, users.name, users.banned_at, accounts.username, \
     accounts.role FROM accounts JOIN users ON users.id = accounts.user_id \
     ORDER BY accounts.username_key";

/// `id, name, username, role, password_hash`.
fn stored_account<R>(row: &R) -> Option<StoredAccount>
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let Identity {
        user,
        account,
        banned,
        ..
    } = identity(row);
    Some(StoredAccount {
        user,
        account: account?,
        banned,
        password_hash: row.get("password_hash"),
    })
}

/// `token_hash, created_at, last_used_at, last_address`.
fn stored_session<R>(row: &R) -> StoredSession
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    StoredSession {
        token_hash: row.get("token_hash"),
        created_at: row.get("created_at"),
        last_used_at: row.get("last_used_at"),
        last_address: row.get("last_address"),
    }
}

/// A failed account insert: a taken username (or look-alike), or a user with an account.
fn account_conflict(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            if database.message().contains("username_key")
                || database.constraint() == Some("accounts_username_key_key")
            {
                StoreError::UsernameTaken
            } else {
                StoreError::AccountExists
            }
        }
        _ => error.into(),
    }
}

/// The query for the account matching `condition` (with the store's placeholder), as
/// [`stored_account`] reads it.
fn account_query(condition: &str) -> String {
    format!(
        "SELECT users.id, users.name, users.banned_at, accounts.username, accounts.role, \
         accounts.password_hash FROM accounts JOIN users ON users.id = accounts.user_id \
         WHERE {condition}"
    )
}
