//! Where each PostHog key is used (its consumers) and the guided rotation of a project
//! token (`phc_`), as the domain sees them, plus the ports they need: [`KeyStore`] for
//! their records (reached through [`crate::ports::Store::keys`]) and [`Capture`] for the
//! test event that proves a new token works.
//!
//! A consumer names a place (a front-end SDK, a mobile app, a CI variable, a server…)
//! and the person who owns it. Keys are named by a [`KeyRef`] that survives rotation: a
//! project's token by its project, a project secret key by the vault name Hogwarden
//! rotates it under, Hogwarden's own key by itself.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditDraft, AuditEntry};
use crate::error::Result;
use crate::ports::{Guarded, PostHogError};
use crate::types::{Email, ParseError, ProjectId};

/// The kind of place a key is used in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerKind {
    FrontendSdk,
    MobileApp,
    CiVariable,
    Server,
    Other,
}

impl ConsumerKind {
    pub const ALL: [Self; 5] = [Self::FrontendSdk, Self::MobileApp, Self::CiVariable, Self::Server, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FrontendSdk => "frontend_sdk",
            Self::MobileApp => "mobile_app",
            Self::CiVariable => "ci_variable",
            Self::Server => "server",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw).ok_or_else(|| {
            ParseError::Other(format!(
                "kind: '{}' is not a consumer kind; use frontend_sdk, mobile_app, ci_variable, server or other",
                raw.chars().take(40).collect::<String>()
            ))
        })
    }
}

/// A key, named so that the name survives its rotation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// Hogwarden's own personal API key.
    ServiceKey,
    /// A project's public token (`phc_`).
    ProjectToken(ProjectId),
    /// A project secret key Hogwarden rotates, by its vault name.
    Secret(String),
    /// A project secret key Hogwarden does not rotate, by PostHog's project and key id
    /// (PostHog keeps the id when the key is rolled).
    SecretKey { project: ProjectId, id: String },
    /// A person's personal API key, by the id Hogwarden gave it when PostHog's list was
    /// imported (owner and creation time; a roll keeps both).
    PersonalKey(String),
}

/// Longest name or id inside a key reference.
const MAX_REF_PART: usize = 200;

fn ref_part(raw: &str) -> Option<&str> {
    (!raw.is_empty() && raw.len() <= MAX_REF_PART && !raw.chars().any(char::is_control)).then_some(raw)
}

impl KeyRef {
    /// `service_key`, `project_token:<id>`, `secret:<vault name>`,
    /// `secret_key:<project id>:<key id>`, `personal_key:<id>`.
    pub fn as_string(&self) -> String {
        match self {
            Self::ServiceKey => "service_key".into(),
            Self::ProjectToken(p) => format!("project_token:{p}"),
            Self::Secret(name) => format!("secret:{name}"),
            Self::SecretKey { project, id } => format!("secret_key:{project}:{id}"),
            Self::PersonalKey(id) => format!("personal_key:{id}"),
        }
    }

    /// Reads a key reference; the error names the field.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::Other(format!(
                "key: '{}' is not a key reference; use service_key, project_token:<project id>, secret:<vault name>, \
                 secret_key:<project id>:<key id> or personal_key:<id>, as the key inventory lists them",
                raw.chars().take(60).collect::<String>()
            ))
        };
        let project = |id: &str| id.parse::<i64>().ok().and_then(|id| ProjectId::new(id).ok());
        if raw == "service_key" {
            return Ok(Self::ServiceKey);
        }
        if let Some(id) = raw.strip_prefix("project_token:") {
            return project(id).map(Self::ProjectToken).ok_or_else(bad);
        }
        if let Some(rest) = raw.strip_prefix("secret_key:") {
            let (p, id) = rest.split_once(':').ok_or_else(bad)?;
            return match (project(p), ref_part(id)) {
                (Some(project), Some(id)) => Ok(Self::SecretKey { project, id: id.to_owned() }),
                _ => Err(bad()),
            };
        }
        if let Some(name) = raw.strip_prefix("secret:").and_then(ref_part) {
            return Ok(Self::Secret(name.to_owned()));
        }
        if let Some(id) = raw.strip_prefix("personal_key:").and_then(ref_part) {
            return Ok(Self::PersonalKey(id.to_owned()));
        }
        Err(bad())
    }
}

