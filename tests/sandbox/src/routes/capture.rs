//! Capture (`/i/v0/e/`, `/e/`, `/capture/`, `/batch/`): PostHog's ingestion endpoint, reduced
//! to what a token check needs (contract §9; PostHog's `rust/capture`).
//!
//! A missing token is a 401 (`NoTokenError`), a token that is not a `phc_`-shaped string is
//! a 401 (`TokenValidationError`), and a token no project holds is a 401 as capture's known-token
//! check answers in `Enforce` mode (older deployments accepted it and dropped the event later).
//! An accepted request answers `{"status":"Ok"}`. Events are kept per project for tests.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http::StatusCode;
use serde_json::{Value, json};

use crate::app::SandboxState;
use crate::keyring::CapturedEvent;

pub(super) fn routes() -> MethodRouter<SandboxState> {
    post(capture)
}

fn refuse(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

fn event_fields(event: &Value) -> Option<(String, String)> {
    let name = event.get("event")?.as_str()?.to_owned();
    let distinct_id =
        event.get("distinct_id").or_else(|| event.get("properties").and_then(|p| p.get("distinct_id"))).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })?;
    Some((name, distinct_id))
}

fn token_of(value: &Value) -> Option<&str> {
    value
        .get("api_key")
        .or_else(|| value.get("token"))
        .or_else(|| value.get("properties").and_then(|p| p.get("token")))
        .and_then(Value::as_str)
}

async fn capture(State(state): State<SandboxState>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "failed to decode request: invalid JSON");
    };
    let events: Vec<Value> = match (body.get("batch"), &body) {
        (Some(Value::Array(batch)), _) => batch.clone(),
        (_, Value::Array(items)) => items.clone(),
        _ => vec![body.clone()],
    };
    if events.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "request holds no event");
    }
    let mut tokens: Vec<&str> = events.iter().filter_map(token_of).collect();
    if let Some(top) = token_of(&body) {
        tokens.push(top);
    }
    tokens.sort_unstable();
    tokens.dedup();
    let token = match tokens.as_slice() {
        [] => return refuse(StatusCode::UNAUTHORIZED, "event submitted without an api_key"),
        [one] => (*one).to_owned(),
        _ => return refuse(StatusCode::UNAUTHORIZED, "batch submitted with inconsistent api_key values"),
    };
    if token.is_empty() || token.len() > 64 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse(StatusCode::UNAUTHORIZED, "API key is not valid: malformed");
    }
    let Some(project_id) = state.store().project_by_token(&token).map(|p| p.id) else {
        return refuse(StatusCode::UNAUTHORIZED, "API key is not valid: unknown token");
    };
    let mut fields = Vec::new();
    for event in &events {
        match event_fields(event) {
            Some(f) if !f.0.is_empty() && !f.1.is_empty() => fields.push(f),
            Some(f) if f.0.is_empty() => return refuse(StatusCode::BAD_REQUEST, "event submitted with an empty event name"),
            Some(_) => return refuse(StatusCode::BAD_REQUEST, "event submitted with an empty distinct_id"),
            None if event.get("event").is_none() => return refuse(StatusCode::BAD_REQUEST, "event submitted with an empty event name"),
            None => return refuse(StatusCode::BAD_REQUEST, "event submitted without a distinct_id"),
        }
    }
    let now = state.now();
    let mut ring = state.keyring();
    for (event, distinct_id) in fields {
        ring.events.push(CapturedEvent { project_id, event, distinct_id, at: now });
    }
    (StatusCode::OK, Json(json!({ "status": "Ok" }))).into_response()
}
