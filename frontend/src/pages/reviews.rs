//! Access reviews: the campaigns and a campaign's report (admins), the reviewer's queue
//! with bulk keep / revoke, and the drift report with adopt and revert (admins).

use hogwarden_api_types::{BulkDecideBody, CampaignDetail, DriftFindingDto, ReviewItemDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Flash, FlashMessage, Loading, use_ctx};
use crate::format;
use crate::validate::REASON_MIN;

type Message = Flash;

fn target_text(i: &ReviewItemDto) -> String {
    match &i.project_name {
        Some(p) => format!("Project {p}"),
        None => "Organization".into(),
    }
}

fn suggestion_text(s: &str) -> &'static str {
    match s {
        "no_login_in_90_days" => "No login in 90 days",
        "admin_without_2fa" => "Admin without 2FA",
        "granted_outside_hogwarden" => "Granted outside Hogwarden",
        "contractor_past_end_date" => "Contractor past end date",
        "departed" => "Departed",
        _ => "Other",
    }
}

fn decision_text(i: &ReviewItemDto) -> String {
    match (i.decision.as_deref(), i.skipped) {
        (Some("downgrade"), _) => format!("Downgrade to {}", format::title(i.downgrade_to.as_deref().unwrap_or(""))),
        (Some(d), _) => format::title(d),
        (None, true) => "Skipped".into(),
        (None, false) => "Open".into(),
    }
}

