//! The account dialog, opened from the sidebar: who the user is (name, @username, role), logging
//! out, changing the password, the sessions (devices) logged in, each of which can be ended, and
//! for an admin, who may sign up, the join link and everyone's accounts (`people`).

use leptos::{ev, prelude::*, task::spawn_local};
use shared::{
    MAX_PASSWORD_CHARS, Registration, RegistrationInfo, Role, SessionInfo, validate_password,
};

use super::{
    avatar::Avatar,
    dialog::{Modal, close_dialog},
    field::{Field, FormProblem, Problem},
    people::People,
};
use crate::{client, state::ChatState};

#[component]
pub fn AccountDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let close = Callback::new(move |()| close_dialog(state, "account-button"));
    let problem: Problem = RwSignal::new(None);
    let sessions = RwSignal::new(Vec::<SessionInfo>::new());
    let load = Callback::new(move |()| {
        spawn_local(async move {
            match client::sessions().await {
                Ok(list) => sessions.set(list),
                Err(error) => problem.set(Some(("", error.message))),
            }
        });
    });
    load.run(());
    let log_out = move |everywhere: bool| {
        spawn_local(async move {
            if let Err(error) = client::log_out(state, everywhere).await {
                problem.set(Some(("", error.message)));
            }
        });
    };
    let admin = move || {
        state
            .account
            .with(|account| account.as_ref().is_some_and(|a| a.role == Role::Admin))
    };

    view! {
        <Modal title="Your account" close=Some(close) wide=true>
            <button type="button" class="close" aria-label="Close" on:click=move |_| close.run(())>
                "✕"
            </button>
            <div class="who">
                {move || state.me.get().map(|me| view! {
                    <Avatar author=me.clone() />
                    <strong>{me.name}</strong>
                })}
                {move || state.account.get().map(|account| view! {
                    <span class="handle">"@" {account.username}</span>
                    <span class="role">
                        {if account.role == Role::Admin { "Admin" } else { "Member" }}
                    </span>
                })}
                <button type="button" class="secondary" on:click=move |_| log_out(false)>
                    "Log out"
                </button>
            </div>
            <FormProblem problem />
            <PasswordForm sessions=load />
            <section aria-labelledby="sessions-title">
                <h3 id="sessions-title">"Where you are logged in"</h3>
                <ul class="sessions">
                    {move || {
                        sessions
                            .get()
                            .into_iter()
                            .map(|session| session_row(session, load, problem))
                            .collect_view()
                    }}
                </ul>
                <button type="button" class="secondary" on:click=move |_| log_out(true)>
                    "Log out everywhere"
                </button>
            </section>
            {move || admin().then(|| view! { <RegistrationSettings /> <People /> })}
        </Modal>
    }
}

/// One session: this device, or when it began; when and from where it was last used; a button
/// to end it (this device's is ended by "Log out").
fn session_row(session: SessionInfo, reload: Callback<()>, problem: Problem) -> impl IntoView {
    let describe = ["session-", &session.id].concat();
    let id = session.id;
    let end = move |_| {
        let id = id.clone();
        spawn_local(async move {
            match client::end_session(&id).await {
                Ok(()) => reload.run(()),
                Err(error) => problem.set(Some(("", error.message))),
            }
        });
    };
    view! {
        <li>
            <span id=describe.clone()>
                {if session.current {
                    view! { <strong>"This device"</strong> }.into_any()
                } else {
                    view! { "Logged in " {when(session.created_at)} }.into_any()
                }}
                <br />
                "Last used " {when(session.last_used_at)}
                {session.last_address.map(|address| view! { " from " {address} })}
            </span>
            {(!session.current).then(|| view! {
                <button type="button" class="secondary" aria-describedby=describe on:click=end>
                    "Log out"
                </button>
            })}
        </li>
    }
}

/// A date and time as the reader writes them.
fn when(millis: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&(millis as f64).into());
    date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
        .into()
}

