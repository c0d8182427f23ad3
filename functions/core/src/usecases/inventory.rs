//! The key inventory (admins): every PostHog key Hogwarden knows, each with a
//! fingerprint when Hogwarden holds or sees its value (never the value), whether
//! Hogwarden rotates it (policy `keys.managed_secrets`) and its last rotation (from the
//! audit log).
//!
//! PostHog calls: one key check, one list of the organization's projects (which carries
//! each project's token) and one list of secret keys per project. People's personal keys
//! PostHog shows only to a logged-in session (`/api/organizations/{id}/personal_api_keys/`
//! refuses a personal API key), so the inventory says so instead of listing them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::Hogwarden;
use crate::audit::AuditKind;
use crate::consumers::KeyRef;
use crate::error::Result;
use crate::keys::{ProjectKeys, StoredSecretKey, fingerprint, short_fingerprint};
use crate::ports::{AuditQuery, Stage, Vault};
use crate::types::Principal;
use crate::types::ProjectId;

/// What the inventory says about people's personal keys.
pub const PERSONAL_KEYS_NOTE: &str = "PostHog shows people's personal API keys only to a logged-in session, so Hogwarden cannot list them. \
     Only a key's owner can roll it, in PostHog under Settings → Personal API keys.";

/// One key in the inventory. `fingerprint` is `None` when PostHog shows the key only masked
/// and Hogwarden does not hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryKey {
    pub name: String,
    /// `personal_api_key`, `project_secret_api_key` or `project_token`.
    pub kind: &'static str,
    pub fingerprint: Option<String>,
    /// Whether PostHog accepted the key when it was checked (Hogwarden's own key only).
    pub accepted: Option<bool>,
    pub project: Option<(ProjectId, String)>,
    pub key_id: Option<String>,
    pub label: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_rolled_at: Option<DateTime<Utc>>,
    /// Whether Hogwarden rotates it, and under which vault name.
    pub managed_secret: Option<String>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// PostHog's `mask_value` of a key Hogwarden does not hold (`phs_...abcd`).
    pub mask: Option<String>,
    /// How consumers name the key; `None` for a key that cannot have consumers.
    pub key_ref: Option<KeyRef>,
}

impl InventoryKey {
    /// A key known by name and kind only; the caller fills in what it knows.
    pub fn new(name: String, kind: &'static str) -> Self {
        Self {
            name,
            kind,
            fingerprint: None,
            accepted: None,
            project: None,
            key_id: None,
            label: None,
            scopes: Vec::new(),
            created_at: None,
            last_used_at: None,
            last_rolled_at: None,
            managed_secret: None,
            last_rotated_at: None,
            note: None,
            mask: None,
            key_ref: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub keys: Vec<InventoryKey>,
    pub notes: Vec<String>,
    pub checked_at: DateTime<Utc>,
}

/// Audit entries read to find each managed key's last rotation.
const ROTATION_ENTRIES: usize = 2000;

/// Builds the inventory from PostHog, the vault and the audit log.
#[derive(Clone)]
pub struct KeyInventory {
    app: Hogwarden,
    vault: Arc<dyn Vault>,
    keys: Arc<dyn ProjectKeys>,
    /// keys-alerts: Hogwarden's own key's metadata (`@current`).
    own: Option<Arc<dyn super::OwnKeyInfo>>,
}

impl std::fmt::Debug for KeyInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyInventory").finish_non_exhaustive()
    }
}

impl KeyInventory {
    pub fn new(app: Hogwarden, vault: Arc<dyn Vault>, keys: Arc<dyn ProjectKeys>) -> Self {
        Self { app, vault, keys, own: None }
    }

    /// Shows Hogwarden's own key's label, scopes and dates, as PostHog tells the key itself.
    #[must_use]
    pub fn with_own_key(mut self, own: Arc<dyn super::OwnKeyInfo>) -> Self {
        self.own = Some(own);
        self
    }

