//! Messages are stored before they are acknowledged, survive restarts, are never stored twice,
//! and a client that was away gets exactly what it missed.

use serde_json::{Value, json};
use server::{Config, RateLimit};
use shared::{Ack, Auth, ChatMessage, RoomCursor, Sent, Synced};

use crate::helpers::event;

use crate::{
    helpers::{TestApp, TestClient, named, temp_data_dir},
    raw::RawWebSocket,
};

fn acked(ack: Value) -> ChatMessage {
    match serde_json::from_value(ack).expect("ack shape") {
        Ack::Ok(Sent { message }) => message,
        Ack::Error { error } => panic!("refused: {error:?}"),
    }
}

async fn send(client: &TestClient, room: &str, text: &str, client_id: &str) -> ChatMessage {
    acked(
        client
            .emit_with_ack(
                event::CHAT_MESSAGE,
                json!({ "room": room, "text": text, "clientId": client_id }),
            )
            .await,
    )
}

const UNLIMITED: RateLimit = RateLimit {
    per_second: 1.0e6,
    burst: 1.0e6,
};

#[tokio::test]
async fn history_survives_a_restart() {
    let data_dir = temp_data_dir();
    let first = TestApp::spawn_with(Config::new(data_dir.clone())).await;
    let ada = first
        .client_as(Auth {
            token: None,
            name: Some("Ada".into()),
        })
        .await;
    for n in 1..=3 {
        send(
            &ada,
            "general",
            &format!("before restart {n}"),
            &format!("c{n}"),
        )
        .await;
    }
    let token = ada.token();
    let user = ada.welcome.user.clone();
    first.stop_keeping_data().await;

    let second = TestApp::spawn_with(Config::new(data_dir)).await;
    let history = second.history(&token, "general", None).await;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["before restart 1", "before restart 2", "before restart 3"]
    );
    assert_eq!(history.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);

    // The same token is the same person after the restart.
    let again = second.client_with_token(&token).await;
    assert_eq!(again.welcome.user, user);
    let next = send(&again, "general", "after restart", "c4").await;
    assert_eq!(next.seq, 4);
    second.stop().await;
}

