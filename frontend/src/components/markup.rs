//! A message's text as the reader sees it: `shared::markup`'s tree turned into DOM nodes. Text
//! only ever becomes text nodes, and only `http(s)` addresses become links, so a message cannot
//! inject markup or script.

use leptos::prelude::*;
use shared::{
    Author, MAX_MENTIONS, Mention,
    markup::{Block, Inline, parse},
};

use crate::state::{ChatState, same_name};

/// Who a mention can name: the people the message resolved, the reader, and the open room's
/// members. A mention is parsed up to the end of its first word; a name of several words carries
/// it on. The members are read in place, and only for a mention followed by text, so a message
/// costs no copy of the list.
struct Names {
    /// The reader's id and name.
    me: Option<(String, String)>,
    resolved: Vec<Mention>,
    members: Option<RwSignal<Option<Vec<Author>>>>,
}

#[component]
pub fn Markup(text: String, #[prop(optional)] mentions: Vec<Mention>) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let me = state
        .me
        .with_untracked(|me| me.as_ref().map(|me| (me.id.clone(), me.name.clone())));
    let names = Names {
        me,
        resolved: mentions,
        members: state.current_room().map(|room| room.members),
    };
    let blocks = parse(&text)
        .into_iter()
        .map(|block| block_view(block, &names))
        .collect_view();
    view! { <div class="text">{blocks}</div> }
}

/// The people among `people` that `text` mentions: at each `@` in its prose, the longest of
/// their names it spells (as [`Markup`] draws the mention), and everyone of that name; at most
/// [`MAX_MENTIONS`].
pub fn resolve_mentions(text: &str, people: &[Author]) -> Vec<Mention> {
    let mut spelled = Vec::new();
    for block in parse(text) {
        if let Block::Paragraph(inlines) | Block::Quote(inlines) = block {
            names_spelled(&inlines, people, &mut spelled);
        }
    }
    people
        .iter()
        .filter(|person| spelled.iter().any(|name| same_name(name, &person.name)))
        .take(MAX_MENTIONS)
        .map(|person| Mention {
            id: person.id.clone(),
            name: person.name.clone(),
        })
        .collect()
}

