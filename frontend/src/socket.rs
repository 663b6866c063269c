//! The one module that knows Socket.io: bindings to the official JS client (loaded by
//! `index.html` from `/socket.io/socket.io.js`) and the translation to typed events.

use std::{cell::OnceCell, rc::Rc};

use serde::{Serialize, de::DeserializeOwned};
use shared::{Ack, Auth, ChatMessage, ErrorPayload, Presence, Typing, Welcome, event};
use wasm_bindgen::prelude::*;

/// How long a request may wait for its acknowledgement.
const ACK_TIMEOUT_MS: u32 = 10_000;

#[wasm_bindgen]
extern "C" {
    /// A `Socket` of socket.io-client v4.
    type Socket;

    /// What `socket.timeout(ms)` returns: emits whose callbacks get `(err, reply)`.
    type TimedEmitter;

    /// The client's Manager, which owns reconnection.
    type Manager;

    #[wasm_bindgen(catch, js_name = io)]
    fn io(options: &JsValue) -> Result<Socket, JsValue>;

    #[wasm_bindgen(method)]
    fn on(this: &Socket, event: &str, listener: &JsValue);

    #[wasm_bindgen(method)]
    fn emit(this: &Socket, event: &str, data: &JsValue);

    #[wasm_bindgen(method)]
    fn timeout(this: &Socket, ms: u32) -> TimedEmitter;

    #[wasm_bindgen(method)]
    fn connect(this: &Socket);

    #[wasm_bindgen(method, js_name = emit)]
    fn emit_with_ack(this: &TimedEmitter, event: &str, data: &JsValue, ack: &JsValue);

    #[wasm_bindgen(method, getter, js_name = io)]
    fn manager(this: &Socket) -> Manager;

    #[wasm_bindgen(method, js_name = on)]
    fn on_manager(this: &Manager, event: &str, listener: &JsValue);
}

thread_local! {
    static SOCKET: OnceCell<Socket> = const { OnceCell::new() };
}

/// Everything the server can tell the UI.
pub enum ServerEvent {
    Connected,
    /// The connection dropped; the client reconnects by itself.
    Disconnected,
    /// The client could not start at all.
    Unavailable,
    Welcome(Welcome),
    Message(ChatMessage),
    Presence(Presence),
    Typing(Typing),
    Refused(ErrorPayload),
}

/// Connects to the page's origin. `auth` is asked again at every (re)connection, so a
/// reconnect presents the token the first welcome gave.
pub fn connect(auth: impl Fn() -> Auth + 'static, on_event: impl Fn(ServerEvent) + 'static) {
    let auth = Closure::<dyn Fn(js_sys::Function)>::new(move |reply: js_sys::Function| {
        if let Some(auth) = to_js(&auth())
            && let Err(error) = reply.call1(&JsValue::NULL, &auth)
        {
            leptos::logging::error!("auth callback failed: {error:?}");
        }
    });
    let options = js_sys::Object::new();
    // WebSocket first: no polling round-trips, and `trunk serve` only proxies WebSockets.
    // Polling stays as the fallback for networks that block WebSockets.
    let transports = js_sys::Array::of2(&"websocket".into(), &"polling".into());
    let set = |key: &str, value: &JsValue| {
        if js_sys::Reflect::set(&options, &key.into(), value).is_err() {
            leptos::logging::error!("could not set socket option {key}");
        }
    };
    set("transports", &transports);
    set("auth", auth.as_ref());
    auth.forget();

    let socket = match io(&options) {
        Ok(socket) => socket,
        Err(error) => {
            leptos::logging::error!("socket.io client unavailable: {error:?}");
            on_event(ServerEvent::Unavailable);
            return;
        }
    };
    let handler: Rc<dyn Fn(ServerEvent)> = Rc::new(on_event);

    let h = handler.clone();
    listen(&socket, "connect", move |_| h(ServerEvent::Connected));
    let h = handler.clone();
    listen(&socket, "disconnect", move |reason| {
        h(ServerEvent::Disconnected);
        // The server closes every socket when it restarts; the client library does not retry
        // after a server-side disconnect by itself, so ask it to.
        if reason.as_string().as_deref() == Some("io server disconnect") {
            leptos::prelude::set_timeout(
                || with_socket(Socket::connect),
                std::time::Duration::from_secs(1),
            );
        }
    });
    let h = handler.clone();
    listen(&socket, "connect_error", move |error| {
        leptos::logging::warn!("connection refused: {error:?}");
        h(ServerEvent::Disconnected);
    });
    let h = handler.clone();
    listen_typed(&socket, event::WELCOME, move |w| h(ServerEvent::Welcome(w)));
    let h = handler.clone();
    listen_typed(&socket, event::CHAT_MESSAGE, move |m| {
        h(ServerEvent::Message(m))
    });
    let h = handler.clone();
    listen_typed(&socket, event::PRESENCE, move |p| {
        h(ServerEvent::Presence(p))
    });
    let h = handler.clone();
    listen_typed(&socket, event::TYPING, move |t| h(ServerEvent::Typing(t)));
    let h = handler.clone();
    listen_typed(&socket, event::ERROR, move |e| h(ServerEvent::Refused(e)));
    let h = handler;
    let reconnecting = Closure::<dyn Fn()>::new(move || h(ServerEvent::Disconnected));
    socket
        .manager()
        .on_manager("reconnect_attempt", reconnecting.as_ref());
    reconnecting.forget();

    SOCKET.with(|cell| {
        if cell.set(socket).is_err() {
            leptos::logging::error!("socket connected twice");
        }
    });
}

