//! A minimal Socket.io v4 client over WebSocket, as a plain client speaks it: open the transport,
//! connect the default namespace, answer pings, send `chatMessage`, count what arrives.
//!
//! Payload text is `b|<sent micros>|<padding>`; receivers read the send time straight from the
//! packet text, without a JSON parse, so the generator's own CPU stays small.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::{
    sync::{Semaphore, mpsc, watch},
    task::JoinHandle,
};
use tokio_tungstenite::tungstenite::Message;

/// What one connection saw, handed back when the run stops. (`delivered` is also added to a
/// shared counter as it happens, so the run knows when everything has arrived.)
#[derive(Debug)]
pub struct Tally {
    pub delivered: u64,
    /// Microseconds from send to delivery.
    pub latency: Histogram<u64>,
    pub acked: u64,
    pub refused: u64,
    /// Microseconds from send to acknowledgement, for acks that echo the message (the chat's
    /// carry the stored message; the Node reference's do not).
    pub ack_latency: Histogram<u64>,
}

/// A connected client: send packets through `outbox`; each acknowledgement adds a permit to
/// `acks` (senders that keep a window in flight wait on it).
pub struct Client {
    pub outbox: mpsc::UnboundedSender<String>,
    pub acks: Arc<Semaphore>,
    pub reader: JoinHandle<Tally>,
}

/// Connects and waits for the server's `welcome`; returns the client and how long that took.
/// The reader counts until `stop` turns true.
pub async fn connect(
    base_url: &str,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) -> Result<(Client, Duration)> {
    let started = Instant::now();
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base_url.replacen("http", "ws", 1)
    );
    // No Nagle delay: the latency measured is the server's, not the client's TCP stack's.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .context("websocket connect")?;
    let (mut sink, mut stream) = socket.split();
    let mut next_text = async || -> Result<String> {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => bail!("closed during the handshake"),
            }
        }
    };
    if !next_text().await?.starts_with('0') {
        bail!("no Engine.IO open packet");
    }
    sink.send(Message::text("40")).await?;
    while !next_text().await?.starts_with("42[\"welcome\"") {}
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
    let reader = tokio::spawn(read(
        stream,
        outbox.clone(),
        acks.clone(),
        epoch,
        delivered,
        stop,
    ));
    Ok((
        Client {
            outbox,
            acks,
            reader,
        },
        connected,
    ))
}

type Stream = futures_util::stream::SplitStream<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
>;

async fn read(
    mut stream: Stream,
    outbox: mpsc::UnboundedSender<String>,
    acks: Arc<Semaphore>,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally {
        delivered: 0,
        latency: micros_histogram(),
        acked: 0,
        refused: 0,
        ack_latency: micros_histogram(),
    };
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Some(Ok(frame)) = frame else { break };
        let Message::Text(text) = frame else { continue };
        let text = text.as_str();
        if text == "2" {
            // A closed outbox means the writer is gone; the next read ends the loop.
            let _ = outbox.send("3".into());
        } else if text.starts_with("42[\"chatMessage\"") {
            if let Some(sent) = sent_micros(text) {
                tally.latency.saturating_record(micros_since(epoch, sent));
                tally.delivered += 1;
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        } else if text.starts_with("43") {
            if text.contains("\"status\":\"ok\"") {
                tally.acked += 1;
                if let Some(sent) = sent_micros(text) {
                    tally
                        .ack_latency
                        .saturating_record(micros_since(epoch, sent));
                }
            } else {
                tally.refused += 1;
            }
            acks.add_permits(1);
        }
    }
    tally
}

/// A histogram of microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// The `chatMessage` packet for a message sent now, padded to about `size` bytes of text;
/// with `ack_id`, it asks for an acknowledgement.
pub fn chat_packet(epoch: Instant, size: usize, ack_id: Option<u64>) -> String {
    let sent = epoch.elapsed().as_micros();
    let mut text = format!("b|{sent}|");
    text.extend(std::iter::repeat_n('x', size.saturating_sub(text.len())));
    let ack = ack_id.map(|id| id.to_string()).unwrap_or_default();
    format!("42{ack}[\"chatMessage\",{{\"text\":\"{text}\"}}]")
}

fn micros_since(epoch: Instant, sent: u64) -> u64 {
    let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
    now.saturating_sub(sent)
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
        let packet = chat_packet(epoch, 64, Some(7));
        assert!(packet.starts_with("427[\"chatMessage\""));
        let broadcast = format!(
            "42[\"chatMessage\",{{\"id\":\"x\",\"room\":\"general\",\"seq\":1,{}}}]",
            &packet[packet.find("\"text\"").unwrap()..packet.len() - 2]
        );
        assert!(sent_micros(&broadcast).is_some());
    }
}
