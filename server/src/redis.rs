//! Fan-out between the nodes of a cluster through Redis pub/sub: a socketioxide-redis [`Driver`]
//! on redis-rs's [`ConnectionManager`], which reconnects and subscribes again by itself when
//! Redis restarts.
//!
//! The crate's own driver keeps its first connection for the life of the process: after a Redis
//! restart every publish fails, and since a broadcast publishes before it delivers locally, even
//! this node's own clients get nothing until the process restarts. This one reconnects (waiting
//! at most [`MAX_RECONNECT_DELAY`] between attempts), subscribes again to the channels it had,
//! and keeps pinging while Redis is away so that a node with nothing to publish recovers too.
//! What is published while Redis is away is lost, as pub/sub keeps nothing: catch-up from the
//! store (`sync`) covers that gap.
//!
//! The Socket.io server is built with it like this; with a Redis adapter `io.ns` returns a future
//! that subscribes the namespace's channels, and the namespace exists only once it has run:
//!
//! ```ignore
//! let driver = redis::driver(&config.url).await?;
//! let (layer, io) = SocketIo::builder()
//!     .with_adapter::<redis::ManagedAdapter<_>>(redis::adapter(driver, &config.prefix))
//!     .build_layer();
//! io.ns("/", transport::on_connect.with(transport::authenticate)).await?;
//! ```

mod board;

pub use board::RedisBoard;

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use redis::{
    AsyncCommands, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisError, Value,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use socketioxide_redis::{
    CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr,
    drivers::{ChanItem, Driver, MessageStream},
};
use tokio::{
    sync::{
        mpsc::{self, error::TrySendError},
        watch,
    },
    time::MissedTickBehavior,
};

use crate::supervise::AbortOnDrop;

/// How long a node waits for the others' answers (`fetch_sockets`, `rooms`, acks across nodes).
/// They come in under a millisecond; a frozen node makes every such request wait this long, so
/// it stays far below the 10 s a client waits for an ack.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest pause between two attempts to reach Redis again.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// How often the driver's connection is checked while it has nothing else to send.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The Redis adapter of socketioxide on [`ManagedDriver`].
pub type ManagedAdapter<E> = CustomRedisAdapter<E, ManagedDriver>;

/// Each subscribed channel and the adapter stream its messages go to.
type Routes = RwLock<HashMap<String, mpsc::Sender<ChanItem>>>;

/// Pub/sub for socketioxide-redis over one connection to Redis that outlives Redis restarts.
/// Clones share the connection and the subscriptions.
#[derive(Clone)]
pub struct ManagedDriver {
    /// Publishes, subscriptions and `PUBSUB NUMSUB`; rebuilt after a drop, with its
    /// subscriptions.
    redis: ConnectionManager,
    /// Read by the connection's push sender, which has no other way to find a message's stream.
    routes: Arc<Routes>,
    /// The task that pings Redis; it ends with the last clone.
    _watch: Arc<AbortOnDrop<()>>,
    link: Link,
}

/// What the rest of the server learns about the driver's connection to Redis.
#[derive(Debug, Clone)]
pub struct Link {
    /// Changes each time the connection came back after a drop: what was published meanwhile
    /// never reached this node.
    pub reconnections: watch::Receiver<u64>,
    /// Whether Redis is reachable now: false from a drop or a failed ping until a ping answers.
    pub connected: watch::Receiver<bool>,
}

impl ManagedDriver {
    pub fn link(&self) -> Link {
        self.link.clone()
    }
}

/// Connects to Redis at `url` and returns the driver to give to [`adapter`]. The connection
/// speaks RESP3 whatever the URL's `protocol` (pushes need it), so `?protocol=resp3` is optional.
pub async fn driver(url: &str) -> anyhow::Result<ManagedDriver> {
    let routes = Arc::<Routes>::default();
    let pushes = routes.clone();
    let dropped = Arc::new(AtomicBool::new(false));
    let drops = dropped.clone();
    let (up, connected) = watch::channel(true);
    let up = Arc::new(up);
    let down = up.clone();
    let config = reconnecting()
        .set_push_sender(move |push: PushInfo| {
            // Either way this node may have missed messages: the watch then has every room's
            // head sent to its clients.
            let disconnected = push.kind == PushKind::Disconnection;
            if disconnected {
                down.send_replace(false);
            }
            if route(&pushes, push) || disconnected {
                drops.store(true, Ordering::Relaxed);
            }
            Ok::<(), Infallible>(())
        })
        .set_automatic_resubscription();
    let redis = client(url)?
        .get_connection_manager_with_config(config)
        .await
        .context("connecting to Redis")?;
    let (reconnected, reconnections) = watch::channel(0);
    let watch = AbortOnDrop(tokio::spawn(watch_connection(
        redis.clone(),
        dropped,
        reconnected,
        up,
    )));
    Ok(ManagedDriver {
        redis,
        routes,
        _watch: Arc::new(watch),
        link: Link {
            reconnections,
            connected,
        },
    })
}

/// The adapter's constructor for one chat: its channels are named `{prefix}-...`, so that
/// several chats (or test runs) can share one Redis, and remote answers are awaited at most
/// [`REQUEST_TIMEOUT`].
pub fn adapter(driver: ManagedDriver, prefix: &str) -> RedisAdapterCtr<ManagedDriver> {
    let config = RedisAdapterConfig::new()
        .with_prefix(prefix.to_owned())
        .with_request_timeout(REQUEST_TIMEOUT);
    RedisAdapterCtr::new_with_driver(driver, config)
}

/// A plain connection to Redis at `url` for commands (the presence keys), with the driver's
/// reconnection policy.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    client(url)?
        .get_connection_manager_with_config(reconnecting())
        .await
        .context("connecting to Redis")
}

