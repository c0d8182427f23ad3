//! Leaked-key alert webhooks: each request is verified before anything else in it is
//! read (DESIGN.md, "Keys and leaked-key response"; shared/integration-facts.md §1).
//!
//! * GitHub (`secret_scanning_alert`): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`,
//!   delivery id `X-GitHub-Delivery`. GitHub signs neither a timestamp nor the delivery
//!   id, so the signature (over the body) is the replay key and an alert whose newest
//!   time is older than [`MAX_GITHUB_ALERT_AGE_HOURS`] is stale (see [`github_alert`]).
//! * GitGuardian custom webhook: `Gitguardian-Signature: sha256=<hex HMAC-SHA256(timestamp + token, body)>`
//!   (the deprecated `X-GitGuardian-Signature` is accepted too) and a `Timestamp` header
//!   in seconds; a timestamp further than [`MAX_SKEW_SECONDS`] from now is stale.
//!   GitGuardian sends no delivery id; the signature is the replay key.
//! * Generic (any other scanner): `X-Hogwarden-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + delivery + "." + body)>`,
//!   `X-Hogwarden-Timestamp` (seconds, stale like GitGuardian's) and `X-Hogwarden-Delivery`
//!   (1–100 of `A-Z a-z 0-9 - _ :`, so the signed string splits one way only). The
//!   delivery id is signed, so a captured delivery cannot be replayed under a new id.
//!
//! Signatures are compared in constant time (`hmac`'s `verify_slice`). No error here
//! quotes a header value or the body.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How far a signed timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// How old a GitHub alert's newest time may be. GitHub lets an admin redeliver a
/// delivery for three days; delivery records are kept far longer (30 days on DynamoDB,
/// for good on SQLite), so every delivery young enough to be accepted is also still
/// remembered, and a replay is refused either way.
pub const MAX_GITHUB_ALERT_AGE_HOURS: i64 = 72;

/// How long a claimed but unfinished delivery blocks a retry of it. A handler that died
/// without releasing its claim (a Lambda timeout) must not block retries for good; the
/// webhook Lambda's timeout is far below this.
pub const CLAIM_LEASE_SECONDS: i64 = 900;

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
    #[error("this delivery is being handled right now; if that fails, retry it")]
    InProgress,
    #[error("the alert is {hours} h old (at most {MAX_GITHUB_ALERT_AGE_HOURS} h allowed)")]
    StaleAlert { hours: i64 },
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
            Self::BadSignature | Self::Stale { .. } | Self::StaleAlert { .. } => 401,
            Self::Replayed | Self::InProgress => 409,
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
            Self::Stale { .. } | Self::StaleAlert { .. } => "stale",
            Self::Replayed => "replayed",
            Self::InProgress => "in_progress",
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
    /// The provider's delivery id (the signature when it sends none), for reports.
    pub delivery_id: String,
    /// What a replay cannot change, under which the delivery is remembered: the signed
    /// delivery id (generic), or the signature (GitHub, GitGuardian).
    pub replay_key: String,
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
            // GitHub signs only the body: anyone who saw one delivery can resend it with
            // a fresh X-GitHub-Delivery. So the replay key is the signature (the body's
            // HMAC), which a replay cannot change; a redelivery of a failed delivery
            // carries the same body and is accepted once the failed attempt released
            // its claim. The delivery id is kept for the report and the audit log.
            Ok(Verified { provider, delivery_id: delivery, replay_key: hex::encode(&signature), timestamp: None })
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
            let id = hex::encode(&signature);
            Ok(Verified { provider, delivery_id: id.clone(), replay_key: id, timestamp: Some(at) })
        }
        Provider::Generic => {
            let signature = header("x-hogwarden-signature").ok_or(WebhookError::MissingHeader("X-Hogwarden-Signature"))?;
            let signature = hex_signature("X-Hogwarden-Signature", &signature)?;
            let ts = header("x-hogwarden-timestamp").ok_or(WebhookError::MissingHeader("X-Hogwarden-Timestamp"))?;
            let delivery = header("x-hogwarden-delivery").ok_or(WebhookError::MissingHeader("X-Hogwarden-Delivery"))?;
            let delivery = delivery.trim();
            if !is_generic_delivery_id(delivery) {
                return Err(WebhookError::BadHeader("X-Hogwarden-Delivery"));
            }
            check(key, &generic_signed_parts(ts.trim(), delivery, body), &signature)?;
            let at = timestamp("X-Hogwarden-Timestamp", &ts, now, true)?;
            Ok(Verified { provider, delivery_id: delivery.to_owned(), replay_key: delivery.to_owned(), timestamp: Some(at) })
        }
    }
}

/// A generic delivery id: 1–100 of `A-Z a-z 0-9 - _ :`. No `.`, so the signed string
/// `timestamp.delivery.body` cannot be split another way.
fn is_generic_delivery_id(id: &str) -> bool {
    (1..=100).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b))
}

