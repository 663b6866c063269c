//! `chat-bench`: connects N Socket.io clients to a chat server on this machine, has S of them
//! send `chatMessage` (open loop at a total rate, or saturating with a window of unacknowledged
//! messages each), or a mix of messages, reactions, edits and replies (`--mix`), and reports
//! deliveries, loss, latency, connect times and CPU/memory.
//!
//! It only targets loopback addresses and always stops by itself. The last line it prints is
//! one JSON object with every figure.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::{sync::watch, task::JoinSet};

use bench::{
    client::{self, Client, Mixed, Role, Tally},
    ensure_loopback,
    mix::{Kind, Mix, RoomTargets},
    proc_stats::Snapshot,
};

#[derive(Debug, Parser)]
#[command(about = "Load generator for the chat (loopback only)")]
struct Args {
    /// Server to load; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:4000")]
    url: String,
    /// Connected clients (all in the default room, all receiving).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// How many of the clients send.
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Messages per second, all senders together (open loop). 0: saturate instead.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// When saturating: unacknowledged messages each sender keeps in flight.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Message text size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Most seconds to wait for deliveries after sending stops.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Connections opened at the same time while connecting.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// The server's process id, for its CPU time and memory (from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// How many of the receiving clients stall: they read nothing until sending stops, then
    /// report whether the server cut them off, and catch up with `sync` from what they got.
    #[arg(long, default_value_t = 0)]
    stalled: usize,
    /// Spread the clients over this many rooms (`bench-0`, `bench-1`, ...; client i in room
    /// i mod N), each message going to its sender's room only. 0: everyone in the default room.
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// Connect client i from 127.0.0.{1 + i mod N} instead of the address the system picks, so
    /// that a proxy which spreads clients by address (nginx's `hash $remote_addr`) spreads them
    /// over its nodes.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=254))]
    source_addresses: Option<u8>,
    /// After the run, read the room back with `sync` and check that every acknowledged
    /// message is stored.
    #[arg(long)]
    verify: bool,
    /// What senders send, as weights of `messages`, `reactions` (`react` with 👍 on a recent
    /// message of the room no one reacted to yet), `edits` (`editMessage` of the sender's newest
    /// message) and `replies` (a `chatMessage` answering the room's newest message), e.g.
    /// `messages=80,reactions=10,edits=5,replies=5`. Deliveries count every `chatMessage` and
    /// `messageChanged` received; a request with nothing to aim at yet is sent as a message.
    #[arg(long, default_value_t = Mix::MESSAGES)]
    mix: Mix,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure_loopback(&args.url)?;
    if args.verify && args.rooms > 0 {
        bail!("--verify reads back the default room only; leave out --rooms");
    }
    let epoch = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));
    let server = args.server_pid;
    let at_start = Snapshot::take(server);

    // Connect everyone, a bounded number at a time. Senders come first, stalled clients last.
    let mut connecting = JoinSet::new();
    let mut slots: Vec<Option<Client>> = (0..args.clients).map(|_| None).collect();
    let mut connect_times = client::micros_histogram();
    let senders = args.senders.min(args.clients);
    let stalled = args.stalled.min(args.clients - senders);
    let role = |index: usize| {
        if index >= args.clients - stalled {
            Role::Stalled
        } else {
            Role::Reader
        }
    };
    let source = |index: usize| {
        args.source_addresses.map(|count| {
            let last = 1 + index % usize::from(count);
            Ipv4Addr::new(127, 0, 0, u8::try_from(last).expect("at most 254"))
        })
    };
    let room = |index: usize| (args.rooms > 0).then(|| format!("bench-{}", index % args.rooms));
    // In a mix, what each room's clients share (only then, so plain runs do no more work).
    let mut targets: HashMap<Option<String>, Arc<RoomTargets>> = HashMap::new();
    let mut targets_of = |index: usize| {
        args.mix
            .is_mixed()
            .then(|| targets.entry(room(index)).or_default().clone())
    };
    for index in 0..args.clients {
        if connecting.len() >= args.connect_concurrency
            && let Some(done) = connecting.join_next().await
        {
            let (index, connected) = done?;
            let (client, took) = connected?;
            record(&mut connect_times, took);
            slots[index] = Some(client);
        }
        let (url, stopped, delivered) = (args.url.clone(), stopped.clone(), delivered.clone());
        let (role, room, targets) = (role(index), room(index), targets_of(index));
        let source = source(index);
        connecting.spawn(async move {
            let connected =
                client::connect(&url, source, role, room, targets, epoch, delivered, stopped).await;
            (index, connected)
        });
    }
    while let Some(done) = connecting.join_next().await {
        let (index, connected) = done?;
        let (client, took) = connected?;
        record(&mut connect_times, took);
        slots[index] = Some(client);
    }
    let clients: Vec<Client> = slots.into_iter().flatten().collect();
    // How many receive what a client sends: the readers in its room.
    let mut readers_in: HashMap<Option<String>, u64> = HashMap::new();
    for index in (0..args.clients).filter(|&index| role(index) == Role::Reader) {
        *readers_in.entry(room(index)).or_default() += 1;
    }
    let connected = Snapshot::take(server);
    let peak_rss = tokio::spawn(peak_rss_kib(server, stopped.clone()));

    // In a mix, what each sender aims its requests at; its first message is posted before the
    // run, so that its edits have something to edit from the start.
    let mixed: Vec<Option<Mixed>> = (0..senders)
        .map(|index| {
            targets_of(index).map(|targets| Mixed {
                epoch,
                room: room(index),
                size: args.size,
                targets,
                own_newest: clients[index].own_newest.clone(),
            })
        })
        .collect();
    let first_messages = post_first_messages(&clients, &mixed, &readers_in, &targets).await?;
    // CPU time counts from here: the first messages are no part of the run.
    let started = Snapshot::take(server);

    // Send.
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.duration);
    let mut sending = JoinSet::new();
    for ((index, client), mixed) in clients[..senders].iter().enumerate().zip(mixed) {
        let phase = index as f64 / senders as f64;
        let outbox = client.outbox.clone();
        let acks = client.acks.clone();
        let (rate, window, size) = (args.rate / senders as f64, args.window, args.size);
        let room = room(index);
        let receivers = readers_in.get(&room).copied().unwrap_or(0);
        let mut schedule = args.mix.schedule(index);
        let mut packet = move |sent| match &mixed {
            Some(mixed) => mixed.packet(schedule.next_kind(), sent),
            None => (
                client::chat_packet(epoch, room.as_deref(), size, sent),
                Kind::Message,
            ),
        };
        sending.spawn(async move {
            let mut sent = 0_u64;
            let mut by_kind = [0_u64; Kind::ALL.len()];
            if rate > 0.0 {
                // Open loop on a fixed schedule; senders start spread over one period, as
                // independent people would, instead of all at the same instant.
                let period = Duration::from_secs_f64(1.0 / rate);
                let start = tokio::time::Instant::now() + period.mul_f64(phase);
                let mut ticks = tokio::time::interval_at(start, period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                while tokio::time::timeout_at(deadline, ticks.tick())
                    .await
                    .is_ok()
                {
                    let (packet, kind) = packet(sent);
                    by_kind[kind.index()] += 1;
                    if outbox.send(packet).is_err() {
                        break;
                    }
                    sent += 1;
                }
            } else {
                acks.add_permits(window);
                while let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, acks.acquire()).await {
                    permit.forget();
                    let (packet, kind) = packet(sent);
                    by_kind[kind.index()] += 1;
                    if outbox.send(packet).is_err() {
                        break;
                    }
                    sent += 1;
                }
            }
            (sent, sent * receivers, by_kind)
        });
    }
    let (mut sent, mut expected, mut sent_by_kind) = (0, 0, [0; Kind::ALL.len()]);
    while let Some(done) = sending.join_next().await {
        let (by_one, deliveries, by_kind) = done?;
        sent += by_one;
        expected += deliveries;
        for (all, one) in sent_by_kind.iter_mut().zip(by_kind) {
            *all += one;
        }
    }
    let sending_ended = Snapshot::take(server);
    let send_seconds = args.duration;

    // Wait until every delivery arrived (or the drain time is up), then add everything up.
    let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send_replace(true);
    let mut tallies = Vec::with_capacity(clients.len());
    for client in clients {
        tallies.push(client.reader.await?);
    }
    // Sampled every 50 ms: a snapshot taken between two samples may be higher still.
    let peak_rss = peak_rss.await?.max(sending_ended.server_rss_kib);
    let checks = if args.verify {
        verify(&args.url, &tallies).await?
    } else {
        serde_json::Value::Null
    };
    report(
        &args,
        sent,
        sent_by_kind,
        first_messages,
        expected,
        send_seconds,
        &tallies,
        &connect_times,
        &at_start,
        &connected,
        &started,
        &sending_ended,
        peak_rss,
        checks,
    );
    Ok(())
}

