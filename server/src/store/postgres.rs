//! The store several nodes share: PostgreSQL.
//!
//! The same guarantees as SQLite, held by the database rather than by one writer: a batch locks
//! its rooms' counter rows in name order (appends to one room from several nodes take turns, and
//! two batches never wait on each other in a circle), then finds retries, bumps the counters and
//! inserts, four statements whatever the batch's size. Room caps are checked under an advisory
//! lock. Migrations run at start-up under sqlx's advisory lock, so N nodes may start at once.

use std::{collections::HashMap, str::FromStr, time::Duration};

use async_trait::async_trait;
use shared::{Author, ChatMessage, RoomInfo};
use sqlx::{
    PgPool, Row,
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
};

use super::{
    NewMessage, Posted, RoomLimits, Store, StoreError, StoreResult,
    batch::{Committer, Plan, WriteBatch, count},
};

const MESSAGE_COLUMNS: &str = "id, room, seq, text, author_id, author_name, sent_at, client_id";

/// How long a request waits for a connection before it is refused as `unavailable`: well under
/// the clients' own timeouts, so they hear why.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a node that is starting waits for PostgreSQL before it gives up.
const START_WAIT: Duration = Duration::from_secs(30);

/// Advisory lock classes (the first key of `pg_advisory_xact_lock(int, int)`).
const LOCK_ROOMS: i32 = 1;
const LOCK_USER: i32 = 2;

#[derive(Debug, Clone)]
pub struct PgStore {
    /// Everything but appends.
    pool: PgPool,
    /// The committer's own connection (8 in all per node): a burst of reads never makes
    /// messages wait for one.
    writer: PgPool,
    /// Appends are group-committed per node, as with SQLite: one transaction for whatever has
    /// queued up.
    committer: Committer,
}

impl PgStore {
    /// Connects to the database `url` names and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::connect(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options`, waiting up to [`START_WAIT`] for a database that cannot be
    /// reached yet (starting, restarting, out of connections).
    pub async fn connect(options: PgConnectOptions) -> StoreResult<Self> {
        let deadline = tokio::time::Instant::now() + START_WAIT;
        let pool = loop {
            let pool = PgPoolOptions::new()
                .max_connections(7)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await;
            match pool.map_err(StoreError::from) {
                Err(StoreError::Unavailable(error)) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(%error, "PostgreSQL is unavailable; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                pool => break pool?,
            }
        };
        // During a rolling upgrade, a node of the older version may (re)start after a newer one
        // migrated: it leaves the newer migrations alone (they are additive).
        sqlx::migrate!("./migrations/postgres")
            .set_ignore_missing(true)
            .run(&pool)
            .await?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| {
            StoreError::Database(sqlx::Error::Io(std::io::Error::other(e.to_string())))
        })?;
        // The first node to start keeps its key; the others find it there.
        sqlx::query("INSERT INTO server_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(&key[..])
            .execute(&pool)
            .await?;
        let writer = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self {
            committer: Committer::start(Writer(writer.clone())),
            writer,
            pool,
        })
    }
}

/// The committer's side of the store.
#[derive(Debug, Clone)]
struct Writer(PgPool);

impl WriteBatch for Writer {
    async fn write(&self, batch: &[NewMessage]) -> StoreResult<Vec<StoreResult<Posted>>> {
        // A batch that lost a race is written again, whole: a deadlock or serialization
        // failure, or a unique key broken by a message with the same client id stored through
        // another node meanwhile in another room (the same room would have waited on its lock).
        let mut attempts = 0;
        loop {
            attempts += 1;
            match write_once(&self.0, batch).await {
                Err(StoreError::Database(sqlx::Error::Database(error)))
                    if attempts < 3
                        && (error.is_unique_violation()
                            || matches!(error.code().as_deref(), Some("40001" | "40P01"))) =>
                {
                    tracing::debug!(%error, "a batch lost a race with another node; writing again");
                }
                outcome => return outcome,
            }
        }
    }
}

