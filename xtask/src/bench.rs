//! `cargo xtask bench`: the standard scenarios against the Rust server and the Node reference
//! (`bench/reference-node`), alternating A B A B on fresh processes, medians in a table.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
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

const SCENARIOS: &[Scenario] = &[
    Scenario {
        args: &[
            "--clients",
            "1000",
            "--senders",
            "1000",
            "--rate",
            "0",
            "--window",
            "2",
        ],
        heartbeat: None,
        node: true,
        figures: &[
            Figure(
                "saturated deliveries/s, 1,000 clients",
                "/delivered_per_s",
                "/s",
            ),
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
        args: &["--clients", "1000", "--senders", "1000", "--rate", "100"],
        heartbeat: None,
        node: true,
        figures: &[
            Figure(
                "p99 latency, 1,000 clients x 100 msg/s",
                "/latency_ms/p99",
                "ms",
            ),
            Figure("lost deliveries, 1,000 clients x 100 msg/s", "/lost", ""),
        ],
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
    // Storage without the fan-out: each sender alone in its room.
    Scenario {
        args: &[
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
        ],
        heartbeat: None,
        node: false,
        figures: &[
            Figure(
                "stored + acknowledged messages/s, 100 senders in 100 rooms",
                "/acked_per_s",
                "/s",
            ),
            Figure("ack p99, 100 senders in 100 rooms", "/ack_ms/p99", "ms"),
        ],
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

/// The two servers compared.
#[derive(Clone, Copy)]
enum Server {
    Rust,
    Node,
}

pub fn all(project: &Project, rounds: usize, seconds: f64) -> Result<()> {
    let bench = project.target.join("release/chat-bench");
    run(project
        .cargo()
        .args(["build", "--release", "--package", "bench"]))?;
    run(project.command("npm").args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--prefix",
        "bench/reference-node",
    ]))?;
    let duration = seconds.to_string();

    println!("| scenario | Node reference | this server | ratio |\n|---|---:|---:|---:|");
    for scenario in SCENARIOS {
        // reports[server][round]
        let mut reports = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (slot, server) in [(0, Server::Node), (1, Server::Rust)] {
                if matches!(server, Server::Node) && !scenario.node {
                    continue;
                }
                let mut process = start(project, server, scenario.heartbeat)?;
                let mut command = project.command(bench.to_str().context("path")?);
                command
                    .args([
                        "--url",
                        &process.url,
                        "--server-pid",
                        &process.child.id().to_string(),
                    ])
                    .args(["--duration", &duration])
                    .args(scenario.args);
                let report = last_json_line(&mut command);
                process.stop();
                let report = report?;
                eprintln!("{} {}: {report}", server.label(), scenario.args.join(" "));
                reports[slot].push(report);
            }
        }
        for Figure(name, pointer, unit) in scenario.figures {
            let [node, rust] = reports.each_ref().map(|runs| {
                median(
                    runs.iter()
                        .filter_map(|r| r.pointer(pointer)?.as_f64())
                        .collect(),
                )
            });
            let ratio = if node > 0.0 && rust.is_finite() {
                format!("{:.2}x", rust / node)
            } else {
                "-".to_owned()
            };
            let cell = |value: f64| {
                if value.is_nan() {
                    "n/a".to_owned()
                } else {
                    format!("{value:.1} {unit}")
                }
            };
            println!("| {name} | {} | {} | {ratio} |", cell(node), cell(rust));
        }
    }
    page_load(project, rounds)?;
    lighthouse(project)
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
        }
    }
}

struct Process {
    child: Child,
    url: String,
    data_dir: Option<std::path::PathBuf>,
}

impl Process {
    fn stop(&mut self) {
        crate::signals::untrack(&self.child);
        // SIGTERM through kill(1): std only offers SIGKILL.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts a fresh server on a free loopback port and waits until it listens.
fn start(project: &Project, server: Server, heartbeat: Option<(u64, u64)>) -> Result<Process> {
    if let Some(signal) = crate::signals::received() {
        bail!("stopped by signal {signal}");
    }
    let (mut command, data_dir) = match server {
        Server::Rust => {
            let dir = std::env::temp_dir().join(format!("chat-bench-{}", std::process::id()));
            let mut command = Command::new(project.server_binary());
            command
                .args(["--bind", "127.0.0.1:0", "--data-dir"])
                .arg(&dir)
                // Saturating senders go far past a person's pace; the per-connection limit
                // would refuse most of their messages instead of measuring the server.
                .args(["--rate-per-second", "1000000", "--rate-burst", "1000000"])
                // Every generated client comes from 127.0.0.1, up to 10,000 of them.
                .args(["--max-connections-per-ip", "0"])
                .env("RUST_LOG", "warn,server=info");
            if let Some((interval, timeout)) = heartbeat {
                command.args(["--ping-interval", &interval.to_string()]);
                command.args(["--ping-timeout", &timeout.to_string()]);
            }
            (command, Some(dir))
        }
        Server::Node => {
            let mut command = project.command("node");
            command
                .arg("bench/reference-node/server.js")
                .env("PORT", "0");
            if let Some((interval, timeout)) = heartbeat {
                command.env("PING_INTERVAL_MS", (interval * 1000).to_string());
                command.env("PING_TIMEOUT_MS", (timeout * 1000).to_string());
            }
            (command, None)
        }
    };
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
        if let Some(at) = line?.split("listening on ").nth(1) {
            break at.split_whitespace().next().unwrap_or_default().to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Process {
        child,
        url,
        data_dir,
    })
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
