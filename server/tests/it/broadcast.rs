//! `chatMessage` reaches every client, the sender included, in both payload forms.

use rust_socketio::TransportType;
use serde_json::json;
use shared::{Ack, ChatMessage, Sent};

use crate::helpers::event;

use crate::{helpers::TestApp, raw::RawWebSocket};

fn message(value: serde_json::Value) -> ChatMessage {
    serde_json::from_value(value).expect("a chatMessage payload")
}

#[tokio::test]
async fn a_bare_string_reaches_the_sender_and_the_other_client() {
    let app = TestApp::spawn().await;
    let mut alice = app.client().await;
    let mut bob = app.client().await;

    alice
        .emit(event::CHAT_MESSAGE, json!("hello from the seed"))
        .await;

    let to_alice = message(alice.next(event::CHAT_MESSAGE).await);
    let to_bob = message(bob.next(event::CHAT_MESSAGE).await);
    assert_eq!(to_alice, to_bob);
    assert_eq!(to_bob.text, "hello from the seed");
    assert!(!to_bob.id.is_empty());
    assert!(to_bob.sent_at > 0);
    app.stop().await;
}

#[tokio::test]
async fn an_object_is_acknowledged_with_the_stamped_message() {
    let app = TestApp::spawn().await;
    let mut alice = app.client().await;
    let mut bob = app.client().await;

    let ack = alice
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "text": "  hi there  ", "clientId": "c-42" }),
        )
        .await;
    let Ack::<Sent>::Ok(Sent { message: acked }) = serde_json::from_value(ack).expect("ack shape")
    else {
        panic!("message refused");
    };
    assert_eq!(acked.text, "hi there");
    assert_eq!(acked.client_id.as_deref(), Some("c-42"));

    assert_eq!(message(bob.next(event::CHAT_MESSAGE).await), acked);
    assert_eq!(message(alice.next(event::CHAT_MESSAGE).await), acked);
    app.stop().await;
}

#[tokio::test]
async fn many_clients_each_receive_every_message_in_order() {
    const CLIENTS: usize = 12;
    let app = TestApp::spawn().await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(app.client().await);
    }

    // One sender keeps a known order; every client must see exactly that order.
    for n in 0..CLIENTS {
        clients[0]
            .emit(event::CHAT_MESSAGE, json!(format!("message {n}")))
            .await;
    }
    for client in &mut clients {
        for n in 0..CLIENTS {
            let received = message(client.next(event::CHAT_MESSAGE).await);
            assert_eq!(received.text, format!("message {n}"));
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn long_polling_clients_chat_with_websocket_clients() {
    let app = TestApp::spawn().await;
    let mut polling = app.client_over(TransportType::Polling).await;
    let mut websocket = app.client().await;

    polling
        .emit(event::CHAT_MESSAGE, json!("over polling"))
        .await;
    assert_eq!(
        message(websocket.next(event::CHAT_MESSAGE).await).text,
        "over polling"
    );
    assert_eq!(
        message(polling.next(event::CHAT_MESSAGE).await).text,
        "over polling"
    );

    websocket
        .emit(event::CHAT_MESSAGE, json!("over websocket"))
        .await;
    assert_eq!(
        message(polling.next(event::CHAT_MESSAGE).await).text,
        "over websocket"
    );
    app.stop().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_returns() {
    let app = TestApp::spawn().await;
    let mut client = RawWebSocket::connect(&app.url).await;
    app.stop().await;
    client.closed().await;
}
