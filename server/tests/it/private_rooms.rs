//! Private rooms: out of the directory, entered only by invitation from a member, and read only
//! by members through every path (live events, `sync`, `members`, typing, the history and room
//! endpoints). An admin sees that a private room exists but cannot read it. Whoever is refused
//! learns nothing of its messages or members.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClient, event, learned_nothing, named};

/// Ada, in a private room `plans` she made, where she wrote `text`.
async fn ada_in_a_private_room(app: &TestApp, text: &str) -> TestClient {
    let ada = app.client_as(named("Ada")).await;
    let created = ada.create_private_room("plans").await;
    assert_eq!(created["room"]["private"], true);
    let sent = ada
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "room": "plans", "text": text }),
        )
        .await;
    assert_eq!(sent["status"], "ok", "{sent}");
    ada
}

fn room_names(rooms: &Value) -> Vec<&str> {
    rooms
        .as_array()
        .expect("a list")
        .iter()
        .map(|room| room["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn a_private_room_is_read_only_by_its_members_through_every_path() {
    let app = TestApp::spawn().await;
    let ada = ada_in_a_private_room(&app, "the secret plan").await;
    let mut eve = app.client_as(named("Eve")).await;

    // Not in the directory, not joinable, not readable; the refusals carry no message or name.
    let (_, rooms) = app
        .call_raw("rooms", format!("token={}", eve.token()))
        .await;
    assert_eq!(room_names(&rooms), ["general"]);
    let joined = eve
        .emit_with_ack(event::JOIN_ROOM, json!({ "room": "plans" }))
        .await;
    assert_eq!(joined["error"]["code"], "forbidden", "{joined}");
    let (status, body) = app
        .call_raw(
            "history",
            format!("token={}&room=plans&limit=50", eve.token()),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    for (request, payload) in [
        (
            event::SYNC,
            json!({ "rooms": [{ "room": "plans", "afterSeq": 0 }] }),
        ),
        (event::MEMBERS, json!({ "room": "plans" })),
        (
            event::CHAT_MESSAGE,
            json!({ "room": "plans", "text": "let me in" }),
        ),
    ] {
        let refused = eve.emit_with_ack(request, payload).await;
        assert_eq!(
            refused["error"]["code"], "not_a_member",
            "{request}: {refused}"
        );
        assert!(!refused.to_string().contains("secret"));
    }
    // A non-member cannot invite themselves (or anyone) in.
    let eve_id = eve.welcome.user.id.clone();
    let refused = eve
        .emit_with_ack(event::INVITE, json!({ "room": "plans", "user": eve_id }))
        .await;
    assert_eq!(refused["error"]["code"], "not_a_member");
    ada.emit_with_ack(
        event::CHAT_MESSAGE,
        json!({ "room": "plans", "text": "another secret" }),
    )
    .await;
    learned_nothing(&mut eve, "secret").await;
    app.stop().await;
}

#[tokio::test]
async fn a_member_invites_someone_who_is_then_in_everywhere() {
    let app = TestApp::spawn().await;
    let ada = ada_in_a_private_room(&app, "before Bob").await;
    let mut bob = app.client_as(named("Bob")).await;

    let bob_id = bob.welcome.user.id.clone();
    let invited = ada
        .emit_with_ack(event::INVITE, json!({ "room": "plans", "user": bob_id }))
        .await;
    assert_eq!(invited["status"], "ok", "{invited}");
    let told = bob.next(event::INVITED).await;
    assert_eq!(told["room"]["name"], "plans");
    assert_eq!(told["room"]["private"], true);
    assert_eq!(told["by"]["name"], "Ada");

    // Bob's open connection is in the room: live messages, sync and history all work.
    ada.emit_with_ack(
        event::CHAT_MESSAGE,
        json!({ "room": "plans", "text": "hello Bob" }),
    )
    .await;
    let live = bob.next(event::CHAT_MESSAGE).await;
    assert_eq!(live["text"], "hello Bob");
    let synced = bob
        .emit_with_ack(
            event::SYNC,
            json!({ "rooms": [{ "room": "plans", "afterSeq": 0 }] }),
        )
        .await;
    assert_eq!(synced["messages"][0]["text"], "before Bob");
    let (status, history) = app
        .call_raw(
            "history",
            format!("token={}&room=plans&limit=50", bob.token()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    let (_, rooms) = app
        .call_raw("rooms", format!("token={}", bob.token()))
        .await;
    assert_eq!(room_names(&rooms), ["general", "plans"]);
    // Bob's next connection is in it from the start.
    let again = app.client_with_token(&bob.token()).await;
    assert!(
        again
            .welcome
            .rooms
            .iter()
            .any(|room| room.name == "plans" && room.private)
    );

    // Inviting someone unknown says so.
    let refused = ada
        .emit_with_ack(event::INVITE, json!({ "room": "plans", "user": "nobody" }))
        .await;
    assert_eq!(refused["error"]["code"], "invalid_payload");
    app.stop().await;
}

#[tokio::test]
async fn an_account_is_invited_by_its_username_in_any_spelling() {
    let app = TestApp::spawn().await;
    let (status, bea) = app
        .call_raw("register", "username=Bea&password=bea+password".into())
        .await;
    assert_eq!(status, 200);
    let mut bea = app
        .client_with_token(bea["token"].as_str().expect("a token"))
        .await;
    let ada = ada_in_a_private_room(&app, "for Bea").await;
    let invited = ada
        .emit_with_ack(event::INVITE, json!({ "room": "plans", "user": " @BEA " }))
        .await;
    assert_eq!(invited["status"], "ok", "{invited}");
    // Her open connection is told and is in the room.
    let told = bea.next(event::INVITED).await;
    assert_eq!(told["room"]["name"], "plans");
    ada.emit_with_ack(
        event::CHAT_MESSAGE,
        json!({ "room": "plans", "text": "hello Bea" }),
    )
    .await;
    assert_eq!(bea.next(event::CHAT_MESSAGE).await["text"], "hello Bea");
    app.stop().await;
}

#[tokio::test]
async fn an_admin_sees_that_a_private_room_exists_but_cannot_read_it() {
    let app = TestApp::spawn().await;
    let (status, admin) = app
        .call_raw("register", "username=admin&password=admin+password".into())
        .await;
    assert_eq!(status, 200);
    let admin_token = admin["token"].as_str().expect("token");
    ada_in_a_private_room(&app, "secret").await;
    let (_, rooms) = app.call_raw("rooms", format!("token={admin_token}")).await;
    assert_eq!(room_names(&rooms), ["general", "plans"]);
    let (status, body) = app
        .call_raw(
            "history",
            format!("token={admin_token}&room=plans&limit=50"),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    app.stop().await;
}
