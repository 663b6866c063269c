//! Connections that send nothing, or too many from one address, cannot lock other clients out:
//! each is closed by a deadline or refused at accept, and everyone else still gets in.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroUsize,
    time::Duration,
};

use serde_json::json;
use server::{Config, ConnectionLimits};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::{
    helpers::{TestApp, temp_data_dir},
    raw::RawWebSocket,
};

/// The handshake timeout the tests configure (well past what a client that does join needs,
/// even on a loaded machine), and the client's own deadline for seeing the server close the
/// connection: well past the timeout, well short of "never".
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

async fn spawn_with(connections: ConnectionLimits) -> TestApp {
    TestApp::spawn_with(Config {
        connections,
        ..Config::new(temp_data_dir())
    })
    .await
}

async fn spawn_with_handshake_timeout() -> TestApp {
    spawn_with(ConnectionLimits {
        handshake_timeout: HANDSHAKE_TIMEOUT,
        ..ConnectionLimits::default()
    })
    .await
}

fn address(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection, failing past `deadline`; returns what the
/// server sent first (a 408 response, or nothing).
async fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server kept the connection open past {deadline:?}"));
    received
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = spawn_with_handshake_timeout().await;
    let mut idle = TcpStream::connect(address(&app)).await.expect("connect");
    read_until_closed(&mut idle, CLOSE_DEADLINE).await;
    app.stop().await;
}

#[tokio::test]
async fn a_trickled_request_head_is_closed() {
    let app = spawn_with_handshake_timeout().await;
    let mut slow = TcpStream::connect(address(&app)).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: chat\r\n")
        .await
        .expect("write the start of a request");
    // One more header line every 100 ms: the client is never silent for long, but its head never
    // ends, so only a deadline on the whole head closes it.
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(CLOSE_DEADLINE, async {
        loop {
            tokio::select! {
                _ = pace.tick() => {
                    if slow.write_all(b"X-Trickle: 1\r\n").await.is_err() {
                        return;
                    }
                }
                read = slow.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a client trickling its request head kept the connection past {CLOSE_DEADLINE:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_coming_is_cut_off() {
    let app = spawn_with_handshake_timeout().await;
    for path in ["/api/rooms", "/socket.io/?EIO=4&transport=polling&sid=x"] {
        let mut stalled = TcpStream::connect(address(&app)).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: chat\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 1000\r\n\r\ntoken=abcd"
        );
        stalled
            .write_all(head.as_bytes())
            .await
            .expect("write a head and the start of a body");
        read_until_closed(&mut stalled, CLOSE_DEADLINE).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_session_that_never_joins_the_namespace_is_closed() {
    let app = spawn_with_handshake_timeout().await;
    let mut lurker = RawWebSocket::open(&app.url).await;
    lurker.closed_within(CLOSE_DEADLINE).await;
    // A client that does join in time stays, and chats.
    RawWebSocket::still_chats(&app.url).await;
    app.stop().await;
}

#[tokio::test]
async fn an_address_over_its_cap_is_refused_while_others_connect() {
    let app = spawn_with(ConnectionLimits {
        max_per_ip: NonZeroUsize::new(2),
        ..ConnectionLimits::default()
    })
    .await;
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let _first = RawWebSocket::connect_from(&app.url, local).await;
    let _second = RawWebSocket::connect_from(&app.url, local).await;

    // The handshake timeout is the default (10 s): a close within the deadline is the refusal.
    let mut third = TcpStream::connect(address(&app)).await.expect("connect");
    let answer = read_until_closed(&mut third, CLOSE_DEADLINE).await;
    assert!(answer.is_empty(), "a refused connection gets no answer");

    // Another address is not affected.
    RawWebSocket::connect_from(&app.url, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .await
        .chats()
        .await;
    app.stop().await;
}

#[tokio::test]
async fn past_the_server_wide_cap_new_connections_are_refused_until_one_closes() {
    let app = spawn_with(ConnectionLimits {
        max_connections: NonZeroUsize::new(2),
        ..ConnectionLimits::default()
    })
    .await;
    let first = RawWebSocket::connect_from(&app.url, IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    let _second =
        RawWebSocket::connect_from(&app.url, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).await;
    // Whatever the address.
    let mut third = tcp_from(&app, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))).await;
    let answer = read_until_closed(&mut third, CLOSE_DEADLINE).await;
    assert!(answer.is_empty(), "a refused connection gets no answer");

    // The place comes back once the server has seen the socket close.
    drop(first);
    let deadline = tokio::time::Instant::now() + CLOSE_DEADLINE;
    while reqwest::get(format!("{}/healthz", app.url)).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no place came back after a connection closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_is_not_capped_per_address() {
    let proxy = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let app = spawn_with(ConnectionLimits {
        max_per_ip: NonZeroUsize::new(1),
        trusted_proxies: vec![proxy],
        ..ConnectionLimits::default()
    })
    .await;
    let mut first = RawWebSocket::connect_from(&app.url, proxy).await;
    let mut second = RawWebSocket::connect_from(&app.url, proxy).await;
    first.chats().await;
    second.chats().await;
    // Any other address still is.
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let _held = RawWebSocket::connect_from(&app.url, other).await;
    let mut refused = tcp_from(&app, other).await;
    assert!(
        read_until_closed(&mut refused, CLOSE_DEADLINE)
            .await
            .is_empty()
    );
    app.stop().await;
}

/// A TCP connection to the app from the local address `ip`.
async fn tcp_from(app: &TestApp, ip: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(ip, 0)).expect("bind");
    socket
        .connect(address(app).parse().expect("ip:port"))
        .await
        .expect("connect")
}

#[tokio::test]
async fn new_connections_from_one_address_have_a_budget() {
    let app = TestApp::spawn().await;
    // All kept open, under the default cap of 256 open connections: what refuses one is the
    // budget of new connections (64 at once, then 20 a second).
    let mut open = Vec::new();
    let message = loop {
        assert!(open.len() < 200, "200 connections in a row, none refused");
        let mut client = RawWebSocket::open(&app.url).await;
        match client.join_or_refusal(&json!({})).await {
            Ok(()) => open.push(client),
            Err(message) => break message,
        }
    };
    assert!(open.len() >= 64, "refused after {}", open.len());
    assert!(message.contains("too fast"), "{message}");
    // Another address has a budget of its own.
    RawWebSocket::connect_from(&app.url, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).await;
    app.stop().await;
}
