//! The page: rooms on the side (a drawer on a phone), the open room's conversation, and the
//! composer; a dialog over them (the name, logging in or signing up, the account) when one is
//! open.

use leptos::prelude::*;

use super::{
    account::AccountDialog,
    composer::Composer,
    delete::DeleteDialog,
    header::Header,
    invite::InviteDialog,
    message_list::MessageList,
    name_dialog::NameDialog,
    search::SearchDialog,
    sidebar::{Sidebar, close_drawer},
    sign_in::SignIn,
};
use crate::{
    client,
    state::{ChatState, Dialog, bad_link, room_from_path},
    storage,
};

#[component]
pub fn App() -> impl IntoView {
    let path = window().location().pathname().unwrap_or_default();
    let invite = invite_from_link(&path);
    let has_session = storage::token().is_some() || storage::name().is_some();
    let dialog = if invite.is_some() {
        Some(Dialog::SignUp)
    } else {
        (!has_session).then_some(Dialog::Welcome)
    };
    let state = ChatState::new(room_from_path(&path), dialog);
    state.invite.set(invite);
    state.missing_room.set(bad_link(&path));
    provide_context(state);
    client::follow_navigation(state);
    client::watch(state);
    keep_above_keyboard();
    shortcuts(state);
    if has_session {
        client::start(state);
    } else {
        client::about_server(state);
    }
    // While a dialog is open, it is the only thing that can be focused or clicked.
    let dialog_open = move || state.dialog.with(Option::is_some);
    let dialog = move || {
        state.dialog.get().map(|dialog| match dialog {
            Dialog::Welcome | Dialog::Rename => view! { <NameDialog /> }.into_any(),
            Dialog::LogIn => view! { <SignIn sign_up=false /> }.into_any(),
            Dialog::SignUp => view! { <SignIn sign_up=true /> }.into_any(),
            Dialog::Account => view! { <AccountDialog /> }.into_any(),
            Dialog::Invite => view! { <InviteDialog /> }.into_any(),
            Dialog::DeleteMessage => view! { <DeleteDialog /> }.into_any(),
            Dialog::Search => view! { <SearchDialog /> }.into_any(),
        })
    };

    view! {
        <a class="skip" href="#composer-box">"Skip to the message box"</a>
        <div class="app" class:drawer-open=move || state.drawer.get()>
            <Sidebar />
            <main class="room" aria-label="Conversation" prop:inert=dialog_open>
                <Header />
                <MessageList />
                <Composer />
            </main>
            {dialog}
        </div>
    }
}

/// The join link's code (`/?invite=CODE`), taken out of the address so that it is neither
/// bookmarked nor shared further by accident.
fn invite_from_link(path: &str) -> Option<String> {
    let query = window().location().search().unwrap_or_default();
    let code = query
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("invite="))?
        .to_owned();
    if window()
        .history()
        .and_then(|history| {
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path))
        })
        .is_err()
    {
        leptos::logging::warn!("could not tidy the address");
    }
    Some(code)
}

/// Alt+Up and Alt+Down open the room above or below in the list; Alt+End jumps to the newest
/// message; Ctrl+K (Cmd+K) opens the search; Escape closes the phone's room drawer.
fn shortcuts(state: ChatState) {
    let handle = window_event_listener(leptos::ev::keydown, move |event| {
        if event.key() == "Escape" && state.drawer.get_untracked() {
            return close_drawer(state);
        }
        if (event.ctrl_key() || event.meta_key())
            && event.key() == "k"
            && state.dialog.with_untracked(Option::is_none)
        {
            event.prevent_default();
            return state.dialog.set(Some(Dialog::Search));
        }
        if !event.alt_key() || state.dialog.with_untracked(Option::is_some) {
            return;
        }
        let step: i32 = match event.key().as_str() {
            "ArrowUp" => -1,
            "ArrowDown" => 1,
            "End" => {
                event.prevent_default();
                state.following.set(true);
                if let Some(list) = document().get_element_by_id("conversation") {
                    list.set_scroll_top(list.scroll_height());
                }
                return;
            }
            _ => return,
        };
        event.prevent_default();
        // In the sidebar's order: the rooms, then the direct conversations.
        let names = untrack(|| [state.listed(false), state.listed(true)].concat());
        let current = state.current.get_untracked();
        let Some(at) = names.iter().position(|name| *name == current) else {
            return;
        };
        let count = i32::try_from(names.len()).unwrap_or(1);
        let to = (i32::try_from(at).unwrap_or(0) + step).rem_euclid(count);
        client::open_room(state, names[usize::try_from(to).unwrap_or(0)].clone());
    });
    // The listener lives as long as the page.
    std::mem::forget(handle);
}

/// On a phone, the on-screen keyboard shrinks the visual viewport but not always the layout
/// viewport: the page is sized to the visual one, so the composer stays above the keyboard.
fn keep_above_keyboard() {
    let Some(viewport) = window().visual_viewport() else {
        return;
    };
    let fit = {
        let viewport = viewport.clone();
        move || {
            if let Some(root) = document().document_element()
                && let Ok(root) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(root)
                && root
                    .style()
                    .set_property("--viewport-height", &format!("{}px", viewport.height()))
                    .is_err()
            {
                leptos::logging::warn!("could not fit the page to the keyboard");
            }
        }
    };
    let on_resize = wasm_bindgen::closure::Closure::<dyn Fn()>::new(fit);
    viewport.set_onresize(Some(wasm_bindgen::JsCast::unchecked_ref(
        on_resize.as_ref(),
    )));
    // The handler lives as long as the page.
    on_resize.forget();
}
