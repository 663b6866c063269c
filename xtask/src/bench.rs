//! `cargo xtask bench`: the standard scenarios against the Rust server and the Node reference
//! (`bench/reference-node`), alternating A B A B on fresh processes, medians in a table; then
//! the cluster table, one node on SQLite against one on PostgreSQL and a cluster behind nginx;
//! then messages alone against a mix of messages, reactions, edits and replies; then search over
//! a million messages in each store.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{Project, run};

/// One standard scenario: the load generator's arguments and the figures it is about.
struct Scenario {
    args: &'static [&'static str],
    /// The servers' heartbeat (seconds between pings, seconds to answer), where the default
    /// (25, 20) is longer than the run.
    heartbeat: Option<(u64, u64)>,
    /// Whether the Node reference can run it (it has no rooms).
    node: bool,
    figures: &'static [Figure],
}

/// A row of the table: its name, a JSON pointer into the generator's report, and the unit.
struct Figure(&'static str, &'static str, &'static str);

/// 1,000 clients, each sending as fast as its window of 2 unacknowledged messages allows.
const SATURATED: &[&str] = &[
    "--clients",
    "1000",
    "--senders",
    "1000",
    "--rate",
    "0",
    "--window",
    "2",
];
const SATURATED_DELIVERIES: Figure = Figure(
    "saturated deliveries/s, 1,000 clients",
    "/delivered_per_s",
    "/s",
);

/// 1,000 clients sending 100 messages/s in all, each delivered to all 1,000.
const LATENCY_1000: &[&str] = &["--clients", "1000", "--senders", "1000", "--rate", "100"];
const LATENCY_1000_P99: Figure = Figure(
    "p99 latency, 1,000 clients x 100 msg/s",
    "/latency_ms/p99",
    "ms",
);
const LATENCY_1000_LOST: Figure = Figure("lost deliveries, 1,000 clients x 100 msg/s", "/lost", "");

/// Storage without the fan-out: each of 100 senders alone in its room.
const STORED: &[&str] = &[
    "--clients",
    "100",
    "--senders",
    "100",
    "--rooms",
    "100",
    "--rate",
    "0",
    "--window",
    "2",
];
const STORED_PER_S: Figure = Figure(
    "stored + acknowledged messages/s, 100 senders in 100 rooms",
    "/acked_per_s",
    "/s",
);
const STORED_ACK_P99: Figure = Figure("ack p99, 100 senders in 100 rooms", "/ack_ms/p99", "ms");

const SCENARIOS: &[Scenario] = &[
    Scenario {
        args: SATURATED,
        heartbeat: None,
        node: true,
        figures: &[
            SATURATED_DELIVERIES,
            Figure(
                "server CPU per delivery, saturated",
                "/server_cpu_us_per_delivery",
                "us",
            ),
            Figure("server CPU seconds, saturated", "/server_cpu_s", "s"),
            Figure("load generator CPU seconds, saturated", "/bench_cpu_s", "s"),
        ],
    },
    Scenario {
        args: LATENCY_1000,
        heartbeat: None,
        node: true,
        figures: &[LATENCY_1000_P99, LATENCY_1000_LOST],
    },
    Scenario {
        args: &["--clients", "100", "--senders", "100", "--rate", "1000"],
        heartbeat: None,
        node: true,
        figures: &[
            Figure(
                "p99 latency, 100 clients x 1,000 msg/s",
                "/latency_ms/p99",
                "ms",
            ),
            Figure("lost deliveries, 100 clients x 1,000 msg/s", "/lost", ""),
        ],
    },
    Scenario {
        args: &[
            "--clients",
            "100",
            "--senders",
            "100",
            "--rate",
            "0",
            "--window",
            "2",
        ],
        heartbeat: None,
        node: true,
        figures: &[
            Figure(
                "acknowledged messages/s, 100 senders in one room of 100",
                "/acked_per_s",
                "/s",
            ),
            Figure(
                "ack p99, 100 senders in one room of 100",
                "/ack_ms/p99",
                "ms",
            ),
        ],
    },
    Scenario {
        args: STORED,
        heartbeat: None,
        node: false,
        figures: &[STORED_PER_S, STORED_ACK_P99],
    },
    // Connections arrive 8 at a time: with more at once, the figure measures the queue.
    Scenario {
        args: &[
            "--clients",
            "10000",
            "--senders",
            "0",
            "--drain",
            "0",
            "--connect-concurrency",
            "8",
        ],
        heartbeat: None,
        node: true,
        figures: &[
            Figure(
                "idle memory per connection, 10,000 clients",
                "/idle_kib_per_connection",
                "KiB",
            ),
            Figure(
                "connect p99, 10,000 clients (8 at a time)",
                "/connect_ms/p99",
                "ms",
            ),
        ],
    },
    // Overload: 100 senders at 20,000 messages/s in all, to 1,000 clients (20M deliveries/s
    // asked, about ten times what the server can fan out), 50 of which read nothing. With a
    // ping every 2 seconds the stalled clients' fate is decided within the run.
    Scenario {
        args: &[
            "--clients",
            "1000",
            "--senders",
            "100",
            "--rate",
            "20000",
            "--stalled",
            "50",
            "--verify",
        ],
        heartbeat: Some((2, 5)),
        node: true,
        figures: &[
            Figure("overload: server peak RSS", "/server_peak_rss_kib", "KiB"),
            Figure("overload: acknowledged messages/s", "/acked_per_s", "/s"),
            Figure(
                "overload: acknowledged but not stored",
                "/checks/acked_not_stored",
                "",
            ),
            Figure(
                "overload: reading clients cut off (of 950)",
                "/readers_cut_off",
                "",
            ),
            Figure(
                "overload: stalled clients cut off (of 50)",
                "/checks/stalled_cut_off",
                "",
            ),
            Figure(
                "overload: stalled clients caught up from storage (of 50)",
                "/checks/stalled_caught_up",
                "",
            ),
        ],
    },
];

/// The cluster table: what sharing the store and the fan-out costs, on scenarios of the first
/// table (one machine, so this is overhead, not scaling).
const CLUSTER_SCENARIOS: &[Scenario] = &[
    Scenario {
        args: SATURATED,
        heartbeat: None,
        node: false,
        figures: &[SATURATED_DELIVERIES],
    },
    Scenario {
        args: LATENCY_1000,
        heartbeat: None,
        node: false,
        figures: &[LATENCY_1000_P99, LATENCY_1000_LOST],
    },
    Scenario {
        args: STORED,
        heartbeat: None,
        node: false,
        figures: &[STORED_PER_S, STORED_ACK_P99],
    },
];

/// Issue 12's mix of what people do: messages, reactions, edits and replies (`chat-bench --mix`).
const MIX: &str = "messages=80,reactions=10,edits=5,replies=5";

/// [`SATURATED`], waiting up to 15 s after sending for what is still due: saturated by the
/// mix, the server takes up to about 10 s to answer what it was last sent, where messages alone
/// take about 2.
const SATURATED_DRAINED: &[&str] = &[
    "--clients",
    "1000",
    "--senders",
    "1000",
    "--rate",
    "0",
    "--window",
    "2",
    "--drain",
    "15",
];

/// The mix table: the load of two rows of the first table, messages alone against the mix.
const MIX_SCENARIOS: &[Scenario] = &[
    Scenario {
        args: SATURATED_DRAINED,
        heartbeat: None,
        node: false,
        figures: &[
            SATURATED_DELIVERIES,
            Figure(
                "requests acknowledged/s, saturated, 1,000 clients",
                "/acked_per_s",
                "/s",
            ),
            Figure(
                "server CPU per delivery, saturated",
                "/server_cpu_us_per_delivery",
                "us",
            ),
            Figure("refused requests, saturated", "/refused", ""),
            Figure("lost deliveries (none within 15 s), saturated", "/lost", ""),
        ],
    },
    Scenario {
        args: LATENCY_1000,
        heartbeat: None,
        node: false,
        figures: &[
            LATENCY_1000_P99,
            LATENCY_1000_LOST,
            Figure(
                "refused requests, 1,000 clients x 100 msg/s",
                "/refused",
                "",
            ),
        ],
    },
];

/// Nodes in the cluster column.
const CLUSTER_NODES: &str = "3";

/// Loopback addresses the generator's clients connect from in the cluster table, so that
/// nginx's `hash $remote_addr` spreads them over the nodes (about a third each).
const SOURCE_ADDRESSES: &str = "250";

/// What a run loads.
#[derive(Clone, Copy)]
enum Server {
    /// This server, storing in SQLite.
    Rust,
    /// The Node reference.
    Node,
    /// This server, storing in a fresh PostgreSQL database.
    Postgres,
    /// `CLUSTER_NODES` of this server on a fresh PostgreSQL database and Redis prefix, behind
    /// nginx (`e2e/cluster.mjs`).
    Cluster,
}

/// The tables `cargo xtask bench` prints.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Table {
    /// This server against the Node reference, with the first page's rows.
    Node,
    /// One node on SQLite, one on PostgreSQL, and a cluster behind nginx.
    Cluster,
    /// Messages alone against a mix of messages, reactions, edits and replies, on one node with
    /// SQLite.
    Mix,
    /// Search over a million messages, in SQLite and in PostgreSQL (`server/benches/search.rs`).
    Search,
}

