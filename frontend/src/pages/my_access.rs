//! My access: my active grants with the time they have left and a "Revoke now" button,
//! and every request I made with its status.

use hogwarden_api_types::{GrantDto, ProjectDto, RequestDto};
use leptos::prelude::*;

use crate::app::{Alert, Loading, use_ctx};
use crate::format;

#[component]
pub fn MyAccessPage() -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.email();
    let grants = LocalResource::new(move || {
        let c = ctx.client();
        let me = me.clone();
        // Approvers get everyone's grants from the API; this page is about mine.
        async move { c.grants().await.map(|g| g.grants.into_iter().filter(|g| g.subject == me).collect::<Vec<_>>()) }
    });
    let requests = LocalResource::new(move || {
        let c = ctx.client();
        async move { c.my_requests().await.map(|r| r.requests) }
    });
    let projects = LocalResource::new(move || {
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

    view! {
        <h1>"My access"</h1>
        {move || match message.get() {
            None => None,
            Some(Ok(m)) => Some(view! { <p role="status" class="ok">{m}</p> }.into_any()),
            Some(Err(m)) => Some(view! { <Alert message=m /> }.into_any()),
        }}
        <section aria-labelledby="grants-h">
            <h2 id="grants-h">"Active grants"</h2>
            {move || match grants.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(e)) => view! { <Alert message=format!("Your grants could not be loaded. {e}") /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"You have no active grants."</p> }.into_any(),
                Some(Ok(list)) => view! { <GrantTable grants=list projects=names() busy=busy revoke=revoke /> }.into_any(),
            }}
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
                        let grant = g.clone();
                        view! {
                            <tr>
                                <td>{what}</td>
                                <td>{format::title(&g.baseline)}</td>
                                <td>{format::title(&g.confirmed)}</td>
                                <td>{format::when(g.applied_at)}</td>
                                <td>{g.expires_at.map_or_else(|| "Never".to_owned(), format::when)}</td>
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
                                <td>{format::changes(&r.changes, &projects)}</td>
                                <td>{format::duration(r.duration_minutes)}</td>
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
