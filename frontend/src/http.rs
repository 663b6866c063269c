//! The one module that calls the server functions (docs/PROTOCOL.md): `POST /api/<name>` with a
//! form body, answered with JSON, through the browser's own `fetch`. Leptos' generated client
//! speaks the same protocol but brings its own HTTP and encoding crates into the page: 26 KB of
//! its 260 KB gzip, measured with `cargo xtask bench`.

use serde::de::DeserializeOwned;
use shared::{
    ChatMessage, Credentials, ErrorCode, ErrorPayload, RegistrationInfo, RoomInfo, ServerInfo,
    SessionInfo, UserEntry,
};
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

/// Whether the server has accounts yet, who may sign up, whether guests may chat.
pub async fn server() -> Result<ServerInfo, ErrorPayload> {
    post("server", &[]).await
}

/// A new session for this username and password.
pub async fn login(username: &str, password: &str) -> Result<Credentials, ErrorPayload> {
    post("login", &[("username", username), ("password", password)]).await
}

/// A new account, logged in. `guest`: the guest's session, which becomes the account, and its
/// display name (the username if `None`).
pub async fn register(
    username: &str,
    password: &str,
    invite: Option<&str>,
    guest: Option<(&str, &str)>,
) -> Result<Credentials, ErrorPayload> {
    let mut form = vec![("username", username), ("password", password)];
    form.extend(invite.map(|invite| ("invite", invite)));
    if let Some((token, name)) = guest {
        form.extend([("token", token), ("name", name)]);
    }
    post("register", &form).await
}

/// Ends this session (`logout`), or all of the user's (`logout_everywhere`).
pub async fn logout(token: &str, everywhere: bool) -> Result<(), ErrorPayload> {
    let name = if everywhere {
        "logout_everywhere"
    } else {
        "logout"
    };
    post(name, &[("token", token)]).await
}

/// The user's sessions, most recently used first.
pub async fn sessions(token: &str) -> Result<Vec<SessionInfo>, ErrorPayload> {
    post("sessions", &[("token", token)]).await
}

/// Ends the user's session `id`.
pub async fn end_session(token: &str, id: &str) -> Result<(), ErrorPayload> {
    post("end_session", &[("token", token), ("id", id)]).await
}

/// Changes the password; the user's other sessions end.
pub async fn change_password(token: &str, current: &str, new: &str) -> Result<(), ErrorPayload> {
    post(
        "change_password",
        &[("token", token), ("current", current), ("new", new)],
    )
    .await
}

/// For an admin: the registration mode and join link, after setting the `mode` and making a new
/// link if asked.
pub async fn registration(
    token: &str,
    mode: Option<&str>,
    new_link: bool,
) -> Result<RegistrationInfo, ErrorPayload> {
    let mut form = vec![("token", token)];
    form.extend(mode.map(|mode| ("mode", mode)));
    if new_link {
        form.push(("reset_invite", "true"));
    }
    post("registration", &form).await
}

/// For an admin: every account, by username.
pub async fn users(token: &str) -> Result<Vec<UserEntry>, ErrorPayload> {
    post("users", &[("token", token)]).await
}

/// For an admin: makes `user` an admin or a member.
pub async fn set_role(token: &str, user: &str, role: &str) -> Result<(), ErrorPayload> {
    post(
        "set_role",
        &[("token", token), ("user", user), ("role", role)],
    )
    .await
}

/// For an admin: bans `user` (their connections close; they cannot come back) or lifts the ban.
pub async fn set_banned(token: &str, user: &str, banned: bool) -> Result<(), ErrorPayload> {
    let name = if banned { "ban" } else { "unban" };
    post(name, &[("token", token), ("user", user)]).await
}

/// POSTs `form` to the server function `name`: its answer, or its refusal.
async fn post<T: DeserializeOwned>(name: &str, form: &[(&str, &str)]) -> Result<T, ErrorPayload> {
    serde_wasm_bindgen::from_value(call(name, form).await?).map_err(|_| unreadable())
}

/// The part of [`post`] that does not depend on the answer's type, so that it is compiled once.
async fn call(name: &str, form: &[(&str, &str)]) -> Result<JsValue, ErrorPayload> {
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
        Ok(json)
    } else {
        Err(serde_wasm_bindgen::from_value(json).unwrap_or_else(|_| unreadable()))
    }
}

fn unreadable() -> ErrorPayload {
    ErrorPayload::new(ErrorCode::Unknown, "Unreadable server reply.")
}
