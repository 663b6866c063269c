//! The server functions over HTTP, as any client calls them: refusals are the socket's
//! `{ code, message }` with a status to match, and a request body is read only up to a bound.

use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn refusals_are_json_with_a_code_and_a_status() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .call_raw("history", "token=nope&room=general&limit=10".into())
        .await;
    assert_eq!(
        (status, &body["code"]),
        (401, &Value::from("unknown_session"))
    );
    assert!(body["message"].is_string());

    let (status, body) = app.call_raw("history", "token=nope&limit=10".into()).await;
    assert_eq!(
        (status, &body["code"]),
        (500, &Value::from("invalid_payload"))
    );
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_being_read() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .call_raw(
            "history",
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
    // All at once, so the budget (60 at once, then 10 a second) cannot refill in between.
    let calls =
        (0..150).map(|_| app.call_raw("history", "token=nope&room=general&limit=10".into()));
    let answers = futures_util::future::join_all(calls).await;
    let count = |code: &str| {
        answers
            .iter()
            .filter(|(_, body)| body["code"] == code)
            .count()
    };
    assert!(count("unknown_session") >= 60, "the burst is answered");
    assert!(
        count("rate_limited") > 0,
        "past the burst, calls are refused"
    );
    assert!(
        answers
            .iter()
            .all(|(status, body)| (*status == 429) == (body["code"] == "rate_limited"))
    );
    app.stop().await;
}