/// A client for `url` that speaks RESP3. The URL is left out of errors: it may hold a password.
fn client(url: &str) -> anyhow::Result<redis::Client> {
    let info = url
        .into_connection_info()
        .context("reading the Redis URL")?;
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    Ok(redis::Client::open(info.set_redis_settings(resp3))?)
}

/// Reconnection after a drop: a round of a few attempts, at most [`MAX_RECONNECT_DELAY`] apart
/// (about 5 s in all while Redis refuses connections). Commands wait for the round and fail if it
/// does; such a failure starts the next round.
fn reconnecting() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new().set_max_delay(MAX_RECONNECT_DELAY)
}

/// Hands a message pushed by Redis to the stream of its channel. Runs on the connection's read
/// path, so it never waits: a stream that is full loses the message (and says so: true).
fn route(routes: &Routes, push: PushInfo) -> bool {
    // Subscription confirmations and disconnections are the manager's business.
    if push.kind != PushKind::Message {
        return false;
    }
    let Ok([Value::BulkString(channel), Value::BulkString(message)]) =
        <[Value; 2]>::try_from(push.data)
    else {
        crate::throttled!(warn, "a Redis message of an unexpected shape was dropped");
        return false;
    };
    let Ok(channel) = String::from_utf8(channel) else {
        crate::throttled!(
            warn,
            "a Redis message on a channel that is not UTF-8 was dropped"
        );
        return false;
    };
    let routes = routes.read().expect("routes lock");
    // A channel with no route was just unsubscribed: its last messages have nowhere to go.
    let Some(stream) = routes.get(&channel) else {
        return false;
    };
    match stream.try_send((channel, message)) {
        Ok(()) | Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full((channel, _))) => {
            crate::throttled!(warn, %channel, "the adapter is behind; a Redis message was dropped");
            true
        }
    }
}

/// Pings Redis every [`WATCH_INTERVAL`]. The manager starts reconnecting when the connection
/// drops, but gives up after a few attempts and starts again only when a command fails: without
/// this, a node whose users only listen would send nothing and stay unsubscribed for good once
/// Redis was away longer than those attempts. The first answer after a drop (`dropped`, set by
/// the connection's disconnection push or by a message lost to a full stream, or a failed ping)
/// counts as a reconnection: this node may have missed messages. `up` tells whether the last
/// ping answered (a drop sets it false at once).
async fn watch_connection(
    mut connection: ConnectionManager,
    dropped: Arc<AtomicBool>,
    reconnected: watch::Sender<u64>,
    up: Arc<watch::Sender<bool>>,
) {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut reachable = true;
    loop {
        ticks.tick().await;
        match redis::cmd("PING").query_async::<()>(&mut connection).await {
            Ok(()) if dropped.swap(false, Ordering::Relaxed) | !reachable => {
                reachable = true;
                up.send_replace(true);
                reconnected.send_modify(|n| *n += 1);
                tracing::info!("Redis is reachable again; fan-out between nodes resumes");
            }
            Err(error) if reachable => {
                reachable = false;
                up.send_replace(false);
                tracing::warn!(%error, "Redis is unreachable; no fan-out between nodes until it is back");
            }
            _ => {}
        }
    }
}

impl Driver for ManagedDriver {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), RedisError> {
        self.redis.clone().publish(chan, val).await
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, RedisError> {
        let (sender, receiver) = mpsc::channel(size);
        // The route exists before Redis confirms, so nothing published right after is missed.
        self.routes
            .write()
            .expect("routes lock")
            .insert(chan.clone(), sender);
        if let Err(error) = self.redis.clone().subscribe(&chan).await {
            self.routes.write().expect("routes lock").remove(&chan);
            return Err(error);
        }
        Ok(MessageStream::new(receiver))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), RedisError> {
        self.routes.write().expect("routes lock").remove(&chan);
        self.redis.clone().unsubscribe(&chan).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, RedisError> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(count)
    }
}

