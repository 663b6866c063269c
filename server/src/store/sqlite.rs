//! The embedded store: one SQLite file in the data directory, WAL mode, synchronous commits.
//!
//! Writes go through a single connection (SQLite has one writer anyway; queuing in the pool
//! beats retrying on `SQLITE_BUSY`); reads use a separate pool and never wait for writes.

use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use shared::{Author, ChatMessage, RoomInfo};
use sqlx::{
    Row, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use tokio::sync::{mpsc, oneshot};

use super::{Appended, NewMessage, Store, StoreError, StoreResult};

const MESSAGE_COLUMNS: &str = "id, room, seq, text, author_id, author_name, sent_at, client_id";

/// A message to store and where to send the outcome once it is committed.
type AppendRequest = (NewMessage, oneshot::Sender<StoreResult<Appended>>);

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Appends go to one committer task, which stores whatever has queued up in a single
    /// transaction: one fsync for many messages, each acknowledged only after its commit.
    appends: mpsc::Sender<AppendRequest>,
}

impl SqliteStore {
    /// Opens (creating if needed) `chat.db` in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Database(e.into()))?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(data_dir.join("chat.db"))
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
        sqlx::migrate!("./migrations").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (appends, queued) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(commit_appends(writer.clone(), queued));
        Ok(Self {
            writer,
            reader,
            appends,
        })
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The committer: takes every append that has queued up (up to [`MAX_BATCH`]) and stores them in
/// one transaction, in arrival order.
async fn commit_appends(writer: SqlitePool, mut queued: mpsc::Receiver<AppendRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match store_batch(&writer, &mut batch).await {
            Ok(outcomes) => {
                for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                    // The requester may have gone (its connection closed); the message is
                    // stored all the same and reaches it through catch-up.
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, messages = batch.len(), "storing a batch failed");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Batch(error.to_string())));
                }
            }
        }
    }
}

