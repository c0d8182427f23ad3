//! PostHog keys as the domain sees them: the kinds PostHog issues, fingerprints (the
//! only form in which a key is ever stored outside the vault, shown or logged), the
//! value stored in the vault for a project secret key, and the port through which
//! Hogwarden manages project secret API keys in PostHog.
//!
//! What PostHog allows decides what is automated (DESIGN.md, "Keys and leaked-key
//! response"): `phs_` keys rotate unattended; `phc_` tokens only from a person's session;
//! `phx_` keys only by their owner.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ports::PostHogError;
use crate::types::ProjectId;

/// The kinds of PostHog key, by prefix (`posthog/models/utils.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `phs_`: a project secret API key (server-side flag evaluation).
    ProjectSecret,
    /// `phc_`: a project's public token (SDKs, capture).
    ProjectToken,
    /// `phx_`: a person's personal API key.
    Personal,
}

impl KeyKind {
    /// The kind a value's prefix says it is.
    pub fn of(value: &str) -> Option<Self> {
        match value.get(..4)? {
            "phs_" => Some(Self::ProjectSecret),
            "phc_" => Some(Self::ProjectToken),
            "phx_" => Some(Self::Personal),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProjectSecret => "project_secret",
            Self::ProjectToken => "project_token",
            Self::Personal => "personal",
        }
    }
}

/// The SHA-256 of a key value, hex: how Hogwarden knows a key without holding it.
pub fn fingerprint(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Whether `value` fits PostHog's `mask_value` of a key (`posthog/models/utils.py`
/// `mask_key_value`: the first four and last four characters around `...`). Only the last
/// four characters tell keys of one kind apart, so a match means "probably this key".
pub fn fits_mask(value: &str, mask: &str) -> bool {
    match mask.split_once("...") {
        Some((head, tail)) if head.len() == 4 && tail.len() == 4 && value.len() >= 8 => value.starts_with(head) && value.ends_with(tail),
        _ => false,
    }
}

/// The short form shown to people and written to logs: `sha256:` and 12 hex digits.
pub fn short_fingerprint(full: &str) -> String {
    format!("sha256:{}", &full[..12.min(full.len())])
}

/// A project secret API key as PostHog lists it (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyInfo {
    pub id: String,
    pub label: String,
    /// PostHog's `mask_value`: the first and last four characters (`phs_...abcd`).
    pub mask: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_rolled_at: Option<DateTime<Utc>>,
}

/// A project's public token (`phc_`), as PostHog lists it with the project. The value
/// only ever leaves this type as a fingerprint.
#[derive(Clone)]
pub struct ProjectToken {
    pub project: ProjectId,
    pub project_name: String,
    pub value: SecretString,
}

impl std::fmt::Debug for ProjectToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectToken")
            .field("project", &self.project)
            .field("fingerprint", &short_fingerprint(&fingerprint(self.value.expose_secret())))
            .finish()
    }
}

/// A project secret API key PostHog just issued (create or roll): the only moment its
/// value is known.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub id: String,
    pub label: String,
    pub value: SecretString,
}

/// PostHog's project secret API keys (`/api/projects/{id}/project_secret_api_keys/`),
/// managed with Hogwarden's own key, and the one check a `phs_` key itself can make.
#[async_trait]
pub trait ProjectKeys: Send + Sync {
    async fn list_secret_keys(&self, project: ProjectId) -> Result<Vec<SecretKeyInfo>, PostHogError>;
    /// Every project's token, from the one list of the organization's projects.
    async fn project_tokens(&self) -> Result<Vec<ProjectToken>, PostHogError>;
    async fn create_secret_key(&self, project: ProjectId, label: &str, scopes: &[String]) -> Result<IssuedKey, PostHogError>;
    async fn roll_secret_key(&self, project: ProjectId, id: &str) -> Result<IssuedKey, PostHogError>;
    /// Deletes the key; `Ok(false)` when PostHog no longer had it.
    async fn delete_secret_key(&self, project: ProjectId, id: &str) -> Result<bool, PostHogError>;
    /// Whether PostHog accepts `value` as a bearer on the endpoint `phs_` keys exist for
    /// (flag definitions for local evaluation). `Ok(false)` is PostHog's 401.
    async fn secret_key_works(&self, value: &SecretString) -> Result<bool, PostHogError>;
}