/// Prints the tables (`only`: just that one), `rounds` runs per scenario and server.
pub fn all(project: &Project, only: Option<Table>, rounds: usize, seconds: f64) -> Result<()> {
    run(project
        .cargo()
        .args(["build", "--release", "--package", "bench"]))?;
    let runs = Runs {
        project,
        bench: project.target.join("release/chat-bench"),
        rounds,
        duration: seconds.to_string(),
    };
    if only.is_none_or(|table| table == Table::Node) {
        against_node(&runs)?;
    }
    if only.is_none_or(|table| table == Table::Cluster) {
        cluster(&runs)?;
    }
    if only.is_none_or(|table| table == Table::Mix) {
        mix(&runs)?;
    }
    if only.is_none_or(|table| table == Table::Search) {
        search(project)?;
    }
    Ok(())
}

/// The search tables: a million messages filled into SQLite, then into a fresh PostgreSQL
/// database on this machine, 500 searches timed in each (about a minute and three).
fn search(project: &Project) -> Result<()> {
    let postgres: &[&str] = &["--postgres", "postgres://postgres@127.0.0.1:5432/test"];
    for store in [&[][..], postgres] {
        run(project
            .cargo()
            .args(["bench", "--package", "server", "--bench", "search", "--"])
            .args(store))?;
    }
    Ok(())
}

