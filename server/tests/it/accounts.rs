//! Accounts over real HTTP and sockets: the first account is the admin, a login works on any
//! device and is the same person, a guest becomes an account keeping its messages, sessions are
//! listed and ended (their sockets closed at once), passwords change, registration modes and
//! `--guests off` hold.

use serde_json::{Value, json};
use server::{AccountPolicy, Config, Registration};

use crate::{
    helpers::{TestApp, event, temp_data_dir},
    raw::RawWebSocket,
};

/// Registers `username` with password `<username> password`: the credentials.
async fn register(app: &TestApp, username: &str) -> Value {
    let password = format!("{username} password");
    let (status, body) = app
        .call(
            "register",
            &[("username", username), ("password", &password)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    app.call("login", &[("username", username), ("password", password)])
        .await
}

fn token(credentials: &Value) -> &str {
    credentials["token"].as_str().expect("a token")
}

async fn connect(app: &TestApp, token: &str) -> RawWebSocket {
    RawWebSocket::connect_as(&app.url, &json!({ "token": token })).await
}

#[tokio::test]
async fn the_first_account_is_the_admin_and_a_login_is_the_same_person_anywhere() {
    let app = TestApp::spawn().await;
    let (_, info) = app.call("server", &[]).await;
    assert_eq!(
        info,
        json!({ "setup": true, "registration": "open", "guests": true })
    );

    let ada = register(&app, "ada").await;
    assert_eq!(
        ada["account"],
        json!({ "username": "ada", "role": "admin" })
    );
    assert_eq!(ada["user"]["name"], "ada");
    let grace = register(&app, "grace").await;
    assert_eq!(grace["account"]["role"], "member");
    assert_eq!(app.call("server", &[]).await.1["setup"], false);

    // One device creates a room; another logs in and is the same user, in the same room.
    let mut laptop = connect(&app, token(&ada)).await;
    assert_eq!(laptop.welcome["account"], ada["account"]);
    assert_eq!(laptop.welcome["user"]["id"], ada["user"]["id"]);
    laptop
        .send_packet(r#"421["createRoom",{"room":"design"}]"#.to_owned())
        .await;
    laptop.next_ack().await;
    let (status, phone_login) = login(&app, "ADA", "ada password").await;
    assert_eq!(status, 200, "usernames are found whatever their case");
    assert_ne!(token(&phone_login), token(&ada), "a session of its own");
    let phone = connect(&app, token(&phone_login)).await;
    assert_eq!(phone.welcome["user"]["id"], ada["user"]["id"]);
    let rooms: Vec<&str> = phone.welcome["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|room| room["name"].as_str().expect("name"))
        .collect();
    assert_eq!(rooms, ["general", "design"]);
    app.stop().await;
}

#[tokio::test]
async fn an_accounts_username_goes_with_its_name_and_a_guest_has_none() {
    let app = TestApp::spawn().await;
    let ada = register(&app, "Ada").await;
    let mut guest = app.client().await;
    assert_eq!(guest.welcome.user.username, None);
    let mut laptop = connect(&app, token(&ada)).await;
    assert_eq!(laptop.welcome["user"]["username"], "Ada");
    laptop
        .send_packet(r#"42["chatMessage","from an account"]"#.to_owned())
        .await;
    let live = guest.next(event::CHAT_MESSAGE).await;
    assert_eq!(live["author"]["username"], "Ada", "{live}");
    guest.emit("chatMessage", json!("from a guest")).await;
    let theirs = loop {
        let (name, payload) = laptop.next_event().await;
        if name == event::CHAT_MESSAGE && payload["text"] == "from a guest" {
            break payload;
        }
    };
    assert!(theirs["author"].get("username").is_none(), "{theirs}");
    let history = app.history(token(&ada), "general", None).await;
    let usernames: Vec<_> = history
        .iter()
        .map(|m| m.author.username.as_deref())
        .collect();
    assert_eq!(usernames, [Some("Ada"), None]);
    app.stop().await;
}

#[tokio::test]
async fn what_is_read_on_one_device_is_read_on_the_others() {
    let app = TestApp::spawn().await;
    let ada = register(&app, "ada").await;
    let laptop = app.client_with_token(token(&ada)).await;
    let mut phone = app.client_with_token(token(&ada)).await;
    assert!(laptop.welcome.read.is_empty());
    let marked = laptop
        .emit_with_ack(event::MARK_READ, json!({ "room": "general", "seq": 4 }))
        .await;
    assert_eq!(marked["status"], "ok", "{marked}");
    let told = phone.next(event::READ).await;
    assert_eq!(told, json!({ "room": "general", "seq": 4 }));
    // Never back; a room one is not in is refused; the next device starts where they are.
    laptop
        .emit_with_ack(event::MARK_READ, json!({ "room": "general", "seq": 2 }))
        .await;
    let refused = laptop
        .emit_with_ack(event::MARK_READ, json!({ "room": "elsewhere", "seq": 2 }))
        .await;
    assert_eq!(refused["error"]["code"], "room_not_found", "{refused}");
    let tablet = app.client_with_token(token(&ada)).await;
    assert_eq!(
        tablet.welcome.read,
        [shared::ReadUpTo {
            room: "general".into(),
            seq: 4
        }]
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_credentials_and_bad_usernames_are_refused_with_their_codes() {
    let app = TestApp::spawn().await;
    register(&app, "ada").await;
    register(&app, "alice").await;
    let wrong = login(&app, "ada", "not the password").await;
    let unknown = login(&app, "nobody", "not the password").await;
    assert_eq!((wrong.0, &wrong.1["code"]), (401, &json!("unauthorized")));
    assert_eq!(
        wrong, unknown,
        "an unknown username reads like a wrong password"
    );

    for (username, password, status, code) in [
        ("ADA", "long enough", 409, "username_taken"),
        ("AL1CE", "long enough", 409, "username_taken"),
        ("a", "long enough", 400, "invalid_username"),
        ("bad name", "long enough", 400, "invalid_username"),
        ("bob", "short", 400, "invalid_password"),
    ] {
        let (got, body) = app
            .call(
                "register",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{username}"
        );
    }
    // Past a handful of attempts on one account, logins wait, even with the right password.
    let mut limited = false;
    for _ in 0..10 {
        let (status, body) = login(&app, "ada", "wrong password").await;
        if body["code"] == "rate_limited" {
            assert_eq!(status, 429);
            limited = true;
            break;
        }
    }
    assert!(limited, "10 wrong passwords in a row were all checked");
    assert_eq!(
        login(&app, "ada", "ada password").await.1["code"],
        "rate_limited"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_guest_becomes_an_account_keeping_its_id_and_messages() {
    let app = TestApp::spawn().await;
    let mut guest = app.client().await;
    let guest_id = guest.welcome.user.id.clone();
    guest.emit("chatMessage", json!("written as a guest")).await;
    guest.next(event::CHAT_MESSAGE).await;
    let (status, account) = app
        .call(
            "register",
            &[
                ("username", "ada"),
                ("password", "ada password"),
                ("name", "Ada Lovelace"),
                ("token", &guest.token()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["user"]["id"], guest_id.as_str());
    let history = app.history(token(&account), "general", None).await;
    assert_eq!(history[0].author.id, guest_id);
    assert_eq!(history[0].text, "written as a guest");
    // Once is enough.
    let (status, body) = app
        .call(
            "register",
            &[
                ("username", "ada2"),
                ("password", "ada password"),
                ("token", token(&account)),
            ],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    app.stop().await;
}

#[tokio::test]
async fn ending_a_session_closes_its_sockets_at_once_and_its_token_stops_working() {
    let app = TestApp::spawn().await;
    let laptop = register(&app, "ada").await;
    let phone = login(&app, "ada", "ada password").await.1;
    let mut phone_socket = connect(&app, token(&phone)).await;

    let (_, sessions) = app.call("sessions", &[("token", token(&laptop))]).await;
    let sessions = sessions.as_array().expect("a list");
    assert_eq!(sessions.len(), 2);
    let current: Vec<bool> = sessions.iter().map(|s| s["current"] == true).collect();
    assert_eq!(current.iter().filter(|current| **current).count(), 1);
    let phone_id = sessions
        .iter()
        .find(|session| session["current"] == false)
        .and_then(|session| session["id"].as_str())
        .expect("the other session");

    // Another user cannot end it.
    let grace = register(&app, "grace").await;
    let (status, _) = app
        .call("end_session", &[("token", token(&grace)), ("id", phone_id)])
        .await;
    assert_eq!(status, 400);

    let (status, _) = app
        .call(
            "end_session",
            &[("token", token(&laptop)), ("id", phone_id)],
        )
        .await;
    assert_eq!(status, 200);
    phone_socket.disconnected().await;
    // The phone's token names nobody now: connecting makes a new guest, not Ada.
    let again = connect(&app, token(&phone)).await;
    assert_ne!(again.welcome["user"]["id"], laptop["user"]["id"]);
    assert!(again.welcome.get("account").is_none());
    let (status, body) = app.call("sessions", &[("token", token(&phone))]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unknown_session"))
    );

    // Logging out everywhere ends the rest, this one included.
    let mut laptop_socket = connect(&app, token(&laptop)).await;
    let (status, _) = app
        .call("logout_everywhere", &[("token", token(&laptop))])
        .await;
    assert_eq!(status, 200);
    laptop_socket.disconnected().await;
    let (status, _) = app.call("sessions", &[("token", token(&laptop))]).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn a_new_password_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let laptop = register(&app, "ada").await;
    let phone = login(&app, "ada", "ada password").await.1;
    let mut phone_socket = connect(&app, token(&phone)).await;
    let change = |current: &'static str| {
        let token = token(&laptop).to_owned();
        let app = &app;
        async move {
            app.call(
                "change_password",
                &[
                    ("token", &token),
                    ("current", current),
                    ("new", "a new password"),
                ],
            )
            .await
        }
    };
    let (status, body) = change("wrong password").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    assert_eq!(change("ada password").await.0, 200);
    phone_socket.disconnected().await;
    assert_eq!(login(&app, "ada", "ada password").await.0, 401);
    assert_eq!(login(&app, "ada", "a new password").await.0, 200);
    // The laptop's own session goes on.
    let (status, _) = app.call("sessions", &[("token", token(&laptop))]).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn registration_by_invitation_needs_the_admins_link_and_closed_takes_nobody() {
    let app = TestApp::spawn_with(Config {
        accounts: AccountPolicy {
            registration: Some(Registration::Invite),
            ..AccountPolicy::default()
        },
        ..Config::new(temp_data_dir())
    })
    .await;
    // The first account needs no invitation: it sets the chat up.
    let admin = register(&app, "admin").await;
    let (status, body) = app
        .call(
            "register",
            &[("username", "bob"), ("password", "bob password")],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("registration_closed"))
    );

    // Only an admin sees the link.
    let member_guest = app.client().await;
    let (status, body) = app
        .call("registration", &[("token", &member_guest.token())])
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (_, info) = app.call("registration", &[("token", token(&admin))]).await;
    assert_eq!(info["mode"], "invite");
    let invite = info["invite"].as_str().expect("an invite code").to_owned();
    let (status, bob) = app
        .call(
            "register",
            &[
                ("username", "bob"),
                ("password", "bob password"),
                ("invite", &invite),
            ],
        )
        .await;
    assert_eq!(status, 200, "{bob}");
    // A member is not an admin either.
    let (status, _) = app.call("registration", &[("token", token(&bob))]).await;
    assert_eq!(status, 403);

    // A new link: the old one stops working. Then closed.
    let (_, info) = app
        .call(
            "registration",
            &[("token", token(&admin)), ("reset_invite", "true")],
        )
        .await;
    assert_ne!(info["invite"], invite.as_str());
    let (status, _) = app
        .call(
            "register",
            &[
                ("username", "carol"),
                ("password", "carol password"),
                ("invite", &invite),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (_, info) = app
        .call(
            "registration",
            &[("token", token(&admin)), ("mode", "closed")],
        )
        .await;
    assert_eq!(info["mode"], "closed");
    let fresh_invite = info["invite"].as_str().expect("code").to_owned();
    let (status, _) = app
        .call(
            "register",
            &[
                ("username", "carol"),
                ("password", "carol password"),
                ("invite", &fresh_invite),
            ],
        )
        .await;
    assert_eq!(status, 400, "closed takes nobody, invitation or not");
    app.stop().await;
}

#[tokio::test]
async fn with_guests_off_only_an_accounts_session_connects() {
    let app = TestApp::spawn_with(Config {
        accounts: AccountPolicy {
            guests: false,
            ..AccountPolicy::default()
        },
        ..Config::new(temp_data_dir())
    })
    .await;
    for auth in [
        json!({}),
        json!({ "name": "Guest" }),
        json!({ "token": "nope" }),
    ] {
        let mut bare = RawWebSocket::open(&app.url).await;
        let refusal = bare.join_or_refusal(&auth).await.expect_err("refused");
        assert!(refusal.contains("log in"), "{refusal}");
    }
    let ada = register(&app, "ada").await;
    let mut member = connect(&app, token(&ada)).await;
    member.chats().await;
    assert_eq!(app.call("server", &[]).await.1["guests"], false);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_bans_and_unbans_and_the_banned_are_cut_off_at_once() {
    let app = TestApp::spawn().await;
    let admin = register(&app, "admin").await;
    let bob = register(&app, "bob").await;
    let bob_id = bob["user"]["id"].as_str().expect("id").to_owned();
    let mut bob_socket = connect(&app, token(&bob)).await;

    // Members may not moderate.
    for (function, fields) in [
        ("users", vec![("token", token(&bob))]),
        (
            "ban",
            vec![
                ("token", token(&bob)),
                ("user", admin["user"]["id"].as_str().expect("id")),
            ],
        ),
    ] {
        let (status, body) = app.call(function, &fields).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("forbidden")),
            "{function}"
        );
    }
    let (_, users) = app.call("users", &[("token", token(&admin))]).await;
    let names: Vec<&str> = users
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| entry["account"]["username"].as_str().expect("username"))
        .collect();
    assert_eq!(names, ["admin", "bob"]);

    // An admin cannot ban themselves (nor another admin).
    let admin_id = admin["user"]["id"].as_str().expect("id");
    let (status, _) = app
        .call("ban", &[("token", token(&admin)), ("user", admin_id)])
        .await;
    assert_eq!(status, 403);

    let (status, _) = app
        .call("ban", &[("token", token(&admin)), ("user", &bob_id)])
        .await;
    assert_eq!(status, 200);
    bob_socket.disconnected().await;
    let (status, body) = login(&app, "bob", "bob password").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("banned")));
    let mut again = RawWebSocket::open(&app.url).await;
    let refusal = again
        .join_or_refusal(&json!({ "token": token(&bob) }))
        .await
        .expect_err("a banned user cannot connect");
    assert!(refusal.contains("banned"), "{refusal}");
    let (status, _) = app.call("rooms", &[("token", token(&bob))]).await;
    assert_eq!(status, 403);
    let (_, users) = app.call("users", &[("token", token(&admin))]).await;
    assert_eq!(users[1]["banned"], true);
    // Nobody brings a banned user into a room.
    let mut inviter = connect(&app, token(&admin)).await;
    inviter
        .send_packet(r#"421["createRoom",{"room":"mods","private":true}]"#.to_owned())
        .await;
    inviter.next_ack().await;
    inviter
        .send_packet(format!(
            r#"422["invite",{{"room":"mods","user":"{bob_id}"}}]"#
        ))
        .await;
    let (_, refused) = inviter.next_ack().await;
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");

    // Lifted: back where they were.
    let (status, _) = app
        .call("unban", &[("token", token(&admin)), ("user", &bob_id)])
        .await;
    assert_eq!(status, 200);
    let mut back = connect(&app, token(&bob)).await;
    assert_eq!(back.welcome["user"]["id"], bob_id.as_str());
    back.chats().await;

    // A guest is banned by its id, never having been stored.
    let mut guest = RawWebSocket::connect(&app.url).await;
    let guest_id = guest.welcome["user"]["id"].as_str().expect("id").to_owned();
    let guest_token = guest.welcome["token"].as_str().expect("token").to_owned();
    let (status, _) = app
        .call("ban", &[("token", token(&admin)), ("user", &guest_id)])
        .await;
    assert_eq!(status, 200);
    guest.disconnected().await;
    let mut again = RawWebSocket::open(&app.url).await;
    assert!(
        again
            .join_or_refusal(&json!({ "token": guest_token }))
            .await
            .is_err()
    );
    app.stop().await;
}

#[tokio::test]
async fn admins_promote_and_demote_and_the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let admin = register(&app, "admin").await;
    let bob = register(&app, "bob").await;
    let (admin_id, bob_id) = (
        admin["user"]["id"].as_str().expect("id"),
        bob["user"]["id"].as_str().expect("id"),
    );
    let set_role = |token: String, user: &'static str, role: &'static str| {
        let app = &app;
        let user = if user == "admin" { admin_id } else { bob_id }.to_owned();
        async move {
            app.call(
                "set_role",
                &[("token", &token), ("user", &user), ("role", role)],
            )
            .await
        }
    };
    let (status, body) = set_role(token(&bob).to_owned(), "bob", "admin").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "members cannot"
    );
    let (status, body) = set_role(token(&admin).to_owned(), "admin", "member").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "the last admin"
    );
    assert_eq!(
        set_role(token(&admin).to_owned(), "bob", "admin").await.0,
        200
    );
    assert_eq!(app.call("users", &[("token", token(&bob))]).await.0, 200);
    assert_eq!(
        set_role(token(&bob).to_owned(), "admin", "member").await.0,
        200
    );
    let (status, _) = app.call("users", &[("token", token(&admin))]).await;
    assert_eq!(status, 403, "demoted");
    // A new login reads the new role.
    let (_, again) = login(&app, "admin", "admin password").await;
    assert_eq!(again["account"]["role"], "member");
    app.stop().await;
}

#[tokio::test]
async fn one_address_makes_only_so_many_accounts_an_hour() {
    let app = TestApp::spawn_with(Config {
        accounts: AccountPolicy {
            registrations_per_hour: std::num::NonZeroU32::new(2),
            ..AccountPolicy::default()
        },
        ..Config::new(temp_data_dir())
    })
    .await;
    register(&app, "first").await;
    register(&app, "second").await;
    let (status, body) = app
        .call(
            "register",
            &[("username", "third"), ("password", "third password")],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // Logging in is not registering.
    assert_eq!(login(&app, "first", "first password").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn the_operator_resets_a_password_while_the_server_runs() {
    let app = TestApp::spawn().await;
    let admin = register(&app, "admin").await;
    let config = Config::new(app.data_dir.clone());
    let ended = server::reset_password(&config, "ADMIN", "a brand new password")
        .await
        .expect("reset");
    assert_eq!(ended, 1);
    let (status, _) = app.call("sessions", &[("token", token(&admin))]).await;
    assert_eq!(status, 401, "the old session ended");
    assert_eq!(login(&app, "admin", "admin password").await.0, 401);
    assert_eq!(login(&app, "admin", "a brand new password").await.0, 200);
    let refused = server::reset_password(&config, "nobody", "a brand new password").await;
    assert!(refused.is_err_and(|error| error.to_string().contains("no account")));
    let short = server::reset_password(&config, "admin", "short").await;
    assert!(short.is_err());
    app.stop().await;
}

#[tokio::test]
async fn a_guests_old_token_no_longer_speaks_for_the_account_it_became() {
    let app = TestApp::spawn().await;
    // A bare guest (its token never stored) and a named one (stored).
    for auth in [json!({}), json!({ "name": "Named" })] {
        let guest = RawWebSocket::connect_as(&app.url, &auth).await;
        let guest_token = guest.welcome["token"].as_str().expect("token").to_owned();
        let guest_id = guest.welcome["user"]["id"].as_str().expect("id").to_owned();
        let username = format!("user{}", &guest_id[guest_id.len() - 6..]);
        let (status, account) = app
            .call(
                "register",
                &[
                    ("username", &username),
                    ("password", "a long password"),
                    ("token", &guest_token),
                ],
            )
            .await;
        assert_eq!(status, 200, "{account}");
        assert_eq!(account["user"]["id"], guest_id.as_str());
        assert_eq!(
            account["user"]["name"],
            username.as_str(),
            "the chosen name"
        );
        let again = connect(&app, &guest_token).await;
        assert_ne!(again.welcome["user"]["id"], guest_id.as_str(), "{auth}");
        let (status, _) = app.call("sessions", &[("token", &guest_token)]).await;
        assert_eq!(status, 401, "{auth}");
    }
    app.stop().await;
}

#[tokio::test]
async fn another_spelling_of_an_id_is_the_same_user() {
    let app = TestApp::spawn().await;
    let admin = register(&app, "admin").await;
    let bob = register(&app, "bob").await;
    let mut bob_socket = connect(&app, token(&bob)).await;
    let admin_id = admin["user"]["id"].as_str().expect("id").to_uppercase();
    let (status, _) = app
        .call("ban", &[("token", token(&admin)), ("user", &admin_id)])
        .await;
    assert_eq!(status, 403, "not even in capitals");
    let bob_id = format!(
        "{{{}}}",
        bob["user"]["id"].as_str().expect("id").to_uppercase()
    );
    let (status, _) = app
        .call("ban", &[("token", token(&admin)), ("user", &bob_id)])
        .await;
    assert_eq!(status, 200);
    bob_socket.disconnected().await;
    app.stop().await;
}