/// These need the Redis at [`URL`] (there on every development machine and in CI): they fail,
/// never skip, without it. Each test has its own channel prefix.
#[cfg(test)]
mod tests {
    use futures_util::{FutureExt, StreamExt};
    use rust_socketio::{Event, Payload, TransportType, asynchronous::ClientBuilder};
    use serde_json::{Value as Json, json};
    use socketioxide::{
        SocketIo,
        adapter::{Adapter, Emitter},
        extract::SocketRef,
        layer::SocketIoLayer,
    };
    use tokio::{net::TcpListener, time::timeout};
    use tower_layer::Layer;

    use super::*;

    const URL: &str = "redis://127.0.0.1:6379";

    /// How long any expected message may take before the test fails.
    const PATIENCE: Duration = Duration::from_secs(10);

    async fn redis_driver() -> ManagedDriver {
        driver(URL).await.unwrap_or_else(|error| {
            panic!("these tests need Redis at {URL} (is redis-server running?): {error:#}")
        })
    }

    fn unique_prefix() -> String {
        format!("chat-test-{}", uuid::Uuid::now_v7())
    }

    #[tokio::test]
    async fn a_message_published_by_one_driver_reaches_a_subscriber_of_another() {
        let (a, b) = (redis_driver().await, redis_driver().await);
        let channel = format!("{}-request#/#", unique_prefix());

        let mut messages = a.subscribe(channel.clone(), 8).await.expect("subscribe");
        assert_eq!(b.num_serv(&channel).await.expect("count"), 1);
        b.publish(channel.clone(), b"hello".to_vec())
            .await
            .expect("publish");
        let message = timeout(PATIENCE, messages.next())
            .await
            .expect("the message in time")
            .expect("the stream is open");
        assert_eq!(message, (channel.clone(), b"hello".to_vec()));

        a.unsubscribe(channel.clone()).await.expect("unsubscribe");
        assert_eq!(b.num_serv(&channel).await.expect("count"), 0);
        assert_eq!(messages.next().await, None, "the stream ends");
    }

    type Node = ManagedAdapter<Emitter>;

    /// Puts each socket in `room` and tells it so.
    async fn join_room<A: Adapter>(socket: SocketRef<A>) {
        socket.join("room");
        socket.emit("joined", &()).expect("emit joined");
    }

    /// A node of the chat `prefix`, with its namespace subscribed.
    async fn node(prefix: &str) -> (SocketIoLayer<Node>, SocketIo<Node>) {
        let (layer, io) = SocketIo::builder()
            .with_adapter::<Node>(adapter(redis_driver().await, prefix))
            .build_layer();
        io.ns("/", join_room)
            .await
            .expect("the namespace subscribes");
        (layer, io)
    }

    #[tokio::test]
    async fn a_broadcast_from_one_node_reaches_a_client_of_another() {
        let prefix = unique_prefix();
        let (_, io_a) = node(&prefix).await;
        let (layer_b, io_b) = node(&prefix).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new().fallback_service(layer_b.layer(axum::Router::new()));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let (events_tx, mut events) = mpsc::unbounded_channel();
        let client = ClientBuilder::new(url)
            .transport_type(TransportType::Websocket)
            .reconnect(false)
            .on_any(move |event, payload, _| {
                if let (Event::Custom(name), Payload::Text(values)) = (event, payload) {
                    events_tx
                        .send((name, values))
                        .expect("the test is listening");
                }
                async {}.boxed()
            })
            .connect()
            .await
            .expect("connect to node B");
        let mut next_event = async || {
            timeout(PATIENCE, events.recv())
                .await
                .expect("an event in time")
                .expect("the client is open")
        };
        assert_eq!(next_event().await.0, "joined");

        let in_room = io_a.within("room").fetch_sockets().await.expect("fetch");
        assert_eq!(in_room.len(), 1, "node A sees node B's socket");
        assert!(io_a.rooms().await.expect("rooms").contains(&"room".into()));
        io_a.to("room")
            .emit("hello", "from node A")
            .await
            .expect("broadcast");
        let hello: (String, Vec<Json>) = next_event().await;
        assert_eq!(hello, ("hello".to_owned(), vec![json!("from node A")]));

        client.disconnect().await.expect("disconnect");
        io_a.close().await;
        io_b.close().await;
        server.abort();
    }
}
