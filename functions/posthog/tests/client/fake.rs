//! A small PostHog, just faithful enough for the client: the member, project and
//! access-control endpoints answer with the bodies, status codes and error shapes
//! that `shared/posthog-api.md` records from PostHog's source, paginate by
//! limit/offset with absolute `next` links, and check the bearer key.
//!
//! Tests steer it: a queue of faults consumed one per request (a status with
//! headers, a delay, an answer replaced after the change was applied), connections
//! dropped before any answer, `next` links aimed at another origin, and writes that
//! answer success but do not stick. Every request is logged with its arrival time.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use hogwarden_posthog::{Backoff, PostHogClient, PostHogConfig, RateLimit};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use url::Url;

pub const ORG: &str = "0190c7e6-aaaa-7000-8000-00000000a0c3";

/// Resource types PostHog accepts in resource-level rules: its access-control
/// resources plus other scope objects (`posthog/scopes.py`) such as `cohort`.
fn known_resource(resource: &str) -> bool {
    hogwarden_posthog::DEFAULT_VIEWER_RESOURCES.contains(&resource) || ["cohort", "annotation"].contains(&resource)
}

/// What the next request gets instead of (or on top of) the normal answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status, body and optional `Retry-After` without touching state.
    Status { status: u16, body: Value, retry_after: Option<&'static str> },
    /// Answer this status with a body that is not JSON (a proxy's page).
    Html { status: u16 },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Apply the request normally, then answer this status instead (the answer was
    /// lost on the way back).
    AppliedThen { status: u16 },
}

impl Fault {
    pub fn drf(status: u16, kind: &str, code: &str, detail: &str) -> Self {
        Fault::Status { status, body: json!({"type": kind, "code": code, "detail": detail, "attr": null}), retry_after: None }
    }

    /// DRF's throttle answer: 429, `Retry-After` and the "Expected available" text.
    pub fn throttled(retry_after: Option<&'static str>, detail_seconds: u64) -> Self {
        Fault::Status {
            status: 429,
            body: json!({"type": "throttled_error", "code": "throttled",
                         "detail": format!("Request was throttled. Expected available in {detail_seconds} seconds."),
                         "attr": null}),
            retry_after,
        }
    }

    pub fn server_error() -> Self {
        Self::drf(500, "server_error", "error", "A server error occurred.")
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub body: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub team: i64,
    pub resource: String,
    pub resource_id: Option<String>,
    pub member: Option<String>,
    pub level: String,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub members: Vec<Value>,
    pub projects: Vec<Value>,
    pub rules: Vec<Rule>,
    pub faults: VecDeque<Fault>,
    pub log: Vec<Hit>,
    /// Origin written into `next`/`previous` links; `None` = this server's own.
    pub link_origin: Option<String>,
    /// PATCHes of a level answer 200 but change nothing.
    pub ignore_level_writes: bool,
    /// PUTs of access rules answer 200/204 but change nothing.
    pub ignore_access_writes: bool,
    /// Connections to close, right after reading the request, before answering.
    pub drop_connections: usize,
    pub dropped: usize,
}

#[derive(Clone)]
pub struct FakePostHog {
    pub base_url: Url,
    pub key: String,
    state: Arc<Mutex<FakeState>>,
}

#[derive(Clone)]
struct Shared {
    key: String,
    own_origin: String,
    state: Arc<Mutex<FakeState>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state")
    }
}

/// A key no other test uses, so every test has its own shared budget.
pub fn unique_key() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("phx_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn member_id(n: u64) -> String {
    format!("0190c7e6-0000-7000-8000-{n:012x}")
}

pub fn user_uuid(n: u64) -> String {
    format!("0188aaaa-0000-7000-8000-{n:012x}")
}

impl FakePostHog {
    pub async fn start() -> Self {
        Self::start_with_key(&unique_key()).await
    }

    pub async fn start_with_key(key: &str) -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let inner = TcpListener::bind("127.0.0.1:0").await.expect("bind inner");
        let inner_addr = inner.local_addr().expect("inner addr");
        let front = TcpListener::bind("127.0.0.1:0").await.expect("bind front");
        let front_addr = front.local_addr().expect("front addr");
        let own_origin = format!("http://{front_addr}");
        let shared = Shared { key: key.to_owned(), own_origin: own_origin.clone(), state: Arc::clone(&state) };
        tokio::spawn(async move {
            axum::serve(inner, router(shared)).await.expect("fake PostHog");
        });
        tokio::spawn(front_door(front, inner_addr, Arc::clone(&state)));
        Self { base_url: Url::parse(&own_origin).expect("url"), key: key.to_owned(), state }
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state")
    }

    pub fn push_fault(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state().log.clone()
    }

    pub fn hit_count(&self) -> usize {
        self.state().log.len()
    }

    /// A configuration for this fake that keeps tests fast: short backoff and
    /// timeout, generous limits.
    pub fn config(&self) -> PostHogConfig {
        let mut config = PostHogConfig::new(self.base_url.clone(), SecretString::from(self.key.clone()), ORG);
        config.request_timeout = Duration::from_secs(2);
        config.max_retries = 3;
        config.max_throttle_wait = Duration::from_secs(5);
        config.backoff = Backoff { min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50) };
        config.burst = RateLimit::new(1000, Duration::from_secs(1));
        config.sustained = RateLimit::new(10_000, Duration::from_secs(60));
        config
    }

    pub fn client(&self) -> PostHogClient {
        PostHogClient::new(self.config()).expect("client")
    }

    /// Adds member number `n` and returns (user uuid, membership id).
    pub fn add_member(&self, n: u64, email: &str, level: i64) -> (String, String) {
        let (user, membership) = (user_uuid(n), member_id(n));
        self.state().members.push(json!({
            "id": membership,
            "user": {"id": n, "uuid": user, "distinct_id": format!("d{n}"), "first_name": format!("First{n}"),
                     "last_name": "Last", "email": email, "is_email_verified": true,
                     "hedgehog_config": null, "role_at_organization": "engineering"},
            "level": level,
            "joined_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z",
            "is_2fa_enabled": n.is_multiple_of(2), "has_social_auth": false, "last_login": "2025-01-02T03:04:05Z"
        }));
        (user, membership)
    }

    pub fn add_project(&self, id: i64, name: &str) {
        self.state().projects.push(json!({"id": id, "uuid": format!("0190-{id}"), "organization": ORG,
                                          "api_token": format!("phc_public_{id}"), "name": name}));
    }

    pub fn add_rule(&self, team: i64, resource: &str, member: Option<&str>, level: &str) {
        let resource_id = (resource == "project").then(|| team.to_string());
        self.state().rules.push(Rule {
            team,
            resource: resource.into(),
            resource_id,
            member: member.map(str::to_owned),
            level: level.into(),
        });
    }

    /// The member's resource-type rules in a project, as (resource, level), sorted.
    pub fn resource_rules(&self, team: i64, member: &str) -> Vec<(String, String)> {
        let mut rules: Vec<(String, String)> = self
            .state()
            .rules
            .iter()
            .filter(|r| r.team == team && r.resource_id.is_none() && r.member.as_deref() == Some(member))
            .map(|r| (r.resource.clone(), r.level.clone()))
            .collect();
        rules.sort();
        rules
    }

    pub fn project_rule(&self, team: i64, member: &str) -> Option<String> {
        self.state()
            .rules
            .iter()
            .find(|r| r.team == team && r.resource == "project" && r.member.as_deref() == Some(member))
            .map(|r| r.level.clone())
    }
}

