//! Reactions over real sockets: live to the room and on the message wherever it is read, one per
//! person and emoji, at most 20 emoji a message, gone with the message's deletion, and refused
//! to whoever cannot read the room (a private room's outsider learns nothing) (issue 12).

use serde_json::{Value, json};
use shared::{Change, MAX_REACTIONS};

use crate::changes::{change_of, next_change, post};
use crate::helpers::{TestApp, TestClient, event, learned_nothing, named, refusal_code};

async fn react(client: &TestClient, room: &str, seq: i64, emoji: &str) -> Value {
    let request = json!({ "room": room, "seq": seq, "emoji": emoji });
    client.emit_with_ack(event::REACT, request).await
}

async fn unreact(client: &TestClient, room: &str, seq: i64, emoji: &str) -> Value {
    let request = json!({ "room": room, "seq": seq, "emoji": emoji });
    client.emit_with_ack(event::UNREACT, request).await
}

/// `(emoji, [reactor's name])` of a message as read now from history.
async fn reactions(app: &TestApp, reader: &TestClient, room: &str) -> Vec<(String, Vec<String>)> {
    let history = app.history(&reader.token(), room, None).await;
    history[0]
        .reactions
        .iter()
        .map(|r| {
            let by = r.by.iter().map(|r| r.user.name.clone()).collect();
            (r.emoji.clone(), by)
        })
        .collect()
}

#[tokio::test]
async fn reactions_reach_the_room_live_and_stay_on_the_message() {
    let app = TestApp::spawn().await;
    let mut ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    let posted = post(&ada, "general", "lunch?").await;
    bob.next(event::CHAT_MESSAGE).await;
    ada.next(event::CHAT_MESSAGE).await;

    // A reaction takes the room's next seq, names who made it, reaches everyone in the room,
    // and is acknowledged.
    let reacted = change_of(&react(&bob, "general", posted.seq, "👍").await).expect("reacted");
    assert_eq!((reacted.seq, reacted.target), (posted.seq + 1, posted.seq));
    let Change::Reacted { emoji, user } = &reacted.change else {
        panic!("not a reaction: {reacted:?}");
    };
    assert_eq!((emoji.as_str(), user), ("👍", &bob.welcome.user));
    assert_eq!(next_change(&mut ada).await, reacted);
    assert_eq!(next_change(&mut bob).await, reacted);

    // The same reaction again changes nothing; a bad one is refused with its code.
    assert_eq!(
        change_of(&react(&bob, "general", posted.seq, "👍").await),
        None
    );
    assert_eq!(
        change_of(&unreact(&ada, "general", posted.seq, "👍").await),
        None
    );
    for (ack, code) in [
        (
            react(&bob, "general", posted.seq, "ok").await,
            "invalid_emoji",
        ),
        (
            react(&bob, "general", posted.seq, "👍👍").await,
            "invalid_emoji",
        ),
        (
            react(&bob, "general", posted.seq, "").await,
            "invalid_emoji",
        ),
        (
            unreact(&bob, "general", posted.seq, "x").await,
            "invalid_emoji",
        ),
        (
            react(&bob, "general", reacted.seq, "👍").await,
            "message_not_found",
        ),
        (react(&bob, "general", 99, "👍").await, "message_not_found"),
        (
            react(&bob, "nope", posted.seq, "👍").await,
            "room_not_found",
        ),
        (
            react(&bob, "Not A Room", posted.seq, "👍").await,
            "invalid_room",
        ),
        (
            bob.emit_with_ack(event::REACT, json!({ "room": "general", "seq": 1 }))
                .await,
            "invalid_payload",
        ),
        (
            bob.emit_with_ack(
                event::UNREACT,
                json!({ "room": "general", "seq": "1", "emoji": "👍" }),
            )
            .await,
            "invalid_payload",
        ),
    ] {
        assert_eq!(refusal_code(&ack), Some(code), "{ack}");
    }

    let second = change_of(&react(&ada, "general", posted.seq, "👍").await).expect("reacted");
    let party = change_of(&react(&ada, "general", posted.seq, "🎉").await).expect("reacted");
    assert_eq!(
        reactions(&app, &bob, "general").await,
        [
            ("👍".to_owned(), vec!["Bob".to_owned(), "Ada".to_owned()]),
            ("🎉".to_owned(), vec!["Ada".to_owned()])
        ]
    );
    let taken = change_of(&unreact(&bob, "general", posted.seq, "👍").await).expect("unreacted");
    assert!(
        matches!(&taken.change, Change::Unreacted { emoji, user } if emoji == "👍" && user.name == "Bob")
    );
    // Bob's next events are these, in order: the refused and empty requests sent him nothing.
    for change in [second, party, taken] {
        assert_eq!(next_change(&mut bob).await, change);
    }
    assert_eq!(
        reactions(&app, &bob, "general").await,
        [
            ("👍".to_owned(), vec!["Ada".to_owned()]),
            ("🎉".to_owned(), vec!["Ada".to_owned()])
        ]
    );

    // A deletion takes the reactions with it; a deleted message takes none.
    change_of(
        &ada.emit_with_ack(
            event::DELETE_MESSAGE,
            json!({ "room": "general", "seq": posted.seq }),
        )
        .await,
    )
    .expect("deleted");
    assert!(reactions(&app, &bob, "general").await.is_empty());
    for ack in [
        react(&bob, "general", posted.seq, "👍").await,
        unreact(&ada, "general", posted.seq, "🎉").await,
    ] {
        assert_eq!(refusal_code(&ack), Some("message_deleted"), "{ack}");
    }
    app.stop().await;
}

