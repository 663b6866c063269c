//! `search` over real sockets: members find a room's messages, newest first, as they are read
//! everywhere else; a private room's outsiders never do; queries without words, or too long,
//! are refused.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClient, event, learned_nothing, named};

/// Sends `text` to `room` as `client`.
async fn say(client: &TestClient, room: &str, text: &str) {
    let sent = client
        .emit_with_ack(event::CHAT_MESSAGE, json!({ "room": room, "text": text }))
        .await;
    assert_eq!(sent["status"], "ok", "{sent}");
}

/// Makes `room` (`private` or not) with `client` in it.
async fn create(client: &TestClient, room: &str, private: bool) {
    let created = client
        .emit_with_ack(
            event::CREATE_ROOM,
            json!({ "room": room, "private": private }),
        )
        .await;
    assert_eq!(created["status"], "ok", "{created}");
}

/// The texts `client` finds with `request`, newest first.
async fn found(client: &TestClient, request: Value) -> Vec<String> {
    let ack = client.emit_with_ack(event::SEARCH, request.clone()).await;
    assert_eq!(ack["status"], "ok", "{request}: {ack}");
    ack["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|message| message["text"].as_str().expect("text").to_owned())
        .collect()
}

/// The code `client`'s `request` is refused with.
async fn refusal(client: &TestClient, request: Value) -> String {
    let ack = client.emit_with_ack(event::SEARCH, request.clone()).await;
    assert_eq!(ack["status"], "error", "{request}: {ack}");
    ack["error"]["code"].as_str().expect("a code").to_owned()
}

#[tokio::test]
async fn members_find_messages_and_a_private_rooms_outsiders_do_not() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    create(&ada, "plans", true).await;
    say(&ada, "plans", "the secret launch plan").await;
    say(&ada, "general", "Launch party on Friday").await;
    let bo = app.client_as(named("Bo")).await;
    create(&bo, "open", false).await;
    say(&bo, "open", "launching the open room").await;
    let mut eve = app.client_as(named("Eve")).await;

    // Every room Ada can read: hers, and the public one she is not in; newest first.
    let everywhere = found(&ada, json!({ "query": "LAUNCH" })).await;
    assert_eq!(
        everywhere,
        [
            "launching the open room",
            "Launch party on Friday",
            "the secret launch plan"
        ]
    );
    let plans = json!({ "query": "launch pl", "room": "plans" });
    assert_eq!(found(&ada, plans).await, ["the secret launch plan"]);

    // A result is a message as history reads it.
    let ack = ada
        .emit_with_ack(event::SEARCH, json!({ "query": "friday" }))
        .await;
    let message = &ack["results"][0];
    assert_eq!(message["room"], "general");
    assert_eq!(message["seq"], 1);
    assert_eq!(message["author"]["name"], "Ada");
    assert!(message["sentAt"].is_i64(), "{message}");

    // Eve reads every public room, not the private one; naming it tells her nothing.
    let public = found(&eve, json!({ "query": "launch" })).await;
    assert_eq!(
        public,
        ["launching the open room", "Launch party on Friday"]
    );
    assert_eq!(
        found(&eve, json!({ "query": "secret" })).await,
        [""; 0],
        "a private room's words are not found by outsiders"
    );
    let private = json!({ "query": "secret", "room": "plans" });
    assert_eq!(refusal(&eve, private).await, "not_a_member");
    let nowhere = json!({ "query": "launch", "room": "nowhere" });
    assert_eq!(refusal(&eve, nowhere).await, "room_not_found");
    let bad = json!({ "query": "launch", "room": "Not a room!" });
    assert_eq!(refusal(&eve, bad).await, "invalid_room");
    learned_nothing(&mut eve, "secret").await;
    app.stop().await;
}

#[tokio::test]
async fn queries_without_words_or_too_long_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.client_as(named("Ada")).await;
    say(&client, "general", "quotes \" and * stars").await;
    for query in ["", "   ", "\"*&|!():'", &"a".repeat(201), &"a ".repeat(11)] {
        let refused = refusal(&client, json!({ "query": query })).await;
        assert_eq!(refused, "invalid_query", "{query:?}");
    }
    for payload in [json!({}), json!({ "query": 5 }), json!("quotes")] {
        assert_eq!(refusal(&client, payload).await, "invalid_payload");
    }
    // Syntax is only separators: what is left are words like any other, all required.
    let found_it = ["quotes \" and * stars"];
    let and = json!({ "query": "\"quotes\" AND (stars*)" });
    assert_eq!(found(&client, and).await, found_it);
    let or = json!({ "query": "\"quotes\" OR (stars*)" });
    assert_eq!(
        found(&client, or).await,
        [""; 0],
        "`or` is a word, not in it"
    );
    app.stop().await;
}