/// The first table: the Node reference and this server, alternating, and the first page.
fn against_node(runs: &Runs) -> Result<()> {
    run(runs.project.command("npm").args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--prefix",
        "bench/reference-node",
    ]))?;
    println!("| scenario | Node reference | this server | ratio |\n|---|---:|---:|---:|");
    for scenario in SCENARIOS {
        let reports = runs.measure(scenario, &[Server::Node, Server::Rust], &[])?;
        for Figure(name, pointer, unit) in scenario.figures {
            let [node, rust] = [0, 1].map(|slot| median_of(&reports[slot], pointer));
            let ratio = if node > 0.0 && rust.is_finite() {
                format!("{:.2}x", rust / node)
            } else {
                "-".to_owned()
            };
            println!(
                "| {name} | {} | {} | {ratio} |",
                cell(node, unit),
                cell(rust, unit)
            );
        }
    }
    page_load(runs.project, runs.rounds)?;
    lighthouse(runs.project)
}

/// The cluster table: one node on SQLite, one on PostgreSQL, and the cluster, alternating. Every
/// client connects from one of `SOURCE_ADDRESSES` loopback addresses in all three columns. Needs
/// nginx, PostgreSQL and Redis on this machine (see `e2e/cluster.mjs`).
fn cluster(runs: &Runs) -> Result<()> {
    println!(
        "| scenario | 1 node, SQLite | 1 node, PostgreSQL | {CLUSTER_NODES} nodes, PostgreSQL + Redis, nginx |\n|---|---:|---:|---:|"
    );
    let servers = [Server::Rust, Server::Postgres, Server::Cluster];
    for scenario in CLUSTER_SCENARIOS {
        let reports = runs.measure(
            scenario,
            &servers,
            &["--source-addresses", SOURCE_ADDRESSES],
        )?;
        for Figure(name, pointer, unit) in scenario.figures {
            let cells = reports
                .iter()
                .map(|reports| cell(median_of(reports, pointer), unit))
                .collect::<Vec<_>>();
            println!("| {name} | {} |", cells.join(" | "));
        }
    }
    Ok(())
}

