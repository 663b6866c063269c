//! Edits and deletions over real sockets: live to the room, refused to whoever may not make them
//! (someone else's message; a private room's outsider, who learns nothing), an admin's deletion
//! marked as such, and a client that was offline ending, after `sync`, exactly where a client
//! that stayed online did, reactions and replies' quotes included (issue 12; issue 11's
//! moderation).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::{Change, ChatMessage, DeletedBy, MessageChanged, Synced};

use crate::helpers::{PATIENCE, TestApp, TestClient, event, learned_nothing, named, refusal_code};

/// Posts `text` to `room`; the stored message.
pub async fn post(client: &TestClient, room: &str, text: &str) -> ChatMessage {
    let ack = client
        .emit_with_ack(event::CHAT_MESSAGE, json!({ "room": room, "text": text }))
        .await;
    assert_eq!(refusal_code(&ack), None, "{ack}");
    serde_json::from_value(ack["message"].clone()).expect("a message")
}

async fn edit(client: &TestClient, room: &str, seq: i64, text: &str) -> Value {
    let request = json!({ "room": room, "seq": seq, "text": text });
    client.emit_with_ack(event::EDIT_MESSAGE, request).await
}

async fn delete(client: &TestClient, room: &str, seq: i64) -> Value {
    let request = json!({ "room": room, "seq": seq });
    client.emit_with_ack(event::DELETE_MESSAGE, request).await
}

/// The change an accepted request's acknowledgement carries (`None`: nothing changed).
pub fn change_of(ack: &Value) -> Option<MessageChanged> {
    assert_eq!(refusal_code(ack), None, "{ack}");
    ack.get("change")
        .map(|change| serde_json::from_value(change.clone()).expect("a change"))
}

/// The next `messageChanged` this client receives.
pub async fn next_change(client: &mut TestClient) -> MessageChanged {
    serde_json::from_value(client.next(event::MESSAGE_CHANGED).await).expect("a change")
}

#[tokio::test]
async fn edits_and_deletions_reach_the_room_live_and_stay_in_history() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    let posted = post(&ada, "general", "helo").await;
    assert_eq!(bob.next(event::CHAT_MESSAGE).await["text"], "helo");

    // The edit takes the room's next seq, goes to everyone in the room, and is acknowledged.
    let edited = change_of(&edit(&ada, "general", posted.seq, "  hello  ").await).expect("edited");
    assert_eq!((edited.seq, edited.target), (posted.seq + 1, posted.seq));
    let Change::Edited { text, edited_at } = &edited.change else {
        panic!("not an edit: {edited:?}");
    };
    assert_eq!(text, "hello", "trimmed like a posted message");
    assert!(*edited_at >= posted.sent_at);
    assert_eq!(next_change(&mut bob).await, edited);

    // Nothing to change: the same text again, or a second deletion. Bad requests are refused
    // with their code and change nothing.
    assert_eq!(
        change_of(&edit(&ada, "general", posted.seq, "hello").await),
        None
    );
    for (ack, code) in [
        (
            edit(&ada, "general", posted.seq, " ").await,
            "empty_message",
        ),
        (
            edit(&ada, "general", edited.seq, "x").await,
            "message_not_found",
        ),
        (edit(&ada, "general", 99, "x").await, "message_not_found"),
        (delete(&ada, "nope", posted.seq).await, "room_not_found"),
        (delete(&ada, "Not A Room", posted.seq).await, "invalid_room"),
        (
            ada.emit_with_ack(
                event::DELETE_MESSAGE,
                json!({ "room": "general", "seq": "1" }),
            )
            .await,
            "invalid_payload",
        ),
    ] {
        assert_eq!(refusal_code(&ack), Some(code), "{ack}");
    }

    let deleted = change_of(&delete(&ada, "general", posted.seq).await).expect("deleted");
    assert_eq!(deleted.seq, edited.seq + 1);
    assert_eq!(
        deleted.change,
        Change::Deleted {
            by: DeletedBy::Author
        }
    );
    // Bob's next event is the deletion: the refused and empty requests sent him nothing.
    assert_eq!(next_change(&mut bob).await, deleted);
    assert_eq!(change_of(&delete(&ada, "general", posted.seq).await), None);
    let refused = edit(&ada, "general", posted.seq, "back").await;
    assert_eq!(refusal_code(&refused), Some("message_deleted"), "{refused}");

    // History shows the tombstone in its place, with no text; the next message follows the
    // changes' seqs without a gap.
    let history = app.history(&bob.token(), "general", None).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text, "");
    assert_eq!(history[0].deleted, Some(DeletedBy::Author));
    assert_eq!(history[0].edited_at, Some(*edited_at));
    assert_eq!(post(&ada, "general", "next").await.seq, deleted.seq + 1);
    app.stop().await;
}

