//! "Why can't this person see this project?" (approvers and admins): checks, as PostHog
//! reports them now, organization membership, a pending invitation, the project, and the
//! person's access level in it; says which one it is and what to do.

use hogwarden_api_types::DiagnosisDto;
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Loading, Problem, use_ctx};
use crate::format;

#[component]
pub fn DiagnosePage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("approver") && !ctx.has_role("admin") {
        return view! {
            <h1>"Access diagnosis"</h1>
            <p class="empty">"Only approvers and admins can diagnose access."</p>
        }
        .into_any();
    }
    let projects = Load::new(move || {
        let c = ctx.client();
        async move { c.projects().await.map(|p| p.projects) }
    });
    let email = RwSignal::new(String::new());
    let project = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<Result<DiagnosisDto, String>>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        let who = email.get_untracked().trim().to_owned();
        let mut problems = Vec::new();
        if !who.contains('@') || who.chars().any(char::is_whitespace) {
            problems.push("Enter the person's email address.");
        }
        let pid = project.get_untracked().parse::<i64>().ok();
        if pid.is_none() {
            problems.push("Choose the project they cannot see.");
        }
        if !problems.is_empty() {
            problem.set(Some(problems.join(" ")));
            return;
        }
        busy.set(true);
        result.set(None);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            result.set(Some(c.diagnose(&who, pid.unwrap_or_default()).await.map_err(|e| e.to_string())));
            busy.set(false);
        });
    };
    view! {
        <h1>"Access diagnosis"</h1>
        <p class="lead">"Why can't someone see a project? Hogwarden asks PostHog and tells you which check stands in the way."</p>
        <form aria-label="Diagnose access" on:submit=submit novalidate>
            <div class="field">
                <label for="d-email">"Email"</label>
                <input id="d-email" type="email" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="d-project">"Project"</label>
                <select id="d-project" on:change=move |ev| project.set(event_target_value(&ev))>
                    <option value="" selected=move || project.get().is_empty()>"Choose a project"</option>
                    {move || projects.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|p| {
                        let v = p.id.to_string();
                        let v2 = v.clone();
                        view! { <option value=v selected=move || project.get() == v2>{p.name}</option> }
                    }).collect_view()}
                </select>
            </div>
            <Problem problem=problem />
            <button type="submit" disabled=move || busy.get()>"Check access"</button>
        </form>
        {move || busy.get().then(|| view! { <Loading /> })}
        {move || match result.get() {
            None => None,
            Some(Err(e)) => Some(view! { <Alert message=format!("The diagnosis failed. {e}") /> }.into_any()),
            Some(Ok(d)) => Some(view! { <Diagnosis d=d /> }.into_any()),
        }}
    }
    .into_any()
}

#[component]
fn Diagnosis(d: DiagnosisDto) -> impl IntoView {
    let project = d.project_name.clone().unwrap_or_else(|| format!("project {}", d.project_id));
    let verdict = if d.can_see { format!("{} can see {project}", d.email) } else { format!("{} cannot see {project}", d.email) };
    view! {
        <article aria-label="Diagnosis" class=if d.can_see { "diagnosis ok" } else { "diagnosis blocked" }>
            <h2>{verdict}</h2>
            <p>{d.summary.clone()}</p>
            <p><strong>"Next step: "</strong>{d.next_step.clone()}</p>
            <table>
                <caption>"Checks made"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Check"</th>
                        <th scope="col">"Result"</th>
                        <th scope="col">"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    {d.checks.iter().map(|c| view! {
                        <tr>
                            <td>{format::title(&c.check)}</td>
                            <td>{if c.ok { "Passed" } else { "Blocks access" }}</td>
                            <td>{c.detail.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="hint">{format!("Read from PostHog at {}.", format::when(d.checked_at))}</p>
        </article>
    }
}
