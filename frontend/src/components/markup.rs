//! A message's text as the reader sees it: `shared::markup`'s tree turned into DOM nodes. Text
//! only ever becomes text nodes, and only `http(s)` addresses become links, so a message cannot
//! inject markup or script.

use leptos::prelude::*;
use shared::markup::{Block, Inline, parse};

use crate::state::ChatState;

#[component]
pub fn Markup(text: String) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let me = state
        .me
        .with_untracked(|me| me.as_ref().map(|me| me.name.to_lowercase()));
    let blocks = parse(&text)
        .into_iter()
        .map(|block| block_view(block, me.as_deref()))
        .collect_view();
    view! { <div class="text">{blocks}</div> }
}

fn block_view(block: Block<'_>, me: Option<&str>) -> AnyView {
    match block {
        Block::Paragraph(inlines) => view! { <p>{inlines_view(inlines, me)}</p> }.into_any(),
        Block::Quote(inlines) => {
            view! { <blockquote>{inlines_view(inlines, me)}</blockquote> }.into_any()
        }
        Block::Code { code, .. } => view! { <pre><code>{code.to_owned()}</code></pre> }.into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline<'_>>, me: Option<&str>) -> Vec<AnyView> {
    inlines
        .into_iter()
        .map(|inline| inline_view(inline, me))
        .collect()
}

fn inline_view(inline: Inline<'_>, me: Option<&str>) -> AnyView {
    match inline {
        Inline::Text(text) => text.to_owned().into_any(),
        Inline::Bold(inner) => view! { <strong>{inlines_view(inner, me)}</strong> }.into_any(),
        Inline::Italic(inner) => view! { <em>{inlines_view(inner, me)}</em> }.into_any(),
        Inline::Code(code) => view! { <code>{code.to_owned()}</code> }.into_any(),
        Inline::Link(url) => view! {
            <a href=url.to_owned() target="_blank" rel="noopener noreferrer">{url.to_owned()}</a>
        }
        .into_any(),
        Inline::Mention(name) => {
            let of_me = me.is_some_and(|me| me == name.to_lowercase());
            view! { <span class="mention" class:me=of_me>"@" {name.to_owned()}</span> }.into_any()
        }
    }
}
