//! Runs a [`Script`] against the server over WebSocket or long-polling, and says how the
//! connection ended. Every wait is bounded: a server that neither answers nor closes within
//! [`PATIENCE`] is a hung connection, which fails the run.

use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use bench::client::{self, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Message, http::Uri};

use crate::cases::{Case, Frame, HttpCase, Script, probe};

/// The longest the server may stay silent when an answer is due.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The acknowledgement id of the probe; generated cases use ids below 1,000.
const PROBE_ACK: u64 = 777_777;

/// POSTs announcing more body than they send, that the server kept waiting for until the fuzzer
/// gave up ([`BODY_PATIENCE`]): the server has no deadline on a request body (only on its head), so
/// such a request holds its connection until the client leaves. Counted, and reported, rather
/// than failing the run.
static UNANSWERED_BODIES: AtomicUsize = AtomicUsize::new(0);

/// How long a truncated body is left waiting for an answer.
const BODY_PATIENCE: Duration = Duration::from_secs(2);

pub fn unanswered_bodies() -> usize {
    UNANSWERED_BODIES.load(Ordering::Relaxed)
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The probe after the cases was answered: the connection survived them.
    Answered,
    /// The server closed the connection (or the session).
    Closed,
    /// The server refused the namespace join (`44`).
    Refused,
    /// The client left the namespace itself (`41`); nothing more to ask.
    Left,
    /// The server kept the connection open but did not answer within [`PATIENCE`].
    Hung,
}

impl End {
    pub fn label(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Closed => "closed_by_server",
            Self::Refused => "join_refused",
            Self::Left => "left",
            Self::Hung => "hung",
        }
    }
}

/// Runs `script` from `source` against the server at `url`.
pub async fn run(url: &str, source: Ipv4Addr, script: &Script) -> Result<End> {
    if script.polling {
        Polling::open(url, source).await?.run(script).await
    } else {
        websocket(url, source, script).await
    }
}

async fn websocket(url: &str, source: Ipv4Addr, script: &Script) -> Result<End> {
    let mut socket = client::open_websocket(url, source.into()).await?;
    match next_text(&mut socket).await {
        Read::Text(open) if open.starts_with('0') => {}
        other => bail!("no Engine.IO open packet: {other:?}"),
    }
    for case in &script.before_join {
        if !send_case(&mut socket, case).await {
            return Ok(End::Closed);
        }
    }
    if !send_case(&mut socket, &script.join).await {
        return Ok(End::Closed);
    }
    // The join's answer, on the default namespace.
    loop {
        match next_text(&mut socket).await {
            Read::Text(text) if text.starts_with("40{") || text == "40" => break,
            Read::Text(text) if text.starts_with("44{") => return Ok(End::Refused),
            Read::Text(_) => {}
            Read::Closed => return Ok(End::Closed),
            Read::Silent => return Ok(End::Hung),
        }
    }
    for case in &script.cases {
        if !send_case(&mut socket, case).await {
            return Ok(End::Closed);
        }
        if case.leaves {
            return Ok(End::Left);
        }
    }
    if socket.send(Message::text(probe(PROBE_ACK))).await.is_err() {
        return Ok(End::Closed);
    }
    let answer = format!("43{PROBE_ACK}[");
    loop {
        match next_text(&mut socket).await {
            Read::Text(text) if text.starts_with(&answer) => break,
            Read::Text(_) => {}
            Read::Closed => return Ok(End::Closed),
            Read::Silent => return Ok(End::Hung),
        }
    }
    // A clean close; the server may have closed first.
    let _ = socket.close(None).await;
    Ok(End::Answered)
}

/// Sends a case's frames; false once the server has closed the connection.
async fn send_case(socket: &mut WebSocket, case: &Case) -> bool {
    for frame in &case.frames {
        let message = match frame {
            Frame::Text(text) => Message::text(text.as_str()),
            Frame::Binary(bytes) => Message::binary(bytes.clone()),
        };
        if socket.send(message).await.is_err() {
            return false;
        }
    }
    true
}

#[derive(Debug)]
enum Read {
    Text(String),
    Closed,
    Silent,
}

