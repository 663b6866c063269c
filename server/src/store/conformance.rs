//! One suite for every store: each test below runs against SQLite (a temporary directory) and
//! PostgreSQL (a schema of its own in the local database, dropped after).
//!
//! PostgreSQL is expected at `CHAT_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). If it cannot be reached the PostgreSQL tests fail
//! and say so; they never skip.

use std::{path::PathBuf, str::FromStr};

use shared::{Author, Change, ChatMessage, DeletedBy, Mention, MessageChanged, Role, RoomInfo};
use sqlx::{Connection, postgres::PgConnectOptions};

use super::{
    NewAccount, NewChange, NewFile, NewMessage, NewSession, Posted, RoleChange, RoomLimits,
    Standing, Store, StoreError,
    batch::{Committer, MAX_BATCH, WriteBatch},
    postgres::PgStore,
    sqlite::SqliteStore,
};

/// A store under test, with the parts of it the suite reaches into.
pub trait TestStore: Store + Clone {
    fn writer(&self) -> impl WriteBatch;
    fn committer(&self) -> &Committer;
}

/// Where a test's database lives: opened once or more (a restart, a second node), removed at
/// the end.
pub trait Fixture: Sized {
    type Store: TestStore;
    async fn new() -> Self;
    async fn open(&self) -> Self::Store;
    async fn remove(self);
}

pub struct Sqlite(PathBuf);

impl Fixture for Sqlite {
    type Store = SqliteStore;

    async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("chat-store-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.0).await.unwrap()
    }

    async fn remove(self) {
        std::fs::remove_dir_all(self.0).unwrap();
    }
}

pub struct Postgres {
    admin: PgConnectOptions,
    schema: String,
}

/// Test schemas older than this were left by a run that failed before it could drop them.
const STALE_SECONDS: u64 = 3600;

impl Fixture for Postgres {
    type Store = PgStore;

    async fn new() -> Self {
        let url = std::env::var("CHAT_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let admin = PgConnectOptions::from_str(&url).unwrap();
        let mut connection = sqlx::PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|error| {
                panic!("PostgreSQL at {url} is unreachable ({error}); the store tests need it")
            });
        let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'chat\\_test\\_%' \
             AND split_part(nspname, '_', 3)::bigint < $1",
        )
        .bind(i64::try_from(now - STALE_SECONDS).unwrap())
        .fetch_all(&mut connection)
        .await
        .unwrap();
        for schema in stale {
            drop_schema(&mut connection, &schema).await;
        }
        let schema = format!("chat_test_{now}_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut connection)
            .await
            .unwrap();
        Self { admin, schema }
    }

    async fn open(&self) -> PgStore {
        let options = self
            .admin
            .clone()
            .options([("search_path", self.schema.as_str())]);
        PgStore::connect(options).await.unwrap()
    }

    async fn remove(self) {
        let mut connection = sqlx::PgConnection::connect_with(&self.admin).await.unwrap();
        drop_schema(&mut connection, &self.schema).await;
    }
}

async fn drop_schema(connection: &mut sqlx::PgConnection, schema: &str) {
    // Another run may be dropping it at the same moment.
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(connection)
        .await
        .unwrap();
}

const LIMITS: RoomLimits = RoomLimits {
    rooms: 10,
    per_user: 10,
};

fn ada() -> Author {
    Author {
        id: "u1".into(),
        name: "Ada".into(),
        username: None,
    }
}

/// A session with this token hash for `user_id`, made at `now`, expiring at `expires_at`.
fn session<'a>(
    token_hash: &'a [u8],
    user_id: &'a str,
    now: i64,
    expires_at: Option<i64>,
) -> NewSession<'a> {
    NewSession {
        token_hash,
        user_id,
        now,
        address: None,
        expires_at,
    }
}

/// The name of the user whose session has `token_hash`, at time 1.
async fn name_of(store: &impl Store, token_hash: &[u8]) -> Option<String> {
    let identity = store.identity(token_hash, 1).await.unwrap();
    identity.map(|identity| identity.user.name)
}

/// A store with user `u1` and room `rust`.
async fn open_with_rust<F: Fixture>(fixture: &F) -> F::Store {
    let store = fixture.open().await;
    store
        .create_user(&ada(), session(b"hash", "u1", 0, None))
        .await
        .unwrap();
    store
        .create_room("rust", false, "u1", 0, LIMITS)
        .await
        .unwrap();
    store
}

fn new_message(room: &str, text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        id: uuid::Uuid::now_v7().to_string(),
        room: room.into(),
        text: text.into(),
        author: ada(),
        sent_at: 1,
        client_id: client_id.map(Into::into),
        reply_to: None,
        attachment: None,
        mentions: Vec::new(),
    }
}

fn describe(outcome: Result<Posted, StoreError>) -> String {
    match outcome {
        Ok(Posted::New(m)) => format!("new {} {} {}", m.room, m.seq, m.text),
        Ok(Posted::Duplicate(m)) => format!("dup {} {} {}", m.room, m.seq, m.text),
        Err(error) => error.to_string(),
    }
}

pub async fn one_batch_mixes_rooms_retries_and_unknown_rooms<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    let stored = store
        .append(new_message("general", "earlier", Some("old")))
        .await
        .unwrap();
    let batch = [
        new_message("general", "a", Some("x")),
        new_message("nope", "b", None),
        new_message("rust", "c", None),
        new_message("general", "a again", Some("x")),
        new_message("general", "d", None),
        new_message("general", "earlier again", Some("old")),
    ];
    let outcomes = store.writer().write(&[], &batch).await.unwrap().posted;
    let seen: Vec<_> = outcomes.into_iter().map(describe).collect();
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
    fixture.remove().await;
}

pub async fn sequence_numbers_are_per_room_and_gap_free<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
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
    let newest = store.history("rust", None, 2).await.unwrap();
    assert_eq!(newest.iter().map(|m| m.seq).collect::<Vec<_>>(), [4, 5]);
    let missed = store.sync("general", 3, 100).await.unwrap();
    assert_eq!(missed.iter().map(|m| m.seq).collect::<Vec<_>>(), [4, 5]);
    store.close().await;
    fixture.remove().await;
}

/// What `appends` stored: the new messages and the duplicates, in the order they finished.
async fn run_appends(
    appends: impl Iterator<Item = tokio::task::JoinHandle<Posted>>,
) -> (Vec<ChatMessage>, Vec<ChatMessage>) {
    let mut new = Vec::new();
    let mut duplicates = Vec::new();
    for append in appends.collect::<Vec<_>>() {
        match append.await.unwrap() {
            Posted::New(message) => new.push(message),
            Posted::Duplicate(message) => duplicates.push(message),
        }
    }
    (new, duplicates)
}

/// Message n goes to #rust if n is a multiple of 3, else to general. Every tenth append (n
/// ending in 9) is a retry of message n - 1: same room, text and client id. Whichever of the two
/// is stored first, the other gets it back as a duplicate. `stores` take the appends in turn
/// (several stores on one database are several nodes).
async fn appends_are_batched_without_gaps_or_duplicates<S: Store + Clone>(stores: &[S]) {
    let original = |n: usize| if n % 10 == 9 { n - 1 } else { n };
    let room_of = |n: usize| {
        if n.is_multiple_of(3) {
            "rust"
        } else {
            "general"
        }
    };
    let appends = (0..300).map(|n| {
        let store = stores[n % stores.len()].clone();
        let m = original(n);
        let new = new_message(room_of(m), &format!("m{m}"), Some(&format!("c{m}")));
        tokio::spawn(async move { store.append(new).await.unwrap() })
    });
    let (new, duplicates) = run_appends(appends).await;

    // 270 distinct messages, 30 retries; #rust gets the multiples of 3 not ending in 9
    // (100 - 10), general the rest (200 - 20).
    assert_eq!((new.len(), duplicates.len()), (270, 30));
    for duplicate in &duplicates {
        assert!(
            new.contains(duplicate),
            "a retry returns the stored message"
        );
    }
    let store = &stores[0];
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
}

