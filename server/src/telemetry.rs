//! The server's metrics, served at `GET /metrics` in Prometheus' text format: recorded through
//! the `metrics` facade and rendered by `metrics-exporter-prometheus`. Every name and label is
//! defined here (docs/OPERATIONS.md lists them). Label values come from closed sets (the event
//! names the server knows, error codes, disconnect reasons, transports), so no client can grow
//! the number of series.
//!
//! One recorder serves the whole process: the first server started installs it.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use shared::ErrorCode;

const CONNECTIONS: &str = "chat_connections";
const EVENTS: &str = "chat_events_received_total";
const REFUSALS: &str = "chat_refusals_total";
const MESSAGES_STORED: &str = "chat_messages_stored_total";
const ACK_LATENCY: &str = "chat_ack_latency_seconds";
const COMMIT_BATCH: &str = "chat_commit_batch_messages";
const COMMIT_LATENCY: &str = "chat_commit_latency_seconds";
const BROADCAST_MISSES: &str = "chat_broadcast_misses_total";
const DISCONNECTS: &str = "chat_disconnects_total";
const PRESENCE_ROOMS: &str = "chat_presence_rooms";

/// Buckets of the latency histograms, in seconds: from half a millisecond (a commit on a fast
/// disk) to the 10 s a client waits for an ack.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the batch sizes, up to the committer's largest batch (512).
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// How often histogram samples are folded into their buckets between scrapes, so that memory
/// stays flat when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed by the first call.
fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH.into()), BATCH)
            })
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will stay empty");
        }
        describe();
        handle
    })
}

fn describe() {
    describe_gauge!(
        CONNECTIONS,
        "Open Socket.io connections on this node, by transport."
    );
    describe_counter!(
        EVENTS,
        "Client events received, by event name (`other` for names the server does not know)."
    );
    describe_counter!(REFUSALS, "Requests refused, by error code.");
    describe_counter!(
        MESSAGES_STORED,
        "Messages newly stored by this node (retries of stored messages not counted)."
    );
    describe_histogram!(
        ACK_LATENCY,
        Unit::Seconds,
        "From receiving a chatMessage to acknowledging it as stored."
    );
    describe_histogram!(
        COMMIT_BATCH,
        Unit::Count,
        "Messages per group-commit transaction."
    );
    describe_histogram!(
        COMMIT_LATENCY,
        Unit::Seconds,
        "Time to write and commit one batch."
    );
    describe_counter!(
        BROADCAST_MISSES,
        "Broadcasts the adapter could not send (cause adapter), and sockets a broadcast missed \
         (queue_full, closed)."
    );
    describe_counter!(DISCONNECTS, "Socket.io disconnections, by reason.");
    describe_gauge!(PRESENCE_ROOMS, "Rooms with someone online on this node.");
}

/// Installs the recorder (once per process) and folds histogram samples every few seconds,
/// for as long as the returned future runs.
pub async fn upkeep() {
    let handle = handle();
    let mut ticks = tokio::time::interval(UPKEEP_EVERY);
    loop {
        ticks.tick().await;
        handle.run_upkeep();
    }
}

/// Everything recorded, in Prometheus' text format.
pub fn render() -> String {
    handle().render()
}

/// Open connections on this node, measured when scraped.
pub fn connections(transport: &'static str, open: usize) {
    gauge!(CONNECTIONS, "transport" => transport).set(as_f64(open));
}

/// Rooms with someone online on this node, measured when scraped.
pub fn presence_rooms(rooms: usize) {
    gauge!(PRESENCE_ROOMS).set(as_f64(rooms));
}

/// A client event arrived; `name` is one the server knows, or `other`.
pub fn event_received(name: &'static str) {
    counter!(EVENTS, "event" => name).increment(1);
}

/// A request (a socket event, a handshake, a server function) was refused with `code`.
pub fn refused(code: ErrorCode) {
    // The label is the code as clients see it (docs/PROTOCOL.md).
    let label = match serde_json::to_value(code) {
        Ok(serde_json::Value::String(code)) => code,
        _ => "unknown".to_owned(),
    };
    counter!(REFUSALS, "code" => label).increment(1);
}

/// A `chatMessage` received at `received` was acknowledged as stored.
pub fn acked(received: Instant) {
    histogram!(ACK_LATENCY).record(received.elapsed());
}

/// The committer wrote a batch of `messages` in `took`, `stored` of them new.
pub fn committed(messages: usize, stored: usize, took: Duration) {
    histogram!(COMMIT_BATCH).record(as_f64(messages));
    histogram!(COMMIT_LATENCY).record(took);
    counter!(MESSAGES_STORED).increment(u64::try_from(stored).unwrap_or(u64::MAX));
}

/// A broadcast missed `count`: one broadcast (`adapter`), or that many sockets (`queue_full`,
/// `closed`).
pub fn broadcast_missed(cause: &'static str, count: usize) {
    counter!(BROADCAST_MISSES, "cause" => cause)
        .increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// A socket disconnected for `reason`.
pub fn disconnected(reason: &'static str) {
    counter!(DISCONNECTS, "reason" => reason).increment(1);
}

/// A count as a gauge's or histogram's value (exact up to 2^53).
fn as_f64(n: usize) -> f64 {
    n as f64
}
