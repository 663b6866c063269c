//! Title bar: the chat's name, who you are, and whether you are connected.

use leptos::prelude::*;

use crate::state::ChatState;

#[component]
pub fn Header() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let status = state.status;
    let me = move || state.me.with(|me| me.as_ref().map(|me| me.name.clone()));

    view! {
        <header class="topbar">
            <h1 class="title"># general</h1>
            <div class="whoami">
                {move || me().map(|name| view! { <span>"You are " <strong>{name}</strong></span> })}
            </div>
            <span class=move || status.get().class() role="status" aria-live="polite">
                <span class="dot" aria-hidden="true"></span>
                {move || status.get().label()}
            </span>
        </header>
    }
}