/// Accepts connections and either closes them after reading the request (when told
/// to) or pipes them to the axum server.
async fn front_door(listener: TcpListener, inner: SocketAddr, state: Arc<Mutex<FakeState>>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let drop_it = {
            let mut s = state.lock().expect("fake state");
            if s.drop_connections > 0 {
                s.drop_connections -= 1;
                s.dropped += 1;
                true
            } else {
                false
            }
        };
        tokio::spawn(async move {
            if drop_it {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                return; // Dropping the socket closes it without an answer.
            }
            if let Ok(mut upstream) = TcpStream::connect(inner).await {
                let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
            }
        });
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/api/organizations/{org}/members/", get(list_members))
        .route("/api/organizations/{org}/members/{user}/", patch(patch_member).delete(delete_member))
        .route("/api/organizations/{org}/projects/", get(list_projects))
        .route("/api/projects/{id}/access_controls/", get(get_project_rules).put(put_project_rule))
        .route("/api/projects/{id}/resource_access_controls/", get(get_resource_rules).put(put_resource_rule))
        .fallback(|| async { drf(404, "invalid_request", "not_found", "Not found.", None) })
        .layer(middleware::from_fn_with_state(shared.clone(), log_auth_and_faults))
        .with_state(shared)
}

fn drf(status: u16, kind: &str, code: &str, detail: &str, attr: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    (status, axum::Json(json!({"type": kind, "code": code, "detail": detail, "attr": attr}))).into_response()
}