/// Stores a batch in one transaction. A message for a room that does not exist gets its own
/// error without failing the others; a database error fails (and rolls back) the whole batch.
async fn store_batch(
    writer: &SqlitePool,
    batch: &mut [AppendRequest],
) -> Result<Vec<StoreResult<Appended>>, sqlx::Error> {
    let mut tx = writer.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (new, _) in batch.iter() {
        outcomes.push(append_one(&mut tx, new).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn append_one(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &NewMessage,
) -> Result<StoreResult<Appended>, sqlx::Error> {
    if let Some(client_id) = &new.client_id {
        let existing = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE author_id = ? AND client_id = ?"
        ))
        .bind(&new.author.id)
        .bind(client_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = existing {
            return Ok(Ok(Appended::Duplicate(message(&row))));
        }
    }
    let Some(row) =
        sqlx::query("UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq")
            .bind(&new.room)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(Err(StoreError::RoomNotFound));
    };
    let seq: i64 = row.get(0);
    sqlx::query(
        "INSERT INTO messages (id, room, seq, text, author_id, author_name, sent_at, client_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&new.id)
    .bind(&new.room)
    .bind(seq)
    .bind(&new.text)
    .bind(&new.author.id)
    .bind(&new.author.name)
    .bind(new.sent_at)
    .bind(&new.client_id)
    .execute(&mut **tx)
    .await?;
    Ok(Ok(Appended::New(ChatMessage {
        id: new.id.clone(),
        room: new.room.clone(),
        seq,
        text: new.text.clone(),
        author: new.author.clone(),
        sent_at: new.sent_at,
        client_id: new.client_id.clone(),
    })))
}

fn message(row: &SqliteRow) -> ChatMessage {
    ChatMessage {
        id: row.get("id"),
        room: row.get("room"),
        seq: row.get("seq"),
        text: row.get("text"),
        author: Author {
            id: row.get("author_id"),
            name: row.get("author_name"),
        },
        sent_at: row.get("sent_at"),
        client_id: row.get("client_id"),
    }
}

fn room(row: &SqliteRow) -> RoomInfo {
    RoomInfo {
        name: row.get("name"),
        last_seq: row.get("last_seq"),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: &Author, token_hash: &[u8], now: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO users (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(&user.id)
            .bind(&user.name)
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO memberships (user_id, room) VALUES (?, ?)")
            .bind(&user.id)
            .bind(shared::DEFAULT_ROOM)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Author>> {
        let row = sqlx::query("SELECT id, name FROM users WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| Author {
            id: row.get("id"),
            name: row.get("name"),
        }))
    }

    async fn rename_user(&self, user_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET name = ? WHERE id = ?")
            .bind(name)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_room(&self, name: &str, now: i64) -> StoreResult<RoomInfo> {
        let inserted = sqlx::query(
            "INSERT INTO rooms (name, last_seq, created_at) VALUES (?, 0, ?) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::RoomExists);
        }
        Ok(RoomInfo {
            name: name.to_owned(),
            last_seq: 0,
        })
    }

    async fn room(&self, name: &str) -> StoreResult<Option<RoomInfo>> {
        let row = sqlx::query("SELECT name, last_seq FROM rooms WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(room))
    }

    async fn rooms(&self) -> StoreResult<Vec<RoomInfo>> {
        let rows = sqlx::query("SELECT name, last_seq FROM rooms ORDER BY name")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(room).collect())
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<RoomInfo>> {
        let rows = sqlx::query(
            "SELECT r.name, r.last_seq FROM memberships m JOIN rooms r ON r.name = m.room \
             WHERE m.user_id = ? ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(room).collect())
    }

    async fn is_member(&self, user_id: &str, room: &str) -> StoreResult<bool> {
        if room == shared::DEFAULT_ROOM {
            return Ok(true);
        }
        let row = sqlx::query("SELECT 1 FROM memberships WHERE user_id = ? AND room = ?")
            .bind(user_id)
            .bind(room)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.is_some())
    }

    async fn join(&self, user_id: &str, room: &str) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO memberships (user_id, room) SELECT ?, name FROM rooms WHERE name = ? \
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(room)
        .execute(&self.writer)
        .await?;
        if result.rows_affected() == 0 && self.room(room).await?.is_none() {
            return Err(StoreError::RoomNotFound);
        }
        Ok(())
    }

    async fn leave(&self, user_id: &str, room: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM memberships WHERE user_id = ? AND room = ?")
            .bind(user_id)
            .bind(room)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn append(&self, new: NewMessage) -> StoreResult<Appended> {
        let (reply, outcome) = oneshot::channel();
        self.appends
            .send((new, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    async fn after(&self, room: &str, after: i64, limit: u32) -> StoreResult<Vec<ChatMessage>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(room)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(message).collect())
    }

    async fn before(
        &self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ChatMessage>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = ? AND seq < ? \
             ORDER BY seq DESC LIMIT ?"
        ))
        .bind(room)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().rev().map(message).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("chat-store-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn new_message(room: &str, text: &str, client_id: Option<&str>) -> NewMessage {
        NewMessage {
            id: uuid::Uuid::now_v7().to_string(),
            room: room.into(),
            text: text.into(),
            author: Author {
                id: "u1".into(),
                name: "Ada".into(),
            },
            sent_at: 1,
            client_id: client_id.map(Into::into),
        }
    }

    #[tokio::test]
    async fn sequence_numbers_are_per_room_and_gap_free() {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        store.create_room("rust", 0).await.unwrap();
        let mut seqs = Vec::new();
        for n in 0..5 {
            for room in ["general", "rust"] {
                let Appended::New(message) = store
                    .append(new_message(room, &format!("{room} {n}"), None))
                    .await
                    .unwrap()
                else {
                    panic!("duplicate");
                };
                seqs.push((message.room, message.seq));
            }
        }
        let general: Vec<i64> = seqs
            .iter()
            .filter(|(r, _)| r == "general")
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(general, [1, 2, 3, 4, 5]);
        let page = store.before("rust", Some(5), 2).await.unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [3, 4]);
        let missed = store.after("general", 3, 100).await.unwrap();
        assert_eq!(missed.iter().map(|m| m.seq).collect::<Vec<_>>(), [4, 5]);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn concurrent_appends_are_batched_without_gaps_or_duplicates() {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        store.create_room("rust", 0).await.unwrap();
        let appends = (0..300).map(|n| {
            let store = store.clone();
            let room = if n % 3 == 0 { "rust" } else { "general" };
            // Every tenth message is a retry of the one before it.
            let client_id = format!("c{}", n - n % 10 / 9);
            tokio::spawn(async move {
                store
                    .append(new_message(room, &format!("m{n}"), Some(&client_id)))
                    .await
                    .unwrap()
            })
        });
        let mut stored = Vec::new();
        for append in appends.collect::<Vec<_>>() {
            if let Appended::New(message) = append.await.unwrap() {
                stored.push((message.room, message.seq));
            }
        }
        for room in ["general", "rust"] {
            let mut seqs: Vec<i64> = stored
                .iter()
                .filter(|(r, _)| r == room)
                .map(|(_, s)| *s)
                .collect();
            seqs.sort_unstable();
            let last_seq = store.room(room).await.unwrap().unwrap().last_seq;
            assert_eq!(seqs, (1..=last_seq).collect::<Vec<_>>(), "room {room}");
        }
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_repeated_client_id_returns_the_first_message() {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        let Appended::New(first) = store
            .append(new_message("general", "once", Some("c1")))
            .await
            .unwrap()
        else {
            panic!("duplicate");
        };
        let again = store
            .append(new_message("general", "once", Some("c1")))
            .await
            .unwrap();
        assert_eq!(again, Appended::Duplicate(first));
        assert_eq!(store.room("general").await.unwrap().unwrap().last_seq, 1);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn rooms_memberships_and_unknown_rooms() {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        let ada = Author {
            id: "u1".into(),
            name: "Ada".into(),
        };
        store.create_user(&ada, b"hash", 0).await.unwrap();
        assert_eq!(
            store.user_by_token(b"hash").await.unwrap(),
            Some(ada.clone())
        );
        assert!(matches!(
            store.create_room("general", 0).await,
            Err(StoreError::RoomExists)
        ));
        assert!(matches!(
            store.join("u1", "nope").await,
            Err(StoreError::RoomNotFound)
        ));
        assert!(matches!(
            store.append(new_message("nope", "x", None)).await,
            Err(StoreError::RoomNotFound)
        ));
        store.create_room("rust", 0).await.unwrap();
        store.join("u1", "rust").await.unwrap();
        store.join("u1", "rust").await.unwrap();
        let names: Vec<String> = store
            .memberships("u1")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["general", "rust"]);
        store.leave("u1", "rust").await.unwrap();
        assert!(!store.is_member("u1", "rust").await.unwrap());
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
