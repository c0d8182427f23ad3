//! Offboarding a departing member: pick the member and the new owner, see what they
//! created and the warnings, submit one request, then watch each step (approvers
//! approve it from the list below; a paused one can be resumed).

use hogwarden_api_types::{CreateOffboarding, OffboardPreviewBody, OffboardPreviewDto, OffboardingDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Done, Loading, Problem, use_ctx};
use crate::validate::REASON_MIN;

#[component]
pub fn OffboardingPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("approver") {
        return view! {
            <h1>"Offboarding"</h1>
            <p class="empty">"Only approvers and admins offboard people."</p>
        }
        .into_any();
    }
    let email = RwSignal::new(String::new());
    let owner = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<OffboardPreviewDto>);
    let problem = RwSignal::new(None::<String>);
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let list = Load::new(move || {
        let c = ctx.client();
        async move { c.offboardings().await.map(|l| l.offboardings) }
    });

    let do_preview = move || {
        problem.set(None);
        preview.set(None);
        busy.set(true);
        let c = ctx.client();
        let body =
            OffboardPreviewBody { email: email.get_untracked().trim().to_owned(), new_owner: owner.get_untracked().trim().to_owned() };
        leptos::task::spawn_local(async move {
            match c.offboard_preview(&body).await {
                Ok(p) => preview.set(Some(p)),
                Err(e) => problem.set(Some(format!("The preview could not be made. {e}"))),
            }
            busy.set(false);
        });
    };
    let submit = move || {
        problem.set(None);
        let why = reason.get_untracked().trim().to_owned();
        if why.chars().count() < REASON_MIN {
            problem.set(Some(format!("Say why, in {REASON_MIN} characters or more.")));
            return;
        }
        busy.set(true);
        let c = ctx.client();
        let body = CreateOffboarding {
            email: email.get_untracked().trim().to_owned(),
            new_owner: owner.get_untracked().trim().to_owned(),
            reason: why,
            ticket: None,
        };
        leptos::task::spawn_local(async move {
            match c.offboard_create(&body).await {
                Ok(o) => {
                    message.set(Some(format!("Offboarding of {} submitted: it waits for approval.", o.email)));
                    preview.set(None);
                    list.refetch();
                }
                Err(e) => problem.set(Some(format!("The offboarding could not be submitted. {e}"))),
            }
            busy.set(false);
        });
    };

    view! {
        <h1>"Offboarding"</h1>
        <Done message=message />
        <form aria-label="Offboarding request" on:submit=move |ev| { ev.prevent_default(); do_preview(); }>
            <div class="field">
                <label for="off-email">"Departing member"</label>
                <input id="off-email" type="email" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="off-owner">"New owner"</label>
                <input id="off-owner" type="email" prop:value=move || owner.get() on:input=move |ev| owner.set(event_target_value(&ev)) />
            </div>
            <button type="submit" disabled=move || busy.get()>"Preview"</button>
        </form>
        <Problem problem=problem />
        {move || preview.get().map(|p| view! {
            <section aria-label="Preview">
                <h2>{format!("What {} created", p.email)}</h2>
                <table>
                    <caption>"Objects to hand over"</caption>
                    <thead><tr><th scope="col">"Kind"</th><th scope="col">"Name"</th><th scope="col">"Project"</th><th scope="col">"Private"</th></tr></thead>
                    <tbody>
                        {p.objects.iter().map(|o| view! {
                            <tr><td>{o.kind.replace('_', " ")}</td><td>{o.name.clone()}</td><td>{o.project_id}</td><td>{if o.private { "yes" } else { "" }}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <ul aria-label="Warnings" class="warnings">
                    {p.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}
                </ul>
                <ol aria-label="Steps">
                    {p.steps.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}
                </ol>
                <div class="field">
                    <label for="off-reason">"Reason"</label>
                    <textarea id="off-reason" rows="2" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                </div>
                <button type="button" class="primary" disabled=move || busy.get() on:click=move |_| submit()>"Submit offboarding"</button>
            </section>
        })}
        <h2>"Offboardings"</h2>
        {move || match list.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The offboardings could not be loaded. {e}") /> }.into_any(),
            Some(Ok(items)) if items.is_empty() => view! { <p class="empty">"No offboardings yet."</p> }.into_any(),
            Some(Ok(items)) => items.into_iter().map(|o| view! { <OffboardingCard record=o reload=move || list.refetch() /> }).collect_view().into_any(),
        }}
    }
    .into_any()
}

#[component]
fn OffboardingCard(record: OffboardingDto, reload: impl Fn() + Copy + 'static) -> impl IntoView {
    let ctx = use_ctx();
    let problem = RwSignal::new(None::<String>);
    let id = StoredValue::new(record.id.clone());
    let act = move |action: &'static str| {
        problem.set(None);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            if let Err(e) = c.offboard_act(&id.get_value(), action).await {
                problem.set(Some(format!("Could not {action} it. {e}")));
            }
            reload();
        });
    };
    let heading = format!("Offboarding of {}", record.email);
    let actions = match record.status.as_str() {
        "pending" if record.can_decide => {
            Some(view! { <button type="button" class="primary" on:click=move |_| act("approve")>"Approve offboarding"</button> }.into_any())
        }
        "approved" => Some(view! { <button type="button" on:click=move |_| act("resume")>"Resume"</button> }.into_any()),
        _ => None,
    };
    let label = heading.clone();
    view! {
        <article aria-label=label>
            <h3>{heading}</h3>
            <p>{format!("Status: {}. Objects go to {}. Asked by {}: {}", record.status, record.new_owner, record.requester, record.reason)}</p>
            {record.failure.clone().map(|f| view! { <Alert message=f /> })}
            <table>
                <caption>"Steps"</caption>
                <thead><tr><th scope="col">"Step"</th><th scope="col">"Status"</th><th scope="col">"PostHog shows"</th></tr></thead>
                <tbody>
                    {record.steps.iter().map(|s| view! {
                        <tr><td>{s.description.clone()}</td><td>{s.status.clone()}</td><td>{s.read_back.clone().unwrap_or_default()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            {actions}
            <Problem problem=problem />
        </article>
    }
}
