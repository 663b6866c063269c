//! Presence ends when the last connection ends, whatever the connection was doing when it went:
//! no user stays online forever because a request of theirs was still being stored, and no
//! connection's departure takes another tab's presence with it (issue 8, defect 1).

use serde_json::{Value, json};

use crate::{
    helpers::{PATIENCE, TestApp, TestClient, refusal_code},
    raw::{RawWebSocket, event_packet},
};

/// The display names in a `members` list (of an ack or a `members` answer).
fn names(answer: &Value) -> Vec<String> {
    answer["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no member list in {answer}"))
        .iter()
        .map(|member| member["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn assert_ok(ack: &Value) {
    assert_eq!(refusal_code(ack), None, "refused: {ack}");
}

/// The first presence update of `room` that satisfies `wanted`, or `None` if none comes within
/// [`PATIENCE`]. Other events are skipped.
async fn presence_in(
    client: &mut TestClient,
    room: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let (name, payload) = client.next_any_within(left).await?;
        if name == "presence" && payload["room"] == room && wanted(&payload) {
            return Some(payload);
        }
    }
}

/// Waits until `client` is told that `online` people are online in `room`.
async fn online_in(client: &mut TestClient, room: &str, online: usize) {
    presence_in(client, room, |p| p["online"] == online)
        .await
        .unwrap_or_else(|| panic!("never told that {online} are online in #{room}"));
}

/// Sends `request` and closes the connection right away, without waiting for an answer: the
/// server sees the disconnect while it is still storing what the request asked for.
async fn request_and_vanish(mut client: RawWebSocket, event: &str, request: Value) {
    client.send_packet(event_packet(event, &request)).await;
    // Leaves the namespace (Socket.IO DISCONNECT); dropping the client then closes the socket.
    client.send_packet("41".to_owned()).await;
}

/// Writes queue on the store's one writer connection, in order, so once `client`'s messages
/// are acknowledged, every write that was under way before them (and, `writes` deep, the
/// writes those led to) is done, and the requests that made them have finished.
async fn after_pending_writes(client: &TestClient, writes: usize) {
    for n in 0..writes {
        assert_ok(
            &client
                .emit_with_ack(
                    "chatMessage",
                    json!({ "text": format!("barrier {n}"), "clientId": format!("barrier-{n}") }),
                )
                .await,
        );
    }
}

const GHOSTS: usize = 12;

#[tokio::test]
async fn a_client_gone_while_its_join_is_stored_does_not_stay_online() {
    let app = TestApp::spawn().await;
    let mut ada = app.client_with(json!({ "name": "Ada" })).await;
    assert_ok(
        &ada.emit_with_ack("createRoom", json!({ "room": "lobby" }))
            .await,
    );
    let mut ghosts = Vec::new();
    for n in 0..GHOSTS {
        let auth = json!({ "name": format!("Ghost {n}") });
        ghosts.push(RawWebSocket::connect_as(&app.url, &auth).await);
    }
    // Their arrival is announced first, so that their departure is announced too (arriving and
    // leaving within one batch announces nothing).
    online_in(&mut ada, "general", 1 + GHOSTS).await;

    for ghost in ghosts {
        request_and_vanish(ghost, "joinRoom", json!({ "room": "lobby" })).await;
    }
    // Every disconnect has been handled, and then every join that was being stored.
    online_in(&mut ada, "general", 1).await;
    after_pending_writes(&ada, 2).await;

    let members = ada
        .emit_with_ack("members", json!({ "room": "lobby" }))
        .await;
    assert_eq!(
        names(&members),
        ["Ada"],
        "people who disconnected while joining #lobby are still listed in it"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_guest_gone_while_its_new_room_is_stored_does_not_stay_online() {
    const CREATORS: usize = 3;
    let app = TestApp::spawn().await;
    let mut ada = app.client_with(json!({ "name": "Ada" })).await;
    let mut guests = Vec::new();
    for _ in 0..CREATORS {
        guests.push(RawWebSocket::connect(&app.url).await);
    }
    online_in(&mut ada, "general", 1 + CREATORS).await;

    for (n, guest) in guests.into_iter().enumerate() {
        request_and_vanish(guest, "createRoom", json!({ "room": format!("ghost-{n}") })).await;
    }
    online_in(&mut ada, "general", 1).await;
    // A guest's createRoom is three writes in a row: the guest, the room, the membership.
    after_pending_writes(&ada, 4).await;

    for n in 0..CREATORS {
        let room = format!("ghost-{n}");
        let joined = ada.emit_with_ack("joinRoom", json!({ "room": room })).await;
        // Whether the room of a creator who left at once exists is the server's choice; if it
        // does, its creator is not in it any more.
        if refusal_code(&joined) != Some("room_not_found") {
            assert_ok(&joined);
            assert_eq!(
                names(&joined),
                ["Ada"],
                "the guest who created #{room} and disconnected is still listed in it"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn leaving_a_room_and_closing_the_tab_keeps_the_other_tab_online() {
    let app = TestApp::spawn().await;
    let mut watcher = app.client_with(json!({ "name": "Watcher" })).await;
    assert_ok(
        &watcher
            .emit_with_ack("createRoom", json!({ "room": "rust" }))
            .await,
    );
    let tab2 = app.client_with(json!({ "name": "Ada" })).await;
    assert_ok(
        &tab2
            .emit_with_ack("joinRoom", json!({ "room": "rust" }))
            .await,
    );
    let tab1 = RawWebSocket::connect_as(&app.url, &json!({ "token": tab2.token() })).await;
    assert_eq!(
        tab1.welcome["rooms"].as_array().map(Vec::len),
        Some(2),
        "tab 1 is in general and #rust: {}",
        tab1.welcome
    );
    // Ada's arrival is announced first, so that her departure is announced too.
    online_in(&mut watcher, "rust", 2).await;

    // Tab 1 leaves #rust and closes before the leave is answered.
    request_and_vanish(tab1, "leaveRoom", json!({ "room": "rust" })).await;

    // Leaving a room leaves it in every tab: Ada is gone from #rust...
    let left = presence_in(&mut watcher, "rust", |p| p["left"][0]["name"] == "Ada").await;
    let left = left.expect("Ada, who left #rust (in every tab), is announced as gone from it");
    assert_eq!(left["online"], 1, "only the watcher is left in #rust");
    // ...but still online in general through tab 2.
    let members = watcher
        .emit_with_ack("members", json!({ "room": "general" }))
        .await;
    assert_eq!(
        names(&members),
        ["Ada", "Watcher"],
        "tab 2 keeps Ada online in general"
    );

    // Tab 2 joins #rust again: Ada is listed there, once.
    let joined = tab2
        .emit_with_ack("joinRoom", json!({ "room": "rust" }))
        .await;
    assert_ok(&joined);
    assert_eq!(
        names(&joined),
        ["Ada", "Watcher"],
        "Ada joined #rust again in tab 2 but is not listed: closing tab 1 took tab 2's presence"
    );
    let back = presence_in(&mut watcher, "rust", |p| p["joined"][0]["name"] == "Ada").await;
    assert_eq!(back.expect("Ada's return is announced")["online"], 2);
    app.stop().await;
}
