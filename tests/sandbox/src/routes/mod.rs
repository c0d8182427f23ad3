//! The HTTP surface: PostHog's routes, the request gate that adds latency and faults, and
//! the helpers every route shares (JSON bodies, query strings, pagination, timestamps).

mod access_controls;
mod activity;
mod capture;
mod invites;
pub(crate) mod keys;
mod members;
mod objects;
mod projects;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, Method, header};
use serde::Serialize;
use serde_json::Value;

use crate::app::{RecordedRequest, SandboxState};
use crate::config::FaultKind;
use crate::errors::ApiError;
use crate::model::User;
use crate::server::ConnectionControl;

/// PostHog's REST API over `state`. Routes answer with and without the trailing slash,
/// as PostHog's router does.
pub fn router(state: SandboxState) -> Router {
    let routes = [
        ("/api/organizations/{org_id}/members/", members::routes()),
        ("/api/organizations/{org_id}/members/{user_uuid}/", members::member_routes()),
        ("/api/organizations/{org_id}/invites/", invites::routes()),
        ("/api/organizations/{org_id}/invites/{invite_id}/", invites::invite_routes()),
        ("/api/organizations/{org_id}/projects/", projects::routes()),
        ("/api/organizations/{org_id}/advanced_activity_logs/", activity::org_routes()),
        ("/api/projects/{project_id}/access_controls/", access_controls::project_routes()),
        ("/api/projects/{project_id}/resource_access_controls/", access_controls::resource_routes()),
        ("/api/projects/{project_id}/global_access_controls/", access_controls::resource_routes()),
        ("/api/projects/{project_id}/users_with_access/", access_controls::users_with_access_routes()),
        ("/api/projects/{project_id}/activity_log/", activity::project_routes()),
        // Keys (routes/keys.rs) and capture (routes/capture.rs).
        ("/api/projects/{project_id}/project_secret_api_keys/", keys::secret_keys_routes()),
        ("/api/projects/{project_id}/project_secret_api_keys/{key_id}/", keys::secret_key_routes()),
        ("/api/projects/{project_id}/project_secret_api_keys/{key_id}/roll/", keys::secret_key_roll_routes()),
        ("/api/projects/{project_id}/reset_token/", keys::reset_token_routes()),
        ("/api/environments/{project_id}/reset_token/", keys::reset_token_routes()),
        ("/api/personal_api_keys/", keys::personal_keys_routes()),
        ("/api/personal_api_keys/{key_id}/", keys::personal_key_routes()),
        ("/api/personal_api_keys/{key_id}/roll/", keys::personal_key_roll_routes()),
        ("/api/organizations/{org_id}/personal_api_keys/", keys::org_personal_keys_routes()),
        ("/api/revoke_leaked_key/", keys::revoke_leaked_key_routes()),
        ("/api/feature_flag/local_evaluation/", keys::local_evaluation_routes()),
        ("/i/v0/e/", capture::routes()),
        ("/e/", capture::routes()),
        ("/capture/", capture::routes()),
        ("/batch/", capture::routes()),
    ];
    let mut app = Router::new();
    for (path, method_router) in routes {
        app = with_optional_slash(app, path, method_router);
    }
    for kind in crate::objects::ObjectKind::ALL {
        let list = format!("/api/projects/{{project_id}}/{}/", kind.segment());
        app = with_optional_slash(app, &list, objects::list_routes(kind));
        let controls = format!("/api/projects/{{project_id}}/{}/{{object}}/access_controls/", kind.segment());
        app = with_optional_slash(app, &controls, objects::access_control_routes(kind));
    }
    app.fallback(|| async { ApiError::not_found() }).layer(middleware::from_fn_with_state(state.clone(), gate)).with_state(state)
}

fn with_optional_slash(app: Router<SandboxState>, path: &str, method_router: MethodRouter<SandboxState>) -> Router<SandboxState> {
    let bare = path.trim_end_matches('/');
    app.route(path, method_router.clone()).route(bare, method_router)
}

/// Drops `personal_api_key` values from a query string before it is recorded.
fn redacted_query(query: Option<&str>) -> Option<String> {
    let query = query?;
    if !query.contains("personal_api_key") {
        return Some(query.to_owned());
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "personal_api_key" {
            out.append_pair(&k, "REDACTED");
        } else {
            out.append_pair(&k, &v);
        }
    }
    Some(out.finish())
}

