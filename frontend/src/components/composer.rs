//! The message box: Enter sends, Shift+Enter starts a new line, `@` offers the names of who is
//! in the room. Text is checked with the same rules the server applies; sending goes through the
//! outbox, so it works offline too. Up in an empty box (or "Edit" on a message) edits one's last
//! message in the box: Enter saves, Escape cancels. "Reply" on a message makes the next one sent
//! answer it (Escape cancels). A file (the paper clip, dropped on the box, or pasted) is
//! uploaded at once and goes with the next message, which may then have no text.

use leptos::{
    ev,
    html::{Input, Textarea},
    prelude::*,
};
use shared::{
    FileInfo, Invited, MAX_MESSAGE_CHARS, ValidationError, validate_caption, validate_text,
};
use wasm_bindgen::{JsCast, JsValue};

use super::{attachment::size, focus, markup::resolve_mentions};
use crate::{client, http, state::ChatState, storage};

/// The file that goes with the next message.
#[derive(Clone)]
enum Attached {
    /// On its way to the server (its name).
    Uploading(String),
    Ready(FileInfo),
}

/// Show the character count once this close to the limit.
const COUNTER_FROM: usize = MAX_MESSAGE_CHARS - 200;

#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let input = NodeRef::<Textarea>::new();
    let draft = RwSignal::new(String::new());
    let chars = move || draft.with(|draft| draft.chars().count());
    // What is wrong with the draft as it stands, shown while it is wrong and gone once fixed. An
    // empty draft is not wrong: there is just nothing to send yet.
    let problem = Memo::new(move |_| {
        draft.with(|draft| match validate_text(draft) {
            Ok(_) | Err(ValidationError::Empty) => None,
            Err(refusal) => Some(refusal.to_string()),
        })
    });
    let attached = RwSignal::new(None::<Attached>);
    let sendable = Memo::new(move |_| match attached.get() {
        Some(Attached::Ready(_)) => draft.with(|draft| validate_caption(draft).is_ok()),
        Some(Attached::Uploading(_)) => false,
        None => draft.with(|draft| validate_text(draft).is_ok()),
    });
    let file_input = NodeRef::<Input>::new();
    // Uploads a file chosen, dropped or pasted; the next message carries it.
    let attach = move |file: http::File| {
        let Some(token) = storage::token() else {
            return;
        };
        let room = state.current.get_untracked();
        attached.set(Some(Attached::Uploading(file.name())));
        leptos::task::spawn_local(async move {
            match http::upload(&token, &room, &file).await {
                Ok(info) => {
                    attached.try_set(Some(Attached::Ready(info)));
                }
                Err(error) => {
                    attached.try_set(None);
                    state.error.set(Some(error.message));
                }
            }
        });
    };
    let typing = move || {
        let me = state.me.with(|me| me.as_ref().map(|me| me.id.clone()));
        let names: Vec<String> = state
            .current_room()
            .map(|room| room.typing.get())
            .unwrap_or_default()
            .into_iter()
            .filter(|(user, _)| Some(&user.id) != me.as_ref())
            .map(|(user, _)| user.name)
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => format!("{one} is typing…"),
            [one, two] => format!("{one} and {two} are typing…"),
            _ => "Several people are typing…".to_owned(),
        }
    };

    let focus_box = move || focus(input.get_untracked().as_deref(), "the message box");
    // Whom a message here may mention.
    let people = move || {
        let me = state.me.with(|me| me.as_ref().map(|me| me.id.clone()));
        state
            .current_room()
            .map(|room| room.people(me.as_deref()))
            .unwrap_or_default()
    };
    // Editing: the message's text comes into the box, the caret at its end; stopping (saved,
    // cancelled, another room) empties the box.
    Effect::new(move |was: Option<Option<i64>>| {
        let editing = state.editing.get();
        match editing {
            Some(seq) => {
                let text = state.current_room().and_then(|room| {
                    room.messages
                        .with_untracked(|messages| messages.get(&seq).map(|m| m.text.clone()))
                });
                match text {
                    Some(text) => {
                        draft.set(text);
                        focus_box();
                        request_animation_frame(move || caret_to_end(input));
                    }
                    // Not held (any more): nothing to edit.
                    None => state.editing.set(None),
                }
            }
            None if was.flatten().is_some() => draft.set(String::new()),
            None => {}
        }
        editing
    });
    Effect::new(move |first: Option<()>| {
        state.current.track();
        if first.is_some() {
            state.editing.set(None);
            state.replying.set(None);
            attached.set(None);
        }
    });
    // Answering a message: writing is next.
    Effect::new(move |_| {
        if state.replying.with(Option::is_some) {
            focus_box();
        }
    });
    let replying_to = move || {
        let seq = state.replying.get()?;
        state.current_room()?.messages.with(|messages| {
            messages.get(&seq).map(|message| {
                let name = if state.is_mine(message) {
                    "yourself".to_owned()
                } else {
                    message.author.name.clone()
                };
                (name, shared::quote_snippet(&message.text))
            })
        })
    };
    let send =
        move || {
            let text = draft.get_untracked();
            if let Some(seq) = state.editing.get_untracked() {
                if let Ok(text) = validate_text(&text) {
                    let room = state.current.get_untracked();
                    client::edit_message(state, room, seq, text.to_owned(), move |refused| {
                        match refused {
                            Some(error) => state.error.set(Some(error.message)),
                            None => state.editing.set(None),
                        }
                    });
                }
                return focus_box();
            }
            let file = match attached.get_untracked() {
                Some(Attached::Ready(file)) => Some(file),
                // Enter waits for the file.
                Some(Attached::Uploading(_)) => return,
                None => None,
            };
            let checked = match file {
                Some(_) => validate_caption(&text),
                None => validate_text(&text),
            };
            // Nothing to send, or a problem already shown beside the box: Enter does nothing.
            if let Ok(text) = checked {
                state.error.set(None);
                // The sender sees what they sent, wherever they had scrolled to.
                state.following.set(true);
                let reply_to = state.replying.get_untracked();
                // Who the text mentions, by id: the mention stays theirs whatever names
                // they take later.
                let mentions = untrack(|| resolve_mentions(text, &people()));
                client::send(
                    state,
                    state.current.get_untracked(),
                    text.to_owned(),
                    reply_to,
                    mentions,
                    file,
                );
                state.replying.set(None);
                attached.set(None);
                draft.set(String::new());
            }
            focus_box();
        };

    // Whenever another room comes on screen (created, joined, left, opened), the next thing to
    // do is write: focus goes to the box, not to <body> or to the control that was used. (Closing
    // the first-visit dialog sends it there too.)
    // (Not when it came to show a message sought: that message takes the focus.)
    Effect::new(move |first: Option<()>| {
        state.current.track();
        if state.dialog.with_untracked(Option::is_some)
            || state.seeking.with_untracked(Option::is_some)
            || first.is_none()
        {
            return;
        }
        focus_box();
    });

    // `@` and the start of a name: the people in the room whose names begin so, to pick from
    // (who is online first, then who wrote lately).
    let caret = RwSignal::new(0_u32);
    let chosen = RwSignal::new(0_usize);
    let suggestions = Memo::new(move |_| {
        let typed = draft.with(|draft| {
            mention_at(draft, caret.get() as usize).map(|(_, typed)| typed.to_lowercase())
        });
        let Some(typed) = typed else {
            return Vec::new();
        };
        let mut names: Vec<String> = Vec::new();
        for person in people() {
            if person.name.to_lowercase().starts_with(&typed) && !names.contains(&person.name) {
                names.push(person.name);
            }
        }
        names.truncate(6);
        names
    });
    let complete = move |name: String| {
        let at = caret.get_untracked() as usize;
        let Some(start) =
            draft.with_untracked(|draft| mention_at(draft, at).map(|(start, _)| start))
        else {
            return;
        };
        let text = draft.get_untracked();
        let end = byte_index(&text, at);
        let completed = format!("{}@{name} {}", &text[..start], &text[end..]);
        let new_caret =
            u32::try_from(text[..start].encode_utf16().count() + name.encode_utf16().count() + 2)
                .unwrap_or(0);
        draft.set(completed);
        caret.set(new_caret);
        if let Some(input) = input.get_untracked()
            && input.set_selection_range(new_caret, new_caret).is_err()
        {
            leptos::logging::warn!("could not move the caret");
        }
    };
    let track_caret = move || {
        if let Some(input) = input.get_untracked() {
            caret.set(input.selection_start().ok().flatten().unwrap_or(0));
            chosen.set(0);
        }
    };

    let on_keydown = move |event: ev::KeyboardEvent| {
        let names = suggestions.get_untracked();
        if !names.is_empty() {
            let step = |by: usize| chosen.update(|i| *i = (*i + by) % names.len());
            match event.key().as_str() {
                "ArrowDown" => {
                    return {
                        event.prevent_default();
                        step(1)
                    };
                }
                "ArrowUp" => {
                    return {
                        event.prevent_default();
                        step(names.len() - 1)
                    };
                }
                "Enter" | "Tab" => {
                    event.prevent_default();
                    return complete(names[chosen.get_untracked().min(names.len() - 1)].clone());
                }
                "Escape" => return caret.set(0),
                _ => {}
            }
        }
        match event.key().as_str() {
            "ArrowUp" if draft.with_untracked(String::is_empty) => {
                if let Some(seq) = client::last_editable(state) {
                    event.prevent_default();
                    state.editing.set(Some(seq));
                }
                return;
            }
            "Escape" if state.editing.get_untracked().is_some() => {
                event.prevent_default();
                return state.editing.set(None);
            }
            "Escape" if state.replying.get_untracked().is_some() => {
                event.prevent_default();
                return state.replying.set(None);
            }
            _ => {}
        }
        // While an IME is composing, Enter picks a candidate; it must not send.
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            send();
        }
    };

    view! {
        <footer
            class="composer"
            on:dragover=move |event: ev::DragEvent| event.prevent_default()
            on:drop=move |event: ev::DragEvent| {
                if let Some(file) = first_file(event.as_ref(), "dataTransfer") {
                    event.prevent_default();
                    attach(file);
                }
            }
        >
            <p class="typing" aria-live="polite">{typing}</p>
            <Invitation />
            <Show when=move || state.error.get().is_some()>
                <p class="error" role="alert">{move || state.error.get()}</p>
            </Show>
            <p id="draft-problem" class="error draft-problem" role="alert">{move || problem.get()}</p>
            <Show when=move || state.editing.with(Option::is_some)>
                <p id="editing" class="editing">
                    "Editing your message: Enter saves, Escape cancels. "
                    <button type="button" class="link" on:click=move |_| {
                        state.editing.set(None);
                        focus_box();
                    }>"Cancel"</button>
                </p>
            </Show>
            {move || replying_to().map(|(name, text)| view! {
                <p id="replying" class="editing replying">
                    <span>{format!("Replying to {name}: ")}</span>
                    <q>{text}</q>
                    " "
                    <button type="button" class="link" on:click=move |_| {
                        state.replying.set(None);
                        focus_box();
                    }>"Cancel reply"</button>
                </p>
            })}
            {move || attached.get().map(|file| {
                let (what, ready) = match file {
                    Attached::Uploading(name) => (format!("Uploading {name}…"), false),
                    Attached::Ready(file) => (format!("{} ({}) goes with your message.", file.name, size(file.size)), true),
                };
                view! {
                    <p id="attached" class="editing attached" role="status">
                        <span>{what}</span>
                        " "
                        <Show when=move || ready>
                            <button type="button" class="link" on:click=move |_| {
                                attached.set(None);
                                focus_box();
                            }>"Remove file"</button>
                        </Show>
                    </p>
                }
            })}
            <Show
                when=move || !state.current_room().is_some_and(|room| room.archived.get())
                fallback=|| view! {
                    // Where the skip link and closed dialogs send focus while there is no box.
                    <p id="composer-box" class="archived-note" role="status" tabindex="-1">
                        "This room is archived: you can read it, not write in it."
                    </p>
                }
            >
                <form class="compose-row" on:submit=move |event: ev::SubmitEvent| {
                    event.prevent_default();
                    send();
                }>
                    <Show when=move || !suggestions.with(Vec::is_empty)>
                        <ul id="mention-list" class="suggestions" role="listbox" aria-label="People to mention">
                            {move || suggestions.get().into_iter().enumerate().map(|(i, name)| {
                                let pick = name.clone();
                                view! {
                                    <li
                                        id=format!("mention-{i}")
                                        role="option"
                                        aria-selected=move || (chosen.get() == i).to_string()
                                        on:mousedown=move |event: ev::MouseEvent| {
                                            event.prevent_default();
                                            complete(pick.clone());
                                        }
                                    >{name}</li>
                                }
                            }).collect_view()}
                        </ul>
                    </Show>
                    <textarea
                        id="composer-box"
                        node_ref=input
                        rows="1"
                        placeholder=move || format!("Message {}", state.room_label(&state.current.get()))
                        aria-label="Message"
                        aria-describedby=move || match (state.editing.with(Option::is_some), state.replying.with(Option::is_some)) {
                            (true, _) => "draft-problem editing",
                            (false, true) => "draft-problem replying",
                            (false, false) => "draft-problem",
                        }
                        aria-autocomplete="list"
                        aria-controls=move || (!suggestions.with(Vec::is_empty)).then_some("mention-list")
                        aria-activedescendant=move || (!suggestions.with(Vec::is_empty)).then(|| format!("mention-{}", chosen.get()))
                        autofocus
                        prop:value=draft
                        on:input=move |event| {
                            draft.set(event_target_value(&event));
                            track_caret();
                            client::typing(state);
                        }
                        on:click=move |_| track_caret()
                        on:keyup=move |event: ev::KeyboardEvent| {
                            if matches!(event.key().as_str(), "ArrowLeft" | "ArrowRight" | "Home" | "End") {
                                track_caret();
                            }
                        }
                        on:keydown=on_keydown
                        on:paste=move |event: ev::ClipboardEvent| {
                            if let Some(file) = first_file(event.as_ref(), "clipboardData") {
                                event.prevent_default();
                                attach(file);
                            }
                        }
                    ></textarea>
                    <input
                        type="file"
                        id="attach-input"
                        // Opened by the paper clip, which says what it is.
                        hidden
                        node_ref=file_input
                        on:change=move |_| {
                            let Some(input) = file_input.get_untracked() else { return };
                            if let Some(file) = files_of(&input).and_then(|files| nth_file(&files)) {
                                attach(file);
                            }
                            // The same file chosen again is a change too.
                            input.set_value("");
                        }
                    />
                    <button
                        type="button"
                        class="attach"
                        aria-label="Attach a file"
                        title="Attach a file (or drop or paste one)"
                        on:click=move |_| {
                            if let Some(input) = file_input.get_untracked() {
                                input.click();
                            }
                        }
                    >"📎"</button>
                    <button type="submit" disabled=move || !sendable.get()>"Send"</button>
                </form>
            </Show>
            <Show when=move || { chars() >= COUNTER_FROM }>
                <p class="counter" class:over=move || { chars() > MAX_MESSAGE_CHARS }>
                    {move || format!("{} / {MAX_MESSAGE_CHARS}", chars())}
                </p>
            </Show>
        </footer>
    }
}

