//! Finding messages by their words, in every room the user can read or in the open one: the
//! newest first, the words found marked, each one a way to it in its room.

use leptos::{ev, prelude::*};
use shared::{ChatMessage, MAX_QUERY_CHARS, MAX_SEARCH_RESULTS, search_words};

use super::{
    dialog::{Modal, close_dialog},
    field::{Field, Problem},
    message_item::clock,
};
use crate::{client, state::ChatState};

#[component]
pub fn SearchDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let room = state.current.get_untracked();
    let query = RwSignal::new(String::new());
    let here_only = RwSignal::new(false);
    let problem: Problem = RwSignal::new(None);
    // The last answer: the words it was for and what was found.
    let found = RwSignal::new(None::<(Vec<String>, Vec<ChatMessage>)>);
    let close = move || close_dialog(state, "search-button");
    let submit = {
        let room = room.clone();
        move |event: ev::SubmitEvent| {
            event.prevent_default();
            let typed = query.get_untracked();
            // The words as the server matches them, to mark them in what it finds.
            let words: Vec<String> = match search_words(&typed) {
                Ok(words) => words.into_iter().map(str::to_lowercase).collect(),
                Err(shared::ValidationError::EmptyQuery) => {
                    return problem.set(Some(("search-query", "Type a word to find.".to_owned())));
                }
                Err(refusal) => return problem.set(Some(("search-query", refusal.to_string()))),
            };
            let only = here_only.get_untracked().then(|| room.clone());
            client::search(typed, only, move |reply| match reply {
                Ok(results) => found.set(Some((words, results))),
                Err(error) => problem.set(Some(("search-query", error.message))),
            });
        }
    };
    let open = move |message: &ChatMessage| {
        let (room, seq) = (message.room.clone(), message.seq);
        state.dialog.set(None);
        client::open_room(state, room);
        state.seeking.set(Some(seq));
    };
    let results = move || {
        found.get().map(|(words, results)| {
            let count = match results.len() {
                0 => "Nothing found.".to_owned(),
                1 => "1 message found.".to_owned(),
                n if n >= MAX_SEARCH_RESULTS => format!("The newest {n} messages found."),
                n => format!("{n} messages found."),
            };
            let items = results
                .into_iter()
                .map(|message| {
                    #[allow(clippy::cast_precision_loss)]
                    let date = js_sys::Date::new(&(message.sent_at as f64).into());
                    let when: String = date
                        .to_locale_date_string("default", &wasm_bindgen::JsValue::UNDEFINED)
                        .into();
                    let heading = format!(
                        "{} · {} · {when} {}",
                        state.room_label(&message.room),
                        message.author.name,
                        clock(&date)
                    );
                    let runs = marked(&message.text, &words)
                        .into_iter()
                        .map(|(run, hit)| {
                            if hit {
                                view! { <mark>{run}</mark> }.into_any()
                            } else {
                                run.into_any()
                            }
                        })
                        .collect_view();
                    view! {
                        <li>
                            <button type="button" class="result" on:click=move |_| open(&message)>
                                <span class="result-where">{heading}</span>
                                <span class="result-text">{runs}</span>
                            </button>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <p role="status">{count}</p>
                <ol class="results">{items}</ol>
            }
        })
    };
    view! {
        <Modal title="Search messages" close=Some(Callback::new(move |()| close())) wide=true>
            <form class="search" on:submit=submit>
                <Field id="search-query" label="Words to find" value=query problem
                    autocomplete="off" kind="search" maxlength=MAX_QUERY_CHARS + 1 />
                <label class="choice">
                    <input type="checkbox" prop:checked=here_only
                        on:change=move |event| here_only.set(event_target_checked(&event)) />
                    {format!("Only in {}", state.room_label(&room))}
                </label>
                <div class="dialog-actions">
                    <button type="button" class="secondary" on:click=move |_| close()>"Close"</button>
                    <button type="submit">"Search"</button>
                </div>
            </form>
            {results}
        </Modal>
    }
}

/// `text` cut into runs, each marked when it is a word that begins with one of `words` (as the
/// server matched it).
fn marked(text: &str, words: &[String]) -> Vec<(String, bool)> {
    let mut runs: Vec<(String, bool)> = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let in_word = first.is_alphanumeric();
        let end = rest
            .find(|c: char| c.is_alphanumeric() != in_word)
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(end);
        let hit = in_word && {
            let lower = run.to_lowercase();
            words.iter().any(|word| lower.starts_with(word.as_str()))
        };
        match runs.last_mut() {
            Some((last, false)) if !hit => last.push_str(run),
            _ => runs.push((run.to_owned(), hit)),
        }
        rest = after;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_found_are_marked_whole_and_the_rest_kept_as_it_was() {
        let words = ["deplo".to_owned(), "today".to_owned()];
        assert_eq!(
            marked("We deploy today; re-deployment tomorrow.", &words),
            [
                ("We ".to_owned(), false),
                ("deploy".to_owned(), true),
                (" ".to_owned(), false),
                ("today".to_owned(), true),
                ("; re-".to_owned(), false),
                ("deployment".to_owned(), true),
                (" tomorrow.".to_owned(), false),
            ]
        );
        assert_eq!(marked("", &words), []);
        assert_eq!(
            marked("nothing here", &words),
            [("nothing here".to_owned(), false)]
        );
    }
}
