//! Group commit, shared by both stores: one committer task per store takes every append (and,
//! for the stores that queue them, every change) that has queued up and stores them in one
//! transaction, each acknowledged only after its commit. What a batch of messages means (which
//! messages are retries, which rooms' counters move by how much, which sequence number each new
//! message gets) is decided here; each store only runs its statements.

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use shared::{ChatMessage, MessageChanged};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

use super::{NewChange, NewMessage, Posted, StoreError, StoreResult};
use crate::supervise::supervise;

/// Most requests (messages and changes) committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// A message or a change to store, and where to send its outcome once it is committed.
#[derive(Debug)]
enum Request {
    Append(NewMessage, oneshot::Sender<StoreResult<Posted>>),
    Change(
        NewChange,
        oneshot::Sender<StoreResult<Option<MessageChanged>>>,
    ),
}

/// What a batch's transaction stored: each change's outcome and each message's, in the order
/// they were given.
#[derive(Debug)]
pub struct Written {
    pub changed: Vec<StoreResult<Option<MessageChanged>>>,
    pub posted: Vec<StoreResult<Posted>>,
}

/// How a store writes one batch: in one transaction, `changes` first, in order (each sees the
/// state the one before left, and a refused one stores nothing), then `messages`; every request
/// getting an outcome in order, or a database error that failed (and rolled back) all of them.
///
/// Changes go before the batch's messages: a change names its message by a seq known only once
/// that message is committed, and requests queued together were
/// concurrent, so either order is one they could have arrived in.
pub trait WriteBatch: Clone + Send + Sync + 'static {
    fn write(
        &self,
        changes: &[NewChange],
        messages: &[NewMessage],
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;
}

/// The queue of appends and changes, and the committer task draining it.
#[derive(Debug, Clone)]
pub struct Committer {
    requests: mpsc::Sender<Request>,
    stop: Arc<watch::Sender<bool>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// True while a run of the committer task is alive (between a failure and its restart, and
    /// once it stopped, false).
    running: Arc<AtomicBool>,
}

impl Committer {
    /// Starts the (supervised) committer task writing with `writer`.
    pub fn start(writer: impl WriteBatch) -> Self {
        let (requests, queued) = mpsc::channel(4 * MAX_BATCH);
        let (stop, stopped) = watch::channel(false);
        let queued = Arc::new(tokio::sync::Mutex::new(queued));
        // Running from here: the task is spawned below (readiness must not read "not running"
        // in the moment before it is first polled).
        let running = Arc::new(AtomicBool::new(true));
        let alive = running.clone();
        let task = tokio::spawn(supervise("committer", move || {
            let run = Running::mark(alive.clone());
            commit_appends(writer.clone(), queued.clone(), stopped.clone(), run)
        }));
        Self {
            requests,
            stop: Arc::new(stop),
            task: Arc::new(Mutex::new(Some(task))),
            running,
        }
    }