async fn log_auth_and_faults(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let header_text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authorization = header_text(header::AUTHORIZATION);
    let fault = {
        let mut state = shared.lock();
        state.log.push(Hit {
            at: Instant::now(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            authorization: authorization.clone(),
            user_agent: header_text(header::USER_AGENT),
            body: serde_json::from_slice(&bytes).ok(),
        });
        state.faults.pop_front()
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match fault {
        Some(Fault::Status { status, body, retry_after }) => {
            let mut response = (StatusCode::from_u16(status).expect("status"), axum::Json(body)).into_response();
            if let Some(wait) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(wait));
            }
            return response;
        }
        Some(Fault::Html { status }) => {
            let status = StatusCode::from_u16(status).expect("status");
            return (status, [(header::CONTENT_TYPE, "text/html")], "<html><body>bad gateway</body></html>").into_response();
        }
        Some(Fault::Delay(wait)) => tokio::time::sleep(wait).await,
        _ => {}
    }
    // PersonalAPIKeyAuthentication: `^Bearer\s+(\S.+)$`, surrounding whitespace ignored.
    let presented = authorization.as_deref().and_then(|h| h.strip_prefix("Bearer")).map(str::trim);
    let response = if presented != Some(shared.key.as_str()) {
        let mut r = drf(
            401,
            "authentication_error",
            "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
            None,
        );
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    } else {
        next.run(request).await
    };
    match fault {
        Some(Fault::AppliedThen { status }) => drf(status, "server_error", "error", "A server error occurred.", None),
        _ => response,
    }
}

fn page(shared: &Shared, path: &str, items: Vec<Value>, query: &HashMap<String, String>) -> Response {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let count = items.len();
    let origin = shared.lock().link_origin.clone().unwrap_or_else(|| shared.own_origin.clone());
    let link = |o: usize| {
        let mut extra: Vec<String> =
            query.iter().filter(|(k, _)| *k != "limit" && *k != "offset").map(|(k, v)| format!("{k}={v}")).collect();
        extra.sort();
        let extra = extra.iter().map(|e| format!("&{e}")).collect::<String>();
        Value::String(format!("{origin}{path}?limit={limit}&offset={o}{extra}"))
    };
    let next = if offset + limit < count { link(offset + limit) } else { Value::Null };
    let previous = if offset > 0 { link(offset.saturating_sub(limit)) } else { Value::Null };
    let results: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    axum::Json(json!({"count": count, "next": next, "previous": previous, "results": results})).into_response()
}

async fn list_members(State(shared): State<Shared>, Path(org): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    if org != ORG {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    let members: Vec<Value> = shared
        .lock()
        .members
        .iter()
        .filter(|m| query.get("email").is_none_or(|e| m["user"]["email"].as_str().is_some_and(|me| me.eq_ignore_ascii_case(e))))
        .cloned()
        .collect();
    page(&shared, &format!("/api/organizations/{org}/members/"), members, &query)
}

async fn patch_member(State(shared): State<Shared>, Path((org, user)): Path<(String, String)>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return drf(400, "invalid_request", "parse_error", "JSON parse error", None);
    };
    let Some(level) = body.get("level").and_then(Value::as_i64) else {
        return drf(400, "validation_error", "required", "This field is required.", Some("level"));
    };
    if ![1, 8, 15].contains(&level) {
        return drf(400, "validation_error", "invalid_choice", &format!("\"{level}\" is not a valid choice."), Some("level"));
    }
    let mut state = shared.lock();
    let ignore = state.ignore_level_writes;
    let Some(member) = state.members.iter_mut().find(|m| org == ORG && m["user"]["uuid"] == user.as_str()) else {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    };
    let mut answer = member.clone();
    answer["level"] = json!(level);
    if !ignore {
        *member = answer.clone();
    }
    axum::Json(answer).into_response()
}

