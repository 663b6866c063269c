//! The one module that knows Socket.io: bindings to the official JS client (loaded by
//! `index.html` from `/socket.io/socket.io.js`) and the translation to typed events.

use std::cell::OnceCell;

use leptos::prelude::*;
use serde::{Serialize, de::DeserializeOwned};
use shared::{ChatInput, ChatMessage, ErrorPayload, SendAck, Welcome, event};
use wasm_bindgen::prelude::*;

use crate::state::{ChatState, Status};

#[wasm_bindgen]
extern "C" {
    /// A `Socket` of socket.io-client v4.
    type Socket;

    /// The client's Manager, which owns reconnection.
    type Manager;

    #[wasm_bindgen(catch, js_name = io)]
    fn io(options: &JsValue) -> Result<Socket, JsValue>;

    #[wasm_bindgen(method)]
    fn on(this: &Socket, event: &str, listener: &JsValue);

    #[wasm_bindgen(method, js_name = emit)]
    fn emit_with_ack(this: &Socket, event: &str, data: &JsValue, ack: &JsValue);

    #[wasm_bindgen(method, getter, js_name = io)]
    fn manager(this: &Socket) -> Manager;

    #[wasm_bindgen(method, js_name = on)]
    fn on_manager(this: &Manager, event: &str, listener: &JsValue);
}

thread_local! {
    static SOCKET: OnceCell<Socket> = const { OnceCell::new() };
}

/// Connects to the page's origin and feeds every server event into `state`.
pub fn connect(state: ChatState) {
    // WebSocket first: no polling round-trips, and `trunk serve` only proxies WebSockets.
    // Polling stays as the fallback for networks that block WebSockets.
    let options =
        js_sys::JSON::parse(r#"{"transports":["websocket","polling"]}"#).expect("literal JSON");
    let socket = match io(&options) {
        Ok(socket) => socket,
        Err(error) => {
            leptos::logging::error!("socket.io client unavailable: {error:?}");
            state.status.set(Status::Failed);
            return;
        }
    };

    listen(&socket, "connect", move |_: JsValue| {
        state.status.set(Status::Connected);
    });
    listen(&socket, "disconnect", move |_: JsValue| {
        state.status.set(Status::Reconnecting);
    });
    listen(&socket, "connect_error", move |_: JsValue| {
        state.status.set(Status::Reconnecting);
    });
    listen_typed(&socket, event::WELCOME, move |welcome: Welcome| {
        state.me.set(Some(welcome.author));
    });
    listen_typed(&socket, event::CHAT_MESSAGE, move |message: ChatMessage| {
        state.messages.update(|messages| messages.push(message));
    });
    listen_typed(&socket, event::ERROR, move |error: ErrorPayload| {
        state.error.set(Some(error.message));
    });
    let reconnecting = Closure::<dyn Fn()>::new(move || state.status.set(Status::Reconnecting));
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

/// Sends a message; `on_ack` gets the server's verdict.
pub fn send(input: &ChatInput, on_ack: impl FnOnce(SendAck) + 'static) {
    let Some(data) = to_js(input) else { return };
    let ack = Closure::once_into_js(move |reply: JsValue| match from_js::<SendAck>(reply) {
        Some(ack) => on_ack(ack),
        None => leptos::logging::error!("unreadable acknowledgement"),
    });
    SOCKET.with(|cell| match cell.get() {
        Some(socket) => socket.emit_with_ack(event::CHAT_MESSAGE, &data, &ack),
        None => leptos::logging::error!("send before connect"),
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
