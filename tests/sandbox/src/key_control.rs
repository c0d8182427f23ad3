//! What people do with keys in PostHog's UI, where PostHog allows it only from a logged-in
//! session (reset a project token, roll a personal API key, read the organization's key
//! inventory), and what tests inspect about keys. Each session action applies the same rule
//! PostHog's view applies (project admin; owner only).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::SandboxState;
use crate::keyring::mask_key_value;
pub use crate::keyring::{CapturedEvent, ExposedKeyEmail};
use crate::model::{AccessLevel, OrgLevel, Scope};
use crate::routes::keys::NOT_PROJECT_ADMIN;
use crate::state::{Actor, StoreError};

/// `OrganizationAdminReadPermissions`' refusal (version-uncertain wording).
pub const ORG_ADMIN_ONLY: &str = "Your organization access level is insufficient.";

/// A personal API key as its owner sees it in PostHog (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalKeyRecord {
    pub id: String,
    pub owner: String,
    pub label: String,
    pub mask_value: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_rolled_at: Option<DateTime<Utc>>,
}

/// A project secret API key, value included (tests compare values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyRecord {
    pub id: String,
    pub label: String,
    pub value: String,
    pub scopes: Vec<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_rolled_at: Option<DateTime<Utc>>,
}

impl SandboxState {
    /// The project's public token (`phc_…`).
    pub fn project_token(&self, project_id: i64) -> Option<String> {
        self.store().project(project_id).map(|p| p.api_token.clone())
    }

    /// `PATCH /api/projects/{id}/reset_token/` from a logged-in session: the person must be
    /// a project admin (`TeamMemberStrictManagementPermission`). The old token stops working at
    /// once. Returns the new token.
    pub fn reset_project_token_as(&self, actor_email: &str, project_id: i64) -> Result<String, StoreError> {
        let now = self.now();
        let mut store = self.store();
        let (user, membership) = store.member_by_email(actor_email)?;
        let (user_id, org_admin) = (user.id, membership.level >= OrgLevel::Admin);
        if store.project(project_id).is_none() {
            return Err(StoreError::UnknownProject(project_id));
        }
        if !org_admin && store.project_level(user_id, project_id) != Some(AccessLevel::Admin) {
            return Err(StoreError::Forbidden(NOT_PROJECT_ADMIN.to_owned()));
        }
        store.reset_project_token(project_id, Actor { user_id, client: "web" }, now).ok_or(StoreError::UnknownProject(project_id))
    }

    /// Creates a project secret API key from `actor_email`'s session in PostHog's project
    /// settings, under the same rules as PostHog's create (a project admin; at most ten per
    /// project; labels unique). Returns the key with its value, which PostHog shows once.
    pub fn create_secret_key_as(
        &self,
        actor_email: &str,
        project_id: i64,
        label: &str,
        scopes: &[&str],
    ) -> Result<SecretKeyRecord, StoreError> {
        let user_id = {
            let store = self.store();
            let (user, membership) = store.member_by_email(actor_email)?;
            if store.project(project_id).is_none() {
                return Err(StoreError::UnknownProject(project_id));
            }
            if membership.level < OrgLevel::Admin && store.project_level(user.id, project_id) != Some(AccessLevel::Admin) {
                return Err(StoreError::Forbidden(NOT_PROJECT_ADMIN.to_owned()));
            }
            user.id
        };
        let body = serde_json::json!({ "scopes": scopes });
        let scopes = crate::routes::keys::validate_secret_scopes(body.as_object().expect("an object"), true)
            .map_err(|e| StoreError::Forbidden(e.detail))?
            .unwrap_or_default();
        let key = crate::routes::keys::new_secret_key(self, project_id, label.to_owned(), scopes, user_id)
            .map_err(|e| StoreError::Forbidden(e.detail))?;
        Ok(SecretKeyRecord {
            id: key.id.to_string(),
            label: key.label,
            value: key.value,
            scopes: key.scopes,
            last_used_at: None,
            last_rolled_at: None,
        })
    }

    /// Creates a personal API key from the owner's session, with a label and an age.
    pub fn create_personal_key_as(
        &self,
        email: &str,
        label: &str,
        scopes: &[&str],
        created_ago: chrono::Duration,
    ) -> Result<String, StoreError> {
        let scopes = scopes.iter().map(|s| Scope::parse(s)).collect::<Result<Vec<_>, _>>()?;
        let now = self.now();
        let mut store = self.store();
        let user = store.user_by_email(email).map(|u| u.id).ok_or_else(|| StoreError::UnknownEmail(email.to_owned()))?;
        Ok(store.issue_key_at(user, scopes, None, label, now - created_ago))
    }

