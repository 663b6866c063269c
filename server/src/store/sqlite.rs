//! The embedded store: one SQLite file in the data directory, WAL mode, synchronous commits.
//!
//! Writes go through a single connection (SQLite has one writer anyway; queuing in the pool
//! beats retrying on `SQLITE_BUSY`); reads use a separate pool and never wait for writes.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use anyhow::Context;
use async_trait::async_trait;
use shared::{Author, Change, ChatMessage, MessageChanged, Role, RoomInfo, UserEntry};
use sqlx::{
    Connection, QueryBuilder, Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    ACCOUNTS_QUERY, ChangeRow, Identity, MESSAGE_SELECT, NewAccount, NewChange, NewFile,
    NewMessage, NewSession, PEOPLE_ORDER, PEOPLE_SELECT, Posted, RoleChange, RoomLimits, Standing,
    Store, StoreError, StoreResult, StoredAccount, StoredFile, StoredSession, Target, USER_SELECT,
    account_conflict, account_query,
    batch::{Committer, Plan, WriteBatch, Written, count, refusal},
    change_row, changes_anything, changes_query, file_query, identity, message, message_changed,
    purge_query, reactions_of_query, reactions_query, stored_account, stored_file, stored_session,
    user_entry, with_reactions,
};

/// The database's file in the data directory.
pub const DATABASE_FILE: &str = "chat.db";

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Appends and changes go to one committer task, which stores whatever has queued up in a
    /// single transaction: one fsync for many messages and changes, each acknowledged only
    /// after its commit.
    committer: Committer,
}

impl SqliteStore {
    /// The account matching `condition` (one `?`, bound to `value`).
    async fn account_where(
        &self,
        condition: &str,
        value: &str,
    ) -> StoreResult<Option<StoredAccount>> {
        let row = sqlx::query(&account_query(condition))
            .bind(value)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().and_then(stored_account))
    }

    /// `messages` (of one room, in seq order) with their reactions.
    async fn with_reactions(&self, messages: Vec<ChatMessage>) -> StoreResult<Vec<ChatMessage>> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(messages);
        };
        let rows = sqlx::query(&reactions_query('?'))
            .bind(&first.room)
            .bind(first.seq)
            .bind(last.seq)
            .fetch_all(&self.reader)
            .await?;
        Ok(with_reactions(messages, &rows))
    }

    /// Opens (creating if needed) `chat.db` in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Database(e.into()))?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit that returned survives power loss, so an acknowledged message does.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            committer: Committer::start(Writer(writer.clone())),
            writer,
            reader,
        })
    }
}

/// The message `new` changes, read inside `tx` with its reactions' state (for a reaction:
/// `emoji` and `user_id`, NULL otherwise), in one statement; [`StoreError::MessageNotFound`] if
/// no message has that seq.
async fn target_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &NewChange,
    row: &ChangeRow<'_>,
) -> StoreResult<Target> {
    let (emoji, user_id) = match row {
        ChangeRow::Reaction(_, emoji, user) => (Some(*emoji), Some(user.id.as_str())),
        ChangeRow::Edit(..) => (None, None),
    };
    // Grouped by the message: no row at all when there is no such message.
    let message = sqlx::query(
        "SELECT messages.text, messages.deleted_by, \
         count(DISTINCT reactions.emoji) AS emoji_count, \
         coalesce(max(reactions.emoji = ?3), 0) AS has_emoji, \
         coalesce(max(reactions.emoji = ?3 AND reactions.user_id = ?4), 0) AS reacted \
         FROM messages LEFT JOIN reactions \
         ON reactions.room = messages.room AND reactions.target = messages.seq \
         WHERE messages.room = ?1 AND messages.seq = ?2 GROUP BY messages.room, messages.seq",
    )
    .bind(&new.room)
    .bind(new.target)
    .bind(emoji)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::MessageNotFound)?;
    Ok(Target {
        text: message.get("text"),
        deleted: message.get::<Option<String>, _>("deleted_by").is_some(),
        emoji_count: message.get("emoji_count"),
        has_emoji: message.get("has_emoji"),
        reacted: message.get("reacted"),
    })
}