/// The mix table: this server on SQLite under the same clients and rate, sending messages alone
/// and then the mix, alternating on fresh processes; medians, and the mix's over messages
/// alone (issue 12 asks for it within 10%).
fn mix(runs: &Runs) -> Result<()> {
    println!("| scenario | messages alone | mix: {MIX} | ratio |\n|---|---:|---:|---:|");
    let variants: [(Server, &[&str]); 2] = [(Server::Rust, &[]), (Server::Rust, &["--mix", MIX])];
    for scenario in MIX_SCENARIOS {
        let reports = runs.measure_each(scenario, &variants)?;
        for Figure(name, pointer, unit) in scenario.figures {
            let [alone, mixed] = [0, 1].map(|slot| median_of(&reports[slot], pointer));
            let ratio = if alone > 0.0 && mixed.is_finite() {
                format!("{:.2}x", mixed / alone)
            } else {
                "-".to_owned()
            };
            println!(
                "| {name} | {} | {} | {ratio} |",
                cell(alone, unit),
                cell(mixed, unit)
            );
        }
    }
    Ok(())
}

/// What every run shares: the generator, the rounds and the seconds of load.
struct Runs<'a> {
    project: &'a Project,
    bench: PathBuf,
    rounds: usize,
    duration: String,
}

impl Runs<'_> {
    /// Runs `scenario` (plus `bench_args`) against each of `servers` in turn, `rounds` times, on
    /// fresh processes; the generator's reports, per server (none where the Node reference has
    /// no rooms).
    fn measure(
        &self,
        scenario: &Scenario,
        servers: &[Server],
        bench_args: &[&str],
    ) -> Result<Vec<Vec<Value>>> {
        let variants: Vec<(Server, &[&str])> =
            servers.iter().map(|&server| (server, bench_args)).collect();
        self.measure_each(scenario, &variants)
    }

    /// Runs `scenario` with each variant in turn (a server, and arguments for the generator),
    /// `rounds` times, on fresh processes; the generator's reports, per variant.
    fn measure_each(
        &self,
        scenario: &Scenario,
        variants: &[(Server, &[&str])],
    ) -> Result<Vec<Vec<Value>>> {
        let mut reports = vec![Vec::new(); variants.len()];
        for _ in 0..self.rounds {
            for (runs, &(server, bench_args)) in reports.iter_mut().zip(variants) {
                if matches!(server, Server::Node) && !scenario.node {
                    continue;
                }
                let mut process = start(self.project, server, scenario.heartbeat)?;
                let mut command = self.project.command(self.bench.to_str().context("path")?);
                command
                    .args(["--url", &process.url])
                    .args(["--duration", &self.duration])
                    .args(scenario.args)
                    .args(bench_args);
                if let Some(pid) = process.server_pid {
                    command.args(["--server-pid", &pid.to_string()]);
                }
                let report = last_json_line(&mut command);
                process.stop();
                let report = report?;
                eprintln!(
                    "{} {} {}: {report}",
                    server.label(),
                    scenario.args.join(" "),
                    bench_args.join(" ")
                );
                runs.push(report);
            }
        }
        Ok(reports)
    }
}

/// The median of one figure over the runs that have it; NaN if none does.
fn median_of(reports: &[Value], pointer: &str) -> f64 {
    median(
        reports
            .iter()
            .filter_map(|report| report.pointer(pointer)?.as_f64())
            .collect(),
    )
}

fn cell(value: f64, unit: &str) -> String {
    if value.is_nan() {
        "n/a".to_owned()
    } else {
        format!("{value:.1} {unit}")
    }
}