    /// `POST /api/personal_api_keys/{id}/roll/` from `actor_email`'s session. PostHog's
    /// queryset holds only the caller's own keys, so anyone else's key is "Not found.".
    pub fn roll_personal_key_as(&self, actor_email: &str, key_id: &str) -> Result<String, StoreError> {
        let now = self.now();
        let mut store = self.store();
        let user = store.user_by_email(actor_email).map(|u| u.id).ok_or_else(|| StoreError::UnknownEmail(actor_email.to_owned()))?;
        let id = Uuid::parse_str(key_id).map_err(|_| StoreError::Forbidden("Not found.".into()))?;
        let value = store
            .keys()
            .iter()
            .find(|k| k.id == id && k.user_id == user)
            .map(|k| k.value.clone())
            .ok_or_else(|| StoreError::Forbidden("Not found.".into()))?;
        store.roll_key_at(&value, now).ok_or_else(|| StoreError::Forbidden("Not found.".into()))
    }

    /// `GET /api/organizations/{id}/personal_api_keys/?limit=&offset=` from `actor_email`'s
    /// logged-in session: the body PostHog answers (`OrganizationPersonalAPIKeyViewSet`),
    /// which an admin saves and uploads to Hogwarden. Org admins and owners only
    /// (`OrganizationAdminReadPermissions`); PostHog refuses it to any personal API key
    /// (`scope_object = "INTERNAL"`, see `routes::keys`). Every key of every member, most
    /// recently used first (never-used keys first, as Postgres sorts NULL in a descending
    /// order), then newest; limit/offset paginated like every list. Never a value: each
    /// key is `owner`, `mask_value`, `scopes`, `access_scope`, `last_used_at`, `created_at`.
    pub fn organization_personal_keys_as(&self, actor_email: &str, limit: usize, offset: usize) -> Result<serde_json::Value, StoreError> {
        let store = self.store();
        let (_, membership) = store.member_by_email(actor_email)?;
        if membership.level < OrgLevel::Admin {
            return Err(StoreError::Forbidden(ORG_ADMIN_ONLY.to_owned()));
        }
        let mut keys: Vec<(&crate::model::ApiKey, &crate::model::User)> = store
            .keys()
            .iter()
            .filter_map(|k| store.user(k.user_id).map(|u| (k, u)))
            .filter(|(_, u)| store.member_by_email(&u.email).is_ok())
            .collect();
        keys.sort_by(|(a, _), (b, _)| {
            let used = match (a.last_used_at, b.last_used_at) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            };
            used.then(b.created_at.cmp(&a.created_at))
        });
        let count = keys.len();
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let results: Vec<serde_json::Value> = keys
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(k, u)| {
                serde_json::json!({
                    "owner": { "first_name": u.first_name, "last_name": u.last_name, "email": u.email },
                    "mask_value": mask_key_value(&k.value),
                    "scopes": k.scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "access_scope": { "type": "all" },
                    "last_used_at": k.last_used_at.map(stamp),
                    "created_at": stamp(k.created_at),
                })
            })
            .collect();
        let base = format!("/api/organizations/{}/personal_api_keys/", store.organization().id);
        let next = (offset + limit < count).then(|| format!("{base}?limit={limit}&offset={}", offset + limit));
        let previous = (offset > 0).then(|| format!("{base}?limit={limit}&offset={}", offset.saturating_sub(limit)));
        Ok(serde_json::json!({ "count": count, "next": next, "previous": previous, "results": results }))
    }

    /// The personal API keys of the person with `email`, newest first (their own list).
    pub fn personal_keys_of(&self, email: &str) -> Vec<PersonalKeyRecord> {
        let store = self.store();
        let Some(user) = store.user_by_email(email) else { return Vec::new() };
        let mut keys: Vec<PersonalKeyRecord> = store
            .keys()
            .iter()
            .filter(|k| k.user_id == user.id)
            .map(|k| PersonalKeyRecord {
                id: k.id.to_string(),
                owner: user.email.clone(),
                label: k.label.clone(),
                mask_value: mask_key_value(&k.value),
                scopes: k.scopes.iter().map(ToString::to_string).collect(),
                created_at: k.created_at,
                last_used_at: k.last_used_at,
                last_rolled_at: k.last_rolled_at,
            })
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        keys
    }

    /// The project's secret API keys, values included.
    pub fn secret_keys(&self, project_id: i64) -> Vec<SecretKeyRecord> {
        self.keyring()
            .project_keys(project_id)
            .map(|k| SecretKeyRecord {
                id: k.id.to_string(),
                label: k.label.clone(),
                value: k.value.clone(),
                scopes: k.scopes.clone(),
                last_used_at: k.last_used_at,
                last_rolled_at: k.last_rolled_at,
            })
            .collect()
    }

    /// Events capture accepted for the project, oldest first.
    pub fn captured_events(&self, project_id: i64) -> Vec<CapturedEvent> {
        self.keyring().events.iter().filter(|e| e.project_id == project_id).cloned().collect()
    }

    /// The emails PostHog sent about revoked leaked keys, oldest first.
    pub fn exposed_key_emails(&self) -> Vec<ExposedKeyEmail> {
        self.keyring().exposed_emails.clone()
    }
}