/// Applies `new` inside the batch's transaction `tx`: reads its target, decides, bumps the
/// room's counter, writes the message (or its reactions) and the change's row. A refusal
/// ([`refusal`]) has written nothing.
async fn change_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &NewChange,
) -> StoreResult<Option<MessageChanged>> {
    let row = change_row(&new.change);
    let target = target_in(tx, new, &row).await?;
    if !changes_anything(&new.change, &target)? {
        return Ok(None);
    }
    let seq: i64 = sqlx::query_scalar(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq",
    )
    .bind(&new.room)
    .fetch_one(&mut **tx)
    .await?;
    let (room, at) = (&new.room, new.target);
    match &new.change {
        Change::Edited { text, edited_at } => {
            sqlx::query("UPDATE messages SET text = ?, edited_at = ? WHERE room = ? AND seq = ?")
                .bind(text)
                .bind(edited_at)
                .bind(room)
                .bind(at)
                .execute(&mut **tx)
                .await?;
        }
        Change::Deleted { by } => {
            // Its file goes with it (the bytes too: `file_contents` cascades).
            sqlx::query(
                "DELETE FROM files WHERE id = \
                     (SELECT attachment FROM messages WHERE room = ? AND seq = ?)",
            )
            .bind(room)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "UPDATE messages SET text = '', deleted_by = ?, attachment = NULL, mentions = NULL \
                     WHERE room = ? AND seq = ?",
            )
            .bind(by.as_str())
            .bind(room)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE changes SET text = NULL WHERE room = ? AND target = ?")
                .bind(room)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM reactions WHERE room = ? AND target = ?")
                .bind(room)
                .bind(at)
                .execute(&mut **tx)
                .await?;
        }
        Change::Reacted { emoji, user } => {
            sqlx::query(
                "INSERT INTO reactions (room, target, emoji, user_id, user_name, seq) \
                     VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(room)
            .bind(at)
            .bind(emoji)
            .bind(&user.id)
            .bind(&user.name)
            .bind(seq)
            .execute(&mut **tx)
            .await?;
        }
        Change::Unreacted { emoji, user } => {
            sqlx::query(
                "DELETE FROM reactions WHERE room = ? AND target = ? AND emoji = ? \
                     AND user_id = ?",
            )
            .bind(room)
            .bind(at)
            .bind(emoji)
            .bind(&user.id)
            .execute(&mut **tx)
            .await?;
        }
    }
    match row {
        ChangeRow::Edit(kind, text, deleted_by) => sqlx::query(
            "INSERT INTO changes (room, seq, target, kind, actor_id, at, text, deleted_by) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(room)
        .bind(seq)
        .bind(at)
        .bind(kind)
        .bind(&new.actor_id)
        .bind(new.at)
        .bind(text)
        .bind(deleted_by),
        ChangeRow::Reaction(kind, emoji, user) => sqlx::query(
            "INSERT INTO reaction_changes (room, seq, target, kind, emoji, actor_id, \
                 actor_name, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(room)
        .bind(seq)
        .bind(at)
        .bind(kind)
        .bind(emoji)
        .bind(&user.id)
        .bind(&user.name)
        .bind(new.at),
    }
    .execute(&mut **tx)
    .await?;
    Ok(Some(MessageChanged {
        room: new.room.clone(),
        seq,
        target: new.target,
        change: new.change.clone(),
    }))
}

/// Copies the database in `data_dir` to `file` with `VACUUM INTO`, over a read-only connection:
/// one read transaction, so the copy is consistent (everything committed when it started, WAL
/// included) while a server goes on writing. SQLite refuses to write over an existing file.
/// Returns the database's path.
pub async fn backup(data_dir: &Path, file: &Path) -> anyhow::Result<PathBuf> {
    let database = data_dir.join(DATABASE_FILE);
    anyhow::ensure!(
        std::fs::exists(&database)?,
        "there is no database at {}",
        database.display()
    );
    let target = file
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", file.display()))?;
    let options = SqliteConnectOptions::new()
        .filename(&database)
        .read_only(true)
        .busy_timeout(Duration::from_secs(5));
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open {}", database.display()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut connection)
        .await
        .with_context(|| format!("cannot copy {} to {target}", database.display()))?;
    connection.close().await?;
    Ok(database)
}

/// The committer's side of the store: the one writer connection.
#[derive(Debug, Clone)]
struct Writer(SqlitePool);

impl WriteBatch for Writer {
    /// One transaction: the changes, each in a few statements (read, counter, write), then the
    /// messages in a fixed number of statements whatever the batch's size: one lookup of
    /// retried client ids, one counter bump for all rooms, one insert. A message for a room
    /// that does not exist, or a refused change, gets its own error without failing the others.
    async fn write(&self, changes: &[NewChange], batch: &[NewMessage]) -> StoreResult<Written> {
        // IMMEDIATE: the transaction reads before it writes; taking the write lock first means
        // another process on the same file can make it wait, never fail it half way. The one
        // writer's lock from the first read: the state a change reads is the one it applies to.
        let mut tx = self.0.begin_with("BEGIN IMMEDIATE").await?;
        let mut changed = Vec::with_capacity(changes.len());
        for new in changes {
            match change_in(&mut tx, new).await {
                Err(error) if !refusal(&error) => return Err(error),
                outcome => changed.push(outcome),
            }
        }
        let stored = stored_retries(&mut tx, batch).await?;
        let mut plan = Plan::new(batch, &stored);
        let lasts = bump_counters(&mut tx, &plan.counts()).await?;
        let rows = plan.number(&lasts);
        if !rows.is_empty() {
            QueryBuilder::new(
                "INSERT INTO messages (id, room, seq, text, author_id, author_name, sent_at, client_id, \
                 reply_to, attachment, mentions) ",
            )
            .push_values(&rows, |mut values, &(index, seq)| {
                let new = &batch[index];
                values
                    .push_bind(&new.id)
                    .push_bind(&new.room)
                    .push_bind(seq)
                    .push_bind(&new.text)
                    .push_bind(&new.author.id)
                    .push_bind(&new.author.name)
                    .push_bind(new.sent_at)
                    .push_bind(&new.client_id)
                    .push_bind(new.reply_to)
                    .push_bind(&new.attachment)
                    .push_bind(new.mentions_column());
            })
            .build()
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Written {
            changed,
            posted: plan.finish(&rows),
        })
    }
}

/// Adds each room's count of new messages to its counter (one statement for all rooms);
/// returns the new `last_seq` of each room that exists.
/// Stores `user` unless it is already (a guest's concurrent requests, or a guest becoming an
/// account, keep the row they have).
async fn insert_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    user: &Author,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a session; one already stored (the same guest's concurrent requests) is left as it is.
async fn insert_session(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    session: NewSession<'_>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_used_at, last_address, \
         expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(session.token_hash)
    .bind(session.user_id)
    .bind(session.now)
    .bind(session.now)
    .bind(session.address)
    .bind(session.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn bump_counters(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    counts: &[(&str, i64)],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    if counts.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::new("WITH counts (name, n) AS (");
    query.push_values(counts, |mut values, (room, n)| {
        values.push_bind(*room).push_bind(*n);
    });
    query.push(
        ") UPDATE rooms SET last_seq = last_seq + counts.n FROM counts \
         WHERE rooms.name = counts.name AND rooms.archived_at IS NULL \
         RETURNING rooms.name, rooms.last_seq",
    );
    let rows = query.build().fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The stored messages whose (author, client id) a message of the batch repeats. Retries are
/// rare: usually none.
async fn stored_retries(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    batch: &[NewMessage],
) -> Result<Vec<ChatMessage>, sqlx::Error> {
    let keys = Plan::keys(batch);
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // The keys go in as one JSON array, so the statement's text is always the same (prepared
    // once, cached); each key is one search of the (author_id, client_id) index.
    let keys = serde_json::to_string(&keys).expect("strings serialize");
    let rows = sqlx::query(&format!(
        "{MESSAGE_SELECT} WHERE messages.client_id IS NOT NULL \
         AND (messages.author_id, messages.client_id) \
         IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))"
    ))
    .bind(keys)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(message).collect())
}

/// Makes `user_id` a member of room `name` inside `tx`, unless they are in as many rooms as
/// allowed (checked in the same statement, so concurrent joins cannot overshoot).
async fn join_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    user_id: &str,
    name: &str,
    limits: RoomLimits,
) -> StoreResult<RoomInfo> {
    let Some(room) = room_in(tx, name).await? else {
        return Err(StoreError::RoomNotFound);
    };
    let inserted = sqlx::query(
        "INSERT INTO memberships (user_id, room) SELECT ?1, ?2 \
         WHERE (SELECT count(*) FROM memberships WHERE user_id = ?1) < ?3 \
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(name)
    .bind(count(limits.per_user))
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        let member = sqlx::query("SELECT 1 FROM memberships WHERE user_id = ? AND room = ?")
            .bind(user_id)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
        if member.is_none() {
            return Err(StoreError::TooManyMemberships);
        }
    }
    Ok(room)
}

/// The room called `name`, read inside `tx`.
async fn room_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    name: &str,
) -> StoreResult<Option<RoomInfo>> {
    let row =
        sqlx::query("SELECT name, last_seq, is_private, archived_at FROM rooms WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.as_ref().map(super::room))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: &Author, session: NewSession<'_>) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        insert_user(&mut tx, user, session.now).await?;
        insert_session(&mut tx, session).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn identity(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(
            "SELECT users.id, users.name, users.banned_at, accounts.username, accounts.role, \
             sessions.last_used_at FROM sessions \
             JOIN users ON users.id = sessions.user_id \
             LEFT JOIN accounts ON accounts.user_id = users.id \
             WHERE sessions.token_hash = ? AND (sessions.expires_at IS NULL OR sessions.expires_at > ?)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|row| identity(&row)))
    }

    async fn touch_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_used_at = ?, last_address = coalesce(?, last_address), \
             expires_at = ? WHERE token_hash = ?",
        )
        .bind(session.now)
        .bind(session.address)
        .bind(session.expires_at)
        .bind(session.token_hash)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn expire_sessions(&self, now: i64, lifetime: Option<i64>) -> StoreResult<()> {
        if let Some(lifetime) = lifetime {
            sqlx::query(
                "UPDATE sessions SET expires_at = last_used_at + ? WHERE expires_at IS NULL",
            )
            .bind(lifetime)
            .execute(&self.writer)
            .await?;
        }
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        insert_session(&mut tx, session).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<StoredSession>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at, last_used_at, last_address FROM sessions \
             WHERE user_id = ? AND (expires_at IS NULL OR expires_at > ?) \
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(stored_session).collect())
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        token_hash: Option<&[u8]>,
        keep: Option<&[u8]>,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "DELETE FROM sessions WHERE user_id = ? AND (? IS NULL OR token_hash = ?) \
             AND (? IS NULL OR token_hash <> ?) RETURNING token_hash",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(token_hash)
        .bind(keep)
        .bind(keep)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.iter().map(|row| row.get("token_hash")).collect())
    }

    async fn create_account(&self, account: NewAccount<'_>) -> StoreResult<Role> {
        // One writer: the count below is the count at the insert.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let first = sqlx::query("SELECT 1 FROM accounts LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .is_none();
        let role = if first { Role::Admin } else { Role::Member };
        insert_user(&mut tx, account.user, account.session.now).await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (user_id, username, username_key, password_hash, role, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&account.user.id)
        .bind(account.username)
        .bind(account.username_key)
        .bind(account.password_hash)
        .bind(role.as_str())
        .bind(account.session.now)
        .execute(&mut *tx)
        .await;
        inserted.map_err(account_conflict)?;
        // A guest becoming the account: its chosen name, and no session but the new one (a
        // guest's token must not speak for an account).
        sqlx::query("UPDATE users SET name = ? WHERE id = ?")
            .bind(&account.user.name)
            .bind(&account.user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(&account.user.id)
            .execute(&mut *tx)
            .await?;
        insert_session(&mut tx, account.session).await?;
        tx.commit().await?;
        Ok(role)
    }

    async fn accounts(&self) -> StoreResult<Vec<UserEntry>> {
        let rows = sqlx::query(ACCOUNTS_QUERY).fetch_all(&self.reader).await?;
        Ok(rows.iter().map(user_entry).collect())
    }

    async fn set_banned(&self, user: &Author, banned_at: Option<i64>) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        insert_user(&mut tx, user, banned_at.unwrap_or_default()).await?;
        sqlx::query("UPDATE users SET banned_at = ? WHERE id = ?")
            .bind(banned_at)
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn standing(&self, user_id: &str) -> StoreResult<Standing> {
        let row = sqlx::query(
            "SELECT users.banned_at, accounts.user_id AS account FROM users \
             LEFT JOIN accounts ON accounts.user_id = users.id WHERE users.id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(match row {
            None => Standing::Free,
            Some(row) if row.get::<Option<i64>, _>("banned_at").is_some() => Standing::Banned,
            Some(row) if row.get::<Option<String>, _>("account").is_some() => Standing::Account,
            Some(_) => Standing::Free,
        })
    }

    async fn set_role(&self, user_id: &str, role: Role) -> StoreResult<RoleChange> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // One writer: the count is the count at the update.
        let admins_left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM accounts WHERE role = 'admin' AND user_id <> ?",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if role != Role::Admin && admins_left == 0 {
            return Ok(RoleChange::LastAdmin);
        }
        let updated = sqlx::query("UPDATE accounts SET role = ? WHERE user_id = ?")
            .bind(role.as_str())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if updated.rows_affected() == 0 {
            RoleChange::NoAccount
        } else {
            RoleChange::Done
        })
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<Author>> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE users.id = ?"))
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(super::author))
    }

    async fn has_accounts(&self) -> StoreResult<bool> {
        Ok(sqlx::query("SELECT 1 FROM accounts LIMIT 1")
            .fetch_optional(&self.reader)
            .await?
            .is_some())
    }

    async fn account_by_username(&self, username_key: &str) -> StoreResult<Option<StoredAccount>> {
        self.account_where("accounts.username_key = ?", username_key)
            .await
    }

    async fn account_of(&self, user_id: &str) -> StoreResult<Option<StoredAccount>> {
        self.account_where("accounts.user_id = ?", user_id).await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET password_hash = ? WHERE user_id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| row.get("value")))
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn server_key(&self) -> StoreResult<Vec<u8>> {
        let row = sqlx::query("SELECT key FROM server_key WHERE id = 1")
            .fetch_one(&self.reader)
            .await?;
        Ok(row.get("key"))
    }

    async fn rename_user(&self, user_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET name = ? WHERE id = ?")
            .bind(name)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_room(
        &self,
        name: &str,
        private: bool,
        user_id: &str,
        now: i64,
        limits: RoomLimits,
    ) -> StoreResult<RoomInfo> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if room_in(&mut tx, name).await?.is_some() {
            return Err(StoreError::RoomExists);
        }
        let inserted = sqlx::query(
            "INSERT INTO rooms (name, last_seq, created_at, is_private) SELECT ?, 0, ?, ? \
             WHERE (SELECT count(*) FROM rooms) < ?",
        )
        .bind(name)
        .bind(now)
        .bind(private)
        .bind(count(limits.rooms))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::TooManyRooms);
        }
        let room = join_in(&mut tx, user_id, name, limits).await?;
        tx.commit().await?;
        Ok(room)
    }

    async fn room(&self, name: &str) -> StoreResult<Option<RoomInfo>> {
        let row =
            sqlx::query("SELECT name, last_seq, is_private, archived_at FROM rooms WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.as_ref().map(super::room))
    }

    async fn rooms(&self) -> StoreResult<Vec<RoomInfo>> {
        let rows =
            sqlx::query("SELECT name, last_seq, is_private, archived_at FROM rooms ORDER BY name")
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.iter().map(super::room).collect())
    }

    async fn mark_read(&self, user_id: &str, room: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO read_positions (user_id, room, seq) VALUES (?, ?, ?) \
             ON CONFLICT (user_id, room) DO UPDATE SET seq = MAX(read_positions.seq, excluded.seq)",
        )
        .bind(user_id)
        .bind(room)
        .bind(seq)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn read_positions(&self, user_id: &str) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT room, seq FROM read_positions WHERE user_id = ?")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("room"), row.get("seq")))
            .collect())
    }

    async fn set_archived(
        &self,
        name: &str,
        archived_at: Option<i64>,
    ) -> StoreResult<Option<RoomInfo>> {
        let row = sqlx::query(
            "UPDATE rooms SET archived_at = ? WHERE name = ? \
             RETURNING name, last_seq, is_private, archived_at",
        )
        .bind(archived_at)
        .bind(name)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.as_ref().map(super::room))
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<RoomInfo>> {
        let rows = sqlx::query(
            "SELECT r.name, r.last_seq, r.is_private, r.archived_at FROM memberships m JOIN rooms r ON r.name = m.room \
             WHERE m.user_id = ? ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(super::room).collect())
    }

    async fn people(&self, rooms: &[String]) -> StoreResult<Vec<(String, Author)>> {
        let rows = sqlx::query(&format!("{PEOPLE_SELECT} WHERE memberships.room IN (SELECT value FROM json_each(?)) {PEOPLE_ORDER}"))
            .bind(serde_json::json!(rooms).to_string())
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(super::member).collect())
    }

    async fn join(&self, user_id: &str, name: &str, limits: RoomLimits) -> StoreResult<RoomInfo> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let room = join_in(&mut tx, user_id, name, limits).await?;
        tx.commit().await?;
        Ok(room)
    }

    async fn leave(&self, user_id: &str, room: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM memberships WHERE user_id = ? AND room = ?")
            .bind(user_id)
            .bind(room)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn append(&self, new: NewMessage) -> StoreResult<Posted> {
        self.committer.append(new).await
    }

    async fn sync(&self, room: &str, after: i64, limit: u32) -> StoreResult<Vec<ChatMessage>> {
        let rows = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE messages.room = ? AND messages.seq > ? \
             ORDER BY messages.seq LIMIT ?"
        ))
        .bind(room)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        self.with_reactions(rows.iter().map(message).collect())
            .await
    }

    async fn history(
        &self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>> {
        let rows = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE messages.room = ? AND messages.seq < ? \
             ORDER BY messages.seq DESC LIMIT ?"
        ))
        .bind(room)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        self.with_reactions(rows.iter().rev().map(message).collect())
            .await
    }

    async fn search(
        &self,
        words: &[&str],
        rooms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>> {
        // Each word quoted (a string to FTS5, never syntax) and marked a prefix; words side by
        // side must all match. FTS5 walks its index newest first and stops at `limit` hits in
        // the rooms asked.
        let query = words
            .iter()
            .map(|word| format!("\"{}\"*", word.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ");
        let rooms = serde_json::json!(rooms).to_string();
        let rows = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE messages.rowid IN ( \
             SELECT found.rowid FROM messages_search CROSS JOIN messages AS found \
             ON found.rowid = messages_search.rowid \
             WHERE messages_search MATCH ? AND found.room IN (SELECT value FROM json_each(?)) \
             ORDER BY messages_search.rowid DESC LIMIT ?) \
             ORDER BY messages.rowid DESC"
        ))
        .bind(query)
        .bind(rooms)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let found: Vec<ChatMessage> = rows.iter().map(message).collect();
        let pairs: Vec<(&str, i64)> = found.iter().map(|m| (m.room.as_str(), m.seq)).collect();
        let pairs = serde_json::json!(pairs).to_string();
        let reactions = sqlx::query(&reactions_of_query(
            "SELECT value ->> 0, value ->> 1 FROM json_each(?)",
        ))
        .bind(pairs)
        .fetch_all(&self.reader)
        .await?;
        Ok(with_reactions(found, &reactions))
    }

    async fn message(&self, room: &str, seq: i64) -> StoreResult<Option<ChatMessage>> {
        let row = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE messages.room = ? AND messages.seq = ?"
        ))
        .bind(room)
        .bind(seq)
        .fetch_optional(&self.reader)
        .await?;
        let messages = self.with_reactions(row.iter().map(message).collect());
        Ok(messages.await?.pop())
    }

    async fn change(&self, new: NewChange) -> StoreResult<Option<MessageChanged>> {
        self.committer.change(new).await
    }

    async fn changes(
        &self,
        room: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<MessageChanged>> {
        let rows = sqlx::query(&changes_query('?'))
            .bind(room)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(message_changed).collect())
    }

    async fn add_file(&self, file: NewFile) -> StoreResult<()> {
        let NewFile {
            info,
            room,
            uploader_id,
            created_at,
            data,
            thumbnail,
        } = file;
        let (width, height) = info.image.map(|image| (image.width, image.height)).unzip();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO files (id, room, uploader_id, name, content_type, size, width, height, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&info.id)
        .bind(room)
        .bind(uploader_id)
        .bind(&info.name)
        .bind(&info.content_type)
        .bind(i64::try_from(info.size).unwrap_or(i64::MAX))
        .bind(width)
        .bind(height)
        .bind(created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO file_contents (id, thumbnail, data) VALUES (?, ?, ?)")
            .bind(&info.id)
            .bind(thumbnail)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn file(&self, id: &str) -> StoreResult<Option<StoredFile>> {
        let row = sqlx::query(&file_query('?'))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().and_then(stored_file))
    }

    async fn file_content(&self, id: &str, thumbnail: bool) -> StoreResult<Option<Vec<u8>>> {
        let column = if thumbnail { "thumbnail" } else { "data" };
        let content: Option<Option<Vec<u8>>> =
            sqlx::query_scalar(&format!("SELECT {column} FROM file_contents WHERE id = ?"))
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(content.flatten())
    }

    async fn purge_files(&self, before: i64) -> StoreResult<u64> {
        let purged = sqlx::query(&purge_query('?'))
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(purged.rows_affected())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    fn committing(&self) -> bool {
        self.committer.is_running()
    }

    /// Commits what is queued, then closes both pools (checkpointing the WAL).
    async fn close(&self) {
        self.committer.close().await;
        self.reader.close().await;
        self.writer.close().await;
    }
}

#[cfg(test)]
impl super::conformance::TestStore for SqliteStore {
    fn writer(&self) -> impl WriteBatch {
        Writer(self.writer.clone())
    }

    fn committer(&self) -> &Committer {
        &self.committer
    }
}
