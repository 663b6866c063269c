//! Accounts: logging in and signing up (a guest becomes the account), logging out, noticing that
//! this page's session ended elsewhere, and the account dialog's requests. A password goes from
//! the form to [`crate::http`] and nowhere else: it is never stored or logged.

use leptos::{prelude::*, task::spawn_local};
use shared::{
    ErrorCode, ErrorPayload, Registration, RegistrationInfo, Role, SessionInfo, UserEntry,
};

use super::start;
use crate::{
    http, socket,
    state::{ChatState, Dialog, Status},
    storage,
};

/// What the page says when its session ended while it was open or away.
const ENDED: &str = "You were logged out, on this device or another. Log in again to go on.";

/// Asks the server, once, whether it has accounts yet and lets guests in. Without guests, the
/// log-in dialog (or, on a new server, the sign-up one) replaces the name picker.
pub fn about_server(state: ChatState) {
    if state.server.with_untracked(Option::is_some) {
        return;
    }
    spawn_local(async move {
        match http::server().await {
            Ok(info) => {
                if !info.guests && state.dialog.get_untracked() == Some(Dialog::Welcome) {
                    let form = if info.setup {
                        Dialog::SignUp
                    } else {
                        Dialog::LogIn
                    };
                    state.dialog.set(Some(form));
                }
                state.server.set(Some(info));
            }
            Err(error) => leptos::logging::warn!("{error}"),
        }
    });
}

/// Connects with the stored session (or as a new guest): the first time, or again.
pub fn connect(state: ChatState) {
    if socket::started() {
        socket::reconnect();
    } else {
        start(state);
    }
}

pub async fn log_in(state: ChatState, username: &str, password: &str) -> Result<(), ErrorPayload> {
    let credentials = http::login(username, password).await?;
    signed_in(state, &credentials.token);
    Ok(())
}

/// Creates an account. A guest's session and name go along, so the guest becomes the account
/// (same id, name, rooms and messages).
pub async fn sign_up(
    state: ChatState,
    username: &str,
    password: &str,
    invite: Option<&str>,
) -> Result<(), ErrorPayload> {
    let guest = storage::token()
        .filter(|_| state.account.with_untracked(Option::is_none))
        .zip(
            state
                .me
                .with_untracked(|me| me.as_ref().map(|me| me.name.clone())),
        );
    // The guest's session ends as it becomes the account's: closed from here first, so that the
    // server closing it is not taken for a session ended elsewhere.
    if guest.is_some() {
        socket::disconnect();
    }
    let as_guest = guest
        .as_ref()
        .map(|(token, name)| (token.as_str(), name.as_str()));
    match http::register(username, password, invite, as_guest).await {
        Ok(credentials) => signed_in(state, &credentials.token),
        Err(error) => {
            if guest.is_some() {
                socket::reconnect();
            }
            return Err(error);
        }
    }
    Ok(())
}

/// A new session: the connection starts again with it, and the welcome brings the account's
/// rooms.
fn signed_in(state: ChatState, token: &str) {
    storage::set_token(token);
    state.signed_out.set(None);
    connect(state);
}

/// Ends this session, or (`everywhere`) all of the user's.
pub async fn log_out(state: ChatState, everywhere: bool) -> Result<(), ErrorPayload> {
    let token = session()?;
    // Closed from here first, so that the server closing it is not taken for a session ended
    // elsewhere.
    socket::disconnect();
    if let Err(error) = http::logout(&token, everywhere).await {
        socket::reconnect();
        return Err(error);
    }
    signed_out(state, None);
    Ok(())
}

/// The session is gone: forget it and everything shown for it, and ask who is here now.
/// `why` is said in the log-in dialog; without it (the user logged out), the first visit's
/// choices come back.
pub fn signed_out(state: ChatState, why: Option<String>) {
    storage::clear_token();
    state.me.set(None);
    state.account.set(None);
    state.rooms.set(Default::default());
    state.outbox.set(Vec::new());
    state.status.set(Status::SignedOut);
    let guests = state
        .server
        .with_untracked(|server| server.as_ref().is_none_or(|server| server.guests));
    let dialog = if why.is_none() && guests {
        Dialog::Welcome
    } else {
        Dialog::LogIn
    };
    state.signed_out.set(why);
    state.dialog.set(Some(dialog));
    about_server(state);
}

/// The server closed the connection: it is restarting (connect again in a moment), or this
/// session ended (then say so, rather than come back as a new guest).
pub fn on_closed(state: ChatState) {
    let Some(token) = storage::token() else {
        // Another tab of this browser logged out.
        return signed_out(state, Some(ENDED.to_owned()));
    };
    spawn_local(async move {
        match http::sessions(&token).await {
            Err(error) if error.code == ErrorCode::UnknownSession => {
                signed_out(state, Some(ENDED.to_owned()));
            }
            Err(error)
                if matches!(
                    error.code,
                    ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::Banned
                ) =>
            {
                signed_out(state, Some(error.message));
            }
            _ => set_timeout(socket::reconnect, std::time::Duration::from_secs(1)),
        }
    });
}

/// A welcome with another token than the one sent: the server did not know it (the session
/// ended while the page was away) and made a new guest. Says so and leaves; returns whether it
/// did.
pub fn ended_while_away(state: ChatState, token: &str) -> bool {
    if storage::token().is_none_or(|sent| sent == token) {
        return false;
    }
    socket::disconnect();
    signed_out(state, Some(ENDED.to_owned()));
    true
}

/// The server refused the connection (only accounts may chat, or this user may not): the
/// log-in dialog says why.
pub fn rejected(state: ChatState, why: String) {
    state.status.set(Status::SignedOut);
    state.signed_out.set(Some(why));
    state.dialog.set(Some(Dialog::LogIn));
    about_server(state);
}

pub async fn sessions() -> Result<Vec<SessionInfo>, ErrorPayload> {
    http::sessions(&session()?).await
}

pub async fn end_session(id: &str) -> Result<(), ErrorPayload> {
    http::end_session(&session()?, id).await
}

/// Changes the password; the user's other sessions end.
pub async fn change_password(current: &str, new: &str) -> Result<(), ErrorPayload> {
    http::change_password(&session()?, current, new).await
}

/// For an admin: who may sign up, and the join link; sets the `mode` and makes a new link when
/// asked.
pub async fn registration(
    mode: Option<Registration>,
    new_link: bool,
) -> Result<RegistrationInfo, ErrorPayload> {
    http::registration(&session()?, mode.map(Registration::as_str), new_link).await
}

/// For an admin: every account.
pub async fn users() -> Result<Vec<UserEntry>, ErrorPayload> {
    http::users(&session()?).await
}

/// For an admin: makes `user` (an id) an admin or a member.
pub async fn set_role(user: &str, role: Role) -> Result<(), ErrorPayload> {
    http::set_role(&session()?, user, role.as_str()).await
}

/// For an admin: bans `user` (an id) or lifts their ban.
pub async fn set_banned(user: &str, banned: bool) -> Result<(), ErrorPayload> {
    http::set_banned(&session()?, user, banned).await
}

fn session() -> Result<String, ErrorPayload> {
    storage::token().ok_or_else(|| ErrorPayload::new(ErrorCode::UnknownSession, ENDED))
}
