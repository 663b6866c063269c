//! The chat server as a library: `run` serves the embedded UI, Socket.io and the server
//! functions on a bound listener.
//!
//! `main` and the integration tests both call [`run`], so what is tested is what ships.

mod assets;
mod backend;
mod chat;
mod edge;
mod error;
mod files;
mod health;
mod memory;
mod redis;
mod serve;
/// Public for the search benchmark (`benches/search.rs`), which fills and times a store.
pub mod store;
mod supervise;
mod telemetry;
mod throttle;
mod transport;

use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};

use axum::{
    Router,
    routing::{MethodRouter, get, post},
};
use socketioxide::{
    ParserConfig, SocketIo, SocketIoBuilder, adapter::Adapter, handler::ConnectHandler,
    layer::SocketIoLayer,
};
use tokio::net::TcpListener;
use tower_layer::Layer;

pub use edge::parse_origin;
pub use serve::{ConnectionLimits, raise_open_file_limit};
use supervise::AbortOnDrop;
pub use transport::RateLimit;
use transport::{Heads, Intake, SharedBudget};

pub use chat::AccountPolicy;
use chat::{Chat, RoomLimits};
pub use shared::Registration;

/// Where the Redis of a cluster is, and the prefix of this chat's channels and keys in it.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub prefix: String,
}

/// Everything `run` needs besides the listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the SQLite database lives; created if missing. Unused with `database_url`.
    pub data_dir: PathBuf,
    /// A `postgres://` URL: the store several nodes share, instead of SQLite.
    pub database_url: Option<String>,
    /// The Redis that carries messages between nodes; `None` for a single node.
    pub redis: Option<RedisConfig>,
    /// Per-connection message budget.
    pub rate_limit: RateLimit,
    /// How often the server pings each client, and how long it waits for the answer. A client
    /// that stops answering (a closed laptop) is disconnected and leaves presence after
    /// `ping_interval + ping_timeout`.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Most `chatMessage`s handled at once; past it they are refused with `overloaded`.
    pub max_in_flight: usize,
    /// Most rooms on the server; creating more is refused with `too_many_rooms`.
    pub max_rooms: usize,
    /// Most rooms one user may be in besides the default room.
    pub max_rooms_per_user: usize,
    /// Deadlines and caps that keep idle or abusive connections from locking others out.
    pub connections: ConnectionLimits,
    /// Where to serve `/metrics` alone; `None` serves it beside everything else.
    pub metrics_bind: Option<SocketAddr>,
    /// Web page origins (`scheme://host[:port]`, lower case) that may use the chat besides the
    /// server's own.
    pub allowed_origins: Vec<String>,
    /// Registration, guests and session lifetime.
    pub accounts: AccountPolicy,
    /// The largest file an upload may be, in bytes; larger ones are refused (`file_too_large`,
    /// HTTP 413) while they are read.
    pub max_file_bytes: u64,
}

/// The default of [`Config::max_file_bytes`]: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

impl Config {
    /// The defaults, with the database in `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            database_url: None,
            redis: None,
            rate_limit: RateLimit::default(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_in_flight: 4096,
            max_rooms: 1_000,
            max_rooms_per_user: 100,
            connections: ConnectionLimits::default(),
            metrics_bind: None,
            allowed_origins: Vec::new(),
            accounts: AccountPolicy::default(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Serves until `shutdown` resolves, then disconnects every socket, drains HTTP connections and
/// closes the store.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = match config.metrics_bind {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for metrics"))?,
        ),
        None => None,
    };
    let store = store::open(config.database_url.as_deref(), &config.data_dir).await?;
    let board: Option<Arc<dyn chat::Board>> = match &config.redis {
        Some(redis) => {
            let connection = redis::connect(&redis.url).await?;
            let board = redis::RedisBoard::new(connection, &redis.prefix)
                .await
                .map_err(|error| anyhow::anyhow!("cannot register with Redis: {error}"))?;
            Some(Arc::new(board))
        }
        None => None,
    };
    let chat = Chat::new(
        store.clone(),
        RoomLimits {
            rooms: config.max_rooms,
            per_user: config.max_rooms_per_user,
        },
        board,
        config.accounts.clone(),
    )
    .await?;
    let parts = Parts {
        chat,
        shared_budget: Arc::new(SharedBudget::new(config.connections.max_per_ip.is_some())),
        heads: Arc::default(),
        store: store.clone(),
        metrics,
    };
    let builder = socket_io(&config, &parts);
    let served = match &config.redis {
        None => {
            let (layer, io) = builder.build_layer();
            io.ns("/", transport::on_connect.with(transport::authenticate));
            serve_chat(listener, &config, parts, layer, io, None, shutdown).await
        }
        Some(redis) => {
            let driver = redis::driver(&redis.url).await?;
            let link = Some(driver.link());
            let (layer, io) = builder
                .with_adapter::<redis::ManagedAdapter<_>>(redis::adapter(driver, &redis.prefix))
                .build_layer();
            io.ns("/", transport::on_connect.with(transport::authenticate))
                .await
                .context("cannot subscribe to Redis")?;
            serve_chat(listener, &config, parts, layer, io, link, shutdown).await
        }
    };
    store.close().await;
    tracing::info!("server stopped");
    served
}

