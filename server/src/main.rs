//! The `chat` binary: read the configuration, set up logging, then serve (bind, and hand over to
//! the library) or run a subcommand (`backup`).

use std::{
    io::IsTerminal,
    net::{IpAddr, SocketAddr},
    num::{NonZeroU32, NonZeroUsize},
    path::PathBuf,
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tracing::{Level, Metadata};
use tracing_subscriber::{
    EnvFilter, Layer, filter::filter_fn, layer::SubscriberExt, util::SubscriberInitExt,
};

/// Self-hosted real-time chat: one binary serving the web UI and Socket.io.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Without a subcommand, the server runs.
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on. Use 0.0.0.0:4000 to accept connections from other machines.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:4000")]
    bind: SocketAddr,

    /// Directory for the database (created if missing).
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,

    /// A `postgres://` URL: store everything in PostgreSQL, shared by several nodes, instead of
    /// SQLite in --data-dir. Migrations run at start-up.
    #[arg(long, env = "CHAT_DATABASE_URL", global = true)]
    database_url: Option<String>,

    /// A `redis://` URL: carry messages, presence and typing between the nodes of a cluster
    /// through Redis (every node of one chat gives the same URL and prefix).
    #[arg(long, env = "CHAT_REDIS_URL")]
    redis_url: Option<String>,

    /// Prefix of every Redis channel and key of this chat, so that several chats (or test runs)
    /// can share one Redis.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat")]
    redis_prefix: String,

    /// Messages per second each connection may send, sustained.
    #[arg(long, env = "CHAT_RATE_PER_SECOND", default_value_t = 10.0)]
    rate_per_second: f64,

    /// Messages each connection may send in a burst.
    #[arg(long, env = "CHAT_RATE_BURST", default_value_t = 20.0)]
    rate_burst: f64,

    /// Seconds between heartbeats. A client that does not answer one within --ping-timeout, or
    /// whose send queue is still full when the next one is due, is disconnected.
    #[arg(long, env = "CHAT_PING_INTERVAL", default_value_t = 25)]
    ping_interval: u64,

    /// Seconds a client has to answer a heartbeat.
    #[arg(long, env = "CHAT_PING_TIMEOUT", default_value_t = 20)]
    ping_timeout: u64,

    /// Most rooms on the server; creating more is refused.
    #[arg(long, env = "CHAT_MAX_ROOMS", default_value_t = 1_000)]
    max_rooms: usize,

    /// Most rooms one user may join (besides #general).
    #[arg(long, env = "CHAT_MAX_ROOMS_PER_USER", default_value_t = 100)]
    max_rooms_per_user: usize,

    /// Seconds a new connection has to send its request head (and a Socket.io session to join),
    /// after which it is closed.
    #[arg(long, env = "CHAT_HANDSHAKE_TIMEOUT", default_value_t = 10)]
    handshake_timeout: u64,

    /// Connections one IP address may hold open at once; 0 for no cap. Behind a reverse proxy
    /// all clients share its address: raise it or use 0 there.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    max_connections_per_ip: usize,

    /// Connections the server holds open at once, from everyone; 0 for no cap.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 100_000)]
    max_connections: usize,

    /// A web page origin (scheme://host[:port]) allowed to use the chat besides the server's own,
    /// e.g. http://127.0.0.1:8080 for `trunk serve`. Repeat the flag, or separate with commas in
    /// the environment variable.
    #[arg(long, env = "CHAT_ALLOWED_ORIGIN", value_delimiter = ',', value_parser = server::parse_origin)]
    allowed_origin: Vec<String>,

    /// The address of a reverse proxy whose X-Forwarded-For header names the client (its
    /// connections are not capped per address; the client's address counts instead). Repeat
    /// the flag, or separate with commas in the environment variable.
    #[arg(long, env = "CHAT_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<IpAddr>,

    /// Who may create an account once the first one (the admin) exists: open, invite (with the
    /// join link an admin gets) or closed. Replaces what an admin chose; if not given, the
    /// admin's choice stands (open until one is made).
    #[arg(long, env = "CHAT_REGISTRATION", value_parser = parse_registration)]
    registration: Option<server::Registration>,

    /// Whether people may chat without an account (as guests, like bare Socket.io clients):
    /// on or off. Off refuses connections without an account's session (`unauthorized`).
    #[arg(long, env = "CHAT_GUESTS", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    guests: bool,

    /// Accounts one address may create per hour (the whole hour's at once, then spread out);
    /// 0 for no limit. Behind a reverse proxy, set --trusted-proxy so the address is the
    /// client's.
    #[arg(long, env = "CHAT_REGISTRATIONS_PER_HOUR", default_value_t = 10)]
    registrations_per_hour: u32,

    /// Days a session (a logged-in browser) keeps working without being used; 0 for ever.
    #[arg(long, env = "CHAT_SESSION_DAYS", default_value_t = 30)]
    session_days: u64,

    /// The largest file people may attach, in bytes or with a unit: 10MiB, 512KiB, 2MB (KiB
    /// and MiB count 1,024s; kB and MB 1,000s; K and M are KiB and MiB, as in nginx). Larger
    /// uploads are refused while they are read. Behind nginx, `client_max_body_size` must be at
    /// least this.
    #[arg(long, env = "CHAT_MAX_FILE_SIZE", default_value = "10MiB", value_parser = parse_size)]
    max_file_size: u64,

    /// Seconds shutdown waits for open connections before closing them anyway.
    #[arg(long, env = "CHAT_SHUTDOWN_TIMEOUT", default_value_t = 5)]
    shutdown_timeout: u64,

    /// Serve /metrics (Prometheus) on this address only, instead of beside the chat: metrics
    /// should not be public.
    #[arg(long, env = "CHAT_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,

    /// How log lines are written: `text` for people, `json` (one object a line) for log
    /// shippers.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy the SQLite database of --data-dir to FILE, consistently, while the server runs.
    /// FILE must not exist. (For PostgreSQL, use pg_dump.)
    Backup { file: PathBuf },
    /// Give the account USERNAME a new password, read from the first line of standard input,
    /// and end all its sessions: the way back in for an admin who lost theirs.
    ResetPassword { username: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    init_logging(args.log_format);
    let command = args.command.take();
    let bind = args.bind;
    let config = config(args);
    match command {
        Some(Command::Backup { file }) => {
            let database = server::backup(&config, &file).await?;
            println!("{} copied to {}", database.display(), file.display());
            Ok(())
        }
        Some(Command::ResetPassword { username }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the new password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let ended = server::reset_password(&config, &username, password).await?;
            println!("new password set for {username}; {ended} session(s) ended");
            Ok(())
        }
        None => serve(bind, config).await,
    }
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines.with_filter(filter_fn(no_packet_dump)))
        .init();
}