#[tokio::test]
async fn anyone_who_can_read_the_room_reacts_and_outsiders_learn_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut eve = app.client_as(named("Eve")).await;
    for (room, private) in [("rust", false), ("plans", true)] {
        let created = ada
            .emit_with_ack(
                event::CREATE_ROOM,
                json!({ "room": room, "private": private }),
            )
            .await;
        assert_eq!(refusal_code(&created), None, "{created}");
    }
    // A public room Eve is not in: she may read it, so she may react (as she may edit there).
    let public = post(&ada, "rust", "public news").await;
    change_of(&react(&eve, "rust", public.seq, "👀").await).expect("reacted");
    // Her own message, too.
    let own = post(&eve, "general", "mine").await;
    change_of(&react(&eve, "general", own.seq, "😅").await).expect("reacted");

    // A private room: `not_a_member`, whether the message exists or not, and nothing of it.
    let secret = post(&ada, "plans", "the secret plan").await;
    change_of(&react(&ada, "plans", secret.seq, "🤫").await).expect("a member reacts");
    for seq in [secret.seq, 99] {
        for ack in [
            react(&eve, "plans", seq, "👍").await,
            unreact(&eve, "plans", seq, "🤫").await,
        ] {
            assert_eq!(refusal_code(&ack), Some("not_a_member"), "{ack}");
            assert!(!ack.to_string().contains("secret"), "{ack}");
        }
    }
    learned_nothing(&mut eve, "🤫").await;
    app.stop().await;
}

#[tokio::test]
async fn a_message_takes_twenty_different_emoji() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let bob = app.client_as(named("Bob")).await;
    let posted = post(&ada, "general", "react to everything").await;
    let emoji: Vec<String> = (0..=MAX_REACTIONS)
        .map(|n| {
            char::from_u32(0x1F600 + u32::try_from(n).unwrap())
                .unwrap()
                .to_string()
        })
        .collect();
    for each in &emoji[..MAX_REACTIONS] {
        change_of(&react(&ada, "general", posted.seq, each).await).expect("reacted");
    }
    let refused = react(&bob, "general", posted.seq, &emoji[MAX_REACTIONS]).await;
    assert_eq!(
        refusal_code(&refused),
        Some("too_many_reactions"),
        "{refused}"
    );
    // One of those there already is fine.
    change_of(&react(&bob, "general", posted.seq, &emoji[0]).await).expect("reacted");
    app.stop().await;
}