/// How long the senders' first messages may take, with their deliveries.
const FIRST_MESSAGES_TIMEOUT: Duration = Duration::from_secs(30);

/// In a mix, posts each sender's first message (`mixed` holds them) and waits until every one
/// was acknowledged and delivered to its room; returns how many there were.
async fn post_first_messages(
    clients: &[Client],
    mixed: &[Option<Mixed>],
    readers_in: &HashMap<Option<String>, u64>,
    targets: &HashMap<Option<String>, Arc<RoomTargets>>,
) -> Result<u64> {
    let mut acked = JoinSet::new();
    let mut deliveries = 0;
    for (client, mixed) in clients.iter().zip(mixed) {
        let Some(mixed) = mixed else { continue };
        if client.outbox.send(mixed.first_packet()).is_err() {
            bail!("a sender's connection closed before the run");
        }
        deliveries += readers_in.get(&mixed.room).copied().unwrap_or(0);
        let acks = client.acks.clone();
        // Its acknowledgement's permit is taken, so a window of them starts empty.
        acked.spawn(async move { acks.acquire().await.map(|permit| permit.forget()) });
    }
    let posted = acked.len() as u64;
    let all_in = async {
        while let Some(done) = acked.join_next().await {
            done??;
        }
        while targets.values().map(|room| room.unstamped()).sum::<u64>() < deliveries {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::Ok(())
    };
    match tokio::time::timeout(FIRST_MESSAGES_TIMEOUT, all_in).await {
        Ok(done) => done.map(|()| posted),
        Err(_) => bail!("the senders' first messages were not all delivered within 30 s"),
    }
}

/// The server's largest resident size, sampled every 50 ms until `stop`.
async fn peak_rss_kib(server: Option<u32>, mut stop: watch::Receiver<bool>) -> Option<u64> {
    let mut peak = None;
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = ticks.tick() => peak = peak.max(Snapshot::take(server).server_rss_kib),
            _ = stop.wait_for(|stop| *stop) => return peak,
        }
    }
}