    /// Every key Hogwarden knows (admins only).
    pub async fn list(&self, who: &Principal) -> Result<Inventory> {
        let check = self.app.service_key_status(who).await?;
        let mut keys = vec![InventoryKey {
            fingerprint: Some(check.fingerprint),
            accepted: Some(check.accepted),
            note: Some("Replace it with the service key form; PostHog lets only its owner roll it.".into()),
            key_ref: Some(KeyRef::ServiceKey),
            ..InventoryKey::new("Hogwarden service key".into(), "personal_api_key")
        }];
        // Hogwarden's own key's mask, to leave it out of the imported list (it is listed
        // above by its fingerprint).
        let mut own_mask = None;
        if check.accepted
            && let Some(own) = &self.own
        {
            match own.own_key().await {
                Ok(meta) => {
                    let service = &mut keys[0];
                    service.label = meta.label;
                    service.scopes = meta.scopes;
                    service.created_at = meta.created_at;
                    service.last_used_at = meta.last_used_at;
                    service.last_rolled_at = meta.last_rolled_at;
                    own_mask = meta.mask;
                }
                Err(e) => tracing::warn!(error = %e, "could not read Hogwarden's own key metadata"),
            }
        }
        if !check.accepted {
            let note = "PostHog rejects Hogwarden's key, so the project keys cannot be read until an admin stores a new one.";
            return Ok(Inventory { keys, notes: vec![note.into(), PERSONAL_KEYS_NOTE.into()], checked_at: self.app.clock.now() });
        }

        // The keys Hogwarden rotates: their current value in the vault, by PostHog key id.
        let mut managed: HashMap<String, (String, StoredSecretKey)> = HashMap::new();
        for secret in &self.app.policy.keys.managed_secrets {
            if let Some(value) = self.vault.get(secret, Stage::Current).await?
                && let Ok(stored) = StoredSecretKey::parse(&value)
            {
                managed.insert(stored.key_id.clone(), (secret.clone(), stored));
            }
        }
        let last_rotation = self.last_rotations().await?;

        for token in self.keys.project_tokens().await? {
            keys.push(InventoryKey {
                fingerprint: Some(short_fingerprint(&fingerprint(token.value.expose_secret()))),
                project: Some((token.project, token.project_name.clone())),
                note: Some("PostHog resets a project token only from a logged-in session.".into()),
                key_ref: Some(KeyRef::ProjectToken(token.project)),
                ..InventoryKey::new(format!("{} project token", token.project_name), "project_token")
            });
            for key in self.keys.list_secret_keys(token.project).await? {
                let held = managed.get(&key.id);
                keys.push(InventoryKey {
                    fingerprint: held.map(|(_, stored)| short_fingerprint(&stored.fingerprint())),
                    project: Some((token.project, token.project_name.clone())),
                    key_id: Some(key.id.clone()),
                    label: Some(key.label.clone()),
                    scopes: key.scopes,
                    created_at: key.created_at,
                    last_used_at: key.last_used_at,
                    last_rolled_at: key.last_rolled_at,
                    managed_secret: held.map(|(secret, _)| secret.clone()),
                    last_rotated_at: held.and_then(|(secret, _)| last_rotation.get(secret).copied()),
                    note: held.is_none().then(|| "PostHog shows this key only masked; Hogwarden does not rotate it.".into()),
                    mask: if held.is_none() { key.mask.clone() } else { None },
                    key_ref: Some(match held {
                        Some((secret, _)) => KeyRef::Secret(secret.clone()),
                        None => KeyRef::SecretKey { project: token.project, id: key.id.clone() },
                    }),
                    ..InventoryKey::new(format!("{} secret key {}", token.project_name, key.label), "project_secret_api_key")
                });
            }
        }
        let notes = self.personal_keys(&mut keys, own_mask.as_deref()).await?;
        Ok(Inventory { keys, notes, checked_at: self.app.clock.now() })
    }

    /// People's personal keys as the newest import of PostHog's list shows them (but
    /// Hogwarden's own, already listed, which has the mask `own_mask`), and what the
    /// inventory says about them.
    async fn personal_keys(&self, keys: &mut Vec<InventoryKey>, own_mask: Option<&str>) -> Result<Vec<String>> {
        let mut people: Vec<_> = self.app.store.alerts().list_personal_keys().await?.into_iter().filter(|k| k.listed).collect();
        let Some(imported) = people.iter().map(|k| k.imported_at).max() else {
            return Ok(vec![PERSONAL_KEYS_NOTE.into()]);
        };
        people.retain(|k| Some(k.mask.as_str()) != own_mask);
        people.sort_by(|a, b| (&a.owner, a.created_at).cmp(&(&b.owner, b.created_at)));
        for k in people {
            keys.push(InventoryKey {
                key_id: Some(k.id.clone()),
                scopes: k.scopes,
                created_at: Some(k.created_at),
                last_used_at: k.last_used_at,
                last_rolled_at: k.rolled_seen_at,
                note: Some(format!("Owned by {}; only its owner can roll it in PostHog.", k.owner)),
                mask: Some(k.mask.clone()),
                key_ref: Some(KeyRef::PersonalKey(k.id)),
                ..InventoryKey::new(format!("Personal key {} of {}", k.mask, k.owner), "personal_api_key")
            });
        }
        Ok(vec![format!(
            "People's personal API keys are listed as of the last import of PostHog's list ({}). PostHog shows that list only to a \
             logged-in session, so import it again to bring it up to date. Only a key's owner can roll it, in PostHog under Settings → \
             Personal API keys.",
            imported.format("%Y-%m-%d %H:%M UTC")
        )])
    }

    /// The port the inventory reads project secret keys through (a consumer of one is
    /// checked against it).
    pub fn project_keys(&self) -> &dyn ProjectKeys {
        &*self.keys
    }

    /// The newest enrolment or finished rotation per vault name.
    async fn last_rotations(&self) -> Result<HashMap<String, DateTime<Utc>>> {
        let query = AuditQuery { kind: Some(AuditKind::KeyRotation), limit: ROTATION_ENTRIES, ..AuditQuery::default() };
        let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
        for entry in self.app.store.list_audit(&query).await? {
            let step = entry.details.get("step").and_then(|s| s.as_str());
            if !matches!(step, Some("enrolled" | "finishSecret")) {
                continue;
            }
            if let Some(secret) = entry.details.get("secret").and_then(|s| s.as_str()) {
                let at = last.entry(secret.to_owned()).or_insert(entry.at);
                *at = (*at).max(entry.at);
            }
        }
        Ok(last)
    }
}
