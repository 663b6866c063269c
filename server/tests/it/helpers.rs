//! `TestApp` starts the server exactly as `main` does; `TestClient` is a rust_socketio client
//! whose received events can be awaited in order.

use std::{path::PathBuf, time::Duration};

use futures_util::FutureExt;
use rust_socketio::{
    Event, Payload, TransportType,
    asynchronous::{Client, ClientBuilder},
};
use serde_json::{Value, json};
use server::{Config, RateLimit};
use shared::{Auth, ChatMessage, PresenceChange, Welcome};
use tokio::sync::{mpsc, oneshot};

use crate::raw::RawWebSocket;

/// How long any single expected event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub url: String,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A fresh data directory for one test, removed by [`TestApp::stop`].
pub fn temp_data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("chat-it-{}", uuid::Uuid::now_v7()))
}

impl TestApp {
    /// A server with its own empty data directory and the default settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(Config::new(temp_data_dir())).await
    }

    /// A server with its own empty data directory and the given rate limit.
    pub async fn spawn_limited(rate_limit: RateLimit) -> Self {
        Self::spawn_with(Config {
            rate_limit,
            ..Config::new(temp_data_dir())
        })
        .await
    }

    /// A server with `config` (its data directory may hold an earlier run's data).
    pub async fn spawn_with(config: Config) -> Self {
        let data_dir = config.data_dir.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(server::run(listener, config, async move {
            let _ = stop.await;
        }));
        Self {
            url,
            data_dir,
            shutdown: Some(shutdown),
            server,
        }
    }

    /// A guest client over WebSocket.
    pub async fn client(&self) -> TestClient {
        self.connect(TransportType::Websocket, json!(Auth::default()))
            .await
    }

    pub async fn client_over(&self, transport: TransportType) -> TestClient {
        self.connect(transport, json!(Auth::default())).await
    }

    /// A client that presents `auth` in the handshake.
    pub async fn client_as(&self, auth: Auth) -> TestClient {
        self.connect(TransportType::Websocket, json!(auth)).await
    }

    /// Another connection of the session `token` (the same user, in the same rooms).
    pub async fn client_with_token(&self, token: &str) -> TestClient {
        self.client_as(Auth {
            token: Some(token.to_owned()),
            name: None,
        })
        .await
    }

    /// A client that presents `auth`, written as the JSON that goes over the wire (`{}`,
    /// `{ "name" }` or `{ "token" }`).
    pub async fn client_with(&self, auth: Value) -> TestClient {
        self.connect(TransportType::Websocket, auth).await
    }

    /// The `history` server function, over HTTP as the UI calls it.
    pub async fn history(&self, token: &str, room: &str, before: Option<i64>) -> Vec<ChatMessage> {
        let mut form = format!("token={token}&room={room}&limit=100");
        if let Some(before) = before {
            form.push_str(&format!("&before={before}"));
        }
        let (status, page) = self.call_raw("history", form).await;
        assert_eq!(status, 200, "history: {page}");
        serde_json::from_value(page).expect("a history page")
    }

    /// POSTs the form `fields` to the server function `/api/<function>`: the status and the
    /// JSON body (`null` if there is none).
    pub async fn call(&self, function: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let body: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{name}={}", form_encode(value)))
            .collect();
        self.call_raw(function, body.join("&")).await
    }

    /// [`Self::call`] with a body as it goes on the wire.
    pub async fn call_raw(&self, function: &str, body: String) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/{function}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A connected client that has received its welcome, so the server knows it.
    async fn connect(&self, transport: TransportType, auth: Value) -> TestClient {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let socket = ClientBuilder::new(self.url.clone())
            .auth(auth)
            .transport_type(transport)
            .reconnect(false)
            .on_any(move |event, payload, _| {
                let name = match event {
                    Event::Custom(name) => name,
                    other => other.as_str().to_owned(),
                };
                let _ = events_tx.send((name, first_value(payload)));
                async {}.boxed()
            })
            .connect()
            .await
            .expect("connect");
        let welcome_json = next_event(&mut events, event::WELCOME).await;
        let welcome: Welcome =
            serde_json::from_value(welcome_json.clone()).expect("welcome payload");
        TestClient {
            socket,
            events,
            welcome,
            welcome_json,
        }
    }

    /// Stops the server gracefully, waits until it has, and deletes its data.
    pub async fn stop(self) {
        let data_dir = self.data_dir.clone();
        self.stop_keeping_data().await;
        std::fs::remove_dir_all(data_dir).expect("remove the test data");
    }

    /// Stops the server gracefully and waits until it has; the data stays for another run.
    pub async fn stop_keeping_data(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.server)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("server result");
    }
}