/// [`client::stored_after`], connecting again (as a client would) if the connection drops.
async fn read_back(url: &str, after_seq: u64) -> Result<Option<Vec<u64>>> {
    for _ in 0..3 {
        match client::stored_after(url, after_seq).await {
            Err(error) => eprintln!("read-back failed ({error}); connecting again"),
            done => return done,
        }
    }
    client::stored_after(url, after_seq).await
}

/// Reads the room back and checks every acknowledged message is in it; each stalled client
/// then catches up from the last message it holds without a gap, as the UI does.
async fn verify(url: &str, tallies: &[Tally]) -> Result<serde_json::Value> {
    let Some(stored) = read_back(url, 0).await? else {
        println!("the server does not answer `sync`: nothing to verify");
        return Ok(serde_json::Value::Null);
    };
    let stored_set: BTreeSet<u64> = stored.iter().copied().collect();
    let acked_not_stored = tallies
        .iter()
        .flat_map(|tally| &tally.acked_seqs)
        .filter(|seq| !stored_set.contains(seq))
        .count();
    let mut catching_up = JoinSet::new();
    let mut cut_off = 0;
    for tally in tallies {
        let Some(seen) = &tally.stalled_seen else {
            continue;
        };
        cut_off += usize::from(tally.cut_off);
        let seen: BTreeSet<u64> = seen.iter().copied().collect();
        // The cursor: the end of the run of sequence numbers without a gap.
        let cursor = (1..).find(|seq| !seen.contains(seq)).unwrap_or(1) - 1;
        let (url, stored_set) = (url.to_owned(), stored_set.clone());
        catching_up.spawn(async move {
            let synced = read_back(&url, cursor).await?.unwrap_or_default();
            let held: BTreeSet<u64> = seen.into_iter().chain(synced).collect();
            anyhow::Ok(held.is_superset(&stored_set))
        });
    }
    let mut caught_up = 0;
    while let Some(done) = catching_up.join_next().await {
        caught_up += usize::from(done??);
    }
    Ok(json!({
        "stored": stored.len(),
        "acked_not_stored": acked_not_stored,
        "stalled_cut_off": cut_off,
        "stalled_caught_up": caught_up,
    }))
}

fn record(histogram: &mut Histogram<u64>, took: Duration) {
    histogram.saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
}