/// The Socket.io, Engine.IO, WebSocket and HTTP libraries' debug and trace lines print raw
/// packets and frames: handshakes with their session token, welcomes with a new one, message
/// text. They are never written, whatever `RUST_LOG` asks for.
fn no_packet_dump(line: &Metadata<'_>) -> bool {
    const WIRE: [&str; 5] = [
        "socketioxide",
        "engineioxide",
        "tungstenite",
        "tokio_tungstenite",
        "hyper",
    ];
    let wire = WIRE
        .iter()
        .any(|library| line.target().starts_with(library));
    !wire || *line.level() <= Level::INFO
}

/// The server, until SIGINT or SIGTERM.
async fn serve(bind: SocketAddr, config: server::Config) -> anyhow::Result<()> {
    match server::raise_open_file_limit() {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }

    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    server::run(listener, config, shutdown)
        .await
        .context("server stopped with an error")
}

/// The library's configuration from the command line and environment.
fn config(args: Args) -> server::Config {
    server::Config {
        rate_limit: server::RateLimit {
            per_second: args.rate_per_second,
            burst: args.rate_burst,
        },
        ping_interval: Duration::from_secs(args.ping_interval),
        ping_timeout: Duration::from_secs(args.ping_timeout),
        database_url: args.database_url,
        redis: args.redis_url.map(|url| server::RedisConfig {
            url,
            prefix: args.redis_prefix,
        }),
        max_rooms: args.max_rooms,
        max_rooms_per_user: args.max_rooms_per_user,

        connections: server::ConnectionLimits {
            handshake_timeout: Duration::from_secs(args.handshake_timeout),
            max_per_ip: NonZeroUsize::new(args.max_connections_per_ip),
            max_connections: NonZeroUsize::new(args.max_connections),
            trusted_proxies: args
                .trusted_proxy
                .iter()
                .map(IpAddr::to_canonical)
                .collect(),
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        },
        metrics_bind: args.metrics_bind,
        max_file_bytes: args.max_file_size,
        allowed_origins: args.allowed_origin,
        accounts: server::AccountPolicy {
            registration: args.registration,
            guests: args.guests,
            session_lifetime: (args.session_days > 0)
                .then(|| Duration::from_secs(args.session_days * 24 * 60 * 60)),
            registrations_per_hour: NonZeroU32::new(args.registrations_per_hour),
        },
        ..server::Config::new(args.data_dir)
    }
}

fn parse_registration(mode: &str) -> Result<server::Registration, String> {
    server::Registration::parse(mode).ok_or_else(|| "one of open, invite, closed".to_owned())
}

/// A size: a whole number of bytes, or of a unit (`k`/`K`/`KiB` and `m`/`M`/`MiB` count 1,024s,
/// `kB` and `MB` 1,000s; case aside).
fn parse_size(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| "a whole number, with a unit if wanted: 10MiB, 512KiB, 2MB".to_owned())?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1024,
        "kb" => 1000,
        "m" | "mib" => 1024 * 1024,
        "mb" => 1_000_000,
        _ => return Err(format!("unknown unit {unit:?}: b, KiB, MiB, kB or MB")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| "too large".to_owned())
}

fn parse_on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("on or off".to_owned()),
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a SIGTERM that comes right after the server
/// says it listens must stop it gracefully, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            },
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot listen for signals; stop the server with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bytes_or_a_unit() {
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("10m"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        for bad in ["", "MiB", "1.5MiB", "10GiB", "-1", "99999999999999999999M"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