pub async fn concurrent_appends_are_batched_without_gaps_or_duplicates<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    appends_are_batched_without_gaps_or_duplicates(std::slice::from_ref(&store)).await;
    store.close().await;
    fixture.remove().await;
}

/// Two stores on one database, as two nodes: appends to the same rooms at the same moment,
/// retries of one message arriving at both.
pub async fn two_nodes_append_to_one_room_without_gaps_or_duplicates<F: Fixture>(fixture: F) {
    let first = open_with_rust(&fixture).await;
    let second = fixture.open().await;
    appends_are_batched_without_gaps_or_duplicates(&[first.clone(), second.clone()]).await;
    first.close().await;
    second.close().await;
    fixture.remove().await;
}

/// A client that sends one message (one client id) to two rooms at once, through two nodes:
/// one is stored, the others get it back, and no counter moves for nothing.
pub async fn one_client_id_in_two_rooms_through_two_nodes_is_stored_once<F: Fixture>(fixture: F) {
    let first = open_with_rust(&fixture).await;
    let second = fixture.open().await;
    let appends = (0..40).map(|n| {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let room = if n % 4 < 2 { "general" } else { "rust" };
        let new = new_message(room, &format!("try {n}"), Some("same"));
        tokio::spawn(async move { store.append(new).await.unwrap() })
    });
    let (new, duplicates) = run_appends(appends).await;
    assert_eq!((new.len(), duplicates.len()), (1, 39));
    assert!(duplicates.iter().all(|d| *d == new[0]));
    let stored = new[0].room.as_str();
    let other = if stored == "general" {
        "rust"
    } else {
        "general"
    };
    assert_eq!(first.room(stored).await.unwrap().unwrap().last_seq, 1);
    assert_eq!(first.room(other).await.unwrap().unwrap().last_seq, 0);
    first.close().await;
    second.close().await;
    fixture.remove().await;
}

pub async fn a_repeated_client_id_returns_the_first_message<F: Fixture>(fixture: F) {
    let store = fixture.open().await;
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
    fixture.remove().await;
}

pub async fn rooms_memberships_and_limits<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    assert_eq!(name_of(&store, b"hash").await, Some("Ada".to_owned()));
    // A second create of the same user (two requests of one guest at once) changes nothing.
    let again = Author {
        id: "u1".into(),
        name: "Other".into(),
        username: None,
    };
    store
        .create_user(&again, session(b"hash", "u1", 0, None))
        .await
        .unwrap();
    assert_eq!(name_of(&store, b"hash").await, Some("Ada".to_owned()));
    store.rename_user("u1", "Ada L.").await.unwrap();
    assert_eq!(name_of(&store, b"hash").await, Some("Ada L.".to_owned()));
    assert!(matches!(
        store.create_room("general", false, "u1", 0, LIMITS).await,
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
    assert_eq!(names(store.rooms().await.unwrap()), ["general", "rust"]);

    let two = RoomLimits {
        rooms: 10,
        per_user: 2,
    };
    store.create_room("go", false, "u1", 0, two).await.unwrap();
    assert!(matches!(
        store.create_room("zig", false, "u1", 0, two).await,
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
        store.create_room("zig", false, "u1", 0, one_more).await,
        Err(StoreError::TooManyRooms)
    ));
    assert_eq!(names(store.memberships("u1").await.unwrap()), ["rust"]);
    store.close().await;
    fixture.remove().await;
}

/// Creations and joins at once, half of them through a second store (node): never past a cap.
pub async fn concurrent_creations_and_joins_stay_within_the_caps<F: Fixture>(fixture: F) {
    let first = open_with_rust(&fixture).await;
    let second = fixture.open().await;
    let node = |n: usize| {
        if n.is_multiple_of(2) {
            first.clone()
        } else {
            second.clone()
        }
    };
    let succeeded = async |tasks: Vec<tokio::task::JoinHandle<Result<RoomInfo, StoreError>>>| {
        let mut n = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => n += 1,
                Err(StoreError::TooManyRooms | StoreError::TooManyMemberships) => {}
                Err(error) => panic!("{error}"),
            }
        }
        n
    };

    // general and rust exist: three more fit under a cap of five rooms.
    let rooms = RoomLimits {
        rooms: 5,
        per_user: 100,
    };
    let creations = (0..12)
        .map(|n| {
            let store = node(n);
            tokio::spawn(async move {
                store
                    .create_room(&format!("r{n}"), false, "u1", 0, rooms)
                    .await
            })
        })
        .collect();
    assert_eq!(succeeded(creations).await, 3);
    assert_eq!(first.rooms().await.unwrap().len(), 5);

    // A second user joins the four rooms besides general at once, two allowed.
    let grace = Author {
        id: "u2".into(),
        name: "Grace".into(),
        username: None,
    };
    first
        .create_user(&grace, session(b"grace", "u2", 0, None))
        .await
        .unwrap();
    let per_user = RoomLimits {
        rooms: 5,
        per_user: 2,
    };
    let names: Vec<String> = first
        .rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|room| room.name)
        .filter(|name| name != "general")
        .collect();
    let joins = names
        .into_iter()
        .enumerate()
        .map(|(n, name)| {
            let store = node(n);
            tokio::spawn(async move { store.join("u2", &name, per_user).await })
        })
        .collect();
    assert_eq!(succeeded(joins).await, 2);
    assert_eq!(first.memberships("u2").await.unwrap().len(), 2);
    first.close().await;
    second.close().await;
    fixture.remove().await;
}

pub async fn the_server_key_is_made_once<F: Fixture>(fixture: F) {
    let first = fixture.open().await;
    let second = fixture.open().await;
    let key = first.server_key().await.unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(second.server_key().await.unwrap(), key);
    first.close().await;
    second.close().await;
    fixture.remove().await;
}

pub async fn closing_commits_what_is_queued<F: Fixture>(fixture: F) {
    let store = fixture.open().await;
    // More than one batch, so that some are still queued when closing starts.
    let queued = 3 * MAX_BATCH;
    let replies: Vec<_> = (0..queued)
        .map(|n| {
            store
                .committer()
                .try_queue(new_message("general", &format!("m{n}"), None))
        })
        .collect();
    store.close().await;
    for outcome in replies {
        assert!(matches!(outcome.await, Ok(Ok(Posted::New(_)))));
    }
    let store = fixture.open().await;
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
    fixture.remove().await;
}

pub async fn readiness_follows_the_store<F: Fixture>(fixture: F) {
    let store = fixture.open().await;
    store.ping().await.unwrap();
    assert!(
        store.committing(),
        "the committer runs once the store is open"
    );
    store.close().await;
    assert!(
        store.ping().await.is_err(),
        "a closed store does not answer"
    );
    assert!(!store.committing(), "the committer stopped with the store");
    fixture.remove().await;
}

fn edit(room: &str, target: i64, text: &str) -> NewChange {
    NewChange {
        room: room.into(),
        target,
        actor_id: "u1".into(),
        at: 7,
        change: Change::Edited {
            text: text.into(),
            edited_at: 7,
        },
    }
}

fn delete(room: &str, target: i64, by: DeletedBy) -> NewChange {
    NewChange {
        room: room.into(),
        target,
        actor_id: "u1".into(),
        at: 8,
        change: Change::Deleted { by },
    }
}

/// The seq a change was stored under; it must have been stored.
fn stored_seq(change: Result<Option<MessageChanged>, StoreError>) -> i64 {
    change.unwrap().expect("a change was stored").seq
}

/// Appends `text` to `room`; its seq.
/// Every seq `room` has stored (at most 1,000), a message's or a change's, in order: gap-free
/// is `1..=last_seq`.
async fn room_seqs(store: &impl Store, room: &str) -> Vec<i64> {
    let messages = store.sync(room, 0, 1_000).await.unwrap();
    let changes = store.changes(room, 0, 1_000).await.unwrap();
    let mut seqs: Vec<i64> = messages
        .iter()
        .map(|m| m.seq)
        .chain(changes.iter().map(|c| c.seq))
        .collect();
    seqs.sort_unstable();
    seqs
}

