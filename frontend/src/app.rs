//! The shell: reads the runtime config, signs people in, and shows the header, the
//! main navigation and the current page. Pages are chosen by the address's hash
//! (`#/inbox`), so any static host can serve the app from one `index.html`.

use chrono::{DateTime, Utc};
use hogwarden_api_types::MeDto;
use leptos::prelude::*;

use crate::load::Load;

use crate::api::{self, Client};
use crate::config::{AuthConfig, RuntimeConfig};
use crate::nav::MainNav;
use crate::pages;
use crate::session;

/// The pages, by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Request,
    MyAccess,
    Inbox,
    Access,
    Audit,
    Bulk,
    Diagnose,
    /// One request's page, `#/requests/{id}` (where notifications link).
    RequestDetail,
    Reviews,
    ReviewQueue,
    Drift,
    Offboarding,
    Sso,
    Keys,
}

impl Route {
    fn from_hash(hash: &str) -> Self {
        match hash.trim_start_matches('#').trim_start_matches('/').split(['?', '/']).next().unwrap_or("") {
            "my-access" => Self::MyAccess,
            "inbox" => Self::Inbox,
            "access" => Self::Access,
            "audit" => Self::Audit,
            "bulk" => Self::Bulk,
            "diagnose" => Self::Diagnose,
            "requests" => Self::RequestDetail,
            "reviews" => Self::Reviews,
            "review-queue" => Self::ReviewQueue,
            "drift" => Self::Drift,
            "offboarding" => Self::Offboarding,
            "sso" => Self::Sso,
            "keys" => Self::Keys,
            _ => Self::Request,
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Self::Request => "#/request",
            Self::MyAccess => "#/my-access",
            Self::Inbox => "#/inbox",
            Self::Access => "#/access",
            Self::Audit => "#/audit",
            Self::Bulk => "#/bulk",
            Self::Diagnose => "#/diagnose",
            Self::RequestDetail => "#/my-access",
            Self::Reviews => "#/reviews",
            Self::ReviewQueue => "#/review-queue",
            Self::Drift => "#/drift",
            Self::Offboarding => "#/offboarding",
            Self::Sso => "#/sso",
            Self::Keys => "#/keys",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Request => "Request access",
            Self::MyAccess => "My access",
            Self::Inbox => "Inbox",
            Self::Access => "Access overview",
            Self::Audit => "Audit log",
            Self::Bulk => "Bulk changes",
            Self::Diagnose => "Access diagnosis",
            Self::RequestDetail => "Request details",
            Self::Reviews => "Access reviews",
            Self::ReviewQueue => "My reviews",
            Self::Drift => "Drift",
            Self::Offboarding => "Offboarding",
            Self::Sso => "SSO rules",
            Self::Keys => "Keys",
        }
    }
}

fn current_hash() -> String {
    web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
}

fn current_route() -> Route {
    Route::from_hash(&current_hash())
}

/// What every page can reach.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub config: StoredValue<RuntimeConfig>,
    pub token: RwSignal<Option<String>>,
    pub me: RwSignal<Option<MeDto>>,
    /// Ticks every 15 seconds, so that "time left" counts down.
    pub now: RwSignal<DateTime<Utc>>,
}

impl Ctx {
    pub fn client(&self) -> Client {
        Client { base: self.config.with_value(|c| c.api_url.clone()), token: self.token.get_untracked(), on_signed_out: Some(self.token) }
    }

    pub fn email(&self) -> String {
        self.me.with_untracked(|m| m.as_ref().map(|m| m.email.clone()).unwrap_or_default())
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.roles.iter().any(|r| r == role)))
    }
}

pub fn use_ctx() -> Ctx {
    expect_context::<Ctx>()
}

/// Mounts the app on `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    mount_to_body(Root);
}

/// Shown while something loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p role="status" class="loading">"Loading…"</p> }
}

/// An error, announced.
#[component]
pub fn Alert(#[prop(into)] message: String) -> impl IntoView {
    view! { <p role="alert" class="error">{message}</p> }
}

/// A problem, announced as an alert while it is set. Pages share this one view instead
/// of each writing the same reactive block (one copy in the module, not one per page).
#[component]
pub fn Problem(problem: RwSignal<Option<String>>) -> impl IntoView {
    move || problem.get().map(|m| view! { <Alert message=m /> })
}

