//! The audit log, newest first, filtered by person, actor, project, kind and time, and
//! for admins whether the hash chain verifies (that reads every entry). A project
//! filter searches a bounded number of the newest entries; the page says where it
//! stopped and searches further back on request.

use hogwarden_api_types::{AuditEntryDto, ProjectDto, VerificationDto};
use leptos::prelude::*;

use crate::load::Load;
use serde_json::Value;

use crate::app::{Alert, Loading, use_ctx};
use crate::format;
use crate::pages::local_to_utc;
use crate::pkce::encode;

const KINDS: [&str; 9] =
    ["requested", "approved", "denied", "expired", "applied", "apply_failed", "reverted", "revert_failed", "revert_conflict"];

/// The filters as typed.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    person: String,
    actor: String,
    project: String,
    kind: String,
    from: String,
    to: String,
    /// A project search's continuation: entries older than this one.
    before_seq: String,
}

impl Filters {
    fn query(&self) -> String {
        let mut q = vec!["limit=200".to_owned()];
        let mut push = |k: &str, v: &str| {
            let v = v.trim();
            if !v.is_empty() {
                q.push(format!("{k}={}", encode(v)));
            }
        };
        push("subject", &self.person);
        push("actor", &self.actor);
        push("project", &self.project);
        push("kind", &self.kind);
        push("from", &local_to_utc(&self.from).unwrap_or_default());
        push("to", &local_to_utc(&self.to).unwrap_or_default());
        push("before_seq", &self.before_seq);
        q.join("&")
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let ctx = use_ctx();
    let applied = RwSignal::new(Filters::default());
    let draft = RwSignal::new(Filters::default());
    let log = Load::new(move || {
        let q = applied.get().query();
        let c = ctx.client();
        async move { c.audit(&q).await }
    });
    let admin = ctx.has_role("admin");
    let chain = Load::new(move || {
        let c = ctx.client();
        async move { if admin { c.verify_audit().await.ok() } else { None } }
    });
    let projects = Load::new(move || {
        let c = ctx.client();
        async move { c.projects().await.map(|p| p.projects).unwrap_or_default() }
    });
    let names = move || projects.get().unwrap_or_default();

    let text =
        move |id: &'static str, label: &'static str, kind: &'static str, get: fn(&Filters) -> String, set: fn(&mut Filters, String)| {
            view! {
                <div class="field">
                    <label for=id>{label}</label>
                    <input
                        id=id
                        type=kind
                        prop:value=move || draft.with(get)
                        on:input=move |ev| {
                            let v = event_target_value(&ev);
                            draft.update(|f| set(f, v));
                        }
                    />
                </div>
            }
        };

