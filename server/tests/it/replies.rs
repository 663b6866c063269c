//! Replies over real sockets: a reply carries a quote of its original, read with it wherever it
//! is read (broadcast, acknowledgement, history, sync), so an edit or a deletion of the original
//! shows in quotes read afterwards; the original must be a message of the same room; a retry
//! gets the reply back (issue 12).

use serde_json::{Value, json};
use shared::{ChatMessage, DeletedBy, Quote};

use crate::changes::{change_of, post};
use crate::helpers::{TestApp, TestClient, event, named, refusal_code};

async fn reply(client: &TestClient, room: &str, text: &str, reply_to: i64) -> Value {
    let request = json!({ "room": room, "text": text, "replyTo": reply_to, "clientId": text });
    client.emit_with_ack(event::CHAT_MESSAGE, request).await
}

fn sent(ack: &Value) -> ChatMessage {
    assert_eq!(refusal_code(ack), None, "{ack}");
    serde_json::from_value(ack["message"].clone()).expect("a message")
}

#[tokio::test]
async fn a_reply_quotes_its_original_as_it_is_now() {
    let app = TestApp::spawn().await;
    let mut ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    let original = post(&ada, "general", "who wants lunch?").await;
    bob.next(event::CHAT_MESSAGE).await;
    ada.next(event::CHAT_MESSAGE).await;

    let answer = sent(&reply(&bob, "general", "me!", original.seq).await);
    let quote = Quote {
        seq: original.seq,
        author: ada.welcome.user.clone(),
        text: "who wants lunch?".into(),
        deleted: None,
    };
    assert_eq!(answer.reply_to.as_ref(), Some(&quote));
    // The broadcast is the acknowledged message; the seed's fields are all there.
    let live = ada.next(event::CHAT_MESSAGE).await;
    assert_eq!(live["replyTo"]["text"], "who wants lunch?", "{live}");
    assert_eq!(serde_json::from_value::<ChatMessage>(live).unwrap(), answer);
    // A message that answers nothing has no `replyTo` (nor `reactions`): the seed's shape.
    let plain = ada
        .emit_with_ack(event::CHAT_MESSAGE, json!({ "text": "plain" }))
        .await;
    let keys: Vec<&String> = plain["message"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["author", "id", "room", "sentAt", "seq", "text"],
        "{plain}"
    );

    // An edit, then a deletion, of the original show in the quote read afterwards.
    let edit = json!({ "room": "general", "seq": original.seq, "text": "who wants dinner?" });
    change_of(&ada.emit_with_ack(event::EDIT_MESSAGE, edit).await).expect("edited");
    let history = app.history(&bob.token(), "general", None).await;
    let read = history.iter().find(|m| m.seq == answer.seq).unwrap();
    assert_eq!(read.reply_to.as_ref().unwrap().text, "who wants dinner?");
    let delete = json!({ "room": "general", "seq": original.seq });
    change_of(&ada.emit_with_ack(event::DELETE_MESSAGE, delete).await).expect("deleted");
    let synced = bob
        .emit_with_ack(
            event::SYNC,
            json!({ "rooms": [{ "room": "general", "afterSeq": original.seq }] }),
        )
        .await;
    assert_eq!(
        synced["messages"][0]["replyTo"],
        json!({ "seq": original.seq, "author": ada.welcome.user, "text": "", "deleted": "author" }),
        "{synced}"
    );

    // A retry gets the reply as it is now; a deleted original may still be answered.
    let again = sent(&reply(&bob, "general", "me!", original.seq).await);
    assert_eq!(again.seq, answer.seq);
    assert_eq!(again.reply_to.unwrap().deleted, Some(DeletedBy::Author));
    let late = sent(&reply(&bob, "general", "too late", original.seq).await);
    assert_eq!(late.reply_to.unwrap().text, "");
    app.stop().await;
}

#[tokio::test]
async fn a_reply_answers_a_message_of_its_own_room() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let eve = app.client_as(named("Eve")).await;
    ada.create_private_room("plans").await;
    let secret = post(&ada, "plans", "the secret plan").await;
    let general = post(&ada, "general", "hello").await;
    let edit = json!({ "room": "general", "seq": general.seq, "text": "hello!" });
    let edited = change_of(&ada.emit_with_ack(event::EDIT_MESSAGE, edit).await).unwrap();
    // A message of `general` whose seq is no message's in `plans`.
    let elsewhere = post(&ada, "general", "elsewhere").await;
    for (ack, code) in [
        // A change's seq, one past the end, one of another room.
        (
            reply(&ada, "general", "a", edited.seq).await,
            "message_not_found",
        ),
        (reply(&ada, "general", "b", 99).await, "message_not_found"),
        (
            reply(&ada, "plans", "c", elsewhere.seq).await,
            "message_not_found",
        ),
        (reply(&eve, "plans", "d", secret.seq).await, "not_a_member"),
        (
            ada.emit_with_ack(event::CHAT_MESSAGE, json!({ "text": "e", "replyTo": "1" }))
                .await,
            "invalid_payload",
        ),
    ] {
        assert_eq!(refusal_code(&ack), Some(code), "{ack}");
        assert!(!ack.to_string().contains("secret"), "{ack}");
    }
    let last = app.history(&ada.token(), "general", None).await;
    assert_eq!(
        last.last().unwrap().seq,
        elsewhere.seq,
        "nothing was stored"
    );
    app.stop().await;
}
