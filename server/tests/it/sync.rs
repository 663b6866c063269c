//! What one `sync` costs is bounded, however it is written: a room named many times is answered
//! once, at most 100 distinct rooms are asked for at once, and one reply carries at most 500
//! messages per room and 1 MiB of message text in all, saying `more` when it stopped short
//! (issue 8, defects 3 and 11).

use serde_json::{Value, json};
use server::RateLimit;

use crate::{
    helpers::{TestApp, pipelined, refusal_code},
    raw::RawWebSocket,
};

/// Enough to store hundreds of messages quickly from one connection.
const FAST: RateLimit = RateLimit {
    per_second: 1e6,
    burst: 1e6,
};

/// Most message text one `sync` reply carries.
const REPLY_TEXT_MAX: usize = 1024 * 1024;

/// Sends `messages` (`chatMessage` payloads), a hundred at a time so that neither side's queue
/// overflows, and checks that every one was stored.
async fn send_all(sender: &mut RawWebSocket, messages: &[Value]) {
    for chunk in messages.chunks(100) {
        for ack in pipelined(sender, "chatMessage", chunk).await {
            assert_eq!(refusal_code(&ack), None, "message refused: {ack}");
        }
    }
}

/// `(room, seq)` of each message in a `sync` reply, in reply order.
fn seqs(reply: &Value) -> Vec<(String, i64)> {
    reply["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {reply}"))
        .iter()
        .map(|m| {
            let room = m["room"].as_str().expect("a room").to_owned();
            (room, m["seq"].as_i64().expect("a seq"))
        })
        .collect()
}

fn says_more(reply: &Value) -> bool {
    reply.get("more") == Some(&json!(true))
}

#[tokio::test]
async fn a_room_named_many_times_in_one_sync_is_answered_once() {
    let app = TestApp::spawn_limited(FAST).await;
    let reader = app.client_with(json!({ "name": "Reader" })).await;
    let mut writer = RawWebSocket::connect_as(&app.url, &json!({ "name": "Writer" })).await;
    let messages: Vec<Value> = (1..=600)
        .map(|n| json!({ "text": format!("m{n}"), "clientId": format!("m{n}") }))
        .collect();
    send_all(&mut writer, &messages).await;

    // As many copies of one cursor as a packet holds (the seed server answers each copy).
    let copies = vec![json!({ "room": "general", "afterSeq": 599 }); 1_800];
    let request = json!({ "rooms": copies });
    assert!(request.to_string().len() < 63 * 1024, "fits in one packet");
    let reply = reader.emit_with_ack("sync", request).await;
    if refusal_code(&reply) != Some("invalid_payload") {
        assert_eq!(refusal_code(&reply), None, "{reply}");
        let got = seqs(&reply);
        assert!(
            got == [("general".to_owned(), 600)],
            "one message missed in general, named 1,800 times, came back {} times",
            got.len()
        );
    }

    // Named three times from the start: one page of 500 messages, and more to come.
    let cursor = json!({ "room": "general", "afterSeq": 0 });
    let reply = reader
        .emit_with_ack("sync", json!({ "rooms": [cursor, cursor, cursor] }))
        .await;
    assert_eq!(refusal_code(&reply), None, "{reply}");
    let got = seqs(&reply);
    assert!(
        got.len() <= 500,
        "general, named 3 times, returned {} messages (at most 500 per room)",
        got.len()
    );
    let want: Vec<(String, i64)> = (1..=500).map(|seq| ("general".to_owned(), seq)).collect();
    assert_eq!(got, want);
    assert!(says_more(&reply), "500 of 600 messages, but no `more`");
    app.stop().await;
}

#[tokio::test]
async fn a_sync_names_at_most_100_distinct_rooms() {
    let app = TestApp::spawn().await;
    let reader = app.client_with(json!({ "name": "Reader" })).await;
    let rooms: Vec<Value> = std::iter::once("general".to_owned())
        .chain((1..=100).map(|n| format!("room-{n}")))
        .map(|room| json!({ "room": room, "afterSeq": 0 }))
        .collect();
    let reply = reader
        .emit_with_ack("sync", json!({ "rooms": rooms }))
        .await;
    assert_eq!(
        refusal_code(&reply),
        Some("invalid_payload"),
        "101 distinct rooms in one sync: {reply}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sync_reply_carries_at_most_a_mebibyte_of_text_and_says_more() {
    const PER_ROOM: i64 = 200;
    const ROOMS: [&str; 3] = ["alpha", "beta", "gamma"];
    let app = TestApp::spawn_limited(FAST).await;
    let reader = app.client_with(json!({ "name": "Reader" })).await;
    for room in ROOMS {
        let created = reader
            .emit_with_ack("createRoom", json!({ "room": room }))
            .await;
        assert_eq!(refusal_code(&created), None, "{created}");
    }
    // The same user on a raw connection, to send fast: 600 messages of 2,000 characters,
    // 1,200,000 bytes of text in all, 200 per room (well under a page of 500).
    let mut writer = RawWebSocket::connect_as(&app.url, &json!({ "token": reader.token() })).await;
    for room in ROOMS {
        let messages: Vec<Value> = (1..=PER_ROOM)
            .map(|n| {
                let text = format!("{room} {n:03} {}", "x".repeat(2_000));
                let text: String = text.chars().take(2_000).collect();
                json!({ "room": room, "text": text, "clientId": format!("{room}-{n}") })
            })
            .collect();
        send_all(&mut writer, &messages).await;
    }

    let from_start: Vec<Value> = ROOMS
        .iter()
        .map(|room| json!({ "room": room, "afterSeq": 0 }))
        .collect();
    let first = reader
        .emit_with_ack("sync", json!({ "rooms": from_start }))
        .await;
    assert_eq!(refusal_code(&first), None, "{first}");
    let text_bytes: usize = first["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("a text").len())
        .sum();
    assert!(
        text_bytes <= REPLY_TEXT_MAX,
        "one sync reply carried {text_bytes} bytes of message text (at most {REPLY_TEXT_MAX})"
    );
    assert!(says_more(&first), "a reply cut short must say `more`");
    let got = seqs(&first);
    assert!(!got.is_empty(), "a reply cut short still makes progress");

    // Rooms in the order asked, each from its cursor on without gaps; then, from the new
    // cursors, the rest, and nothing more.
    let mut cursors = Vec::new();
    for room in ROOMS {
        let last = got
            .iter()
            .filter(|(r, _)| r == room)
            .map(|&(_, seq)| seq)
            .max()
            .unwrap_or(0);
        cursors.push(json!({ "room": room, "afterSeq": last }));
    }
    let mut order: Vec<usize> = got
        .iter()
        .map(|(room, _)| ROOMS.iter().position(|r| r == room).expect("a room asked"))
        .collect();
    order.dedup();
    assert!(order.is_sorted(), "rooms in the order asked: {order:?}");
    let rest = reader
        .emit_with_ack("sync", json!({ "rooms": cursors }))
        .await;
    assert_eq!(refusal_code(&rest), None, "{rest}");
    assert!(!says_more(&rest), "everything fits in the second reply");
    for room in ROOMS {
        let seqs: Vec<i64> = got
            .iter()
            .chain(&seqs(&rest))
            .filter(|(r, _)| r == room)
            .map(|&(_, seq)| seq)
            .collect();
        assert_eq!(seqs, (1..=PER_ROOM).collect::<Vec<_>>(), "room {room}");
    }
    app.stop().await;
}
