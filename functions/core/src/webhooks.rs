//! Leaked-key alert webhooks: each request is verified before anything else in it is
//! read (DESIGN.md, "Keys and leaked-key response"; shared/integration-facts.md §1).
//!
//! * GitHub (`secret_scanning_alert`): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`,
//!   delivery id `X-GitHub-Delivery`. GitHub sends no timestamp; the delivery id is the
//!   replay key.
//! * GitGuardian custom webhook: `Gitguardian-Signature: sha256=<hex HMAC-SHA256(timestamp + token, body)>`
//!   (the deprecated `X-GitGuardian-Signature` is accepted too) and a `Timestamp` header
//!   in seconds; a timestamp further than [`MAX_SKEW_SECONDS`] from now is stale.
//!   GitGuardian sends no delivery id; the signature is the replay key.
//! * Generic (any other scanner): `X-Hogwarden-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`,
//!   `X-Hogwarden-Timestamp` (seconds) and `X-Hogwarden-Delivery`.
//!
//! Signatures are compared in constant time (`hmac`'s `verify_slice`). No error here
//! quotes a header value or the body.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How far a signed timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Who sent the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    GitHub,
    GitGuardian,
    Generic,
}

impl Provider {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "github" => Some(Self::GitHub),
            "gitguardian" => Some(Self::GitGuardian),
            "generic" => Some(Self::Generic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitGuardian => "gitguardian",
            Self::Generic => "generic",
        }
    }
}

/// Why a webhook was refused. Each is a 4xx; none changes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("unknown webhook provider; use github, gitguardian or generic")]
    UnknownProvider,
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {0} header is not in the expected form")]
    BadHeader(&'static str),
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the signed timestamp is {skew} s away from now (at most {MAX_SKEW_SECONDS} s allowed)")]
    Stale { skew: i64 },
    #[error("this delivery was already received")]
    Replayed,
    #[error("the body is not a valid alert: {0}")]
    Malformed(String),
    #[error("no webhook secret is configured for this provider")]
    NotConfigured,
}

impl WebhookError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownProvider => 404,
            // No signature at all: the request is not authenticated.
            Self::MissingHeader(name) if name.ends_with("Signature") || name.ends_with("Signature-256") => 401,
            Self::MissingHeader(_) | Self::BadHeader(_) | Self::Malformed(_) => 400,
            Self::BadSignature | Self::Stale { .. } => 401,
            Self::Replayed => 409,
            Self::NotConfigured => 503,
        }
    }

    /// A short machine code for logs and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::MissingHeader(_) => "missing_header",
            Self::BadHeader(_) => "bad_header",
            Self::BadSignature => "bad_signature",
            Self::Stale { .. } => "stale",
            Self::Replayed => "replayed",
            Self::Malformed(_) => "malformed",
            Self::NotConfigured => "not_configured",
        }
    }
}

/// The signature headers of every provider, by lower-case name.
pub const SIGNATURE_HEADERS: [&str; 4] =
    ["x-hub-signature-256", "gitguardian-signature", "x-gitguardian-signature", "x-hogwarden-signature"];

/// Whether the request carries any provider's signature header; a request with none is
/// refused (401) before anything else about it is looked at.
pub fn is_signed(header: &(dyn Fn(&str) -> Option<String> + Sync)) -> bool {
    SIGNATURE_HEADERS.iter().any(|h| header(h).is_some())
}

/// A request whose signature holds: the key under which its delivery is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub provider: Provider,
    /// Unique per delivery (the provider's id, or the signature when it sends none).
    pub delivery_id: String,
    /// The signed timestamp, when the provider signs one.
    pub timestamp: Option<DateTime<Utc>>,
}

type HmacSha256 = Hmac<Sha256>;

fn hex_signature(header: &'static str, value: &str) -> Result<Vec<u8>, WebhookError> {
    let hex_part = value.trim().strip_prefix("sha256=").ok_or(WebhookError::BadHeader(header))?;
    hex::decode(hex_part).map_err(|_| WebhookError::BadHeader(header))
}

