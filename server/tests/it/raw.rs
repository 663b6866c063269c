//! A WebSocket client speaking Engine.IO v4 / Socket.IO v5 by hand, for what rust_socketio does
//! not offer: sending a raw, oversized packet, and noticing that the server closed the
//! connection (rust_socketio reports nothing when the transport goes away).

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

const PATIENCE: Duration = Duration::from_secs(10);

/// A Socket.IO event packet on the default namespace: `42["name",payload]`.
pub fn event_packet(name: &str, payload: &Value) -> String {
    format!("42{}", json!([name, payload]))
}

fn websocket_url(base_url: &str) -> String {
    format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base_url.replacen("http", "ws", 1)
    )
}

/// Parses `42["name",payload]`; `None` for any other packet.
fn parse_event(packet: &str) -> Option<(String, Value)> {
    let args: Vec<Value> = serde_json::from_str(packet.strip_prefix("42")?).ok()?;
    let mut args = args.into_iter();
    let name = args.next()?.as_str()?.to_owned();
    Some((name, args.next().unwrap_or(Value::Null)))
}

pub struct RawWebSocket {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `welcome` the server greeted this connection with.
    pub welcome: Value,
}

impl RawWebSocket {
    /// Opens the transport and the default namespace as a guest, and waits for the welcome.
    pub async fn connect(base_url: &str) -> Self {
        Self::connect_as(base_url, &json!({})).await
    }

    /// Like [`Self::connect`], presenting `auth` in the handshake.
    pub async fn connect_as(base_url: &str, auth: &Value) -> Self {
        let mut client = Self::open(base_url).await;
        client.join(auth).await;
        client
    }

    /// Like [`Self::connect`], from the local address `ip` (any of 127.0.0.0/8 on loopback), so
    /// that the server sees another client address.
    pub async fn connect_from(base_url: &str, ip: IpAddr) -> Self {
        let server: SocketAddr = base_url
            .trim_start_matches("http://")
            .parse()
            .expect("http://ip:port");
        let tcp = TcpSocket::new_v4().expect("socket");
        tcp.bind(SocketAddr::new(ip, 0))
            .expect("bind the local address");
        let stream = tcp.connect(server).await.expect("tcp connect");
        let (socket, _) =
            tokio_tungstenite::client_async(websocket_url(base_url), MaybeTlsStream::Plain(stream))
                .await
                .expect("websocket");
        let mut client = Self::opened(socket).await;
        client.join(&json!({})).await;
        client
    }

    /// Opens the Engine.IO session only (the server's `0{...}` open packet has arrived); the
    /// Socket.io namespace is not joined.
    pub async fn open(base_url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(websocket_url(base_url))
            .await
            .expect("websocket");
        Self::opened(socket).await
    }

    /// A client on `socket`, once the server's Engine.IO open packet has arrived.
    async fn opened(socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let mut client = Self {
            socket,
            welcome: Value::Null,
        };
        assert!(client.next_packet().await.expect("open").starts_with('0'));
        client
    }

    /// Joins the default namespace with `auth` and waits for the welcome.
    async fn join(&mut self, auth: &Value) {
        if let Err(refusal) = self.join_or_refusal(auth).await {
            panic!("join refused: {refusal}");
        }
    }

    /// A new guest connects and gets its own message back: the server still chats (after
    /// another client was cut off, say).
    pub async fn still_chats(base_url: &str) {
        Self::connect(base_url).await.chats().await;
    }

    /// Posts a message and has it acknowledged: this connection chats. (The acknowledgement
    /// comes after the broadcast, so no one connecting afterwards is sent this message.)
    pub async fn chats(&mut self) {
        let event = json!(crate::helpers::event::CHAT_MESSAGE);
        self.send_packet(format!("421[{event},\"still here\"]"))
            .await;
        let (id, ack) = self.next_ack().await;
        assert_eq!((id, &ack["status"]), (1, &json!("ok")), "{ack}");
    }

    /// Asks to join the default namespace: `Ok` once welcomed, or the refusal's message.
    pub async fn join_or_refusal(&mut self, auth: &Value) -> Result<(), String> {
        self.send_packet(format!("40{auth}")).await;
        let answer = self.next_packet().await.expect("an answer to the join");
        if let Some(refusal) = answer.strip_prefix("44") {
            let refusal: Value = serde_json::from_str(refusal).expect("a refusal payload");
            return Err(refusal["message"].as_str().expect("a message").to_owned());
        }
        assert!(answer.starts_with("40"), "a join answer, got {answer}");
        let (name, welcome) = self.next_event().await;
        assert_eq!(name, crate::helpers::event::WELCOME);
        self.welcome = welcome;
        Ok(())
    }

    pub async fn send_packet(&mut self, packet: String) {
        self.socket.send(Message::text(packet)).await.expect("send");
    }

    /// Sends a binary WebSocket frame: a Socket.io attachment. The send itself may fail once the
    /// server has closed the connection.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.socket
            .send(Message::binary(bytes))
            .await
            .map_err(|error| error.to_string())
    }

    pub async fn next_event(&mut self) -> (String, Value) {
        loop {
            let packet = self.next_packet().await.expect("connection open");
            if let Some(event) = parse_event(&packet) {
                return event;
            }
        }
    }

    /// The next acknowledgement, `43<id>[payload]`, as its id and payload.
    pub async fn next_ack(&mut self) -> (u64, Value) {
        loop {
            let packet = self.next_packet().await.expect("connection open");
            let Some(rest) = packet.strip_prefix("43") else {
                continue;
            };
            let (id, args) = rest.split_at(rest.find('[').expect("ack arguments"));
            let [payload]: [Value; 1] = serde_json::from_str(args).expect("one ack argument");
            return (id.parse().expect("ack id"), payload);
        }
    }

    /// Waits until the server disconnects this client from the namespace (a `41` packet) or
    /// closes the connection (events still in flight are skipped).
    pub async fn disconnected(&mut self) {
        tokio::time::timeout(PATIENCE, async {
            while let Some(packet) = self.next_packet().await {
                if packet.starts_with("41") {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the server did not disconnect the client within {PATIENCE:?}"));
    }

    /// Waits until the server closes the connection (events still in flight are skipped).
    pub async fn closed(&mut self) {
        self.closed_within(PATIENCE).await;
    }

    /// Like [`Self::closed`], failing if the server has not closed it within `limit`.
    pub async fn closed_within(&mut self, limit: Duration) {
        tokio::time::timeout(limit, async { while self.next_packet().await.is_some() {} })
            .await
            .unwrap_or_else(|_| panic!("server did not close the connection within {limit:?}"));
    }

    /// The next Engine.IO packet, answering pings; `None` once the connection is closed.
    async fn next_packet(&mut self) -> Option<String> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a frame in time");
            match frame {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                    // A pong that cannot be sent: the server has closed the connection.
                    if self.socket.send(Message::text("3")).await.is_err() {
                        return None;
                    }
                }
                Some(Ok(Message::Text(text))) => return Some(text.as_str().to_owned()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }
}
