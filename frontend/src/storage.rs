//! What the browser remembers between visits (localStorage): the session token, the display
//! name picked before the first connection, how far each room has been read, and which
//! notifications the user asked for.

const TOKEN: &str = "chat.token";
const NAME: &str = "chat.name";

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok().flatten()
}

fn set(key: &str, value: &str) {
    if let Some(storage) = local()
        && storage.set_item(key, value).is_err()
    {
        leptos::logging::warn!("could not save {key}");
    }
}

pub fn token() -> Option<String> {
    get(TOKEN)
}

pub fn set_token(token: &str) {
    set(TOKEN, token);
}

/// Forgets the session (logged out, or ended elsewhere).
pub fn clear_token() {
    if let Some(storage) = local()
        && storage.remove_item(TOKEN).is_err()
    {
        leptos::logging::warn!("could not forget the session");
    }
}

pub fn name() -> Option<String> {
    get(NAME)
}

pub fn set_name(name: &str) {
    set(NAME, name);
}

pub fn last_read(room: &str) -> i64 {
    get(&format!("chat.read.{room}"))
        .and_then(|seq| seq.parse().ok())
        .unwrap_or(0)
}

pub fn set_last_read(room: &str, seq: i64) {
    set(&format!("chat.read.{room}"), &seq.to_string());
}

const NOTIFICATIONS: &str = "chat.notifications";

/// Whether the user turned desktop notifications on (for mentions, and rooms they chose).
pub fn notifications_on() -> bool {
    get(NOTIFICATIONS).as_deref() == Some("on")
}

pub fn set_notifications_on(on: bool) {
    set(NOTIFICATIONS, if on { "on" } else { "off" });
}

/// Whether the user asked to be notified of every message in `room`.
pub fn notify_room(room: &str) -> bool {
    get(&format!("chat.notify.{room}")).as_deref() == Some("all")
}

pub fn set_notify_room(room: &str, all: bool) {
    set(
        &format!("chat.notify.{room}"),
        if all { "all" } else { "mentions" },
    );
}