/// How long a stopping node spends on its presence (the task's last round, telling the other
/// nodes), so that closing the sockets still fits in `--shutdown-timeout`.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the socket handlers and the HTTP routes share.
struct Parts {
    chat: Chat,
    shared_budget: Arc<SharedBudget>,
    heads: Arc<Heads>,
    /// For readiness.
    store: Arc<dyn store::Store>,
    /// The listener of `--metrics-bind`, if given.
    metrics: Option<TcpListener>,
}

/// The Socket.io server's settings and the handlers' state, before an adapter is chosen.
fn socket_io(config: &Config, parts: &Parts) -> SocketIoBuilder {
    SocketIo::builder()
        .max_payload(shared::MAX_PACKET_BYTES)
        .ws_max_message_size(shared::MAX_PACKET_BYTES as usize)
        // The WebSocket read buffer is per connection; chat packets are small, and a larger one
        // grows on demand.
        .ws_read_buffer_size(512)
        // Packets queued per socket before a send to it fails. The default (128) overflows when
        // a busy room's messages arrive in bursts faster than one client reads; the queue only
        // takes memory while it is in use.
        .max_buffer_size(1024)
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        // The chat sends no binary data, and the parser buffers a binary packet's attachments
        // (up to 10 MB per socket by default, memory the allocator kept after the sockets
        // closed): a socket that announces an attachment is disconnected instead.
        .with_parser(
            ParserConfig::common()
                .max_incoming_binaries(0)
                .max_incoming_binary_buf_size(0),
        )
        // A client that opens Engine.IO but never joins the namespace holds a socket too.
        .connect_timeout(config.connections.handshake_timeout)
        .with_state(parts.chat.clone())
        .with_state(config.rate_limit)
        .with_state(Arc::new(Intake::new(config.max_in_flight)))
        .with_state(parts.shared_budget.clone())
        .with_state(parts.heads.clone())
}

