//! Shutdown has a deadline: a client holding a half-sent request cannot keep `run` from
//! returning.

use std::time::Duration;

use server::{Config, ConnectionLimits};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};

use crate::helpers::{TestApp, temp_data_dir};

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_half_sent_request_does_not_hold_up_shutdown() {
    let app = TestApp::spawn_with(Config {
        connections: ConnectionLimits {
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            ..ConnectionLimits::default()
        },
        ..Config::new(temp_data_dir())
    })
    .await;
    let mut stalled = TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .expect("connect");
    // `Expect: 100-continue` makes the server say when the handler starts reading the body, so
    // the request is known to be in progress before the shutdown begins.
    stalled
        .write_all(
            b"POST /api/history HTTP/1.1\r\nHost: chat\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .expect("send the request head");
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut answer))
        .await
        .expect("an answer to the request head in time")
        .expect("read");
    assert!(
        answer[..read].starts_with(b"HTTP/1.1 100"),
        "expected 100 Continue, got {:?}",
        String::from_utf8_lossy(&answer[..read])
    );
    stalled
        .write_all(b"token=abc&room=")
        .await
        .expect("send part of the body");

    let stopping = Instant::now();
    app.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < SHUTDOWN_TIMEOUT + Duration::from_secs(2),
        "shutdown took {took:?} with a {SHUTDOWN_TIMEOUT:?} deadline"
    );
    drop(stalled);
}
