//! Every client event has a budget per connection, not only `chatMessage`: past it a request is
//! refused with `rate_limited` (in its ack, or as a `chatError` without one) and `typing` is
//! dropped (issue 8, defects 4, 12 and 13).
//!
//! The budgets themselves are the server's choice; these tests only send far more, far faster,
//! than any client of a chat needs to.

use serde_json::{Value, json};

use crate::{
    helpers::{PATIENCE, TestApp, pipelined, refusal_code},
    raw::{RawWebSocket, event_packet},
};

/// Requests in one burst.
const FLOOD: usize = 200;

/// Sends `FLOOD` requests made by `request` back to back from one connection and checks that
/// some were refused as `rate_limited`, and that every other answer is one of `also`.
async fn some_are_rate_limited(event: &str, request: impl Fn(usize) -> Value, also: &[&str]) {
    let app = TestApp::spawn().await;
    let mut client = RawWebSocket::connect_as(&app.url, &json!({ "name": "Flooder" })).await;
    let requests: Vec<Value> = (0..FLOOD).map(request).collect();
    let acks = pipelined(&mut client, event, &requests).await;
    let mut limited = 0;
    for ack in &acks {
        match refusal_code(ack) {
            None => {}
            Some("rate_limited") => limited += 1,
            Some(code) => assert!(also.contains(&code), "{event} refused with {code}: {ack}"),
        }
    }
    assert!(
        limited > 0,
        "{FLOOD} `{event}` requests in one burst from one connection: none was rate-limited"
    );
    assert!(
        limited < FLOOD,
        "the first `{event}` requests are within the budget"
    );
    app.stop().await;
}

#[tokio::test]
async fn renames_are_rate_limited() {
    some_are_rate_limited("rename", |n| json!({ "name": format!("Name {n}") }), &[]).await;
}

#[tokio::test]
async fn room_creations_are_rate_limited() {
    let room = |n| json!({ "room": format!("room-{n}") });
    some_are_rate_limited("createRoom", room, &["too_many_rooms"]).await;
}

#[tokio::test]
async fn joins_are_rate_limited() {
    some_are_rate_limited("joinRoom", |_| json!({ "room": "general" }), &[]).await;
}

#[tokio::test]
async fn leaves_are_rate_limited() {
    // Leaving a room one is not in changes nothing; whether a room that does not exist is
    // `room_not_found` is the server's choice.
    let leave = |_| json!({ "room": "elsewhere" });
    some_are_rate_limited("leaveRoom", leave, &["room_not_found"]).await;
}

#[tokio::test]
async fn member_lists_are_rate_limited() {
    some_are_rate_limited("members", |_| json!({ "room": "general" }), &[]).await;
}

#[tokio::test]
async fn syncs_are_rate_limited() {
    let cursor = |_| json!({ "rooms": [{ "room": "general", "afterSeq": 0 }] });
    some_are_rate_limited("sync", cursor, &[]).await;
}

#[tokio::test]
async fn searches_are_rate_limited() {
    some_are_rate_limited("search", |n| json!({ "query": format!("word{n}") }), &[]).await;
}

#[tokio::test]
async fn edits_and_deletions_are_rate_limited() {
    // Nothing to change in an empty room: within the budget, the answer is `message_not_found`.
    let edit = |n| json!({ "room": "general", "seq": 1, "text": format!("edit {n}") });
    some_are_rate_limited("editMessage", edit, &["message_not_found"]).await;
    let delete = |_| json!({ "room": "general", "seq": 1 });
    some_are_rate_limited("deleteMessage", delete, &["message_not_found"]).await;
}

#[tokio::test]
async fn reactions_are_rate_limited() {
    let reaction = |_| json!({ "room": "general", "seq": 1, "emoji": "👍" });
    some_are_rate_limited("react", reaction, &["message_not_found"]).await;
    some_are_rate_limited("unreact", reaction, &["message_not_found"]).await;
}

#[tokio::test]
async fn over_budget_without_an_ack_the_refusal_is_a_chat_error() {
    let app = TestApp::spawn().await;
    let mut client = RawWebSocket::connect_as(&app.url, &json!({ "name": "Flooder" })).await;
    for _ in 0..FLOOD {
        client
            .send_packet(event_packet("members", &json!({ "room": "general" })))
            .await;
    }
    // A refusal is sent as soon as the request is read; the marker is stored first, so it
    // comes later.
    client
        .send_packet(event_packet("chatMessage", &json!("marker")))
        .await;
    let first = loop {
        let (name, payload) = client.next_event().await;
        if name != "presence" {
            break (name, payload);
        }
    };
    assert_eq!(
        first.0, "chatError",
        "{FLOOD} `members` without ack: no refusal before the marker, got {first:?}"
    );
    assert_eq!(first.1["code"], "rate_limited");
    app.stop().await;
}

#[tokio::test]
async fn a_typing_flood_reaches_the_others_a_bounded_number_of_times() {
    const TYPING: usize = 2_000;
    /// A tenth of the flood: far more than a budget lets through in the second or so it takes.
    const RELAYED_MAX: usize = TYPING / 10;
    let app = TestApp::spawn().await;
    let mut listener = app.client_with(json!({ "name": "Listener" })).await;
    let mut typist = RawWebSocket::connect_as(&app.url, &json!({ "name": "Typist" })).await;
    for _ in 0..TYPING {
        typist
            .send_packet(event_packet("typing", &json!({ "room": "general" })))
            .await;
    }
    // The listener receives events in the order they were sent to it, so everything relayed
    // before the marker arrives before it.
    let marker = json!({ "text": "marker", "clientId": "marker" });
    let [ack] = &pipelined(&mut typist, "chatMessage", &[marker]).await[..] else {
        unreachable!("one request, one ack");
    };
    assert_eq!(refusal_code(ack), None, "{ack}");
    let mut relayed = 0;
    let mut marked = false;
    while let Some((name, payload)) = listener.next_any_within(PATIENCE).await {
        match name.as_str() {
            "typing" => relayed += 1,
            "chatMessage" if payload["text"] == "marker" => {
                marked = true;
                break;
            }
            "presence" => {}
            other => panic!("unexpected `{other}`: {payload}"),
        }
    }
    assert!(
        relayed <= RELAYED_MAX,
        "{TYPING} `typing` from one connection were relayed {relayed} times (at most {RELAYED_MAX})"
    );
    assert!(marked, "the marker after the flood never arrived");
    app.stop().await;
}
