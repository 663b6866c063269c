//! Rooms, sessions, presence and typing.

use std::time::Duration;

use serde_json::json;
use server::Config;
use shared::Typing;

use crate::helpers::event;

use crate::{
    helpers::{TestApp, named, temp_data_dir},
    raw::RawWebSocket,
};

#[tokio::test]
async fn rooms_are_created_joined_and_left_with_clear_errors() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;

    let created = ada
        .emit_with_ack(event::CREATE_ROOM, json!({ "room": " Rust " }))
        .await;
    assert_eq!(created["status"], "ok");
    assert_eq!(created["room"]["name"], "rust");
    for (request, code) in [
        (json!({ "room": "rust" }), "room_exists"),
        (json!({ "room": "no spaces" }), "invalid_room"),
        (json!({ "nope": 1 }), "invalid_payload"),
    ] {
        let refused = ada.emit_with_ack(event::CREATE_ROOM, request).await;
        assert_eq!(refused["error"]["code"], code);
    }
    let missing = bob
        .emit_with_ack(event::JOIN_ROOM, json!({ "room": "nowhere" }))
        .await;
    assert_eq!(missing["error"]["code"], "room_not_found");

    // Bob is not in #rust: he may not post there and does not receive its messages.
    let refused = bob
        .emit_with_ack(event::CHAT_MESSAGE, json!({ "room": "rust", "text": "hi" }))
        .await;
    assert_eq!(refused["error"]["code"], "not_a_member");
    ada.emit(
        event::CHAT_MESSAGE,
        json!({ "room": "rust", "text": "members only" }),
    )
    .await;
    ada.emit(
        event::CHAT_MESSAGE,
        json!({ "room": "general", "text": "for everyone" }),
    )
    .await;
    assert_eq!(bob.next(event::CHAT_MESSAGE).await["text"], "for everyone");

    let joined = bob
        .emit_with_ack(event::JOIN_ROOM, json!({ "room": "rust" }))
        .await;
    assert_eq!(joined["room"]["lastSeq"], 1);
    let members: Vec<&str> = joined["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["Ada", "Bob"]);
    ada.emit(
        event::CHAT_MESSAGE,
        json!({ "room": "rust", "text": "welcome Bob" }),
    )
    .await;
    assert_eq!(bob.next(event::CHAT_MESSAGE).await["text"], "welcome Bob");

    let left = bob
        .emit_with_ack(event::LEAVE_ROOM, json!({ "room": "rust" }))
        .await;
    assert_eq!(left, json!({ "status": "ok" }));
    let stay = bob
        .emit_with_ack(event::LEAVE_ROOM, json!({ "room": "general" }))
        .await;
    assert_eq!(stay["error"]["code"], "cannot_leave_default_room");
    app.stop().await;
}

#[tokio::test]
async fn names_are_validated_and_renaming_updates_presence() {
    let app = TestApp::spawn().await;
    let guest = app.client().await;
    assert!(guest.welcome.user.name.starts_with("Guest "));

    let mut ada = app.client_as(named("  Ada  ")).await;
    assert_eq!(ada.welcome.user.name, "Ada");
    let refused = ada
        .emit_with_ack(event::RENAME, json!({ "name": "" }))
        .await;
    assert_eq!(refused["error"]["code"], "invalid_name");
    let renamed = ada
        .emit_with_ack(event::RENAME, json!({ "name": "Ada L." }))
        .await;
    assert_eq!(renamed["user"]["name"], "Ada L.");
    ada.presence_until(|p| p.joined.iter().any(|m| m.name == "Ada L."))
        .await;
    app.stop().await;
}

#[tokio::test]
async fn two_tabs_are_one_member_and_closing_both_removes_them() {
    let app = TestApp::spawn().await;
    let mut watcher = app.client_as(named("Watcher")).await;
    let names = |users: &[shared::Author]| -> Vec<String> {
        users.iter().map(|m| m.name.clone()).collect()
    };

    let tab1 = app.client_as(named("Ada")).await;
    let arrived = watcher
        .presence_until(|p| names(&p.joined).contains(&"Ada".to_owned()))
        .await;
    assert_eq!(arrived.online, 2);

    // A second tab of the same session is not a second member, and closing one of the two
    // keeps Ada online: the rename below is the next presence change the watcher sees.
    let tab2 = app.client_with_token(&tab1.token()).await;
    tab1.disconnect().await;
    tab2.emit_with_ack(event::RENAME, json!({ "name": "Ada L." }))
        .await;
    let renamed = watcher.presence_until(|_| true).await;
    assert_eq!(
        (names(&renamed.joined), renamed.left.len(), renamed.online),
        (vec!["Ada L.".to_owned()], 0, 2)
    );

    tab2.disconnect().await;
    let gone = watcher.presence_until(|_| true).await;
    assert_eq!(
        (names(&gone.left), gone.online),
        (vec!["Ada L.".to_owned()], 1)
    );

    let members = watcher
        .emit_with_ack(event::MEMBERS, json!({ "room": "general" }))
        .await;
    assert_eq!(members["members"], json!([watcher.welcome.user]));
    let refused = watcher
        .emit_with_ack(event::MEMBERS, json!({ "room": "elsewhere" }))
        .await;
    assert_eq!(refused["error"]["code"], "room_not_found");
    app.stop().await;
}

#[tokio::test]
async fn typing_reaches_the_others_in_the_room() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    ada.emit(event::TYPING, json!({ "room": "general" })).await;
    let typing: Typing = serde_json::from_value(bob.next(event::TYPING).await).unwrap();
    assert_eq!(
        (typing.room.as_str(), typing.user.name.as_str()),
        ("general", "Ada")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_leaves_presence() {
    // Short enough for a quick test, long enough that the watcher, on a busy machine, answers
    // its own pings in time.
    let app = TestApp::spawn_with(Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(1000),
        ..Config::new(temp_data_dir())
    })
    .await;
    let mut watcher = app.client_as(named("Watcher")).await;
    // A raw client answers pings only while it reads; this one connects and then goes silent,
    // like a laptop that was shut.
    let _silent = RawWebSocket::connect_as(&app.url, &json!({ "name": "Sleeper" })).await;
    watcher
        .presence_until(|p| p.joined.iter().any(|m| m.name == "Sleeper"))
        .await;
    watcher
        .presence_until(|p| p.left.iter().any(|m| m.name == "Sleeper"))
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_guest_is_remembered_once_it_joins_a_room() {
    let app = TestApp::spawn().await;
    let guest = app.client().await;
    let token = guest.token();
    let created = guest
        .emit_with_ack(event::CREATE_ROOM, json!({ "room": "guests" }))
        .await;
    assert_eq!(created["status"], "ok");

    let again = app.client_with_token(&token).await;
    assert_eq!(again.welcome.user, guest.welcome.user);
    let rooms: Vec<&str> = again
        .welcome
        .rooms
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(rooms, ["general", "guests"]);
    app.stop().await;
}