#[tokio::test]
async fn nobody_changes_someone_elses_message_and_outsiders_learn_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut eve = app.client_as(named("Eve")).await;
    let mine = post(&ada, "general", "Ada's own").await;
    eve.next(event::CHAT_MESSAGE).await;
    for ack in [
        edit(&eve, "general", mine.seq, "Eve was here").await,
        delete(&eve, "general", mine.seq).await,
    ] {
        assert_eq!(refusal_code(&ack), Some("forbidden"), "{ack}");
    }

    // A private room: the outsider is told `not_a_member` whether the message exists or not.
    ada.create_private_room("plans").await;
    let secret = post(&ada, "plans", "the secret plan").await;
    for seq in [secret.seq, 99] {
        for ack in [
            edit(&eve, "plans", seq, "leaked").await,
            delete(&eve, "plans", seq).await,
        ] {
            assert_eq!(refusal_code(&ack), Some("not_a_member"), "{ack}");
            assert!(!ack.to_string().contains("secret"), "{ack}");
        }
    }
    change_of(&edit(&ada, "plans", secret.seq, "the secret plan, revised").await)
        .expect("the author edits");
    learned_nothing(&mut eve, "secret").await;

    let history = app.history(&ada.token(), "general", None).await;
    assert_eq!(history[0].text, "Ada's own", "unchanged");
    assert_eq!(history[0].edited_at, None);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_deletes_any_message_and_the_tombstone_says_so() {
    let app = TestApp::spawn().await;
    let (status, admin) = app
        .call(
            "register",
            &[("username", "root"), ("password", "admin password")],
        )
        .await;
    assert_eq!(status, 200, "{admin}");
    let token = admin["token"].as_str().expect("a token").to_owned();
    let mut admin = app.client_with_token(&token).await;
    let mut bob = app.client_as(named("Bob")).await;
    let spam = post(&bob, "general", "buy my stuff").await;
    admin.next(event::CHAT_MESSAGE).await;
    bob.next(event::CHAT_MESSAGE).await;

    let refused = edit(&admin, "general", spam.seq, "nicer").await;
    assert_eq!(
        refusal_code(&refused),
        Some("forbidden"),
        "an admin edits no one's text"
    );
    let removed = change_of(&delete(&admin, "general", spam.seq).await).expect("deleted");
    assert_eq!(
        removed.change,
        Change::Deleted {
            by: DeletedBy::Admin
        }
    );
    assert_eq!(next_change(&mut bob).await, removed);
    assert_eq!(next_change(&mut admin).await, removed);
    let history = app.history(&bob.token(), "general", None).await;
    assert_eq!(
        (history[0].text.as_str(), history[0].deleted),
        ("", Some(DeletedBy::Admin))
    );
    // The seed's own wire: a tombstone is a message with empty text and `deleted`.
    let synced = bob
        .emit_with_ack(
            event::SYNC,
            json!({ "rooms": [{ "room": "general", "afterSeq": 0 }] }),
        )
        .await;
    assert_eq!(synced["messages"][0]["deleted"], "admin", "{synced}");
    assert_eq!(synced["changes"][0]["by"], "admin", "{synced}");
    app.stop().await;
}

/// A client's view of one room: its messages by seq as the changes it heard of left them, and
/// the newest seq it has seen (of a message or a change).
#[derive(Debug, Default, PartialEq)]
struct View {
    messages: BTreeMap<i64, ChatMessage>,
    cursor: i64,
}

impl View {
    fn message(&mut self, message: ChatMessage) {
        self.cursor = self.cursor.max(message.seq);
        self.messages.insert(message.seq, message);
    }

    /// Applies `change` to every message held: its target, and the replies that quote it.
    fn change(&mut self, change: &MessageChanged) {
        self.cursor = self.cursor.max(change.seq);
        for message in self.messages.values_mut() {
            message.apply(change);
        }
    }

    /// Applies what `client` hears live (presence aside) until the view reaches `seq`.
    async fn follow(&mut self, client: &mut TestClient, seq: i64) {
        while self.cursor < seq {
            let (name, payload) = client
                .next_any_within(PATIENCE)
                .await
                .unwrap_or_else(|| panic!("nothing after seq {} within {PATIENCE:?}", self.cursor));
            match name.as_str() {
                event::CHAT_MESSAGE => self.message(serde_json::from_value(payload).unwrap()),
                event::MESSAGE_CHANGED => self.change(&serde_json::from_value(payload).unwrap()),
                event::PRESENCE => {}
                other => panic!("unexpected `{other}`: {payload}"),
            }
        }
    }