/// A test that failed before [`TestApp::stop`] still removes its data: the server task is
/// aborted (the runtime ends with the test anyway) and the directory deleted.
impl Drop for TestApp {
    fn drop(&mut self) {
        if self.shutdown.take().is_none() {
            return;
        }
        self.server.abort();
        if let Err(error) = std::fs::remove_dir_all(&self.data_dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("could not remove {}: {error}", self.data_dir.display());
        }
    }
}

/// The handshake `auth` of a new session with this display name (stored at once).
pub fn named(name: &str) -> Auth {
    Auth {
        token: None,
        name: Some(name.into()),
    }
}

/// Nothing of `secret` in anything `outsider` was sent, until it has been sent nothing for a
/// moment (what it could have been sent was sent before the requests that the test awaited).
pub async fn learned_nothing(outsider: &mut TestClient, secret: &str) {
    while let Some((name, payload)) = outsider.next_any_within(Duration::from_millis(200)).await {
        assert!(!payload.to_string().contains(secret), "{name}: {payload}");
    }
}

/// Percent-encodes a form or query value.
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

pub struct TestClient {
    socket: Client,
    events: mpsc::UnboundedReceiver<(String, Value)>,
    pub welcome: Welcome,
    /// The welcome exactly as it came over the wire.
    welcome_json: Value,
}

/// The next event received, skipping presence updates unless one is `expected` (they depend on
/// who else connects when); it must be named `expected`.
async fn next_event(
    events: &mut mpsc::UnboundedReceiver<(String, Value)>,
    expected: &str,
) -> Value {
    loop {
        let (name, value) = tokio::time::timeout(PATIENCE, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no `{expected}` event within {PATIENCE:?}"))
            .expect("client closed");
        if name == event::PRESENCE && expected != event::PRESENCE {
            continue;
        }
        assert_eq!(name, expected, "unexpected event with payload {value}");
        return value;
    }
}

impl TestClient {
    /// The next event this client received; it must be named `expected`.
    pub async fn next(&mut self, expected: &str) -> Value {
        next_event(&mut self.events, expected).await
    }

    /// Presence updates until one satisfies `wanted` (earlier ones may still be in flight).
    pub async fn presence_until(
        &mut self,
        wanted: impl Fn(&PresenceChange) -> bool,
    ) -> PresenceChange {
        loop {
            let presence: PresenceChange =
                serde_json::from_value(self.next(event::PRESENCE).await).expect("presence");
            if wanted(&presence) {
                return presence;
            }
        }
    }

    pub async fn disconnect(self) {
        self.socket.disconnect().await.expect("disconnect");
    }

    pub fn token(&self) -> String {
        self.welcome.token.clone()
    }

    /// The welcome as it went over the wire, for tests that speak only JSON.
    pub fn welcome_json(&self) -> Value {
        self.welcome_json.clone()
    }

    /// The next event received, whatever its name (presence updates included), or `None` if
    /// nothing arrives within `patience`.
    pub async fn next_any_within(&mut self, patience: Duration) -> Option<(String, Value)> {
        tokio::time::timeout(patience, self.events.recv())
            .await
            .ok()
            .map(|event| event.expect("client closed"))
    }

    pub async fn emit(&self, name: &str, payload: Value) {
        self.socket.emit(name, payload).await.expect("emit");
    }

    /// Creates the private room `room` (and is in it): its acknowledgement, checked.
    pub async fn create_private_room(&self, room: &str) -> Value {
        let created = self
            .emit_with_ack(event::CREATE_ROOM, json!({ "room": room, "private": true }))
            .await;
        assert_eq!(refusal_code(&created), None, "{created}");
        created
    }

    /// Emits and waits for the acknowledgement's first argument.
    pub async fn emit_with_ack(&self, name: &str, payload: Value) -> Value {
        let (tx, rx) = oneshot::channel();
        let mut tx = Some(tx);
        self.socket
            .emit_with_ack(name, payload, PATIENCE, move |payload, _| {
                if let Some(tx) = tx.take() {
                    // An ack carries the argument list: `[{...}]`.
                    let _ = tx.send(first_value(payload)[0].take());
                }
                async {}.boxed()
            })
            .await
            .expect("emit with ack");
        tokio::time::timeout(PATIENCE, rx)
            .await
            .expect("acknowledged in time")
            .expect("ack callback ran")
    }
}

fn first_value(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        _ => Value::Null,
    }
}