/// The first file an event carries in its `holder` (`dataTransfer` of a drop, `clipboardData`
/// of a paste), if any.
fn first_file(event: &JsValue, holder: &str) -> Option<http::File> {
    let holder = js_sys::Reflect::get(event, &holder.into()).ok()?;
    nth_file(&files_of(&holder)?)
}

/// The `files` list of a file input, drop or paste.
fn files_of(holder: &JsValue) -> Option<JsValue> {
    js_sys::Reflect::get(holder, &"files".into())
        .ok()
        .filter(|files| !files.is_undefined() && !files.is_null())
}

/// The first file of a `FileList`.
fn nth_file(files: &JsValue) -> Option<http::File> {
    let file = js_sys::Reflect::get(files, &0.into()).ok()?;
    (!file.is_undefined() && !file.is_null()).then(|| file.unchecked_into())
}

/// The `@name` being typed just before the caret (`caret` in UTF-16 units, as the browser counts
/// it): where its `@` is, in bytes, and what follows it.
fn mention_at(draft: &str, caret: usize) -> Option<(usize, &str)> {
    let before = &draft[..byte_index(draft, caret)];
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    (starts_word && typed.chars().count() <= shared::MAX_NAME_CHARS && !typed.contains('\n'))
        .then_some((at, typed))
}

