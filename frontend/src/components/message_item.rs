//! One message, sent or on its way. Text is rendered as a text node, never parsed as HTML.

use leptos::prelude::*;
use shared::ChatMessage;

use crate::state::ChatState;

#[component]
pub fn MessageItem(message: ChatMessage) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let mine = state.is_mine(&message);
    let time = clock_time(message.sent_at);

    view! {
        <li class="message" class:mine=mine data-seq=message.seq>
            <div class="meta">
                <span class="author">{if mine { "You".to_owned() } else { message.author.name }}</span>
                <time>{time}</time>
            </div>
            <p class="text">{message.text}</p>
        </li>
    }
}

/// `HH:MM` in the reader's time zone.
fn clock_time(millis: i64) -> String {
    // Milliseconds since 1970 fit an f64 exactly for the next 280,000 years.
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&(millis as f64).into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
