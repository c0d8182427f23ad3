//! Key consumers (the add form on the Keys page) and the guided rotation of a project
//! token (`#/keys/rotation/{project}`): the steps with their state and time, the warning
//! that consumers are told before the reset, where in PostHog to reset, and "Check now".

use hogwarden_api_types::{KeyDto, NewConsumerBody, TokenRotationDto};
use leptos::prelude::*;

use crate::api::ApiError;
use crate::app::{Alert, Loading, Problem, use_ctx};
use crate::format;

/// The project id in `#/keys/rotation/{project}`.
pub fn project_from_hash(hash: &str) -> Option<i64> {
    let rest = hash.trim_start_matches('#').trim_start_matches('/').strip_prefix("keys/rotation/")?;
    rest.split(['?', '/']).next()?.parse().ok().filter(|p: &i64| *p > 0)
}

const WARNING: &str = "Resetting a project token stops the old one at once: every place that uses it stops sending events \
     until it is updated. Hogwarden lists and warns every consumer before anyone resets it.";

const KINDS: [(&str, &str); 5] = [
    ("frontend_sdk", "Front-end SDK"),
    ("mobile_app", "Mobile app"),
    ("ci_variable", "CI variable"),
    ("server", "Server"),
    ("other", "Other"),
];

/// The consumers of one key, each with a remove button.
#[component]
pub fn ConsumerCell(key: KeyDto, changed: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let rotation = key.key_ref.as_deref().and_then(|r| r.strip_prefix("project_token:")).and_then(|p| p.parse::<i64>().ok());
    let status = key.rotation_status.clone();
    view! {
        <ul class="consumers">
            {key.consumers.into_iter().map(|c| {
                let (id, version) = (c.id.clone(), c.version);
                let label = format!("Remove {}", c.name);
                let remove = move |_| {
                    let c = ctx.client();
                    let id = id.clone();
                    leptos::task::spawn_local(async move {
                        if c.remove_consumer(&id, version).await.is_ok() {
                            changed.run(());
                        }
                    });
                };
                view! {
                    <li>{format!("{} ({}), owner {}", c.name, c.kind.replace('_', " "), c.owner)}
                        " " <button type="button" aria-label=label on:click=remove>"Remove"</button></li>
                }
            }).collect_view()}
        </ul>
        {rotation.map(|p| view! {
            <a href=format!("#/keys/rotation/{p}")>{match status.as_deref() {
                Some("open") => "Guided rotation (open)",
                Some("done") => "Guided rotation (done)",
                _ => "Guided rotation",
            }}</a>
        })}
    }
}

