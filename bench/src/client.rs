//! A minimal Socket.io v4 client over WebSocket, as a plain client speaks it: open the transport,
//! connect the default namespace, answer pings, send `chatMessage` (and, in a mix, `react`,
//! `editMessage` and replies), count what arrives.
//!
//! Payload text is `b|<sent micros>|<padding>`, in messages, replies and edits alike; receivers
//! read the send time straight from the packet text, without a JSON parse, so the generator's
//! own CPU stays small. A reaction carries no text: its send time is looked up by the message it
//! reacts to ([`RoomTargets`]).

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use shared::{ChatInput, DEFAULT_ROOM, EditMessage, Event, React};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::{Semaphore, mpsc, watch},
    task::JoinHandle,
};
use tokio_tungstenite::{
    MaybeTlsStream,
    tungstenite::{Message, client::IntoClientRequest, http::Uri},
};

use crate::mix::{Kind, RoomTargets};

/// What one connection saw, handed back when the run stops. (`delivered` is also added to a
/// shared counter as it happens, so the run knows when everything has arrived.)
#[derive(Debug, Default)]
pub struct Tally {
    pub delivered: u64,
    /// Deliveries whose send time could not be told (a change the generator did not make).
    pub untimed: u64,
    /// Microseconds from send to delivery. Histograms are made on first use: one takes about
    /// 160 KiB, which for 10,000 idle clients would be gigabytes.
    pub latency: Option<Histogram<u64>>,
    pub acked: u64,
    pub refused: u64,
    /// How many refusals of each error code.
    pub refused_codes: BTreeMap<String, u64>,
    /// Microseconds from send to acknowledgement, for acks that echo the message (the chat's
    /// carry the stored message; the Node reference's do not).
    pub ack_latency: Option<Histogram<u64>>,
    /// The sequence numbers the server acknowledged, where its acks carry them.
    pub acked_seqs: Vec<u64>,
    /// Whether the server closed the connection before the run stopped.
    pub cut_off: bool,
    /// For a stalled client: the sequence numbers of the messages it received.
    pub stalled_seen: Option<Vec<u64>>,
}

/// A connected client: send packets through `outbox`; each acknowledgement adds a permit to
/// `acks` (senders that keep a window in flight wait on it).
pub struct Client {
    pub outbox: mpsc::UnboundedSender<String>,
    pub acks: Arc<Semaphore>,
    /// The `seq` of this client's newest acknowledged message (0: none yet), kept only in a
    /// mix, where its edits need it.
    pub own_newest: Arc<AtomicU64>,
    pub reader: JoinHandle<Tally>,
}

/// How a connected client behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads everything as it arrives.
    Reader,
    /// Reads nothing until the run stops, like a client on a link far slower than the room: its
    /// TCP buffers fill, then the server's send queue for it.
    Stalled,
}

pub type WebSocket = tokio_tungstenite::WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Stream = futures_util::stream::SplitStream<WebSocket>;
pub type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Opens the transport and the default namespace, and waits for the server's `welcome`. The TCP
/// connection comes from `source` if given (any port), else from the address the system picks.
pub async fn handshake(base_url: &str, source: Option<Ipv4Addr>) -> Result<(Sink, Stream)> {
    let (mut sink, mut stream) = open_websocket(base_url, source).await?.split();
    if !next_text(&mut stream).await?.starts_with('0') {
        bail!("no Engine.IO open packet");
    }
    sink.send(Message::text("40")).await?;
    // The server's first ping may come before the welcome; unanswered, it closes the
    // connection a ping timeout later.
    loop {
        let text = next_text(&mut stream).await?;
        if text == "2" {
            sink.send(Message::text("3")).await?;
        } else if text.starts_with("42[\"welcome\"") {
            return Ok((sink, stream));
        }
    }
}

/// Opens the WebSocket transport only: the server's Engine.IO open packet is the first thing to
/// read. The TCP connection comes from `source` if given, as in [`handshake`].
pub async fn open_websocket(base_url: &str, source: Option<Ipv4Addr>) -> Result<WebSocket> {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base_url.replacen("http", "ws", 1)
    );
    // No Nagle delay: the latency measured is the server's, not the client's TCP stack's.
    let (socket, _) = match source {
        None => tokio_tungstenite::connect_async_with_config(url, None, true).await,
        Some(source) => {
            let request = url.into_client_request()?;
            let stream = tcp_from(source, request.uri()).await?;
            tokio_tungstenite::client_async_with_config(
                request,
                MaybeTlsStream::Plain(stream),
                None,
            )
            .await
        }
    }
    .context("websocket connect")?;
    Ok(socket)
}