async fn post(store: &impl Store, room: &str, text: &str, client_id: Option<&str>) -> i64 {
    match store
        .append(new_message(room, text, client_id))
        .await
        .unwrap()
    {
        Posted::New(message) => message.seq,
        Posted::Duplicate(_) => panic!("duplicate"),
    }
}

pub async fn changes_take_the_rooms_next_seq_and_leave_messages_as_they_are_now<F: Fixture>(
    fixture: F,
) {
    let store = open_with_rust(&fixture).await;
    assert_eq!(post(&store, "general", "typo", Some("c1")).await, 1);
    assert_eq!(post(&store, "general", "second", None).await, 2);

    // An edit takes seq 3 and the message has the new text from then on.
    let edited = store.change(edit("general", 1, "fixed")).await.unwrap();
    assert_eq!(
        edited,
        Some(MessageChanged {
            room: "general".into(),
            seq: 3,
            target: 1,
            change: Change::Edited {
                text: "fixed".into(),
                edited_at: 7
            },
        })
    );
    let now = store.message("general", 1).await.unwrap().unwrap();
    assert_eq!((now.text.as_str(), now.edited_at), ("fixed", Some(7)));
    // The same text again changes nothing and takes no seq; a change's seq or one past the end
    // names no message; the next message follows the change without a gap.
    assert_eq!(
        store.change(edit("general", 1, "fixed")).await.unwrap(),
        None
    );
    for target in [3, 99] {
        assert!(matches!(
            store.change(edit("general", target, "x")).await,
            Err(StoreError::MessageNotFound)
        ));
    }
    assert_eq!(store.message("general", 3).await.unwrap(), None);
    assert_eq!(post(&store, "general", "third", None).await, 4);

    // A deletion erases the text, the earlier edit's included; a second one and an edit after
    // it change nothing.
    assert_eq!(
        stored_seq(store.change(delete("general", 1, DeletedBy::Admin)).await),
        5
    );
    assert_eq!(
        store
            .change(delete("general", 1, DeletedBy::Author))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.change(edit("general", 1, "back")).await,
        Err(StoreError::MessageDeleted)
    ));
    let tombstone = store.message("general", 1).await.unwrap().unwrap();
    assert_eq!(
        (tombstone.text.as_str(), tombstone.deleted),
        ("", Some(DeletedBy::Admin))
    );
    assert_eq!(store.room("general").await.unwrap().unwrap().last_seq, 5);

    // Sync and history return messages as they are now; the changes come in seq order, from
    // any cursor, at most `limit` of them.
    let messages = store.sync("general", 0, 10).await.unwrap();
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 4]
    );
    assert_eq!(messages[0], tombstone);
    assert_eq!(store.history("general", None, 10).await.unwrap(), messages);
    let changes = store.changes("general", 0, 10).await.unwrap();
    assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 5]);
    assert_eq!(
        changes[0].change,
        Change::Edited {
            text: String::new(),
            edited_at: 7
        },
        "a deleted message's earlier text is erased from its edits"
    );
    assert_eq!(
        changes[1].change,
        Change::Deleted {
            by: DeletedBy::Admin
        }
    );
    assert_eq!(store.changes("general", 3, 10).await.unwrap(), changes[1..]);
    assert_eq!(store.changes("general", 0, 1).await.unwrap(), changes[..1]);
    assert!(store.changes("rust", 0, 10).await.unwrap().is_empty());

    // A retry of the deleted message gets its tombstone back, and stores nothing again.
    assert_eq!(
        store
            .append(new_message("general", "typo", Some("c1")))
            .await
            .unwrap(),
        Posted::Duplicate(tombstone)
    );
    assert_eq!(store.room("general").await.unwrap().unwrap().last_seq, 5);
    store.close().await;
    fixture.remove().await;
}

/// Appends, edits and deletions at once in one room, through two stores (nodes): every seq of
/// the room is a message's or a change's, exactly once, and each message ends as its last
/// change left it.
pub async fn concurrent_changes_and_appends_through_two_nodes_leave_no_gap<F: Fixture>(fixture: F) {
    let first = open_with_rust(&fixture).await;
    let second = fixture.open().await;
    for n in 1..=10 {
        post(&first, "rust", &format!("m{n}"), None).await;
    }
    let node = |n: i64| {
        if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        }
    };
    let mut tasks = Vec::new();
    for n in 1..=10 {
        // Two edits of each message at once, a deletion of every third, and a new message.
        for text in ["a", "b"] {
            let store = node(n);
            let change = edit("rust", n, &format!("m{n}{text}"));
            tasks.push(tokio::spawn(async move { store.change(change).await }));
        }
        if n % 3 == 0 {
            let store = node(n + 1);
            let change = delete("rust", n, DeletedBy::Author);
            tasks.push(tokio::spawn(async move { store.change(change).await }));
        }
        let store = node(n + 1);
        tasks.push(tokio::spawn(async move {
            post(&store, "rust", &format!("new{n}"), None).await;
            Ok(None)
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) | Err(StoreError::MessageDeleted) => {}
            Err(error) => panic!("{error}"),
        }
    }
    let messages = first.sync("rust", 0, 1_000).await.unwrap();
    let changes = first.changes("rust", 0, 1_000).await.unwrap();
    let last_seq = first.room("rust").await.unwrap().unwrap().last_seq;
    assert_eq!(
        room_seqs(&first, "rust").await,
        (1..=last_seq).collect::<Vec<_>>()
    );
    assert_eq!(messages.len(), 20);
    // Replaying the changes over the messages as first stored gives the messages as they are.
    for message in &messages[..10] {
        let mut replayed = ChatMessage {
            text: format!("m{}", message.seq),
            edited_at: None,
            deleted: None,
            ..message.clone()
        };
        for change in changes.iter().filter(|c| c.target == message.seq) {
            replayed.apply(change);
        }
        assert_eq!(&replayed, message);
        assert_eq!(message.deleted.is_some(), message.seq % 3 == 0);
    }
    first.close().await;
    second.close().await;
    fixture.remove().await;
}

fn reaction(room: &str, target: i64, emoji: &str, user: &str, on: bool) -> NewChange {
    let user = Author {
        id: user.into(),
        name: user.to_uppercase(),
        username: None,
    };
    let emoji = emoji.to_owned();
    NewChange {
        room: room.into(),
        target,
        actor_id: user.id.clone(),
        at: 9,
        change: if on {
            Change::Reacted { emoji, user }
        } else {
            Change::Unreacted { emoji, user }
        },
    }
}