/// The chat's first page load in headless Chromium (`bench/page-load.mjs`); the Node reference
/// serves no UI to compare with.
fn page_load(project: &Project, runs: usize) -> Result<()> {
    let report = page_script(
        project,
        "bench/page-load.mjs",
        &["--runs", &runs.max(5).to_string()],
    )?;
    eprintln!("page load: {report}");
    let figure = |pointer| report.pointer(pointer).and_then(Value::as_f64);
    let (gzip, interactive, connected) = (
        figure("/gzip_bytes").context("gzip_bytes")?,
        figure("/interactive_ms").context("interactive_ms")?,
        figure("/connected_ms").context("connected_ms")?,
    );
    println!(
        "| first page, everything it fetches (gzip) | - | {:.1} KB | - |",
        gzip / 1000.0
    );
    println!(
        "| first page, time to interactive (headless Chromium) | - | {interactive:.0} ms | - |"
    );
    println!(
        "| first page, time to connected (returning visitor, empty cache) | - | {connected:.0} ms | - |"
    );
    Ok(())
}

/// Runs the Node script `script` (with `args`) against a release server of its own, and reads
/// the report it prints as JSON on its last line.
fn page_script(project: &Project, script: &str, args: &[&str]) -> Result<Value> {
    let mut process = start(project, Server::Rust, None)?;
    let report = last_json_line(
        project
            .command("node")
            .args([script, "--url", &process.url])
            .args(args),
    );
    process.stop();
    report
}

/// Lighthouse's category scores for the home page (`bench/lighthouse.mjs`), desktop and mobile
/// presets. A first visit shows the name picker, so that is the state audited. The script stops
/// itself after `LIGHTHOUSE_SECONDS`; the audits that cost points are on stderr.
fn lighthouse(project: &Project) -> Result<()> {
    const LIGHTHOUSE_SECONDS: &str = "180";
    const CATEGORIES: [&str; 4] = ["performance", "accessibility", "best-practices", "seo"];
    let report = page_script(
        project,
        "bench/lighthouse.mjs",
        &["--timeout", LIGHTHOUSE_SECONDS],
    )?;
    for preset in ["desktop", "mobile"] {
        let scores = CATEGORIES
            .iter()
            .map(|category| {
                report
                    .pointer(&format!("/{preset}/scores/{category}"))
                    .and_then(Value::as_u64)
                    .map(|score| score.to_string())
                    .with_context(|| format!("Lighthouse {preset} {category}"))
            })
            .collect::<Result<Vec<_>>>()?;
        println!(
            "| first page, Lighthouse {preset}: performance / accessibility / best practices / SEO | - | {} | - |",
            scores.join(" / ")
        );
    }
    Ok(())
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Node => "node",
            Self::Postgres => "rust-postgres",
            Self::Cluster => "cluster",
        }
    }
}

struct Process {
    child: Child,
    /// Where the generator connects: the server, or the cluster's nginx.
    url: String,
    /// The process whose CPU time and memory the generator reads; none for a cluster, which is
    /// several.
    server_pid: Option<u32>,
    data_dir: Option<PathBuf>,
    /// The database a PostgreSQL server stores in, dropped once the server has stopped.
    database: Option<Database>,
}

impl Process {
    fn stop(&mut self) {
        crate::signals::untrack(&self.child);
        // SIGTERM through kill(1): std only offers SIGKILL. A cluster's script stops its nodes
        // and nginx, and drops its database and Redis keys, before it exits.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        drop(self.database.take());
    }
}

