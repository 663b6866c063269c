//! The operator's endpoints over HTTP: health, readiness, and metrics that move with the chat.
//! (Readiness failing when PostgreSQL or Redis is away is in the cluster tests.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, event, refusal_code};

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::get(format!("{}{path}", app.url))
        .await
        .expect("request")
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = get(app, path).await;
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{path}"
    );
    let body = response.text().await.expect("body");
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

/// The value of the series `series` (a name with its labels, as the text format writes them)
/// in a scrape; 0 if it is not there yet.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

/// The sum of every series of metric `name`, whatever its labels.
fn total(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let response = get(app, "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/plain; version=0.0.4"),
    );
    response.text().await.expect("body")
}

#[tokio::test]
async fn health_and_readiness_answer_in_json() {
    let app = TestApp::spawn().await;
    assert_eq!(
        get_json(&app, "/healthz").await,
        (StatusCode::OK, json!({ "status": "ok" }))
    );
    assert_eq!(
        get_json(&app, "/readyz").await,
        (StatusCode::OK, json!({ "status": "ready" }))
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_move_with_what_clients_do() {
    let app = TestApp::spawn().await;
    let client = app.client().await;
    let before = scrape(&app).await;
    assert_eq!(
        sample(&before, r#"chat_connections{transport="websocket"}"#),
        1.0
    );
    assert_eq!(sample(&before, "chat_presence_rooms"), 1.0, "general");

    let ack = client
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "room": "general", "text": "measured", "clientId": "m-1" }),
        )
        .await;
    assert_eq!(refusal_code(&ack), None);
    let empty = client
        .emit_with_ack(event::CHAT_MESSAGE, json!({ "text": "  " }))
        .await;
    assert_eq!(refusal_code(&empty), Some("empty_message"));
    // An event the server does not know is counted under `other`, never under its own name.
    client.emit("madeUpEvent", json!({})).await;
    let sync = client
        .emit_with_ack(event::SYNC, json!({ "rooms": [] }))
        .await;
    assert_eq!(refusal_code(&sync), None);

    let after = scrape(&app).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(moved("chat_messages_stored_total"), 1.0);
    assert_eq!(moved("chat_ack_latency_seconds_count"), 1.0);
    assert!(moved("chat_ack_latency_seconds_sum") > 0.0);
    assert_eq!(
        moved(r#"chat_ack_latency_seconds_bucket{le="+Inf"}"#),
        1.0,
        "a histogram: {after}"
    );
    assert_eq!(
        moved(r#"chat_events_received_total{event="chatMessage"}"#),
        2.0
    );
    assert_eq!(moved(r#"chat_events_received_total{event="sync"}"#), 1.0);
    assert_eq!(moved(r#"chat_events_received_total{event="other"}"#), 1.0);
    assert!(!after.contains("madeUpEvent"), "{after}");
    assert_eq!(moved(r#"chat_refusals_total{code="empty_message"}"#), 1.0);
    assert!(moved("chat_commit_batch_messages_count") >= 1.0);
    assert!(moved("chat_commit_latency_seconds_count") >= 1.0);
    assert!(
        after.contains("# HELP chat_ack_latency_seconds "),
        "{after}"
    );

    client.disconnect().await;
    // The disconnection is counted once the server has handled it, which no client sees: polled.
    let deadline = tokio::time::Instant::now() + crate::helpers::PATIENCE;
    loop {
        let now = scrape(&app).await;
        if total(&now, "chat_disconnects_total") > total(&before, "chat_disconnects_total") {
            assert_eq!(
                sample(&now, r#"chat_connections{transport="websocket"}"#),
                0.0
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no disconnection counted: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.stop().await;
}
