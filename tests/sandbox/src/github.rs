//! A small GitHub REST API sandbox: the secret scanning alert endpoint a
//! `secret_scanning_alert` webhook sends its reader to
//! (`GET /repos/{owner}/{repo}/secret-scanning/alerts/{alert_number}`), which returns the
//! secret literal unless `hide_secret=true` (GitHub changelog 2025-05-20). It needs a token
//! (`Authorization: Bearer …` or `token …`); otherwise 401 `Bad credentials`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Default)]
struct Alerts {
    /// (repository full name, number) → (secret type, secret).
    by_repo: HashMap<(String, u64), (String, String)>,
    next: u64,
}

#[derive(Debug, Clone)]
struct GitHubState {
    token: Arc<str>,
    alerts: Arc<Mutex<Alerts>>,
}

/// A running GitHub API sandbox.
#[derive(Debug)]
pub struct GitHubSandbox {
    url: String,
    state: GitHubState,
    task: JoinHandle<()>,
}

impl GitHubSandbox {
    /// Serves on a free loopback port; `token` is the only credential it accepts.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = GitHubState { token: token.into(), alerts: Arc::default() };
        let router = Router::new().route("/repos/{owner}/{repo}/secret-scanning/alerts/{number}", get(alert)).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { url, state, task })
    }

    /// The API base URL (what `https://api.github.com` is in production).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens an alert for `secret` in `repository` (`owner/name`); returns its number.
    pub fn add_alert(&self, repository: &str, secret_type: &str, secret: &str) -> u64 {
        let mut alerts = self.state.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        alerts.next += 1;
        let number = alerts.next;
        alerts.by_repo.insert((repository.to_owned(), number), (secret_type.to_owned(), secret.to_owned()));
        number
    }

    pub fn shutdown(self) {
        self.task.abort();
    }
}

fn github_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string() })),
    )
        .into_response()
}

async fn alert(
    State(state): State<GitHubState>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")))
        .map(str::trim);
    if token != Some(&*state.token) {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let Ok(number) = number.parse::<u64>() else { return github_error(StatusCode::NOT_FOUND, "Not Found") };
    let alerts = state.alerts.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((secret_type, secret)) = alerts.by_repo.get(&(format!("{owner}/{repo}"), number)) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let hide = query.get("hide_secret").is_some_and(|v| v == "true");
    let mut body = json!({
        "number": number,
        "state": "open",
        "secret_type": secret_type,
        "secret_type_display_name": secret_type,
        "validity": "unknown",
        "html_url": format!("https://github.com/{owner}/{repo}/security/secret-scanning/{number}"),
    });
    if !hide {
        body["secret"] = json!(secret);
    }
    Json(body).into_response()
}