#[tokio::test]
async fn history_pages_backwards() {
    let app = TestApp::spawn_limited(UNLIMITED).await;
    let ada = app.client_as(named("Ada")).await;
    for n in 1..=120 {
        send(&ada, "general", &format!("m{n}"), &format!("c{n}")).await;
    }
    let newest = app.history(&ada.token(), "general", None).await;
    assert_eq!(newest.len(), 100);
    assert_eq!((newest[0].seq, newest[99].seq), (21, 120));
    let older = app.history(&ada.token(), "general", Some(21)).await;
    assert_eq!(
        older.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    assert!(
        app.history(&ada.token(), "general", Some(1))
            .await
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retried_client_id_is_stored_once_and_acked_the_same() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client().await;

    let first = send(&ada, "general", "only once", "retry-me").await;
    let second = send(&ada, "general", "only once", "retry-me").await;
    assert_eq!(first, second);

    // Bob got it once: the next message after it is the marker.
    assert_eq!(bob.next(event::CHAT_MESSAGE).await["id"], json!(first.id));
    send(&ada, "general", "marker", "marker").await;
    assert_eq!(bob.next(event::CHAT_MESSAGE).await["text"], "marker");
    assert_eq!(app.history(&ada.token(), "general", None).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_was_away_catches_up_exactly_once_in_order() {
    let app = TestApp::spawn_limited(UNLIMITED).await;
    let away = app
        .client_as(Auth {
            token: None,
            name: Some("Away".into()),
        })
        .await;
    let busy = app.client().await;
    let joined = busy
        .emit_with_ack(event::CREATE_ROOM, json!({ "room": "ops" }))
        .await;
    assert_eq!(joined["status"], "ok");
    away.emit_with_ack(event::JOIN_ROOM, json!({ "room": "ops" }))
        .await;
    send(&busy, "general", "seen before leaving", "seen").await;
    let token = away.token();
    away.disconnect().await;

    // 200 messages across two rooms while the client is gone.
    let mut expected = Vec::new();
    for n in 0..200 {
        let room = if n % 3 == 0 { "ops" } else { "general" };
        expected.push(send(&busy, room, &format!("missed {n}"), &format!("m{n}")).await);
    }

    let back = app.client_with_token(&token).await;
    let rooms: Vec<&str> = back.welcome.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rooms, ["general", "ops"]);
    let ack = back
        .emit_with_ack(
            event::SYNC,
            json!({ "rooms": [
                RoomCursor { room: "general".into(), after_seq: 1 },
                RoomCursor { room: "ops".into(), after_seq: 0 },
            ] }),
        )
        .await;
    let Ack::Ok(Synced { messages, .. }) = serde_json::from_value(ack).expect("sync ack") else {
        panic!("sync refused");
    };
    for room in ["general", "ops"] {
        let got: Vec<&str> = messages
            .iter()
            .filter(|m| m.room == room)
            .map(|m| m.id.as_str())
            .collect();
        let want: Vec<&str> = expected
            .iter()
            .filter(|m| m.room == room)
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(got, want, "room {room}");
        let seqs: Vec<i64> = messages
            .iter()
            .filter(|m| m.room == room)
            .map(|m| m.seq)
            .collect();
        assert!(
            seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "gap-free in {room}"
        );
    }
    assert_eq!(messages.len(), 200);
    app.stop().await;
}

#[tokio::test]
async fn over_the_rate_limit_nothing_is_stored() {
    let app = TestApp::spawn_limited(RateLimit {
        per_second: 0.001,
        burst: 3.0,
    })
    .await;
    let ada = app.client_as(named("Ada")).await;
    for n in 0..3 {
        send(&ada, "general", "within budget", &format!("ok{n}")).await;
    }
    let refused = ada
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "text": "too fast", "clientId": "x" }),
        )
        .await;
    assert_eq!(refused["status"], "error");
    assert_eq!(refused["error"]["code"], "rate_limited");
    assert_eq!(app.history(&ada.token(), "general", None).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn past_the_in_flight_bound_messages_are_refused_and_nothing_acked_is_lost() {
    let app = TestApp::spawn_with(Config {
        max_in_flight: 1,
        rate_limit: RateLimit {
            per_second: 1e6,
            burst: 1e6,
        },
        ..Config::new(temp_data_dir())
    })
    .await;
    let mut flood = RawWebSocket::connect(&app.url).await;
    const SENT: u64 = 200;
    for id in 0..SENT {
        flood
            .send_packet(format!("42{id}[\"chatMessage\",\"m{id}\"]"))
            .await;
    }
    let mut acked = Vec::new();
    let mut overloaded = 0;
    for _ in 0..SENT {
        let (_, ack) = flood.next_ack().await;
        match serde_json::from_value(ack).expect("ack shape") {
            Ack::Ok(Sent { message }) => acked.push(message),
            Ack::Error { error } => {
                assert_eq!(error.code, shared::ErrorCode::Overloaded);
                overloaded += 1;
            }
        }
    }
    assert!(
        overloaded > 0,
        "one slot cannot take {SENT} pipelined messages"
    );
    flood
        .send_packet("42999[\"sync\",{\"rooms\":[{\"room\":\"general\",\"afterSeq\":0}]}]".into())
        .await;
    let (_, synced) = flood.next_ack().await;
    let Ack::Ok(Synced {
        messages: stored, ..
    }) = serde_json::from_value(synced).expect("sync ack")
    else {
        panic!("sync refused");
    };
    let stored: Vec<_> = stored.iter().map(|m| (m.seq, &m.text)).collect();
    acked.sort_by_key(|m| m.seq);
    let acked: Vec<_> = acked.iter().map(|m| (m.seq, &m.text)).collect();
    assert_eq!(
        stored, acked,
        "exactly the acknowledged messages are stored"
    );
    app.stop().await;
}