/// The names `inlines` mention, each carried on to the longest of `people`'s names it spells.
fn names_spelled(inlines: &[Inline<'_>], people: &[Author], out: &mut Vec<String>) {
    let mut inlines = inlines.iter().peekable();
    while let Some(inline) = inlines.next() {
        match inline {
            Inline::Mention(first) => {
                let rest = match inlines.peek() {
                    Some(Inline::Text(rest)) => *rest,
                    _ => "",
                };
                let names = people.iter().map(|person| person.name.as_str());
                let length = rest_of_name(first, rest, names).unwrap_or(0);
                out.push(format!("{first}{}", &rest[..length]));
            }
            Inline::Bold(inner) | Inline::Italic(inner) => names_spelled(inner, people, out),
            Inline::Text(_) | Inline::Code(_) | Inline::Link(_) => {}
        }
    }
}

fn block_view(block: Block<'_>, names: &Names) -> AnyView {
    match block {
        Block::Paragraph(inlines) => view! { <p>{inlines_view(inlines, names)}</p> }.into_any(),
        Block::Quote(inlines) => {
            view! { <blockquote>{inlines_view(inlines, names)}</blockquote> }.into_any()
        }
        Block::Code { code, .. } => view! { <pre><code>{code.to_owned()}</code></pre> }.into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline<'_>>, names: &Names) -> Vec<AnyView> {
    let mut views = Vec::new();
    let mut inlines = inlines.into_iter().peekable();
    while let Some(inline) = inlines.next() {
        // `@Ada` then ` Lovelace, hi`: the mention of Ada Lovelace, then `, hi`.
        if let Inline::Mention(first) = inline
            && let Some(&Inline::Text(rest)) = inlines.peek()
            && let Some(length) = names.rest_of_name(first, rest)
        {
            inlines.next();
            views.push(mention_view(&format!("{first}{}", &rest[..length]), names));
            views.push(rest[length..].to_owned().into_any());
            continue;
        }
        views.push(inline_view(inline, names));
    }
    views
}

impl Names {
    /// [`rest_of_name`] over the resolved names, the reader's and the members'.
    fn rest_of_name(&self, first: &str, rest: &str) -> Option<usize> {
        let members = self.members.and_then(|members| {
            members.with_untracked(|members| {
                let names = members.iter().flatten().map(|member| member.name.as_str());
                rest_of_name(first, rest, names)
            })
        });
        let resolved = self.resolved.iter().map(|mention| mention.name.as_str());
        let me = self.me.iter().map(|(_, name)| name.as_str());
        members.max(rest_of_name(first, rest, resolved.chain(me)))
    }

    /// Whether the mention of `name` is of the reader: the people resolved under that name,
    /// when the sender resolved it, else whoever is called so now ([`crate::state::mentioned`]).
    fn is_me(&self, name: &str) -> bool {
        let Some((id, my_name)) = &self.me else {
            return false;
        };
        let resolved: Vec<&Mention> = self
            .resolved
            .iter()
            .filter(|mention| same_name(&mention.name, name))
            .collect();
        if resolved.is_empty() {
            same_name(my_name, name)
        } else {
            resolved.iter().any(|mention| mention.id == *id)
        }
    }
}

/// How many bytes of `rest`, the text right after the mention `@first`, carry on the longest of
/// `names` that begins with `first` and a space (ignoring case), ending where a word does.
fn rest_of_name<'a>(
    first: &str,
    rest: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<usize> {
    names
        .into_iter()
        .filter_map(|name| {
            let mut chars = name.chars();
            let starts = first
                .chars()
                .all(|c| chars.next().is_some_and(|n| same_letter(c, n)));
            if !starts || !rest.starts_with(' ') {
                return None;
            }
            spelled(rest, chars.as_str())
        })
        .max()
}

/// The length in bytes of `tail` spelled at the start of `text` (ignoring case), if a word ends
/// there.
fn spelled(text: &str, tail: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for expected in tail.chars() {
        let (_, c) = chars.next()?;
        if !same_letter(c, expected) {
            return None;
        }
    }
    let end = chars.next().map_or(text.len(), |(at, _)| at);
    let after = text[end..].chars().next();
    (!tail.is_empty() && !after.is_some_and(char::is_alphanumeric)).then_some(end)
}

fn same_letter(a: char, b: char) -> bool {
    a.to_lowercase().eq(b.to_lowercase())
}

fn mention_view(name: &str, names: &Names) -> AnyView {
    let of_me = names.is_me(name);
    view! { <span class="mention" class:me=of_me>"@" {name.to_owned()}</span> }.into_any()
}

fn inline_view(inline: Inline<'_>, names: &Names) -> AnyView {
    match inline {
        Inline::Text(text) => text.to_owned().into_any(),
        Inline::Bold(inner) => view! { <strong>{inlines_view(inner, names)}</strong> }.into_any(),
        Inline::Italic(inner) => view! { <em>{inlines_view(inner, names)}</em> }.into_any(),
        Inline::Code(code) => view! { <code>{code.to_owned()}</code> }.into_any(),
        Inline::Link(url) => view! {
            <a href=url.to_owned() target="_blank" rel="noopener noreferrer">{url.to_owned()}</a>
        }
        .into_any(),
        Inline::Mention(name) => mention_view(name, names),
    }
}

#[cfg(test)]
mod tests {
    use shared::{Author, Mention};

    use super::{resolve_mentions, rest_of_name};

    #[test]
    fn mentions_resolve_to_everyone_of_the_longest_name_spelled() {
        let people = [
            Author::guest("a1", "Ada"),
            Author::guest("a2", "Ada Lovelace"),
            Author::guest("a3", "ada lovelace"),
            Author::guest("b", "Bob"),
        ];
        let ids = |text: &str| -> Vec<String> {
            resolve_mentions(text, &people)
                .into_iter()
                .map(|Mention { id, .. }| id)
                .collect()
        };
        assert_eq!(ids("hi @Ada Lovelace, and **@bob**"), ["a2", "a3", "b"]);
        assert_eq!(ids("@ada: and @Ada Lovelace"), ["a1", "a2", "a3"]);
        // Code is not prose, a name needs its `@`, and nobody is called Cy.
        assert_eq!(ids("`@Bob` Ada @Cy"), Vec::<String>::new());
    }

    #[test]
    fn a_mention_carries_on_to_the_longest_name_it_spells() {
        let names = ["Ada Lovelace", "Ada Lovelace King"];
        assert_eq!(rest_of_name("Ada", " Lovelace, hi", names), Some(9));
        assert_eq!(rest_of_name("ada", " LOVELACE KING!", names), Some(14));
        // Not at a word's end, another name, or nothing after the first word.
        assert_eq!(rest_of_name("Ada", " Lovelaces", names), None);
        assert_eq!(rest_of_name("Ada", " Byron", names), None);
        assert_eq!(rest_of_name("Ad", " Lovelace", names), None);
        assert_eq!(rest_of_name("Ada", "", names), None);
    }
}