async fn delete_member(State(shared): State<Shared>, Path((org, user)): Path<(String, String)>) -> Response {
    let mut state = shared.lock();
    let before = state.members.len();
    state.members.retain(|m| !(org == ORG && m["user"]["uuid"] == user.as_str()));
    if state.members.len() == before {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_projects(State(shared): State<Shared>, Path(org): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    if org != ORG {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    let projects = shared.lock().projects.clone();
    page(&shared, &format!("/api/organizations/{org}/projects/"), projects, &query)
}

fn rule_json(rule: &Rule) -> Value {
    json!({"access_level": rule.level, "resource": rule.resource, "resource_id": rule.resource_id,
           "organization_member": rule.member, "role": null, "created_by": 1,
           "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"})
}

fn project_exists(shared: &Shared, id: i64) -> bool {
    shared.lock().projects.iter().any(|p| p["id"] == id)
}

async fn get_project_rules(State(shared): State<Shared>, Path(id): Path<i64>) -> Response {
    if !project_exists(&shared, id) {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    let rules: Vec<Value> = shared
        .lock()
        .rules
        .iter()
        .filter(|r| r.team == id && r.resource == "project" && r.resource_id.as_deref() == Some(&id.to_string()))
        .map(rule_json)
        .collect();
    axum::Json(json!({"access_controls": rules, "available_access_levels": ["none", "member", "admin"],
                      "default_access_level": "admin", "minimum_access_level": "none",
                      "maximum_access_level": "admin", "user_access_level": "admin",
                      "user_can_edit_access_levels": true, "inherited_access": null}))
    .into_response()
}

async fn get_resource_rules(State(shared): State<Shared>, Path(id): Path<i64>) -> Response {
    if !project_exists(&shared, id) {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    let rules: Vec<Value> = shared.lock().rules.iter().filter(|r| r.team == id && r.resource_id.is_none()).map(rule_json).collect();
    axum::Json(json!({"access_controls": rules,
                      "available_access_levels": ["none", "viewer", "editor", "manager"],
                      "default_access_level": "editor", "minimum_access_level": "none",
                      "maximum_access_level": "manager", "user_access_level": "admin",
                      "user_can_edit_access_levels": true}))
    .into_response()
}

/// The shared upsert of `apply_access_control_rule`: `null` deletes (204), anything
/// else creates or updates (200 with the rule).
fn upsert(shared: &Shared, team: i64, resource: &str, resource_id: Option<String>, body: &Value) -> Response {
    let member = body.get("organization_member").and_then(Value::as_str).map(str::to_owned);
    let mut state = shared.lock();
    if let Some(m) = &member
        && !state.members.iter().any(|x| x["id"].as_str() == Some(m.as_str()))
    {
        return drf(
            400,
            "validation_error",
            "invalid_input",
            "Invalid organization member id. Use the 'id' field from the /api/organizations/<organization_id>/members/ endpoint.",
            Some("organization_member"),
        );
    }
    let level = body.get("access_level").and_then(Value::as_str).map(str::to_owned);
    let ignore = state.ignore_access_writes;
    let existing =
        state.rules.iter().position(|r| r.team == team && r.resource == resource && r.resource_id == resource_id && r.member == member);
    match level {
        None => {
            if let (Some(i), false) = (existing, ignore) {
                state.rules.remove(i);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Some(level) => {
            let rule = Rule { team, resource: resource.into(), resource_id, member, level };
            let json = rule_json(&rule);
            if !ignore {
                match existing {
                    Some(i) => state.rules[i] = rule,
                    None => state.rules.push(rule),
                }
            }
            axum::Json(json).into_response()
        }
    }
}

async fn put_project_rule(State(shared): State<Shared>, Path(id): Path<i64>, body: axum::body::Bytes) -> Response {
    if !project_exists(&shared, id) {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return drf(400, "invalid_request", "parse_error", "JSON parse error", None);
    };
    if let Some(level) = body.get("access_level").and_then(Value::as_str)
        && !["none", "member", "admin"].contains(&level)
    {
        return drf(
            400,
            "validation_error",
            "invalid_input",
            "Invalid access level. Must be one of: none, member, admin",
            Some("access_level"),
        );
    }
    upsert(&shared, id, "project", Some(id.to_string()), &body)
}

async fn put_resource_rule(State(shared): State<Shared>, Path(id): Path<i64>, body: axum::body::Bytes) -> Response {
    if !project_exists(&shared, id) {
        return drf(404, "invalid_request", "not_found", "Not found.", None);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return drf(400, "invalid_request", "parse_error", "JSON parse error", None);
    };
    if body.get("resource_id").is_some_and(|r| !r.is_null()) {
        return drf(
            403,
            "authentication_error",
            "permission_denied",
            "Cannot modify access controls for a resource different from the URL target.",
            None,
        );
    }
    let Some(resource) = body.get("resource").and_then(Value::as_str) else {
        return drf(400, "validation_error", "required", "This field is required.", Some("resource"));
    };
    if !known_resource(resource) {
        return drf(400, "validation_error", "invalid_input", "Invalid resource. Must be one of: …", Some("resource"));
    }
    if let Some(level) = body.get("access_level").and_then(Value::as_str)
        && !["none", "viewer", "editor", "manager"].contains(&level)
    {
        return drf(
            400,
            "validation_error",
            "invalid_input",
            "Invalid access level. Must be one of: none, viewer, editor, manager",
            Some("access_level"),
        );
    }
    let resource = resource.to_owned();
    upsert(&shared, id, &resource, None, &body)
}