/// The byte index of a UTF-16 offset (the end if the text is shorter).
fn byte_index(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// Someone brought the user into a room: who, and a way there.
#[component]
fn Invitation() -> impl IntoView {
    let state = expect_context::<ChatState>();
    move || {
        state.invitation.get().map(|Invited { room, by }| {
            let said = if room.is_direct() {
                format!("{} opened a conversation with you.", by.name)
            } else {
                format!("{} added you to #{}.", by.name, room.name)
            };
            let label = state.room_label(&room.name);
            let name = room.name;
            view! {
                <div class="notice invited" role="status">
                    <p>{said}</p>
                    <button class="link" on:click={
                        let name = name.clone();
                        move |_| {
                            state.invitation.set(None);
                            client::open_room(state, name.clone());
                        }
                    }>{format!("Open {label}")}</button>
                    <button class="link" on:click=move |_| state.invitation.set(None)>"Dismiss"</button>
                </div>
            }
        })
    }
}

/// Puts the caret after the box's text (to go on writing a message being edited).
fn caret_to_end(input: NodeRef<Textarea>) {
    if let Some(input) = input.get_untracked() {
        let end = u32::try_from(input.value().encode_utf16().count()).unwrap_or(u32::MAX);
        if input.set_selection_range(end, end).is_err() {
            leptos::logging::warn!("could not move the caret");
        }
    }
}