fn check(key: &[u8], parts: &[&[u8]], signature: &[u8]) -> Result<(), WebhookError> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| WebhookError::NotConfigured)?;
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(signature).map_err(|_| WebhookError::BadSignature)
}

fn timestamp(header: &'static str, raw: &str, now: DateTime<Utc>, check_skew: bool) -> Result<DateTime<Utc>, WebhookError> {
    let seconds: i64 = raw.trim().parse().map_err(|_| WebhookError::BadHeader(header))?;
    let at = DateTime::from_timestamp(seconds, 0).ok_or(WebhookError::BadHeader(header))?;
    let skew = (now - at).num_seconds().abs();
    if check_skew && skew > MAX_SKEW_SECONDS {
        return Err(WebhookError::Stale { skew });
    }
    Ok(at)
}

/// Verifies a webhook with `secret`; `header` looks a header up by lower-case name.
/// The signature is checked before the timestamp's age, so an unsigned request learns
/// nothing about the clock.
pub fn verify(
    provider: Provider,
    secret: &SecretString,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, WebhookError> {
    let key = secret.expose_secret().as_bytes();
    match provider {
        Provider::GitHub => {
            let signature = header("x-hub-signature-256").ok_or(WebhookError::MissingHeader("X-Hub-Signature-256"))?;
            let signature = hex_signature("X-Hub-Signature-256", &signature)?;
            let delivery = header("x-github-delivery").ok_or(WebhookError::MissingHeader("X-GitHub-Delivery"))?;
            check(key, &[body], &signature)?;
            if delivery.is_empty() || delivery.len() > 100 {
                return Err(WebhookError::BadHeader("X-GitHub-Delivery"));
            }
            Ok(Verified { provider, delivery_id: delivery, timestamp: None })
        }
        Provider::GitGuardian => {
            let raw = header("gitguardian-signature")
                .or_else(|| header("x-gitguardian-signature"))
                .ok_or(WebhookError::MissingHeader("Gitguardian-Signature"))?;
            let signature = hex_signature("Gitguardian-Signature", &raw)?;
            let ts = header("timestamp").ok_or(WebhookError::MissingHeader("Timestamp"))?;
            let signing_key = [ts.trim().as_bytes(), key].concat();
            check(&signing_key, &[body], &signature)?;
            let at = timestamp("Timestamp", &ts, now, true)?;
            Ok(Verified { provider, delivery_id: hex::encode(&signature), timestamp: Some(at) })
        }
        Provider::Generic => {
            let signature = header("x-hogwarden-signature").ok_or(WebhookError::MissingHeader("X-Hogwarden-Signature"))?;
            let signature = hex_signature("X-Hogwarden-Signature", &signature)?;
            let ts = header("x-hogwarden-timestamp").ok_or(WebhookError::MissingHeader("X-Hogwarden-Timestamp"))?;
            let delivery = header("x-hogwarden-delivery").ok_or(WebhookError::MissingHeader("X-Hogwarden-Delivery"))?;
            check(key, &[ts.trim().as_bytes(), b".", body], &signature)?;
            let at = timestamp("X-Hogwarden-Timestamp", &ts, now, true)?;
            if delivery.is_empty() || delivery.len() > 100 {
                return Err(WebhookError::BadHeader("X-Hogwarden-Delivery"));
            }
            Ok(Verified { provider, delivery_id: delivery, timestamp: Some(at) })
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over the parts: what a sender puts in its signature
/// header (tests, the benchmark, and scanners configured to call the generic format).
pub fn sign(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new_from_slice(b"\0").expect("a one-byte key"));
    for part in parts {
        mac.update(part);
    }
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The leaked values an alert body carries, after verification.
pub fn leaked_values(provider: Provider, body: &[u8]) -> Result<Vec<String>, WebhookError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("not JSON ({})", e.classify_name())))?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    match provider {
        Provider::Generic => {
            let token = value.get("token").and_then(text).ok_or_else(|| WebhookError::Malformed("no \"token\" string".into()))?;
            Ok(vec![token])
        }
        // GitGuardian's test message carries the matches; incidents carry only hashes.
        Provider::GitGuardian => {
            let matches = value.pointer("/scan_result/matches").or_else(|| value.get("matches")).and_then(serde_json::Value::as_array);
            match matches {
                Some(matches) => Ok(matches.iter().filter_map(|m| m.get("match").and_then(text)).collect()),
                None if value.get("incident").is_some() => Ok(Vec::new()),
                None => Err(WebhookError::Malformed("neither an incident nor a scan result".into())),
            }
        }
        // GitHub's alert carries no secret; it is fetched from the alert API.
        Provider::GitHub => Err(WebhookError::Malformed("GitHub alerts are read through GitHub's alert API".into())),
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// A GitHub `secret_scanning_alert` delivery: which alert to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAlertRef {
    pub repository: String,
    pub number: u64,
    pub action: String,
}

/// Reads a verified GitHub delivery (`X-GitHub-Event: secret_scanning_alert`).
pub fn github_alert(body: &[u8]) -> Result<GitHubAlertRef, WebhookError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("not JSON ({})", e.classify_name())))?;
    let number = value
        .pointer("/alert/number")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| WebhookError::Malformed("no alert.number".into()))?;
    let repository = value
        .pointer("/repository/full_name")
        .and_then(serde_json::Value::as_str)
        .filter(|r| r.split('/').count() == 2 && r.len() <= 200)
        .ok_or_else(|| WebhookError::Malformed("no repository.full_name of the form owner/name".into()))?
        .to_owned();
    let action = value.get("action").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    Ok(GitHubAlertRef { repository, number, action })
}

