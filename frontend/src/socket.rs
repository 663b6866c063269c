//! The one module that knows Socket.io: bindings to the official JS client (loaded by
//! `index.html` from `/socket.io/socket.io.js`) and the translation to typed events. Event names
//! come from `shared` ([`Event::NAME`]); nothing else in the UI spells one.

use std::{
    cell::{Cell, OnceCell},
    rc::Rc,
};

use serde::{Serialize, de::DeserializeOwned};
use shared::{
    Ack, Auth, ChatMessage, ErrorCode, ErrorPayload, Event, Invited, MessageChanged,
    PresenceChange, ReadUpTo, Request, RoomHead, RoomUpdated, Typing, Welcome,
};
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

    #[wasm_bindgen(method, catch)]
    fn emit(this: &Socket, event: &str, data: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(method)]
    fn timeout(this: &Socket, ms: u32) -> TimedEmitter;

    #[wasm_bindgen(method)]
    fn connect(this: &Socket);

    #[wasm_bindgen(method)]
    fn disconnect(this: &Socket);

    /// Whether the client will retry by itself: false after the server refused the connection.
    #[wasm_bindgen(method, getter)]
    fn active(this: &Socket) -> bool;

    #[wasm_bindgen(method, catch, js_name = emit)]
    fn emit_with_ack(
        this: &TimedEmitter,
        event: &str,
        data: &JsValue,
        ack: &JsValue,
    ) -> Result<(), JsValue>;

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
    /// The connection dropped; the client reconnects by itself.
    Disconnected,
    /// The server closed the connection (it restarts, or the session ended): the client waits
    /// for [`reconnect`].
    Closed,
    /// The server refused the connection, saying why; the client does not retry.
    Rejected(String),
    /// The client could not start at all.
    Unavailable,
    Welcome(Welcome),
    Message(Box<ChatMessage>),
    /// A message was edited or deleted.
    Changed(MessageChanged),
    Presence(PresenceChange),
    Typing(Typing),
    /// A room's newest sequence number, after live delivery may have missed some.
    Head(RoomHead),
    /// Someone brought this user into a room.
    Invited(Invited),
    /// A room of the user's changed (archived, or back).
    RoomUpdated(RoomUpdated),
    /// The user read a room up to a point on another device.
    Read(ReadUpTo),
    Refused(ErrorPayload),
}

