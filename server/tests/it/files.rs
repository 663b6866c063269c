//! Files over real HTTP and real sockets: uploaded with the session's token, attached to a
//! message, seen live and in catch-up, fetched by the room's members only (anyone else gets the
//! answer an unknown id gets), served so that no file runs as a page of the chat (only images
//! the server decoded are `image/*`; HTML, SVG and anything else are downloads), refused past
//! the size limit with nothing stored, and gone with their message.

use std::io::Cursor;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use server::Config;
use shared::{ChatMessage, FileInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, TestClient, event, form_encode, named, temp_data_dir};

/// A `width` x `height` PNG.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 7])
    });
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

/// `POST /api/files?room=&name=` with `data`, claimed as `claimed`: the status and the JSON.
async fn upload(
    app: &TestApp,
    token: &str,
    room: &str,
    name: &str,
    claimed: &str,
    data: Vec<u8>,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/files?room={room}&name={}",
            app.url,
            form_encode(name)
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, claimed)
        .body(data)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An upload that must be taken.
async fn uploaded(
    app: &TestApp,
    client: &TestClient,
    room: &str,
    name: &str,
    data: Vec<u8>,
) -> FileInfo {
    let (status, body) = upload(app, &client.token(), room, name, "image/png", data).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).expect("a file")
}

/// `GET` `path` (`/files/...`) with `token`, if any.
async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.send().await.expect("an answer")
}

/// Posts `text` with the file `id` to `room`: the acknowledgement.
async fn post_with(
    client: &TestClient,
    room: &str,
    text: &str,
    id: &str,
    client_id: &str,
) -> Value {
    client
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "room": room, "text": text, "attachment": id, "clientId": client_id }),
        )
        .await
}

fn header_of<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// What every file response carries, whatever the file.
fn assert_contained(response: &reqwest::Response) {
    assert_eq!(header_of(response, "x-content-type-options"), "nosniff");
    assert_eq!(
        header_of(response, "content-security-policy"),
        "sandbox; default-src 'none'"
    );
    assert!(header_of(response, "cache-control").starts_with("private"));
}

#[tokio::test]
async fn a_picture_is_attached_seen_live_and_in_history_and_fetched_with_its_thumbnail() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    let picture = png(800, 600);
    let file = uploaded(&app, &ada, "general", "holiday photo.png", picture.clone()).await;
    assert_eq!(file.name, "holiday photo.png");
    assert_eq!(file.content_type, "image/png");
    assert_eq!(file.size, picture.len() as u64);
    let size = file.image.expect("an image");
    assert_eq!((size.width, size.height), (800, 600));

    // No words needed with a file.
    let sent = post_with(&ada, "general", "  ", &file.id, "c1").await;
    assert_eq!(sent["status"], "ok", "{sent}");
    assert_eq!(sent["message"]["attachment"], json!(file), "{sent}");
    assert_eq!(sent["message"]["text"], "");

    let live: ChatMessage =
        serde_json::from_value(bob.next(event::CHAT_MESSAGE).await).expect("a message");
    assert_eq!(live.attachment.as_ref(), Some(&file));
    let history = app.history(&bob.token(), "general", None).await;
    assert_eq!(
        history.last().and_then(|m| m.attachment.as_ref()),
        Some(&file)
    );
    let synced = bob
        .emit_with_ack(
            event::SYNC,
            json!({ "rooms": [{ "room": "general", "afterSeq": 0 }] }),
        )
        .await;
    assert_eq!(synced["messages"][0]["attachment"], json!(file), "{synced}");

    let got = fetch(&app, &format!("/files/{}", file.id), Some(&bob.token())).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_contained(&got);
    assert_eq!(header_of(&got, "content-type"), "image/png");
    assert!(
        header_of(&got, "content-disposition")
            .starts_with("inline; filename=\"holiday photo.png\"")
    );
    let etag = header_of(&got, "etag").to_owned();
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), &picture[..]);

    let thumbnail = fetch(
        &app,
        &format!("/files/{}/thumbnail", file.id),
        Some(&bob.token()),
    )
    .await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    assert_contained(&thumbnail);
    assert_eq!(header_of(&thumbnail, "content-type"), "image/jpeg");
    let small =
        image::load_from_memory(&thumbnail.bytes().await.expect("bytes")).expect("an image");
    assert_eq!((small.width(), small.height()), (360, 270));

    // Fetched again: not sent again.
    let again = reqwest::Client::new()
        .get(format!("{}/files/{}", app.url, file.id))
        .header(header::AUTHORIZATION, format!("Bearer {}", bob.token()))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("an answer");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn a_file_of_a_room_one_is_not_in_is_not_found_as_an_unknown_one_is() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let eve = app.client_as(named("Eve")).await;
    ada.create_private_room("plans").await;
    let file = uploaded(&app, &ada, "plans", "plan.png", png(20, 20)).await;
    let sent = post_with(&ada, "plans", "the plan", &file.id, "p1").await;
    assert_eq!(sent["status"], "ok", "{sent}");
    // An upload no message carries yet is its uploader's alone, even in a room all are in.
    let draft = uploaded(&app, &ada, "general", "draft.png", png(20, 20)).await;

    let unknown = fetch(
        &app,
        "/files/0190b5a0-0000-7000-8000-000000000000",
        Some(&eve.token()),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let unknown = unknown.text().await.expect("a body");
    assert!(unknown.contains("file_not_found"), "{unknown}");
    for path in [
        format!("/files/{}", file.id),
        format!("/files/{}/thumbnail", file.id),
        format!("/files/{}", draft.id),
    ] {
        let refused = fetch(&app, &path, Some(&eve.token())).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(refused.text().await.expect("a body"), unknown, "{path}");
    }
    let own = fetch(&app, &format!("/files/{}", draft.id), Some(&ada.token())).await;
    assert_eq!(own.status(), StatusCode::OK);

    // Without a session, or with a wrong one, nothing at all.
    let anonymous = fetch(&app, &format!("/files/{}", file.id), None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = fetch(&app, &format!("/files/{}", file.id), Some("not-a-token")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // Nor may an outsider upload into the room.
    let (status, body) = upload(
        &app,
        &eve.token(),
        "plans",
        "x.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_a_member"))
    );
    app.stop().await;
}