/// Sends a request and hands its outcome to `on_reply`: the acknowledged data, or a refusal
/// (code `timeout` when the server did not answer in time).
pub fn request<T: DeserializeOwned>(
    name: &str,
    data: &impl Serialize,
    on_reply: impl FnOnce(Result<T, ErrorPayload>) + 'static,
) {
    let Some(data) = to_js(data) else { return };
    let ack = Closure::once_into_js(move |error: JsValue, reply: JsValue| {
        let outcome = if !error.is_null() && !error.is_undefined() {
            Err(ErrorPayload::new("timeout", "The server did not answer."))
        } else {
            match from_js::<Ack<T>>(reply) {
                Some(Ack::Ok(data)) => Ok(data),
                Some(Ack::Error { error }) => Err(error),
                None => Err(ErrorPayload::new(
                    "invalid_reply",
                    "Unreadable server reply.",
                )),
            }
        };
        on_reply(outcome);
    });
    with_socket(|socket| {
        socket
            .timeout(ACK_TIMEOUT_MS)
            .emit_with_ack(name, &data, &ack);
    });
}

/// Sends an event that expects no answer.
pub fn notify(name: &str, data: &impl Serialize) {
    if let Some(data) = to_js(data) {
        with_socket(|socket| socket.emit(name, &data));
    }
}

fn with_socket(f: impl FnOnce(&Socket)) {
    SOCKET.with(|cell| match cell.get() {
        Some(socket) => f(socket),
        None => leptos::logging::error!("no connection yet"),
    });
}

/// Listeners live as long as the page, so their closures are deliberately leaked.
fn listen(socket: &Socket, name: &str, handler: impl Fn(JsValue) + 'static) {
    let closure = Closure::<dyn Fn(JsValue)>::new(handler);
    socket.on(name, closure.as_ref());
    closure.forget();
}

fn listen_typed<T: DeserializeOwned>(
    socket: &Socket,
    name: &'static str,
    handler: impl Fn(T) + 'static,
) {
    listen(socket, name, move |value| {
        if let Some(value) = from_js(value) {
            handler(value);
        } else {
            leptos::logging::warn!("ignored a malformed `{name}` event");
        }
    });
}

fn from_js<T: DeserializeOwned>(value: JsValue) -> Option<T> {
    serde_wasm_bindgen::from_value(value)
        .inspect_err(|error| leptos::logging::warn!("{error}"))
        .ok()
}

fn to_js(value: &impl Serialize) -> Option<JsValue> {
    // Plain objects, not Maps, so the JSON the server receives has the expected shape.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value
        .serialize(&serializer)
        .inspect_err(|error| leptos::logging::error!("{error}"))
        .ok()
}