/// The form that adds a consumer to one of the listed keys.
#[component]
pub fn AddConsumer(keys: Vec<(String, String)>, changed: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let key = RwSignal::new(keys.first().map(|k| k.0.clone()).unwrap_or_default());
    let kind = RwSignal::new("frontend_sdk".to_owned());
    let name = RwSignal::new(String::new());
    let owner = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let submit = move || {
        problem.set(None);
        let body = NewConsumerBody {
            key: key.get_untracked(),
            kind: kind.get_untracked(),
            name: name.get_untracked(),
            owner: owner.get_untracked(),
        };
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.add_consumer(&body).await {
                Ok(_) => {
                    name.set(String::new());
                    changed.run(());
                }
                Err(e) => problem.set(Some(format!("The consumer could not be added. {e}"))),
            }
        });
    };
    view! {
        <form aria-label="Add a consumer" on:submit=move |ev| { ev.prevent_default(); submit(); }>
            <div class="field">
                <label for="consumer-key">"Key"</label>
                <select id="consumer-key" on:change=move |ev| key.set(event_target_value(&ev))>
                    {keys.into_iter().map(|(r, label)| view! { <option value=r>{label}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="consumer-kind">"Used in"</label>
                <select id="consumer-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                    {KINDS.into_iter().map(|(v, label)| view! { <option value=v>{label}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="consumer-name">"Where"</label>
                <input id="consumer-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="consumer-owner">"Owner's email"</label>
                <input id="consumer-owner" type="email" prop:value=move || owner.get() on:input=move |ev| owner.set(event_target_value(&ev)) />
            </div>
            <button type="submit">"Add consumer"</button>
        </form>
        <Problem problem=problem />
    }
}

#[component]
pub fn TokenRotationPage(project: i64) -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") {
        return view! { <h1>"Project token rotation"</h1><p class="empty">"Only admins can rotate project tokens."</p> }.into_any();
    }
    let shown = RwSignal::new(None::<Result<Option<TokenRotationDto>, String>>);
    let busy = RwSignal::new(false);
    let load = move || {
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            shown.set(Some(match c.token_rotation(project).await {
                Ok(r) => Ok(Some(r)),
                Err(ApiError::Refused { status: 404, .. }) => Ok(None),
                Err(e) => Err(format!("The rotation could not be loaded. {e}")),
            }));
        });
    };
    load();
    let act = move |start: bool| {
        busy.set(true);
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            let r = if start { c.start_token_rotation(project).await } else { c.check_token_rotation(project).await };
            shown.set(Some(r.map(Some).map_err(|e| format!("That did not work. {e}"))));
            busy.set(false);
        });
    };
    view! {
        <h1>"Project token rotation"</h1>
        <p class="warnings">{WARNING}</p>
        {move || match shown.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=e /> }.into_any(),
            Some(Ok(None)) => view! {
                <p class="empty">"No guided rotation of this project's token yet."</p>
                <button type="button" class="primary" disabled=move || busy.get() on:click=move |_| act(true)>"Start rotation"</button>
            }.into_any(),
            Some(Ok(Some(r))) => view! { <Rotation r=r busy=busy check=Callback::new(move |()| act(false)) /> }.into_any(),
        }}
    }
    .into_any()
}

#[component]
fn Rotation(r: TokenRotationDto, busy: RwSignal<bool>, check: Callback<()>) -> impl IntoView {
    let open = r.status == "open";
    view! {
        <h2>{format!("{} ({})", r.project_name, if open { "open" } else { "done" })}</h2>
        <p role="status">{r.instructions.clone()}</p>
        {r.last_error.clone().map(|m| view! { <Alert message=m /> })}
        <table>
            <caption>"Steps"</caption>
            <thead><tr><th scope="col">"Step"</th><th scope="col">"State"</th><th scope="col">"Note"</th></tr></thead>
            <tbody>
                {r.steps.iter().map(|s| view! {
                    <tr>
                        <th scope="row">{s.label.clone()}</th>
                        <td>{s.at.map_or_else(|| "Waiting".to_owned(), |at| format!("Done {}", format::when(at)))}</td>
                        <td>{s.note.clone().unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p>{format!("Token before: {}. New token: {}.", r.old_fingerprint, r.new_fingerprint.clone().unwrap_or_else(|| "not detected yet".into()))}</p>
        <h2>"Consumers"</h2>
        <ul aria-label="Consumers">
            {r.consumers.iter().map(|c| view! { <li>{format!("{} ({}), owner {}", c.name, c.kind.replace('_', " "), c.owner)}</li> }).collect_view()}
        </ul>
        {open.then(|| view! {
            <button type="button" class="primary" disabled=move || busy.get() on:click=move |_| check.run(())>"Check now"</button>
        })}
        <p><a href="#/keys">"Back to keys"</a></p>
    }
}

#[cfg(test)]
mod tests {
    use super::project_from_hash;

    #[test]
    fn the_project_comes_from_the_address() {
        assert_eq!(project_from_hash("#/keys/rotation/42"), Some(42));
        assert_eq!(project_from_hash("#/keys/rotation/42?x=1"), Some(42));
        assert_eq!(project_from_hash("#/keys/rotation/web"), None);
        assert_eq!(project_from_hash("#/keys"), None);
    }
}