    /// Whether the committer task is running now (for readiness).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Queues `new` and waits for its outcome.
    pub async fn append(&self, new: NewMessage) -> StoreResult<Posted> {
        let (reply, outcome) = oneshot::channel();
        self.queue(Request::Append(new, reply)).await?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues the change `new` and waits for its outcome: the change stored with the next
    /// batch, nothing if it changes nothing, or its refusal.
    pub async fn change(&self, new: NewChange) -> StoreResult<Option<MessageChanged>> {
        let (reply, outcome) = oneshot::channel();
        self.queue(Request::Change(new, reply)).await?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    async fn queue(&self, request: Request) -> StoreResult<()> {
        self.requests
            .send(request)
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Stops taking messages and waits until those already queued are committed.
    pub async fn close(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().expect("committer lock").take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the committer failed while stopping");
        }
    }

    /// Queues without waiting (for tests that fill the queue before closing).
    #[cfg(test)]
    pub fn try_queue(&self, new: NewMessage) -> oneshot::Receiver<StoreResult<Posted>> {
        let (reply, outcome) = oneshot::channel();
        self.requests
            .try_send(Request::Append(new, reply))
            .expect("room in the queue");
        outcome
    }

    /// Queues a change without waiting (for tests that queue changes with messages).
    #[cfg(test)]
    pub fn try_queue_change(
        &self,
        new: NewChange,
    ) -> oneshot::Receiver<StoreResult<Option<MessageChanged>>> {
        let (reply, outcome) = oneshot::channel();
        self.requests
            .try_send(Request::Change(new, reply))
            .expect("room in the queue");
        outcome
    }
}

/// Marks the committer running from its start until it is dropped: when the task returns, or
/// when it fails (a panic drops the task's future, and this with it).
struct Running(Arc<AtomicBool>);

impl Running {
    fn mark(flag: Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::Release);
        Self(flag)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The committer: takes every request that has queued up (up to [`MAX_BATCH`]) and stores them
/// in one transaction, each kind in arrival order. Once `stop` turns true it takes no more, commits what is
/// queued and returns. `_running` says it runs, for as long as it does.
async fn commit_appends(
    writer: impl WriteBatch,
    queued: Arc<tokio::sync::Mutex<mpsc::Receiver<Request>>>,
    mut stop: watch::Receiver<bool>,
    _running: Running,
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
        let (mut messages, mut posted_to) = (Vec::new(), Vec::new());
        let (mut changes, mut changed_to) = (Vec::new(), Vec::new());
        for request in batch.drain(..) {
            match request {
                Request::Append(new, reply) => {
                    messages.push(new);
                    posted_to.push(reply);
                }
                Request::Change(new, reply) => {
                    changes.push(new);
                    changed_to.push(reply);
                }
            }
        }
        let started = Instant::now();
        match writer.write(&changes, &messages).await {
            Ok(Written { changed, posted }) => {
                let stored = posted
                    .iter()
                    .filter(|outcome| matches!(outcome, Ok(Posted::New(_))))
                    .count();
                crate::telemetry::committed(messages.len(), stored, started.elapsed());
                // The requester may have gone (its connection closed); what it asked for is
                // stored all the same and reaches it through catch-up.
                for (reply, outcome) in changed_to.into_iter().zip(changed) {
                    let _ = reply.send(outcome);
                }
                for (reply, outcome) in posted_to.into_iter().zip(posted) {
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    messages = messages.len(),
                    changes = changes.len(),
                    "storing a batch failed"
                );
                let failed = || match &error {
                    StoreError::Unavailable(detail) => StoreError::Unavailable(detail.clone()),
                    other => StoreError::Batch(other.to_string()),
                };
                for reply in changed_to {
                    let _ = reply.send(Err(failed()));
                }
                for reply in posted_to {
                    let _ = reply.send(Err(failed()));
                }
            }
        }
    }
}

/// Whether `error`, met while applying a change inside a batch's transaction, is the change's
/// own refusal (it stored nothing: the batch goes on) rather than the database failing (the
/// whole batch fails).
pub fn refusal(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::MessageNotFound | StoreError::MessageDeleted | StoreError::TooManyReactions
    )
}

/// A batch taken apart: what becomes of each message, given the stored messages it retries.
#[derive(Debug)]
pub struct Plan<'a> {
    batch: &'a [NewMessage],
    outcomes: Vec<Option<StoreResult<Posted>>>,
    /// (index, index of the earlier message in this batch with the same client id)
    retries_in_batch: Vec<(usize, usize)>,
    /// The new messages of each room, in arrival order.
    new_by_room: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> Plan<'a> {
    /// Plans `batch`, given `stored`: the stored messages whose (author, client id) a message of
    /// the batch repeats.
    pub fn new(batch: &'a [NewMessage], stored: &[ChatMessage]) -> Self {
        let mut outcomes: Vec<Option<StoreResult<Posted>>> = batch.iter().map(|_| None).collect();
        let mut retries_in_batch = Vec::new();
        let mut first_with_key = HashMap::new();
        let mut new_by_room: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, new) in batch.iter().enumerate() {
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
        Self {
            batch,
            outcomes,
            retries_in_batch,
            new_by_room,
        }
    }

    /// The (author id, client id) keys of the batch, to look up stored retries with.
    pub fn keys(batch: &[NewMessage]) -> Vec<(&str, &str)> {
        batch
            .iter()
            .filter_map(|new| Some((new.author.id.as_str(), new.client_id.as_deref()?)))
            .collect()
    }

    /// How many new messages each room gets, by name (the counter bumps).
    pub fn counts(&self) -> Vec<(&'a str, i64)> {
        self.new_by_room
            .iter()
            .map(|(room, indexes)| (*room, count(indexes.len())))
            .collect()
    }

    /// Gives each new message its sequence number from `lasts` (each room's counter after the
    /// bump; a room missing from it does not exist). Returns (index, seq) of the rows to insert.
    pub fn number(&mut self, lasts: &HashMap<String, i64>) -> Vec<(usize, i64)> {
        let mut rows = Vec::new();
        for (room, indexes) in std::mem::take(&mut self.new_by_room) {
            match lasts.get(room) {
                Some(&last) => {
                    let first = last - count(indexes.len()) + 1;
                    rows.extend(indexes.into_iter().zip(first..));
                }
                None => {
                    for index in indexes {
                        self.outcomes[index] = Some(Err(StoreError::RoomNotFound));
                    }
                }
            }
        }
        rows
    }

    /// Every message's outcome, once `rows` (from [`Plan::number`]) are committed.
    pub fn finish(mut self, rows: &[(usize, i64)]) -> Vec<StoreResult<Posted>> {
        for &(index, seq) in rows {
            let new = &self.batch[index];
            self.outcomes[index] = Some(Ok(Posted::New(ChatMessage {
                id: new.id.clone(),
                room: new.room.clone(),
                seq,
                text: new.text.clone(),
                author: new.author.clone(),
                sent_at: new.sent_at,
                client_id: new.client_id.clone(),
                edited_at: None,
                deleted: None,
                // What a reply quotes is read once it is stored (`Chat::post`).
                reply_to: None,
                reactions: Vec::new(),
                mentions: new.mentions.clone(),
                attachment: None,
            })));
        }
        for (index, first) in std::mem::take(&mut self.retries_in_batch) {
            self.outcomes[index] = Some(match &self.outcomes[first] {
                Some(Ok(Posted::New(message))) => Ok(Posted::Duplicate(message.clone())),
                _ => Err(StoreError::RoomNotFound),
            });
        }
        self.outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every message has an outcome"))
            .collect()
    }
}

/// A count as the databases' integer.
pub fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
