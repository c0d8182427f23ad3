//! Bulk changes (admins): paste or upload a change set (CSV or JSON), see the plan
//! row by row with line numbers (change, no-op or error) before anything is written,
//! submit it for approval as one request, then watch its progress and read the report.
//! A set is addressed as `#/bulk/{id}`, so the link in the approvers' message and a
//! reload both land on it.

use hogwarden_api_types::{BulkPlanDto, BulkSetDto};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::{Alert, Loading, Problem, use_ctx};

/// The set id in `#/bulk/{id}`, if any.
fn set_id_from_hash() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let rest = hash.trim_start_matches('#').trim_start_matches('/').strip_prefix("bulk/")?;
    let id = rest.split(['?', '/']).next().unwrap_or_default();
    (!id.is_empty()).then(|| id.to_owned())
}

#[component]
pub fn BulkPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") && !ctx.has_role("approver") {
        return view! {
            <h1>"Bulk changes"</h1>
            <p class="empty">"Only admins can make bulk changes."</p>
        }
        .into_any();
    }
    let set_id = RwSignal::new(set_id_from_hash());
    let _ = window_event_listener(leptos::ev::hashchange, move |_| set_id.set(set_id_from_hash()));
    view! {
        <h1>"Bulk changes"</h1>
        {move || match set_id.get() {
            Some(id) => view! { <SetView id=id /> }.into_any(),
            None if ctx.has_role("admin") => view! { <PlanForm /> }.into_any(),
            None => view! { <p class="empty">"Open a change set from the inbox."</p> }.into_any(),
        }}
    }
    .into_any()
}

#[component]
fn PlanForm() -> impl IntoView {
    let ctx = use_ctx();
    let content = RwSignal::new(String::new());
    let format = RwSignal::new("csv".to_owned());
    let reason = RwSignal::new(String::new());
    let plan = RwSignal::new(None::<BulkPlanDto>);
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let on_file = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        if file.name().to_ascii_lowercase().ends_with(".json") {
            format.set("json".into());
        } else {
            format.set("csv".into());
        }
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(text) => {
                    content.set(text.as_string().unwrap_or_default());
                    plan.set(None);
                }
                Err(_) => problem.set(Some("The file could not be read.".into())),
            }
        });
    };
    let do_plan = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        busy.set(true);
        let c = ctx.client();
        let (f, text) = (format.get_untracked(), content.get_untracked());
        leptos::task::spawn_local(async move {
            match c.bulk_plan(&f, &text).await {
                Ok(p) => plan.set(Some(p)),
                Err(e) => {
                    plan.set(None);
                    problem.set(Some(e.to_string()));
                }
            }
            busy.set(false);
        });
    };
    let submit = move |_| {
        problem.set(None);
        busy.set(true);
        let c = ctx.client();
        let (f, text) = (format.get_untracked(), content.get_untracked());
        let why = reason.get_untracked().trim().to_owned();
        leptos::task::spawn_local(async move {
            match c.bulk_submit(&f, &text, (!why.is_empty()).then_some(why)).await {
                Ok(set) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().set_hash(&format!("/bulk/{}", set.id));
                    }
                }
                Err(e) => problem.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };

    view! {
        <form aria-label="Change set" on:submit=do_plan>
            <p>"One row per person and target: " <code>"email,project,role,end_date"</code>
               " (project empty for the organization role; role " <code>"none"</code> " removes from the project)."</p>
            <label for="bulk-file">"Upload a file"</label>
            <input id="bulk-file" type="file" accept=".csv,.json,text/csv,application/json" on:change=on_file />
            <label for="bulk-format">"Format"</label>
            <select id="bulk-format" prop:value=move || format.get() on:change=move |ev| format.set(event_target_value(&ev))>
                <option value="csv">"CSV"</option>
                <option value="json">"JSON"</option>
            </select>
            <label for="bulk-content">"Change set"</label>
            <textarea id="bulk-content" rows="10" prop:value=move || content.get()
                on:input=move |ev| { content.set(event_target_value(&ev)); plan.set(None); }></textarea>
            <label for="bulk-reason">"Reason"</label>
            <textarea id="bulk-reason" rows="2" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            <button type="submit" disabled=move || busy.get()>"Plan"</button>
        </form>
        <Problem problem=problem />
        {move || plan.get().map(|p| {
            let ready = p.errors == 0 && p.changes > 0;
            view! {
                <p role="status" aria-label="Plan summary">
                    {format!("{} changes, {} no-ops, {} errors. Nothing was written.", p.changes, p.no_ops, p.errors)}
                </p>
                <PlanTable plan=p />
                {if ready {
                    view! { <button type="button" on:click=submit disabled=move || busy.get()>"Submit for approval"</button> }.into_any()
                } else {
                    view! { <p class="empty">"Fix the rows with errors (or add a change) to submit."</p> }.into_any()
                }}
            }
        })}
    }
}

