//! Access overview (admins): every organization member against every project, with
//! the organization level and project roles as PostHog reports them, and Hogwarden's
//! temporary grants marked with their end.

use hogwarden_api_types::{AccessOverviewDto, TemporaryDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Loading, use_ctx};
use crate::format;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") {
        return view! {
            <h1>"Access overview"</h1>
            <p class="empty">"Only admins can see the access overview."</p>
        }
        .into_any();
    }
    let data = Load::new(move || {
        let c = ctx.client();
        async move { c.access().await }
    });
    view! {
        <h1>"Access overview"</h1>
        {move || match data.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The overview could not be loaded. {e}") /> }.into_any(),
            Some(Ok(o)) => view! { <OverviewTable overview=o /> }.into_any(),
        }}
    }
    .into_any()
}

fn cell(role: &str, grant: Option<&TemporaryDto>, now: chrono::DateTime<chrono::Utc>) -> impl IntoView + use<> {
    let role = format::title(role);
    let temp = grant.map(|g| {
        let left = format::time_left(format::seconds_until(g.expires_at, now));
        view! { <br /><small class="temporary">{format!("temporary, ends {} ({left})", format::when(g.expires_at))}</small> }
    });
    view! { <span>{role}</span>{temp} }
}

#[component]
fn OverviewTable(overview: AccessOverviewDto) -> impl IntoView {
    let now = chrono::Utc::now();
    let projects = overview.projects.clone();
    view! {
        <p>{format!("Read from PostHog at {}.", format::when(overview.generated_at))}</p>
        {if overview.members.is_empty() {
            view! { <p class="empty">"The organization has no members."</p> }.into_any()
        } else {
            view! {
                <div class="scroll">
                    <table>
                        <caption>"Members and their access"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Member"</th>
                                <th scope="col">"Organization level"</th>
                                {projects.iter().map(|p| view! { <th scope="col">{p.name.clone()}</th> }).collect_view()}
                            </tr>
                        </thead>
                        <tbody>
                            {overview
                                .members
                                .into_iter()
                                .map(|m| {
                                    let cols = projects
                                        .iter()
                                        .map(|p| {
                                            match m.projects.iter().find(|a| a.project_id == p.id) {
                                                Some(a) => view! { <td>{cell(&a.role, a.grant.as_ref(), now)}</td> }.into_any(),
                                                None => view! { <td><span title="no explicit role">"—"</span></td> }.into_any(),
                                            }
                                        })
                                        .collect_view();
                                    view! {
                                        <tr>
                                            <th scope="row">{m.email.clone()}<br /><small>{m.name.clone()}</small></th>
                                            <td>{cell(&m.org_level, m.org_grant.as_ref(), now)}</td>
                                            {cols}
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
}
