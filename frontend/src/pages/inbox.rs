//! The approver inbox: pending requests with who, what, why and for how long. Approve,
//! or deny with a reason. One's own requests are shown, marked, and cannot be approved.

use hogwarden_api_types::{ProjectDto, RequestDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, FlashMessage, Loading, Problem, use_ctx};
use crate::format;
use crate::validate::REASON_MIN;

#[component]
pub fn InboxPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("approver") {
        return view! {
            <h1>"Inbox"</h1>
            <p class="empty">"Only approvers have an inbox."</p>
        }
        .into_any();
    }
    let inbox = Load::new(move || {
        let c = ctx.client();
        async move { c.inbox().await.map(|r| r.requests) }
    });
    let projects = Load::new(move || {
        let c = ctx.client();
        async move { c.projects().await.map(|p| p.projects).unwrap_or_default() }
    });
    let message = RwSignal::new(None::<Result<String, String>>);
    view! {
        <h1>"Inbox"</h1>
        <FlashMessage flash=message />
        {move || match inbox.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The inbox could not be loaded. {e}") /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No requests are waiting for you."</p> }.into_any(),
            Some(Ok(list)) => {
                let names = projects.get().unwrap_or_default();
                list.into_iter()
                    .map(|r| view! { <RequestCard request=r projects=names.clone() message=message reload=move || inbox.refetch() /> })
                    .collect_view()
                    .into_any()
            }
        }}
    }
    .into_any()
}

#[component]
pub(crate) fn RequestCard(
    request: RequestDto,
    projects: Vec<ProjectDto>,
    message: RwSignal<Option<Result<String, String>>>,
    reload: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let ctx = use_ctx();
    let me = ctx.email();
    let mine = request.requester == me || request.subject == me;
    // A request without changes of its own holds a bulk change set.
    let bulk = request.changes.is_empty();
    let what = if bulk { "A bulk change set".to_owned() } else { format::changes(&request.changes, &projects) };
    let heading = format!("{what} for {}", request.subject);
    let deny_reason = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let id = StoredValue::new(request.id.clone());
    let label = StoredValue::new(what.clone());
    let subject = StoredValue::new(request.subject.clone());
    let reason_id = format!("deny-{}", request.id);

    let decide = move |approve: bool| {
        problem.set(None);
        let reason = deny_reason.get_untracked().trim().to_owned();
        if !approve && reason.chars().count() < REASON_MIN {
            problem.set(Some(format!("Say why you deny it, in {REASON_MIN} characters or more.")));
            return;
        }
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let (what, who) = (label.get_value(), subject.get_value());
            let r = if approve { c.approve(&id.get_value()).await } else { c.deny(&id.get_value(), reason).await };
            message.set(Some(match r {
                Ok(done) if approve => Ok(match done.status.as_str() {
                    "applied" => format!("Approved: {what} for {who} is applied in PostHog."),
                    "pending" => format!("Approved: {what} for {who} now waits for another approver."),
                    "failed" => format!("Approved: but PostHog refused {what} for {who}: {}", done.failure.unwrap_or_default()),
                    other => format!("Approved: {what} for {who} is {}.", format::status(other).to_lowercase()),
                }),
                Ok(_) => Ok(format!("Denied: {what} for {who}.")),
                Err(e) => Err(format!("Could not {} {what} for {who}. {e}", if approve { "approve" } else { "deny" })),
            }));
            busy.set(false);
            reload();
        });
    };

    let mut approvals = request.approvals.iter().map(|a| a.by.clone()).collect::<Vec<_>>().join(", ");
    if approvals.is_empty() {
        approvals = "none yet".into();
    }
    let actions = if mine {
        view! {
            <p class="mine"><strong>"Your request"</strong></p>
            <p>"You cannot approve your own request. Another approver has to decide."</p>
        }
        .into_any()
    } else if !request.can_approve {
        view! { <p>"You have already approved this request; it waits for another approver."</p> }.into_any()
    } else {
        view! {
            <div class="actions">
                <button type="button" class="primary" disabled=move || busy.get() on:click=move |_| decide(true)>"Approve"</button>
                <div class="field">
                    <label for=reason_id.clone()>"Reason for denying"</label>
                    <textarea id=reason_id rows="2" prop:value=move || deny_reason.get() on:input=move |ev| deny_reason.set(event_target_value(&ev))></textarea>
                </div>
                <button type="button" disabled=move || busy.get() on:click=move |_| decide(false)>"Deny"</button>
                <Problem problem=problem />
            </div>
        }
        .into_any()
    };

    view! {
        <article class="request" aria-label=format!("Request from {}", request.requester)>
            <h2>{heading}</h2>
            <dl>
                <dt>"Who"</dt>
                <dd>
                    {request.requester.clone()}
                    {(request.subject != request.requester).then(|| format!(" (for {})", request.subject))}
                </dd>
                <dt>"What"</dt>
                <dd>
                    {what}
                    {bulk.then(|| view! { " " <a href=format!("#/bulk/{}", request.id)>"See the change set"</a> })}
                </dd>
                <dt>"Why"</dt>
                <dd>{request.reason.clone()}</dd>
                <dt>"How long"</dt>
                <dd>{format::lasts(request.duration_minutes, request.ends_at)}</dd>
                <dt>"Ticket"</dt>
                <dd>{request.ticket.clone().unwrap_or_else(|| "None".into())}</dd>
                <dt>"Requested"</dt>
                <dd>{format::when(request.created_at)}</dd>
                <dt>"Expires unanswered"</dt>
                <dd>{format::when(request.expires_at)}</dd>
                <dt>"Approvals"</dt>
                <dd>{format!("{approvals} ({} needed)", request.approvals_required)}</dd>
            </dl>
            {actions}
            <p><a href=format!("#/requests/{}", request.id)>"Open the request page"</a></p>
        </article>
    }
}
