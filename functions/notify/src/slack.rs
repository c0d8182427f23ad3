//! A Slack incoming webhook. Slack posts everything to the channel the webhook was
//! made for, so the text names the person it is for. The webhook URL's path is the
//! secret that lets anyone post there: it is held as a [`SecretString`] and never
//! logged, not even inside a `reqwest` error (those are stripped of their URL).

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use hogwarden_core::ports::{Notification, Notifier};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::error::NotifyError;

const CHANNEL: &str = "slack";

/// A Slack incoming-webhook URL, checked once. `Debug` does not show it.
#[derive(Clone)]
pub struct SlackWebhook(SecretString);

impl SlackWebhook {
    /// Accepts an `https` URL, or `http` to a loopback address (tests and local
    /// receivers). The error never repeats the value.
    pub fn parse(value: SecretString) -> Result<Self, NotifyError> {
        let url = url::Url::parse(value.expose_secret().trim()).map_err(|_| {
            NotifyError::Config("HOGWARDEN_SLACK_WEBHOOK_URL is not a URL; paste the incoming-webhook URL Slack shows for the app".into())
        })?;
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(NotifyError::Config("HOGWARDEN_SLACK_WEBHOOK_URL must be an https URL".into())),
        }
        Ok(Self(value))
    }
}

impl std::fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackWebhook([REDACTED])")
    }
}

/// Posts notifications to a Slack incoming webhook, retrying 5xx, 429 and network
/// failures with exponential backoff; any other 4xx is logged and returned at once.
#[derive(Debug, Clone)]
pub struct SlackNotifier {
    http: reqwest::Client,
    webhook: SlackWebhook,
    backoff: ExponentialBuilder,
}

impl SlackNotifier {
    pub fn new(webhook: SlackWebhook) -> Result<Self, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| NotifyError::Config(format!("cannot build the Slack HTTP client: {}", e.without_url())))?;
        Ok(Self { http, webhook, backoff: Self::backoff(Duration::from_millis(500), 4) })
    }

    /// Changes the retry timing (tests shorten it): the first delay and how many
    /// retries follow the first attempt.
    #[must_use]
    pub fn with_retries(mut self, first_delay: Duration, retries: usize) -> Self {
        self.backoff = Self::backoff(first_delay, retries);
        self
    }

    fn backoff(first_delay: Duration, retries: usize) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(first_delay)
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(retries)
            .with_jitter()
    }

    async fn post_once(&self, body: &Value) -> Result<(), NotifyError> {
        let reply = self
            .http
            .post(self.webhook.0.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(|e| NotifyError::Unavailable { channel: CHANNEL, detail: e.without_url().to_string() })?;
        let status = reply.status();
        if status.is_success() {
            return Ok(());
        }
        // Slack's error bodies are short codes such as `invalid_payload` or
        // `channel_not_found`; they carry no secret and say what to fix.
        let code: String = reply.text().await.unwrap_or_default().chars().take(100).collect();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(NotifyError::Unavailable { channel: CHANNEL, detail: format!("status {} {code}", status.as_u16()) });
        }
        Err(NotifyError::Rejected { channel: CHANNEL, status: format!("{} {code}", status.as_u16()) })
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    #[tracing::instrument(skip_all, fields(channel = CHANNEL))]
    async fn notify(&self, notification: Notification) -> hogwarden_core::error::Result<()> {
        let body = payload(&notification);
        let sent = (|| self.post_once(&body))
            .retry(self.backoff)
            .when(NotifyError::is_transient)
            .notify(|e, after| tracing::warn!(error = %e, retry_in = ?after, "Slack did not take the notification; retrying"))
            .await;
        if let Err(e) = &sent {
            tracing::error!(error = %e, "Slack notification not delivered");
        }
        Ok(sent?)
    }
}

/// Slack's `mrkdwn` treats `&`, `<` and `>` as control characters; escaping them
/// keeps text from a request (its reason, say) from turning into links or mentions.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The webhook body: `text` for notifications and old clients, `blocks` for the
/// message itself, with the deep link as a link (never a button that acts).
pub(crate) fn payload(n: &Notification) -> Value {
    let to = escape(n.to.as_str());
    let subject = escape(&n.subject);
    let body = escape(&n.body);
    let mut text = format!("For {to}: {subject}");
    let mut section = format!("*{subject}*\nFor {to}\n\n{body}");
    if let Some(link) = &n.link {
        let link = escape(link);
        text.push_str(&format!(" <{link}|Open in Hogwarden>"));
        section.push_str(&format!("\n\n<{link}|Open in Hogwarden> (sign in to see it; nothing is approved from Slack)"));
    }
    json!({
        "text": text,
        "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": section } } ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hogwarden_core::types::Email;

    #[test]
    fn text_from_a_request_cannot_become_a_link_or_a_mention() {
        let n = Notification {
            to: Email::parse("frank@example.com").unwrap(),
            subject: "Access <!channel>".into(),
            body: "Reason: <https://evil.example|click here> & more".into(),
            link: Some("https://hogwarden.example/requests/1".into()),
        };
        let p = payload(&n).to_string();
        assert!(!p.contains("<!channel>") && !p.contains("<https://evil"), "{p}");
        assert!(p.contains("&lt;https://evil.example|click here&gt; &amp; more"), "{p}");
        assert!(p.contains("<https://hogwarden.example/requests/1|Open in Hogwarden>"), "{p}");
    }

    #[test]
    fn a_webhook_url_is_https_or_loopback_and_never_shown() {
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        let hook = SlackWebhook::parse(SecretString::from(secret)).unwrap();
        assert!(!format!("{hook:?}").contains("XXXXSECRET"));
        assert!(SlackWebhook::parse(SecretString::from("http://127.0.0.1:9/hook")).is_ok());
        let plain = SlackWebhook::parse(SecretString::from("http://hooks.slack.com/services/T/B/XXXXSECRET")).unwrap_err();
        assert!(!plain.to_string().contains("XXXXSECRET"), "{plain}");
        let garbage = SlackWebhook::parse(SecretString::from("not a url XXXXSECRET")).unwrap_err();
        assert!(garbage.to_string().contains("HOGWARDEN_SLACK_WEBHOOK_URL") && !garbage.to_string().contains("XXXXSECRET"));
    }
}