/// Starts a fresh server (or cluster) on free loopback ports and waits until it listens.
fn start(project: &Project, server: Server, heartbeat: Option<(u64, u64)>) -> Result<Process> {
    if let Some(signal) = crate::signals::received() {
        bail!("stopped by signal {signal}");
    }
    // Saturating senders go far past a person's pace; the per-connection limit would refuse
    // most of their messages instead of measuring the server.
    let mut chat_args = vec!["--rate-per-second", "1000000", "--rate-burst", "1000000"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    if let Some((interval, timeout)) = heartbeat {
        chat_args.extend(["--ping-interval".to_owned(), interval.to_string()]);
        chat_args.extend(["--ping-timeout".to_owned(), timeout.to_string()]);
    }
    let (mut command, data_dir, database) = match server {
        Server::Rust | Server::Postgres => {
            let database = match server {
                Server::Postgres => Some(Database::create()?),
                _ => None,
            };
            let dir = std::env::temp_dir().join(format!("chat-bench-{}", std::process::id()));
            let mut command = Command::new(project.server_binary());
            command
                .args(["--bind", "127.0.0.1:0", "--data-dir"])
                .arg(&dir)
                .args(&chat_args)
                // Every generated client comes from loopback, up to 10,000 of them.
                .args(["--max-connections-per-ip", "0"])
                .env("RUST_LOG", "warn,server=info")
                .stderr(Stdio::null());
            if let Some(database) = &database {
                command.args(["--database-url", &database.url()]);
            }
            (command, Some(dir), database)
        }
        Server::Node => {
            let mut command = project.command("node");
            command
                .arg("bench/reference-node/server.js")
                .env("PORT", "0")
                .stderr(Stdio::null());
            if let Some((interval, timeout)) = heartbeat {
                command.env("PING_INTERVAL_MS", (interval * 1000).to_string());
                command.env("PING_TIMEOUT_MS", (timeout * 1000).to_string());
            }
            (command, None, None)
        }
        Server::Cluster => {
            // The script gives its nodes `--max-connections-per-ip 0` itself.
            let mut command = project.command("node");
            command
                .args(["e2e/cluster.mjs", "--json", "--nodes", CLUSTER_NODES, "--"])
                .args(&chat_args)
                .env("CHAT_BIN", project.server_binary())
                .stderr(Stdio::inherit());
            (command, None, None)
        }
    };
    let (child, url) = match server {
        Server::Cluster => launch(&mut command, cluster_ready)?,
        _ => launch(&mut command, listening_on)?,
    };
    Ok(Process {
        server_pid: (!matches!(server, Server::Cluster)).then(|| child.id()),
        child,
        url,
        data_dir,
        database,
    })
}

/// The URL in a server's `listening on <url>` line.
fn listening_on(line: &str) -> Option<String> {
    let at = line.split("listening on ").nth(1)?;
    Some(at.split_whitespace().next().unwrap_or_default().to_owned())
}

/// nginx's URL in `e2e/cluster.mjs --json`'s line, `{"url": nginx, "nodes": [...], "pids": [...]}`.
fn cluster_ready(line: &str) -> Option<String> {
    let ready: Value = serde_json::from_str(line).ok()?;
    Some(ready.get("url")?.as_str()?.to_owned())
}

/// Spawns `command`, passing xtask's signals on to it, and reads its stdout until `ready` finds
/// the URL to load in a line. The rest of its output is drained, so it never blocks on a full
/// pipe.
fn launch(command: &mut Command, ready: fn(&str) -> Option<String>) -> Result<(Child, String)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("start the server")?;
    // A signal to xtask stops the server too (`Process::stop` stops passing them on).
    crate::signals::track(&child);
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("the server exited before listening");
        };
        if let Some(url) = ready(&line?) {
            break url;
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, url))
}

/// A fresh database on this machine's PostgreSQL (127.0.0.1:5432, user postgres, trust
/// authentication, a database `test` to connect to), dropped when this is.
struct Database {
    name: String,
}

impl Database {
    fn create() -> Result<Self> {
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "chat_bench_{}_{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        );
        psql(&format!("CREATE DATABASE {name}"))?;
        Ok(Self { name })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = psql(&sql) {
            eprintln!("xtask: database {} left behind: {error:#}", self.name);
        }
    }
}

fn psql(sql: &str) -> Result<()> {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
        ])
        .args(["-U", "postgres", "-d", "test", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("run psql (is PostgreSQL's client installed?)")?;
    if !output.status.success() {
        bail!(
            "psql -c '{sql}' failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn last_json_line(command: &mut Command) -> Result<Value> {
    let output = command.stderr(Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().context("no report")?;
    serde_json::from_str(line).with_context(|| format!("not a report: {line}"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
