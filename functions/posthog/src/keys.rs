//! Project secret API keys (`/api/projects/{id}/project_secret_api_keys/`, contract §4)
//! with Hogwarden's own key, and the check a `phs_` key makes with itself (flag
//! definitions for local evaluation, the endpoint such keys exist for).
//!
//! Values PostHog returns travel only as [`SecretString`]; nothing here logs one.

use async_trait::async_trait;
use hogwarden_core::keys::{IssuedKey, ProjectKeys, ProjectToken, SecretKeyInfo};
use hogwarden_core::ports::PostHogError;
use hogwarden_core::types::ProjectId;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::client::{Call, PostHogClient, decode};
use crate::config::PostHogConfig;
use crate::error::ClientError;

#[derive(Deserialize)]
struct SecretKeyWire {
    id: String,
    label: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    mask_value: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    last_rolled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A project as the organization's project list returns it, read only for its token.
#[derive(Deserialize)]
struct ProjectTokenWire {
    id: i64,
    name: String,
    #[serde(default)]
    api_token: Option<SecretString>,
}

impl SecretKeyWire {
    fn issued(self) -> Result<IssuedKey, ClientError> {
        let value = self.value.ok_or_else(|| ClientError::Decode("PostHog issued a project secret key without its value".into()))?;
        Ok(IssuedKey { id: self.id, label: self.label, value: SecretString::from(value) })
    }
}

impl PostHogClient {
    /// One GET of `segments`, decoded.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        decode(self.execute(Call::get(self.url(segments, &[])?)).await?)
    }

    fn secret_keys_url(&self, project: ProjectId, rest: &[&str]) -> Result<url::Url, ClientError> {
        let id = project.get().to_string();
        let mut segments = vec!["api", "projects", id.as_str(), "project_secret_api_keys"];
        segments.extend_from_slice(rest);
        self.url(&segments, &[])
    }
}