/// Reactions take the room's next seq like edits; each person reacts with an emoji once; a
/// message is read with its reactions in the order `ChatMessage::apply` keeps them, so replaying
/// the changes gives the message as it is read; a deletion takes them away.
pub async fn reactions_are_changes_and_messages_are_read_with_them<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    assert_eq!(post(&store, "rust", "react to me", None).await, 1);
    let first = store.message("rust", 1).await.unwrap().unwrap();
    let steps = [
        (reaction("rust", 1, "🎉", "u1", true), true),
        (reaction("rust", 1, "👍", "u2", true), true),
        (reaction("rust", 1, "👍", "u2", true), false),
        (reaction("rust", 1, "🎉", "u2", true), true),
        (reaction("rust", 1, "🎉", "u1", false), true),
        (reaction("rust", 1, "🎉", "u1", false), false),
        (reaction("rust", 1, "❤️", "u3", false), false),
        (reaction("rust", 1, "🎉", "u1", true), true),
        (edit("rust", 1, "reacted to"), true),
    ];
    let mut seq = 1;
    for (step, (change, changes)) in steps.into_iter().enumerate() {
        let made = store.change(change).await.unwrap();
        assert_eq!(made.is_some(), changes, "step {step}: {made:?}");
        if let Some(made) = made {
            seq += 1;
            assert_eq!(made.seq, seq, "step {step}");
        }
    }
    assert_eq!(store.room("rust").await.unwrap().unwrap().last_seq, seq);

    let now = store.message("rust", 1).await.unwrap().unwrap();
    let reactions: Vec<(&str, Vec<(&str, i64)>)> = now
        .reactions
        .iter()
        .map(|r| {
            let by = r.by.iter().map(|r| (r.user.id.as_str(), r.seq)).collect();
            (r.emoji.as_str(), by)
        })
        .collect();
    assert_eq!(
        reactions,
        [("👍", vec![("u2", 3)]), ("🎉", vec![("u2", 4), ("u1", 6)])],
        "each emoji after its first reactor, its reactors in order"
    );
    assert_eq!(now.reactions[0].by[0].user.name, "U2");
    let changes = store.changes("rust", 0, 100).await.unwrap();
    assert_eq!(changes.len(), 6);
    assert!(
        matches!(&changes[0].change, Change::Reacted { emoji, user } if emoji == "🎉" && user.name == "U1")
    );
    assert!(
        matches!(&changes[3].change, Change::Unreacted { emoji, user } if emoji == "🎉" && user.id == "u1")
    );
    // The changes, replayed over the message as first stored or over the message as it is now
    // (what a client does with a sync reply), give the message as it is now; so do history and
    // sync.
    for start in [first, now.clone()] {
        let mut replayed = start;
        for change in &changes {
            replayed.apply(change);
        }
        assert_eq!(replayed, now);
    }
    assert_eq!(
        store.sync("rust", 0, 10).await.unwrap(),
        std::slice::from_ref(&now)
    );
    assert_eq!(store.history("rust", None, 10).await.unwrap(), [now]);

    // At most MAX_REACTIONS different emoji: one more is refused, another person's reaction
    // with one of them is not.
    post(&store, "rust", "popular", None).await;
    let emoji: Vec<String> = (0..shared::MAX_REACTIONS)
        .map(|n| {
            char::from_u32(0x1F600 + u32::try_from(n).unwrap())
                .unwrap()
                .to_string()
        })
        .collect();
    for each in &emoji {
        stored_seq(store.change(reaction("rust", 8, each, "u1", true)).await);
    }
    assert!(matches!(
        store.change(reaction("rust", 8, "🚀", "u1", true)).await,
        Err(StoreError::TooManyReactions)
    ));
    stored_seq(
        store
            .change(reaction("rust", 8, &emoji[0], "u2", true))
            .await,
    );
    assert_eq!(
        store
            .message("rust", 8)
            .await
            .unwrap()
            .unwrap()
            .reactions
            .len(),
        shared::MAX_REACTIONS
    );

    // A deletion takes the reactions away; a deleted message takes no more, and neither a seq
    // that is no message's.
    let deleted = stored_seq(store.change(delete("rust", 1, DeletedBy::Author)).await);
    let tombstone = store.message("rust", 1).await.unwrap().unwrap();
    assert!(tombstone.reactions.is_empty());
    for on in [true, false] {
        assert!(matches!(
            store.change(reaction("rust", 1, "👍", "u2", on)).await,
            Err(StoreError::MessageDeleted)
        ));
        assert!(matches!(
            store
                .change(reaction("rust", deleted, "👍", "u2", on))
                .await,
            Err(StoreError::MessageNotFound)
        ));
    }
    store.close().await;
    fixture.remove().await;
}

/// A reply is stored with the seq it answers and read with a quote of the original as it is
/// now (an edit, a deletion), wherever it is read; a retry of it gets it back.
pub async fn replies_quote_their_original_as_it_is_now<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    let long = "a long original ".repeat(20);
    assert_eq!(post(&store, "rust", &long, None).await, 1);
    let reply = NewMessage {
        reply_to: Some(1),
        ..new_message("rust", "an answer", Some("r1"))
    };
    let Posted::New(stored) = store.append(reply.clone()).await.unwrap() else {
        panic!("a new message");
    };
    assert_eq!(stored.seq, 2);
    let quoted = |message: &ChatMessage| message.reply_to.clone().expect("a quote");
    let read = store.message("rust", 2).await.unwrap().unwrap();
    let quote = quoted(&read);
    assert_eq!((quote.seq, &quote.author, quote.deleted), (1, &ada(), None));
    assert_eq!(quote.text, shared::quote_snippet(&long));
    assert_eq!(quote.text.chars().count(), shared::QUOTE_CHARS);
    assert_eq!(
        store.message("rust", 1).await.unwrap().unwrap().reply_to,
        None
    );

    stored_seq(store.change(edit("rust", 1, "short now")).await);
    let read = store.message("rust", 2).await.unwrap().unwrap();
    assert_eq!(quoted(&read).text, "short now");
    stored_seq(store.change(delete("rust", 1, DeletedBy::Admin)).await);
    for messages in [
        store.sync("rust", 1, 10).await.unwrap(),
        store.history("rust", None, 10).await.unwrap()[1..].to_vec(),
        vec![store.message("rust", 2).await.unwrap().unwrap()],
    ] {
        let quote = quoted(&messages[0]);
        assert_eq!(
            (quote.text.as_str(), quote.deleted),
            ("", Some(DeletedBy::Admin))
        );
    }
    let Posted::Duplicate(again) = store.append(reply).await.unwrap() else {
        panic!("a retry");
    };
    assert_eq!(again, store.message("rust", 2).await.unwrap().unwrap());
    store.close().await;
    fixture.remove().await;
}

/// A message's mentions are stored with it and read wherever it is read, in a batch with
/// messages that have none, and its deletion takes them away with its text.
pub async fn mentions_are_read_with_their_message<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    let mentions = vec![
        Mention {
            id: "u-bob".into(),
            name: "Bob".into(),
        },
        Mention {
            id: "u-cy".into(),
            name: "Cy Twombly".into(),
        },
    ];
    let mentioning = NewMessage {
        mentions: mentions.clone(),
        ..new_message("rust", "@bob and @Cy Twombly, look", Some("m1"))
    };
    let (first, plain) = tokio::join!(
        store.append(mentioning.clone()),
        store.append(new_message("rust", "nobody named", Some("m2")))
    );
    let (Posted::New(first), Posted::New(plain)) = (first.unwrap(), plain.unwrap()) else {
        panic!("new messages");
    };
    assert_eq!(first.mentions, mentions);
    assert_eq!(plain.mentions, []);
    for messages in [
        store.sync("rust", 0, 10).await.unwrap(),
        store.history("rust", None, 10).await.unwrap(),
    ] {
        let read = messages.iter().find(|m| m.seq == first.seq).unwrap();
        assert_eq!(read.mentions, mentions);
        let read = messages.iter().find(|m| m.seq == plain.seq).unwrap();
        assert_eq!(read.mentions, []);
    }
    let Posted::Duplicate(again) = store.append(mentioning).await.unwrap() else {
        panic!("a retry");
    };
    assert_eq!(again.mentions, mentions);
    stored_seq(
        store
            .change(delete("rust", first.seq, DeletedBy::Author))
            .await,
    );
    let read = store.message("rust", first.seq).await.unwrap().unwrap();
    assert_eq!((read.text.as_str(), read.mentions.len()), ("", 0));
    store.close().await;
    fixture.remove().await;
}

fn new_file(id: &str, room: &str, image: bool, created_at: i64) -> NewFile {
    NewFile {
        info: shared::FileInfo {
            id: id.into(),
            name: format!("{id}.bin"),
            content_type: if image {
                "image/png"
            } else {
                "application/octet-stream"
            }
            .into(),
            size: 5,
            image: image.then_some(shared::ImageSize {
                width: 800,
                height: 600,
            }),
        },
        room: room.into(),
        uploader_id: "u1".into(),
        created_at,
        data: format!("{id}!!").into_bytes(),
        thumbnail: image.then(|| b"small".to_vec()),
    }
}