/// What the vault holds for a project secret key: the value and what Hogwarden needs to
/// rotate it (which project, which PostHog key, its scopes). JSON, as Secrets Manager
/// secrets usually are; consumers read `value`.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredSecretKey {
    pub project_id: ProjectId,
    pub key_id: String,
    pub label: String,
    pub scopes: Vec<String>,
    pub value: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecretKey")
            .field("project_id", &self.project_id)
            .field("key_id", &self.key_id)
            .field("label", &self.label)
            .field("fingerprint", &short_fingerprint(&fingerprint(&self.value)))
            .finish_non_exhaustive()
    }
}

impl StoredSecretKey {
    pub fn to_secret(&self) -> SecretString {
        SecretString::from(serde_json::to_string(self).unwrap_or_default())
    }

    /// Reads a vault value; the error never quotes it.
    pub fn parse(secret: &SecretString) -> Result<Self, crate::Error> {
        serde_json::from_str(secret.expose_secret())
            .map_err(|_| crate::Error::Vault("the secret does not hold a project secret key document (project_id, key_id, value…)".into()))
    }

    pub fn secret_value(&self) -> SecretString {
        SecretString::from(self.value.clone())
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.value)
    }
}

/// A Secrets Manager rotation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationStep {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl RotationStep {
    pub const ALL: [Self; 4] = [Self::CreateSecret, Self::SetSecret, Self::TestSecret, Self::FinishSecret];

    /// Secrets Manager's name (`createSecret`); the docs' `create_secret` is accepted too.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "createSecret" | "create_secret" => Some(Self::CreateSecret),
            "setSecret" | "set_secret" => Some(Self::SetSecret),
            "testSecret" | "test_secret" => Some(Self::TestSecret),
            "finishSecret" | "finish_secret" => Some(Self::FinishSecret),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSecret => "createSecret",
            Self::SetSecret => "setSecret",
            Self::TestSecret => "testSecret",
            Self::FinishSecret => "finishSecret",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_prefixes() {
        assert_eq!(KeyKind::of("phs_abc"), Some(KeyKind::ProjectSecret));
        assert_eq!(KeyKind::of("phc_abc"), Some(KeyKind::ProjectToken));
        assert_eq!(KeyKind::of("phx_abc"), Some(KeyKind::Personal));
        assert_eq!(KeyKind::of("ghp_abc"), None);
        assert_eq!(KeyKind::of("ph"), None);
    }

    #[test]
    fn a_value_fits_the_mask_of_its_first_and_last_four_characters_only() {
        let value = "phs_0123456789abcdWXYZ";
        assert!(fits_mask(value, "phs_...WXYZ"));
        assert!(!fits_mask(value, "phs_...WXYz"), "case matters");
        assert!(!fits_mask(value, "phx_...WXYZ"), "another kind");
        assert!(!fits_mask(value, "**********"), "PostHog masks a short value whole");
        assert!(!fits_mask(value, "phs_..."));
        assert!(!fits_mask("phs_", "phs_...phs_"), "too short to have both ends");
    }

    #[test]
    fn stored_keys_never_show_their_value_in_debug() {
        let stored = StoredSecretKey {
            project_id: ProjectId::new(1).unwrap(),
            key_id: "k".into(),
            label: "l".into(),
            scopes: vec![],
            value: "phs_secret_value_123456".into(),
            created_at: Utc::now(),
        };
        let shown = format!("{stored:?}");
        assert!(!shown.contains("phs_secret_value_123456"), "{shown}");
        assert!(shown.contains("sha256:"));
    }

    #[test]
    fn steps_parse_both_spellings() {
        assert_eq!(RotationStep::parse("createSecret"), Some(RotationStep::CreateSecret));
        assert_eq!(RotationStep::parse("finish_secret"), Some(RotationStep::FinishSecret));
        assert_eq!(RotationStep::parse("dropSecret"), None);
    }
}
