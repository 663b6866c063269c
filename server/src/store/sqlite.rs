//! The embedded store: one SQLite file in the data directory, WAL mode, synchronous commits.
//!
//! Writes go through a single connection (SQLite has one writer anyway; queuing in the pool
//! beats retrying on `SQLITE_BUSY`); reads use a separate pool and never wait for writes.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use shared::{Author, ChatMessage, RoomInfo};
use sqlx::{
    QueryBuilder, Row, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

use super::{NewMessage, Posted, RoomLimits, Store, StoreError, StoreResult};
use crate::supervise::supervise;

const MESSAGE_COLUMNS: &str = "id, room, seq, text, author_id, author_name, sent_at, client_id";

/// A message to store and where to send the outcome once it is committed.
type AppendRequest = (NewMessage, oneshot::Sender<StoreResult<Posted>>);

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Appends go to one committer task, which stores whatever has queued up in a single
    /// transaction: one fsync for many messages, each acknowledged only after its commit.
    appends: mpsc::Sender<AppendRequest>,
    committer: Arc<Committer>,
}

/// The committer task, kept so that closing the store can stop it and wait for it.
#[derive(Debug)]
struct Committer {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
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
        let (stop, stopped) = watch::channel(false);
        let queued = Arc::new(tokio::sync::Mutex::new(queued));
        let task = tokio::spawn({
            let writer = writer.clone();
            supervise("committer", move || {
                commit_appends(writer.clone(), queued.clone(), stopped.clone())
            })
        });
        Ok(Self {
            writer,
            reader,
            appends,
            committer: Arc::new(Committer {
                stop,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// Stops taking messages, commits those already queued, then closes both pools
    /// (checkpointing the WAL).
    pub async fn close(&self) {
        self.committer.stop.send_replace(true);
        let task = self.committer.task.lock().expect("committer lock").take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the committer failed while stopping");
        }
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The committer: takes every append that has queued up (up to [`MAX_BATCH`]) and stores them in
/// one transaction, in arrival order. Once `stop` turns true it takes no more, commits what is
/// queued and returns.
async fn commit_appends(
    writer: SqlitePool,
    queued: Arc<tokio::sync::Mutex<mpsc::Receiver<AppendRequest>>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut queued = queued.lock().await;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut stopping = false;
    loop {
        // Between batches only: a batch being committed always finishes.
        let received = tokio::select! {
            received = queued.recv_many(&mut batch, MAX_BATCH) => received,
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                queued.close();
                continue;
            }
        };
        if received == 0 {
            return;
        }
        match store_batch(&writer, &batch).await {
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

/// Stores a batch in one transaction, in a fixed number of statements whatever its size: one
/// lookup of retried client ids, one counter bump per room, one insert. A message for a room
/// that does not exist gets its own error without failing the others; a database error fails
/// (and rolls back) the whole batch.
async fn store_batch(
    writer: &SqlitePool,
    batch: &[AppendRequest],
) -> Result<Vec<StoreResult<Posted>>, sqlx::Error> {
    // IMMEDIATE: the transaction reads before it writes; taking the write lock first means
    // another process on the same file can make it wait, never fail it half way.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let stored = stored_retries(&mut tx, batch).await?;

    // What becomes of each message: a retry of a stored one, of an earlier one in this batch,
    // or new in its room (in arrival order).
    let mut outcomes: Vec<Option<StoreResult<Posted>>> = batch.iter().map(|_| None).collect();
    let mut retries_in_batch = Vec::new();
    let mut first_with_key = HashMap::new();
    let mut new_by_room: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, (new, _)) in batch.iter().enumerate() {
        if let Some(client_id) = &new.client_id {
            let key = (new.author.id.as_str(), client_id.as_str());
            let repeated = |m: &&ChatMessage| {
                m.author.id == new.author.id && m.client_id.as_ref() == Some(client_id)
            };
            if let Some(message) = stored.iter().find(repeated) {
                outcomes[index] = Some(Ok(Posted::Duplicate(message.clone())));
                continue;
            }
            if let Some(&first) = first_with_key.get(&key) {
                retries_in_batch.push((index, first));
                continue;
            }
            first_with_key.insert(key, index);
        }
        new_by_room
            .entry(new.room.as_str())
            .or_default()
            .push(index);
    }

    // Each room's counter moves once, by its number of new messages (one statement for all
    // rooms): gap-free, in arrival order.
    let mut rows = Vec::new();
    let lasts = bump_counters(&mut tx, &new_by_room).await?;
    for (room, indexes) in new_by_room {
        match lasts.get(room) {
            Some(&last) => {
                let first = last - i64::try_from(indexes.len()).expect("a batch fits in i64") + 1;
                rows.extend(indexes.into_iter().zip(first..));
            }
            None => {
                for index in indexes {
                    outcomes[index] = Some(Err(StoreError::RoomNotFound));
                }
            }
        }
    }
    if !rows.is_empty() {
        QueryBuilder::new(
            "INSERT INTO messages (id, room, seq, text, author_id, author_name, sent_at, client_id) ",
        )
        .push_values(&rows, |mut values, &(index, seq)| {
            let new = &batch[index].0;
            values
                .push_bind(&new.id)
                .push_bind(&new.room)
                .push_bind(seq)
                .push_bind(&new.text)
                .push_bind(&new.author.id)
                .push_bind(&new.author.name)
                .push_bind(new.sent_at)
                .push_bind(&new.client_id);
        })
        .build()
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    for (index, seq) in rows {
        let new = &batch[index].0;
        outcomes[index] = Some(Ok(Posted::New(ChatMessage {
            id: new.id.clone(),
            room: new.room.clone(),
            seq,
            text: new.text.clone(),
            author: new.author.clone(),
            sent_at: new.sent_at,
            client_id: new.client_id.clone(),
        })));
    }
    for (index, first) in retries_in_batch {
        outcomes[index] = Some(match &outcomes[first] {
            Some(Ok(Posted::New(message))) => Ok(Posted::Duplicate(message.clone())),
            _ => Err(StoreError::RoomNotFound),
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every message has an outcome"))
        .collect())
}

/// Adds each room's count of new messages to its counter; returns the new `last_seq` of each
/// room that exists.
async fn bump_counters(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new_by_room: &BTreeMap<&str, Vec<usize>>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    if new_by_room.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::new("WITH counts (name, n) AS (");
    query.push_values(new_by_room, |mut values, (room, indexes)| {
        values
            .push_bind(*room)
            .push_bind(i64::try_from(indexes.len()).expect("a batch fits in i64"));
    });
    query.push(
        ") UPDATE rooms SET last_seq = last_seq + counts.n FROM counts \
         WHERE rooms.name = counts.name RETURNING rooms.name, rooms.last_seq",
    );
    let rows = query.build().fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The stored messages whose (author, client id) a message of the batch repeats. Retries are
/// rare: usually none.
async fn stored_retries(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    batch: &[AppendRequest],
) -> Result<Vec<ChatMessage>, sqlx::Error> {
    let keys: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|(new, _)| Some((new.author.id.as_str(), new.client_id.as_deref()?)))
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // The keys go in as one JSON array, so the statement's text is always the same (prepared
    // once, cached); each key is one search of the (author_id, client_id) index.
    let keys = serde_json::to_string(&keys).expect("strings serialize");
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE client_id IS NOT NULL \
         AND (author_id, client_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))"
    ))
    .bind(keys)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(message).collect())
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

/// A limit as SQLite's integer.
fn count(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
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
    let row = sqlx::query("SELECT name, last_seq FROM rooms WHERE name = ?")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(room))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: &Author, token_hash: &[u8], now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, name, token_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(token_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
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
        user_id: &str,
        now: i64,
        limits: RoomLimits,
    ) -> StoreResult<RoomInfo> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if room_in(&mut tx, name).await?.is_some() {
            return Err(StoreError::RoomExists);
        }
        let inserted = sqlx::query(
            "INSERT INTO rooms (name, last_seq, created_at) SELECT ?, 0, ? \
             WHERE (SELECT count(*) FROM rooms) < ?",
        )
        .bind(name)
        .bind(now)
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
        let (reply, outcome) = oneshot::channel();
        self.appends
            .send((new, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    async fn sync(&self, room: &str, after: i64, limit: u32) -> StoreResult<Vec<ChatMessage>> {
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

    async fn history(
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

    const LIMITS: RoomLimits = RoomLimits {
        rooms: 10,
        per_user: 10,
    };

    /// A store in a fresh directory, with user `u1` and room `rust`.
    async fn open_with_rust() -> (SqliteStore, std::path::PathBuf) {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        let ada = Author {
            id: "u1".into(),
            name: "Ada".into(),
        };
        store.create_user(&ada, b"hash", 0).await.unwrap();
        store.create_room("rust", "u1", 0, LIMITS).await.unwrap();
        (store, dir)
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
    async fn one_batch_mixes_rooms_retries_and_unknown_rooms() {
        let (store, dir) = open_with_rust().await;
        let stored = store
            .append(new_message("general", "earlier", Some("old")))
            .await
            .unwrap();
        let batch: Vec<AppendRequest> = [
            new_message("general", "a", Some("x")),
            new_message("nope", "b", None),
            new_message("rust", "c", None),
            new_message("general", "a again", Some("x")),
            new_message("general", "d", None),
            new_message("general", "earlier again", Some("old")),
        ]
        .into_iter()
        .map(|new| (new, oneshot::channel().0))
        .collect();
        let outcomes = store_batch(&store.writer, &batch).await.unwrap();
        let seen: Vec<_> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(Posted::New(m)) => format!("new {} {} {}", m.room, m.seq, m.text),
                Ok(Posted::Duplicate(m)) => format!("dup {} {} {}", m.room, m.seq, m.text),
                Err(error) => error.to_string(),
            })
            .collect();
        assert_eq!(
            seen,
            [
                "new general 2 a",
                "no such room",
                "new rust 1 c",
                "dup general 2 a",
                "new general 3 d",
                "dup general 1 earlier",
            ]
        );
        let general = store.sync("general", 0, 10).await.unwrap();
        assert_eq!(stored, Posted::New(general[0].clone()));
        assert_eq!(general.len(), 3);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn sequence_numbers_are_per_room_and_gap_free() {
        let (store, dir) = open_with_rust().await;
        let mut seqs = Vec::new();
        for n in 0..5 {
            for room in ["general", "rust"] {
                let Posted::New(message) = store
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
        let page = store.history("rust", Some(5), 2).await.unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [3, 4]);
        let missed = store.sync("general", 3, 100).await.unwrap();
        assert_eq!(missed.iter().map(|m| m.seq).collect::<Vec<_>>(), [4, 5]);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn concurrent_appends_are_batched_without_gaps_or_duplicates() {
        let (store, dir) = open_with_rust().await;
        // Message n goes to #rust if n is a multiple of 3, else to general. Every tenth append
        // (n ending in 9) is a retry of message n - 1: same room, text and client id. Whichever
        // of the two is stored first, the other gets it back as a duplicate.
        let original = |n: usize| if n % 10 == 9 { n - 1 } else { n };
        let room_of = |n: usize| {
            if n.is_multiple_of(3) {
                "rust"
            } else {
                "general"
            }
        };
        let appends = (0..300).map(|n| {
            let store = store.clone();
            let m = original(n);
            let new = new_message(room_of(m), &format!("m{m}"), Some(&format!("c{m}")));
            tokio::spawn(async move { store.append(new).await.unwrap() })
        });
        let mut new = Vec::new();
        let mut duplicates = Vec::new();
        for append in appends.collect::<Vec<_>>() {
            match append.await.unwrap() {
                Posted::New(message) => new.push(message),
                Posted::Duplicate(message) => duplicates.push(message),
            }
        }

        // 270 distinct messages, 30 retries; #rust gets the multiples of 3 not ending in 9
        // (100 - 10), general the rest (200 - 20).
        assert_eq!((new.len(), duplicates.len()), (270, 30));
        for duplicate in &duplicates {
            assert!(
                new.contains(duplicate),
                "a retry returns the stored message"
            );
        }
        for (room, count) in [("rust", 90), ("general", 180)] {
            let mut want: Vec<String> = (0..300)
                .filter(|&n| original(n) == n && room_of(n) == room)
                .map(|n| format!("m{n}"))
                .collect();
            assert_eq!(want.len(), count, "room {room}");
            let stored = store.sync(room, 0, 1_000).await.unwrap();
            let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
            let last_seq = i64::try_from(count).unwrap();
            assert_eq!(seqs, (1..=last_seq).collect::<Vec<_>>(), "room {room}");
            assert_eq!(store.room(room).await.unwrap().unwrap().last_seq, last_seq);
            let mut texts: Vec<String> = stored.into_iter().map(|m| m.text).collect();
            texts.sort_unstable();
            want.sort_unstable();
            assert_eq!(texts, want, "room {room}");
            let mut acked: Vec<i64> = new
                .iter()
                .filter(|m| m.room == room)
                .map(|m| m.seq)
                .collect();
            acked.sort_unstable();
            assert_eq!(
                acked, seqs,
                "room {room}: every stored message was acknowledged as new"
            );
        }
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_repeated_client_id_returns_the_first_message() {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        let Posted::New(first) = store
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
        assert_eq!(again, Posted::Duplicate(first));
        assert_eq!(store.room("general").await.unwrap().unwrap().last_seq, 1);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn rooms_memberships_and_limits() {
        let (store, dir) = open_with_rust().await;
        assert_eq!(
            store.user_by_token(b"hash").await.unwrap().map(|u| u.name),
            Some("Ada".to_owned())
        );
        // A second create of the same user (two requests of one guest at once) changes nothing.
        let again = Author {
            id: "u1".into(),
            name: "Other".into(),
        };
        store.create_user(&again, b"other", 0).await.unwrap();
        assert_eq!(
            store.user_by_token(b"hash").await.unwrap().map(|u| u.name),
            Some("Ada".to_owned())
        );
        assert!(matches!(
            store.create_room("general", "u1", 0, LIMITS).await,
            Err(StoreError::RoomExists)
        ));
        assert!(matches!(
            store.join("u1", "nope", LIMITS).await,
            Err(StoreError::RoomNotFound)
        ));
        assert!(matches!(
            store.append(new_message("nope", "x", None)).await,
            Err(StoreError::RoomNotFound)
        ));
        store.join("u1", "rust", LIMITS).await.unwrap();
        let names = |rooms: Vec<RoomInfo>| rooms.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(store.memberships("u1").await.unwrap()), ["rust"]);

        let two = RoomLimits {
            rooms: 10,
            per_user: 2,
        };
        store.create_room("go", "u1", 0, two).await.unwrap();
        assert!(matches!(
            store.create_room("zig", "u1", 0, two).await,
            Err(StoreError::TooManyMemberships)
        ));
        assert!(store.room("zig").await.unwrap().is_none(), "rolled back");
        // Joining a room one is in already is fine at the limit.
        store.join("u1", "go", two).await.unwrap();
        store.leave("u1", "go").await.unwrap();
        let one_more = RoomLimits {
            rooms: 3,
            per_user: 5,
        };
        assert!(matches!(
            store.create_room("zig", "u1", 0, one_more).await,
            Err(StoreError::TooManyRooms)
        ));
        assert_eq!(names(store.memberships("u1").await.unwrap()), ["rust"]);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn closing_commits_what_is_queued() {
        let dir = temp_dir();
        let store = SqliteStore::open(&dir).await.unwrap();
        // More than one batch, so that some are still queued when closing starts.
        let queued = 3 * MAX_BATCH;
        let replies: Vec<_> = (0..queued)
            .map(|n| {
                let (reply, outcome) = oneshot::channel();
                store
                    .appends
                    .try_send((new_message("general", &format!("m{n}"), None), reply))
                    .expect("room in the queue");
                outcome
            })
            .collect();
        store.close().await;
        for outcome in replies {
            assert!(matches!(outcome.await, Ok(Ok(Posted::New(_)))));
        }
        let store = SqliteStore::open(&dir).await.unwrap();
        assert_eq!(
            store.room("general").await.unwrap().unwrap().last_seq,
            i64::try_from(queued).unwrap()
        );
        assert!(matches!(
            store.append(new_message("general", "late", None)).await,
            Ok(Posted::New(_))
        ));
        store.close().await;
        assert!(matches!(
            store
                .append(new_message("general", "after close", None))
                .await,
            Err(StoreError::Closed)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
