//! For an admin, in the account dialog: every account, found by name, with what an admin can
//! do to each: make them an admin or a member, ban them (their connections close at once and
//! they cannot come back) or lift the ban.

use leptos::{prelude::*, task::spawn_local};
use shared::{ErrorPayload, Role, UserEntry};

use super::{
    avatar::Avatar,
    field::{FormProblem, Problem},
};
use crate::{client, state::ChatState};

/// How many accounts are listed at once; a search narrows down the rest.
const SHOWN: usize = 50;

#[component]
pub fn People() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let people = RwSignal::new(Vec::<UserEntry>::new());
    let problem: Problem = RwSignal::new(None);
    let find = RwSignal::new(String::new());
    let load = Callback::new(move |()| {
        spawn_local(async move {
            match client::users().await {
                Ok(list) => people.set(list),
                Err(error) => problem.set(Some(("", error.message))),
            }
        });
    });
    load.run(());
    let me = state
        .me
        .with_untracked(|me| me.as_ref().map(|me| me.id.clone()))
        .unwrap_or_default();
    let matching = move || {
        let find = find.get().trim().to_lowercase();
        people.with(|people| {
            people
                .iter()
                .filter(|entry| {
                    find.is_empty()
                        || entry.user.name.to_lowercase().contains(&find)
                        || entry
                            .account
                            .as_ref()
                            .is_some_and(|a| a.username.to_lowercase().contains(&find))
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section aria-labelledby="people-title">
            <h3 id="people-title">"People"</h3>
            <label for="people-find">"Find by name or username"</label>
            <input id="people-find" type="search" autocomplete="off" prop:value=find
                on:input=move |event| find.set(event_target_value(&event)) />
            <FormProblem problem />
            {move || {
                let matching = matching();
                let more = matching.len().saturating_sub(SHOWN);
                let me = me.clone();
                view! {
                    <ul class="people">
                        {matching.into_iter().take(SHOWN).map(|entry| {
                            let mine = entry.user.id == me;
                            person_row(entry, mine, load, problem)
                        }).collect_view()}
                    </ul>
                    {(more > 0).then(|| view! {
                        <p class="note">{format!("{more} more: narrow the search to see them.")}</p>
                    })}
                }
            }}
        </section>
    }
}

/// One account: who, their role and standing, and the buttons for what may be done to them (not
/// to oneself; an admin is demoted before being banned, as the server requires).
fn person_row(
    entry: UserEntry,
    mine: bool,
    reload: Callback<()>,
    problem: Problem,
) -> impl IntoView {
    let UserEntry {
        user,
        account,
        banned,
    } = entry;
    let role = account
        .as_ref()
        .map_or(Role::Member, |account| account.role);
    let describe = ["person-", &user.id].concat();
    let id = user.id.clone();
    let act = move |action: Action| {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                let done: Result<(), ErrorPayload> = match action {
                    Action::Role(role) => client::set_role(&id, role).await,
                    Action::Ban(banned) => client::set_banned(&id, banned).await,
                };
                match done {
                    Ok(()) => reload.run(()),
                    Err(error) => problem.set(Some(("", error.message))),
                }
            });
        }
    };
    let (role_label, new_role) = match role {
        Role::Admin => ("Remove admin", Role::Member),
        Role::Member => ("Make admin", Role::Admin),
    };
    view! {
        <li>
            <Avatar author=user.clone() />
            <span id=describe.clone()>
                <strong>{user.name.clone()}</strong>
                {account.map(|account| view! { <span class="handle">" @" {account.username}</span> })}
                {(role == Role::Admin).then_some(" · Admin")}
                {banned.then_some(" · Banned")}
                {mine.then_some(" (you)")}
            </span>
            {(!mine && !banned).then(|| view! {
                <button type="button" class="secondary" aria-describedby=describe.clone()
                    on:click=act(Action::Role(new_role))>{role_label}</button>
            })}
            {(!mine && role == Role::Member).then(|| view! {
                <button type="button" class="secondary" aria-describedby=describe
                    on:click=act(Action::Ban(!banned))>{if banned { "Unban" } else { "Ban" }}</button>
            })}
        </li>
    }
}

#[derive(Clone, Copy)]
enum Action {
    Role(Role),
    Ban(bool),
}
