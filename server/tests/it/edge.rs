//! The edge: pages of other origins are refused before they reach the chat, programs without an
//! `Origin` are not, and every response carries the security headers.

use reqwest::{Client, Method, StatusCode, header};
use serde_json::Value;
use server::Config;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use crate::helpers::{TestApp, temp_data_dir};

const EVIL: &str = "https://evil.example";
const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

/// `method path` with `Origin: origin` (none if `None`): the status and, for a refusal, its code.
async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    origin: Option<&str>,
) -> (StatusCode, Option<String>) {
    let mut request = Client::new().request(method, format!("{}{path}", app.url));
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    if path.starts_with("/api/") {
        request = request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("token=nope");
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let body = response.text().await.expect("body");
    let body: Option<Value> = serde_json::from_str(&body).ok();
    let code = body.and_then(|body| body["code"].as_str().map(str::to_owned));
    (status, code)
}

/// Opens the Socket.io WebSocket with `Origin: origin`: the handshake's HTTP status.
async fn websocket_status(app: &TestApp, origin: &str) -> u16 {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        app.url.replace("http://", "ws://")
    );
    let mut handshake = url.into_client_request().expect("request");
    handshake
        .headers_mut()
        .insert("origin", origin.parse().expect("header"));
    match tokio_tungstenite::connect_async(handshake).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(error) => panic!("websocket: {error}"),
    }
}

#[tokio::test]
async fn a_page_of_another_origin_can_neither_connect_nor_call_a_server_function() {
    let app = TestApp::spawn().await;
    let own = app.url.clone();

    let (status, code) = request(&app, Method::GET, HANDSHAKE, Some(EVIL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code.as_deref(), Some("forbidden"));
    assert_eq!(websocket_status(&app, EVIL).await, 403);
    let (status, code) = request(&app, Method::POST, "/api/rooms", Some(EVIL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code.as_deref(), Some("forbidden"));
    // Engine.IO also answers without the slash: the same check.
    let bare = "/socket.io?EIO=4&transport=polling";
    let (status, _) = request(&app, Method::GET, bare, Some(EVIL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{bare}");
    // A sandboxed frame or a file:// page says "null".
    let (status, _) = request(&app, Method::GET, HANDSHAKE, Some("null")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The page's own origin, and programs that send none, get through.
    assert_eq!(
        request(&app, Method::GET, HANDSHAKE, Some(&own)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        request(&app, Method::GET, HANDSHAKE, None).await.0,
        StatusCode::OK
    );
    assert_eq!(websocket_status(&app, &own).await, 101);
    let (status, code) = request(&app, Method::POST, "/api/rooms", Some(&own)).await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("unknown_session")),
        "past the origin check, the chat itself answers"
    );
    // The client script is a public file.
    let (status, _) = request(&app, Method::GET, "/socket.io/socket.io.js", Some(EVIL)).await;
    assert_eq!(status, StatusCode::OK);
    // A bare client still chats.
    app.client().await.disconnect().await;
    app.stop().await;
}

#[tokio::test]
async fn an_allowed_origin_gets_through() {
    let app = TestApp::spawn_with(Config {
        allowed_origins: vec![server::parse_origin("https://App.example.com/").expect("origin")],
        ..Config::new(temp_data_dir())
    })
    .await;
    let (status, _) = request(
        &app,
        Method::GET,
        HANDSHAKE,
        Some("https://app.example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(websocket_status(&app, "https://app.example.com").await, 101);
    assert_eq!(websocket_status(&app, EVIL).await, 403);
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/socket.io/socket.io.js",
        HANDSHAKE,
        "/no-such-file.txt",
    ] {
        let response = reqwest::get(format!("{}{path}", app.url))
            .await
            .expect("request");
        let get = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_str()
                .expect("ASCII")
                .to_owned()
        };
        let policy = get("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-",
            "style-src 'self' 'sha256-",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} not in {policy}"
            );
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(get("x-content-type-options"), "nosniff");
        assert_eq!(get("referrer-policy"), "no-referrer");
        assert_eq!(get("x-frame-options"), "DENY");
        assert!(get("permissions-policy").contains("camera=()"));
    }
    app.stop().await;
}