/// Connects to the page's origin. `auth` is asked again at every (re)connection, so a
/// reconnect presents the token the first welcome gave.
pub fn connect(auth: impl Fn() -> Auth + 'static, on_event: impl Fn(ServerEvent) + 'static) {
    let auth = Closure::<dyn Fn(js_sys::Function)>::new(move |reply: js_sys::Function| {
        if let Ok(auth) = to_js(&auth())
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
    listen(&socket, "disconnect", move |reason| {
        h(ServerEvent::Disconnected);
        // The library does not retry after a server-side disconnect by itself.
        if reason.as_string().as_deref() == Some("io server disconnect") {
            h(ServerEvent::Closed);
        }
    });
    let h = handler.clone();
    listen(&socket, "connect_error", move |error| {
        leptos::logging::warn!("connection refused: {error:?}");
        h(ServerEvent::Disconnected);
        if with_socket(|socket| !socket.active()).unwrap_or(false) {
            let why = js_sys::Reflect::get(&error, &"message".into()).ok();
            h(ServerEvent::Rejected(
                why.and_then(|why| why.as_string()).unwrap_or_default(),
            ));
        }
    });
    let h = handler.clone();
    listen_to::<Welcome>(&socket, move |w| h(ServerEvent::Welcome(w)));
    let h = handler.clone();
    listen_to::<ChatMessage>(&socket, move |m| h(ServerEvent::Message(Box::new(m))));
    let h = handler.clone();
    listen_to::<MessageChanged>(&socket, move |c| h(ServerEvent::Changed(c)));
    let h = handler.clone();
    listen_to::<PresenceChange>(&socket, move |p| h(ServerEvent::Presence(p)));
    let h = handler.clone();
    listen_to::<Typing>(&socket, move |t| h(ServerEvent::Typing(t)));
    let h = handler.clone();
    listen_to::<RoomHead>(&socket, move |head| h(ServerEvent::Head(head)));
    let h = handler.clone();
    listen_to::<Invited>(&socket, move |i| h(ServerEvent::Invited(i)));
    let h = handler.clone();
    listen_to::<RoomUpdated>(&socket, move |u| h(ServerEvent::RoomUpdated(u)));
    let h = handler.clone();
    listen_to::<ReadUpTo>(&socket, move |r| h(ServerEvent::Read(r)));
    let h = handler.clone();
    listen_to::<ErrorPayload>(&socket, move |e| h(ServerEvent::Refused(e)));
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

/// Whether [`connect`] was called.
pub fn started() -> bool {
    SOCKET.with(|cell| cell.get().is_some())
}

/// Closes the connection; nothing reconnects until [`reconnect`].
pub fn disconnect() {
    if let Err(error) = with_socket(Socket::disconnect) {
        leptos::logging::warn!("{error}");
    }
}

/// Connects again at once, asking `auth` again (after a new session, or the user asked to
/// skip the client's back-off).
pub fn reconnect() {
    let done = with_socket(|socket| {
        socket.disconnect();
        socket.connect();
    });
    if let Err(error) = done {
        leptos::logging::warn!("{error}");
    }
}

/// Sends a request and hands its outcome to `on_reply`, exactly once: the acknowledged data, or
/// a refusal. Failures on this side become refusals too (code `timeout` when no answer can
/// come), so a caller waiting for the reply, like the outbox, never waits forever.
pub fn request<R: Request>(
    request: &R,
    on_reply: impl FnOnce(Result<R::Reply, ErrorPayload>) + 'static,
) where
    R::Reply: 'static,
{
    let reply = Reply::new(on_reply);
    let payload = match to_js(request) {
        Ok(payload) => payload,
        Err(error) => return reply.settle(Err(error)),
    };
    let ack = {
        let reply = reply.clone();
        Closure::once_into_js(move |error: JsValue, data: JsValue| {
            reply.settle(read_ack(&error, data));
        })
    };
    let emitted = with_socket(|socket| {
        socket
            .timeout(ACK_TIMEOUT_MS)
            .emit_with_ack(R::NAME, &payload, &ack)
            .map_err(|error| {
                leptos::logging::error!("emit failed: {error:?}");
                ErrorPayload::new(ErrorCode::Timeout, "The request could not be sent.")
            })
    });
    if let Err(error) = emitted.and_then(|emitted| emitted) {
        reply.settle(Err(error));
    }
}

/// Sends an event that expects no answer.
pub fn notify<E: Event>(event: &E) {
    let sent = to_js(event).and_then(|payload| {
        with_socket(|socket| socket.emit(E::NAME, &payload))?.map_err(|error| {
            ErrorPayload::new(ErrorCode::Timeout, format!("emit failed: {error:?}"))
        })
    });
    if let Err(error) = sent {
        leptos::logging::warn!("`{}` not sent: {error}", E::NAME);
    }
}

/// The reply callback of one request, shared by the acknowledgement and the paths that fail
/// before the request leaves: whichever settles first calls it, a later one finds it gone. Both
/// the "at most once" and, since every path of [`request`] ends in `settle` or in socket.io's
/// timed acknowledgement, the "at least once" live here.
struct Reply<T>(Rc<Cell<Option<OnReply<T>>>>);

type OnReply<T> = Box<dyn FnOnce(Result<T, ErrorPayload>)>;

impl<T> Clone for Reply<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: 'static> Reply<T> {
    fn new(on_reply: impl FnOnce(Result<T, ErrorPayload>) + 'static) -> Self {
        Self(Rc::new(Cell::new(Some(Box::new(on_reply)))))
    }

    fn settle(&self, outcome: Result<T, ErrorPayload>) {
        match self.0.take() {
            Some(on_reply) => on_reply(outcome),
            None => leptos::logging::warn!("a request was answered twice"),
        }
    }
}

/// What a timed acknowledgement's `(err, reply)` means.
fn read_ack<T: DeserializeOwned>(error: &JsValue, reply: JsValue) -> Result<T, ErrorPayload> {
    if !error.is_null() && !error.is_undefined() {
        return Err(ErrorPayload::new(
            ErrorCode::Timeout,
            "The server did not answer.",
        ));
    }
    match from_js::<Ack<T>>(reply) {
        Some(ack) => ack.into(),
        None => Err(ErrorPayload::new(
            ErrorCode::Unknown,
            "Unreadable server reply.",
        )),
    }
}

fn with_socket<T>(f: impl FnOnce(&Socket) -> T) -> Result<T, ErrorPayload> {
    SOCKET.with(|cell| match cell.get() {
        Some(socket) => Ok(f(socket)),
        None => Err(ErrorPayload::new(
            ErrorCode::Timeout,
            "Not connected to the server.",
        )),
    })
}

/// Listeners live as long as the page, so their closures are deliberately leaked.
fn listen(socket: &Socket, name: &str, handler: impl Fn(JsValue) + 'static) {
    let closure = Closure::<dyn Fn(JsValue)>::new(handler);
    socket.on(name, closure.as_ref());
    closure.forget();
}

fn listen_to<E: Event>(socket: &Socket, handler: impl Fn(E) + 'static) {
    listen(socket, E::NAME, move |value| {
        if let Some(value) = from_js(value) {
            handler(value);
        } else {
            leptos::logging::warn!("ignored a malformed `{}` event", E::NAME);
        }
    });
}

fn from_js<T: DeserializeOwned>(value: JsValue) -> Option<T> {
    serde_wasm_bindgen::from_value(value)
        .inspect_err(|error| leptos::logging::warn!("{error}"))
        .ok()
}

fn to_js(value: &impl Serialize) -> Result<JsValue, ErrorPayload> {
    // Plain objects, not Maps, so the JSON the server receives has the expected shape.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).map_err(|error| {
        leptos::logging::error!("{error}");
        ErrorPayload::new(
            ErrorCode::InvalidPayload,
            "The request could not be encoded.",
        )
    })
}