#[async_trait]
impl ProjectKeys for PostHogClient {
    #[tracing::instrument(skip_all, fields(project = %project))]
    async fn list_secret_keys(&self, project: ProjectId) -> Result<Vec<SecretKeyInfo>, PostHogError> {
        let id = project.get().to_string();
        let keys: Vec<SecretKeyWire> = self.list_all(&["api", "projects", &id, "project_secret_api_keys"], &[]).await?;
        Ok(keys
            .into_iter()
            .map(|k| SecretKeyInfo {
                id: k.id,
                label: k.label,
                mask: k.mask_value,
                scopes: k.scopes,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
                last_rolled_at: k.last_rolled_at,
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn project_tokens(&self) -> Result<Vec<ProjectToken>, PostHogError> {
        let path = self.org_path(&["projects"]);
        let projects: Vec<ProjectTokenWire> = self.list_all(&path, &[]).await?;
        projects
            .into_iter()
            .filter_map(|p| {
                let value = p.api_token?;
                Some(
                    ProjectId::new(p.id)
                        .map(|project| ProjectToken { project, project_name: p.name, value })
                        .map_err(|_| PostHogError::Unavailable(format!("PostHog reports a project with id {}", p.id))),
                )
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(project = %project))]
    async fn create_secret_key(&self, project: ProjectId, label: &str, scopes: &[String]) -> Result<IssuedKey, PostHogError> {
        let call = Call::json(Method::POST, self.secret_keys_url(project, &[])?, &json!({ "label": label, "scopes": scopes }))?;
        let key: SecretKeyWire = decode(self.execute(call).await?)?;
        Ok(key.issued()?)
    }

    #[tracing::instrument(skip_all, fields(project = %project, key = %id))]
    async fn roll_secret_key(&self, project: ProjectId, id: &str) -> Result<IssuedKey, PostHogError> {
        let call = Call::json(Method::POST, self.secret_keys_url(project, &[id, "roll"])?, &json!({}))?;
        let key: SecretKeyWire = decode(self.execute(call).await?)?;
        Ok(key.issued()?)
    }

    #[tracing::instrument(skip_all, fields(project = %project, key = %id))]
    async fn delete_secret_key(&self, project: ProjectId, id: &str) -> Result<bool, PostHogError> {
        let call = Call { method: Method::DELETE, url: self.secret_keys_url(project, &[id])?, body: None, gone_is_done: true };
        match self.execute(call).await {
            Ok(_) => Ok(true),
            Err(ClientError::Api(e)) if e.status == 404 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One GET of the flag definitions with the key as bearer; no retries beyond one
    /// transport retry (a check, not a change).
    #[tracing::instrument(skip_all)]
    async fn secret_key_works(&self, value: &SecretString) -> Result<bool, PostHogError> {
        let url = self.url(&["api", "feature_flag", "local_evaluation"], &[])?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", value.expose_secret())).map_err(|_| PostHogError::Rejected {
            status: 0,
            code: "config".into(),
            detail: "the key cannot be sent in a header".into(),
        })?;
        auth.set_sensitive(true);
        let mut last = None;
        for _ in 0..3 {
            let sent = self.keyed().http.get(url.clone()).header(header::AUTHORIZATION, auth.clone()).send().await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(true),
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN => return Ok(false),
                Ok(r) if r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS => {
                    last = Some(format!("PostHog answered {}", r.status().as_u16()));
                }
                Ok(r) => {
                    return Err(PostHogError::Rejected {
                        status: r.status().as_u16(),
                        code: String::new(),
                        detail: "unexpected answer to the key check".into(),
                    });
                }
                Err(e) => last = Some(format!("could not reach PostHog: {}", e.without_url())),
            }
            tokio::time::sleep(self.inner.config.backoff.min_delay).await;
        }
        Err(PostHogError::Unavailable(last.unwrap_or_default()))
    }
}

/// `POST /api/revoke_leaked_key`: public, so sent without Hogwarden's key.
#[async_trait]
impl hogwarden_core::webhooks::LeakReporter for PostHogClient {
    #[tracing::instrument(skip_all)]
    async fn report_leaked_key(&self, value: &SecretString) -> Result<Option<String>, PostHogError> {
        let url = self.url(&["api", "revoke_leaked_key"], &[])?;
        let http = reqwest::Client::builder()
            .timeout(self.inner.config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PostHogError::Unavailable(format!("cannot build the HTTP client: {}", e.without_url())))?;
        let response = http
            .post(url)
            .json(&json!({ "token": value.expose_secret() }))
            .send()
            .await
            .map_err(|e| PostHogError::Unavailable(format!("could not reach PostHog: {}", e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                PostHogError::Unavailable(format!("PostHog answered {} to the leaked-key report", status.as_u16()))
            } else {
                PostHogError::Rejected {
                    status: status.as_u16(),
                    code: String::new(),
                    detail: "PostHog refused the leaked-key report".into(),
                }
            });
        }
        #[derive(Deserialize)]
        struct Found {
            found: bool,
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let found: Found =
            response.json().await.map_err(|e| PostHogError::Unavailable(format!("unreadable answer: {}", e.without_url())))?;
        Ok(if found.found { found.kind.or(Some("unknown".into())) } else { None })
    }
}

/// `GET /api/personal_api_keys/@current/`: the one personal-key read a key may make.
#[derive(Deserialize)]
struct CurrentKey {
    #[serde(default)]
    scopes: Vec<String>,
}

#[async_trait]
impl hogwarden_core::usecases::ServiceKeyCheck for PostHogClient {
    /// Asks PostHog about `key` with a client of its own, which never follows the vault
    /// (a candidate PostHog refuses must read as refused, not as the stored key).
    async fn inspect(&self, key: &SecretString) -> Result<hogwarden_core::usecases::CandidateKey, PostHogError> {
        let candidate = PostHogClient::new(PostHogConfig { api_key: key.clone(), ..self.inner.config.clone() })?;
        // A 403 (a scope missing) still means PostHog knows the key: its scopes say which.
        let accepted = match candidate.check_key().await {
            Ok(accepted) => accepted,
            Err(ClientError::Api(e)) if e.status == 403 => true,
            Err(e) => return Err(e.into()),
        };
        if !accepted {
            return Ok(hogwarden_core::usecases::CandidateKey { accepted, scopes: Vec::new() });
        }
        let current: CurrentKey = candidate.get_json(&["api", "personal_api_keys", "@current"]).await?;
        Ok(hogwarden_core::usecases::CandidateKey { accepted, scopes: current.scopes })
    }

    async fn key_stored(&self) {
        self.reload_key().await;
    }
}

/// keys-alerts: `GET /api/personal_api_keys/@current/` as PostHog answers it (the one
/// personal-key read a key may make), for the inventory.
#[derive(Deserialize)]
struct CurrentKeyMeta {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    mask_value: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    last_rolled_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[async_trait]
impl hogwarden_core::usecases::OwnKeyInfo for PostHogClient {
    async fn own_key(&self) -> Result<hogwarden_core::usecases::OwnKey, PostHogError> {
        let meta: CurrentKeyMeta = self.get_json(&["api", "personal_api_keys", "@current"]).await?;
        Ok(hogwarden_core::usecases::OwnKey {
            label: meta.label,
            mask: meta.mask_value,
            scopes: meta.scopes,
            created_at: meta.created_at,
            last_used_at: meta.last_used_at,
            last_rolled_at: meta.last_rolled_at,
        })
    }
}
