//! `chat-fuzz`: a live protocol fuzzer. It sends a chat server malformed Engine.IO and Socket.io
//! packets over WebSocket and long-polling (unknown and truncated packets, other namespaces, bad
//! acknowledgement ids, broken JSON, wrong types for every field of every event, deeply nested
//! and huge JSON, binary attachments that never come, unknown events, junk handshake `auth`,
//! malformed polling requests), over many connections opened and closed, while a healthy client
//! chats throughout. It fails unless, afterwards, the server runs and did not panic, a fresh
//! client chats, the healthy client got every message back and acknowledged, no connection hung,
//! and the server's memory came back to within a tolerance of where it started.
//!
//! Seeded: the same `--seed` and `--cases` send the same cases in the same connections. Loopback
//! only. The last line it prints is one JSON object with every figure.

mod cases;
mod healthy;
mod rng;
mod server;
mod wire;

use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, Result, bail};
use bench::{client, ensure_loopback, proc_stats::Snapshot};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use shared::{ChatInput, Event};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use rng::Rng;
use wire::End;

#[derive(Debug, Parser)]
#[command(about = "Live protocol fuzzer for the chat (loopback only)")]
struct Args {
    /// Start this server binary (release `chat`) on a free port with a fresh data directory.
    #[arg(long, conflicts_with = "url", required_unless_present = "url")]
    server: Option<PathBuf>,
    /// Fuzz a server that is already running instead; must be a loopback address.
    #[arg(long)]
    url: Option<String>,
    /// With --url: the server's process id, for its memory (from /proc); no memory check without.
    #[arg(long, requires = "url")]
    server_pid: Option<u32>,
    /// Cases to send in all (a connection carries 1 to 8).
    #[arg(long, default_value_t = 3_000)]
    cases: usize,
    /// The generator's seed; by default taken from the clock (and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Fuzzing connections open at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Milliseconds between two messages of the healthy client.
    #[arg(long, default_value_t = 5)]
    healthy_every_ms: u64,
    /// Ordinary connections (connect, chat, close) before the memory baseline is taken.
    #[arg(long, default_value_t = 200)]
    warm_up: usize,
    /// Cases of a first round of fuzzing (other cases than the run's, from the same seed)
    /// before the memory baseline is taken [default: as many as the run's, at least 10,000].
    /// The server's working memory grows with the work done (SQLite's page caches fill as the
    /// database grows) and levels off: 100,000 cases after a 10,000-case warm-up grew it 49%,
    /// 250,000 cases 55%, and 100,000 after a 100,000-case warm-up 2.9%.
    #[arg(long)]
    warm_up_cases: Option<usize>,
    /// Largest growth of the server's resident memory allowed, in percent of the baseline.
    #[arg(long, default_value_t = 10.0)]
    rss_tolerance: f64,
}

/// How long the server's memory is left to settle, once only the healthy client is connected,
/// before it is read.
const SETTLE: Duration = Duration::from_secs(2);

/// Mixed into the seed for the warm-up round, so that its connections differ from the run's.
const WARM_UP_STREAM: u64 = 0x5EED_0F0A_1234_5678;

