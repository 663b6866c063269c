//! Direct conversations over real sockets: opened from someone's id (a guest's too), the same
//! conversation whoever opens it, and read only by its people through every path (live events,
//! `sync`, `members`, history, search, the directory); nobody is invited in.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClient, event, learned_nothing, named, refusal_code};

/// `opener` opens the conversation with the people `with`: its acknowledgement, checked.
async fn open(opener: &TestClient, with: &[&str]) -> Value {
    let opened = opener
        .emit_with_ack(event::OPEN_DIRECT, json!({ "with": with }))
        .await;
    assert_eq!(refusal_code(&opened), None, "{opened}");
    opened
}

fn names(people: &Value) -> Vec<&str> {
    let people = people.as_array().expect("a list");
    people
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn a_direct_conversation_is_read_only_by_its_people_through_every_path() {
    let app = TestApp::spawn().await;
    let (status, admin) = app
        .call_raw("register", "username=admin&password=admin+password".into())
        .await;
    assert_eq!(status, 200);
    let admin = app
        .client_with_token(admin["token"].as_str().expect("token"))
        .await;
    let ada = app.client_as(named("Ada")).await;
    // Bob is a guest who never did anything that stores him: he is known by being online.
    let mut bob = app.client().await;
    let mut eve = app.client_as(named("Eve")).await;
    let bob_id = bob.welcome.user.id.clone();

    let opened = open(&ada, &[&bob_id]).await;
    let room = opened["room"]["name"].as_str().expect("a name").to_owned();
    assert!(room.starts_with("dm."), "{room}");
    assert_eq!(opened["room"]["private"], true);
    let mut people = names(&opened["room"]["people"]);
    people.sort_unstable();
    assert_eq!(people, ["Ada", bob.welcome.user.name.as_str()]);
    let told = bob.next(event::INVITED).await;
    assert_eq!(told["room"]["name"], room.as_str());
    assert_eq!(told["by"]["name"], "Ada");

    let sent = ada
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "room": room, "text": "just between us" }),
        )
        .await;
    assert_eq!(refusal_code(&sent), None, "{sent}");
    assert_eq!(
        bob.next(event::CHAT_MESSAGE).await["text"],
        "just between us"
    );
    // Opened from the other side, it is the same conversation.
    let again = open(&bob, &[ada.welcome.user.id.as_str()]).await;
    assert_eq!(again["room"]["name"], room.as_str());
    let found = bob
        .emit_with_ack(event::SEARCH, json!({ "query": "between" }))
        .await;
    assert_eq!(found["results"][0]["room"], room.as_str(), "{found}");
    // Bob was stored when Ada named him: his next connection is in it from the start.
    let later = app.client_with_token(&bob.token()).await;
    let listed = later.welcome.rooms.iter().find(|r| r.name == room);
    assert_eq!(listed.map(|r| r.people.len()), Some(2));

    // Nobody else finds it, enters it, reads it or is brought in.
    for outsider in [&admin, &eve] {
        let (_, rooms) = app
            .call_raw("rooms", format!("token={}", outsider.token()))
            .await;
        assert!(!rooms.to_string().contains(&room), "{rooms}");
        let (status, _) = app
            .call_raw(
                "history",
                format!("token={}&room={room}&limit=50", outsider.token()),
            )
            .await;
        assert_eq!(status, 403);
        let found = outsider
            .emit_with_ack(event::SEARCH, json!({ "query": "between" }))
            .await;
        assert_eq!(found["results"], json!([]), "{found}");
    }
    let joined = eve
        .emit_with_ack(event::JOIN_ROOM, json!({ "room": room }))
        .await;
    assert_eq!(refusal_code(&joined), Some("forbidden"), "{joined}");
    for (request, payload) in [
        (
            event::SYNC,
            json!({ "rooms": [{ "room": room, "afterSeq": 0 }] }),
        ),
        (event::MEMBERS, json!({ "room": room })),
        (
            event::CHAT_MESSAGE,
            json!({ "room": room, "text": "let me in" }),
        ),
    ] {
        let refused = eve.emit_with_ack(request, payload).await;
        assert_eq!(refusal_code(&refused), Some("not_a_member"), "{refused}");
    }
    let eve_id = eve.welcome.user.id.clone();
    let refused = ada
        .emit_with_ack(event::INVITE, json!({ "room": room, "user": eve_id }))
        .await;
    assert_eq!(refusal_code(&refused), Some("forbidden"), "{refused}");
    let refused = admin
        .emit_with_ack(
            event::ARCHIVE_ROOM,
            json!({ "room": room, "archived": true }),
        )
        .await;
    assert_eq!(refusal_code(&refused), Some("forbidden"), "{refused}");
    // No one makes a room of a conversation's name (to be in it before its people).
    let refused = eve
        .emit_with_ack(event::CREATE_ROOM, json!({ "room": room }))
        .await;
    assert_eq!(refusal_code(&refused), Some("invalid_room"), "{refused}");
    ada.emit_with_ack(
        event::CHAT_MESSAGE,
        json!({ "room": room, "text": "another secret between us" }),
    )
    .await;
    learned_nothing(&mut eve, "between").await;
    app.stop().await;
}

#[tokio::test]
async fn someone_who_left_is_back_when_the_conversation_is_opened_again() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    let cleo = app.client_as(named("Cleo")).await;
    let (bob_id, cleo_id) = (bob.welcome.user.id.clone(), cleo.welcome.user.id.clone());

    // A small group is a conversation of its own, apart from the two's.
    let two = open(&ada, &[&bob_id]).await["room"]["name"].clone();
    assert_eq!(bob.next(event::INVITED).await["room"]["name"], two);
    let three = open(&ada, &[&bob_id, &cleo_id, &bob_id]).await;
    assert_ne!(three["room"]["name"], two);
    assert_eq!(three["room"]["people"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        bob.next(event::INVITED).await["room"]["name"],
        three["room"]["name"]
    );

    let left = bob
        .emit_with_ack(event::LEAVE_ROOM, json!({ "room": two }))
        .await;
    assert_eq!(refusal_code(&left), None, "{left}");
    let refused = ada
        .emit_with_ack(event::MEMBERS, json!({ "room": two }))
        .await;
    assert_eq!(
        refusal_code(&refused),
        None,
        "Ada is still in it: {refused}"
    );
    open(&ada, &[&bob_id]).await;
    assert_eq!(bob.next(event::INVITED).await["room"]["name"], two);
    ada.emit_with_ack(
        event::CHAT_MESSAGE,
        json!({ "room": two, "text": "welcome back" }),
    )
    .await;
    assert_eq!(bob.next(event::CHAT_MESSAGE).await["text"], "welcome back");
    app.stop().await;
}

#[tokio::test]
async fn a_conversation_is_with_someone_known_and_not_too_many() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let own = ada.welcome.user.id.clone();
    let stranger = uuid::Uuid::now_v7().to_string();
    let crowd: Vec<String> = (0..8).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for with in [
        json!([]),
        json!([own]),
        json!(["not an id"]),
        json!([stranger]),
        json!(crowd),
    ] {
        let refused = ada
            .emit_with_ack(event::OPEN_DIRECT, json!({ "with": with }))
            .await;
        assert_eq!(
            refusal_code(&refused),
            Some("invalid_payload"),
            "{with}: {refused}"
        );
    }
    // Refused, it stored nothing: Ada is in #general alone.
    let again = app.client_with_token(&ada.token()).await;
    assert_eq!(again.welcome.rooms.len(), 1);
    app.stop().await;
}