/// How many files the SQLite store of `app` holds.
async fn files_stored(app: &TestApp) -> i64 {
    let path = app.data_dir.join("chat.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("the database");
    let count = sqlx::query_scalar("SELECT count(*) FROM files")
        .fetch_one(&pool)
        .await
        .expect("a count");
    pool.close().await;
    count
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn_with(Config {
        max_file_bytes: 10_000,
        ..Config::new(temp_data_dir())
    })
    .await;
    let ada = app.client_as(named("Ada")).await;
    let (status, body) = upload(
        &app,
        &ada.token(),
        "general",
        "big.bin",
        "application/pdf",
        vec![7; 10_001],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "file_too_large", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("9.8 KiB")),
        "{body}"
    );

    // Without a length given ahead (chunked), refused once the limit is passed while reading.
    let address = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("a connection");
    let head = format!(
        "POST /api/files?room=general&name=big.bin HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        ada.token()
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    let chunk = vec![b'x'; 4_000];
    for _ in 0..3 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .expect("sent");
        stream.write_all(&chunk).await.expect("sent");
        stream.write_all(b"\r\n").await.expect("sent");
    }
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(crate::helpers::PATIENCE, stream.read(&mut answer))
        .await
        .expect("an answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("file_too_large"), "{answer}");

    // At the limit, taken.
    let (status, _) = upload(
        &app,
        &ada.token(),
        "general",
        "ok.bin",
        "application/pdf",
        vec![7; 10_000],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(files_stored(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn text_claimed_as_an_image_html_and_svg_are_stored_as_plain_files_and_served_as_downloads() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let bob = app.client_as(named("Bob")).await;
    let uploads = [
        ("cat.png", "image/png", b"this is text, not a picture".to_vec()),
        (
            "page.html",
            "text/html",
            b"<!doctype html><script>fetch('/api/rooms')</script>".to_vec(),
        ),
        (
            "logo.svg",
            "image/svg+xml",
            br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#.to_vec(),
        ),
    ];
    for (index, (name, claimed, data)) in uploads.into_iter().enumerate() {
        let (status, body) =
            upload(&app, &ada.token(), "general", name, claimed, data.clone()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let file: FileInfo = serde_json::from_value(body).expect("a file");
        assert_eq!(file.content_type, "application/octet-stream", "{name}");
        assert_eq!(file.image, None, "{name}");
        let sent = post_with(&ada, "general", name, &file.id, &format!("c{index}")).await;
        assert_eq!(sent["status"], "ok", "{sent}");

        let got = fetch(&app, &format!("/files/{}", file.id), Some(&bob.token())).await;
        assert_eq!(got.status(), StatusCode::OK, "{name}");
        assert_contained(&got);
        assert_eq!(
            header_of(&got, "content-type"),
            "application/octet-stream",
            "{name}"
        );
        assert_eq!(
            header_of(&got, "content-disposition"),
            format!("attachment; filename=\"{name}\"; filename*=UTF-8''{name}"),
        );
        assert_eq!(
            got.bytes().await.expect("bytes").as_ref(),
            &data[..],
            "{name}"
        );
        let thumbnail = fetch(
            &app,
            &format!("/files/{}/thumbnail", file.id),
            Some(&bob.token()),
        )
        .await;
        assert_eq!(thumbnail.status(), StatusCode::NOT_FOUND, "{name}");
    }
    app.stop().await;
}

#[tokio::test]
async fn only_ones_own_unattached_file_of_the_same_room_can_be_attached() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let bob = app.client_as(named("Bob")).await;
    let joined = ada
        .emit_with_ack(event::CREATE_ROOM, json!({ "room": "rust" }))
        .await;
    assert_eq!(joined["status"], "ok", "{joined}");
    let adas = uploaded(&app, &ada, "general", "a.png", png(10, 10)).await;
    let elsewhere = uploaded(&app, &ada, "rust", "b.png", png(10, 10)).await;

    let refused = post_with(&bob, "general", "mine now", &adas.id, "b1").await;
    assert_eq!(refused["error"]["code"], "file_not_found", "{refused}");
    let refused = post_with(&ada, "general", "wrong room", &elsewhere.id, "a0").await;
    assert_eq!(refused["error"]["code"], "file_not_found", "{refused}");
    let refused = post_with(&ada, "general", "nothing", "no-such-file", "a9").await;
    assert_eq!(refused["error"]["code"], "file_not_found", "{refused}");

    let first = post_with(&ada, "general", "once", &adas.id, "a1").await;
    assert_eq!(first["status"], "ok", "{first}");
    // A retry is the same message; another message cannot carry the file again.
    let retry = post_with(&ada, "general", "once", &adas.id, "a1").await;
    assert_eq!(retry["message"]["seq"], first["message"]["seq"], "{retry}");
    assert_eq!(retry["message"]["attachment"]["id"], adas.id.as_str());
    let twice = post_with(&ada, "general", "twice", &adas.id, "a2").await;
    assert_eq!(twice["error"]["code"], "file_not_found", "{twice}");
    // Without a file, a message still needs words.
    let empty = ada
        .emit_with_ack(
            event::CHAT_MESSAGE,
            json!({ "room": "general", "text": " " }),
        )
        .await;
    assert_eq!(empty["error"]["code"], "empty_message", "{empty}");
    app.stop().await;
}

#[tokio::test]
async fn deleting_the_message_removes_its_file() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut bob = app.client_as(named("Bob")).await;
    let file = uploaded(&app, &ada, "general", "gone.png", png(30, 30)).await;
    let sent = post_with(&ada, "general", "soon gone", &file.id, "d1").await;
    let seq = sent["message"]["seq"].as_i64().expect("a seq");
    bob.next(event::CHAT_MESSAGE).await;
    let deleted = ada
        .emit_with_ack(
            event::DELETE_MESSAGE,
            json!({ "room": "general", "seq": seq }),
        )
        .await;
    assert_eq!(deleted["status"], "ok", "{deleted}");
    bob.next(event::MESSAGE_CHANGED).await;
    for path in [
        format!("/files/{}", file.id),
        format!("/files/{}/thumbnail", file.id),
    ] {
        let gone = fetch(&app, &path, Some(&bob.token())).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let history = app.history(&bob.token(), "general", None).await;
    let tombstone = history
        .iter()
        .find(|m| m.seq == seq)
        .expect("the tombstone");
    assert!(tombstone.deleted.is_some());
    assert_eq!(tombstone.attachment, None);
    assert_eq!(files_stored(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_guest_never_stored_shares_a_file_too() {
    let app = TestApp::spawn().await;
    let guest = app.client().await;
    let mut ada = app.client_as(named("Ada")).await;
    let file = uploaded(&app, &guest, "general", "notes.txt", b"some notes".to_vec()).await;
    let sent = post_with(&guest, "general", "", &file.id, "g1").await;
    assert_eq!(sent["status"], "ok", "{sent}");
    let live: ChatMessage =
        serde_json::from_value(ada.next(event::CHAT_MESSAGE).await).expect("a message");
    assert_eq!(live.attachment.as_ref(), Some(&file));
    let got = fetch(&app, &format!("/files/{}", file.id), Some(&ada.token())).await;
    assert_eq!(got.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn uploads_have_a_budget_per_user() {
    let app = TestApp::spawn().await;
    let ada = app.client_as(named("Ada")).await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        let (status, _) = upload(
            &app,
            &ada.token(),
            "general",
            &format!("{n}.txt"),
            "text/plain",
            vec![b'x'; 10],
        )
        .await;
        statuses.push(status);
    }
    let taken = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    // Ten at once; one more every 5 seconds, should the loop be that slow.
    assert!((10..=11).contains(&taken), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    // Another person's budget is their own.
    let bob = app.client_as(named("Bob")).await;
    let (status, _) = upload(
        &app,
        &bob.token(),
        "general",
        "b.txt",
        "text/plain",
        vec![1],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