/// A file is stored apart from messages, read with the message that carries it (wherever the
/// message is read), never with its bytes; one no message carries is purged once old; a
/// message's deletion takes its file away, bytes and all.
pub async fn files_are_read_with_their_message_and_go_with_it<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    let picture = new_file("f1", "rust", true, 100);
    let plain = new_file("f2", "rust", false, 100);
    store.add_file(picture.clone()).await.unwrap();
    store.add_file(plain.clone()).await.unwrap();
    let stored = store.file("f1").await.unwrap().expect("stored");
    assert_eq!(
        (
            &stored.info,
            stored.room.as_str(),
            stored.uploader_id.as_str()
        ),
        (&picture.info, "rust", "u1")
    );
    assert_eq!(stored.attached_to, None);
    assert_eq!(store.file("nothing").await.unwrap(), None);
    let content = |id: &'static str, thumbnail: bool| {
        let store = store.clone();
        async move { store.file_content(id, thumbnail).await.unwrap() }
    };
    assert_eq!(content("f1", false).await.as_deref(), Some(&b"f1!!"[..]));
    assert_eq!(content("f1", true).await.as_deref(), Some(&b"small"[..]));
    assert_eq!(content("f2", true).await, None);
    assert_eq!(content("f3", false).await, None);

    let carrying = NewMessage {
        attachment: Some("f1".into()),
        ..new_message("rust", "look at this", Some("c1"))
    };
    let Posted::New(posted) = store.append(carrying.clone()).await.unwrap() else {
        panic!("a new message");
    };
    assert_eq!(
        store.file("f1").await.unwrap().unwrap().attached_to,
        Some(("u1".to_owned(), Some("c1".to_owned())))
    );
    let found = store.search(&["look"], &["rust".into()], 10).await.unwrap();
    for messages in [
        vec![store.message("rust", posted.seq).await.unwrap().unwrap()],
        store.sync("rust", 0, 10).await.unwrap(),
        store.history("rust", None, 10).await.unwrap(),
        found,
    ] {
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].attachment.as_ref(), Some(&picture.info));
    }
    let Posted::Duplicate(again) = store.append(carrying).await.unwrap() else {
        panic!("a retry");
    };
    assert_eq!(again.attachment.as_ref(), Some(&picture.info));

    // Only the file no message carries goes, and only once it is older than asked.
    assert_eq!(store.purge_files(100).await.unwrap(), 0);
    assert_eq!(store.purge_files(101).await.unwrap(), 1);
    assert_eq!(store.file("f2").await.unwrap(), None);
    assert_eq!(content("f2", false).await, None);
    assert!(store.file("f1").await.unwrap().is_some());

    stored_seq(
        store
            .change(delete("rust", posted.seq, DeletedBy::Author))
            .await,
    );
    let tombstone = store.message("rust", posted.seq).await.unwrap().unwrap();
    assert_eq!(tombstone.attachment, None);
    assert_eq!(store.file("f1").await.unwrap(), None);
    assert_eq!(content("f1", false).await, None);
    assert_eq!(content("f1", true).await, None);
    store.close().await;
    fixture.remove().await;
}

/// An account: `username`'s password hash is `pw-<username>`, its session `s-<username>`.
fn account<'a>(
    user: &'a Author,
    username: &'a str,
    key: &'a str,
    session_hash: &'a [u8],
    hash: &'a str,
) -> NewAccount<'a> {
    NewAccount {
        user,
        username,
        username_key: key,
        password_hash: hash,
        session: session(session_hash, &user.id, 10, None),
    }
}

pub async fn accounts_sessions_and_settings<F: Fixture>(fixture: F) {
    let store = fixture.open().await;
    assert!(!store.has_accounts().await.unwrap());
    let grace = Author {
        id: "u2".into(),
        name: "Grace".into(),
        username: None,
    };
    // The first account is the admin; a stored guest becomes an account, keeping its id.
    store
        .create_user(&ada(), session(b"guest", "u1", 0, None))
        .await
        .unwrap();
    let role = store
        .create_account(account(&ada(), "Ada", "ada", b"s-ada", "pw-ada"))
        .await
        .unwrap();
    assert_eq!(role, Role::Admin);
    assert!(store.has_accounts().await.unwrap());
    let role = store
        .create_account(account(&grace, "grace", "grace", b"s-grace", "pw-grace"))
        .await
        .unwrap();
    assert_eq!(role, Role::Member);
    // Taken usernames (by key), and a second account for one user, are refused, storing nothing.
    let mallory = Author {
        id: "u3".into(),
        name: "Mallory".into(),
        username: None,
    };
    assert!(matches!(
        store
            .create_account(account(&mallory, "ADA", "ada", b"s-mallory", "pw"))
            .await,
        Err(StoreError::UsernameTaken)
    ));
    assert_eq!(store.identity(b"s-mallory", 11).await.unwrap(), None);
    assert!(matches!(
        store
            .create_account(account(&grace, "grace2", "grace2", b"s-grace2", "pw"))
            .await,
        Err(StoreError::AccountExists)
    ));

    let stored = store.account_by_username("ada").await.unwrap().unwrap();
    assert_eq!(
        stored.user,
        Author {
            username: Some("Ada".into()),
            ..ada()
        }
    );
    assert_eq!(stored.account.username, "Ada");
    assert_eq!(stored.password_hash, "pw-ada");
    assert_eq!(
        store.account_of("u2").await.unwrap().unwrap().account.role,
        Role::Member
    );
    assert_eq!(store.account_by_username("nobody").await.unwrap(), None);
    store.set_password("u1", "pw-new").await.unwrap();
    assert_eq!(
        store.account_of("u1").await.unwrap().unwrap().password_hash,
        "pw-new"
    );

    // The account's session names it; the guest's token no longer does (it must not speak
    // for an account).
    let identity = store.identity(b"s-ada", 11).await.unwrap().unwrap();
    assert_eq!(
        identity.account.map(|account| account.role),
        Some(Role::Admin)
    );
    assert_eq!(identity.last_used_at, Some(10));
    assert_eq!(store.identity(b"guest", 11).await.unwrap(), None);
    store
        .create_session(session(b"s-ada-phone", "u1", 15, None))
        .await
        .unwrap();
    // A login that expires at 100, used at 50 from an address: it moves to 150.
    store
        .create_session(session(b"s-ada-2", "u1", 20, Some(100)))
        .await
        .unwrap();
    assert!(store.identity(b"s-ada-2", 99).await.unwrap().is_some());
    assert_eq!(store.identity(b"s-ada-2", 100).await.unwrap(), None);
    store
        .touch_session(NewSession {
            address: Some("192.0.2.1"),
            ..session(b"s-ada-2", "", 50, Some(150))
        })
        .await
        .unwrap();
    assert!(store.identity(b"s-ada-2", 120).await.unwrap().is_some());
    let sessions = store.sessions("u1", 120).await.unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0].token_hash, b"s-ada-2");
    assert_eq!(sessions[0].last_used_at, 50);
    assert_eq!(sessions[0].last_address.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        store.sessions("u1", 200).await.unwrap().len(),
        2,
        "expired: not listed"
    );
    // Expiring at 200: the expired one goes, those without an expiry get one after their last
    // use (s-ada, used at 10, until 1,010).
    store.expire_sessions(200, Some(1_000)).await.unwrap();
    assert_eq!(store.identity(b"s-ada-2", 120).await.unwrap(), None);
    assert!(store.identity(b"s-ada", 1_009).await.unwrap().is_some());
    assert_eq!(store.identity(b"s-ada", 1_010).await.unwrap(), None);

    // Ending one, then all but one, then another user's: only the user's own go.
    let ended = store
        .end_sessions("u1", Some(b"s-ada-phone"), None)
        .await
        .unwrap();
    assert_eq!(ended, vec![b"s-ada-phone".to_vec()]);
    assert_eq!(store.identity(b"s-ada-phone", 16).await.unwrap(), None);
    assert!(
        store
            .end_sessions("u2", Some(b"s-ada"), None)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .create_session(session(b"s-ada-3", "u1", 20, None))
        .await
        .unwrap();
    let mut ended = store
        .end_sessions("u1", None, Some(b"s-ada"))
        .await
        .unwrap();
    ended.sort();
    assert_eq!(ended, vec![b"s-ada-3".to_vec()]);
    assert!(store.identity(b"s-ada", 11).await.unwrap().is_some());
    assert!(store.identity(b"s-grace", 11).await.unwrap().is_some());

    // Settings: absent, set, replaced.
    assert_eq!(store.setting("registration").await.unwrap(), None);
    store.set_setting("registration", "invite").await.unwrap();
    store.set_setting("registration", "closed").await.unwrap();
    assert_eq!(
        store.setting("registration").await.unwrap().as_deref(),
        Some("closed")
    );
    store.close().await;
    fixture.remove().await;
}