async fn write_once(pool: &PgPool, batch: &[NewMessage]) -> StoreResult<Vec<StoreResult<Posted>>> {
    let mut tx = pool.begin().await?;
    // What the locking below relies on, whatever the database's default: each statement sees
    // what was committed before it started.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *tx)
        .await?;
    let mut rooms: Vec<&str> = batch.iter().map(|new| new.room.as_str()).collect();
    rooms.sort_unstable();
    rooms.dedup();
    // The rows a concurrent batch of another node would bump: locked in name order. A retry
    // (same room) waits here for its original's transaction and then finds it below.
    sqlx::query("SELECT name FROM rooms WHERE name = ANY($1) ORDER BY name FOR NO KEY UPDATE")
        .bind(&rooms)
        .execute(&mut *tx)
        .await?;

    let keys = Plan::keys(batch);
    let stored = if keys.is_empty() {
        Vec::new()
    } else {
        let (authors, client_ids): (Vec<&str>, Vec<&str>) = keys.into_iter().unzip();
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE client_id IS NOT NULL \
             AND (author_id, client_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
        ))
        .bind(authors)
        .bind(client_ids)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(message)
        .collect()
    };

    let mut plan = Plan::new(batch, &stored);
    let (names, counts): (Vec<&str>, Vec<i64>) = plan.counts().into_iter().unzip();
    let lasts: HashMap<String, i64> = if names.is_empty() {
        HashMap::new()
    } else {
        sqlx::query(
            "UPDATE rooms SET last_seq = rooms.last_seq + c.n \
             FROM unnest($1::text[], $2::int8[]) AS c (name, n) \
             WHERE rooms.name = c.name RETURNING rooms.name, rooms.last_seq",
        )
        .bind(names)
        .bind(counts)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
    };
    let rows = plan.number(&lasts);
    if !rows.is_empty() {
        let new = |index: usize| &batch[index];
        let column = |f: fn(&NewMessage) -> &str| -> Vec<&str> {
            rows.iter().map(|&(index, _)| f(new(index))).collect()
        };
        sqlx::query(
            "INSERT INTO messages (id, room, seq, text, author_id, author_name, sent_at, client_id) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], \
             $6::text[], $7::int8[], $8::text[])",
        )
        .bind(column(|m| &m.id))
        .bind(column(|m| &m.room))
        .bind(rows.iter().map(|&(_, seq)| seq).collect::<Vec<_>>())
        .bind(column(|m| &m.text))
        .bind(column(|m| &m.author.id))
        .bind(column(|m| &m.author.name))
        .bind(rows.iter().map(|&(i, _)| new(i).sent_at).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|&(i, _)| new(i).client_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(plan.finish(&rows))
}

fn message(row: &PgRow) -> ChatMessage {
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

fn room(row: &PgRow) -> RoomInfo {
    RoomInfo {
        name: row.get("name"),
        last_seq: row.get("last_seq"),
    }
}

/// Makes `user_id` a member of room `name` inside `tx`, unless they are in as many rooms as
/// allowed. The user's joins take turns (an advisory lock on the user), so concurrent joins on
/// several nodes cannot overshoot.
async fn join_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: &str,
    name: &str,
    limits: RoomLimits,
) -> StoreResult<RoomInfo> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_USER)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    let Some(room) = sqlx::query("SELECT name, last_seq FROM rooms WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(room)
    else {
        return Err(StoreError::RoomNotFound);
    };
    let inserted = sqlx::query(
        "INSERT INTO memberships (user_id, room) SELECT $1, $2 \
         WHERE (SELECT count(*) FROM memberships WHERE user_id = $1) < $3 \
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(name)
    .bind(count(limits.per_user))
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        let member = sqlx::query("SELECT 1 FROM memberships WHERE user_id = $1 AND room = $2")
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

#[async_trait]
impl Store for PgStore {
    async fn create_user(&self, user: &Author, token_hash: &[u8], now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn user_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Author>> {
        let row = sqlx::query("SELECT id, name FROM users WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| Author {
            id: row.get("id"),
            name: row.get("name"),
        }))
    }

    async fn server_key(&self) -> StoreResult<Vec<u8>> {
        let row = sqlx::query("SELECT key FROM server_key WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("key"))
    }

    async fn rename_user(&self, user_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(user_id)
            .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Room creations take turns, so that the count below is the count at the insert.
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
            .bind(LOCK_ROOMS)
            .execute(&mut *tx)
            .await?;
        let exists = sqlx::query("SELECT 1 FROM rooms WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::RoomExists);
        }
        let inserted = sqlx::query(
            "INSERT INTO rooms (name, last_seq, created_at) SELECT $1, 0, $2 \
             WHERE (SELECT count(*) FROM rooms) < $3",
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
        let row = sqlx::query("SELECT name, last_seq FROM rooms WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(room))
    }

    async fn rooms(&self) -> StoreResult<Vec<RoomInfo>> {
        let rows = sqlx::query("SELECT name, last_seq FROM rooms ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(room).collect())
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<RoomInfo>> {
        let rows = sqlx::query(
            "SELECT r.name, r.last_seq FROM memberships m JOIN rooms r ON r.name = m.room \
             WHERE m.user_id = $1 ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(room).collect())
    }

    async fn join(&self, user_id: &str, name: &str, limits: RoomLimits) -> StoreResult<RoomInfo> {
        let mut tx = self.pool.begin().await?;
        let room = join_in(&mut tx, user_id, name, limits).await?;
        tx.commit().await?;
        Ok(room)
    }

    async fn leave(&self, user_id: &str, room: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND room = $2")
            .bind(user_id)
            .bind(room)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn append(&self, new: NewMessage) -> StoreResult<Posted> {
        self.committer.append(new).await
    }

    async fn sync(&self, room: &str, after: i64, limit: u32) -> StoreResult<Vec<ChatMessage>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        ))
        .bind(room)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = $1 AND seq < $2 \
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(room)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().rev().map(message).collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn committing(&self) -> bool {
        self.committer.is_running()
    }

    async fn close(&self) {
        self.committer.close().await;
        self.writer.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
impl super::conformance::TestStore for PgStore {
    fn writer(&self) -> impl WriteBatch {
        Writer(self.writer.clone())
    }

    fn committer(&self) -> &Committer {
        &self.committer
    }
}