/// Serves the chat with Socket.io on adapter `A` (this node alone, or Redis, whose `link` tells
/// whether it is up and when this node may have missed broadcasts) until `shutdown`.
async fn serve_chat<A: Adapter>(
    listener: TcpListener,
    config: &Config,
    parts: Parts,
    socket_layer: SocketIoLayer<A>,
    io: SocketIo<A>,
    link: Option<redis::Link>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Parts {
        chat,
        shared_budget,
        heads,
        store,
        metrics,
    } = parts;
    let readiness = health::Readiness {
        store,
        redis: link.as_ref().map(|link| link.connected.clone()),
    };
    // The layer is applied once, by hand: `Router::layer` would call it once per endpoint, and
    // each call builds a separate Engine.IO server that does not know the others' sessions.
    let socket_io = socket_layer.layer(Router::new().fallback(assets::serve));
    // socketioxide answers every path under /socket.io/, so the client script is routed in front.
    let backend_chat: Arc<dyn api::Backend> = Arc::new(backend::Api {
        chat: chat.clone(),
        io: io.clone(),
    });
    let backend_budget = shared_budget.clone();
    let file_routes = files::routes(files::Files::new(
        chat.clone(),
        shared_budget.clone(),
        config.max_file_bytes,
    ));
    let metrics_route = Router::new().route(METRICS_PATH, metrics_endpoint(&io, &chat));
    let (public_metrics, metrics_server) = match metrics {
        None => (metrics_route, None),
        Some(listener) => {
            tracing::info!("metrics on http://{}{METRICS_PATH}", listener.local_addr()?);
            let served = axum::serve(listener, metrics_route).into_future();
            (Router::new(), Some(AbortOnDrop(tokio::spawn(served))))
        }
    };
    let upkeep = AbortOnDrop(tokio::spawn(telemetry::upkeep()));
    let app = Router::new()
        .route(assets::SOCKET_IO_CLIENT_PATH, get(assets::serve))
        .route("/healthz", get(health::healthz))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { readiness.check().await }
            }),
        )
        .route(
            backend::ROUTE,
            post(move |request| {
                backend::handle(backend_chat.clone(), backend_budget.clone(), request)
            }),
        )
        .merge(public_metrics)
        .merge(file_routes)
        .fallback_service(socket_io)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(edge::AllowedOrigins::new(config.allowed_origins.clone())),
            edge::check_origin,
        ))
        .layer(axum::middleware::from_fn(edge::security_headers))
        .layer(axum::middleware::from_fn(memory::detach_request_parts));

    let (stop_presence, presence_stopped) = tokio::sync::watch::channel(false);
    let mut presence = tokio::spawn(transport::announce_presence(
        io.clone(),
        chat.clone(),
        shared_budget,
        heads,
        link.map(|link| link.reconnections),
        presence_stopped,
    ));

    let addr = listener.local_addr()?;
    let store = if config.database_url.is_some() {
        "PostgreSQL".to_owned()
    } else {
        format!("SQLite in {}", config.data_dir.display())
    };
    let fan_out = if config.redis.is_some() {
        "Redis"
    } else {
        "this node only"
    };
    tracing::info!("chat listening on http://{addr} (store: {store}; fan-out: {fan_out})");
    serve::serve(listener, app, &config.connections, shutdown, async move {
        stop_presence.send_replace(true);
        if tokio::time::timeout(LEAVE_TIMEOUT, &mut presence)
            .await
            .is_err()
        {
            tracing::warn!("the presence task did not stop in time");
            presence.abort();
        }
        // In a cluster, the others are told that this node's users left (those who reconnect
        // elsewhere come back at once), while the adapter can still reach them; with Redis away
        // this is given up after a moment, and the others take the node over.
        let leave = async { transport::announce(&io, chat.presence_leave().await).await };
        if tokio::time::timeout(LEAVE_TIMEOUT, leave).await.is_err() {
            tracing::warn!("could not tell the other nodes in time that this one stops");
        }
        io.close().await;
    })
    .await;
    drop((metrics_server, upkeep));
    Ok(())
}

/// Where the metrics are served.
const METRICS_PATH: &str = "/metrics";

/// `GET /metrics`: what was recorded, with this node's connections and presence measured now.
fn metrics_endpoint<A: Adapter>(io: &SocketIo<A>, chat: &Chat) -> MethodRouter {
    let (io, chat) = (io.clone(), chat.clone());
    get(move || {
        transport::measure_connections(&io);
        telemetry::presence_rooms(chat.rooms_online());
        let body = telemetry::render();
        async move {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                body,
            )
        }
    })
}

/// `chat backup FILE`: a consistent copy of the SQLite database of `config.data_dir`, made while
/// a server may be writing to it. Refuses to overwrite `file`, and a PostgreSQL configuration
/// (`pg_dump` does that job). Returns the path of the database copied.
/// `chat reset-password USERNAME`: a new password for the account, all its sessions ended (its
/// open sockets stay until they reconnect). Works on the store directly, whether or not the
/// server runs. Returns how many sessions ended.
pub async fn reset_password(
    config: &Config,
    username: &str,
    password: &str,
) -> anyhow::Result<usize> {
    let store = store::open(config.database_url.as_deref(), &config.data_dir).await?;
    let reset = chat::reset_password(&*store, username, password).await;
    store.close().await;
    reset.map_err(|error| match error {
        chat::ChatError::UserNotFound => anyhow::anyhow!("no account has the username {username}"),
        error => anyhow::anyhow!("{error}"),
    })
}

pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<PathBuf> {
    if config.database_url.is_some() {
        bail!(
            "`chat backup` copies the SQLite database; with --database-url, back up PostgreSQL \
             with pg_dump (see docs/OPERATIONS.md)"
        );
    }
    if std::fs::exists(file)
        .with_context(|| format!("cannot tell whether {} exists", file.display()))?
    {
        bail!(
            "{} already exists; give the name of a new file",
            file.display()
        );
    }
    store::sqlite::backup(&config.data_dir, file).await
}