/// One place a key is used in. Removing it keeps the record (with `removed_at`), so the
/// history stays and a re-add is an ordinary guarded update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// Derived from the key and the place's name: the same place added twice is one record.
    pub id: String,
    /// The [`KeyRef`] as a string.
    pub key: String,
    pub kind: ConsumerKind,
    /// Where: a repository and variable, an app, a host.
    pub name: String,
    /// Who owns that place (told before and after a rotation).
    pub owner: Email,
    pub added_by: Email,
    pub added_at: DateTime<Utc>,
    #[serde(default)]
    pub removed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub removed_by: Option<Email>,
    pub version: u64,
}

impl Consumer {
    /// The id of the place `name` for `key` (case and surrounding spaces ignored).
    pub fn id_for(key: &KeyRef, name: &str) -> String {
        let digest = crate::keys::fingerprint(&format!("{}\n{}", key.as_string(), name.trim().to_lowercase()));
        format!("c{}", &digest[..20])
    }

    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }
}

/// Where a guided project-token rotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRotationStatus {
    Open,
    Done,
}

impl TokenRotationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Done => "done",
        }
    }
}

/// The steps of a guided project-token rotation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStepKind {
    /// An admin (or a leak alert) opened the rotation.
    Started,
    /// Every consumer's owner was warned, before anyone resets the token.
    ConsumersWarned,
    /// Hogwarden saw a new token in PostHog (an admin reset it in the project settings).
    ResetDetected,
    /// The new token is in the vault.
    Stored,
    /// PostHog's capture endpoint accepted a test event sent with the new token.
    CaptureVerified,
    /// Every consumer's owner was told to update to the new token.
    ConsumersNotified,
}

impl TokenStepKind {
    pub const ALL: [Self; 6] =
        [Self::Started, Self::ConsumersWarned, Self::ResetDetected, Self::Stored, Self::CaptureVerified, Self::ConsumersNotified];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::ConsumersWarned => "consumers_warned",
            Self::ResetDetected => "reset_detected",
            Self::Stored => "stored",
            Self::CaptureVerified => "capture_verified",
            Self::ConsumersNotified => "consumers_notified",
        }
    }

    /// What the step means, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Started => "Rotation started",
            Self::ConsumersWarned => "Consumers warned before the reset",
            Self::ResetDetected => {
                "An admin resets the token in PostHog (Project settings → Project API key → Reset); Hogwarden detects the new token"
            }
            Self::Stored => "New token stored in the vault",
            Self::CaptureVerified => "Test event accepted by PostHog's capture endpoint",
            Self::ConsumersNotified => "Consumers told to update",
        }
    }
}

/// One step and when it happened (`None`: not yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStep {
    pub kind: TokenStepKind,
    pub at: Option<DateTime<Utc>>,
    /// What the step found (never a key value).
    #[serde(default)]
    pub note: Option<String>,
}

/// A guided rotation of one project's token. One record per project: a new rotation
/// replaces a finished one (the finished one stays in the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRotation {
    pub project: ProjectId,
    pub project_name: String,
    pub id: String,
    pub status: TokenRotationStatus,
    pub reason: String,
    /// The actor as displayed (an email, or `hogwarden:webhook:github`).
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// SHA-256 (hex) of the token when the rotation started.
    pub old_fingerprint: String,
    /// SHA-256 (hex) of the new token, once detected.
    #[serde(default)]
    pub new_fingerprint: Option<String>,
    pub steps: Vec<TokenStep>,
    #[serde(default)]
    pub warned: Vec<Email>,
    #[serde(default)]
    pub notified: Vec<Email>,
    /// The last problem a step met (it is tried again on the next check).
    #[serde(default)]
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl TokenRotation {
    pub fn step(&self, kind: TokenStepKind) -> Option<&TokenStep> {
        self.steps.iter().find(|s| s.kind == kind)
    }

    pub fn done(&self, kind: TokenStepKind) -> bool {
        self.step(kind).is_some_and(|s| s.at.is_some())
    }

    /// The first step not yet done.
    pub fn next_step(&self) -> Option<TokenStepKind> {
        TokenStepKind::ALL.into_iter().find(|k| !self.done(*k))
    }

    /// Marks a step done at `at` with a note.
    pub fn mark(&mut self, kind: TokenStepKind, at: DateTime<Utc>, note: Option<String>) {
        match self.steps.iter_mut().find(|s| s.kind == kind) {
            Some(s) => {
                s.at = Some(at);
                s.note = note;
            }
            None => self.steps.push(TokenStep { kind, at: Some(at), note }),
        }
    }
}

