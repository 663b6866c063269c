//! `TestApp` starts the server exactly as `main` does; `TestClient` is a rust_socketio client
//! whose received events can be awaited in order.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::{
    Event, Payload, TransportType,
    asynchronous::{Client, ClientBuilder},
};
use serde_json::Value;
use shared::{Welcome, event};
use tokio::sync::{mpsc, oneshot};

/// How long any single expected event may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(server::run(listener, async move {
            let _ = stop.await;
        }));
        Self {
            url,
            shutdown: Some(shutdown),
            server,
        }
    }

    pub async fn client(&self) -> TestClient {
        self.client_over(TransportType::Websocket).await
    }

    /// A connected client that has received its welcome, so the server knows it.
    pub async fn client_over(&self, transport: TransportType) -> TestClient {
        let (events_tx, events) = mpsc::unbounded_channel();
        let forward = |events_tx: mpsc::UnboundedSender<(String, Value)>| {
            move |event: Event, payload, _| {
                let name = match event {
                    Event::Custom(name) => name,
                    other => other.as_str().to_owned(),
                };
                let _ = events_tx.send((name, first_value(payload)));
                async {}.boxed()
            }
        };
        let on_close = forward(events_tx.clone());
        let on_error = forward(events_tx.clone());
        let socket = ClientBuilder::new(self.url.clone())
            .transport_type(transport)
            .reconnect(false)
            .on_any(forward(events_tx))
            .on(Event::Close, move |payload, client| {
                on_close(Event::Close, payload, client)
            })
            .on(Event::Error, move |payload, client| {
                on_error(Event::Error, payload, client)
            })
            .connect()
            .await
            .expect("connect");
        let mut client = TestClient { socket, events };
        let welcome: Welcome =
            serde_json::from_value(client.next(event::WELCOME).await).expect("welcome payload");
        assert!(!welcome.author.name.is_empty());
        client
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) {
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

pub struct TestClient {
    socket: Client,
    events: mpsc::UnboundedReceiver<(String, Value)>,
}

impl TestClient {
    /// The next event this client received; it must be named `expected`.
    pub async fn next(&mut self, expected: &str) -> Value {
        let (name, value) = tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no `{expected}` event within {PATIENCE:?}"))
            .expect("client closed");
        assert_eq!(name, expected, "unexpected event with payload {value}");
        value
    }

    pub async fn emit(&self, name: &str, payload: Value) {
        self.socket.emit(name, payload).await.expect("emit");
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
