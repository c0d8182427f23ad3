//! One request's page (`#/requests/{id}`), where notifications link: what was asked,
//! by whom and why, its status and decisions, the changes applied in PostHog, and the
//! roles guide's security checklist, with the record as Markdown for download.
//! A pending request shows the approver's actions (from the inbox card).

use hogwarden_api_types::{ChecklistDto, GrantDto, ProjectDto, RequestDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, FlashMessage, Loading, Problem, use_ctx};
use crate::format;
use crate::pages::inbox::RequestCard;

/// The request id in `#/requests/{id}`.
pub fn id_from_hash(hash: &str) -> Option<String> {
    let rest = hash.trim_start_matches('#').trim_start_matches('/').strip_prefix("requests/")?;
    let id = rest.split(['?', '/']).next().unwrap_or("");
    (!id.is_empty()).then(|| id.to_owned())
}

#[component]
pub fn RequestDetailPage(id: String) -> impl IntoView {
    let ctx = use_ctx();
    let id = StoredValue::new(id);
    let request = Load::new(move || {
        let c = ctx.client();
        async move { c.request(&id.get_value()).await }
    });
    let projects = Load::new(move || {
        let c = ctx.client();
        async move { c.projects().await.map(|p| p.projects).unwrap_or_default() }
    });
    let message = RwSignal::new(None::<Result<String, String>>);
    view! {
        <h1>"Request details"</h1>
        <FlashMessage flash=message />
        {move || match request.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The request could not be loaded. {e}") /> }.into_any(),
            Some(Ok(r)) => {
                let names = projects.get().unwrap_or_default();
                view! { <Detail request=r projects=names message=message reload=move || request.refetch() /> }.into_any()
            }
        }}
    }
}

#[component]
fn Detail(
    request: RequestDto,
    projects: Vec<ProjectDto>,
    message: RwSignal<Option<Result<String, String>>>,
    reload: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let ctx = use_ctx();
    let what = format::changes(&request.changes, &projects);
    let pending = request.status == "pending";
    let approvals = request.approvals.iter().map(|a| format!("{} ({})", a.by, format::when(a.at))).collect::<Vec<_>>();
    let download_error = RwSignal::new(None::<String>);
    let id = StoredValue::new(request.id.clone());
    let download = move |_| {
        download_error.set(None);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.request_markdown(&id.get_value()).await {
                Ok(text) => save_as(&format!("request-{}.md", id.get_value()), &text),
                Err(e) => download_error.set(Some(format!("The record could not be downloaded. {e}"))),
            }
        });
    };
    view! {
        <section aria-labelledby="request-h">
            <h2 id="request-h">{format!("{what} for {}", request.subject)}</h2>
            <p>
                "Status: "
                <span class=format!("status {}", request.status)>{format::status(&request.status)}</span>
            </p>
            {(!pending || !ctx.has_role("approver")).then(|| view! {
                <dl>
                    <dt>"Who"</dt>
                    <dd>{request.requester.clone()}{(request.subject != request.requester).then(|| format!(" (for {})", request.subject))}</dd>
                    <dt>"What"</dt>
                    <dd>{what.clone()}</dd>
                    <dt>"Why"</dt>
                    <dd>{request.reason.clone()}</dd>
                    <dt>"How long"</dt>
                    <dd>{format::lasts(request.duration_minutes, request.ends_at)}</dd>
                    <dt>"Ticket"</dt>
                    <dd>{request.ticket.clone().unwrap_or_else(|| "None".into())}</dd>
                    <dt>"Requested"</dt>
                    <dd>{format::when(request.created_at)}</dd>
                    <dt>"Approvals"</dt>
                    <dd>{if approvals.is_empty() { "None".to_owned() } else { approvals.join(", ") }}</dd>
                    {request.denial.clone().map(|d| view! {
                        <dt>"Denied"</dt>
                        <dd>{format!("by {} on {}: {}", d.by, format::when(d.at), d.reason.unwrap_or_default())}</dd>
                    })}
                    {request.failure.clone().map(|f| view! { <dt>"Failure"</dt><dd>{f}</dd> })}
                </dl>
            })}
            {(pending && ctx.has_role("approver")).then(|| view! {
                <RequestCard request=request.clone() projects=projects.clone() message=message reload=reload />
            })}
        </section>
        {(!request.grants.is_empty()).then(|| view! { <Grants grants=request.grants.clone() projects=projects.clone() /> })}
        {request.checklist.clone().map(|c| view! { <Checklist checklist=c /> })}
        <p>
            <button type="button" on:click=download>"Download as Markdown"</button>
        </p>
        <Problem problem=download_error />
    }
}

