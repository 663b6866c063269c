//! Archived rooms over real sockets: an admin archives a room and its members are told; it can
//! be read and not written to; only an admin may do it, never to #general; taken out of the
//! archive, it takes messages again.

use crate::helpers::{TestApp, event, named};
use serde_json::json;

#[tokio::test]
async fn an_archived_room_is_read_only_until_an_admin_brings_it_back() {
    let app = TestApp::spawn().await;
    let (status, admin) = app
        .call_raw("register", "username=root&password=root+password".into())
        .await;
    assert_eq!(status, 200);
    let admin = app
        .client_with_token(admin["token"].as_str().expect("a token"))
        .await;
    let mut ada = app.client_as(named("Ada")).await;
    let created = ada
        .emit_with_ack(event::CREATE_ROOM, json!({ "room": "old-project" }))
        .await;
    assert_eq!(created["status"], "ok", "{created}");
    ada.emit_with_ack(
        event::CHAT_MESSAGE,
        json!({ "room": "old-project", "text": "before" }),
    )
    .await;
    ada.next(event::CHAT_MESSAGE).await;

    // Only an admin may archive, and #general stays open.
    let refused = ada
        .emit_with_ack(
            event::ARCHIVE_ROOM,
            json!({ "room": "old-project", "archived": true }),
        )
        .await;
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
    let refused = admin
        .emit_with_ack(
            event::ARCHIVE_ROOM,
            json!({ "room": "general", "archived": true }),
        )
        .await;
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
    let missing = admin
        .emit_with_ack(
            event::ARCHIVE_ROOM,
            json!({ "room": "no-such-room", "archived": true }),
        )
        .await;
    assert_eq!(missing["error"]["code"], "room_not_found", "{missing}");

    let archived = admin
        .emit_with_ack(
            event::ARCHIVE_ROOM,
            json!({ "room": "old-project", "archived": true }),
        )
        .await;
    assert_eq!(archived["room"]["archived"], true, "{archived}");
    let told = ada.next(event::ROOM_UPDATED).await;
    assert_eq!(told["room"]["name"], "old-project");
    assert_eq!(told["room"]["archived"], true);

    // Read only: posting is refused, the history is there, and rooms say it is archived.
    let post = json!({ "room": "old-project", "text": "after" });
    let refused = ada.emit_with_ack(event::CHAT_MESSAGE, post.clone()).await;
    assert_eq!(refused["error"]["code"], "room_archived", "{refused}");
    let history = app.history(&ada.token(), "old-project", None).await;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["before"]);
    let again = app.client_with_token(&ada.token()).await;
    assert!(
        again
            .welcome
            .rooms
            .iter()
            .any(|room| room.name == "old-project" && room.archived)
    );

    let back = admin
        .emit_with_ack(
            event::ARCHIVE_ROOM,
            json!({ "room": "old-project", "archived": false }),
        )
        .await;
    assert!(back["room"].get("archived").is_none(), "{back}");
    let sent = ada.emit_with_ack(event::CHAT_MESSAGE, post).await;
    assert_eq!(sent["status"], "ok", "{sent}");
    assert_eq!(sent["message"]["seq"], 2, "no seq was taken while archived");
    app.stop().await;
}