/// Joins `room`, creating it if it does not exist yet (another client may create it first).
async fn enter(sink: &mut Sink, stream: &mut Stream, room: &str) -> Result<()> {
    for event in ["joinRoom", "createRoom", "joinRoom"] {
        let request = format!("421[\"{event}\",{{\"room\":\"{room}\"}}]");
        sink.send(Message::text(request)).await?;
        let ack = loop {
            let text = next_text(stream).await?;
            if text.starts_with("431[") {
                break text;
            }
        };
        if ack.contains("\"status\":\"ok\"") {
            return Ok(());
        }
    }
    bail!("could not join or create {room}")
}

/// A TCP connection to `uri`'s host and port (IPv4) from the address `source`.
pub async fn tcp_from(source: Ipv4Addr, uri: &Uri) -> Result<TcpStream> {
    let host = uri.host().context("no host in the URL")?;
    let port = uri.port_u16().unwrap_or(80);
    let target = tokio::net::lookup_host((host, port))
        .await?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("{host} has no IPv4 address to connect to from {source}"))?;
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .with_context(|| format!("bind {source}"))?;
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

pub async fn next_text(stream: &mut Stream) -> Result<String> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => bail!("closed by the server"),
        }
    }
}

/// Connects (from `source`, if given) and waits for the server's `welcome`; returns the client
/// and how long that took. The reader counts until `stop` turns true.
/// The client is put in `room` (joined, or created by whoever comes first) before it counts as
/// connected. In a mix, `targets` is what the room's clients share: the reader tells it of its
/// own stored messages and asks it when reactions were sent.
#[allow(clippy::too_many_arguments)]
pub async fn connect(
    base_url: &str,
    source: Option<Ipv4Addr>,
    role: Role,
    room: Option<String>,
    targets: Option<Arc<RoomTargets>>,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) -> Result<(Client, Duration)> {
    let started = Instant::now();
    let (mut sink, mut stream) = handshake(base_url, source).await?;
    if let Some(room) = room {
        enter(&mut sink, &mut stream, &room).await?;
    }
    let connected = started.elapsed();

    let (outbox, mut queued) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(packet) = queued.recv().await {
            if sink.send(Message::text(packet)).await.is_err() {
                break;
            }
        }
    });
    let acks = Arc::new(Semaphore::new(0));
    let own_newest = Arc::new(AtomicU64::new(0));
    let reader = match role {
        Role::Reader => tokio::spawn(read(
            stream,
            Peers {
                outbox: outbox.clone(),
                acks: acks.clone(),
                own_newest: own_newest.clone(),
                targets,
            },
            epoch,
            delivered,
            stop,
        )),
        Role::Stalled => tokio::spawn(stall(stream, stop)),
    };
    Ok((
        Client {
            outbox,
            acks,
            own_newest,
            reader,
        },
        connected,
    ))
}

/// What a reader shares with its client's sender, and with the clients of its room.
struct Peers {
    outbox: mpsc::UnboundedSender<String>,
    acks: Arc<Semaphore>,
    own_newest: Arc<AtomicU64>,
    targets: Option<Arc<RoomTargets>>,
}