/// The current password and a new one; the user's other sessions end (`sessions` reloads their
/// list).
#[component]
fn PasswordForm(sessions: Callback<()>) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let problem: Problem = RwSignal::new(None);
    let changed = RwSignal::new(false);
    let submit = move |event: ev::SubmitEvent| {
        event.prevent_default();
        changed.set(false);
        let (old, new_password) = (current.get_untracked(), new.get_untracked());
        if let Err(error) = validate_password(&new_password) {
            return problem.set(Some(("new-password", error.to_string())));
        }
        spawn_local(async move {
            match client::change_password(&old, &new_password).await {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    changed.set(true);
                    sessions.run(());
                }
                Err(error) => {
                    let field = match error.code {
                        shared::ErrorCode::Unauthorized => "current-password",
                        shared::ErrorCode::InvalidPassword => "new-password",
                        _ => "",
                    };
                    problem.set(Some((field, error.message)));
                }
            }
        });
    };
    let username = move || {
        state
            .account
            .with(|account| account.as_ref().map(|a| a.username.clone()))
    };
    view! {
        <section aria-labelledby="password-title">
            <h3 id="password-title">"Change password"</h3>
            <form on:submit=submit>
                // For password managers: whose password this is.
                <input type="text" autocomplete="username" hidden readonly prop:value=username />
                <Field id="current-password" label="Current password" value=current problem
                    kind="password" autocomplete="current-password" maxlength=MAX_PASSWORD_CHARS />
                <Field id="new-password" label="New password (at least 8 characters)" value=new
                    problem kind="password" autocomplete="new-password" maxlength=MAX_PASSWORD_CHARS />
                <FormProblem problem />
                <p role="status" class="done">
                    {move || changed.get().then_some("Password changed. Your other sessions were logged out.")}
                </p>
                <button type="submit">"Change password"</button>
            </form>
        </section>
    }
}

/// For an admin: who may create an account, and the join link for `invite` mode.
#[component]
fn RegistrationSettings() -> impl IntoView {
    let info = RwSignal::new(None::<RegistrationInfo>);
    let problem: Problem = RwSignal::new(None);
    let copied = RwSignal::new(None::<bool>);
    let ask = move |mode: Option<Registration>, new_link: bool| {
        spawn_local(async move {
            match client::registration(mode, new_link).await {
                Ok(now) => info.set(Some(now)),
                Err(error) => problem.set(Some(("", error.message))),
            }
        });
    };
    ask(None, false);
    let link = move || {
        let origin = window().location().origin().unwrap_or_default();
        info.with(|info| {
            info.as_ref()
                .map(|info| [origin.as_str(), "/?invite=", &info.invite].concat())
        })
        .unwrap_or_default()
    };
    let copy = move |_| {
        let written = window().navigator().clipboard().write_text(&link());
        spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(written).await;
            copied.set(Some(done.is_ok()));
        });
    };
    let choices = [
        (Registration::Open, "Anyone who can open this page"),
        (Registration::Invite, "Only people with the join link"),
        (Registration::Closed, "Nobody"),
    ];
    view! {
        <section aria-labelledby="registration-title">
            <h3 id="registration-title">"Registration"</h3>
            <fieldset>
                <legend>"Who can create an account"</legend>
                {choices.map(|(mode, label)| view! {
                    <label class="choice">
                        <input
                            type="radio"
                            name="registration"
                            prop:checked=move || info.with(|info| info.as_ref().is_some_and(|info| info.mode == mode))
                            on:change=move |_| ask(Some(mode), false)
                        />
                        {label}
                    </label>
                }).collect_view()}
            </fieldset>
            <label for="join-link">"Join link"</label>
            <div class="join-link">
                <input id="join-link" readonly prop:value=link aria-describedby="join-link-note" />
                <button type="button" on:click=copy>"Copy"</button>
                <button type="button" class="secondary" on:click=move |_| {
                    copied.set(None);
                    ask(None, true);
                }>"New link"</button>
            </div>
            <p id="join-link-note" class="note">
                "Works while only people with the link may join. A new link stops the old one."
            </p>
            <p role="status" class="done">
                {move || copied.get().map(|done| if done { "Copied." } else { "Could not copy: select the link and copy it." })}
            </p>
            <FormProblem problem />
        </section>
    }
}