    /// Catches up with `sync` from the cursor, as the protocol says: messages replace what is
    /// held, changes apply to it, until the server says there is no more. How many changes
    /// came.
    async fn sync(&mut self, client: &TestClient) -> usize {
        let mut changes = 0;
        loop {
            let cursor = json!({ "room": "general", "afterSeq": self.cursor });
            let ack = client
                .emit_with_ack(event::SYNC, json!({ "rooms": [cursor] }))
                .await;
            assert_eq!(refusal_code(&ack), None, "{ack}");
            let synced: Synced = serde_json::from_value(ack).expect("a sync reply");
            // In seq order, as they took place.
            let mut seqs: Vec<i64> = synced.messages.iter().map(|m| m.seq).collect();
            seqs.extend(synced.changes.iter().map(|c| c.seq));
            seqs.sort_unstable();
            assert_eq!(
                seqs,
                (self.cursor + 1..=self.cursor + seqs.len() as i64).collect::<Vec<_>>()
            );
            changes += synced.changes.len();
            synced.messages.into_iter().for_each(|m| self.message(m));
            synced.changes.iter().for_each(|c| self.change(c));
            if !synced.more {
                return changes;
            }
        }
    }
}

#[tokio::test]
async fn a_client_that_was_offline_ends_where_one_that_stayed_online_did() {
    let app = TestApp::spawn().await;
    let mut away = app.client_as(named("Away")).await;
    let bea = app.client_as(named("Bea")).await;
    let mut stayed = app.client_as(named("Stayed")).await;
    let (mut away_view, mut stayed_view) = (View::default(), View::default());
    let mut last = 0;
    for text in ["one", "two", "three", "four"] {
        last = post(&bea, "general", text).await.seq;
    }
    away_view.follow(&mut away, last).await;
    stayed_view.follow(&mut stayed, last).await;
    let token = away.token();
    away.disconnect().await;

    // While Away is gone: edits, deletions and reactions of messages it holds, replies to them,
    // new messages, and changes to those new messages, reactions taken away and given again.
    let five = post(&bea, "general", "five").await.seq;
    let six = post(&bea, "general", "six, with a typo").await.seq;
    let reply = |to: i64, text: &str| json!({ "room": "general", "text": text, "replyTo": to });
    let mut replies = Vec::new();
    for (to, text) in [(3, "about three"), (4, "about four"), (six, "about six")] {
        let ack = stayed
            .emit_with_ack(event::CHAT_MESSAGE, reply(to, text))
            .await;
        assert_eq!(refusal_code(&ack), None, "{ack}");
        replies.push(ack["message"]["seq"].as_i64().unwrap());
    }
    let steps = [
        edit(&bea, "general", 1, "one, edited").await,
        react(&stayed, 1, "👍", true).await,
        react(&bea, 1, "🎉", true).await,
        react(&bea, 1, "👍", true).await,
        react(&stayed, 1, "👍", false).await,
        react(&stayed, 1, "👍", true).await,
        react(&bea, 2, "❤️", true).await,
        delete(&bea, "general", 2).await,
        edit(&bea, "general", 3, "three, edited once").await,
        react(&bea, replies[0], "👀", true).await,
        edit(&bea, "general", 3, "three, edited twice").await,
        edit(&bea, "general", 4, "four, then deleted").await,
        delete(&bea, "general", 4).await,
        react(&stayed, six, "✅", true).await,
        edit(&bea, "general", six, "six").await,
        react(&bea, five, "🙂", true).await,
        react(&bea, five, "🙂", false).await,
        delete(&bea, "general", five).await,
    ];
    for ack in &steps {
        assert!(change_of(ack).is_some(), "{ack}");
    }
    last = post(&bea, "general", "seven").await.seq;
    stayed_view.follow(&mut stayed, last).await;

    let away = app.client_with_token(&token).await;
    let changes = away_view.sync(&away).await;
    assert_eq!(changes, steps.len(), "every change came with the sync");
    assert_eq!(away_view.cursor, last);
    for (seq, message) in &stayed_view.messages {
        assert_eq!(away_view.messages.get(seq), Some(message), "message {seq}");
    }
    assert_eq!(away_view, stayed_view);
    // And both equal what the server holds.
    let history = app.history(&away.token(), "general", None).await;
    let held: Vec<&ChatMessage> = stayed_view.messages.values().collect();
    assert_eq!(history.iter().collect::<Vec<_>>(), held);
    assert_eq!(held[1].deleted, Some(DeletedBy::Author));
    assert_eq!(held[2].text, "three, edited twice");
    let reactions: Vec<(&str, usize)> = (held[0].reactions.iter())
        .map(|r| (r.emoji.as_str(), r.by.len()))
        .collect();
    assert_eq!(reactions, [("🎉", 1), ("👍", 2)]);
    let quote = |seq: i64| stayed_view.messages[&seq].reply_to.clone().unwrap();
    assert_eq!(quote(replies[0]).text, "three, edited twice");
    assert_eq!(quote(replies[1]).deleted, Some(DeletedBy::Author));
    assert_eq!(quote(replies[2]).text, "six");
    app.stop().await;
}

async fn react(client: &TestClient, seq: i64, emoji: &str, on: bool) -> Value {
    let request = json!({ "room": "general", "seq": seq, "emoji": emoji });
    let name = if on { event::REACT } else { event::UNREACT };
    client.emit_with_ack(name, request).await
}
