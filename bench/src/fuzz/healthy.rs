//! The healthy client: a plain connection that chats all through the run, each message with a
//! `clientId` and an acknowledgement id, and checks that every one of its messages came back
//! (broadcast) and was acknowledged.

use std::{collections::BTreeSet, time::Duration};

use anyhow::Result;
use bench::client::{self, Sink, Stream};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use shared::{ChatInput, Event};
use tokio::{sync::watch, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

/// How long the client waits for its last messages once it stops sending.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize)]
pub struct Tally {
    pub sent: u64,
    pub acked: u64,
    /// Acknowledgements that refused the message (none are expected).
    pub refused: u64,
    /// Own messages received as broadcasts, each counted once.
    pub received: u64,
    /// Whether the server closed the connection.
    pub cut_off: bool,
}

impl Tally {
    pub fn complete(&self) -> bool {
        !self.cut_off && self.refused == 0 && self.acked == self.sent && self.received == self.sent
    }
}

pub struct Healthy {
    stop: watch::Sender<bool>,
    task: JoinHandle<Tally>,
}

impl Healthy {
    /// Connects and starts sending a message every `every`.
    pub async fn start(url: &str, every: Duration) -> Result<Self> {
        let (sink, stream) = client::handshake(url, None).await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(chat(sink, stream, every, stopped));
        Ok(Self { stop, task })
    }

    /// Stops sending, waits (bounded) for what is still due, and says what it saw.
    pub async fn finish(self) -> Result<Tally> {
        self.stop.send_replace(true);
        Ok(self.task.await?)
    }
}

async fn chat(
    mut sink: Sink,
    mut stream: Stream,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    let (mut acked, mut received) = (BTreeSet::new(), BTreeSet::new());
    let mut ticks = tokio::time::interval(every);
    let mut deadline = None;
    loop {
        let done = acked.len() + usize::try_from(tally.refused).unwrap_or(usize::MAX)
            == usize::try_from(tally.sent).unwrap_or(usize::MAX)
            && received.len() == acked.len();
        if deadline.is_some() && done {
            break;
        }
        let frame = tokio::select! {
            _ = ticks.tick(), if deadline.is_none() => {
                tally.sent += 1;
                let n = tally.sent;
                let packet = format!(
                    "42{n}[\"{}\",{{\"text\":\"healthy {n}\",\"clientId\":\"healthy-{n}\"}}]",
                    ChatInput::NAME
                );
                if sink.send(Message::text(packet)).await.is_err() {
                    tally.cut_off = true;
                    break;
                }
                continue;
            }
            _ = stop.changed(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + DRAIN);
                continue;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => break,
            frame = stream.next() => frame,
        };
        let Some(Ok(Message::Text(text))) = frame else {
            if !matches!(frame, Some(Ok(_))) {
                tally.cut_off = true;
                break;
            }
            continue;
        };
        let text = text.as_str();
        if text == "2" {
            if sink.send(Message::text("3")).await.is_err() {
                tally.cut_off = true;
                break;
            }
        } else if let Some(ack) = text.strip_prefix("43") {
            let (id, payload) = ack.split_at(ack.find('[').unwrap_or(ack.len()));
            if payload.starts_with("[{\"status\":\"ok\"") {
                acked.extend(id.parse::<u64>());
            } else {
                tally.refused += 1;
                eprintln!("healthy client: refused {text}");
            }
        } else if let Some(n) = own_broadcast(text) {
            received.insert(n);
        }
    }
    tally.acked = acked.len() as u64;
    tally.received = received.len() as u64;
    tally
}

/// The number of one of this client's messages, from its `chatMessage` broadcast.
fn own_broadcast(packet: &str) -> Option<u64> {
    let args = packet.strip_prefix(&format!("42[\"{}\",", ChatInput::NAME))?;
    let message: serde_json::Value = serde_json::from_str(args.strip_suffix(']')?).ok()?;
    message["clientId"]
        .as_str()?
        .strip_prefix("healthy-")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_broadcasts_are_recognised() {
        let own = r#"42["chatMessage",{"id":"a","room":"general","seq":3,"text":"healthy 7","author":{"id":"u","name":"n"},"sentAt":1,"clientId":"healthy-7"}]"#;
        assert_eq!(own_broadcast(own), Some(7));
        let other = r#"42["chatMessage",{"id":"a","room":"general","seq":4,"text":"fuzz","author":{"id":"v","name":"n"},"sentAt":1,"clientId":"f1"}]"#;
        assert_eq!(own_broadcast(other), None);
    }
}
