//! keys-alerts: the leaked-key alert history (`#/key-alerts`, linked from the Keys page),
//! the "PostHog writes paused" banner shown above every page, and people's personal
//! key metadata imported from PostHog's list. Never a key value: fingerprints and masks.

use hogwarden_api_types::{AlertDto, PersonalKeyDto, PersonalKeyListDto};
use leptos::prelude::*;

use crate::app::{Alert, Loading, use_ctx};
use crate::format;

/// Above every page while PostHog writes are paused: why, since when, what to do.
#[component]
pub fn PauseBanner() -> impl IntoView {
    let ctx = use_ctx();
    let status = LocalResource::new(move || {
        let c = ctx.client();
        async move { c.key_status().await }
    });
    move || {
        status.get().and_then(Result::ok).and_then(|s| s.writes_paused).map(|p| {
            view! {
                <div role="alert" class="error" aria-label="PostHog writes paused">
                    <strong>"PostHog writes are paused. "</strong>
                    {p.message}
                    " "
                    <a href="#/keys">"Keys"</a>
                </div>
            }
        })
    }
}

fn verdict(a: &AlertDto) -> String {
    match (a.verdict.as_str(), a.reason.as_deref()) {
        ("accepted", _) => "Accepted".into(),
        ("key_rejected", _) => "Stored key rejected by PostHog".into(),
        (_, Some(reason)) => format!("Refused: {}", reason.replace('_', " ")),
        _ => "Refused".into(),
    }
}

fn alert_row(a: AlertDto) -> impl IntoView {
    let count = if a.count > 1 { format!("{} times, last {}", a.count, format::when(a.last_at)) } else { "1".into() };
    let values = a.leaks.iter().map(|l| format!("{} {}: {}", l.kind, l.fingerprint, l.action)).collect::<Vec<_>>();
    view! {
        <tr>
            <td>{format::when(a.received_at)}</td>
            <td>{a.provider.clone()}</td>
            <th scope="row">{verdict(&a)}</th>
            <td>{a.detail.clone().unwrap_or_default()}</td>
            <td><ul>{values.into_iter().map(|v| view! { <li>{v}</li> }).collect_view()}</ul></td>
            <td>{count}</td>
        </tr>
    }
}

/// The alert history, newest first, a page at a time.
#[component]
pub fn KeyAlertsPage() -> impl IntoView {
    let ctx = use_ctx();
    let rows = RwSignal::new(Vec::<AlertDto>::new());
    let next = RwSignal::new(None::<String>);
    let state = RwSignal::new(None::<Result<(), String>>);
    let load = move |before: Option<String>| {
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.key_alerts(before.as_deref()).await {
                Ok(page) => {
                    rows.update(|r| r.extend(page.alerts));
                    next.set(page.next);
                    state.set(Some(Ok(())));
                }
                Err(e) => state.set(Some(Err(format!("The alert history could not be loaded. {e}")))),
            }
        });
    };
    load(None);
    view! {
        <h1>"Leaked-key alerts"</h1>
        <p><a href="#/keys">"Back to keys"</a></p>
        {move || match state.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=e /> }.into_any(),
            Some(Ok(())) if rows.with(Vec::is_empty) => view! { <p class="empty">"No alert has been received."</p> }.into_any(),
            Some(Ok(())) => view! {
                <div class="scroll">
                    <table>
                        <caption>"Alerts, newest first"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Received"</th>
                                <th scope="col">"From"</th>
                                <th scope="col">"Verdict"</th>
                                <th scope="col">"Detail"</th>
                                <th scope="col">"Leaked values and action"</th>
                                <th scope="col">"Count"</th>
                            </tr>
                        </thead>
                        <tbody>{move || rows.get().into_iter().map(alert_row).collect_view()}</tbody>
                    </table>
                </div>
                {move || next.get().map(|n| view! {
                    <button type="button" on:click=move |_| load(Some(n.clone()))>"Older alerts"</button>
                })}
            }.into_any(),
        }}
    }
}

fn personal_row(k: PersonalKeyDto) -> impl IntoView {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| at.map_or_else(|| "—".to_owned(), format::when);
    view! {
        <tr>
            <th scope="row">{k.owner.clone()}<br /><small>{k.owner_name.clone()}</small></th>
            <td><code>{k.mask.clone()}</code></td>
            <td>{k.scopes.join(", ")}</td>
            <td>{format::when(k.created_at)}</td>
            <td>{when(k.last_used_at)}</td>
            <td>{when(k.last_reminded_at)}</td>
            <td>{k.due.clone().unwrap_or_else(|| "Within policy".into())}</td>
        </tr>
    }
}

/// People's personal keys (metadata only) and the import of PostHog's list; an import
/// runs `changed` (the inventory lists the imported keys).
#[component]
pub fn PersonalKeys(changed: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let version = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        version.get();
        let c = ctx.client();
        async move { c.personal_keys().await }
    });
    let text = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let import = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let c = ctx.client();
        let body = text.get_untracked();
        leptos::task::spawn_local(async move {
            match c.import_personal_keys(body).await {
                Ok(r) => {
                    outcome.set(Some(Ok(format!("{} keys listed: {} new, {} rolled, {} gone.", r.listed, r.new, r.rolled, r.gone))));
                    text.set(String::new());
                    version.update(|v| *v += 1);
                    changed.run(());
                }
                Err(e) => outcome.set(Some(Err(format!("Nothing was imported. {e}")))),
            }
            busy.set(false);
        });
    };
    let shown = move |list: PersonalKeyListDto| {
        view! {
            <p>{list.who_rolls}</p>
            {if list.keys.is_empty() {
                view! { <p class="empty">"No personal keys imported yet."</p> }.into_any()
            } else {
                view! {
                    <div class="scroll">
                        <table>
                            <caption>"People's personal API keys"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Owner"</th>
                                    <th scope="col">"Key"</th>
                                    <th scope="col">"Scopes"</th>
                                    <th scope="col">"Created"</th>
                                    <th scope="col">"Last used"</th>
                                    <th scope="col">"Last reminded"</th>
                                    <th scope="col">"Reminder"</th>
                                </tr>
                            </thead>
                            <tbody>{list.keys.into_iter().map(personal_row).collect_view()}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <p>{list.how_to_import}</p>
        }
    };
    view! {
        {move || match data.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The personal keys could not be loaded. {e}") /> }.into_any(),
            Some(Ok(list)) => shown(list).into_any(),
        }}
        <form on:submit=import>
            <label for="personal-keys-json">"PostHog's personal key list (JSON)"</label>
            <textarea id="personal-keys-json" rows="6" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <button type="submit" disabled=move || busy.get()>"Import"</button>
        </form>
        {move || outcome.get().map(|o| match o {
            Ok(m) => view! { <p role="status">{m}</p> }.into_any(),
            Err(m) => view! { <Alert message=m /> }.into_any(),
        })}
    }
}