/// Closes the request's connection without a response. Without a connection (a router
/// driven by `oneshot`) there is nothing to close, so it answers 500 instead.
async fn drop_connection(control: Option<ConnectionControl>) -> Response {
    match control {
        Some(control) => {
            control.drop_connection();
            // The connection task drops this future with the connection; never answer.
            std::future::pending::<Response>().await
        }
        None => {
            tracing::warn!("drop fault without a connection to drop; answering 500");
            ApiError::server_error().into_response()
        }
    }
}

/// Every request passes here first: latency, then the fault decision, then the route. Faults
/// other than `DropAfterWrite` are decided before the route runs, so nothing is written.
async fn gate(State(state): State<SandboxState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = redacted_query(request.uri().query());
    let control = request.extensions().get::<ConnectionControl>().cloned();
    let at = Utc::now();
    let latency = state.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = state.faults().decide(&method, &path);
    let record =
        |status: Option<u16>| RecordedRequest { method: method.clone(), path: path.clone(), query: query.clone(), status, fault, at };
    let early = match fault {
        Some(FaultKind::ServerError | FaultKind::Status5xx) => Some(ApiError::server_error()),
        Some(FaultKind::DatabaseUnavailable) => Some(ApiError::database_unavailable()),
        _ => None,
    };
    if let Some(error) = early {
        state.record(record(Some(error.status.as_u16())));
        return error.into_response();
    }
    match fault {
        Some(FaultKind::Timeout) => {
            state.record(record(None));
            tokio::time::sleep(state.timeout_hold()).await;
            ApiError::gateway_timeout().into_response()
        }
        Some(FaultKind::DropConnection) => {
            state.record(record(None));
            drop_connection(control).await
        }
        Some(FaultKind::DropAfterWrite) => {
            let _applied = next.run(request).await;
            state.record(record(None));
            drop_connection(control).await
        }
        _ => {
            let response = next.run(request).await;
            let response = posthog_405(response, &method);
            state.record(record(Some(response.status().as_u16())));
            response
        }
    }
}

/// Gives axum's bodiless 405 PostHog's error body, keeping its `Allow` header.
fn posthog_405(response: Response, method: &Method) -> Response {
    if response.status() != http::StatusCode::METHOD_NOT_ALLOWED || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replaced = ApiError::method_not_allowed(method.as_str()).into_response();
    if let Some(allow) = allow {
        replaced.headers_mut().insert(header::ALLOW, allow);
    }
    replaced
}

/// Parses a request body as DRF's JSON parser does: an empty body is `{}`.
pub(crate) fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
        && !content_type.trim_start().starts_with("application/json")
    {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::parse_error(format!("JSON parse error - {e}")))
}

/// The body as an object, or DRF's "Expected a dictionary" error.
pub(crate) fn json_object(value: Value) -> Result<serde_json::Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        other => {
            let kind = match other {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Bool(_) => "bool",
                Value::Number(n) if n.is_f64() => "float",
                Value::Number(_) => "int",
                _ => "NoneType",
            };
            Err(ApiError::invalid_input(format!("Invalid data. Expected a dictionary, but got {kind}.")))
        }
    }
}

/// Query parameters, keeping repeated keys, as Django's `QueryDict`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Self(map)
    }

    /// The last value of `key`, as Django's `QueryDict.get`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.last()).map(String::as_str)
    }

    /// Every value of `key` and `key[]`, split on commas.
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        [key, bracketed.as_str()]
            .iter()
            .filter_map(|k| self.0.get(*k))
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn with(&self, key: &str, value: String) -> Self {
        let mut copy = self.clone();
        copy.0.insert(key.to_owned(), vec![value]);
        copy
    }

    fn without(&self, key: &str) -> Self {
        let mut copy = self.clone();
        copy.0.remove(key);
        copy
    }

    /// An absolute URL on the sandbox with these parameters, sorted as DRF's
    /// `replace_query_param` writes them.
    fn url(&self, base: &str, path: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, values) in &self.0 {
            for v in values {
                query.append_pair(k, v);
            }
        }
        let query = query.finish();
        if query.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{query}") }
    }
}

