//! Hogwarden's own key, replaced by an admin through a form: the new key is checked
//! against PostHog (it must be accepted for the organization and carry every scope
//! Hogwarden uses) before it is stored; the running functions switch to it at once.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::Error;
use crate::audit::AuditKind;
use crate::error::Result;
use crate::keys::{KeyKind, fingerprint, short_fingerprint};
use crate::ports::{PostHogError, Stage, Vault};
use crate::types::{Principal, Role};
use crate::usecases::Hogwarden;

/// The scopes Hogwarden's key needs (members, access controls, roles, projects and
/// their secret keys, the activity log).
pub const SERVICE_KEY_SCOPES: &[&str] =
    &["organization_member:write", "access_control:write", "organization:read", "project:write", "activity_log:read"];

/// What PostHog says of a candidate key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateKey {
    /// PostHog answered the organization's endpoints with it.
    pub accepted: bool,
    /// Its scopes, as PostHog reports them (`GET /api/personal_api_keys/@current/`).
    pub scopes: Vec<String>,
}

/// Checks a candidate key against PostHog, and switches the running client to the
/// stored key.
#[async_trait::async_trait]
pub trait ServiceKeyCheck: Send + Sync {
    async fn inspect(&self, key: &SecretString) -> Result<CandidateKey, PostHogError>;
    /// The vault now holds a new key: use it from now on.
    async fn key_stored(&self);
}

/// Replaces Hogwarden's key. Cheap to clone.
#[derive(Clone)]
pub struct ServiceKeys {
    app: Hogwarden,
    vault: Arc<dyn Vault>,
    secret: String,
    check: Arc<dyn ServiceKeyCheck>,
}

impl std::fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKeys").field("secret", &self.secret).finish_non_exhaustive()
    }
}

fn satisfies(held: &[String], needed: &str) -> bool {
    let object = needed.split(':').next().unwrap_or_default();
    held.iter().any(|s| s == "*" || s == needed || (needed.ends_with(":read") && *s == format!("{object}:write")))
}

impl ServiceKeys {
    pub fn new(app: Hogwarden, vault: Arc<dyn Vault>, secret: impl Into<String>, check: Arc<dyn ServiceKeyCheck>) -> Self {
        Self { app, vault, secret: secret.into(), check }
    }

    /// Validates `key` and stores it as the current service key. Returns its short
    /// fingerprint. Nothing is stored unless PostHog accepts the key with every scope.
    pub async fn replace(&self, who: &Principal, key: SecretString) -> Result<String> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to replace Hogwarden's key.".into()));
        }
        let raw = key.expose_secret().trim();
        if KeyKind::of(raw) != Some(KeyKind::Personal) || raw.len() < 20 || raw.len() > 200 || raw.chars().any(char::is_whitespace) {
            return Err(Error::PolicyViolation("The key must be a PostHog personal API key (phx_…).".into()));
        }
        let key = SecretString::from(raw.to_owned());
        let candidate = self.check.inspect(&key).await.map_err(|e| match e {
            PostHogError::Unauthorized => Error::PolicyViolation("PostHog does not accept this key.".into()),
            other => Error::Upstream(other),
        })?;
        if !candidate.accepted {
            return Err(Error::PolicyViolation("PostHog does not accept this key for the organization Hogwarden manages.".into()));
        }
        let missing: Vec<&str> = SERVICE_KEY_SCOPES.iter().copied().filter(|s| !satisfies(&candidate.scopes, s)).collect();
        if !missing.is_empty() {
            return Err(Error::PolicyViolation(format!("The key lacks these scopes: {}.", missing.join(", "))));
        }
        let full = fingerprint(key.expose_secret());
        let previous = self.vault.get(&self.secret, Stage::Current).await?.map(|k| short_fingerprint(&fingerprint(k.expose_secret())));
        let version = format!("service-{}", &full[..32]);
        self.vault.stage_pending(&self.secret, &version, key).await?;
        self.vault.promote(&self.secret, &version).await?;
        self.check.key_stored().await;
        let short = short_fingerprint(&full);
        self.app
            .record(
                who.actor(),
                AuditKind::KeyRotation,
                json!({ "step": "service_key_replaced", "fingerprint": short, "previous_fingerprint": previous }),
            )
            .await?;
        // keys-alerts: a new, validated key lifts the writes pause (audited there).
        super::pause::lift_pause(&*self.app.store, self.app.clock.now(), who.actor(), &short).await?;
        Ok(short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_scopes_cover_read_and_star_covers_all() {
        let held = vec!["project:write".to_owned()];
        assert!(satisfies(&held, "project:read"));
        assert!(satisfies(&held, "project:write"));
        assert!(!satisfies(&held, "activity_log:read"));
        assert!(satisfies(&["*".to_owned()], "organization_member:write"));
        assert!(!satisfies(&["organization:read".to_owned()], "organization:write"));
    }
}
