//! Logging in and creating an account, one dialog for both (a link switches). On a first visit
//! without guests, or after the session ended, it is how in; otherwise it can be cancelled.
//! Refusals show at the field they concern.

use leptos::{ev, prelude::*, task::spawn_local};
use shared::{
    ErrorCode, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, Registration, validate_password,
    validate_username,
};

use super::{
    dialog::{Modal, close_dialog},
    field::{Field, FormProblem, Problem},
};
use crate::{
    client,
    state::{ChatState, Dialog},
};

#[component]
pub fn SignIn(sign_up: bool) -> impl IntoView {
    let state = expect_context::<ChatState>();
    client::about_server(state);
    let server = state.server;
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let invite = RwSignal::new(state.invite.get_untracked().unwrap_or_default());
    let problem: Problem = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let setup = move || server.with(|info| info.as_ref().is_some_and(|info| info.setup));
    let mode = move || server.with(|info| info.as_ref().map(|info| info.registration));
    let guests = move || server.with(|info| info.as_ref().is_some_and(|info| info.guests));
    // Signing up by invitation takes the join link's code (filled in when the link was used).
    let by_invite = move || sign_up && !setup() && mode() == Some(Registration::Invite);
    let can_sign_up = move || setup() || mode() != Some(Registration::Closed);
    // Someone chatting (not sent here because their session ended) may change their mind.
    let cancellable =
        move || state.signed_out.with(Option::is_none) && state.me.with(Option::is_some);
    let is_guest = state.me.with_untracked(Option::is_some);
    let opener = if sign_up { "sign-up" } else { "log-in" };
    let close = Callback::new(move |()| {
        if cancellable() {
            close_dialog(state, opener);
        }
    });

    let submit = move |event: ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (name, secret, code) = (
            username.get_untracked(),
            password.get_untracked(),
            invite.get_untracked(),
        );
        if sign_up {
            if let Err(error) = validate_username(&name) {
                return problem.set(Some(("username", error.to_string())));
            }
            if let Err(error) = validate_password(&secret) {
                return problem.set(Some(("password", error.to_string())));
            }
        }
        busy.set(true);
        let invited = by_invite();
        spawn_local(async move {
            let done = if sign_up {
                let code = Some(code.as_str()).filter(|code| !code.is_empty());
                client::sign_up(state, &name, &secret, code).await
            } else {
                client::log_in(state, &name, &secret).await
            };
            match done {
                Ok(()) => close_dialog(state, "composer-box"),
                Err(error) => {
                    let field = match error.code {
                        ErrorCode::InvalidUsername | ErrorCode::UsernameTaken => "username",
                        ErrorCode::InvalidPassword | ErrorCode::Unauthorized => "password",
                        ErrorCode::RegistrationClosed if invited => "invite",
                        _ => "",
                    };
                    busy.set(false);
                    problem.set(Some((field, error.message)));
                }
            }
        });
    };
    let switch = move |_| {
        state.dialog.set(Some(if sign_up {
            Dialog::LogIn
        } else {
            Dialog::SignUp
        }));
    };
    let intro = move || {
        if !sign_up {
            "Log in to be yourself here: your rooms and history on any device."
        } else if setup() {
            "This chat has no accounts yet: yours is the first, and its admin."
        } else if is_guest {
            "Your name, rooms and messages go with you into the account."
        } else {
            "Pick a username to log in with on any device."
        }
    };

    view! {
        <Modal title=if sign_up { "Create account" } else { "Log in" } close=Some(close)>
            <form on:submit=submit>
                {move || state.signed_out.get().map(|why| view! { <p class="why">{why}</p> })}
                <p>{intro}</p>
                <Field id="username" label="Username" value=username problem
                    autocomplete="username" maxlength=MAX_USERNAME_CHARS />
                <Field id="password" label=if sign_up { "Password (at least 8 characters)" } else { "Password" }
                    value=password problem kind="password" maxlength=MAX_PASSWORD_CHARS
                    autocomplete=if sign_up { "new-password" } else { "current-password" } />
                {move || by_invite().then(|| view! {
                    <Field id="invite" label="Invite code (from the join link)" value=invite problem
                        autocomplete="off" maxlength=MAX_PASSWORD_CHARS />
                })}
                <FormProblem problem />
                <div class="dialog-actions">
                    {move || cancellable().then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| close.run(())>
                            "Cancel"
                        </button>
                    })}
                    <button type="submit" disabled=busy>
                        {if sign_up { "Create account" } else { "Log in" }}
                    </button>
                </div>
                <p class="alternatives">
                    {move || (sign_up || can_sign_up()).then(|| view! {
                        <button type="button" class="link" on:click=switch>
                            {if sign_up { "I have an account: log in" } else { "No account yet? Create one" }}
                        </button>
                    })}
                    {move || (guests() && !cancellable()).then(|| view! {
                        <button type="button" class="link"
                            on:click=move |_| state.dialog.set(Some(Dialog::Welcome))>
                            "Chat as a guest"
                        </button>
                    })}
                </p>
            </form>
        </Modal>
    }
}
