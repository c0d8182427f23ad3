//! GitHub's secret scanning alert API, the one place a `secret_scanning_alert` webhook's
//! secret can be read (`GET /repos/{owner}/{repo}/secret-scanning/alerts/{n}`). The token
//! (a fine-grained token with "Secret scanning alerts: read") is read from the vault on
//! each call, so a replaced token is used at once. Neither it nor the secret is logged.

use std::sync::Arc;

use async_trait::async_trait;
use hogwarden_core::Error;
use hogwarden_core::ports::{Stage, Vault};
use hogwarden_core::webhooks::GitHubAlerts;
use reqwest::header::{self, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The vault entry holding the GitHub token.
pub const GITHUB_TOKEN_SECRET: &str = "hogwarden/github-token";

/// GitHub's REST API at `base` (`https://api.github.com`).
#[derive(Clone)]
pub struct GitHubAlertsClient {
    base: Url,
    vault: Arc<dyn Vault>,
    http: reqwest::Client,
}

impl std::fmt::Debug for GitHubAlertsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubAlertsClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl GitHubAlertsClient {
    pub fn new(base: Url, vault: Arc<dyn Vault>) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("hogwarden/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { base, vault, http }
    }
}

#[derive(Deserialize)]
struct Alert {
    #[serde(default)]
    secret: Option<String>,
}

#[async_trait]
impl GitHubAlerts for GitHubAlertsClient {
    #[tracing::instrument(skip_all, fields(repository = %repository, number))]
    async fn alert_secret(&self, repository: &str, number: u64) -> hogwarden_core::error::Result<Option<SecretString>> {
        let (owner, repo) = repository.split_once('/').ok_or_else(|| Error::Forbidden("the repository is not owner/name".into()))?;
        let token = self
            .vault
            .get(GITHUB_TOKEN_SECRET, Stage::Current)
            .await?
            .ok_or_else(|| Error::NotFound(format!("a GitHub token in the vault entry {GITHUB_TOKEN_SECRET}")))?;
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|()| Error::Vault("the GitHub API URL cannot have a path".into()))?.pop_if_empty().extend([
            "repos",
            owner,
            repo,
            "secret-scanning",
            "alerts",
            &number.to_string(),
        ]);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| Error::Vault("the GitHub token cannot be sent in a header".into()))?;
        auth.set_sensitive(true);
        let response = self
            .http
            .get(url)
            .header(header::AUTHORIZATION, auth)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| Error::Upstream(hogwarden_core::ports::PostHogError::Unavailable(format!("GitHub: {}", e.without_url()))))?;
        match response.status().as_u16() {
            200 => {
                let alert: Alert =
                    response.json().await.map_err(|e| Error::Storage(format!("GitHub's alert is unreadable: {}", e.without_url())))?;
                Ok(alert.secret.map(SecretString::from))
            }
            404 => Ok(None),
            status => {
                Err(Error::Upstream(hogwarden_core::ports::PostHogError::Unavailable(format!("GitHub answered {status} for the alert"))))
            }
        }
    }
}
