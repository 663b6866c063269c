//! Bad input gets a structured refusal, reaches nobody, and leaves the connection working.

use serde_json::{Value, json};
use shared::{Ack, ErrorPayload, MAX_MESSAGE_CHARS, Sent};

use crate::helpers::event;

use crate::{
    helpers::{TestApp, TestClient},
    raw::{RawWebSocket, event_packet},
};

fn refusal(ack: Value) -> ErrorPayload {
    match serde_json::from_value(ack).expect("ack shape") {
        Ack::<Sent>::Error { error } => error,
        Ack::<Sent>::Ok(Sent { message }) => panic!("accepted {message:?}"),
    }
}

/// Proves nothing else was delivered before: the next message `bob` sees is this marker.
async fn assert_next_is_marker(alice: &TestClient, bob: &mut TestClient) {
    alice.emit(event::CHAT_MESSAGE, json!("marker")).await;
    let next = bob.next(event::CHAT_MESSAGE).await;
    assert_eq!(next["text"], "marker");
}

#[tokio::test]
async fn invalid_payloads_are_refused_with_a_code_and_reach_nobody() {
    let app = TestApp::spawn().await;
    let mut alice = app.client().await;
    let mut bob = app.client().await;

    let cases = [
        (json!(42), "invalid_payload"),
        (json!({ "body": "no text field" }), "invalid_payload"),
        (json!({ "text": 7 }), "invalid_payload"),
        (json!(null), "invalid_payload"),
        (json!(""), "empty_message"),
        (json!({ "text": " \n\t " }), "empty_message"),
        (json!("x".repeat(MAX_MESSAGE_CHARS + 1)), "message_too_long"),
        (json!("ring \u{7}"), "invalid_characters"),
    ];
    for (payload, code) in cases {
        let error = refusal(
            alice
                .emit_with_ack(event::CHAT_MESSAGE, payload.clone())
                .await,
        );
        assert_eq!(json!(error.code), code, "for {payload}");
        assert!(!error.message.is_empty());
    }

    assert_next_is_marker(&alice, &mut bob).await;
    assert_eq!(alice.next(event::CHAT_MESSAGE).await["text"], "marker");
    app.stop().await;
}

#[tokio::test]
async fn without_an_ack_the_refusal_comes_as_an_error_event() {
    let app = TestApp::spawn().await;
    let mut alice = app.client().await;
    let mut bob = app.client().await;

    alice.emit(event::CHAT_MESSAGE, json!("   ")).await;
    let error: ErrorPayload =
        serde_json::from_value(alice.next(event::ERROR).await).expect("error payload");
    assert_eq!(json!(error.code), "empty_message");

    assert_next_is_marker(&alice, &mut bob).await;
    app.stop().await;
}

#[tokio::test]
async fn a_message_at_the_limit_is_accepted() {
    let app = TestApp::spawn().await;
    let alice = app.client().await;
    let text = "é".repeat(MAX_MESSAGE_CHARS);
    let ack = alice
        .emit_with_ack(event::CHAT_MESSAGE, json!({ "text": text }))
        .await;
    assert!(matches!(
        serde_json::from_value(ack).expect("ack shape"),
        Ack::<Sent>::Ok(_)
    ));
    app.stop().await;
}

#[tokio::test]
async fn unknown_events_are_ignored_and_the_connection_keeps_working() {
    let app = TestApp::spawn().await;
    let alice = app.client().await;
    let mut bob = app.client().await;

    alice.emit("noSuchEvent", json!({ "x": 1 })).await;
    assert_next_is_marker(&alice, &mut bob).await;
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_packet_closes_only_that_connection() {
    let app = TestApp::spawn().await;
    let mut alice = RawWebSocket::connect(&app.url).await;
    let mut bob = app.client().await;
    let mut carol = app.client().await;

    let huge = "x".repeat(usize::try_from(shared::MAX_PACKET_BYTES).expect("fits") * 2);
    alice
        .send_packet(event_packet(event::CHAT_MESSAGE, &json!(huge)))
        .await;
    alice.closed().await;

    assert_next_is_marker(&carol, &mut bob).await;
    assert_eq!(carol.next(event::CHAT_MESSAGE).await["text"], "marker");
    app.stop().await;
}

#[tokio::test]
async fn malformed_packets_affect_only_their_sender() {
    let app = TestApp::spawn().await;
    let mut bob = app.client().await;
    let mut carol = app.client().await;
    for garbage in [
        "42[\"chatMessage\",",
        "42{not json}",
        "4",
        "9999",
        "42[]",
        "42[123]",
    ] {
        let mut mallory = RawWebSocket::connect(&app.url).await;
        mallory.send_packet(garbage.to_owned()).await;
        // Whether the server drops such a connection or ignores the packet, the others chat on.
        assert_next_is_marker(&carol, &mut bob).await;
        assert_eq!(carol.next(event::CHAT_MESSAGE).await["text"], "marker");
    }
    app.stop().await;
}