fn generic_signed_parts<'a>(timestamp: &'a str, delivery: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [timestamp.as_bytes(), b".", delivery.as_bytes(), b".", body]
}

/// The `X-Hogwarden-Signature` of a generic delivery: HMAC-SHA256 over
/// `timestamp + "." + delivery + "." + body`.
pub fn sign_generic(key: &[u8], timestamp: &str, delivery: &str, body: &[u8]) -> String {
    sign(key, &generic_signed_parts(timestamp, delivery, body))
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
    /// The alert's newest time (`created_at`, `updated_at`, `resolved_at`,
    /// `push_protection_bypassed_at`).
    pub at: DateTime<Utc>,
}

/// Reads a verified GitHub delivery (`X-GitHub-Event: secret_scanning_alert`) and
/// refuses it when the alert's newest time is older than [`MAX_GITHUB_ALERT_AGE_HOURS`].
///
/// GitHub's signature covers the body only and GitHub sends no signed timestamp, so the
/// body's own times are the only clock a sender cannot change. Every action that makes
/// Hogwarden act moves one of them (`created` sets `created_at`; `reopened`,
/// `validated` and `publicly_leaked` update the alert), so the newest of them is close
/// to the delivery; the bound is GitHub's three-day redelivery window. An old body
/// replayed under a fresh `X-GitHub-Delivery` is refused here, a young one by the
/// delivery record (keyed by the signature, see [`verify`]).
pub fn github_alert(body: &[u8], now: DateTime<Utc>) -> Result<GitHubAlertRef, WebhookError> {
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
    let at = ["created_at", "updated_at", "resolved_at", "push_protection_bypassed_at"]
        .iter()
        .filter_map(|field| value.pointer(&format!("/alert/{field}")).and_then(serde_json::Value::as_str))
        .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
        .ok_or_else(|| WebhookError::Malformed("no alert.created_at or alert.updated_at in RFC 3339 form".into()))?;
    let hours = (now - at).num_hours();
    // A little ahead of our clock is fine (clock skew); far ahead is as suspect as far behind.
    if hours >= MAX_GITHUB_ALERT_AGE_HOURS || (at - now).num_seconds() > MAX_SKEW_SECONDS {
        return Err(WebhookError::StaleAlert { hours });
    }
    Ok(GitHubAlertRef { repository, number, action, at })
}

/// What a delivery's record says when a handler tries to claim it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// Unknown until now (or released, or its claim outlived [`CLAIM_LEASE_SECONDS`]):
    /// this handler holds it and must finish or release it.
    Claimed,
    /// Another handler holds a fresh claim on it.
    InProgress,
    /// Handled already: a replay.
    Done,
}

