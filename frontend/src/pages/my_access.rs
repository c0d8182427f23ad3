//! My access: my active grants with the time they have left, "Revoke now" and, for
//! temporary ones, "Extend" (a new end and a reason, approved like any request); and
//! every request I made with its status and a link to its page.

use hogwarden_api_types::{ExtendBody, GrantDto, ProjectDto, RequestDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, FlashMessage, Loading, Problem, use_ctx};
use crate::format;
use crate::pages::{local_to_utc, utc_to_local};
use crate::validate::{REASON_MAX, REASON_MIN};

#[component]
pub fn MyAccessPage() -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.email();
    let grants = Load::new(move || {
        let c = ctx.client();
        let me = me.clone();
        // Approvers get everyone's grants from the API; this page is about mine.
        async move { c.grants().await.map(|g| g.grants.into_iter().filter(|g| g.subject == me).collect::<Vec<_>>()) }
    });
    let requests = Load::new(move || {
        let c = ctx.client();
        async move { c.my_requests().await.map(|r| r.requests) }
    });
    let projects = Load::new(move || {
        let c = ctx.client();
        // Names only; without them projects show as "project 42".
        async move { c.projects().await.map(|p| p.projects).unwrap_or_default() }
    });
    let names = move || projects.get().unwrap_or_default();
    let message = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(None::<String>);

    let revoke = move |g: GrantDto| {
        busy.set(Some(g.id.clone()));
        message.set(None);
        let c = ctx.client();
        let what = format::change(&g.change, &names());
        leptos::task::spawn_local(async move {
            let r = match c.revoke(&g.id).await {
                Ok(done) if done.status == "conflict" => Err(format!(
                    "{what} was changed in PostHog by hand after it was granted, so Hogwarden left it alone. Ask an admin to check it."
                )),
                Ok(done) => Ok(format!("Revoked: {what} is back to {}.", done.baseline)),
                Err(e) => Err(format!("Could not revoke {what}. {e}")),
            };
            message.set(Some(r));
            busy.set(None);
            grants.refetch();
            requests.refetch();
        });
    };

    let extending = RwSignal::new(None::<GrantDto>);
    let extend = move |g: GrantDto| {
        message.set(None);
        extending.set(Some(g));
    };
    let extended = move |r: Result<String, String>| {
        let ok = r.is_ok();
        message.set(Some(r));
        if ok {
            extending.set(None);
            grants.refetch();
            requests.refetch();
        }
    };

    view! {
        <h1>"My access"</h1>
        <FlashMessage flash=message />
        <section aria-labelledby="grants-h">
            <h2 id="grants-h">"Active grants"</h2>
            {move || match grants.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(e)) => view! { <Alert message=format!("Your grants could not be loaded. {e}") /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"You have no active grants."</p> }.into_any(),
                Some(Ok(list)) => view! { <GrantTable grants=list projects=names() busy=busy revoke=revoke extend=extend /> }.into_any(),
            }}
            {move || extending.get().map(|g| view! { <ExtendForm grant=g projects=names() done=extended cancel=move || extending.set(None) /> })}
        </section>
        <section aria-labelledby="requests-h">
            <h2 id="requests-h">"My requests"</h2>
            {move || match requests.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(e)) => view! { <Alert message=format!("Your requests could not be loaded. {e}") /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"You have not requested anything yet."</p> }.into_any(),
                Some(Ok(list)) => view! { <RequestTable requests=list projects=names() /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn GrantTable(
    grants: Vec<GrantDto>,
    projects: Vec<ProjectDto>,
    busy: RwSignal<Option<String>>,
    revoke: impl Fn(GrantDto) + Copy + 'static,
    extend: impl Fn(GrantDto) + Copy + 'static,
) -> impl IntoView {
    let ctx = use_ctx();
    view! {
        <table>
            <caption>"My active grants"</caption>
            <thead>
                <tr>
                    <th scope="col">"Change"</th>
                    <th scope="col">"Before"</th>
                    <th scope="col">"Now"</th>
                    <th scope="col">"Applied"</th>
                    <th scope="col">"Ends"</th>
                    <th scope="col">"Time left"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {grants
                    .into_iter()
                    .map(|g| {
                        let id = g.id.clone();
                        let expires = g.expires_at;
                        // The tick makes this count down; the time itself is read fresh, so a
                        // grant applied a moment ago never shows more than its duration.
                        let left = move || match expires {
                            Some(at) => {
                                ctx.now.track();
                                format::time_left(format::seconds_until(at, chrono::Utc::now()))
                            }
                            None => "Permanent".to_owned(),
                        };
                        let what = format::change(&g.change, &projects);
                        let label = format!("Revoke {what} now");
                        let extend_label = format!("Extend {what}");
                        let grant = g.clone();
                        let to_extend = g.clone();
                        let first_end = g.extensions.first().map(|e| e.original_expiration);
                        view! {
                            <tr>
                                <td>{what}</td>
                                <td>{format::title(&g.baseline)}</td>
                                <td>{format::title(&g.confirmed)}</td>
                                <td>{format::when(g.applied_at)}</td>
                                <td>
                                    {g.expires_at.map_or_else(|| "Never".to_owned(), format::when)}
                                    {first_end.map(|at| view! { <br /><small>{format!("extended; first set to end {}", format::when(at))}</small> })}
                                </td>
                                <td>{left}</td>
                                <td>
                                    <button
                                        type="button"
                                        title=label
                                        disabled=move || busy.get().is_some_and(|b| b == id)
                                        on:click=move |_| revoke(grant.clone())
                                    >
                                        "Revoke now"
                                    </button>
                                    {g.expires_at.is_some().then(|| view! {
                                        <button type="button" title=extend_label on:click=move |_| extend(to_extend.clone())>
                                            "Extend"
                                        </button>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn RequestTable(requests: Vec<RequestDto>, projects: Vec<ProjectDto>) -> impl IntoView {
    view! {
        <table>
            <caption>"My requests"</caption>
            <thead>
                <tr>
                    <th scope="col">"Requested"</th>
                    <th scope="col">"Change"</th>
                    <th scope="col">"Duration"</th>
                    <th scope="col">"Reason"</th>
                    <th scope="col">"Status"</th>
                </tr>
            </thead>
            <tbody>
                {requests
                    .into_iter()
                    .map(|r| {
                        let detail = match (&r.denial, &r.failure) {
                            (Some(d), _) => Some(format!("Denied by {}: {}", d.by, d.reason.clone().unwrap_or_default())),
                            (None, Some(f)) => Some(f.clone()),
                            _ => None,
                        };
                        view! {
                            <tr>
                                <td>{format::when(r.created_at)}</td>
                                <td><a href=format!("#/requests/{}", r.id)>{format::changes(&r.changes, &projects)}</a></td>
                                <td>{format::lasts(r.duration_minutes, r.ends_at)}</td>
                                <td>{r.reason.clone()}</td>
                                <td>
                                    <span class=format!("status {}", r.status)>{format::status(&r.status)}</span>
                                    {detail.map(|d| view! { <br /><small>{d}</small> })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Asks for a later end of one temporary grant: the new end (local time) and why.
#[component]
fn ExtendForm(
    grant: GrantDto,
    projects: Vec<ProjectDto>,
    done: impl Fn(Result<String, String>) + Copy + 'static,
    cancel: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let ctx = use_ctx();
    let what = format::change(&grant.change, &projects);
    let current = grant.expires_at;
    let until = RwSignal::new(current.map(|at| utc_to_local(at + chrono::Duration::days(1))).unwrap_or_default());
    let reason = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let id = StoredValue::new(grant.id.clone());
    let label = StoredValue::new(what.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        let text = reason.get_untracked().trim().to_owned();
        let n = text.chars().count();
        let at = local_to_utc(&until.get_untracked()).and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok()).map(|t| t.to_utc());
        let Some(at) = at else {
            problem.set(Some("Enter the new end as a date and time.".into()));
            return;
        };
        if current.is_some_and(|c| at <= c) {
            problem.set(Some(format!("The new end must be after the current end, {}.", current.map(format::when).unwrap_or_default())));
            return;
        }
        if !(REASON_MIN..=REASON_MAX).contains(&n) {
            problem.set(Some(format!("Say why the access is still needed, in {REASON_MIN} to {REASON_MAX} characters.")));
            return;
        }
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let what = label.get_value();
            let r = match c.extend(&id.get_value(), &ExtendBody { until: at, reason: text }).await {
                Ok(req) if req.status == "pending" => {
                    Ok(format!("Extension requested: {what} until {} is waiting for approval.", format::when(at)))
                }
                Ok(req) if req.status == "applied" => Ok(format!("Extended: {what} now ends {}.", format::when(at))),
                Ok(req) => Ok(format!("Extension {}: {what}.", format::status(&req.status).to_lowercase())),
                Err(e) => Err(format!("Could not extend {what}. {e}")),
            };
            busy.set(false);
            done(r);
        });
    };
    view! {
        <form aria-label="Extend access" class="extend" on:submit=submit novalidate>
            <h3>{format!("Extend {what}")}</h3>
            <p class="hint">
                {format!("It ends {} now. An extension is approved like a request; the audit log keeps the original end, the new one and your reason.",
                    current.map(format::when).unwrap_or_default())}
            </p>
            <div class="field">
                <label for="extend-until">"New end"</label>
                <input id="extend-until" type="datetime-local" prop:value=move || until.get() on:input=move |ev| until.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="extend-reason">"Reason for extending"</label>
                <textarea id="extend-reason" rows="2" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            </div>
            <Problem problem=problem />
            <button type="submit" class="primary" disabled=move || busy.get()>"Request extension"</button>
            <button type="button" on:click=move |_| cancel()>"Cancel"</button>
        </form>
    }
}
