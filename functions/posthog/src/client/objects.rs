//! Objects in a project (dashboards, insights, feature flags, notebooks) and their
//! per-object access controls, for offboarding (`shared/posthog-api.md` §11).
//!
//! Lists use the creator filter each viewset has (insights `created_by=<user id>`,
//! feature flags `created_by_id=<user id>`, notebooks `created_by=<user uuid>`;
//! dashboards have none) and the caller still checks `created_by` on every item, in
//! case a PostHog version ignores a filter.

use hogwarden_core::ports::ObjectKind;
use hogwarden_core::types::ProjectId;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{Call, PostHogClient, decode, decode_optional};
use crate::error::ClientError;
use crate::wire::{AccessControl, AccessControls, User};

/// One item of an object list: the fields every kind shares, and each kind's name field.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectItem {
    /// An integer, or a notebook's uuid.
    pub id: serde_json::Value,
    #[serde(default)]
    pub short_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// A feature flag's key.
    #[serde(default)]
    pub key: Option<String>,
    /// A notebook's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Insights: `false` for an unsaved draft.
    #[serde(default)]
    pub saved: Option<bool>,
    #[serde(default)]
    pub created_by: Option<User>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

impl ObjectItem {
    /// The path key of the object's detail routes: a notebook's short id, else its id.
    pub fn path_key(&self, kind: ObjectKind) -> Option<String> {
        match kind {
            ObjectKind::Notebook => self.short_id.clone(),
            _ => match &self.id {
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::String(s) => Some(s.clone()),
                _ => None,
            },
        }
    }

    /// What people call it.
    pub fn display_name(&self, kind: ObjectKind) -> String {
        let name = match kind {
            ObjectKind::FeatureFlag => self.key.clone().or_else(|| self.name.clone()),
            ObjectKind::Notebook => self.title.clone(),
            _ => self.name.clone(),
        };
        name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "(untitled)".to_owned())
    }
}

/// `PUT .../{resource}s/{id}/access_controls/`: `resource` and `resource_id` come from
/// the URL. `access_level: null` deletes the rule, so it is always serialized.
#[derive(Debug, Clone, Serialize)]
struct ObjectAccessPut<'a> {
    organization_member: &'a str,
    access_level: Option<&'a str>,
}

fn segment(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Dashboard => "dashboards",
        ObjectKind::Insight => "insights",
        ObjectKind::FeatureFlag => "feature_flags",
        ObjectKind::Notebook => "notebooks",
    }
}

impl PostHogClient {
    /// Every live object of one kind in a project with these filters, all pages.
    #[tracing::instrument(skip_all, fields(project = %project, kind = kind.as_str()))]
    pub async fn list_objects(
        &self,
        project: ProjectId,
        kind: ObjectKind,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ObjectItem>, ClientError> {
        let id = project.get().to_string();
        let items: Vec<ObjectItem> = self.list_all(&["api", "projects", &id, segment(kind)], filters).await?;
        Ok(items.into_iter().filter(|i| i.deleted != Some(true)).collect())
    }

    /// The rules of one object (`GET .../{resource}s/{key}/access_controls/`).
    #[tracing::instrument(skip_all, fields(project = %project, kind = kind.as_str(), object = %key))]
    pub async fn get_object_access_controls(&self, project: ProjectId, kind: ObjectKind, key: &str) -> Result<AccessControls, ClientError> {
        let id = project.get().to_string();
        let url = self.url(&["api", "projects", &id, segment(kind), key, "access_controls"], &[])?;
        decode(self.execute(Call::get(url)).await?)
    }

    /// Sets (`Some`) or deletes (`None`) a member's rule on one object.
    #[tracing::instrument(skip_all, fields(project = %project, kind = kind.as_str(), object = %key, membership = %membership_id))]
    pub async fn put_object_access_control(
        &self,
        project: ProjectId,
        kind: ObjectKind,
        key: &str,
        membership_id: &str,
        level: Option<&str>,
    ) -> Result<Option<AccessControl>, ClientError> {
        let id = project.get().to_string();
        let url = self.url(&["api", "projects", &id, segment(kind), key, "access_controls"], &[])?;
        let body = ObjectAccessPut { organization_member: membership_id, access_level: level };
        decode_optional(self.execute(Call::json(Method::PUT, url, &body)?).await?)
    }
}