    view! {
        <h1>"Audit log"</h1>
        <form
            aria-label="Audit filters"
            class="filters"
            on:submit=move |ev| {
                ev.prevent_default();
                applied.set(draft.get_untracked());
            }
        >
            {text("f-person", "Person", "email", |f| f.person.clone(), |f, v| f.person = v)}
            {text("f-actor", "Actor", "email", |f| f.actor.clone(), |f, v| f.actor = v)}
            <div class="field">
                <label for="f-project">"Project"</label>
                <select id="f-project" on:change=move |ev| { let v = event_target_value(&ev); draft.update(|f| f.project = v) }>
                    <option value="" selected=move || draft.with(|f| f.project.is_empty())>"All projects"</option>
                    {move || {
                        names()
                            .into_iter()
                            .map(|p| {
                                let v = p.id.to_string();
                                let v2 = v.clone();
                                view! { <option value=v selected=move || draft.with(|f| f.project == v2)>{p.name}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </div>
            <div class="field">
                <label for="f-kind">"Kind"</label>
                <select id="f-kind" on:change=move |ev| { let v = event_target_value(&ev); draft.update(|f| f.kind = v) }>
                    <option value="" selected=move || draft.with(|f| f.kind.is_empty())>"All kinds"</option>
                    {KINDS
                        .iter()
                        .map(|k| view! { <option value=*k selected=move || draft.with(|f| f.kind == *k)>{format::title(k)}</option> })
                        .collect_view()}
                </select>
            </div>
            {text("f-from", "From", "datetime-local", |f| f.from.clone(), |f, v| f.from = v)}
            {text("f-to", "To", "datetime-local", |f| f.to.clone(), |f, v| f.to = v)}
            <div class="buttons">
                <button type="submit" class="primary">"Apply filters"</button>
                <button
                    type="button"
                    on:click=move |_| {
                        draft.set(Filters::default());
                        applied.set(Filters::default());
                    }
                >
                    "Clear filters"
                </button>
            </div>
        </form>
        {move || match log.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The audit log could not be loaded. {e}") /> }.into_any(),
            Some(Ok(list)) => view! {
                {move || chain.get().flatten().map(|v| view! { <Chain v=v /> })}
                {list.searched_back_to.map(|seq| view! {
                    <p role="status" class="note">
                        {format!("Searched the newest entries back to entry {seq}; older entries were not searched. ")}
                        <button
                            type="button"
                            on:click=move |_| applied.update(|f| f.before_seq = seq.to_string())
                        >
                            "Search older entries"
                        </button>
                    </p>
                })}
                <Entries entries=list.entries projects=names() />
            }
            .into_any(),
        }}
    }
}

#[component]
fn Chain(v: VerificationDto) -> impl IntoView {
    if v.valid {
        view! { <p role="status" class="ok chain">{format!("Chain verified ({} entries)", v.entries)}</p> }.into_any()
    } else {
        let at = v.first_broken_seq.map_or_else(|| "an unknown entry".to_owned(), |s| format!("entry {s}"));
        view! {
            <p role="alert" class="error chain">
                {format!("Chain broken at {at}: {}", v.problem.unwrap_or_else(|| "the hashes do not match".into()))}
            </p>
        }
        .into_any()
    }
}

/// A short, readable line for an entry's details.
fn summary(e: &AuditEntryDto, projects: &[ProjectDto]) -> String {
    let d = &e.details;
    let change =
        |v: &Value| serde_json::from_value::<hogwarden_api_types::ChangeDto>(project_field(v)).ok().map(|c| format::change(&c, projects));
    let mut parts = Vec::new();
    if let Some(cs) = d.get("changes").and_then(Value::as_array) {
        parts.push(cs.iter().filter_map(change).collect::<Vec<_>>().join("; "));
    }
    if let Some(c) = d.get("change") {
        parts.extend(change(c));
    }
    if let Some(gs) = d.get("grants").and_then(Value::as_array) {
        parts.push(gs.iter().filter_map(|g| g.get("change").and_then(change)).collect::<Vec<_>>().join("; "));
    }
    if let (Some(n), Some(of)) = (d.get("approvals").and_then(Value::as_u64), d.get("approvals_required").and_then(Value::as_u64)) {
        parts.push(format!("approval {n} of {of}"));
    }
    if let Some(m) = d.get("duration_minutes").and_then(Value::as_i64) {
        parts.push(format!("for {}", format::minutes(m)));
    }
    for key in ["justification", "reason"] {
        if let Some(r) = d.get(key).and_then(Value::as_str) {
            parts.push(format!("reason: {r}"));
        }
    }
    if let Some(t) = d.get("restored_to").and_then(level) {
        parts.push(format!("restored to {t}"));
    }
    if let Some(err) = d.get("error").and_then(Value::as_str) {
        parts.push(format!("error: {err}"));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" · ")
}

/// An access level as recorded (`{"kind": "org", "level": "member"}`, or a plain word).
fn level(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => match o.get("level") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) => Some("no access".into()),
            _ => None,
        },
        _ => None,
    }
}

/// The domain's changes name the project `project`; the wire type names it `project_id`.
fn project_field(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut()
        && let Some(p) = o.remove("project")
    {
        o.insert("project_id".into(), p);
    }
    v
}

#[component]
fn Entries(entries: Vec<AuditEntryDto>, projects: Vec<ProjectDto>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty">"No audit entries match these filters."</p> }.into_any();
    }
    view! {
        <div class="scroll">
            <table>
                <caption>"Audit entries"</caption>
                <thead>
                    <tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Person"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {entries
                        .into_iter()
                        .map(|e| {
                            let details = summary(&e, &projects);
                            view! {
                                <tr>
                                    <td>{e.seq}</td>
                                    <td>{format::when(e.at)}</td>
                                    <td>{e.actor.clone()}</td>
                                    <td>{format::title(&e.kind)}</td>
                                    <td>{e.subject.clone().unwrap_or_default()}</td>
                                    <td>{details}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