/// Rate limits raised so that the healthy client (a message every few milliseconds) is never
/// refused; every other limit keeps its default.
const SERVER_ARGS: &[&str] = &["--rate-per-second", "100000", "--rate-burst", "100000"];

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
        now.map_or(0, |now| now.as_secs() ^ u64::from(now.subsec_nanos()))
    });
    println!("chat-fuzz: seed {seed}, {} cases", args.cases);
    let mut server = match &args.server {
        Some(binary) => {
            let flags: Vec<String> = SERVER_ARGS.iter().map(|&flag| flag.to_owned()).collect();
            Some(server::Server::start(binary, &flags).await?)
        }
        None => None,
    };
    let url = match (&server, &args.url) {
        (Some(server), _) => server.url.clone(),
        (None, Some(url)) => url.clone(),
        (None, None) => bail!("give --server or --url"),
    };
    ensure_loopback(&url)?;
    let pid = server.as_ref().map(|server| server.pid).or(args.server_pid);
    let started = Instant::now();

    let healthy =
        healthy::Healthy::start(&url, Duration::from_millis(args.healthy_every_ms)).await?;
    // The baseline is taken once the server has done the same kind of work for a while: its
    // allocator's pools and SQLite's page caches (up to 2 MiB per store connection) grow to
    // their working size first, whatever the input. Growth past that is what a leak shows.
    warm_up(&url, args.warm_up).await?;
    let warm_up_seed = seed ^ WARM_UP_STREAM;
    let warm_up_cases = args.warm_up_cases.unwrap_or(args.cases.max(10_000));
    let warm_up_plan = plan(warm_up_seed, warm_up_cases);
    let warm_up_tally = fuzz(&url, warm_up_seed, &warm_up_plan, args.concurrency).await;
    settle(&url).await?;
    let rss_before = Snapshot::take(pid).server_rss_kib;
    println!(
        "warmed up ({} connections, {} cases); server RSS {rss_before:?} KiB",
        args.warm_up, warm_up_cases
    );

    let plan = plan(seed, args.cases);
    let fuzzing = Instant::now();
    let tally = fuzz(&url, seed, &plan, args.concurrency).await;
    let fuzz_seconds = fuzzing.elapsed().as_secs_f64();

    settle(&url).await?;
    let rss_after = Snapshot::take(pid).server_rss_kib;
    let healthy = healthy.finish().await?;
    let fresh_client_chats = match chats(&url, None).await {
        Ok(()) => true,
        Err(error) => {
            eprintln!("a fresh client could not chat: {error:#}");
            false
        }
    };
    let duration = started.elapsed().as_secs_f64();

    let mut failures = Vec::new();
    let (mut crashes, mut panics, mut exit_code) = (0, Vec::new(), None);
    if let Some(mut running) = server.take() {
        if !running.running() {
            crashes += 1;
            failures.push("the server exited during the run".to_owned());
        }
        panics = running.panics();
        crashes += panics.len();
        exit_code = Some(running.stop().await);
    }
    for line in &panics {
        failures.push(format!("the server panicked: {line}"));
    }
    match exit_code {
        Some(Ok(0)) | None => {}
        Some(Ok(code)) => failures.push(format!("the server exited with {code} on SIGTERM")),
        Some(Err(error)) => failures.push(format!("no graceful shutdown: {error:#}")),
    }
    for (round, tally) in [("warm-up", &warm_up_tally), ("run", &tally)] {
        let hung = tally.ends.get(End::Hung.label()).copied().unwrap_or(0);
        if hung > 0 {
            failures.push(format!(
                "{round}: {hung} connections hung: {:?}",
                tally.hung
            ));
        }
        if tally.error_count > 0 {
            failures.push(format!(
                "{round}: {} connections failed: {:?}",
                tally.error_count, tally.errors
            ));
        }
    }
    let hung = tally.ends.get(End::Hung.label()).copied().unwrap_or(0);
    if !healthy.complete() {
        failures.push(format!("the healthy client missed messages: {healthy:?}"));
    }
    if !fresh_client_chats {
        failures.push("a fresh client could not chat afterwards".to_owned());
    }
    let rss_change = match (rss_before, rss_after) {
        (Some(before), Some(after)) if before > 0 => {
            Some((after as f64 - before as f64) * 100.0 / before as f64)
        }
        _ => None,
    };
    if rss_change.is_some_and(|change| change > args.rss_tolerance) {
        failures.push(format!(
            "server RSS grew from {rss_before:?} to {rss_after:?} KiB, past {}%",
            args.rss_tolerance
        ));
    }

    let cases: usize = plan.iter().sum();
    println!(
        "chat-fuzz: seed {seed}, {cases} cases over {} connections, crashes {crashes}, hung {hung}, \
         RSS {} -> {} KiB ({}), healthy sent {} acked {} received {}, {duration:.1} s: {}",
        plan.len(),
        rss_before.map_or("?".into(), |kib| kib.to_string()),
        rss_after.map_or("?".into(), |kib| kib.to_string()),
        rss_change.map_or("not measured".into(), |change| format!("{change:+.1}%")),
        healthy.sent,
        healthy.acked,
        healthy.received,
        if failures.is_empty() { "ok" } else { "FAILED" },
    );
    println!(
        "{}",
        json!({
            "seed": seed,
            "cases": cases,
            "connections": plan.len(),
            "ends": tally.ends,
            "kinds": tally.kinds,
            "errors": tally.error_count,
            "unanswered_truncated_bodies": wire::unanswered_bodies(),
            "crashes": crashes,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "rss_change_pct": rss_change,
            "healthy": healthy,
            "fresh_client_chats": fresh_client_chats,
            "duration_s": duration,
            "fuzz_s": fuzz_seconds,
            "ok": failures.is_empty(),
        })
    );
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("chat-fuzz: {failure}");
        }
        eprintln!(
            "chat-fuzz: reproduce with --seed {seed} --cases {}",
            args.cases
        );
        std::process::exit(1);
    }
    Ok(())
}

/// The cases of each connection, in order: 1 to 8 each (the first draw of the connection's own
/// generator), the last one cut to make `cases` in all.
fn plan(seed: u64, cases: usize) -> Vec<usize> {
    let mut plan = Vec::new();
    let mut left = cases;
    let mut connection = 0;
    while left > 0 {
        let count = cases::cases_in(&mut Rng::for_connection(seed, connection)).min(left);
        plan.push(count);
        left -= count;
        connection += 1;
    }
    plan
}

