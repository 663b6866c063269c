//! A user is a session, whatever their connections do: a guest's token is valid from the
//! welcome on, a guest's first requests may come at once, and leaving a room leaves it in every
//! tab (issue 8, defects 2, 5 and 17).

use serde_json::json;

use crate::{
    helpers::{TestApp, pipelined_requests, refusal_code},
    raw::RawWebSocket,
};

#[tokio::test]
async fn a_guests_token_from_the_welcome_is_the_same_user_when_reconnecting() {
    let app = TestApp::spawn().await;
    let guest = app.client_with(json!({})).await;
    let first = guest.welcome_json();
    // The guest does nothing at all before going.
    guest.disconnect().await;

    let again = app
        .client_with(json!({ "token": first["token"] }))
        .await
        .welcome_json();
    assert_eq!(
        again["user"], first["user"],
        "the token of a guest's welcome made a different user"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_guests_token_opens_a_second_tab_of_the_same_user() {
    let app = TestApp::spawn().await;
    let tab1 = app.client_with(json!({})).await;
    let user = tab1.welcome_json()["user"].clone();

    let tab2 = app.client_with(json!({ "token": tab1.token() })).await;
    assert_eq!(
        tab2.welcome_json()["user"],
        user,
        "a second tab with the guest's token is a different user"
    );
    let members = tab2
        .emit_with_ack("members", json!({ "room": "general" }))
        .await;
    assert_eq!(members["members"], json!([user]), "two tabs are one member");
    app.stop().await;
}

#[tokio::test]
async fn a_guests_first_requests_sent_together_both_succeed() {
    const GUESTS: usize = 4;
    let app = TestApp::spawn().await;
    for n in 0..GUESTS {
        let mut guest = RawWebSocket::connect(&app.url).await;
        let room = format!("room-{n}");
        let name = format!("Guest number {n}");
        // Both are sent before either is answered: each must store the guest, once.
        let requests = [
            ("createRoom", json!({ "room": room })),
            ("rename", json!({ "name": name })),
        ];
        let [created, renamed] = &pipelined_requests(&mut guest, &requests).await[..] else {
            unreachable!("two requests, two acks");
        };
        assert_eq!(refusal_code(created), None, "createRoom refused: {created}");
        assert_eq!(refusal_code(renamed), None, "rename refused: {renamed}");

        let again = app
            .client_with(json!({ "token": guest.welcome["token"] }))
            .await
            .welcome_json();
        assert_eq!(again["user"]["id"], guest.welcome["user"]["id"]);
        assert_eq!(again["user"]["name"], name);
        let rooms: Vec<&str> = again["rooms"]
            .as_array()
            .expect("rooms")
            .iter()
            .map(|r| r["name"].as_str().expect("a room name"))
            .collect();
        assert_eq!(rooms, ["general", room.as_str()]);
    }
    app.stop().await;
}

#[tokio::test]
async fn leaving_a_room_in_one_tab_leaves_it_in_every_tab() {
    let app = TestApp::spawn().await;
    let watcher = app.client_with(json!({ "name": "Watcher" })).await;
    let created = watcher
        .emit_with_ack("createRoom", json!({ "room": "rust" }))
        .await;
    assert_eq!(refusal_code(&created), None, "{created}");
    let tab1 = app.client_with(json!({ "name": "Ada" })).await;
    let joined = tab1
        .emit_with_ack("joinRoom", json!({ "room": "rust" }))
        .await;
    assert_eq!(refusal_code(&joined), None, "{joined}");
    let mut tab2 = app.client_with(json!({ "token": tab1.token() })).await;

    let left = tab1
        .emit_with_ack("leaveRoom", json!({ "room": "rust" }))
        .await;
    assert_eq!(refusal_code(&left), None, "{left}");

    // Tab 2 no longer receives #rust: the next message it gets is the marker in general, sent
    // after one in #rust.
    for (room, text) in [("rust", "after Ada left"), ("general", "marker")] {
        let sent = watcher
            .emit_with_ack("chatMessage", json!({ "room": room, "text": text }))
            .await;
        assert_eq!(refusal_code(&sent), None, "{sent}");
    }
    let next = tab2.next("chatMessage").await;
    assert_eq!(
        (&next["room"], &next["text"]),
        (&json!("general"), &json!("marker")),
        "tab 2 still receives #rust after Ada left it in tab 1"
    );

    // Nor may it post there, or list who is there.
    let posted = tab2
        .emit_with_ack(
            "chatMessage",
            json!({ "room": "rust", "text": "still here?" }),
        )
        .await;
    assert_eq!(
        refusal_code(&posted),
        Some("not_a_member"),
        "tab 2 posted in #rust after Ada left it in tab 1: {posted}"
    );
    let members = tab2
        .emit_with_ack("members", json!({ "room": "rust" }))
        .await;
    assert_eq!(refusal_code(&members), Some("not_a_member"), "{members}");
    let listed = watcher
        .emit_with_ack("members", json!({ "room": "rust" }))
        .await;
    assert_eq!(
        listed["members"],
        json!([watcher.welcome_json()["user"]]),
        "Ada left #rust but is still listed in it"
    );
    app.stop().await;
}