/// Where deliveries are remembered, so a replayed one is refused: a conditional write
/// (insert only if absent), never read-then-write.
#[async_trait::async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Records the delivery; `Ok(false)` when this provider's delivery id was already
    /// recorded.
    async fn record_delivery(&self, provider: Provider, delivery_id: &str, at: DateTime<Utc>) -> crate::error::Result<bool>;
}

/// PostHog's public leaked-key endpoint (`POST /api/revoke_leaked_key`): anyone holding
/// a personal or project secret key's value can have PostHog roll it.
#[async_trait::async_trait]
pub trait LeakReporter: Send + Sync {
    /// Reports the value; returns PostHog's `type` when it found and rolled the key.
    async fn report_leaked_key(&self, value: &SecretString) -> Result<Option<String>, crate::ports::PostHogError>;
}

/// GitHub's secret scanning alert API (`GET /repos/{owner}/{repo}/secret-scanning/alerts/{n}`),
/// the only place a `secret_scanning_alert` delivery's secret can be read.
#[async_trait::async_trait]
pub trait GitHubAlerts: Send + Sync {
    async fn alert_secret(&self, repository: &str, number: u64) -> crate::error::Result<Option<SecretString>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync + use<> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_lowercase(), (*v).to_owned())).collect();
        move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn epoch() -> DateTime<Utc> {
        DateTime::from_timestamp(0, 0).unwrap()
    }

    // GitGuardian's published unit-test vector (integration-facts §1.2).
    #[test]
    fn gitguardians_published_test_vector_verifies() {
        let sig = "sha256=172fe3d694b734aa53dc892fd3b8d62163fc240064de570ba006900bb54a0fc2";
        let h = headers(&[("Gitguardian-Signature", sig), ("Timestamp", "0")]);
        let verified = verify(Provider::GitGuardian, &SecretString::from("foo"), &h, b"bar", epoch()).unwrap();
        assert_eq!(verified.timestamp, Some(epoch()));
        assert_eq!(sign(b"0foo", &[b"bar"]), sig);
    }

    #[test]
    fn gitguardian_refuses_a_changed_body_a_wrong_token_and_a_stale_timestamp() {
        let sig = "sha256=172fe3d694b734aa53dc892fd3b8d62163fc240064de570ba006900bb54a0fc2";
        let h = headers(&[("Gitguardian-Signature", sig), ("Timestamp", "0")]);
        let foo = SecretString::from("foo");
        assert_eq!(verify(Provider::GitGuardian, &foo, &h, b"baz", epoch()), Err(WebhookError::BadSignature));
        assert_eq!(verify(Provider::GitGuardian, &SecretString::from("fou"), &h, b"bar", epoch()), Err(WebhookError::BadSignature));
        let late = epoch() + chrono::Duration::seconds(MAX_SKEW_SECONDS + 1);
        assert!(matches!(verify(Provider::GitGuardian, &foo, &h, b"bar", late), Err(WebhookError::Stale { .. })));
        let missing = headers(&[("Gitguardian-Signature", sig)]);
        assert_eq!(verify(Provider::GitGuardian, &foo, &missing, b"bar", epoch()), Err(WebhookError::MissingHeader("Timestamp")));
        let old_header = headers(&[("X-GitGuardian-Signature", sig), ("Timestamp", "0")]);
        assert!(verify(Provider::GitGuardian, &foo, &old_header, b"bar", epoch()).is_ok());
    }

    #[test]
    fn github_needs_the_hub_signature_over_the_raw_body_and_a_delivery_id() {
        let secret = SecretString::from("It's a Secret to Everybody");
        let body = b"Hello, World!";
        // GitHub's documented example ("Validating webhook deliveries").
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(b"It's a Secret to Everybody", &[body]), sig);
        let ok = headers(&[("X-Hub-Signature-256", sig), ("X-GitHub-Delivery", "d-1")]);
        assert_eq!(verify(Provider::GitHub, &secret, &ok, body, Utc::now()).unwrap().delivery_id, "d-1");
        let bad = headers(&[("X-Hub-Signature-256", "sha256=00"), ("X-GitHub-Delivery", "d-1")]);
        assert_eq!(verify(Provider::GitHub, &secret, &bad, body, Utc::now()), Err(WebhookError::BadSignature));
        let malformed = headers(&[("X-Hub-Signature-256", "md5=00"), ("X-GitHub-Delivery", "d-1")]);
        assert_eq!(verify(Provider::GitHub, &secret, &malformed, body, Utc::now()), Err(WebhookError::BadHeader("X-Hub-Signature-256")));
        let none = headers(&[("X-GitHub-Delivery", "d-1")]);
        assert_eq!(verify(Provider::GitHub, &secret, &none, body, Utc::now()), Err(WebhookError::MissingHeader("X-Hub-Signature-256")));
    }

    #[test]
    fn generic_signs_timestamp_dot_body() {
        let secret = SecretString::from("s3cret");
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let sig = sign(b"s3cret", &[ts.as_bytes(), b".", b"{}"]);
        let h = headers(&[("X-Hogwarden-Signature", &sig), ("X-Hogwarden-Timestamp", &ts), ("X-Hogwarden-Delivery", "x1")]);
        assert!(verify(Provider::Generic, &secret, &h, b"{}", now).is_ok());
        assert_eq!(verify(Provider::Generic, &secret, &h, b"{ }", now), Err(WebhookError::BadSignature));
        let stale = now + chrono::Duration::seconds(MAX_SKEW_SECONDS + 5);
        assert!(matches!(verify(Provider::Generic, &secret, &h, b"{}", stale), Err(WebhookError::Stale { .. })));
    }

    #[test]
    fn bodies_are_read_only_for_their_shape() {
        assert_eq!(leaked_values(Provider::Generic, br#"{"token":"phs_x"}"#).unwrap(), vec!["phs_x".to_owned()]);
        assert!(leaked_values(Provider::Generic, b"[").is_err());
        assert!(leaked_values(Provider::Generic, br#"{"tok":1}"#).is_err());
        let gg = br#"{"scan_result":{"matches":[{"type":"apikey","match":"phx_abc"}]}}"#;
        assert_eq!(leaked_values(Provider::GitGuardian, gg).unwrap(), vec!["phx_abc".to_owned()]);
        assert!(leaked_values(Provider::GitGuardian, br#"{"incident":{"secret_hash":"x"}}"#).unwrap().is_empty());
        let gh = br#"{"action":"created","alert":{"number":7},"repository":{"full_name":"acme/web"}}"#;
        assert_eq!(github_alert(gh).unwrap(), GitHubAlertRef { repository: "acme/web".into(), number: 7, action: "created".into() });
        assert!(github_alert(br#"{"alert":{}}"#).is_err());
    }
}
