//! Keys (admins): every PostHog key Hogwarden knows, by fingerprint (never a value),
//! with whether Hogwarden rotates it and when it last did, and what only a person in
//! PostHog can do (reset a project token, roll a personal key).

use hogwarden_api_types::{KeyDto, KeyList};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Loading, use_ctx};
use crate::format;
use crate::pages::token_rotation::{AddConsumer, ConsumerCell};

/// What the page says about personal keys, whatever the API answers.
const PERSONAL_KEYS: &str = "Only a personal API key's owner can roll it, in PostHog under Settings → Personal API keys.";

#[component]
pub fn KeysPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") {
        return view! {
            <h1>"Keys"</h1>
            <p class="empty">"Only admins can see Hogwarden's keys."</p>
        }
        .into_any();
    }
    let data = Load::new(move || {
        let c = ctx.client();
        async move { c.keys().await }
    });
    let changed = Callback::new(move |()| data.refetch());
    view! {
        <h1>"Keys"</h1>
        {move || match data.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The keys could not be loaded. {e}") /> }.into_any(),
            Some(Ok(list)) => view! { <KeysTable list=list changed=changed /> }.into_any(),
        }}
        // Outside the table's reload, so an import's outcome stays shown while the
        // inventory reloads with the imported keys.
        <section aria-labelledby="personal-keys">
            <h2 id="personal-keys">"Personal API keys"</h2>
            <p>{PERSONAL_KEYS}</p>
            <crate::pages::key_alerts::PersonalKeys changed=changed />
        </section>
    }
    .into_any()
}

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "personal_api_key" => "Personal API key",
        "project_secret_api_key" => "Project secret key",
        "project_token" => "Project token",
        _ => "Other",
    }
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), format::when)
}

fn rotation(k: &KeyDto) -> String {
    match (&k.managed_secret, k.last_rotated_at) {
        (Some(secret), Some(at)) => format!("Rotated by Hogwarden ({secret}), last {}", format::when(at)),
        (Some(secret), None) => format!("Rotated by Hogwarden ({secret})"),
        (None, _) => "Not rotated by Hogwarden".to_owned(),
    }
}

fn row(k: KeyDto, changed: Callback<()>) -> impl IntoView {
    let status = match k.accepted {
        Some(true) => " (PostHog accepts it)",
        Some(false) => " (PostHog rejects it)",
        None => "",
    };
    let fingerprint = k.fingerprint.clone().or_else(|| k.mask.clone()).unwrap_or_else(|| "shown only masked by PostHog".to_owned());
    let project = k.project_name.clone().unwrap_or_else(|| "—".to_owned());
    let scopes = if k.scopes.is_empty() { "—".to_owned() } else { k.scopes.join(", ") };
    view! {
        <tr>
            <th scope="row">{k.name.clone()}<br /><small>{kind_name(&k.kind)}{status}</small></th>
            <td>{project}</td>
            <td><code>{fingerprint}</code></td>
            <td>{scopes}</td>
            <td>{when(k.created_at)}</td>
            <td>{when(k.last_used_at)}</td>
            <td>{when(k.last_rolled_at)}</td>
            <td>{rotation(&k)}</td>
            <td>{k.note.clone().unwrap_or_default()}</td>
            <td><ConsumerCell key=k.clone() changed=changed /></td>
        </tr>
    }
}

#[component]
fn KeysTable(list: KeyList, changed: Callback<()>) -> impl IntoView {
    let checked = list.keys.first().map(|k| k.checked_at);
    let refs: Vec<(String, String)> = list.keys.iter().filter_map(|k| k.key_ref.clone().map(|r| (r, k.name.clone()))).collect();
    view! {
        {checked.map(|at| view! { <p>{format!("Read from PostHog at {}.", format::when(at))}</p> })}
        <div class="scroll">
            <table>
                <caption>"PostHog keys"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Project"</th>
                        <th scope="col">"Fingerprint"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Last rolled"</th>
                        <th scope="col">"Rotation"</th>
                        <th scope="col">"Note"</th>
                        <th scope="col">"Consumers"</th>
                    </tr>
                </thead>
                <tbody>{list.keys.into_iter().map(|k| row(k, changed)).collect_view()}</tbody>
            </table>
        </div>
        <section aria-labelledby="consumers">
            <h2 id="consumers">"Consumers"</h2>
            <p>"Where each key is used and who owns that place; they are told before and after a rotation."</p>
            <AddConsumer keys=refs changed=changed />
        </section>
        <ul>{list.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
        <p><a href="#/key-alerts">"Leaked-key alert history"</a></p>
    }
}
