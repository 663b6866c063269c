//! The store several nodes share: PostgreSQL.
//!
//! The same guarantees as SQLite, held by the database rather than by one writer: a batch locks
//! its rooms' counter rows in name order (appends and changes to one room from several nodes take
//! turns, and two batches never wait on each other in a circle), applies its changes in order
//! (each locks its message's row, reads, bumps the counter, writes), then finds retries, bumps
//! the counters and inserts its messages, four statements whatever their number. Room caps are checked under an advisory
//! lock. Migrations run at start-up under sqlx's advisory lock, so N nodes may start at once.

use std::{collections::HashMap, str::FromStr, time::Duration};

use async_trait::async_trait;
use shared::{Author, Change, ChatMessage, MessageChanged, Role, RoomInfo, UserEntry};
use sqlx::{
    PgPool, Row,
    postgres::{PgConnectOptions, PgPoolOptions},
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

/// How long a request waits for a connection before it is refused as `unavailable`: well under
/// the clients' own timeouts, so they hear why.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a node that is starting waits for PostgreSQL before it gives up.
const START_WAIT: Duration = Duration::from_secs(30);

/// Advisory lock classes (the first key of `pg_advisory_xact_lock(int, int)`).
const LOCK_ROOMS: i32 = 1;
const LOCK_USER: i32 = 2;
const LOCK_ACCOUNTS: i32 = 3;

#[derive(Debug, Clone)]
pub struct PgStore {
    /// Everything but appends and changes.
    pool: PgPool,
    /// The committer's own connection (8 in all per node): a burst of reads never makes
    /// messages wait for one.
    writer: PgPool,
    /// Appends and changes are group-committed per node, as with SQLite: one transaction for
    /// whatever has queued up.
    committer: Committer,
}

impl PgStore {
    /// The account matching `condition` (one `$1`, bound to `value`).
    async fn account_where(
        &self,
        condition: &str,
        value: &str,
    ) -> StoreResult<Option<StoredAccount>> {
        let row = sqlx::query(&account_query(condition))
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().and_then(stored_account))
    }

    /// `messages` (of one room, in seq order) with their reactions.
    async fn with_reactions(&self, messages: Vec<ChatMessage>) -> StoreResult<Vec<ChatMessage>> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(messages);
        };
        let rows = sqlx::query(&reactions_query('$'))
            .bind(&first.room)
            .bind(first.seq)
            .bind(last.seq)
            .fetch_all(&self.pool)
            .await?;
        Ok(with_reactions(messages, &rows))
    }

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
    async fn write(&self, changes: &[NewChange], batch: &[NewMessage]) -> StoreResult<Written> {
        // A batch that lost a race is written again, whole: a deadlock or serialization
        // failure, or a unique key broken by a message with the same client id stored through
        // another node meanwhile in another room (the same room would have waited on its lock).
        let mut attempts = 0;
        loop {
            attempts += 1;
            match write_once(&self.0, changes, batch).await {
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

async fn write_once(
    pool: &PgPool,
    changes: &[NewChange],
    batch: &[NewMessage],
) -> StoreResult<Written> {
    let mut tx = pool.begin().await?;
    // What the locking below relies on, whatever the database's default: each statement sees
    // what was committed before it started.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *tx)
        .await?;
    let mut rooms: Vec<&str> = changes
        .iter()
        .map(|new| new.room.as_str())
        .chain(batch.iter().map(|new| new.room.as_str()))
        .collect();
    rooms.sort_unstable();
    rooms.dedup();
    // The rows a concurrent batch of another node would bump: locked in name order, before
    // any message's row (a change's target, locked below, is of a room locked here), so two
    // batches never wait on each other in a circle. A retry (same room) waits here for its
    // original's transaction and then finds it below.
    sqlx::query("SELECT name FROM rooms WHERE name = ANY($1) ORDER BY name FOR NO KEY UPDATE")
        .bind(&rooms)
        .execute(&mut *tx)
        .await?;

    let mut changed = Vec::with_capacity(changes.len());
    for new in changes {
        match change_in(&mut tx, new).await {
            Err(error) if !refusal(&error) => return Err(error),
            outcome => changed.push(outcome),
        }
    }

    let keys = Plan::keys(batch);
    let stored = if keys.is_empty() {
        Vec::new()
    } else {
        let (authors, client_ids): (Vec<&str>, Vec<&str>) = keys.into_iter().unzip();
        sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE messages.client_id IS NOT NULL \
             AND (messages.author_id, messages.client_id) \
             IN (SELECT * FROM unnest($1::text[], $2::text[]))"
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
             WHERE rooms.name = c.name AND rooms.archived_at IS NULL \
             RETURNING rooms.name, rooms.last_seq",
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
            "INSERT INTO messages (id, room, seq, text, author_id, author_name, sent_at, client_id, \
             reply_to, attachment, mentions) SELECT * FROM unnest($1::text[], $2::text[], \
             $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[], $9::int8[], \
             $10::text[], $11::text[])",
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
        .bind(
            rows.iter()
                .map(|&(i, _)| new(i).reply_to)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|&(i, _)| new(i).attachment.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|&(i, _)| new(i).mentions_column())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Written {
        changed,
        posted: plan.finish(&rows),
    })
}

/// The message `new` changes, read inside `tx` (with its reactions' state for a reaction,
/// `row`); [`StoreError::MessageNotFound`] if no message has that seq. The batch holds the
/// room's row already; the message's is locked too, against a node of the version before this
/// one, whose changes lock the message's row and then the room's (a circle with a batch that
/// PostgreSQL breaks, and the batch is written again).
async fn target_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    new: &NewChange,
    row: &ChangeRow<'_>,
) -> StoreResult<Target> {
    let message = sqlx::query(
        "SELECT text, deleted_by FROM messages WHERE room = $1 AND seq = $2 FOR UPDATE",
    )
    .bind(&new.room)
    .bind(new.target)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::MessageNotFound)?;
    let mut target = Target {
        text: message.get("text"),
        deleted: message.get::<Option<String>, _>("deleted_by").is_some(),
        ..Target::default()
    };
    if let ChangeRow::Reaction(_, emoji, user) = row {
        let reactions = sqlx::query(
            "SELECT count(DISTINCT emoji) AS emoji_count, \
             coalesce(bool_or(emoji = $3), false) AS has_emoji, \
             coalesce(bool_or(emoji = $3 AND user_id = $4), false) AS reacted \
             FROM reactions WHERE room = $1 AND target = $2",
        )
        .bind(&new.room)
        .bind(new.target)
        .bind(emoji)
        .bind(&user.id)
        .fetch_one(&mut **tx)
        .await?;
        target.emoji_count = reactions.get("emoji_count");
        target.has_emoji = reactions.get("has_emoji");
        target.reacted = reactions.get("reacted");
    }
    Ok(target)
}

/// Applies `new` inside the batch's transaction `tx` (which holds its room's row): reads its
/// target, decides, bumps the room's counter, writes the message (or its reactions) and the
/// change's row. A refusal ([`refusal`]) has written nothing.
async fn change_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    new: &NewChange,
) -> StoreResult<Option<MessageChanged>> {
    let row = change_row(&new.change);
    let target = target_in(tx, new, &row).await?;
    if !changes_anything(&new.change, &target)? {
        return Ok(None);
    }
    let seq: i64 = sqlx::query_scalar(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq",
    )
    .bind(&new.room)
    .fetch_one(&mut **tx)
    .await?;
    let (room, at) = (&new.room, new.target);
    match &new.change {
        Change::Edited { text, edited_at } => {
            sqlx::query(
                "UPDATE messages SET text = $1, edited_at = $2 WHERE room = $3 AND seq = $4",
            )
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
                     (SELECT attachment FROM messages WHERE room = $1 AND seq = $2)",
            )
            .bind(room)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                    "UPDATE messages SET text = '', deleted_by = $1, attachment = NULL, mentions = NULL \
                     WHERE room = $2 AND seq = $3",
                )
                .bind(by.as_str())
                .bind(room)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE changes SET text = NULL WHERE room = $1 AND target = $2")
                .bind(room)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM reactions WHERE room = $1 AND target = $2")
                .bind(room)
                .bind(at)
                .execute(&mut **tx)
                .await?;
        }
        Change::Reacted { emoji, user } => {
            sqlx::query(
                "INSERT INTO reactions (room, target, emoji, user_id, user_name, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
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
                "DELETE FROM reactions WHERE room = $1 AND target = $2 AND emoji = $3 \
                     AND user_id = $4",
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
                 actor_name, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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

/// Stores `user` unless it is already (a guest's concurrent requests, or a guest becoming an
/// account, keep the row they have).
async fn insert_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: &Author,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, name, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
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
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    session: NewSession<'_>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_used_at, last_address, \
         expires_at) VALUES ($1, $2, $3, $3, $4, $5) ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(session.token_hash)
    .bind(session.user_id)
    .bind(session.now)
    .bind(session.address)
    .bind(session.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
    let Some(room) =
        sqlx::query("SELECT name, last_seq, is_private, archived_at FROM rooms WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(super::room)
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
    async fn create_user(&self, user: &Author, session: NewSession<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
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
             WHERE sessions.token_hash = $1 \
             AND (sessions.expires_at IS NULL OR sessions.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| identity(&row)))
    }

    async fn touch_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_used_at = $1, last_address = coalesce($2, last_address), \
             expires_at = $3 WHERE token_hash = $4",
        )
        .bind(session.now)
        .bind(session.address)
        .bind(session.expires_at)
        .bind(session.token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn expire_sessions(&self, now: i64, lifetime: Option<i64>) -> StoreResult<()> {
        if let Some(lifetime) = lifetime {
            sqlx::query(
                "UPDATE sessions SET expires_at = last_used_at + $1 WHERE expires_at IS NULL",
            )
            .bind(lifetime)
            .execute(&self.pool)
            .await?;
        }
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_session(&mut tx, session).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<StoredSession>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at, last_used_at, last_address FROM sessions \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) \
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
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
            "DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash = $2) \
             AND ($3::bytea IS NULL OR token_hash <> $3) RETURNING token_hash",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(keep)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| row.get("token_hash")).collect())
    }

    async fn create_account(&self, account: NewAccount<'_>) -> StoreResult<Role> {
        let mut tx = self.pool.begin().await?;
        // Account creations take turns, so that exactly one is the first.
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
            .bind(LOCK_ACCOUNTS)
            .execute(&mut *tx)
            .await?;
        let first = sqlx::query("SELECT 1 FROM accounts LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .is_none();
        let role = if first { Role::Admin } else { Role::Member };
        insert_user(&mut tx, account.user, account.session.now).await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (user_id, username, username_key, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(&account.user.name)
            .bind(&account.user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&account.user.id)
            .execute(&mut *tx)
            .await?;
        insert_session(&mut tx, account.session).await?;
        tx.commit().await?;
        Ok(role)
    }

    async fn accounts(&self) -> StoreResult<Vec<UserEntry>> {
        let rows = sqlx::query(ACCOUNTS_QUERY).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(user_entry).collect())
    }

    async fn set_banned(&self, user: &Author, banned_at: Option<i64>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, user, banned_at.unwrap_or_default()).await?;
        sqlx::query("UPDATE users SET banned_at = $1 WHERE id = $2")
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
             LEFT JOIN accounts ON accounts.user_id = users.id WHERE users.id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => Standing::Free,
            Some(row) if row.get::<Option<i64>, _>("banned_at").is_some() => Standing::Banned,
            Some(row) if row.get::<Option<String>, _>("account").is_some() => Standing::Account,
            Some(_) => Standing::Free,
        })
    }

    async fn set_role(&self, user_id: &str, role: Role) -> StoreResult<RoleChange> {
        let mut tx = self.pool.begin().await?;
        // Role changes take turns, so that two demotions at once cannot leave no admin.
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
            .bind(LOCK_ACCOUNTS)
            .execute(&mut *tx)
            .await?;
        let admins_left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM accounts WHERE role = 'admin' AND user_id <> $1",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if role != Role::Admin && admins_left == 0 {
            return Ok(RoleChange::LastAdmin);
        }
        let updated = sqlx::query("UPDATE accounts SET role = $1 WHERE user_id = $2")
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
        let row = sqlx::query(&format!("{USER_SELECT} WHERE users.id = $1"))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(super::author))
    }

    async fn has_accounts(&self) -> StoreResult<bool> {
        Ok(sqlx::query("SELECT 1 FROM accounts LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    async fn account_by_username(&self, username_key: &str) -> StoreResult<Option<StoredAccount>> {
        self.account_where("accounts.username_key = $1", username_key)
            .await
    }

    async fn account_of(&self, user_id: &str) -> StoreResult<Option<StoredAccount>> {
        self.account_where("accounts.user_id = $1", user_id).await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE user_id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get("value")))
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
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
        private: bool,
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
            "INSERT INTO rooms (name, last_seq, created_at, is_private) SELECT $1, 0, $2, $3 \
             WHERE (SELECT count(*) FROM rooms) < $4",
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
        let row = sqlx::query(
            "SELECT name, last_seq, is_private, archived_at FROM rooms WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(super::room))
    }

    async fn rooms(&self) -> StoreResult<Vec<RoomInfo>> {
        let rows =
            sqlx::query("SELECT name, last_seq, is_private, archived_at FROM rooms ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(super::room).collect())
    }

    async fn mark_read(&self, user_id: &str, room: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO read_positions (user_id, room, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, room) DO UPDATE SET seq = GREATEST(read_positions.seq, excluded.seq)",
        )
        .bind(user_id)
        .bind(room)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn read_positions(&self, user_id: &str) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT room, seq FROM read_positions WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.pool)
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
            "UPDATE rooms SET archived_at = $1 WHERE name = $2 \
             RETURNING name, last_seq, is_private, archived_at",
        )
        .bind(archived_at)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(super::room))
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<RoomInfo>> {
        let rows = sqlx::query(
            "SELECT r.name, r.last_seq, r.is_private, r.archived_at FROM memberships m JOIN rooms r ON r.name = m.room \
             WHERE m.user_id = $1 ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(super::room).collect())
    }

    async fn people(&self, rooms: &[String]) -> StoreResult<Vec<(String, Author)>> {
        let rows = sqlx::query(&format!(
            "{PEOPLE_SELECT} WHERE memberships.room = ANY($1) {PEOPLE_ORDER}"
        ))
        .bind(rooms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(super::member).collect())
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
            "{MESSAGE_SELECT} WHERE messages.room = $1 AND messages.seq > $2 \
             ORDER BY messages.seq LIMIT $3"
        ))
        .bind(room)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            "{MESSAGE_SELECT} WHERE messages.room = $1 AND messages.seq < $2 \
             ORDER BY messages.seq DESC LIMIT $3"
        ))
        .bind(room)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        // The words become lexemes as the text did (`search_words`, in the migration), each a
        // prefix, all of them required: the query is built from lexemes (letters and digits
        // only, so quoting them is enough), never parsed from the client's text. No lexeme at
        // all matches nothing.
        let query: Option<String> = sqlx::query_scalar(
            "SELECT string_agg(quote_literal(lexeme) || ':*', ' & ') \
             FROM unnest(tsvector_to_array(search_words($1))) AS lexeme",
        )
        .bind(words.join(" "))
        .fetch_one(&self.pool)
        .await?;
        let Some(query) = query else {
            return Ok(Vec::new());
        };
        // Planned for this query (an unnamed statement is planned with its values): from the
        // words' frequencies PostgreSQL chooses between the GIN index (rare words: fetch the
        // few matches, sort them) and walking `arrival` backwards (common words: the newest
        // matches come first). A plan made for any query would pick one for all.
        let rows = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE (messages.room, messages.seq) IN ( \
             SELECT found.room, found.seq FROM messages AS found \
             WHERE found.search @@ $1::tsquery AND found.room = ANY($2) \
             ORDER BY found.arrival DESC LIMIT $3) \
             ORDER BY messages.arrival DESC"
        ))
        .persistent(false)
        .bind(query)
        .bind(rooms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let found: Vec<ChatMessage> = rows.iter().map(message).collect();
        let (rooms, seqs): (Vec<&str>, Vec<i64>) =
            found.iter().map(|m| (m.room.as_str(), m.seq)).unzip();
        let reactions = sqlx::query(&reactions_of_query(
            "SELECT * FROM unnest($1::text[], $2::int8[])",
        ))
        .bind(rooms)
        .bind(seqs)
        .fetch_all(&self.pool)
        .await?;
        Ok(with_reactions(found, &reactions))
    }

    async fn message(&self, room: &str, seq: i64) -> StoreResult<Option<ChatMessage>> {
        let row = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE messages.room = $1 AND messages.seq = $2"
        ))
        .bind(room)
        .bind(seq)
        .fetch_optional(&self.pool)
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
        let rows = sqlx::query(&changes_query('$'))
            .bind(room)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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
        let (width, height) = info
            .image
            .map(|image| (i64::from(image.width), i64::from(image.height)))
            .unzip();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO files (id, room, uploader_id, name, content_type, size, width, height, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        sqlx::query("INSERT INTO file_contents (id, thumbnail, data) VALUES ($1, $2, $3)")
            .bind(&info.id)
            .bind(thumbnail)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn file(&self, id: &str) -> StoreResult<Option<StoredFile>> {
        let row = sqlx::query(&file_query('$'))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().and_then(stored_file))
    }

    async fn file_content(&self, id: &str, thumbnail: bool) -> StoreResult<Option<Vec<u8>>> {
        let column = if thumbnail { "thumbnail" } else { "data" };
        let content: Option<Option<Vec<u8>>> =
            sqlx::query_scalar(&format!("SELECT {column} FROM file_contents WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(content.flatten())
    }

    async fn purge_files(&self, before: i64) -> StoreResult<u64> {
        let purged = sqlx::query(&purge_query('$'))
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(purged.rows_affected())
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