/// The loopback address connection `index` comes from: spread over 127.0.0.2-254, so that the
/// server's per-address connection budgets (left at their defaults) allow the fuzzer's pace,
/// while the healthy client has 127.0.0.1 to itself.
fn source(index: usize) -> Ipv4Addr {
    let last = 2 + index % 253;
    Ipv4Addr::new(127, 0, 0, u8::try_from(last).expect("at most 254"))
}

/// What the fuzzing connections came to.
#[derive(Default)]
struct Tally {
    /// Connections by how they ended.
    ends: BTreeMap<&'static str, u64>,
    /// Cases sent, by kind.
    kinds: BTreeMap<&'static str, u64>,
    /// Connections that hung: their index and the kinds of their cases.
    hung: Vec<(usize, Vec<&'static str>)>,
    /// Connections that failed otherwise (the first few), and how many did.
    errors: Vec<String>,
    error_count: usize,
}

/// Errors and hung connections kept for the report; the rest are only counted.
const KEPT: usize = 10;

/// Runs the planned connections, `concurrency` at a time.
async fn fuzz(url: &str, seed: u64, plan: &[usize], concurrency: usize) -> Tally {
    let plan = Arc::new(plan.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (url, plan, next, tally) = (url.to_owned(), plan.clone(), next.clone(), tally.clone());
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&count) = plan.get(index) else { break };
                let mut rng = Rng::for_connection(seed, index as u64);
                cases::cases_in(&mut rng);
                let script = cases::script(&mut rng, count);
                let end = wire::run(&url, source(index), &script).await;
                let mut tally = tally.lock().expect("not poisoned");
                for kind in script.kinds() {
                    *tally.kinds.entry(kind).or_default() += 1;
                }
                match end {
                    Ok(end) => {
                        *tally.ends.entry(end.label()).or_default() += 1;
                        if end == End::Hung && tally.hung.len() < KEPT {
                            tally.hung.push((index, script.kinds().collect()));
                        }
                    }
                    Err(error) => {
                        tally.error_count += 1;
                        if tally.errors.len() < KEPT {
                            tally.errors.push(format!("connection {index}: {error:#}"));
                        }
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    Arc::try_unwrap(tally)
        .ok()
        .expect("workers done")
        .into_inner()
        .expect("not poisoned")
}

/// Ordinary connections, 8 at a time, each chatting once: the memory a server holds after
/// normal use is the baseline, since a cold process has not grown its allocator's pools yet.
async fn warm_up(url: &str, connections: usize) -> Result<()> {
    let mut chatting = JoinSet::new();
    for index in 0..connections {
        if chatting.len() >= 8 {
            chatting
                .join_next()
                .await
                .context("a warm-up connection")???;
        }
        let url = url.to_owned();
        chatting.spawn(async move { chats(&url, Some(source(index))).await });
    }
    while let Some(done) = chatting.join_next().await {
        done??;
    }
    Ok(())
}

/// A new client connects (from `source`, if given), sends a message and has it acknowledged.
async fn chats(url: &str, source: Option<Ipv4Addr>) -> Result<()> {
    let (mut sink, mut stream) = client::handshake(url, source).await?;
    let packet = format!("421[\"{}\",\"still chatting\"]", ChatInput::NAME);
    sink.send(Message::text(packet)).await?;
    let ack = tokio::time::timeout(wire::PATIENCE, async {
        loop {
            let text = client::next_text(&mut stream).await?;
            if text.starts_with("431[") {
                return anyhow::Ok(text);
            }
        }
    })
    .await
    .context("no acknowledgement in time")??;
    if !ack.starts_with("431[{\"status\":\"ok\"") {
        bail!("the message was refused: {ack}");
    }
    sink.close().await?;
    // Read to the end, so the server sees the close answered.
    while stream.next().await.is_some() {}
    Ok(())
}

/// Waits until the server holds no connection but the healthy client's (its `/metrics` gauge;
/// a server without `/metrics` on this address is not waited for), then [`SETTLE`].
async fn settle(url: &str) -> Result<()> {
    let uri = url.parse()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = wire::http(&uri, Ipv4Addr::LOCALHOST, "GET /metrics HTTP/1.1", b"").await?;
        let Some(answer) = answer.filter(|answer| answer.status == 200) else {
            break;
        };
        let open: f64 = String::from_utf8_lossy(&answer.body)
            .lines()
            .filter(|line| line.starts_with("chat_connections{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if open <= 1.0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{open} connections still open a minute after the fuzzing connections closed");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(SETTLE).await;
    Ok(())
}