/// A confirmation, announced as a status while it is set.
#[component]
pub fn Done(message: RwSignal<Option<String>>) -> impl IntoView {
    move || message.get().map(|m| view! { <p role="status" class="ok">{m}</p> })
}

/// What the last action on a page said: `Ok`, a confirmation; `Err`, a problem.
pub type Flash = RwSignal<Option<Result<String, String>>>;

/// Shows a [`Flash`]: a status for a confirmation, an alert for a problem.
#[component]
pub fn FlashMessage(flash: Flash) -> impl IntoView {
    move || match flash.get() {
        None => None,
        Some(Ok(m)) => Some(view! { <p role="status" class="ok">{m}</p> }.into_any()),
        Some(Err(m)) => Some(view! { <Alert message=m /> }.into_any()),
    }
}

#[component]
fn Root() -> impl IntoView {
    let config = Load::new(api::runtime_config);
    view! {
        {move || match config.get() {
            None => view! { <main><Loading /></main> }.into_any(),
            Some(Err(e)) => view! {
                <main>
                    <h1>"Hogwarden"</h1>
                    <Alert message=format!("The app could not start: {e}") />
                </main>
            }.into_any(),
            Some(Ok(cfg)) => view! { <Signed config=cfg /> }.into_any(),
        }}
    }
}

#[component]
fn Signed(config: RuntimeConfig) -> impl IntoView {
    let ctx = Ctx {
        config: StoredValue::new(config.clone()),
        token: RwSignal::new(session::saved_token()),
        me: RwSignal::new(None),
        now: RwSignal::new(Utc::now()),
    };
    provide_context(ctx);
    let route = RwSignal::new(current_route());
    let _ = window_event_listener(leptos::ev::hashchange, move |_| route.set(current_route()));
    let tick = set_interval_with_handle(move || ctx.now.set(Utc::now()), std::time::Duration::from_secs(15)).ok();
    on_cleanup(move || {
        if let Some(t) = tick {
            t.clear();
        }
    });

    // The identity provider's answer, when this load is one.
    let callback_error = RwSignal::new(None::<String>);
    if let AuthConfig::Oidc(oidc) = config.auth.clone() {
        leptos::task::spawn_local(async move {
            match session::finish_oidc(&oidc).await {
                Ok(Some(token)) => {
                    ctx.token.set(Some(token));
                    // Signing in applies the SSO rules to the claims of the new token
                    // (the local dev sign-in does it on the server).
                    if let Err(e) = ctx.client().sso_sign_in().await {
                        leptos::logging::warn!("SSO rules were not applied: {e}");
                    }
                }
                Ok(None) => {}
                Err(e) => callback_error.set(Some(e.to_string())),
            }
        });
    }

    // Who is signed in, read again whenever the token changes.
    let me = Load::new(move || {
        let token = ctx.token.get();
        let client = ctx.client();
        async move {
            let me = match token {
                Some(_) => client.me().await.map(Some),
                None => Ok(None),
            };
            // Set before the resource resolves, so pages see who is signed in when they
            // first render.
            ctx.me.set(me.clone().ok().flatten());
            me
        }
    });

    move || {
        if ctx.token.get().is_none() {
            return view! { <SignIn callback_error=callback_error /> }.into_any();
        }
        match me.get() {
            None => view! { <main><Loading /></main> }.into_any(),
            Some(Err(e)) => view! {
                <main>
                    <h1>"Hogwarden"</h1>
                    <Alert message=e.to_string() />
                    <button type="button" on:click=move |_| sign_out(ctx)>"Sign out"</button>
                </main>
            }
            .into_any(),
            Some(Ok(None)) => view! { <main><Loading /></main> }.into_any(),
            Some(Ok(Some(m))) => view! { <Shell me=m route=route /> }.into_any(),
        }
    }
}

fn sign_out(ctx: Ctx) {
    session::forget_token();
    ctx.me.set(None);
    ctx.token.set(None);
}

