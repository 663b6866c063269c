//! The one module that calls the server over HTTP (docs/PROTOCOL.md): the server functions,
//! `POST /api/<name>` with a form body, answered with JSON, and files (`POST /api/files`,
//! `GET /files/<id>`, with the session's token), through the browser's own `fetch`. Leptos' generated client
//! speaks the same protocol but brings its own HTTP and encoding crates into the page: 26 KB of
//! its 260 KB gzip, measured with `cargo xtask bench`.

use serde::de::DeserializeOwned;
use shared::{
    ChatMessage, Credentials, ErrorCode, ErrorPayload, FileInfo, RegistrationInfo, RoomInfo,
    ServerInfo, SessionInfo, UserEntry,
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

    #[wasm_bindgen(method)]
    fn blob(this: &Response) -> js_sys::Promise;

    /// A file the person chose, dropped or pasted (a `Blob` with a name).
    pub type File;

    #[wasm_bindgen(method, getter)]
    pub fn name(this: &File) -> String;

    /// The type the browser guessed (the server decides for itself).
    #[wasm_bindgen(method, getter, js_name = type)]
    fn kind(this: &File) -> String;

    #[wasm_bindgen(js_namespace = URL, js_name = createObjectURL)]
    fn create_object_url(blob: &JsValue) -> String;

    /// Frees what [`file_url`] made.
    #[wasm_bindgen(js_namespace = URL, js_name = revokeObjectURL)]
    pub fn revoke_object_url(url: &str);
}

/// Uploads `file` to `room`: the file as messages will carry it, once attached.
pub async fn upload(token: &str, room: &str, file: &File) -> Result<FileInfo, ErrorPayload> {
    let url = format!(
        "/api/files?room={}&name={}",
        js_sys::encode_uri_component(room),
        js_sys::encode_uri_component(&file.name())
    );
    let kind = file.kind();
    let headers = [
        ("authorization", format!("Bearer {token}")),
        ("content-type", kind),
    ];
    let response = fetch_with(&url, "POST", &headers, Some(file.into())).await?;
    let json = answer(&response).await?;
    serde_wasm_bindgen::from_value(json).map_err(|_| unreadable())
}

/// Fetches `path` (`/files/<id>`, or its thumbnail) with the session's token: a `blob:` URL
/// of it, to free with [`revoke_object_url`].
pub async fn file_url(token: &str, path: &str) -> Result<String, ErrorPayload> {
    let headers = [("authorization", format!("Bearer {token}"))];
    let response = fetch_with(path, "GET", &headers, None).await?;
    if !response.ok() {
        return Err(answer(&response).await.err().unwrap_or_else(unreadable));
    }
    let blob = JsFuture::from(response.blob())
        .await
        .map_err(|_| unreadable())?;
    Ok(create_object_url(&blob))
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
    let headers = [(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let response = fetch_with(&format!("/api/{name}"), "POST", &headers, Some(body.into())).await?;
    answer(&response).await
}

/// `fetch(url, { method, headers, body })`: the response, whatever its status.
async fn fetch_with(
    url: &str,
    method: &str,
    headers: &[(&str, String)],
    body: Option<JsValue>,
) -> Result<Response, ErrorPayload> {
    let header_object = js_sys::Object::new();
    let init = js_sys::Object::new();
    let fields = headers
        .iter()
        .map(|(key, value)| (&header_object, *key, JsValue::from(value)))
        .chain([
            (&init, "method", method.into()),
            (&init, "headers", header_object.clone().into()),
        ])
        .chain(body.map(|body| (&init, "body", body)));
    for (object, key, value) in fields {
        js_sys::Reflect::set(object, &key.into(), &value).map_err(|_| unreadable())?;
    }
    let unreachable = |_| {
        ErrorPayload::new(
            ErrorCode::Timeout,
            "The server could not be reached; try again.",
        )
    };
    Ok(JsFuture::from(fetch(url, &init))
        .await
        .map_err(unreachable)?
        .unchecked_into())
}

/// The JSON of a response: what it says, or the refusal it carries.
async fn answer(response: &Response) -> Result<JsValue, ErrorPayload> {
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