/// DRF's `_positive_int`: a malformed or out-of-range value falls back to `default`.
fn positive(value: Option<&str>, default: usize, strict: bool) -> usize {
    match value.and_then(|v| v.parse::<i64>().ok()) {
        Some(n) if n > 0 || (n == 0 && !strict) => usize::try_from(n).unwrap_or(default),
        _ => default,
    }
}

/// A page of a `LimitOffsetPagination` list: `{count, next, previous, results}`.
#[derive(Debug, Serialize)]
pub(crate) struct LimitOffsetPage<T> {
    count: usize,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<T>,
}

/// Pages `items` as DRF's `LimitOffsetPagination` with `PAGE_SIZE = 100`.
pub(crate) fn limit_offset<T>(items: Vec<T>, params: &Params, base: &str, path: &str) -> LimitOffsetPage<T> {
    let limit = positive(params.get("limit"), 100, true);
    let offset = positive(params.get("offset"), 0, false);
    let count = items.len();
    let next = (offset + limit < count)
        .then(|| params.with("limit", limit.to_string()).with("offset", (offset + limit).to_string()).url(base, path));
    let previous = (offset > 0).then(|| {
        let with_limit = params.with("limit", limit.to_string());
        if offset <= limit {
            with_limit.without("offset").url(base, path)
        } else {
            with_limit.with("offset", (offset - limit).to_string()).url(base, path)
        }
    });
    let results = items.into_iter().skip(offset).take(limit).collect();
    LimitOffsetPage { count, next, previous, results }
}

/// A timestamp as DRF writes it: ISO 8601, `Z`, microseconds only when non-zero.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    if at.timestamp_subsec_micros() == 0 {
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// `UserBasicSerializer`.
#[derive(Debug, Serialize)]
pub(crate) struct UserBasic {
    id: i64,
    uuid: String,
    distinct_id: String,
    first_name: String,
    last_name: String,
    email: String,
    is_email_verified: Option<bool>,
    hedgehog_config: Option<Value>,
    role_at_organization: Option<String>,
}

impl From<&User> for UserBasic {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            uuid: user.uuid.to_string(),
            distinct_id: user.distinct_id.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            email: user.email.clone(),
            is_email_verified: user.is_email_verified,
            hedgehog_config: None,
            role_at_organization: user.role_at_organization.clone(),
        }
    }
}

/// Parses a project id path segment; anything else is a 404, as PostHog's router gives.
pub(crate) fn project_id(segment: &str) -> Result<i64, ApiError> {
    segment.parse().map_err(|_| ApiError::not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(count: usize, query: &str) -> LimitOffsetPage<usize> {
        limit_offset((0..count).collect(), &Params::parse(Some(query)), "http://h", "/p/")
    }

    #[test]
    fn first_page_links_next_and_not_previous() {
        let page = page(250, "");
        assert_eq!(page.results.len(), 100);
        assert_eq!(page.next.as_deref(), Some("http://h/p/?limit=100&offset=100"));
        assert_eq!(page.previous, None);
    }

    #[test]
    fn second_page_previous_drops_offset() {
        let page = page(250, "limit=100&offset=100");
        assert_eq!(page.previous.as_deref(), Some("http://h/p/?limit=100"));
        assert_eq!(page.next.as_deref(), Some("http://h/p/?limit=100&offset=200"));
    }

    #[test]
    fn last_page_has_no_next() {
        let page = page(250, "offset=200");
        assert_eq!(page.results, (200..250).collect::<Vec<_>>());
        assert_eq!(page.next, None);
        assert_eq!(page.previous.as_deref(), Some("http://h/p/?limit=100&offset=100"));
    }

    #[test]
    fn other_parameters_are_kept_sorted_and_encoded() {
        let page = page(3, "limit=1&email=a@b.c");
        assert_eq!(page.next.as_deref(), Some("http://h/p/?email=a%40b.c&limit=1&offset=1"));
    }

    #[test]
    fn malformed_limits_fall_back_to_the_default() {
        assert_eq!(page(250, "limit=0").results.len(), 100);
        assert_eq!(page(250, "limit=abc&offset=-5").results.len(), 100);
    }

    #[test]
    fn timestamps_have_microseconds_only_when_present() {
        let whole = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(timestamp(whole), "2023-11-14T22:13:20Z");
        let fraction = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        assert_eq!(timestamp(fraction), "2023-11-14T22:13:20.000005Z");
    }
}
