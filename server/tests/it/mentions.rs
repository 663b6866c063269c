//! Mentions over real sockets: a message carries the people it mentions by id, as its sender
//! resolved them, wherever it is read (broadcast, acknowledgement, history, sync), after they
//! renamed themselves too; a mention its text does not make is refused and changes nothing; a
//! deletion takes the mentions with the text (issue 12).

use serde_json::json;
use shared::{ChatMessage, Mention};

use crate::changes::{change_of, post};
use crate::helpers::{TestApp, event, named, refusal_code};

#[tokio::test]
async fn a_mention_names_its_person_by_id_wherever_it_is_read() {
    let app = TestApp::spawn().await;
    let mut ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob Stone")).await;
    let bob_id = bob.welcome.user.id.clone();
    let mentioned = vec![Mention {
        id: bob_id.clone(),
        name: "Bob Stone".into(),
    }];

    let request = json!({
        "room": "general",
        "text": "lunch, @bob stone?",
        "mentions": [{ "id": bob_id, "name": "Bob Stone" }],
    });
    let ack = ada.emit_with_ack(event::CHAT_MESSAGE, request).await;
    assert_eq!(refusal_code(&ack), None, "{ack}");
    let sent: ChatMessage = serde_json::from_value(ack["message"].clone()).unwrap();
    assert_eq!(sent.mentions, mentioned);
    let live = bob.next(event::CHAT_MESSAGE).await;
    assert_eq!(
        live["mentions"],
        json!([{ "id": bob_id, "name": "Bob Stone" }]),
        "{live}"
    );
    ada.next(event::CHAT_MESSAGE).await;

    // Bob takes another name: the message still mentions him, by his id.
    let renamed = bob
        .emit_with_ack(event::RENAME, json!({ "name": "Robert" }))
        .await;
    assert_eq!(refusal_code(&renamed), None, "{renamed}");
    let history = app.history(&ada.token(), "general", None).await;
    let read = history.iter().find(|m| m.seq == sent.seq).unwrap();
    assert_eq!(read.mentions, mentioned);
    let synced = ada
        .emit_with_ack(
            event::SYNC,
            json!({ "rooms": [{ "room": "general", "afterSeq": sent.seq - 1 }] }),
        )
        .await;
    assert_eq!(
        synced["messages"][0]["mentions"][0]["id"], bob_id,
        "{synced}"
    );

    // A mention the text does not make (only in code, a name it does not write, no id, the
    // same person twice) is refused, and nothing is stored.
    for (text, mentions) in [
        (
            "`@Bob Stone`",
            json!([{ "id": bob_id, "name": "Bob Stone" }]),
        ),
        ("hi @Bob", json!([{ "id": bob_id, "name": "Bob Stone" }])),
        ("hi @Bob Stone", json!([{ "id": "", "name": "Bob Stone" }])),
        (
            "@Bob Stone @Bob Stone",
            json!([{ "id": bob_id, "name": "Bob Stone" }, { "id": bob_id, "name": "Bob Stone" }]),
        ),
    ] {
        let request = json!({ "room": "general", "text": text, "mentions": mentions });
        let ack = ada.emit_with_ack(event::CHAT_MESSAGE, request).await;
        assert_eq!(refusal_code(&ack), Some("invalid_mention"), "{ack}");
    }
    let next = post(&ada, "general", "still here").await;
    assert_eq!(next.seq, sent.seq + 1, "the refusals used no seq");

    // Deleting the message takes its mentions with its text.
    let delete = json!({ "room": "general", "seq": sent.seq });
    change_of(&ada.emit_with_ack(event::DELETE_MESSAGE, delete).await).expect("deleted");
    let history = app.history(&ada.token(), "general", None).await;
    let tombstone = history.iter().find(|m| m.seq == sent.seq).unwrap();
    assert_eq!(tombstone.mentions, []);
    app.stop().await;
}