/// Where deliveries are remembered, so a handled one is refused when replayed while a
/// failed one can be retried. A delivery is claimed before it is handled, marked done
/// once handled, and released when handling failed. Each step is one conditional write,
/// never read-then-write, so two copies arriving at once cannot both claim it.
#[async_trait::async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Claims the delivery: [`DeliveryClaim::Claimed`] when it is new, was released, or
    /// was claimed before `now - CLAIM_LEASE_SECONDS` and never finished.
    async fn claim_delivery(&self, provider: Provider, replay_key: &str, now: DateTime<Utc>) -> crate::error::Result<DeliveryClaim>;
    /// Marks a claimed delivery handled: from now on it is a replay.
    async fn finish_delivery(&self, provider: Provider, replay_key: &str, at: DateTime<Utc>) -> crate::error::Result<()>;
    /// Gives up a claim after a failure, so the sender's retry is handled. A delivery
    /// already done stays done.
    async fn release_delivery(&self, provider: Provider, replay_key: &str) -> crate::error::Result<()>;
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
    fn generic_signs_timestamp_delivery_and_body() {
        let secret = SecretString::from("s3cret");
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let sig = sign_generic(b"s3cret", &ts, "x1", b"{}");
        assert_eq!(sig, sign(b"s3cret", &[ts.as_bytes(), b".x1.", b"{}"]));
        let h = headers(&[("X-Hogwarden-Signature", &sig), ("X-Hogwarden-Timestamp", &ts), ("X-Hogwarden-Delivery", "x1")]);
        let verified = verify(Provider::Generic, &secret, &h, b"{}", now).unwrap();
        assert_eq!((verified.delivery_id.as_str(), verified.replay_key.as_str()), ("x1", "x1"));
        assert_eq!(verify(Provider::Generic, &secret, &h, b"{ }", now), Err(WebhookError::BadSignature));
        let stale = now + chrono::Duration::seconds(MAX_SKEW_SECONDS + 5);
        assert!(matches!(verify(Provider::Generic, &secret, &h, b"{}", stale), Err(WebhookError::Stale { .. })));
    }

    // The attack: a captured delivery resent under a new delivery id, to get past the
    // replay record.
    #[test]
    fn a_generic_delivery_resent_under_another_id_is_refused() {
        let secret = SecretString::from("s3cret");
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let sig = sign_generic(b"s3cret", &ts, "x1", b"{}");
        let renamed = headers(&[("X-Hogwarden-Signature", &sig), ("X-Hogwarden-Timestamp", &ts), ("X-Hogwarden-Delivery", "x2")]);
        assert_eq!(verify(Provider::Generic, &secret, &renamed, b"{}", now), Err(WebhookError::BadSignature));
        // Only the timestamp-dot-body signature of old: refused too.
        let old_style = sign(b"s3cret", &[ts.as_bytes(), b".", b"{}"]);
        let old = headers(&[("X-Hogwarden-Signature", &old_style), ("X-Hogwarden-Timestamp", &ts), ("X-Hogwarden-Delivery", "x1")]);
        assert_eq!(verify(Provider::Generic, &secret, &old, b"{}", now), Err(WebhookError::BadSignature));
        let dotted = headers(&[("X-Hogwarden-Signature", &sig), ("X-Hogwarden-Timestamp", &ts), ("X-Hogwarden-Delivery", "x.1")]);
        assert_eq!(verify(Provider::Generic, &secret, &dotted, b"{}", now), Err(WebhookError::BadHeader("X-Hogwarden-Delivery")));
    }

    #[test]
    fn a_github_body_resent_under_another_delivery_id_keeps_its_replay_key() {
        let secret = SecretString::from("gh");
        let sig = sign(b"gh", &[b"{}"]);
        let first = headers(&[("X-Hub-Signature-256", &sig), ("X-GitHub-Delivery", "d-1")]);
        let again = headers(&[("X-Hub-Signature-256", &sig), ("X-GitHub-Delivery", "d-2")]);
        let a = verify(Provider::GitHub, &secret, &first, b"{}", Utc::now()).unwrap();
        let b = verify(Provider::GitHub, &secret, &again, b"{}", Utc::now()).unwrap();
        assert_ne!(a.delivery_id, b.delivery_id);
        assert_eq!(a.replay_key, b.replay_key, "the replay record is keyed by what the sender signed");
    }

    #[test]
    fn an_old_github_alert_is_stale() {
        let now = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z").unwrap().with_timezone(&Utc);
        let body = |created: &str, updated: &str| {
            serde_json::json!({ "action": "reopened", "alert": { "number": 7, "created_at": created, "updated_at": updated },
                "repository": { "full_name": "acme/web" } })
            .to_string()
        };
        let fresh = github_alert(body("2025-01-01T00:00:00Z", "2026-03-10T11:59:00Z").as_bytes(), now).unwrap();
        assert_eq!(fresh.at.to_rfc3339(), "2026-03-10T11:59:00+00:00", "the newest time counts");
        let old = github_alert(body("2025-01-01T00:00:00Z", "2026-03-06T12:00:00Z").as_bytes(), now);
        assert_eq!(old, Err(WebhookError::StaleAlert { hours: 96 }));
        assert_eq!(WebhookError::StaleAlert { hours: 96 }.status(), 401);
        let future = github_alert(body("2026-03-11T12:00:00Z", "2026-03-11T12:00:00Z").as_bytes(), now);
        assert!(matches!(future, Err(WebhookError::StaleAlert { .. })), "{future:?}");
        let untimed = br#"{"action":"created","alert":{"number":7},"repository":{"full_name":"acme/web"}}"#;
        assert!(matches!(github_alert(untimed, now), Err(WebhookError::Malformed(_))));
    }

    #[test]
    fn bodies_are_read_only_for_their_shape() {
        assert_eq!(leaked_values(Provider::Generic, br#"{"token":"phs_x"}"#).unwrap(), vec!["phs_x".to_owned()]);
        assert!(leaked_values(Provider::Generic, b"[").is_err());
        assert!(leaked_values(Provider::Generic, br#"{"tok":1}"#).is_err());
        let gg = br#"{"scan_result":{"matches":[{"type":"apikey","match":"phx_abc"}]}}"#;
        assert_eq!(leaked_values(Provider::GitGuardian, gg).unwrap(), vec!["phx_abc".to_owned()]);
        assert!(leaked_values(Provider::GitGuardian, br#"{"incident":{"secret_hash":"x"}}"#).unwrap().is_empty());
        let gh = br#"{"action":"created","alert":{"number":7,"created_at":"2026-03-10T12:00:00Z"},"repository":{"full_name":"acme/web"}}"#;
        let at = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(
            github_alert(gh, at).unwrap(),
            GitHubAlertRef { repository: "acme/web".into(), number: 7, action: "created".into(), at }
        );
        assert!(github_alert(br#"{"alert":{}}"#, at).is_err());
    }
}