/// The next text frame, answering pings.
async fn next_text(socket: &mut WebSocket) -> Read {
    loop {
        let frame = match tokio::time::timeout(PATIENCE, socket.next()).await {
            Err(_) => return Read::Silent,
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(_)) | None) => return Read::Closed,
        };
        match frame {
            Message::Text(text) if text.as_str() == "2" => {
                let pong = socket.send(Message::text("3")).await;
                if pong.is_err() {
                    return Read::Closed;
                }
            }
            Message::Text(text) => return Read::Text(text.as_str().to_owned()),
            Message::Close(_) => return Read::Closed,
            _ => {}
        }
    }
}

/// An HTTP response: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One request on a connection of its own from `source`, written by hand so that it can be
/// malformed; `None` if the server closed the connection without answering.
pub async fn http(
    uri: &Uri,
    source: Ipv4Addr,
    head: &str,
    body: &[u8],
) -> Result<Option<Response>> {
    let mut stream = client::tcp_from(source, uri).await?;
    let host = uri.authority().context("no host")?;
    let request = format!("{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let exchange = async {
        // The server may answer and close before it has read everything. The connection stays
        // open for writing: hyper takes a half-closed connection for one gone away.
        if stream.write_all(request.as_bytes()).await.is_ok() {
            let _ = stream.write_all(body).await;
        }
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        bytes
    };
    let bytes = tokio::time::timeout(PATIENCE, exchange)
        .await
        .context("no HTTP answer in time")?;
    Ok(parse_response(&bytes))
}

fn parse_response(bytes: &[u8]) -> Option<Response> {
    let split = bytes.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = bytes[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body)?;
    }
    Some(Response { status, body })
}

fn unchunk(mut chunked: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = chunked.windows(2).position(|window| window == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&chunked[..line_end]).ok()?, 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        let data = chunked.get(line_end + 2..line_end + 2 + size)?;
        body.extend_from_slice(data);
        chunked = chunked.get(line_end + 4 + size..)?;
    }
}

/// A long-polling session: the packets of a POST body, or of a GET's answer, are separated by
/// the record separator.
struct Polling {
    uri: Uri,
    source: Ipv4Addr,
    sid: String,
}

const SEPARATOR: char = '\u{1e}';
const PATH: &str = "/socket.io/";

impl Polling {
    async fn open(url: &str, source: Ipv4Addr) -> Result<Self> {
        let uri: Uri = url.parse()?;
        let opened = http(
            &uri,
            source,
            &format!("GET {PATH}?EIO=4&transport=polling HTTP/1.1"),
            b"",
        )
        .await?
        .context("no answer to the polling handshake")?;
        let text = String::from_utf8(opened.body)?;
        let open: serde_json::Value = serde_json::from_str(
            text.strip_prefix('0')
                .with_context(|| format!("no open packet: {text}"))?,
        )?;
        let sid = open["sid"].as_str().context("no sid")?.to_owned();
        Ok(Self { uri, source, sid })
    }

    fn query(&self) -> String {
        format!("EIO=4&transport=polling&sid={}", self.sid)
    }

    async fn request(
        &self,
        method: &str,
        query: &str,
        extra: &str,
        body: &[u8],
    ) -> Result<Option<Response>> {
        let head = format!("{method} {PATH}?{query} HTTP/1.1{extra}");
        http(&self.uri, self.source, &head, body).await
    }

    /// POSTs packets; false if the session is gone.
    async fn post(&self, packets: &[String]) -> Result<bool> {
        let body = packets.join(&SEPARATOR.to_string());
        let extra = format!(
            "\r\nContent-Type: text/plain\r\nContent-Length: {}",
            body.len()
        );
        let answer = self
            .request("POST", &self.query(), &extra, body.as_bytes())
            .await?;
        Ok(answer.is_some_and(|answer| answer.status == 200))
    }