async fn read(
    mut stream: Stream,
    peers: Peers,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let Peers {
        outbox,
        acks,
        own_newest,
        targets,
    } = peers;
    let mut tally = Tally::default();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Some(Ok(frame)) = frame else {
            tally.cut_off = true;
            break;
        };
        let Message::Text(text) = frame else { continue };
        let text = text.as_str();
        if text == "2" {
            // A closed outbox means the writer is gone; the next read ends the loop.
            let _ = outbox.send("3".into());
        } else if text.starts_with("42[\"chatMessage\"") {
            if let Some(sent) = sent_micros(text) {
                tally
                    .latency
                    .get_or_insert_with(micros_histogram)
                    .saturating_record(micros_since(epoch, sent));
                tally.delivered += 1;
                delivered.fetch_add(1, Ordering::Relaxed);
            } else if let Some(targets) = &targets {
                targets.unstamped_received();
            }
        } else if text.starts_with("42[\"messageChanged\"") {
            // An edit carries its send time in its text; a reaction, in what the room's
            // clients share.
            let sent = if text.contains("\"change\":\"reacted\"") {
                targets
                    .as_ref()
                    .zip(number_after(text, "\"target\":"))
                    .and_then(|(targets, target)| targets.reaction_sent(target))
            } else {
                sent_micros(text)
            };
            match sent {
                Some(sent) => tally
                    .latency
                    .get_or_insert_with(micros_histogram)
                    .saturating_record(micros_since(epoch, sent)),
                None => tally.untimed += 1,
            }
            tally.delivered += 1;
            delivered.fetch_add(1, Ordering::Relaxed);
        } else if text.starts_with("43") {
            if text.contains("\"status\":\"ok\"") {
                tally.acked += 1;
                // A change's acknowledgement carries the change's seq, not a message's.
                if !text.contains("\"status\":\"ok\",\"change\"")
                    && let Some(seq) = seq(text)
                {
                    tally.acked_seqs.push(seq);
                    if let Some(targets) = &targets {
                        targets.stored(seq);
                        own_newest.store(seq, Ordering::Relaxed);
                    }
                }
                if let Some(sent) = sent_micros(text) {
                    tally
                        .ack_latency
                        .get_or_insert_with(micros_histogram)
                        .saturating_record(micros_since(epoch, sent));
                }
            } else {
                tally.refused += 1;
                if let Some(code) = string_after(text, "\"code\":\"") {
                    *tally.refused_codes.entry(code.to_owned()).or_default() += 1;
                }
            }
            acks.add_permits(1);
        }
    }
    tally
}

/// A stalled client: reads nothing until the run stops, then reads what the server still has
/// for it, until the server closes the connection or has been silent for a second.
async fn stall(mut stream: Stream, mut stop: watch::Receiver<bool>) -> Tally {
    let _ = stop.wait_for(|stop| *stop).await;
    let mut tally = Tally::default();
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(text)))) => {
                if text.as_str().starts_with("42[\"chatMessage\"") {
                    seen.extend(seq(text.as_str()));
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => {
                tally.cut_off = true;
                break;
            }
        }
    }
    tally.stalled_seen = Some(seen);
    tally
}

/// How long a read-back waits after the server said it reads too fast (it allows 5 a second).
const READ_BUDGET_WAIT: Duration = Duration::from_millis(250);

/// Catches up as a new connection would: the sequence numbers of every stored message of the
/// default room after `after_seq`, through `sync`, page by page. `None` if the server does not
/// answer `sync` (the Node reference stores nothing).
pub async fn stored_after(base_url: &str, mut after_seq: u64) -> Result<Option<Vec<u64>>> {
    let (mut sink, mut stream) = handshake(base_url, None).await?;
    let mut seqs = Vec::new();
    loop {
        let request = format!(
            "420[\"sync\",{{\"rooms\":[{{\"room\":\"general\",\"afterSeq\":{after_seq}}}]}}]"
        );
        sink.send(Message::text(request)).await?;
        let answer = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let text = next_text(&mut stream).await?;
                if text == "2" {
                    sink.send(Message::text("3")).await?;
                } else if let Some(ack) = text.strip_prefix("430") {
                    return anyhow::Ok(ack.to_owned());
                }
            }
        })
        .await;
        let Ok(ack) = answer else { return Ok(None) };
        let ack: serde_json::Value = serde_json::from_str(&ack?)?;
        // The server budgets reads per connection; a client that pages fast waits its turn.
        if ack[0]["error"]["code"] == "rate_limited" {
            tokio::time::sleep(READ_BUDGET_WAIT).await;
            continue;
        }
        let messages = ack[0]["messages"]
            .as_array()
            .with_context(|| format!("sync refused or malformed: {}", ack[0]))?;
        let page: Vec<u64> = messages
            .iter()
            .filter_map(|message| message["seq"].as_u64())
            .collect();
        seqs.extend(&page);
        // `more`: the server cut the reply short (a page per room, a size per reply).
        match page.last() {
            Some(&last) if ack[0]["more"] == true => after_seq = last,
            _ => return Ok(Some(seqs)),
        }
    }
}

