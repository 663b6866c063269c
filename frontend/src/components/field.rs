//! A labelled field with its problem under it, announced, and tied to the input
//! (`aria-describedby`, `aria-invalid`); and a form's problem that no one field has.

use leptos::prelude::*;

/// What is wrong with a form: the field it concerns (its id; `""` for the form as a whole) and
/// why. Typing in any field clears it.
pub type Problem = RwSignal<Option<(&'static str, String)>>;

/// The problem of field `id`, tracked.
fn problem_of(problem: Problem, id: &'static str) -> impl Fn() -> Option<String> + Copy {
    move || {
        problem.with(|problem| {
            problem
                .as_ref()
                .filter(|(field, _)| *field == id)
                .map(|(_, why)| why.clone())
        })
    }
}

#[component]
pub fn Field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    problem: Problem,
    /// Tells password managers what goes here: `username`, `current-password`, `new-password`.
    autocomplete: &'static str,
    #[prop(default = "text")] kind: &'static str,
    maxlength: usize,
) -> impl IntoView {
    let mine = problem_of(problem, id);
    let described = [id, "-problem"].concat();
    view! {
        <label for=id>{label}</label>
        <input
            id=id
            type=kind
            autocomplete=autocomplete
            autocapitalize="none"
            spellcheck="false"
            maxlength=maxlength
            aria-describedby=described.clone()
            aria-invalid=move || mine().is_some().to_string()
            prop:value=value
            on:input=move |event| {
                value.set(event_target_value(&event));
                problem.set(None);
            }
        />
        <p id=described class="error" role="alert">{mine}</p>
    }
}

/// The form's own problem (a refusal no field explains).
#[component]
pub fn FormProblem(problem: Problem) -> impl IntoView {
    view! { <p class="error" role="alert">{problem_of(problem, "")}</p> }
}
