//! A person's initials on a colour of their own: two people with one name still look different.

use leptos::prelude::*;
use shared::Author;

/// Background colours that all keep white initials at 4.5:1 or better (WCAG AA).
const COLOURS: [&str; 12] = [
    "#b4235a", "#8a4baf", "#2a63d4", "#0f7b6c", "#9a5b00", "#2e7d32", "#c2410c", "#455a64",
    "#6d28d9", "#0369a1", "#a21caf", "#b91c1c",
];

#[component]
pub fn Avatar(author: Author) -> impl IntoView {
    // Set through the CSSOM, which the Content-Security-Policy allows (a `style` attribute it
    // would block).
    let colour = colour(&author.id);
    view! {
        <span class="avatar" style:background=colour aria-hidden="true">
            {initials(&author.name)}
        </span>
    }
}

/// The colour for a user id: the same on every page and every visit.
pub fn colour(id: &str) -> &'static str {
    // FNV-1a: tiny, and enough to spread ids over a dozen colours.
    let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    COLOURS[hash as usize % COLOURS.len()]
}

/// Up to two letters: the first of the first two words ("Ada Lovelace" is "AL").
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}