    /// Polls until a packet satisfies `wanted` (answering pings); the packet, or how it ended.
    async fn poll_for(&self, wanted: impl Fn(&str) -> bool) -> Result<Read> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            let Ok(answer) = self.request("GET", &self.query(), "", b"").await else {
                return Ok(Read::Silent);
            };
            let Some(answer) = answer.filter(|answer| answer.status == 200) else {
                return Ok(Read::Closed);
            };
            let body = String::from_utf8_lossy(&answer.body).into_owned();
            for packet in body.split(SEPARATOR) {
                if packet == "1" {
                    return Ok(Read::Closed);
                }
                if packet == "2" && !self.post(&["3".to_owned()]).await? {
                    return Ok(Read::Closed);
                }
                if wanted(packet) {
                    return Ok(Read::Text(packet.to_owned()));
                }
            }
        }
        Ok(Read::Silent)
    }

    /// The packets of `case` as a polling body would carry them (binary ones base64-like).
    fn packets(case: &Case) -> Vec<String> {
        case.frames
            .iter()
            .map(|frame| match frame {
                Frame::Text(text) => text.clone(),
                Frame::Binary(bytes) => {
                    const ALPHABET: &[u8] =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
                    let text = bytes
                        .iter()
                        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
                    std::iter::once('b').chain(text).collect()
                }
            })
            .collect()
    }

    /// Runs `script`, then closes the session whatever came of it: a session left open (after
    /// a malformed request the server did not close it for, say) would hold its memory until
    /// the heartbeat gave up on it.
    async fn run(&self, script: &Script) -> Result<End> {
        let end = self.exchange(script).await?;
        // A session already gone answers 400.
        self.post(&["1".to_owned()]).await?;
        Ok(end)
    }

    async fn exchange(&self, script: &Script) -> Result<End> {
        for case in script.before_join.iter().chain([&script.join]) {
            if !self.post(&Self::packets(case)).await? {
                return Ok(End::Closed);
            }
        }
        match self
            .poll_for(|packet| {
                packet.starts_with("40{") || packet == "40" || packet.starts_with("44{")
            })
            .await?
        {
            Read::Text(packet) if packet.starts_with("44") => {
                return Ok(End::Refused);
            }
            Read::Text(_) => {}
            Read::Closed => return Ok(End::Closed),
            Read::Silent => return Ok(End::Hung),
        }
        // Beside the session, now that it has something to say (a long poll before the join
        // would wait for the handshake timeout).
        for case in &script.http {
            self.http_case(case).await.context(case.kind())?;
        }
        // The cases go in one body, as a client that batches would send them.
        let packets: Vec<String> = script.cases.iter().flat_map(Self::packets).collect();
        if !packets.is_empty() && !self.post(&packets).await? {
            return Ok(End::Closed);
        }
        if script.cases.iter().any(|case| case.leaves) {
            return Ok(End::Left);
        }
        if !self.post(&[probe(PROBE_ACK)]).await? {
            return Ok(End::Closed);
        }
        let answer = format!("43{PROBE_ACK}[");
        match self.poll_for(|packet| packet.starts_with(&answer)).await? {
            Read::Text(_) => Ok(End::Answered),
            Read::Closed => Ok(End::Closed),
            Read::Silent => Ok(End::Hung),
        }
    }

    async fn http_case(&self, case: &HttpCase) -> Result<()> {
        let query = self.query();
        match case {
            HttpCase::Query(query) => {
                self.request("GET", query, "", b"").await?;
            }
            HttpCase::Oversized(size) => {
                let body = format!("4{}", "x".repeat(*size));
                let extra = format!("\r\nContent-Length: {}", body.len());
                self.request("POST", &query, &extra, body.as_bytes())
                    .await?;
            }
            HttpCase::NotUtf8(body) => {
                let extra = format!("\r\nContent-Length: {}", body.len());
                self.request("POST", &query, &extra, body).await?;
            }
            HttpCase::Truncated => {
                let extra = "\r\nContent-Length: 1000";
                let posted = self.request("POST", &query, extra, b"42[\"typing\"");
                if !matches!(tokio::time::timeout(BODY_PATIENCE, posted).await, Ok(Ok(_))) {
                    UNANSWERED_BODIES.fetch_add(1, Ordering::Relaxed);
                }
            }
            HttpCase::BadChunks => {
                let body = b"5\r\n42[\"t\r\nzz\r\nping\r\n0\r\n\r\n";
                self.request("POST", &query, "\r\nTransfer-Encoding: chunked", body)
                    .await?;
            }
            HttpCase::TwoPolls => {
                let (first, second) = tokio::join!(
                    self.request("GET", &query, "", b""),
                    self.request("GET", &query, "", b"")
                );
                first?;
                second?;
            }
            HttpCase::Method(method) => {
                self.request(method, &query, "\r\nContent-Length: 0", b"")
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_plain_and_chunked() {
        let plain = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
        assert_eq!((plain.status, plain.body.as_slice()), (200, &b"ok"[..]));
        let chunked = parse_response(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (chunked.status, chunked.body.as_slice()),
            (400, &b"ok!"[..])
        );
        assert!(parse_response(b"HTTP/1.1 200").is_none());
    }
}
