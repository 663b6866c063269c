//! One message, sent or on its way. Text is rendered as a text node, never parsed as HTML.

use leptos::prelude::*;
use shared::ChatMessage;

use crate::{
    client,
    state::{ChatState, Delivery, Outgoing},
};

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

/// A message of ours the server has not acknowledged yet.
#[component]
pub fn PendingItem(message: Outgoing) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let client_id = message.client_id.clone();
    let (class, note) = match &message.delivery {
        Delivery::Queued => ("message mine pending", "Waiting to send…".to_owned()),
        Delivery::Sending => ("message mine pending", "Sending…".to_owned()),
        Delivery::Failed(reason) => ("message mine failed", format!("Not sent: {reason}")),
    };
    let failed = matches!(message.delivery, Delivery::Failed(_));

    view! {
        <li class=class data-client-id=message.client_id.clone()>
            <div class="meta">
                <span class="author">"You"</span>
                <span class="delivery">{note}</span>
            </div>
            <p class="text">{message.text}</p>
            <Show when=move || failed>
                <button class="link retry" on:click={
                    let client_id = client_id.clone();
                    move |_| client::retry(state, &client_id)
                }>"Retry"</button>
            </Show>
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