// ---------------------------------------------------------------- campaigns

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") {
        return view! {
            <h1>"Access reviews"</h1>
            <p class="empty">"Only admins can see access reviews."</p>
        }
        .into_any();
    }
    let list = Load::new(move || {
        let c = ctx.client();
        async move { c.campaigns().await.map(|l| l.campaigns) }
    });
    let selected = RwSignal::new(None::<String>);
    let message: Message = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let open = move |_| {
        busy.set(true);
        message.set(None);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.open_campaign().await {
                Ok(d) => {
                    message.set(Some(Ok(format!("Opened: {} with {} items.", d.campaign.title, d.campaign.item_count))));
                    selected.set(Some(d.campaign.id));
                }
                Err(e) => message.set(Some(Err(format!("The review could not be opened. {e}")))),
            }
            busy.set(false);
            list.refetch();
        });
    };
    view! {
        <h1>"Access reviews"</h1>
        <FlashMessage flash=message />
        <p><button type="button" class="primary" disabled=move || busy.get() on:click=open>"Open this quarter's review"</button></p>
        {move || match list.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The reviews could not be loaded. {e}") /> }.into_any(),
            Some(Ok(l)) if l.is_empty() => view! { <p class="empty">"No access review has been opened yet."</p> }.into_any(),
            Some(Ok(l)) => view! {
                <table>
                    <caption>"Campaigns"</caption>
                    <thead><tr><th scope="col">"Campaign"</th><th scope="col">"Status"</th><th scope="col">"Opened"</th><th scope="col">"Due"</th><th scope="col">"Items"</th><th scope="col">"Actions"</th></tr></thead>
                    <tbody>
                        {l.into_iter().map(|c| {
                            let id = c.id.clone();
                            view! {
                                <tr>
                                    <td>{c.title.clone()}</td>
                                    <td>{format::title(&c.status)}</td>
                                    <td>{format::when(c.opened_at)}</td>
                                    <td>{format::when(c.due_at)}</td>
                                    <td>{c.item_count}</td>
                                    <td><button type="button" aria-label=format!("Show report for {}", c.title) on:click=move |_| selected.set(Some(id.clone()))>"Report"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
        {move || selected.get().map(|id| view! { <Report id=id message=message reload=move || list.refetch() /> })}
    }
    .into_any()
}

#[component]
fn Report(id: String, message: Message, reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let ctx = use_ctx();
    let key = StoredValue::new(id);
    let detail = Load::new(move || {
        let c = ctx.client();
        let id = key.get_value();
        async move { c.campaign(&id).await }
    });
    let evidence = Load::new(move || {
        let c = ctx.client();
        let id = key.get_value();
        async move { c.evidence(&id).await }
    });
    let busy = RwSignal::new(false);
    let close = move |_| {
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.close_campaign(&key.get_value()).await {
                Ok(d) => {
                    let n = d.campaign.counts.unwrap_or_default();
                    message.set(Some(Ok(format!("Closed: {} applied in PostHog, {} not applied.", n.applied, n.not_applied))));
                }
                Err(e) => message.set(Some(Err(format!("The review could not be closed. {e}")))),
            }
            busy.set(false);
            detail.refetch();
            evidence.refetch();
            reload();
        });
    };
    view! {
        {move || match detail.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The report could not be loaded. {e}") /> }.into_any(),
            Some(Ok(d)) => report_view(d, busy, close).into_any(),
        }}
        <h2>"Evidence"</h2>
        {move || match evidence.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The evidence could not be loaded. {e}") /> }.into_any(),
            Some(Ok(e)) => {
                let chain = if e.chain.valid {
                    view! { <p role="status">{format!("Chain verified ({} entries)", e.chain.entries)}</p> }.into_any()
                } else {
                    view! { <Alert message=format!("Chain broken at entry {}: {}", e.chain.first_broken_seq.unwrap_or_default(), e.chain.problem.unwrap_or_default()) /> }.into_any()
                };
                view! {
                    {chain}
                    <pre aria-label="Review record (Markdown)">{e.markdown}</pre>
                    <details><summary>"CSV (one row per item)"</summary><pre aria-label="Review items (CSV)">{e.csv}</pre></details>
                }.into_any()
            }
        }}
    }
}

fn report_view(d: CampaignDetail, busy: RwSignal<bool>, close: impl Fn(leptos::ev::MouseEvent) + 'static) -> impl IntoView {
    let c = d.campaign;
    let n = c.counts.unwrap_or_default();
    let s = c.summary;
    let open = c.status == "open";
    view! {
        <section aria-label=format!("Report for {}", c.title)>
            <h2>{c.title.clone()}</h2>
            <dl>
                <dt>"Organization"</dt><dd>{s.organization}</dd>
                <dt>"Total members"</dt><dd>{s.total_members}</dd>
                <dt>"Admins"</dt><dd>{format!("{} ({})", s.admins.len(), s.admins.join(", "))}</dd>
                <dt>"Members"</dt><dd>{s.members.len()}</dd>
                <dt>"Viewers"</dt><dd>{format!("{} ({})", s.viewers.len(), s.viewers.join(", "))}</dd>
                <dt>"Decisions"</dt>
                <dd>{format!("{} open, {} kept, {} revoked, {} downgraded, {} skipped; {} applied in PostHog, {} not applied", n.open, n.kept, n.revoked, n.downgraded, n.skipped, n.applied, n.not_applied)}</dd>
                <dt>"When nobody decides"</dt><dd>{format::title(&c.close_policy)}</dd>
            </dl>
            {open.then(|| view! { <button type="button" disabled=move || busy.get() on:click=close>"Close campaign"</button> })}
            <div class="scroll">
                <table>
                    <caption>"Review items"</caption>
                    <thead><tr><th scope="col">"Person"</th><th scope="col">"Access"</th><th scope="col">"Suggestions"</th><th scope="col">"Reviewer"</th><th scope="col">"Decision"</th><th scope="col">"Reason"</th><th scope="col">"Applied"</th></tr></thead>
                    <tbody>
                        {d.items.into_iter().map(|i| view! {
                            <tr>
                                <th scope="row">{i.person.clone()}</th>
                                <td>{format!("{}: {}", target_text(&i), format::title(&i.access))}</td>
                                <td>{i.suggestions.iter().map(|s| suggestion_text(s)).collect::<Vec<_>>().join(", ")}</td>
                                <td>{i.reviewer.clone().unwrap_or_else(|| "nobody".into())}</td>
                                <td>{decision_text(&i)}</td>
                                <td>{i.reason.clone().unwrap_or_default()}</td>
                                <td>{match (i.remediation.as_deref(), i.applied_at) {
                                    (Some("applied"), Some(at)) => format::when(at),
                                    (Some(status), _) => format::title(status),
                                    (None, _) => "—".into(),
                                }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

// ---------------------------------------------------------------- queue

#[component]
pub fn QueuePage() -> impl IntoView {
    let ctx = use_ctx();
    let queue = Load::new(move || {
        let c = ctx.client();
        async move { c.review_queue().await.map(|q| q.campaigns) }
    });
    let message: Message = RwSignal::new(None);
    view! {
        <h1>"My review queue"</h1>
        <FlashMessage flash=message />
        {move || match queue.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("Your queue could not be loaded. {e}") /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"Nothing waits for your review."</p> }.into_any(),
            Some(Ok(list)) => list.into_iter().map(|d| view! { <QueueCampaign detail=d message=message reload=move || queue.refetch() /> }).collect_view().into_any(),
        }}
    }
}

#[component]
fn QueueCampaign(detail: CampaignDetail, message: Message, reload: impl Fn() + Copy + 'static) -> impl IntoView {
    let ctx = use_ctx();
    let campaign = StoredValue::new(detail.campaign.id.clone());
    let selected = RwSignal::new(Vec::<String>::new());
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let reason_id = format!("reason-{}", detail.campaign.id);
    let decide = move |decision: &'static str| {
        let items = selected.get_untracked();
        if items.is_empty() {
            message.set(Some(Err("Select at least one item first.".into())));
            return;
        }
        let why = reason.get_untracked().trim().to_owned();
        if decision == "revoke" && why.chars().count() < REASON_MIN {
            message.set(Some(Err(format!("Say why you revoke, in {REASON_MIN} characters or more."))));
            return;
        }
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let body = BulkDecideBody { items, decision: decision.into(), reason: (!why.is_empty()).then_some(why) };
            message.set(Some(match c.bulk_decide(&campaign.get_value(), &body).await {
                Ok(r) if r.refused.is_empty() => {
                    let n = r.decided.len();
                    Ok(format!("{} {n} {}.", if decision == "keep" { "Kept" } else { "Revoked" }, if n == 1 { "item" } else { "items" }))
                }
                Ok(r) => Err(format!(
                    "{} decided; refused: {}",
                    r.decided.len(),
                    r.refused.iter().map(|x| format!("{} ({})", x.item, x.message)).collect::<Vec<_>>().join("; ")
                )),
                Err(e) => Err(format!("The decisions could not be recorded. {e}")),
            }));
            selected.set(Vec::new());
            busy.set(false);
            reload();
        });
    };
    let c = detail.campaign;
    view! {
        <section aria-label=c.title.clone()>
            <h2>{format!("{} (due {})", c.title, format::when(c.due_at))}</h2>
            <table>
                <caption>"Items waiting for my review"</caption>
                <thead><tr><th scope="col">"Select"</th><th scope="col">"Person"</th><th scope="col">"Access"</th><th scope="col">"Last login"</th><th scope="col">"2FA"</th><th scope="col">"Suggestions"</th><th scope="col">"If revoked"</th></tr></thead>
                <tbody>
                    {detail.items.into_iter().map(|i| {
                        let removal = (i.target == "organization" && i.access != "owner")
                            .then(|| view! { <RemovalPreview campaign=campaign.get_value() item=i.id.clone() person=i.person.clone() /> });
                        let id = StoredValue::new(i.id.clone());
                        let label = format!("Select {} ({})", i.person, target_text(&i));
                        view! {
                            <tr>
                                <td><input type="checkbox" aria-label=label
                                    prop:checked=move || selected.with(|s| s.contains(&id.get_value()))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        selected.update(|s| {
                                            s.retain(|x| *x != id.get_value());
                                            if on { s.push(id.get_value()); }
                                        });
                                    } /></td>
                                <th scope="row">{i.person.clone()}</th>
                                <td>{format!("{}: {}", target_text(&i), format::title(&i.access))}</td>
                                <td>{i.last_login.map_or_else(|| "never".into(), format::when)}</td>
                                <td>{if i.is_2fa_enabled { "on" } else { "off" }}</td>
                                <td>{i.suggestions.iter().map(|s| suggestion_text(s)).collect::<Vec<_>>().join(", ")}</td>
                                <td>{removal}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <div class="field">
                <label for=reason_id.clone()>"Reason"</label>
                <textarea id=reason_id rows="2" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            </div>
            <button type="button" class="primary" disabled=move || busy.get() on:click=move |_| decide("keep")>"Keep selected"</button>
            <button type="button" disabled=move || busy.get() on:click=move |_| decide("revoke")>"Revoke selected"</button>
        </section>
    }
}

/// Revoking an organization membership removes the person (an offboarding): before
/// deciding, the reviewer can see who receives their objects and the warnings
/// (private insights lost with the person).
#[component]
fn RemovalPreview(campaign: String, item: String, person: String) -> impl IntoView {
    let ctx = use_ctx();
    let shown = RwSignal::new(None::<Result<hogwarden_api_types::OffboardPreviewDto, String>>);
    let (campaign, item) = (StoredValue::new(campaign), StoredValue::new(item));
    let load = move |_| {
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let r = c.removal_preview(&campaign.get_value(), &item.get_value()).await.map_err(|e| e.to_string());
            shown.set(Some(r));
        });
    };
    view! {
        {move || match shown.get() {
            None => view! {
                <button type="button" aria-label=format!("What removing {person} does") on:click=load>"What removal does"</button>
            }.into_any(),
            Some(Err(e)) => view! { <Alert message=e /> }.into_any(),
            Some(Ok(p)) => view! {
                <p>{format!("Leaves the organization; {} object(s) go to {} (manager access).", p.objects.len(), p.new_owner)}</p>
                <ul>{p.warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
            }.into_any(),
        }}
    }
}

// ---------------------------------------------------------------- drift

#[component]
pub fn DriftPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") {
        return view! {
            <h1>"Drift report"</h1>
            <p class="empty">"Only admins can see drift."</p>
        }
        .into_any();
    }
    let report = Load::new(move || {
        let c = ctx.client();
        async move { c.drift().await }
    });
    let message: Message = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let check = move |_| {
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            message.set(Some(match c.check_drift().await {
                Ok(r) if r.baseline_taken => Ok("Baseline taken: PostHog's access is now Hogwarden's ledger.".into()),
                Ok(r) => Ok(format!("Checked: {} differences.", r.findings.len())),
                Err(e) => Err(format!("The check failed. {e}")),
            }));
            busy.set(false);
            report.refetch();
        });
    };
    view! {
        <h1>"Drift report"</h1>
        <FlashMessage flash=message />
        <p><button type="button" class="primary" disabled=move || busy.get() on:click=check>"Check now"</button></p>
        {move || match report.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The drift report could not be loaded. {e}") /> }.into_any(),
            Some(Ok(r)) if r.checked_at.is_none() => view! { <p class="empty">"Drift has not been checked yet."</p> }.into_any(),
            Some(Ok(r)) if r.findings.is_empty() => view! {
                <p class="empty">{format!("No drift: PostHog matches Hogwarden's ledger (checked {}).", r.checked_at.map(format::when).unwrap_or_default())}</p>
            }.into_any(),
            Some(Ok(r)) => view! {
                <table>
                    <caption>"Differences between PostHog and Hogwarden"</caption>
                    <thead><tr><th scope="col">"Person"</th><th scope="col">"Where"</th><th scope="col">"Difference"</th><th scope="col">"Ledger"</th><th scope="col">"PostHog"</th><th scope="col">"Changed by"</th><th scope="col">"Actions"</th></tr></thead>
                    <tbody>
                        {r.findings.into_iter().map(|f| view! { <FindingRow finding=f message=message reload=move || report.refetch() /> }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
    }
    .into_any()
}

#[component]
fn FindingRow(finding: DriftFindingDto, message: Message, reload: impl Fn() + Copy + 'static) -> impl IntoView {
    let ctx = use_ctx();
    let id = StoredValue::new(finding.id.clone());
    let place = match finding.project_id {
        Some(p) => format!("project {p}"),
        None => "organization".into(),
    };
    let who = StoredValue::new(format!("{} ({place})", finding.person));
    let busy = RwSignal::new(false);
    let act = move |adopt: bool| {
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let r = if adopt {
                c.adopt_drift(&id.get_value()).await.map(|_| "Adopted".to_owned())
            } else {
                c.revert_drift(&id.get_value()).await.map(|r| format!("Revert requested ({})", format::status(&r.status).to_lowercase()))
            };
            message.set(Some(
                r.map(|done| format!("{done}: {}.", who.get_value())).map_err(|e| format!("Could not act on {}. {e}", who.get_value())),
            ));
            busy.set(false);
            reload();
        });
    };
    let kind = match finding.kind.as_str() {
        "granted_outside" => "Granted outside Hogwarden",
        "removed_outside" => "Removed outside Hogwarden",
        _ => "Level differs",
    };
    let changed = match (&finding.changed_by, finding.changed_at) {
        (Some(by), Some(at)) => format!("{by} at {}", format::when(at)),
        (None, Some(at)) => format!("PostHog at {}", format::when(at)),
        _ => "not in PostHog's activity log".into(),
    };
    let reverting = finding.status == "reverting";
    view! {
        <tr>
            <th scope="row">{finding.person.clone()}</th>
            <td>{place}</td>
            <td>{kind}</td>
            <td>{format::title(&finding.expected)}</td>
            <td>{format::title(&finding.found)}</td>
            <td>{changed}</td>
            <td>
                {if reverting {
                    view! { <span>"Revert waiting for approval"</span> }.into_any()
                } else {
                    view! {
                        <button type="button" aria-label=format!("Adopt drift for {}", who.get_value()) disabled=move || busy.get() on:click=move |_| act(true)>"Adopt"</button>
                        <button type="button" aria-label=format!("Revert drift for {}", who.get_value()) disabled=move || busy.get() on:click=move |_| act(false)>"Revert"</button>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}
