//! The server functions over HTTP, as any client calls them: refusals are the socket's
//! `{ code, message }` with a status to match, and a request body is read only up to a bound.

use serde_json::Value;

use crate::helpers::TestApp;

/// POSTs `body` to `/api/history`; the status and the JSON body.
async fn history(app: &TestApp, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/history", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("history request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

#[tokio::test]
async fn refusals_are_json_with_a_code_and_a_status() {
    let app = TestApp::spawn().await;
    let (status, body) = history(&app, "token=nope&room=general&limit=10".into()).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &Value::from("unknown_session"))
    );
    assert!(body["message"].is_string());

    let (status, body) = history(&app, "token=nope&limit=10".into()).await;
    assert_eq!(
        (status, &body["code"]),
        (500, &Value::from("invalid_payload"))
    );
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_being_read() {
    let app = TestApp::spawn().await;
    let (status, body) = history(
        &app,
        format!("token={}&room=general&limit=10", "x".repeat(1 << 20)),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["code"], "invalid_payload");
    app.stop().await;
}

#[tokio::test]
async fn calls_from_one_address_have_a_budget() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses.push(history(&app, "token=nope&room=general&limit=10".into()).await);
    }
    let (status, body) = statuses.last().expect("answers");
    assert_eq!(
        (*status, &body["code"]),
        (429, &Value::from("rate_limited"))
    );
    assert!(
        statuses.iter().filter(|(status, _)| *status == 401).count() >= 60,
        "a burst of calls is answered before the budget runs out"
    );
    app.stop().await;
}