#[component]
fn PlanTable(plan: BulkPlanDto) -> impl IntoView {
    view! {
        <div class="scroll">
            <table>
                <caption>"Plan"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Line"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Now"</th>
                        <th scope="col">"Then"</th>
                        <th scope="col">"Note"</th>
                    </tr>
                </thead>
                <tbody>
                    {plan.items.into_iter().map(|i| {
                        let action = match i.action.as_str() { "change" => "Change", "no_op" => "No-op", _ => "Error" };
                        view! {
                            <tr class=i.action.clone()>
                                <th scope="row">{i.line}</th>
                                <td>{action}</td>
                                <td>{i.email}</td>
                                <td>{i.target}</td>
                                <td>{i.current.unwrap_or_else(|| "—".into())}</td>
                                <td>{i.desired.unwrap_or_else(|| "—".into())}</td>
                                <td>{i.message.unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn SetView(id: String) -> impl IntoView {
    let ctx = use_ctx();
    let id = StoredValue::new(id);
    let set = RwSignal::new(None::<Result<BulkSetDto, String>>);
    let applying = RwSignal::new(false);
    let load = move || {
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let got = c.bulk_set(&id.get_value()).await.map_err(|e| e.to_string());
            set.set(Some(got));
        });
    };
    load();
    // Watch while it is not finished: the server's timer applies it too.
    let poll = set_interval_with_handle(
        move || {
            let running = set.with_untracked(|s| matches!(s, Some(Ok(s)) if s.phase != "finished" && s.phase != "cancelled"));
            if running && !applying.get_untracked() {
                load();
            }
        },
        std::time::Duration::from_secs(2),
    )
    .ok();
    on_cleanup(move || {
        if let Some(p) = poll {
            p.clear();
        }
    });
    let apply = move |_| {
        applying.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            loop {
                match c.bulk_apply(&id.get_value()).await {
                    Ok(s) => {
                        let finished = s.phase == "finished";
                        set.set(Some(Ok(s)));
                        if finished {
                            break;
                        }
                    }
                    Err(e) => {
                        set.set(Some(Err(e.to_string())));
                        break;
                    }
                }
            }
            applying.set(false);
            load();
        });
    };

    view! {
        <p><a href="#/bulk">"New change set"</a></p>
        {move || match set.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The change set could not be loaded. {e}") /> }.into_any(),
            Some(Ok(s)) => {
                let settled = s.done + s.failed + s.no_op;
                let phase = match s.phase.as_str() {
                    "awaiting_approval" => format!("Waiting for approval ({} of {}).", s.approvals, s.approvals_required),
                    "applying" => format!("Applying: {settled} of {} items settled.", s.total),
                    "finished" => format!("Finished: {} done, {} no-ops, {} failed.", s.done, s.no_op, s.failed),
                    _ => format!("Cancelled: the request was {}.", s.request_status),
                };
                let rate = s.rate_per_second.map(|r| format!(" {r:.1} items per second.")).unwrap_or_default();
                let can_apply = s.phase == "applying" && ctx.has_role("admin");
                view! {
                    <h2>{format!("Change set {}", s.id)}</h2>
                    <p>
                        <a href=format!("#/requests/{}", s.id)>"The access request"</a>
                        {format!(" by {}, status {}.", s.requester, s.request_status)}
                    </p>
                    <div role="status" aria-label="Progress">
                        <p>{phase}{rate}</p>
                        <label for="bulk-progress">"Items settled"</label>
                        <progress id="bulk-progress" max=s.total.to_string() value=settled.to_string()>{format!("{settled} of {}", s.total)}</progress>
                    </div>
                    {can_apply.then(|| view! {
                        <button type="button" on:click=apply disabled=move || applying.get()>"Apply now"</button>
                    })}
                    <ReportTable set=s />
                }.into_any()
            }
        }}
    }
}

#[component]
fn ReportTable(set: BulkSetDto) -> impl IntoView {
    let caption = if set.phase == "finished" { "Report" } else { "Items" };
    view! {
        <div class="scroll">
            <table>
                <caption>{caption}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Line"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Then"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Error"</th>
                    </tr>
                </thead>
                <tbody>
                    {set.items.into_iter().map(|i| {
                        let status = match i.status.as_str() {
                            "pending" => "Pending", "in_flight" => "In flight", "done" => "Done", "no_op" => "No-op", _ => "Failed",
                        };
                        view! {
                            <tr>
                                <th scope="row">{i.line}</th>
                                <td>{i.email}</td>
                                <td>{i.target}</td>
                                <td>{i.desired}</td>
                                <td>{status}</td>
                                <td>{i.error.unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