#[component]
fn Shell(me: MeDto, route: RwSignal<Route>) -> impl IntoView {
    let ctx = use_ctx();
    Effect::new(move || {
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&format!("{} · Hogwarden", route.get().title()));
        }
    });
    view! {
        <header>
            // Not a plain "#main" link: the hash picks the page.
            <a
                class="skip"
                href="#main"
                on:click=move |ev| {
                    ev.prevent_default();
                    if let Some(main) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("main")) {
                        use wasm_bindgen::JsCast;
                        if let Ok(el) = main.dyn_into::<web_sys::HtmlElement>() {
                            let _ = el.focus();
                        }
                    }
                }
            >
                "Skip to content"
            </a>
            <p class="brand">"Hogwarden"</p>
            <MainNav roles=me.roles.clone() route=route />
            <p class="who">{format!("Signed in as {}", me.email)}</p>
            <button type="button" on:click=move |_| sign_out(ctx)>"Sign out"</button>
        </header>
        <main id="main" tabindex="-1">
            {move || match route.get() {
                Route::Request => view! { <pages::request::RequestPage /> }.into_any(),
                Route::MyAccess => view! { <pages::my_access::MyAccessPage /> }.into_any(),
                Route::Inbox => view! { <pages::inbox::InboxPage /> }.into_any(),
                Route::Access => view! { <pages::overview::OverviewPage /> }.into_any(),
                Route::Audit => view! { <pages::audit::AuditPage /> }.into_any(),
                Route::Bulk => view! { <pages::bulk::BulkPage /> }.into_any(),
                Route::Diagnose => view! { <pages::diagnose::DiagnosePage /> }.into_any(),
                Route::RequestDetail => match pages::request_detail::id_from_hash(&current_hash()) {
                    Some(id) => view! { <pages::request_detail::RequestDetailPage id=id /> }.into_any(),
                    None => view! { <h1>"Request details"</h1><p class="empty">"No request was named in the address."</p> }.into_any(),
                },
                Route::Reviews => view! { <pages::reviews::CampaignsPage /> }.into_any(),
                Route::ReviewQueue => view! { <pages::reviews::QueuePage /> }.into_any(),
                Route::Drift => view! { <pages::reviews::DriftPage /> }.into_any(),
                Route::Offboarding => view! { <pages::offboarding::OffboardingPage /> }.into_any(),
                Route::Sso => view! { <pages::sso::SsoPage /> }.into_any(),
                Route::Keys => view! { <pages::keys::KeysPage /> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn SignIn(callback_error: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = use_ctx();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let auth = ctx.config.with_value(|c| c.auth.clone());
    let body = match auth {
        AuthConfig::Dev => {
            let users = Load::new(move || {
                let client = ctx.client();
                async move { client.demo_users().await }
            });
            let sign_in = move |email: String| {
                busy.set(true);
                error.set(None);
                let client = Client { token: None, on_signed_out: None, ..ctx.client() };
                leptos::task::spawn_local(async move {
                    match client.dev_login(&email).await {
                        Ok(t) => {
                            session::save_token(&t.access_token);
                            ctx.token.set(Some(t.access_token));
                        }
                        Err(e) => error.set(Some(format!("Sign-in failed. {e}"))),
                    }
                    busy.set(false);
                });
            };
            view! {
                <p>"Local stack: choose a demo user to sign in as."</p>
                {move || match users.get() {
                    None => view! { <Loading /> }.into_any(),
                    Some(Err(e)) => view! { <Alert message=format!("The demo users could not be loaded. {e}") /> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="users">
                            {list
                                .into_iter()
                                .map(|u| {
                                    let email = u.email.clone();
                                    view! {
                                        <li>
                                            <button
                                                type="button"
                                                aria-label=format!("Sign in as {}", u.email)
                                                disabled=move || busy.get()
                                                on:click=move |_| sign_in(email.clone())
                                            >
                                                <strong>{u.name.clone()}</strong>
                                                " "
                                                <span>{u.email.clone()}</span>
                                                " "
                                                <small>{u.roles.join(", ")}</small>
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                    .into_any(),
                }}
            }
            .into_any()
        }
        AuthConfig::Oidc(oidc) => view! {
            <p>"You sign in with your organization's identity provider."</p>
            <button
                type="button"
                disabled=move || busy.get()
                on:click=move |_| {
                    busy.set(true);
                    if let Err(e) = session::start_oidc(&oidc) {
                        error.set(Some(e.to_string()));
                        busy.set(false);
                    }
                }
            >
                "Sign in with your identity provider"
            </button>
        }
        .into_any(),
    };
    view! {
        <main id="main" class="signin">
            <h1>"Sign in to Hogwarden"</h1>
            <Problem problem=callback_error />
            {body}
            <Problem problem=error />
        </main>
    }
}
