//! SSO rules: the mapping in force (first match wins), and a sync: paste the people and
//! their identity-provider claims, see the plan (changes, no-ops, exceptions), apply it.

use hogwarden_api_types::{SsoApplyBody, SsoPersonDto, SsoPlanBody, SsoPlanDto};
use leptos::prelude::*;

use crate::load::Load;

use crate::app::{Alert, Done, Loading, Problem, use_ctx};

const EXAMPLE: &str = r#"[
  {"email": "frank@example.com", "claims": {"department": "Product", "contractor": false}},
  {"email": "grace@example.com", "claims": {"department": "Product", "contractor": true}}
]"#;

#[component]
pub fn SsoPage() -> impl IntoView {
    let ctx = use_ctx();
    if !ctx.has_role("admin") {
        return view! {
            <h1>"SSO rules"</h1>
            <p class="empty">"Only admins see and sync the SSO rules."</p>
        }
        .into_any();
    }
    let rules = Load::new(move || {
        let c = ctx.client();
        async move { c.sso_rules().await.map(|r| r.rules) }
    });
    let people = RwSignal::new(EXAMPLE.to_owned());
    let plan = RwSignal::new(None::<SsoPlanDto>);
    let problem = RwSignal::new(None::<String>);
    let message = RwSignal::new(None::<String>);
    let parse = move || -> Result<Vec<SsoPersonDto>, String> {
        serde_json::from_str(&people.get_untracked()).map_err(|e| format!("The people list is not valid JSON: {e}"))
    };
    let make_plan = move || {
        problem.set(None);
        message.set(None);
        let list = match parse() {
            Ok(l) => l,
            Err(e) => return problem.set(Some(e)),
        };
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.sso_plan(&SsoPlanBody { people: list }).await {
                Ok(p) => plan.set(Some(p)),
                Err(e) => problem.set(Some(format!("The plan could not be made. {e}"))),
            }
        });
    };
    let apply = move || {
        let Some(shown) = plan.get_untracked() else { return };
        let list = match parse() {
            Ok(l) => l,
            Err(e) => return problem.set(Some(e)),
        };
        let c = ctx.client();
        leptos::task::spawn_local(async move {
            match c.sso_apply(&SsoApplyBody { people: list, fingerprint: shown.fingerprint }).await {
                Ok(done) => {
                    message.set(Some(format!("Applied {} change(s); {} exception(s) left alone.", done.changes, done.exceptions)));
                    plan.set(None);
                }
                Err(e) => problem.set(Some(format!("The plan could not be applied. {e}"))),
            }
        });
    };
    view! {
        <h1>"SSO rules"</h1>
        {move || match rules.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <Alert message=format!("The rules could not be loaded. {e}") /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No SSO rules are configured (policy 'sso.rules')."</p> }.into_any(),
            Some(Ok(list)) => view! {
                <table>
                    <caption>"Rules"</caption>
                    <thead><tr><th scope="col">"Order"</th><th scope="col">"Rule"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|r| view! { <tr><td>{r.index + 1}</td><td>{r.description}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
        <form aria-label="SSO sync" on:submit=move |ev| { ev.prevent_default(); make_plan(); }>
            <div class="field">
                <label for="sso-people">"People and claims"</label>
                <textarea id="sso-people" rows="6" prop:value=move || people.get() on:input=move |ev| people.set(event_target_value(&ev))></textarea>
            </div>
            <button type="submit">"Plan"</button>
        </form>
        <Done message=message />
        <Problem problem=problem />
        {move || plan.get().map(|p| view! {
            <table>
                <caption>"Sync plan"</caption>
                <thead><tr>
                    <th scope="col">"Person"</th><th scope="col">"Where"</th><th scope="col">"Now"</th>
                    <th scope="col">"Rule sets"</th><th scope="col">"Action"</th><th scope="col">"Why"</th>
                </tr></thead>
                <tbody>
                    {p.items.iter().map(|i| view! {
                        <tr>
                            <td>{i.email.clone()}</td><td>{i.target.clone()}</td><td>{i.current.clone().unwrap_or_default()}</td>
                            <td>{i.desired.clone().unwrap_or_default()}</td><td>{i.action.replace('_', "-")}</td><td>{i.message.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p>{format!("{} change(s), {} no-op(s), {} exception(s), {} error(s).", p.changes, p.no_ops, p.exceptions, p.errors)}</p>
            <button type="button" class="primary" on:click=move |_| apply()>"Apply plan"</button>
        })}
    }
    .into_any()
}