/// A histogram of microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// The sender's `n`th `chatMessage`, sent now, padded to about `size` bytes of text. Like the
/// UI's, it carries a client id (so the server checks it for a retry) and asks for an
/// acknowledgement (with id `n`).
pub fn chat_packet(epoch: Instant, room: Option<&str>, size: usize, n: u64) -> String {
    let text = stamped_text(epoch, size);
    let room = room
        .map(|room| format!(",\"room\":\"{room}\""))
        .unwrap_or_default();
    format!("42{n}[\"chatMessage\",{{\"text\":\"{text}\",\"clientId\":\"m{n}\"{room}}}]")
}

/// Text that carries its send time (now): `b|<micros since epoch>|`, padded with `x` to about
/// `size` bytes.
pub fn stamped_text(epoch: Instant, size: usize) -> String {
    let sent = epoch.elapsed().as_micros();
    let mut text = format!("b|{sent}|");
    text.extend(std::iter::repeat_n('x', size.saturating_sub(text.len())));
    text
}

/// Request `request` as a Socket.io event packet asking for acknowledgement `n`.
pub fn request_packet<R: Event + Serialize>(n: u64, request: &R) -> String {
    let payload = serde_json::to_string(request).expect("a request serializes");
    format!("42{n}[\"{}\",{payload}]", R::NAME)
}

/// One sender's requests in a mix: what the next one of each kind is, aimed at the recent
/// messages of its room (its own newest, for an edit).
pub struct Mixed {
    pub epoch: Instant,
    /// The room, when not the default one.
    pub room: Option<String>,
    pub size: usize,
    pub targets: Arc<RoomTargets>,
    pub own_newest: Arc<AtomicU64>,
}

impl Mixed {
    /// The sender's first message, posted before the run: without a send time, so that it is
    /// no delivery of the run, and with a client id no later message has.
    pub fn first_packet(&self) -> String {
        request_packet(
            0,
            &message_input("first", self.room.as_deref(), "first", None),
        )
    }

    /// The `n`th request, of kind `kind` if it has something to aim at, else a plain message;
    /// returns the packet and the kind sent.
    pub fn packet(&self, kind: Kind, n: u64) -> (String, Kind) {
        let room = || self.room.as_deref().unwrap_or(DEFAULT_ROOM).to_owned();
        let seq = |seq: u64| i64::try_from(seq).expect("a seq fits in i64");
        match kind {
            Kind::Reaction => {
                if let Some(target) = self.targets.reaction_target() {
                    let sent = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.targets.reacting(target, sent);
                    let react = React {
                        room: room(),
                        seq: seq(target),
                        emoji: "👍".to_owned(),
                    };
                    return (request_packet(n, &react), kind);
                }
            }
            Kind::Edit => match self.own_newest.load(Ordering::Relaxed) {
                0 => {}
                own => {
                    let edit = EditMessage {
                        room: room(),
                        seq: seq(own),
                        text: stamped_text(self.epoch, self.size),
                    };
                    return (request_packet(n, &edit), kind);
                }
            },
            Kind::Reply => {
                if let Some(original) = self.targets.reply_target() {
                    let text = stamped_text(self.epoch, self.size);
                    let client_id = format!("m{n}");
                    let reply =
                        message_input(&text, self.room.as_deref(), &client_id, Some(seq(original)));
                    return (request_packet(n, &reply), kind);
                }
            }
            Kind::Message => {}
        }
        let message = chat_packet(self.epoch, self.room.as_deref(), self.size, n);
        (message, Kind::Message)
    }
}

/// A `chatMessage` with a client id, in `room` (if not the default one), answering `reply_to`.
/// Built from its wire form, so that optional fields the protocol gains later need no change
/// here.
fn message_input(
    text: &str,
    room: Option<&str>,
    client_id: &str,
    reply_to: Option<i64>,
) -> ChatInput {
    let mut input = serde_json::json!({ "text": text, "clientId": client_id });
    if let Some(room) = room {
        input["room"] = room.into();
    }
    if let Some(reply_to) = reply_to {
        input["replyTo"] = reply_to.into();
    }
    serde_json::from_value(input).expect("a chatMessage object")
}

fn micros_since(epoch: Instant, sent: u64) -> u64 {
    let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
    now.saturating_sub(sent)
}

/// The first `"seq":N` in a packet: the stored message's sequence number.
fn seq(packet: &str) -> Option<u64> {
    number_after(packet, "\"seq\":")
}