/// Sends `payloads` as `event` requests back to back on a raw connection, without waiting for
/// any answer, then collects every acknowledgement, in request order.
pub async fn pipelined(raw: &mut RawWebSocket, event: &str, payloads: &[Value]) -> Vec<Value> {
    let requests: Vec<(&str, Value)> = payloads.iter().map(|p| (event, p.clone())).collect();
    pipelined_requests(raw, &requests).await
}

/// Sends `(event, payload)` requests back to back on a raw connection, without waiting for any
/// answer, then collects every acknowledgement, in request order.
pub async fn pipelined_requests(raw: &mut RawWebSocket, requests: &[(&str, Value)]) -> Vec<Value> {
    for (id, (event, payload)) in requests.iter().enumerate() {
        raw.send_packet(format!("42{id}{}", json!([event, payload])))
            .await;
    }
    let mut acks = vec![Value::Null; requests.len()];
    for _ in 0..requests.len() {
        let (id, ack) = raw.next_ack().await;
        let slot = usize::try_from(id).expect("an ack id fits in usize");
        assert!(acks[slot].is_null(), "ack {id} arrived twice");
        acks[slot] = ack;
    }
    acks
}

/// The error code of a refused request's acknowledgement, `None` if it was accepted.
pub fn refusal_code(ack: &Value) -> Option<&str> {
    match ack["status"].as_str() {
        Some("ok") => None,
        Some("error") => Some(ack["error"]["code"].as_str().expect("an error has a code")),
        _ => panic!("not an acknowledgement: {ack}"),
    }
}

/// The event names, as a client sees them (from the `shared` types that carry them).
pub mod event {
    use shared::{
        ArchiveRoom, ChatInput, CreateRoom, DeleteMessage, EditMessage, ErrorPayload, Event,
        Invite, Invited, JoinRoom, LeaveRoom, MarkRead, Members, MessageChanged, NowTyping,
        OpenDirect, PresenceChange, React, ReadUpTo, Rename, RoomUpdated, Search, Sync, Unreact,
        Welcome,
    };

    pub const CHAT_MESSAGE: &str = ChatInput::NAME;
    pub const WELCOME: &str = Welcome::NAME;
    pub const SYNC: &str = Sync::NAME;
    pub const CREATE_ROOM: &str = CreateRoom::NAME;
    pub const JOIN_ROOM: &str = JoinRoom::NAME;
    pub const LEAVE_ROOM: &str = LeaveRoom::NAME;
    pub const RENAME: &str = Rename::NAME;
    pub const TYPING: &str = NowTyping::NAME;
    pub const PRESENCE: &str = PresenceChange::NAME;
    pub const MEMBERS: &str = Members::NAME;
    pub const ERROR: &str = ErrorPayload::NAME;
    pub const INVITE: &str = Invite::NAME;
    pub const INVITED: &str = Invited::NAME;
    pub const OPEN_DIRECT: &str = OpenDirect::NAME;
    pub const EDIT_MESSAGE: &str = EditMessage::NAME;
    pub const DELETE_MESSAGE: &str = DeleteMessage::NAME;
    pub const MESSAGE_CHANGED: &str = MessageChanged::NAME;
    pub const REACT: &str = React::NAME;
    pub const UNREACT: &str = Unreact::NAME;
    pub const ARCHIVE_ROOM: &str = ArchiveRoom::NAME;
    pub const ROOM_UPDATED: &str = RoomUpdated::NAME;
    pub const MARK_READ: &str = MarkRead::NAME;
    pub const READ: &str = ReadUpTo::NAME;
    pub const SEARCH: &str = Search::NAME;
}
