//! PostHog's capture endpoint (`POST /i/v0/e/`), used only to prove a project token works:
//! one test event sent with the token, accepted (200) or refused (401, capture's
//! known-token check). Capture lives on the ingestion host (`us.i.posthog.com` for the
//! app at `us.posthog.com`); a self-hosted PostHog serves it on its own host. The token
//! is sent in the body as capture expects and never logged.

use async_trait::async_trait;
use hogwarden_core::consumers::Capture;
use hogwarden_core::ports::PostHogError;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Capture at `base`.
#[derive(Clone)]
pub struct CaptureClient {
    base: Url,
    http: reqwest::Client,
}

impl std::fmt::Debug for CaptureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// The ingestion host of PostHog's app host: `us.posthog.com` → `us.i.posthog.com`,
/// `eu.posthog.com` → `eu.i.posthog.com`; any other host (self-hosted, the sandbox) serves
/// capture itself.
pub fn capture_base_for(app: &Url) -> Url {
    let mut base = app.clone();
    if let Some(host) = app.host_str()
        && let Some(region) = host.strip_suffix(".posthog.com")
        && matches!(region, "us" | "eu")
    {
        let _ = base.set_host(Some(&format!("{region}.i.posthog.com")));
    }
    base
}

impl CaptureClient {
    pub fn new(base: Url) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("hogwarden/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { base, http }
    }
}

#[async_trait]
impl Capture for CaptureClient {
    async fn send_test_event(&self, token: &SecretString, event: &str, distinct_id: &str) -> Result<bool, PostHogError> {
        let url = self.base.join("/i/v0/e/").map_err(|e| PostHogError::Unavailable(format!("the capture URL is not valid: {e}")))?;
        let body = serde_json::json!({
            "api_key": token.expose_secret(),
            "event": event,
            "distinct_id": distinct_id,
            "properties": { "$lib": "hogwarden" },
        });
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| PostHogError::Unavailable(format!("capture could not be reached: {}", e.without_url())))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(true),
            401 => Ok(false),
            400..=499 => Err(PostHogError::Rejected { status, code: "capture".into(), detail: format!("capture answered {status}") }),
            _ => Err(PostHogError::Unavailable(format!("capture answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_app_hosts_map_to_their_ingestion_host() {
        let us = capture_base_for(&Url::parse("https://us.posthog.com").unwrap());
        assert_eq!(us.host_str(), Some("us.i.posthog.com"));
        let eu = capture_base_for(&Url::parse("https://eu.posthog.com/").unwrap());
        assert_eq!(eu.host_str(), Some("eu.i.posthog.com"));
        let own = capture_base_for(&Url::parse("http://127.0.0.1:8000").unwrap());
        assert_eq!(own.as_str(), "http://127.0.0.1:8000/");
    }
}