#[component]
fn Grants(grants: Vec<GrantDto>, projects: Vec<ProjectDto>) -> impl IntoView {
    view! {
        <table>
            <caption>"Changes applied"</caption>
            <thead>
                <tr>
                    <th scope="col">"Change"</th>
                    <th scope="col">"Before"</th>
                    <th scope="col">"PostHog read back"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Ends"</th>
                </tr>
            </thead>
            <tbody>
                {grants
                    .into_iter()
                    .map(|g| view! {
                        <tr>
                            <td>{format::change(&g.change, &projects)}</td>
                            <td>{format::title(&g.baseline)}</td>
                            <td>{format::title(&g.confirmed)}</td>
                            <td>{format::status(&g.status)}</td>
                            <td>{g.ended_at.or(g.expires_at).map_or_else(|| "Never".to_owned(), format::when)}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// The guide's checklist: each item with whether it holds.
#[component]
fn Checklist(checklist: ChecklistDto) -> impl IntoView {
    let c = checklist;
    let mark = |ok: bool| if ok { "Done: " } else { "Missing: " };
    let approved = if c.approved_by.is_empty() { "nobody yet".to_owned() } else { c.approved_by.join(", ") };
    let least = match c.least_access {
        Some(true) => (true, "PostHog's read-back is exactly the access asked for".to_owned()),
        Some(false) => (false, "PostHog's read-back differs from what was asked for".to_owned()),
        None => (false, "not applied yet".to_owned()),
    };
    let documented = match &c.ticket {
        Some(t) => format!("reason \"{}\", ticket {t}", c.reason),
        None => format!("reason \"{}\", no ticket", c.reason),
    };
    let informed = c.informed_at.map_or((false, "not yet".to_owned()), |at| (true, format!("on {}", format::when(at))));
    let end = match (c.temporary, c.ends_at) {
        (true, Some(at)) => (true, format!("ends {}", format::when(at))),
        (true, None) => (false, "temporary, ends when it is applied plus its duration".to_owned()),
        (false, _) => (true, "permanent: reviewed in the quarterly access review".to_owned()),
    };
    let audit = c.audit_entries.iter().map(|s| format!("#{s}")).collect::<Vec<_>>().join(", ");
    let items = vec![
        (!c.approved_by.is_empty(), format!("Approved by: {approved}")),
        (least.0, format!("Least access: {}", least.1)),
        (!c.reason.is_empty(), format!("Documented: {documented}")),
        (informed.0, format!("Person informed: {}", informed.1)),
        (end.0, format!("Review or end date: {}", end.1)),
        (!c.audit_entries.is_empty(), format!("Audit entries: {audit}")),
    ];
    view! {
        <section aria-labelledby="checklist-h">
            <h2 id="checklist-h">"Security checklist"</h2>
            <ul aria-label="Security checklist" class="checklist">
                {items.into_iter().map(|(ok, text)| view! { <li class=if ok { "ok" } else { "missing" }>{mark(ok)}{text}</li> }).collect_view()}
            </ul>
            <p role="status">{if c.complete { "Checklist complete" } else { "Checklist incomplete" }}</p>
        </section>
    }
}

/// Offers `text` as a file download.
fn save_as(name: &str, text: &str) {
    use wasm_bindgen::JsCast;
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(a) = doc.create_element("a") else { return };
    let _ = a.set_attribute("href", &format!("data:text/markdown;charset=utf-8,{}", crate::pkce::encode(text)));
    let _ = a.set_attribute("download", name);
    if let Ok(a) = a.dyn_into::<web_sys::HtmlElement>() {
        a.click();
    }
}