pub async fn roles_and_bans<F: Fixture>(fixture: F) {
    let store = fixture.open().await;
    let grace = Author {
        id: "u2".into(),
        name: "Grace".into(),
        username: None,
    };
    store
        .create_account(account(&ada(), "ada", "ada", b"s-ada", "pw"))
        .await
        .unwrap();
    store
        .create_account(account(&grace, "grace", "grace", b"s-grace", "pw"))
        .await
        .unwrap();
    // The last admin stays one; with a second admin, the first may step down.
    assert_eq!(
        store.set_role("u1", Role::Member).await.unwrap(),
        RoleChange::LastAdmin
    );
    assert_eq!(
        store.set_role("nobody", Role::Admin).await.unwrap(),
        RoleChange::NoAccount
    );
    assert_eq!(
        store.set_role("u2", Role::Admin).await.unwrap(),
        RoleChange::Done
    );
    assert_eq!(
        store.set_role("u1", Role::Member).await.unwrap(),
        RoleChange::Done
    );
    let roles: Vec<(String, Role)> = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.user.id, entry.account.unwrap().role))
        .collect();
    assert_eq!(
        roles,
        [
            ("u1".to_owned(), Role::Member),
            ("u2".to_owned(), Role::Admin)
        ]
    );

    // A ban shows on the user's sessions and in the list, and is lifted whole.
    store.set_banned(&ada(), Some(5)).await.unwrap();
    assert!(store.identity(b"s-ada", 11).await.unwrap().unwrap().banned);
    assert!(
        store
            .account_by_username("ada")
            .await
            .unwrap()
            .unwrap()
            .banned
    );
    assert!(store.accounts().await.unwrap()[0].banned);
    assert_eq!(store.standing("u1").await.unwrap(), Standing::Banned);
    store.set_banned(&ada(), None).await.unwrap();
    assert!(!store.identity(b"s-ada", 11).await.unwrap().unwrap().banned);
    assert_eq!(store.standing("u1").await.unwrap(), Standing::Account);
    // A guest never stored is stored by its ban.
    let guest = Author {
        id: "g1".into(),
        name: "Guest g1".into(),
        username: None,
    };
    assert_eq!(store.standing("g1").await.unwrap(), Standing::Free);
    store.set_banned(&guest, Some(5)).await.unwrap();
    assert_eq!(store.standing("g1").await.unwrap(), Standing::Banned);
    store.close().await;
    fixture.remove().await;
}

pub async fn private_rooms_keep_their_flag_and_users_and_people_are_found<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    let plans = store
        .create_room("plans", true, "u1", 0, LIMITS)
        .await
        .unwrap();
    assert!(plans.private);
    assert!(store.room("plans").await.unwrap().unwrap().private);
    assert!(!store.room("rust").await.unwrap().unwrap().private);
    let listed: Vec<(String, bool)> = store
        .rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|room| (room.name, room.private))
        .collect();
    assert!(listed.contains(&("plans".to_owned(), true)), "{listed:?}");
    let joined = store.memberships("u1").await.unwrap();
    assert!(
        joined
            .iter()
            .any(|room| room.name == "plans" && room.private)
    );
    assert_eq!(store.user("u1").await.unwrap(), Some(ada()));
    assert_eq!(store.user("nobody").await.unwrap(), None);

    // A room's people: its stored members by name, room by room, for the rooms asked only.
    let bob = Author {
        id: "u2".into(),
        name: "Bob".into(),
        username: None,
    };
    store
        .create_user(&bob, session(b"bob", "u2", 0, None))
        .await
        .unwrap();
    store.join("u2", "plans", LIMITS).await.unwrap();
    store.join("u2", "rust", LIMITS).await.unwrap();
    let rooms = ["plans".to_owned(), "rust".to_owned()];
    let people: Vec<(String, String)> = store
        .people(&rooms)
        .await
        .unwrap()
        .into_iter()
        .map(|(room, person)| (room, person.name))
        .collect();
    let pair = |room: &str, name: &str| (room.to_owned(), name.to_owned());
    assert_eq!(
        people,
        [
            pair("plans", "Ada"),
            pair("plans", "Bob"),
            pair("rust", "Ada"),
            pair("rust", "Bob")
        ]
    );
    let plans = store.people(&rooms[..1]).await.unwrap();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1].1, bob);
    assert_eq!(store.people(&[]).await.unwrap(), []);
    store.close().await;
    fixture.remove().await;
}

pub async fn concurrent_first_accounts_make_one_admin<F: Fixture>(fixture: F) {
    let (one, two) = (fixture.open().await, fixture.open().await);
    let users: Vec<Author> = (0..8)
        .map(|i| Author {
            id: format!("u{i}"),
            name: format!("User {i}"),
            username: None,
        })
        .collect();
    let keys: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
    let hashes: Vec<Vec<u8>> = (0..8).map(|i| vec![i]).collect();
    let creations = users.iter().enumerate().map(|(i, user)| {
        let store = if i % 2 == 0 { &one } else { &two };
        store.create_account(account(user, &keys[i], &keys[i], &hashes[i], "pw"))
    });
    let roles = futures_util::future::join_all(creations).await;
    let admins = roles
        .iter()
        .filter(|role| matches!(role, Ok(Role::Admin)))
        .count();
    assert_eq!(admins, 1, "{roles:?}");
    assert!(roles.iter().all(Result::is_ok), "{roles:?}");
    one.close().await;
    two.close().await;
    fixture.remove().await;
}

/// The suite, for one fixture.
/// Messages and users are read with their account's username (none for a guest), whenever the
/// account was made: the username is what others see beside a name, and no one else can have it.
pub async fn messages_and_users_carry_an_accounts_username<F: Fixture>(fixture: F) {
    let store = fixture.open().await;
    let seq = post(&store, "general", "as a guest", None).await;
    let author = |messages: Vec<ChatMessage>| messages[0].author.clone();
    assert_eq!(author(store.sync("general", 0, 10).await.unwrap()), ada());

    store
        .create_account(account(&ada(), "Ada", "ada", b"s-ada", "pw-ada"))
        .await
        .unwrap();
    let named = Author {
        username: Some("Ada".into()),
        ..ada()
    };
    assert_eq!(author(store.sync("general", 0, 10).await.unwrap()), named);
    assert_eq!(
        author(store.history("general", None, 10).await.unwrap()),
        named
    );
    assert_eq!(
        store
            .message("general", seq)
            .await
            .unwrap()
            .map(|m| m.author),
        Some(named.clone())
    );
    assert_eq!(store.user("u1").await.unwrap(), Some(named));
    store.close().await;
    fixture.remove().await;
}