/// The number right after the first `key` in a packet.
fn number_after(packet: &str, key: &str) -> Option<u64> {
    let start = packet.find(key)? + key.len();
    let rest = &packet[start..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

/// The string right after the first `key` (which ends with its opening quote) in a packet.
fn string_after<'a>(packet: &'a str, key: &str) -> Option<&'a str> {
    let start = packet.find(key)? + key.len();
    let rest = &packet[start..];
    Some(&rest[..rest.find('"')?])
}

fn sent_micros(packet: &str) -> Option<u64> {
    let start = packet.find("\"text\":\"b|")? + "\"text\":\"b|".len();
    let rest = &packet[start..];
    rest[..rest.find('|')?].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_survives_the_round_trip() {
        let epoch = Instant::now();
        let packet = chat_packet(epoch, None, 64, 7);
        assert!(packet.starts_with("427[\"chatMessage\""));
        let broadcast = format!(
            "42[\"chatMessage\",{{\"id\":\"x\",\"room\":\"general\",\"seq\":1,{}}}]",
            &packet[packet.find("\"text\"").unwrap()..packet.len() - 2]
        );
        assert!(sent_micros(&broadcast).is_some());
        assert_eq!(seq(&broadcast), Some(1));
    }

    /// Replies, edits and reactions are timed from what their broadcasts carry, as the server
    /// serializes them (the shared types): a reply's own text comes before its quote's.
    #[test]
    fn mixed_requests_are_timed_from_their_broadcasts() {
        use shared::{Author, Change, ChatMessage, MessageChanged};

        let epoch = Instant::now();
        let targets = Arc::new(RoomTargets::default());
        let mixed = Mixed {
            epoch,
            room: None,
            size: 64,
            targets: targets.clone(),
            own_newest: Arc::new(AtomicU64::new(0)),
        };
        // Nothing to aim at yet: a plain message.
        for kind in [Kind::Reaction, Kind::Edit, Kind::Reply] {
            let (packet, sent) = mixed.packet(kind, 1);
            assert_eq!(sent, Kind::Message, "{packet}");
        }
        targets.stored(5);
        mixed.own_newest.store(5, Ordering::Relaxed);
        let (reaction, _) = mixed.packet(Kind::Reaction, 2);
        assert!(reaction.starts_with("422[\"react\",{\"room\":\"general\",\"seq\":5,"));
        let (edit, _) = mixed.packet(Kind::Edit, 3);
        assert!(edit.starts_with("423[\"editMessage\",{\"room\":\"general\",\"seq\":5,"));
        let (reply, _) = mixed.packet(Kind::Reply, 4);
        assert!(reply.starts_with("424[\"chatMessage\""), "{reply}");
        assert!(reply.contains("\"replyTo\":5"), "{reply}");

        let original = "b|1|xxxx";
        let broadcast: ChatMessage = serde_json::from_value(serde_json::json!({
            "id": "x", "room": "general", "seq": 6, "text": "b|99|xxxx",
            "author": { "id": "a", "name": "A" }, "sentAt": 1,
            "replyTo": { "seq": 5, "author": { "id": "a", "name": "A" }, "text": original },
        }))
        .unwrap();
        let broadcast = format!(
            "42[\"chatMessage\",{}]",
            serde_json::to_string(&broadcast).unwrap()
        );
        assert_eq!(sent_micros(&broadcast), Some(99), "{broadcast}");

        let edited = MessageChanged {
            room: "general".to_owned(),
            seq: 7,
            target: 5,
            change: Change::Edited {
                text: "b|123|xx".to_owned(),
                edited_at: 1,
            },
        };
        let edited = serde_json::to_string(&edited).unwrap();
        assert_eq!(sent_micros(&edited), Some(123), "{edited}");
        let reacted = MessageChanged {
            room: "general".to_owned(),
            seq: 8,
            target: 5,
            change: Change::Reacted {
                emoji: "👍".to_owned(),
                user: Author::guest("b", "B"),
            },
        };
        let reacted = serde_json::to_string(&reacted).unwrap();
        assert!(reacted.contains("\"change\":\"reacted\""), "{reacted}");
        assert_eq!(number_after(&reacted, "\"target\":"), Some(5));
        assert!(targets.reaction_sent(5).is_some());
    }
}
