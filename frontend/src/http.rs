//! The one module that calls the server functions (docs/PROTOCOL.md): `POST /api/<name>` with a
//! form body, answered with JSON, through the browser's own `fetch`. Leptos' generated client
//! speaks the same protocol but brings its own HTTP and encoding crates into the page: 26 KB of
//! its 260 KB gzip, measured with `cargo xtask bench`.

use serde::de::DeserializeOwned;
use shared::{ChatMessage, ErrorCode, ErrorPayload, RoomInfo};
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// What `fetch` resolves to.
    type Response;

    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str, init: &JsValue) -> js_sys::Promise;

    #[wasm_bindgen(method, getter)]
    fn ok(this: &Response) -> bool;

    #[wasm_bindgen(method)]
    fn json(this: &Response) -> js_sys::Promise;
}

/// Every room on the server, by name.
pub async fn rooms(token: &str) -> Result<Vec<RoomInfo>, ErrorPayload> {
    post("rooms", &[("token", token)]).await
}

/// Up to `limit` messages of `room` before sequence number `before` (the newest if `None`),
/// oldest first.
pub async fn history(
    token: &str,
    room: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<ChatMessage>, ErrorPayload> {
    let limit = limit.to_string();
    let before = before.map(|seq| seq.to_string());
    let mut form = vec![("token", token), ("room", room), ("limit", limit.as_str())];
    if let Some(before) = &before {
        form.push(("before", before));
    }
    post("history", &form).await
}

/// POSTs `form` to the server function `name`: its answer, or its refusal.
async fn post<T: DeserializeOwned>(name: &str, form: &[(&str, &str)]) -> Result<T, ErrorPayload> {
    let body = form
        .iter()
        .map(|(key, value)| format!("{key}={}", js_sys::encode_uri_component(value)))
        .collect::<Vec<_>>()
        .join("&");
    let headers = js_sys::Object::new();
    let init = js_sys::Object::new();
    for (object, key, value) in [
        (
            &headers,
            "content-type",
            JsValue::from("application/x-www-form-urlencoded"),
        ),
        (&init, "method", "POST".into()),
        (&init, "headers", headers.clone().into()),
        (&init, "body", body.into()),
    ] {
        js_sys::Reflect::set(object, &key.into(), &value).map_err(|_| unreadable())?;
    }
    let unreachable = |_| {
        ErrorPayload::new(
            ErrorCode::Timeout,
            "The server could not be reached; try again.",
        )
    };
    let response: Response = JsFuture::from(fetch(&format!("/api/{name}"), &init))
        .await
        .map_err(unreachable)?
        .unchecked_into();
    let json = JsFuture::from(response.json())
        .await
        .map_err(|_| unreadable())?;
    if response.ok() {
        serde_wasm_bindgen::from_value(json).map_err(|_| unreadable())
    } else {
        Err(serde_wasm_bindgen::from_value(json).unwrap_or_else(|_| unreadable()))
    }
}

fn unreadable() -> ErrorPayload {
    ErrorPayload::new(ErrorCode::Unknown, "Unreadable server reply.")
}