/// An archived room keeps its messages and takes no new ones, without using up a seq; out of
/// the archive it takes them again.
pub async fn archived_rooms_take_no_messages<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    assert_eq!(post(&store, "rust", "before", None).await, 1);
    assert_eq!(store.set_archived("nowhere", Some(5)).await.unwrap(), None);
    let archived = store.set_archived("rust", Some(5)).await.unwrap().unwrap();
    assert!(archived.archived);
    assert!(store.room("rust").await.unwrap().unwrap().archived);
    assert!(
        store
            .rooms()
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "rust" && r.archived)
    );
    // In a batch with another room's message: only the archived room's is refused.
    let outcomes = futures_util::future::join_all([
        store.append(new_message("rust", "during", None)),
        store.append(new_message("general", "elsewhere", None)),
    ])
    .await;
    assert!(matches!(outcomes[0], Err(StoreError::RoomNotFound)));
    assert!(outcomes[1].is_ok());
    assert_eq!(store.sync("rust", 0, 10).await.unwrap().len(), 1);

    let back = store.set_archived("rust", None).await.unwrap().unwrap();
    assert!(!back.archived);
    assert_eq!(post(&store, "rust", "after", None).await, 2);
    store.close().await;
    fixture.remove().await;
}

/// A read position only moves forward, per user and room.
pub async fn read_positions_only_move_forward<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    assert_eq!(store.read_positions("u1").await.unwrap(), []);
    store.mark_read("u1", "rust", 5).await.unwrap();
    store.mark_read("u1", "rust", 3).await.unwrap();
    store.mark_read("u1", "general", 2).await.unwrap();
    store.mark_read("u2", "rust", 9).await.unwrap();
    let mut mine = store.read_positions("u1").await.unwrap();
    mine.sort();
    assert_eq!(mine, [("general".to_owned(), 2), ("rust".to_owned(), 5)]);
    store.mark_read("u1", "rust", 7).await.unwrap();
    assert!(
        store
            .read_positions("u1")
            .await
            .unwrap()
            .contains(&("rust".to_owned(), 7))
    );
    store.close().await;
    fixture.remove().await;
}

/// The texts of what `store` finds for `query` (split as the chat splits it) in `rooms`, newest
/// first.
async fn found(store: &impl Store, query: &str, rooms: &[&str]) -> Vec<String> {
    let words = shared::search_words(query).unwrap();
    let rooms: Vec<String> = rooms.iter().map(|&room| room.to_owned()).collect();
    let found = store.search(&words, &rooms, 50).await.unwrap();
    found.into_iter().map(|message| message.text).collect()
}

pub async fn search_finds_every_word_as_a_prefix_newest_first<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    store
        .create_room("secret", true, "u1", 0, LIMITS)
        .await
        .unwrap();
    let texts = [
        ("general", "Deployment of the new build is done"),
        ("rust", "deploying again tomorrow"),
        ("general", "Café au lait? CAFÉ!"),
        ("secret", "deploy the secret plans"),
        ("general", "ΣΟΦΊΑ flew to 東京タワー"),
        (
            "rust",
            "foo-bar wrote to ada@example.com: x'y (meet near the station)",
        ),
        ("general", "to be deleted: deploy"),
    ];
    for (room, text) in texts {
        post(&store, room, text, None).await;
    }
    let open = ["general", "rust"];
    let all = ["general", "rust", "secret"];

    // Every word a prefix of a word, whatever the case; newest first; only the rooms asked.
    let deploys = [
        "to be deleted: deploy",
        "deploying again tomorrow",
        "Deployment of the new build is done",
    ];
    assert_eq!(found(&store, "deplo", &open).await, deploys);
    assert_eq!(found(&store, "DEPLOY", &open).await, deploys);
    assert_eq!(found(&store, "deplo", &["rust"]).await, [deploys[1]]);
    assert_eq!(found(&store, "secret deploy", &open).await, [""; 0]);
    assert_eq!(
        found(&store, "secret deploy", &all).await,
        ["deploy the secret plans"]
    );
    assert_eq!(found(&store, "deployment build", &all).await, [deploys[2]]);
    assert_eq!(found(&store, "deployment tomorrow", &all).await, [""; 0]);
    assert_eq!(found(&store, "ploy", &all).await, [""; 0], "a word's start");
    assert_eq!(found(&store, "zebra", &all).await, [""; 0]);
    assert_eq!(found(&store, "deplo", &[]).await, [""; 0]);

    // Letters and digits make words, anything else separates them; case folds, accents stay.
    let cafe = ["Café au lait? CAFÉ!"];
    assert_eq!(found(&store, "café", &all).await, cafe);
    assert_eq!(found(&store, "CAFÉ LAIT", &all).await, cafe);
    assert_eq!(found(&store, "cafe", &all).await, [""; 0], "accents count");
    let greek = ["ΣΟΦΊΑ flew to 東京タワー"];
    assert_eq!(found(&store, "σοφία", &all).await, greek);
    assert_eq!(found(&store, "東京", &all).await, greek);
    let mail = ["foo-bar wrote to ada@example.com: x'y (meet near the station)"];
    for query in ["bar", "example com", "ada", "y", "NEAR", "foo-bar", "x'y"] {
        assert_eq!(found(&store, query, &all).await, mail, "{query}");
    }

    // However long the word, and its prefix asked.
    let long = "Pneumonoultramicroscopicsilicovolcanoconiosis, the doctor said";
    post(&store, "rust", long, None).await;
    for query in [
        "pneumonoultramicroscopic",
        "PNEUMONOULTRAMICROSCOPICSILICOVOLCANOCONIOSIS doc",
        "pneumonoultramic",
    ] {
        assert_eq!(found(&store, query, &all).await, [long], "{query}");
    }
    for query in ["pneumonoultramicroscopiX", "pneumonoultramicX"] {
        assert_eq!(found(&store, query, &all).await, [""; 0], "{query}");
    }

    // A deleted message has no words; an edited one only its new text's.
    store
        .change(delete("general", 4, DeletedBy::Author))
        .await
        .unwrap();
    store
        .change(edit("rust", 1, "shipping again tomorrow"))
        .await
        .unwrap();
    assert_eq!(found(&store, "deplo", &open).await, [deploys[2]]);
    assert_eq!(found(&store, "deleted", &open).await, [""; 0]);
    assert_eq!(
        found(&store, "ship tomorrow", &open).await,
        ["shipping again tomorrow"]
    );

    // Found messages are read as everywhere else: with their reactions.
    store
        .change(reaction("rust", 1, "🎉", "u2", true))
        .await
        .unwrap();
    let words = ["shipping"];
    let shipped = store.search(&words, &["rust".into()], 50).await.unwrap();
    assert_eq!(shipped, [store.message("rust", 1).await.unwrap().unwrap()]);
    assert_eq!(shipped[0].reactions.len(), 1);

    // At most `limit`, the newest.
    for n in 0..60 {
        post(
            &store,
            if n % 2 == 0 { "general" } else { "rust" },
            &format!("bulk {n}"),
            None,
        )
        .await;
    }
    let words = ["bulk"];
    let bulk = store
        .search(&words, &all.map(String::from), 50)
        .await
        .unwrap();
    let texts: Vec<String> = bulk.into_iter().map(|message| message.text).collect();
    let newest: Vec<String> = (10..60).rev().map(|n| format!("bulk {n}")).collect();
    assert_eq!(texts, newest);
    store.close().await;
    fixture.remove().await;
}