#[allow(clippy::too_many_arguments, clippy::cast_precision_loss)]
fn report(
    args: &Args,
    sent: u64,
    sent_by_kind: [u64; Kind::ALL.len()],
    first_messages: u64,
    expected: u64,
    send_seconds: f64,
    tallies: &[Tally],
    connect_times: &Histogram<u64>,
    at_start: &Snapshot,
    connected: &Snapshot,
    started: &Snapshot,
    sending_ended: &Snapshot,
    peak_rss: Option<u64>,
    checks: serde_json::Value,
) {
    let mut latency = client::micros_histogram();
    let mut ack_latency = client::micros_histogram();
    let (mut received, mut acked, mut refused, mut untimed) = (0, 0_u64, 0, 0);
    let mut refused_codes = BTreeMap::<&str, u64>::new();
    let readers_cut_off = tallies
        .iter()
        .filter(|tally| tally.cut_off && tally.stalled_seen.is_none())
        .count();
    for tally in tallies {
        if let Some(histogram) = &tally.latency {
            latency.add(histogram).expect("same precision");
        }
        if let Some(histogram) = &tally.ack_latency {
            ack_latency.add(histogram).expect("same precision");
        }
        received += tally.delivered;
        untimed += tally.untimed;
        acked += tally.acked;
        refused += tally.refused;
        for (code, count) in &tally.refused_codes {
            *refused_codes.entry(code).or_default() += count;
        }
    }
    // The senders' first messages were acknowledged before the run.
    acked = acked.saturating_sub(first_messages);
    let ms = |micros: u64| micros as f64 / 1000.0;
    let server_cpu = sending_ended.server_cpu - started.server_cpu;
    let own_cpu = sending_ended.own_cpu - started.own_cpu;
    let idle_kib_per_conn = match (at_start.server_rss_kib, connected.server_rss_kib) {
        (Some(before), Some(after)) if args.clients > 0 => {
            Some((after as f64 - before as f64) / args.clients as f64)
        }
        _ => None,
    };
    let summary = json!({
        "clients": args.clients,
        "senders": args.senders,
        "rate": args.rate,
        "window": args.window,
        "size": args.size,
        "duration_s": send_seconds,
        "mix": args.mix.to_string(),
        "sent": sent,
        "sent_by_kind": Kind::ALL
            .into_iter()
            .map(|kind| (kind.name(), sent_by_kind[kind.index()]))
            .collect::<BTreeMap<_, _>>(),
        "acked": acked,
        "refused": refused,
        "refused_by_code": refused_codes,
        // Deliveries whose send time is unknown, left out of the latency figures.
        "untimed": untimed,
        "expected": expected,
        "received": received,
        "lost": expected.saturating_sub(received),
        "delivered_per_s": received as f64 / send_seconds,
        "acked_per_s": acked as f64 / send_seconds,
        // Only acknowledgements that echo the message can be timed.
        "ack_ms": (!ack_latency.is_empty()).then(|| json!({
            "p50": ms(ack_latency.value_at_quantile(0.5)),
            "p99": ms(ack_latency.value_at_quantile(0.99)),
        })),
        "latency_ms": {
            "p50": ms(latency.value_at_quantile(0.5)),
            "p90": ms(latency.value_at_quantile(0.9)),
            "p99": ms(latency.value_at_quantile(0.99)),
            "max": ms(latency.max()),
        },
        "connect_ms": {
            "p50": ms(connect_times.value_at_quantile(0.5)),
            "p99": ms(connect_times.value_at_quantile(0.99)),
        },
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_delivery": if received > 0 { server_cpu * 1e6 / received as f64 } else { 0.0 },
        "server_rss_kib": sending_ended.server_rss_kib,
        "server_peak_rss_kib": peak_rss,
        "stalled": args.stalled,
        // Clients that read everything as it came, yet were disconnected by the server.
        "readers_cut_off": readers_cut_off,
        "checks": checks,
        "idle_kib_per_connection": idle_kib_per_conn,
        "bench_cpu_s": own_cpu,
    });
    println!(
        "sent {sent} (acked {acked}, refused {refused}); deliveries expected {expected}, received {received}, lost {}",
        expected.saturating_sub(received)
    );
    println!(
        "delivered/s {:.0}; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}; connect ms p50 {:.2} p99 {:.2}",
        received as f64 / send_seconds,
        ms(latency.value_at_quantile(0.5)),
        ms(latency.value_at_quantile(0.9)),
        ms(latency.value_at_quantile(0.99)),
        ms(latency.max()),
        ms(connect_times.value_at_quantile(0.5)),
        ms(connect_times.value_at_quantile(0.99)),
    );
    println!(
        "server cpu {server_cpu:.2} s, rss {:?} KiB, idle {:?} KiB/connection; bench cpu {own_cpu:.2} s",
        sending_ended.server_rss_kib, idle_kib_per_conn
    );
    println!("{summary}");
}
