//! Request access: organization role Member/Admin, or a project role Viewer/Member/Admin
//! in one or more projects; temporary for a duration, or permanent; with a reason and
//! a ticket. The form shows the policy for the chosen role and refuses what the API
//! would refuse before sending.

use hogwarden_api_types::{PolicyDto, ProjectDto, RequestDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Loading, Route, use_ctx};
use crate::format;
use crate::validate::{self, Draft, Ends, Kind, Unit};

#[component]
pub fn RequestPage() -> impl IntoView {
    let ctx = use_ctx();
    let policy = Load::new(move || {
        let c = ctx.client();
        async move { c.policy().await }
    });
    let projects = Load::new(move || {
        let c = ctx.client();
        async move { c.projects().await.map(|p| p.projects) }
    });
    view! {
        <h1>"Request access"</h1>
        <p class="lead">"Ask for an organization role or a project role in PostHog. Temporary access ends by itself."</p>
        {move || match policy.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The policy could not be loaded, so the form cannot check your request. {e}") /> }.into_any(),
            Some(Ok(p)) => view! { <RequestForm policy=p projects=projects /> }.into_any(),
        }}
    }
}

#[component]
fn RequestForm(policy: PolicyDto, projects: Load<Result<Vec<ProjectDto>, crate::api::ApiError>>) -> impl IntoView {
    let ctx = use_ctx();
    let policy = StoredValue::new(policy);
    let subject = RwSignal::new(String::new());
    let kind = RwSignal::new(Kind::Org);
    let role = RwSignal::new("member".to_owned());
    let chosen = RwSignal::new(Vec::<i64>::new());
    let temporary = RwSignal::new(true);
    let ends = RwSignal::new(Ends::After);
    let duration = RwSignal::new("1".to_owned());
    let unit = RwSignal::new(Unit::Hours);
    let end_date = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let ticket = RwSignal::new(String::new());
    let problems = RwSignal::new(Vec::<String>::new());
    let outcome = RwSignal::new(None::<Result<RequestDto, String>>);
    let busy = RwSignal::new(false);

    let facts = move || {
        let (k, r) = (kind.get(), role.get());
        policy.with_value(|p| {
            let cap = validate::max_minutes(p, k, &r);
            let approval = validate::needs_approval(p, k, &r);
            let cap = match k {
                Kind::Removal => Some("Permanent: a removal does not end by itself".to_owned()),
                _ => cap.map(|m| format!("Longest allowed: {}", format::minutes(m))),
            };
            let approval = approval.map(|needed| {
                if needed {
                    let n = p.approvals_required.max(1);
                    format!("Needs approval by {n} approver{}", if n == 1 { "" } else { "s" })
                } else {
                    "No approval needed: applied at once".to_owned()
                }
            });
            (cap, approval, p.pending_ttl_minutes)
        })
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        outcome.set(None);
        let draft = Draft {
            subject: subject.get_untracked(),
            kind: kind.get_untracked(),
            role: role.get_untracked(),
            projects: chosen.get_untracked(),
            temporary: temporary.get_untracked(),
            ends: ends.get_untracked(),
            duration: duration.get_untracked(),
            unit: unit.get_untracked(),
            end_date: end_date.get_untracked(),
            reason: reason.get_untracked(),
            ticket: ticket.get_untracked(),
        };
        let body = match policy.with_value(|p| validate::build(&draft, p, chrono::Utc::now())) {
            Ok(b) => b,
            Err(list) => {
                problems.set(list);
                return;
            }
        };
        problems.set(Vec::new());
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let r = c.create_request(&body).await.map_err(|e| e.to_string());
            if r.is_ok() {
                reason.set(String::new());
                ticket.set(String::new());
            }
            outcome.set(Some(r));
            busy.set(false);
        });
    };

    view! {
        <form aria-label="Access request" on:submit=submit novalidate>
            <div class="field">
                <label for="subject">"For"</label>
                <input
                    id="subject"
                    type="email"
                    autocomplete="off"
                    aria-describedby="subject-hint"
                    prop:value=move || subject.get()
                    on:input=move |ev| subject.set(event_target_value(&ev))
                />
                <p id="subject-hint" class="hint">
                    "Leave empty to ask for yourself. To sponsor a contractor or a teammate, enter their PostHog email: they and you are told when it starts and before it ends."
                </p>
            </div>

            <div class="field">
                <label for="kind">"Kind of change"</label>
                <select
                    id="kind"
                    on:change=move |ev| {
                        let k = Kind::parse(&event_target_value(&ev));
                        kind.set(k);
                        if k == Kind::Removal {
                            // A removal is permanent.
                            temporary.set(false);
                        } else if !k.roles().contains(&role.get_untracked().as_str()) {
                            role.set("member".into());
                        }
                    }
                >
                    <option value="org" selected=move || kind.get() == Kind::Org>"Organization role"</option>
                    <option value="project" selected=move || kind.get() == Kind::Project>"Project role"</option>
                    <option value="removal" selected=move || kind.get() == Kind::Removal>"Remove from project"</option>
                </select>
            </div>

            <Show when=move || kind.get() != Kind::Removal>
            <div class="field">
                <label for="role">"Role"</label>
                <select id="role" aria-describedby="owner-note" on:change=move |ev| role.set(event_target_value(&ev))>
                    {move || {
                        kind.get()
                            .roles()
                            .iter()
                            .map(|r| {
                                let r = *r;
                                view! {
                                    <option value=r selected=move || role.get() == r>
                                        {format::title(r)}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
                <p id="owner-note" class="hint">{validate::OWNER_NOTE}</p>
            </div>
            </Show>

            <Show when=move || kind.get().needs_projects()>
                <fieldset class="projects">
                    <legend>"Projects"</legend>
                    {move || match projects.get() {
                        None => view! { <Loading /> }.into_any(),
                        Some(Err(e)) => view! { <Alert message=format!("The projects could not be loaded from PostHog. {e}") /> }.into_any(),
                        Some(Ok(list)) if list.is_empty() => view! { <p>"The organization has no projects."</p> }.into_any(),
                        Some(Ok(list)) => list
                            .into_iter()
                            .map(|p| {
                                let id = p.id;
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            prop:checked=move || chosen.with(|c| c.contains(&id))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                chosen.update(|c| {
                                                    c.retain(|x| *x != id);
                                                    if on {
                                                        c.push(id);
                                                    }
                                                });
                                            }
                                        />
                                        {p.name}
                                    </label>
                                }
                            })
                            .collect_view()
                            .into_any(),
                    }}
                </fieldset>
            </Show>

            <Show when=move || kind.get() != Kind::Removal fallback=|| view! { <p class="hint">"A removal is permanent: you keep the organization and your other projects."</p> }>
            <div class="field">
                <label class="check">
                    <input type="checkbox" id="temporary" prop:checked=move || temporary.get() on:change=move |ev| temporary.set(event_target_checked(&ev)) />
                    "Temporary access"
                </label>
            </div>
            </Show>

            <Show when=move || temporary.get() && kind.get() != Kind::Removal>
                <div class="field">
                    <label for="ends">"Access ends"</label>
                    <select id="ends" on:change=move |ev| ends.set(Ends::parse(&event_target_value(&ev)))>
                        <option value="after" selected=move || ends.get() == Ends::After>"After a duration"</option>
                        <option value="date" selected=move || ends.get() == Ends::OnDate>"On a date"</option>
                    </select>
                </div>
            </Show>

            <Show when=move || temporary.get() && kind.get() != Kind::Removal && ends.get() == Ends::OnDate>
                <div class="field">
                    <label for="end-date">"End date"</label>
                    <input
                        id="end-date"
                        type="date"
                        aria-describedby="end-date-hint"
                        prop:value=move || end_date.get()
                        on:input=move |ev| end_date.set(event_target_value(&ev))
                    />
                    <p id="end-date-hint" class="hint">"Access ends at 23:59 UTC on this day. Hogwarden reminds the person and you before it ends, and removes it by itself."</p>
                </div>
            </Show>

            <Show when=move || temporary.get() && kind.get() != Kind::Removal && ends.get() == Ends::After>
                <div class="field inline">
                    <label for="duration">"Duration"</label>
                    <input
                        id="duration"
                        type="number"
                        min="1"
                        step="1"
                        inputmode="numeric"
                        prop:value=move || duration.get()
                        on:input=move |ev| duration.set(event_target_value(&ev))
                    />
                    <label for="unit">"Duration unit"</label>
                    <select id="unit" on:change=move |ev| unit.set(Unit::parse(&event_target_value(&ev)))>
                        {[Unit::Minutes, Unit::Hours, Unit::Days]
                            .into_iter()
                            .map(|u| view! { <option value=u.as_str() selected=move || unit.get() == u>{format::title(u.as_str())}</option> })
                            .collect_view()}
                    </select>
                </div>
            </Show>

            <div role="status" aria-label="Policy for this change" class="policy">
                {move || {
                    let (cap, approval, ttl) = facts();
                    view! {
                        <p>{cap}</p>
                        <p>{approval}</p>
                        <p class="hint">{format!("An unanswered request expires after {}.", format::minutes(ttl))}</p>
                    }
                }}
            </div>

            <div class="field">
                <label for="reason">"Reason"</label>
                <textarea
                    id="reason"
                    rows="3"
                    required
                    maxlength="1000"
                    aria-describedby="reason-hint"
                    prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))
                ></textarea>
                <p id="reason-hint" class="hint">"Why you need this access; approvers and the audit log see it. 5 to 1000 characters."</p>
            </div>

            <div class="field">
                <label for="ticket">"Ticket"</label>
                <input
                    id="ticket"
                    type="text"
                    maxlength="200"
                    aria-describedby="ticket-hint"
                    prop:value=move || ticket.get()
                    on:input=move |ev| ticket.set(event_target_value(&ev))
                />
                <p id="ticket-hint" class="hint">"Optional: an issue or incident reference such as OPS-123."</p>
            </div>

            {move || {
                let list = problems.get();
                (!list.is_empty())
                    .then(|| {
                        view! {
                            <div role="alert" class="error">
                                <p>"The request was not sent:"</p>
                                <ul>{list.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                            </div>
                        }
                    })
            }}

            <button type="submit" disabled=move || busy.get()>"Submit request"</button>

            {move || match outcome.get() {
                None => None,
                Some(Err(e)) => Some(view! { <Alert message=format!("The request was not accepted. {e}") /> }.into_any()),
                Some(Ok(r)) => {
                    let text = match r.status.as_str() {
                        "pending" => "Request submitted: waiting for approval.".to_owned(),
                        "applied" => "Request submitted and applied.".to_owned(),
                        other => format!("Request submitted; it is {}.", format::status(other).to_lowercase()),
                    };
                    Some(
                        view! {
                            <div role="status" class="ok">
                                <p>{text}</p>
                                <p><a href=Route::MyAccess.href()>"See it in My access"</a></p>
                                <p><a href=format!("#/requests/{}", r.id)>"Open the request"</a></p>
                            </div>
                        }
                        .into_any(),
                    )
                }
            }}
        </form>
    }
}