/// Storage for consumers, guided rotations and one-time claims (its own access
/// patterns, like [`crate::reviews::ReviewStore`]).
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Writes a consumer record guarded by its expected version, with its audit entries.
    async fn put_consumer(&self, record: Guarded<Consumer>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>>;
    async fn get_consumer(&self, id: &str) -> Result<Option<Consumer>>;
    /// Every consumer record (removed ones included), oldest first.
    async fn list_consumers(&self) -> Result<Vec<Consumer>>;
    /// Writes a project's guided rotation guarded by its expected version, with its audit entries.
    async fn put_token_rotation(&self, record: Guarded<TokenRotation>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>>;
    async fn get_token_rotation(&self, project: ProjectId) -> Result<Option<TokenRotation>>;
    /// Every project's latest guided rotation, by project id.
    async fn list_token_rotations(&self) -> Result<Vec<TokenRotation>>;
    /// Claims `key` once: `true` for the first caller ever, `false` for every later one
    /// (a conditional insert), so a retried step never repeats what the claim guards.
    async fn claim_once(&self, key: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Binds `value` to `key` once: the first caller's value is stored (a conditional
    /// insert) and every caller gets the stored value back, so a caller whose value
    /// differs knows it lost. A binding is never changed.
    async fn bind_once(&self, key: &str, value: &str, at: DateTime<Utc>) -> Result<String>;
}

/// PostHog's capture endpoint, used only to prove a project token works.
#[async_trait]
pub trait Capture: Send + Sync {
    /// Sends one test event with `token`; `Ok(true)` when capture accepts it, `Ok(false)`
    /// when it refuses the token (401).
    async fn send_test_event(&self, token: &SecretString, event: &str, distinct_id: &str) -> Result<bool, PostHogError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_read_back_and_bad_ones_name_the_field() {
        for raw in [
            "service_key",
            "project_token:2",
            "secret:hogwarden/phs/web",
            "secret_key:2:0f9c2a1e-6b7d-4c1a-9d2e-3f4a5b6c7d8e",
            "personal_key:pk_0123456789abcdef0123",
        ] {
            assert_eq!(KeyRef::parse(raw).unwrap().as_string(), raw);
        }
        assert_eq!(KeyRef::parse("secret_key:2:k1").unwrap(), KeyRef::SecretKey { project: ProjectId::new(2).unwrap(), id: "k1".into() });
        let long = format!("personal_key:{}", "a".repeat(201));
        for raw in [
            "",
            "project_token:x",
            "project_token:-1",
            "secret:",
            "phc_abc",
            "secret_key:2",
            "secret_key:2:",
            "secret_key:x:k1",
            "secret_key:0:k1",
            "personal_key:",
            "personal_key:a\nb",
            long.as_str(),
        ] {
            assert!(KeyRef::parse(raw).unwrap_err().to_string().starts_with("key:"), "{raw}");
        }
        assert!(ConsumerKind::parse("satellite").unwrap_err().to_string().starts_with("kind:"));
        assert_eq!(ConsumerKind::parse("ci_variable").unwrap(), ConsumerKind::CiVariable);
    }

    #[test]
    fn the_same_place_has_the_same_id() {
        let key = KeyRef::ProjectToken(ProjectId::new(2).unwrap());
        assert_eq!(Consumer::id_for(&key, "Web app "), Consumer::id_for(&key, "web APP"));
        assert_ne!(Consumer::id_for(&key, "Web app"), Consumer::id_for(&KeyRef::ServiceKey, "Web app"));
    }
}
