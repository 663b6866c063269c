//! Rooms are capped, per user (`Config::max_rooms_per_user`) and in total (`Config::max_rooms`):
//! past either cap `createRoom` and `joinRoom` answer `too_many_rooms` and change nothing
//! (issue 8, defect 13).
//!
//! This module needs `max_rooms_per_user: usize` and `max_rooms: usize` on `server::Config`;
//! it is registered in `main.rs` once they exist.

use serde_json::{Value, json};
use server::Config;

use crate::helpers::{TestApp, TestClient, refusal_code, temp_data_dir};

async fn request(client: &TestClient, event: &str, room: &str) -> Value {
    client.emit_with_ack(event, json!({ "room": room })).await
}

/// The codes of `answers`, which must be some successes followed only by `too_many_rooms`;
/// returns how many succeeded.
fn successes_then_too_many(answers: &[Value]) -> usize {
    let accepted = answers
        .iter()
        .take_while(|ack| refusal_code(ack).is_none())
        .count();
    for ack in &answers[accepted..] {
        assert_eq!(refusal_code(ack), Some("too_many_rooms"), "{ack}");
    }
    accepted
}

#[tokio::test]
async fn a_user_is_in_at_most_max_rooms_per_user_rooms() {
    const CAP: usize = 3;
    let app = TestApp::spawn_with(Config {
        max_rooms_per_user: CAP,
        ..Config::new(temp_data_dir())
    })
    .await;
    let other = app.client_with(json!({ "name": "Other" })).await;
    assert_eq!(
        refusal_code(&request(&other, "createRoom", "open").await),
        None
    );
    let ada = app.client_with(json!({ "name": "Ada" })).await;

    let mut answers = Vec::new();
    for n in 0..=CAP {
        answers.push(request(&ada, "createRoom", &format!("ada-{n}")).await);
    }
    // Whether general counts against the cap is the server's choice.
    let created = successes_then_too_many(&answers);
    assert!(
        created == CAP || created == CAP - 1,
        "{created} rooms created under a cap of {CAP} per user"
    );
    let refused = format!("ada-{created}");
    assert_eq!(
        refusal_code(&request(&other, "joinRoom", &refused).await),
        Some("room_not_found"),
        "a refused createRoom created nothing"
    );

    // Joining counts too, and leaving makes room again.
    let joined = request(&ada, "joinRoom", "open").await;
    assert_eq!(refusal_code(&joined), Some("too_many_rooms"), "{joined}");
    assert_eq!(
        refusal_code(&request(&ada, "leaveRoom", "ada-0").await),
        None
    );
    let joined = request(&ada, "joinRoom", "open").await;
    assert_eq!(refusal_code(&joined), None, "{joined}");
    app.stop().await;
}

#[tokio::test]
async fn the_server_holds_at_most_max_rooms_rooms() {
    const TOTAL: usize = 4;
    let app = TestApp::spawn_with(Config {
        max_rooms: TOTAL,
        ..Config::new(temp_data_dir())
    })
    .await;
    let ada = app.client_with(json!({ "name": "Ada" })).await;
    let bob = app.client_with(json!({ "name": "Bob" })).await;

    // Two people, so that the per-user cap plays no part.
    let mut answers = Vec::new();
    for n in 0..=TOTAL {
        let creator = if n % 2 == 0 { &ada } else { &bob };
        answers.push(request(creator, "createRoom", &format!("room-{n}")).await);
    }
    // Whether general counts against the cap is the server's choice.
    let created = successes_then_too_many(&answers);
    assert!(
        created == TOTAL || created == TOTAL - 1,
        "{created} rooms created under a cap of {TOTAL} in all"
    );
    let refused = format!("room-{created}");
    assert_eq!(
        refusal_code(&request(&bob, "joinRoom", &refused).await),
        Some("room_not_found"),
        "a refused createRoom created nothing"
    );
    // Rooms that exist can still be joined.
    let joined = request(&bob, "joinRoom", "room-0").await;
    assert_eq!(refusal_code(&joined), None, "{joined}");
    app.stop().await;
}
