//! Every HTTP call the app makes: the runtime config, the local stack's dev sign-in,
//! the OIDC token exchange and the Hogwarden API. Calls return typed results; the
//! API's `ErrorBody` becomes an [`ApiError`] whose text a person can act on.

use std::fmt;

use hogwarden_api_types::{
    AccessOverviewDto, ApproveBody, AuditList, BulkPlanBody, BulkPlanDto, BulkSetDto, BulkSubmitBody, CreateRequest, DemoUserDto, DenyBody,
    DevLoginBody, DiagnosisDto, ErrorBody, ExtendBody, GrantDto, GrantList, MeDto, PolicyDto, ProjectList, RequestDto, RequestList,
    TokenResponse, VerificationDto,
};
use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

use crate::config::{OidcConfig, RuntimeConfig};
use crate::pkce;

/// Why a call failed, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The server could not be reached at all.
    Network(String),
    /// The token is missing, expired or not accepted.
    SignedOut(String),
    /// The server answered with an error.
    Refused { status: u16, message: String },
    /// The answer was not what this version of the app expects.
    Unreadable(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(what) => write!(f, "Could not reach {what}. Check your connection and try again."),
            Self::SignedOut(msg) => write!(f, "You are signed out: {msg}"),
            Self::Refused { status, message } => match status {
                403 => write!(f, "Not allowed: {message}"),
                404 => write!(f, "Not found: {message}"),
                409 => write!(f, "{message} Someone may have acted on it first; the list has been reloaded."),
                429 => write!(f, "Too many requests; wait a moment and try again."),
                502..=504 => write!(f, "PostHog or the store did not answer in time ({message}). Try again in a moment."),
                500..=599 => write!(f, "The server had a problem (error {status}). Try again; if it persists, tell an admin."),
                _ => f.write_str(message),
            },
            Self::Unreadable(what) => {
                write!(f, "The answer from {what} could not be read. Reload the page; the app may have been updated.")
            }
        }
    }
}