pub async fn search_words_are_never_syntax<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    post(&store, "general", "AND OR NOT NEAR and or not near", None).await;
    let rooms = ["general".to_owned()];
    // What the chat sends (letters and digits), and what it never would: the store quotes
    // whatever it is given.
    let hostile = [
        "\"",
        "\"\"",
        "*",
        "a\"b",
        "NEAR",
        "NEAR(",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        ":",
        "col:val",
        "text:near",
        "&",
        "|",
        "!",
        "'",
        "''",
        "\\",
        "^and",
        "a' & b",
        "a:*",
        "!(x)",
        "<->",
        "-",
        "+",
        "{",
        "}",
        "é",
        "\u{301}",
        "ß",
        "\u{10FFFF}",
        " ",
        "",
    ];
    for word in hostile {
        let result = store.search(&[word], &rooms, 50).await;
        assert!(result.is_ok(), "{word:?}: {result:?}");
    }
    for word in ["and", "OR", "Not", "near"] {
        let result = store.search(&[word], &rooms, 50).await.unwrap();
        assert_eq!(result.len(), 1, "{word} is a word like any other");
    }
    // Arbitrary queries, split as the chat splits them, never fail.
    let alphabet: Vec<char> = "aZé\"'*:&|!()-^+<>{}[]~\\ \t\u{0}\u{301}東ΣNEAR0_.@#"
        .chars()
        .collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..300 {
        let query: String = (0..state % 24)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[usize::try_from(state % alphabet.len() as u64).unwrap()]
            })
            .collect();
        if let Ok(words) = shared::search_words(&query) {
            let result = store.search(&words, &rooms, 50).await;
            assert!(result.is_ok(), "{query:?}: {result:?}");
        }
    }
    store.close().await;
    fixture.remove().await;
}

/// Changes and messages in one batch (one transaction): the changes in order, each seeing the
/// state the one before left (what changes nothing takes no seq, refusals store nothing and
/// fail nothing else), then the messages; the room's seqs are gap-free across both. The same
/// through the committer's queue, batched however it happens to be.
pub async fn changes_and_messages_in_one_batch_keep_order_and_leave_no_gap<F: Fixture>(fixture: F) {
    let store = open_with_rust(&fixture).await;
    assert_eq!(post(&store, "general", "one", None).await, 1);
    assert_eq!(post(&store, "general", "two", None).await, 2);
    let max = i64::try_from(shared::MAX_REACTIONS).unwrap();
    let mut changes = vec![
        edit("general", 1, "first"),
        reaction("general", 1, "👍", "u2", true),
        reaction("general", 1, "👍", "u2", true),
        edit("general", 1, "first"),
        reaction("general", 1, "👍", "u2", false),
        delete("general", 1, DeletedBy::Author),
        edit("general", 1, "back"),
        reaction("general", 1, "🎉", "u2", true),
        edit("general", 99, "x"),
        reaction("rust", 1, "👍", "u2", true),
    ];
    changes.extend((0..max).map(|n| reaction("general", 2, &format!("e{n}"), "u3", true)));
    changes.push(reaction("general", 2, "one too many", "u3", true));
    let messages = [
        new_message("general", "three", None),
        new_message("rust", "r", None),
        new_message("general", "four", None),
    ];
    let written = store.writer().write(&changes, &messages).await.unwrap();
    let outcome = |changed: &Result<Option<MessageChanged>, StoreError>| match changed {
        Ok(Some(changed)) => format!("seq {}", changed.seq),
        Ok(None) => "nothing".to_owned(),
        Err(error) => error.to_string(),
    };
    let seen: Vec<String> = written.changed.iter().map(outcome).collect();
    let mut expected: Vec<String> = [
        "seq 3",
        "seq 4",
        "nothing",
        "nothing",
        "seq 5",
        "seq 6",
        &StoreError::MessageDeleted.to_string(),
        &StoreError::MessageDeleted.to_string(),
        &StoreError::MessageNotFound.to_string(),
        &StoreError::MessageNotFound.to_string(),
    ]
    .map(str::to_owned)
    .into();
    expected.extend((0..max).map(|n| format!("seq {}", 7 + n)));
    expected.push(StoreError::TooManyReactions.to_string());
    assert_eq!(seen, expected);
    let last = 6 + max;
    assert_eq!(
        written.posted.into_iter().map(describe).collect::<Vec<_>>(),
        [
            format!("new general {} three", last + 1),
            "new rust 1 r".to_owned(),
            format!("new general {} four", last + 2),
        ]
    );
    let tombstone = store.message("general", 1).await.unwrap().unwrap();
    assert_eq!(
        (tombstone.text.as_str(), tombstone.deleted),
        ("", Some(DeletedBy::Author))
    );
    assert!(tombstone.reactions.is_empty());
    let two = store.message("general", 2).await.unwrap().unwrap();
    assert_eq!(two.reactions.len(), shared::MAX_REACTIONS);
    // Every seq of the room is a message's or a change's, once.
    assert_eq!(
        room_seqs(&store, "general").await,
        (1..=last + 2).collect::<Vec<_>>()
    );

    // Through the queue: changes of message 2 (by u4, so each changes something) between new
    // messages; each change in the order queued, and still no gap.
    let mut posted = Vec::new();
    let mut changed = Vec::new();
    for n in 0..20 {
        posted.push(
            store
                .committer()
                .try_queue(new_message("general", &format!("q{n}"), None)),
        );
        changed.push(store.committer().try_queue_change(reaction(
            "general",
            2,
            "e0",
            "u4",
            n % 2 == 0,
        )));
    }
    changed.push(store.committer().try_queue_change(edit("general", 1, "no")));
    let mut change_seqs = Vec::new();
    for outcome in changed.drain(..20) {
        change_seqs.push(stored_seq(outcome.await.unwrap()));
    }
    assert!(matches!(
        changed.pop().unwrap().await.unwrap(),
        Err(StoreError::MessageDeleted)
    ));
    assert!(
        change_seqs.is_sorted(),
        "one message's changes take seqs in the order queued: {change_seqs:?}"
    );
    for outcome in posted {
        assert!(matches!(outcome.await.unwrap(), Ok(Posted::New(_))));
    }
    let last = last + 2 + 40;
    assert_eq!(store.room("general").await.unwrap().unwrap().last_seq, last);
    let two = store.message("general", 2).await.unwrap().unwrap();
    assert_eq!(
        two.reactions[0].by.len(),
        1,
        "u4's last change took its reaction away"
    );
    assert_eq!(
        room_seqs(&store, "general").await,
        (1..=last).collect::<Vec<_>>()
    );
    store.close().await;
    fixture.remove().await;
}

macro_rules! conformance {
    ($fixture:ty: $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(<$fixture as super::Fixture>::new().await).await;
            }
        )*
    };
}

macro_rules! suite {
    ($($module:ident: $fixture:ident),*) => {
        $(
            mod $module {
                conformance!(super::$fixture:
                    one_batch_mixes_rooms_retries_and_unknown_rooms,
                    sequence_numbers_are_per_room_and_gap_free,
                    concurrent_appends_are_batched_without_gaps_or_duplicates,
                    two_nodes_append_to_one_room_without_gaps_or_duplicates,
                    a_repeated_client_id_returns_the_first_message,
                    one_client_id_in_two_rooms_through_two_nodes_is_stored_once,
                    rooms_memberships_and_limits,
                    concurrent_creations_and_joins_stay_within_the_caps,
                    the_server_key_is_made_once,
                    closing_commits_what_is_queued,
                    readiness_follows_the_store,
                    accounts_sessions_and_settings,
                    roles_and_bans,
                    private_rooms_keep_their_flag_and_users_and_people_are_found,
                    concurrent_first_accounts_make_one_admin,
                    changes_take_the_rooms_next_seq_and_leave_messages_as_they_are_now,
                    concurrent_changes_and_appends_through_two_nodes_leave_no_gap,
                    changes_and_messages_in_one_batch_keep_order_and_leave_no_gap,
                    messages_and_users_carry_an_accounts_username,
                    archived_rooms_take_no_messages,
                    read_positions_only_move_forward,
                    reactions_are_changes_and_messages_are_read_with_them,
                    replies_quote_their_original_as_it_is_now,
                    mentions_are_read_with_their_message,
                    files_are_read_with_their_message_and_go_with_it,
                    search_finds_every_word_as_a_prefix_newest_first,
                    search_words_are_never_syntax,
                );
            }
        )*
    };
}

suite!(sqlite: Sqlite, postgres: Postgres);
