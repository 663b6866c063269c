//! A message of ours on its way: queued, sending, or refused with a way to retry.

use leptos::prelude::*;

use crate::{
    client,
    state::{ChatState, Delivery, Outgoing},
};

/// A message of ours the server has not acknowledged yet.
#[component]
pub fn PendingItem(message: Outgoing) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let client_id = message.client_id.clone();
    let (class, note) = match &message.delivery {
        Delivery::Queued => ("message mine pending head", "Waiting to send…".to_owned()),
        Delivery::Sending => ("message mine pending head", "Sending…".to_owned()),
        Delivery::Retrying(reason) => (
            "message mine failed head",
            format!("Not sent: {reason} Trying again…"),
        ),
        Delivery::Failed(reason) => ("message mine failed head", format!("Not sent: {reason}")),
    };
    let failed = matches!(message.delivery, Delivery::Failed(_));

    view! {
        <li class=class data-client-id=message.client_id.clone()>
            <div class="meta">
                <span class="author">"You"</span>
                <span class="delivery">{note}</span>
            </div>
            <p class="text">{message.text}</p>
            {message.attachment.map(|file| view! { <p class="file-name">{file.name}</p> })}
            <Show when=move || failed>
                <button class="link retry" on:click={
                    let client_id = client_id.clone();
                    move |_| client::retry(state, &client_id)
                }>"Retry"</button>
            </Show>
        </li>
    }
}