/// Turns an error answer into an [`ApiError`], using the API's message when it sent one.
fn refused(status: u16, body: &str) -> ApiError {
    let message = serde_json::from_str::<ErrorBody>(body).map(|b| b.error.message).unwrap_or_else(|_| match status {
        401 => "sign in again.".into(),
        403 => "you may not do this.".into(),
        404 => "it does not exist (any more).".into(),
        _ => format!("the server answered {status}."),
    });
    if status == 401 { ApiError::SignedOut(message) } else { ApiError::Refused { status, message } }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Who calls the API, and where it is. Cheap to copy into async blocks.
#[derive(Debug, Clone)]
pub struct Client {
    pub base: String,
    pub token: Option<String>,
    /// Cleared when the API says the token is no longer good, which signs the person out.
    pub on_signed_out: Option<RwSignal<Option<String>>>,
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<String>) -> ApiResult<(u16, String)> {
    let network = || {
        ApiError::Network(if url.starts_with("http") {
            url.split('/').take(3).collect::<Vec<_>>().join("/")
        } else {
            "the Hogwarden server".into()
        })
    };
    let init = RequestInit::new();
    init.set_method(method);
    let h = Headers::new().map_err(|_| network())?;
    for (k, v) in headers {
        h.set(k, v).map_err(|_| network())?;
    }
    init.set_headers(&h);
    if let Some(b) = body {
        init.set_body(&wasm_bindgen::JsValue::from_str(&b));
    }
    let window = web_sys::window().ok_or_else(network)?;
    let resp: Response =
        JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(|_| network())?.dyn_into().map_err(|_| network())?;
    let text = JsFuture::from(resp.text().map_err(|_| network())?).await.map_err(|_| network())?.as_string().unwrap_or_default();
    Ok((resp.status(), text))
}

/// Reads a successful answer as `T`. The only generic step of a call: everything before
/// it (sending, statuses, signing out) is compiled once, in [`Client::text`].
fn decode<T: DeserializeOwned>(what: &str, text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(|_| unreadable(what))
}

fn unreadable(what: &str) -> ApiError {
    ApiError::Unreadable(what.into())
}

/// The body of a POST that sends no fields.
const EMPTY: &str = "{}";

impl Client {
    /// Sends one call and answers the body of a 2xx answer as text; any other answer
    /// becomes an [`ApiError`], and a 401 signs the person out. Not generic, so this
    /// code is in the module once, whatever the calls read.
    async fn text(&self, method: &str, path: &str, accept: &str, body: Option<String>) -> ApiResult<String> {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Accept", accept)];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let (status, text) = send(method, &url, &headers, body).await?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let error = refused(status, &text);
        if let (ApiError::SignedOut(_), Some(token)) = (&error, self.on_signed_out) {
            crate::session::forget_token();
            token.set(None);
        }
        Err(error)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> ApiResult<T> {
        decode(path, &self.text("GET", path, "application/json", None).await?)
    }

    /// A POST with a JSON body already written (see [`Self::post`] and [`EMPTY`]).
    async fn post_json<T: DeserializeOwned>(&self, path: &str, json: String) -> ApiResult<T> {
        decode(path, &self.text("POST", path, "application/json", Some(json)).await?)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> ApiResult<T> {
        let json = serde_json::to_string(body).map_err(|_| unreadable(path))?;
        self.post_json(path, json).await
    }

    pub async fn me(&self) -> ApiResult<MeDto> {
        self.get("/api/me").await
    }

    pub async fn policy(&self) -> ApiResult<PolicyDto> {
        self.get("/api/policy").await
    }

    pub async fn projects(&self) -> ApiResult<ProjectList> {
        self.get("/api/projects").await
    }

    pub async fn create_request(&self, body: &CreateRequest) -> ApiResult<RequestDto> {
        self.post("/api/requests", body).await
    }

    pub async fn my_requests(&self) -> ApiResult<RequestList> {
        self.get("/api/requests").await
    }

    /// One request with its security checklist.
    pub async fn request(&self, id: &str) -> ApiResult<RequestDto> {
        self.get(&format!("/api/requests/{}", pkce::encode(id))).await
    }

    /// The request's record as Markdown (the guide's checklist), for download.
    pub async fn request_markdown(&self, id: &str) -> ApiResult<String> {
        let path = format!("/api/requests/{}/export", pkce::encode(id));
        self.text("GET", &path, "text/markdown", None).await
    }

    /// Asks to move the end of an active temporary grant; answers the extension request.
    pub async fn extend(&self, grant_id: &str, body: &ExtendBody) -> ApiResult<RequestDto> {
        self.post(&format!("/api/grants/{}/extend", pkce::encode(grant_id)), body).await
    }

    /// Why a person can or cannot see a project, as PostHog reports it now.
    pub async fn diagnose(&self, email: &str, project_id: i64) -> ApiResult<DiagnosisDto> {
        self.get(&format!("/api/diagnose?email={}&project_id={project_id}", pkce::encode(email))).await
    }

    pub async fn inbox(&self) -> ApiResult<RequestList> {
        self.get("/api/inbox").await
    }

    pub async fn approve(&self, id: &str) -> ApiResult<RequestDto> {
        self.post(&format!("/api/requests/{}/approve", pkce::encode(id)), &ApproveBody::default()).await
    }

    pub async fn deny(&self, id: &str, reason: String) -> ApiResult<RequestDto> {
        self.post(&format!("/api/requests/{}/deny", pkce::encode(id)), &DenyBody { reason }).await
    }

    /// Active grants: all of them for approvers, one's own otherwise.
    pub async fn grants(&self) -> ApiResult<GrantList> {
        self.get("/api/grants").await
    }

    pub async fn revoke(&self, grant_id: &str) -> ApiResult<GrantDto> {
        self.post_json(&format!("/api/grants/{}/revoke", pkce::encode(grant_id)), EMPTY.into()).await
    }

    pub async fn access(&self) -> ApiResult<AccessOverviewDto> {
        self.get("/api/access").await
    }

    pub async fn keys(&self) -> ApiResult<hogwarden_api_types::KeyList> {
        self.get("/api/keys").await
    }

    // keys-alerts
    pub async fn key_status(&self) -> ApiResult<hogwarden_api_types::KeyStatusDto> {
        self.get("/api/keys/status").await
    }

    pub async fn key_alerts(&self, before: Option<&str>) -> ApiResult<hogwarden_api_types::AlertPageDto> {
        match before {
            Some(b) => self.get(&format!("/api/keys/alerts?before={}", pkce::encode(b))).await,
            None => self.get("/api/keys/alerts").await,
        }
    }

    pub async fn personal_keys(&self) -> ApiResult<hogwarden_api_types::PersonalKeyListDto> {
        self.get("/api/keys/personal").await
    }

    /// Sends PostHog's list as the admin pasted it.
    pub async fn import_personal_keys(&self, json: String) -> ApiResult<hogwarden_api_types::ImportReportDto> {
        self.post_json("/api/keys/personal/import", json).await
    }

    /// `query` is a ready query string without its `?` (see `pages::audit`).
    pub async fn audit(&self, query: &str) -> ApiResult<AuditList> {
        if query.is_empty() { self.get("/api/audit").await } else { self.get(&format!("/api/audit?{query}")).await }
    }

    /// Verifies the whole hash chain (admins only: it reads every entry).
    pub async fn verify_audit(&self) -> ApiResult<VerificationDto> {
        self.get("/api/audit/verify").await
    }

    pub async fn bulk_plan(&self, format: &str, content: &str) -> ApiResult<BulkPlanDto> {
        self.post("/api/bulk/plan", &BulkPlanBody { format: format.into(), content: content.into() }).await
    }

    pub async fn bulk_submit(&self, format: &str, content: &str, reason: Option<String>) -> ApiResult<BulkSetDto> {
        self.post("/api/bulk/sets", &BulkSubmitBody { format: format.into(), content: content.into(), reason }).await
    }

    pub async fn bulk_set(&self, id: &str) -> ApiResult<BulkSetDto> {
        self.get(&format!("/api/bulk/sets/{}", pkce::encode(id))).await
    }

    /// One run of at most 5 s on the server; call again until the set is finished.
    pub async fn bulk_apply(&self, id: &str) -> ApiResult<BulkSetDto> {
        self.post_json(&format!("/api/bulk/sets/{}/apply?budget_seconds=5", pkce::encode(id)), EMPTY.into()).await
    }

    pub async fn demo_users(&self) -> ApiResult<Vec<DemoUserDto>> {
        self.get("/auth/demo-users").await
    }

    pub async fn dev_login(&self, email: &str) -> ApiResult<TokenResponse> {
        self.post("/auth/dev-login", &DevLoginBody { email: email.into() }).await
    }
    pub async fn offboard_preview(
        &self,
        body: &hogwarden_api_types::OffboardPreviewBody,
    ) -> ApiResult<hogwarden_api_types::OffboardPreviewDto> {
        self.post("/api/offboardings/preview", body).await
    }

    pub async fn offboard_create(&self, body: &hogwarden_api_types::CreateOffboarding) -> ApiResult<hogwarden_api_types::OffboardingDto> {
        self.post("/api/offboardings", body).await
    }

    pub async fn offboardings(&self) -> ApiResult<hogwarden_api_types::OffboardingList> {
        self.get("/api/offboardings").await
    }

    /// `action` is `approve` or `resume`.
    pub async fn offboard_act(&self, id: &str, action: &str) -> ApiResult<hogwarden_api_types::OffboardingDto> {
        self.post_json(&format!("/api/offboardings/{}/{action}", pkce::encode(id)), EMPTY.into()).await
    }

    pub async fn sso_sign_in(&self) -> ApiResult<hogwarden_api_types::SsoPlanDto> {
        self.post_json("/api/sso/sign-in", EMPTY.into()).await
    }

    pub async fn sso_rules(&self) -> ApiResult<hogwarden_api_types::SsoRulesDto> {
        self.get("/api/sso/rules").await
    }

    pub async fn sso_plan(&self, body: &hogwarden_api_types::SsoPlanBody) -> ApiResult<hogwarden_api_types::SsoPlanDto> {
        self.post("/api/sso/plan", body).await
    }

    pub async fn sso_apply(&self, body: &hogwarden_api_types::SsoApplyBody) -> ApiResult<hogwarden_api_types::SsoPlanDto> {
        self.post("/api/sso/apply", body).await
    }
}

/// Reads `config.json`, which sits next to `index.html`.
/// A path segment with the characters review and drift ids hold (`@`, `#`) escaped.
fn segment(raw: &str) -> String {
    String::from(js_sys::encode_uri_component(raw))
}

/// Access reviews and drift (the reviews Lambda).
impl Client {
    pub async fn campaigns(&self) -> ApiResult<hogwarden_api_types::CampaignList> {
        self.get("/api/reviews").await
    }

    pub async fn open_campaign(&self) -> ApiResult<hogwarden_api_types::CampaignDetail> {
        self.post("/api/reviews", &hogwarden_api_types::OpenCampaignBody::default()).await
    }

    pub async fn campaign(&self, id: &str) -> ApiResult<hogwarden_api_types::CampaignDetail> {
        self.get(&format!("/api/reviews/{}", segment(id))).await
    }

    pub async fn close_campaign(&self, id: &str) -> ApiResult<hogwarden_api_types::CampaignDetail> {
        self.post_json(&format!("/api/reviews/{}/close", segment(id)), EMPTY.into()).await
    }

    pub async fn evidence(&self, id: &str) -> ApiResult<hogwarden_api_types::EvidenceDto> {
        self.get(&format!("/api/reviews/{}/evidence", segment(id))).await
    }

    /// What revoking an organization-membership item would do (new owner, warnings).
    pub async fn removal_preview(&self, campaign: &str, item: &str) -> ApiResult<hogwarden_api_types::OffboardPreviewDto> {
        self.get(&format!("/api/reviews/{}/items/{}/removal", segment(campaign), segment(item))).await
    }

    pub async fn review_queue(&self) -> ApiResult<hogwarden_api_types::ReviewQueueDto> {
        self.get("/api/review-queue").await
    }

    pub async fn bulk_decide(
        &self,
        campaign: &str,
        body: &hogwarden_api_types::BulkDecideBody,
    ) -> ApiResult<hogwarden_api_types::BulkDecideResult> {
        self.post(&format!("/api/reviews/{}/decisions", segment(campaign)), body).await
    }

    pub async fn drift(&self) -> ApiResult<hogwarden_api_types::DriftReportDto> {
        self.get("/api/drift").await
    }

    pub async fn check_drift(&self) -> ApiResult<hogwarden_api_types::DriftReportDto> {
        self.post_json("/api/drift/check", EMPTY.into()).await
    }

    pub async fn adopt_drift(&self, id: &str) -> ApiResult<hogwarden_api_types::DriftFindingDto> {
        self.post_json(&format!("/api/drift/{}/adopt", segment(id)), EMPTY.into()).await
    }

    pub async fn revert_drift(&self, id: &str) -> ApiResult<RequestDto> {
        self.post_json(&format!("/api/drift/{}/revert", segment(id)), EMPTY.into()).await
    }
}

pub async fn runtime_config() -> ApiResult<RuntimeConfig> {
    let (status, text) = send("GET", "config.json", &[("Accept", "application/json")], None).await?;
    if status != 200 {
        return Err(ApiError::Refused {
            status,
            message: "config.json is missing next to index.html; the deployment is incomplete.".into(),
        });
    }
    serde_json::from_str(&text).map_err(|_| ApiError::Unreadable("config.json".into()))
}

/// The token endpoint's answer (RFC 6749 §5.1 plus OIDC's `id_token`).
#[derive(Debug, serde::Deserialize)]
pub struct OidcTokens {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
}

/// Trades an authorization code for tokens at the identity provider.
pub async fn exchange_code(cfg: &OidcConfig, code: &str, verifier: &str) -> ApiResult<OidcTokens> {
    let body = pkce::token_request_body(cfg, code, verifier);
    let (status, text) = send(
        "POST",
        &cfg.token_endpoint,
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
        Some(body),
    )
    .await?;
    if !(200..300).contains(&status) {
        #[derive(serde::Deserialize)]
        struct OAuthError {
            error: String,
            #[serde(default)]
            error_description: Option<String>,
        }
        let why = serde_json::from_str::<OAuthError>(&text)
            .map(|e| e.error_description.unwrap_or(e.error))
            .unwrap_or_else(|_| format!("it answered {status}"));
        return Err(ApiError::Refused { status, message: format!("The identity provider refused the sign-in: {why}.") });
    }
    serde_json::from_str(&text).map_err(|_| ApiError::Unreadable("the identity provider".into()))
}

/// Key consumers and guided project-token rotations (the key-rotation Lambda).
impl Client {
    pub async fn add_consumer(&self, body: &hogwarden_api_types::NewConsumerBody) -> ApiResult<hogwarden_api_types::ConsumerDto> {
        self.post("/api/keys/consumers", body).await
    }

    pub async fn remove_consumer(&self, id: &str, version: u64) -> ApiResult<hogwarden_api_types::ConsumerDto> {
        let path = format!("/api/keys/consumers/{}?version={version}", segment(id));
        decode(&path, &self.text("DELETE", &path, "application/json", None).await?)
    }

    pub async fn token_rotation(&self, project: i64) -> ApiResult<hogwarden_api_types::TokenRotationDto> {
        self.get(&format!("/api/keys/rotations/{project}")).await
    }

    pub async fn start_token_rotation(&self, project: i64) -> ApiResult<hogwarden_api_types::TokenRotationDto> {
        self.post_json(&format!("/api/keys/rotations/{project}"), EMPTY.into()).await
    }

    pub async fn check_token_rotation(&self, project: i64) -> ApiResult<hogwarden_api_types::TokenRotationDto> {
        self.post_json(&format!("/api/keys/rotations/{project}/check"), EMPTY.into()).await
    }
}
