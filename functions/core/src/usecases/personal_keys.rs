//! People's personal API keys (issue 6, point 4) and Hogwarden's own key's metadata.
//!
//! What PostHog allows decides the design:
//! * A personal API key may read only its own record (`GET /api/personal_api_keys/@current/`),
//!   so Hogwarden's own label, scopes, created, last used and last rolled come from there
//!   ([`OwnKeyInfo`]).
//! * The organization's list of everyone's keys (`GET /api/organizations/{id}/personal_api_keys/`)
//!   answers only a logged-in org admin's session (`scope_object = "INTERNAL"`). So an admin
//!   downloads it in the browser and uploads the JSON here ([`Hogwarden::import_personal_keys`]).
//!   It carries metadata only (owner, `mask_value`, scopes, access scope, created, last
//!   used); a file holding anything that looks like a whole key value is refused.
//! * Only a key's owner can roll or delete it (PostHog's queryset is the caller's own keys),
//!   so Hogwarden reminds owners ([`Hogwarden::remind_personal_keys`]) and never acts itself.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Hogwarden;
use crate::alerts::PersonalKey;
use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::keys::KeyKind;
use crate::ports::{Guarded, PostHogError};
use crate::types::{Actor, Email, Principal, Role};

/// The most keys one import may hold.
pub const MAX_IMPORTED_KEYS: usize = 5000;

/// Where an admin finds the file to import (shown on the Keys page).
pub const PERSONAL_KEYS_EXPORT_HINT: &str = "Signed in to PostHog as an organization admin, open \
     https://<your PostHog host>/api/organizations/@current/personal_api_keys/?limit=1000 in the browser and save the JSON \
     it shows. PostHog answers that list only to a signed-in admin, never to an API key. The file holds no key values, \
     only owners, masks, scopes and dates.";

/// Hogwarden's own key as PostHog describes it to the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnKey {
    pub label: Option<String>,
    pub mask: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_rolled_at: Option<DateTime<Utc>>,
}

/// `GET /api/personal_api_keys/@current/` with Hogwarden's key.
#[async_trait::async_trait]
pub trait OwnKeyInfo: Send + Sync {
    async fn own_key(&self) -> Result<OwnKey, PostHogError>;
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub listed: usize,
    pub new: usize,
    /// Known keys whose mask changed (rolled since the last import).
    pub rolled: usize,
    /// Known keys the file no longer lists (deleted in PostHog).
    pub gone: usize,
}

/// What a reminder run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyReminderReport {
    pub reminded: usize,
    /// Due, but the owner is not an active member (departed or deactivated).
    pub skipped_inactive: usize,
}

fn bad(message: &str) -> Error {
    Error::PolicyViolation(format!("The file is not PostHog's organization personal API key list: {message}"))
}

/// Whether any string in `value` is a whole PostHog key (not a `mask_value`).
fn holds_key_value(value: &Value) -> bool {
    match value {
        Value::String(s) => KeyKind::of(s.trim()).is_some() && !s.contains("...") && s.trim().len() > 12,
        Value::Array(items) => items.iter().any(holds_key_value),
        Value::Object(map) => map.values().any(holds_key_value),
        _ => false,
    }
}

fn time(item: &Value, field: &str, index: usize, required: bool) -> Result<Option<DateTime<Utc>>> {
    match item.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad(&format!("item {index}: {field} is not a date and time (RFC 3339)"))),
        _ => Err(bad(&format!("item {index}: {field} is missing or not a date and time"))),
    }
}

/// The id Hogwarden gives a key PostHog lists without one.
fn key_id(owner: &Email, created_at: DateTime<Utc>) -> String {
    let full = crate::keys::fingerprint(&format!("{owner}|{}", created_at.timestamp_micros()));
    format!("pk_{}", &full[..20])
}

/// Reads PostHog's list (one page object, or a bare array of its items).
fn parse_list(text: &str, now: DateTime<Utc>) -> Result<Vec<PersonalKey>> {
    let value: Value = serde_json::from_str(text).map_err(|e| bad(&format!("not JSON (line {}, column {})", e.line(), e.column())))?;
    if holds_key_value(&value) {
        return Err(Error::PolicyViolation(
            "The file contains a whole PostHog key value. Nothing was stored; upload PostHog's list, which shows only masked keys.".into(),
        ));
    }
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(page) => {
            if page.get("next").is_some_and(|n| !n.is_null()) {
                return Err(bad(
                    "it is one page of a longer list (\"next\" is set); open the address with ?limit=1000 so one file holds every key",
                ));
            }
            page.get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("expected a JSON array, or an object with a \"results\" array"))?
        }
        _ => return Err(bad("expected a JSON array, or an object with a \"results\" array")),
    };
    if items.len() > MAX_IMPORTED_KEYS {
        return Err(bad(&format!("it lists {} keys; at most {MAX_IMPORTED_KEYS} are accepted", items.len())));
    }
    let mut keys: Vec<PersonalKey> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let index = index + 1;
        if !item.is_object() {
            return Err(bad(&format!("item {index} is not an object")));
        }
        let owner = item.get("owner").ok_or_else(|| bad(&format!("item {index}: owner is missing")))?;
        let email = owner.get("email").and_then(Value::as_str).ok_or_else(|| bad(&format!("item {index}: owner.email is missing")))?;
        let email = Email::parse(email).map_err(|_| bad(&format!("item {index}: owner.email is not an email address")))?;
        let name =
            [owner.get("first_name"), owner.get("last_name")].into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(" ");
        let mask = item
            .get("mask_value")
            .and_then(Value::as_str)
            .filter(|m| m.starts_with("phx_") && m.contains("...") && m.len() <= 20)
            .ok_or_else(|| bad(&format!("item {index}: mask_value is missing or not a masked personal key (phx_...abcd)")))?;
        let scopes =
            item.get("scopes").and_then(Value::as_array).ok_or_else(|| bad(&format!("item {index}: scopes is missing or not a list")))?;
        let scopes = scopes
            .iter()
            .map(|s| s.as_str().filter(|s| s.len() <= 80).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(&format!("item {index}: scopes holds something other than scope names")))?;
        let access = item.pointer("/access_scope/type").and_then(Value::as_str).unwrap_or("all");
        let created_at = time(item, "created_at", index, true)?.unwrap_or(now);
        let last_used_at = time(item, "last_used_at", index, false)?;
        let id = key_id(&email, created_at);
        if keys.iter().any(|k| k.id == id) {
            return Err(bad(&format!("item {index} repeats another item (same owner and creation time)")));
        }
        keys.push(PersonalKey {
            id,
            owner: email,
            owner_name: name.chars().take(120).collect(),
            mask: mask.to_owned(),
            scopes,
            access: access.chars().take(20).collect(),
            created_at,
            last_used_at,
            rolled_seen_at: None,
            imported_at: now,
            listed: true,
            last_reminded_at: None,
            version: 1,
        });
    }
    Ok(keys)
}

impl Hogwarden {
    /// Imports PostHog's organization personal-key list (admins). The whole file is
    /// checked before anything is stored; a bad file changes nothing.
    pub async fn import_personal_keys(&self, who: &Principal, text: &str) -> Result<ImportReport> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to import personal API keys.".into()));
        }
        let now = self.clock.now();
        let imported = parse_list(text, now)?;
        let known: HashMap<String, PersonalKey> =
            self.store.alerts().list_personal_keys().await?.into_iter().map(|k| (k.id.clone(), k)).collect();
        let in_file: std::collections::HashSet<String> = imported.iter().map(|k| k.id.clone()).collect();
        let mut report = ImportReport { listed: imported.len(), ..ImportReport::default() };
        let mut writes: Vec<Guarded<PersonalKey>> = Vec::new();
        for mut key in imported {
            match known.get(&key.id) {
                None => {
                    report.new += 1;
                    writes.push(Guarded::create(key));
                }
                Some(old) => {
                    key.rolled_seen_at = old.rolled_seen_at;
                    if old.mask != key.mask {
                        report.rolled += 1;
                        key.rolled_seen_at = Some(now);
                        // A rolled key starts a new cadence.
                        key.last_reminded_at = None;
                    } else {
                        key.last_reminded_at = old.last_reminded_at;
                    }
                    let unchanged = PersonalKey { imported_at: old.imported_at, version: old.version, ..key.clone() } == *old;
                    if !unchanged {
                        key.version = old.version + 1;
                        writes.push(Guarded::update(key, old.version));
                    }
                }
            }
        }
        for old in known.values() {
            if old.listed && !in_file.contains(&old.id) {
                report.gone += 1;
                let mut gone = old.clone();
                gone.listed = false;
                gone.version = old.version + 1;
                writes.push(Guarded::update(gone, old.version));
            }
        }
        for write in writes {
            self.store.alerts().put_personal_key(write, Vec::new()).await?;
        }
        self.record(
            who.actor(),
            AuditKind::KeyRotation,
            json!({ "step": "personal_keys_imported", "listed": report.listed, "new": report.new, "rolled": report.rolled, "gone": report.gone }),
        )
        .await?;
        Ok(report)
    }

    /// The personal keys Hogwarden knows, oldest first (admins).
    pub async fn personal_keys(&self, who: &Principal) -> Result<Vec<PersonalKey>> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to see personal API keys.".into()));
        }
        let mut keys = self.store.alerts().list_personal_keys().await?;
        keys.retain(|k| k.listed);
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    /// Why a key is due for a reminder now, if it is.
    pub fn personal_key_due(&self, key: &PersonalKey, now: DateTime<Utc>) -> Option<String> {
        let policy = &self.policy.keys;
        if !key.listed || key.last_reminded_at.is_some_and(|at| now - at < Duration::days(policy.personal_key_reminder_days)) {
            return None;
        }
        let since_rolled = key.rolled_seen_at.unwrap_or(key.created_at);
        let age = (now - since_rolled).num_days();
        let idle = (now - key.last_used_at.unwrap_or(key.created_at)).num_days();
        let mut why = Vec::new();
        if age > policy.personal_key_max_age_days {
            why.push(format!(
                "it was created or last rolled {age} days ago (policy: roll every {} days)",
                policy.personal_key_max_age_days
            ));
        }
        if idle > policy.personal_key_unused_days {
            why.push(format!(
                "it has not been used for {idle} days (policy: delete keys unused for {} days)",
                policy.personal_key_unused_days
            ));
        }
        (!why.is_empty()).then(|| why.join(", and "))
    }

    /// The scheduled reminders: each owner of a key older than policy or unused too long
    /// is told, at most once per key per `keys.personal_key_reminder_days` (the
    /// reminder is claimed with a conditional write first, so a retried sweep sends it
    /// once), and never someone who is no longer an active member.
    pub async fn remind_personal_keys(&self) -> Result<KeyReminderReport> {
        let now = self.clock.now();
        let mut report = KeyReminderReport::default();
        let due: Vec<(PersonalKey, String)> = self
            .store
            .alerts()
            .list_personal_keys()
            .await?
            .into_iter()
            .filter_map(|k| self.personal_key_due(&k, now).map(|why| (k, why)))
            .collect();
        if due.is_empty() {
            return Ok(report);
        }
        let members = self.posthog.list_members().await?;
        for (key, why) in due {
            if !members.iter().any(|m| m.email == key.owner) {
                report.skipped_inactive += 1;
                continue;
            }
            let mut claimed = key.clone();
            claimed.last_reminded_at = Some(now);
            claimed.version = key.version + 1;
            let audit = crate::audit::AuditDraft {
                at: now,
                actor: Actor::System("key-reminder".into()),
                kind: AuditKind::Reminded,
                subject: Some(key.owner.clone()),
                request_id: None,
                grant_id: None,
                details: json!({ "personal_key": key.mask, "why": why }),
            };
            match self.store.alerts().put_personal_key(Guarded::update(claimed, key.version), vec![audit]).await {
                Ok(_) => {}
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            let body = format!(
                "Your PostHog personal API key {} ({}) needs attention: {why}. Only you can roll or delete it: in PostHog, \
                 Settings → Personal API keys.",
                key.mask,
                if key.scopes.is_empty() { "no scopes".to_owned() } else { key.scopes.join(", ") }
            );
            if self.tell(&key.owner, "Your PostHog personal API key".into(), body, Some(self.page_link("keys"))).await {
                report.reminded += 1;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-06-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn posthogs_page_and_a_bare_array_both_read() {
        let item = json!({"owner":{"first_name":"Frank","last_name":"Ng","email":"frank@acme.test"},"mask_value":"phx_...abcd",
            "scopes":["project:read"],"access_scope":{"type":"all"},"last_used_at":null,"created_at":"2030-01-01T00:00:00Z"});
        let page = json!({"count":1,"next":null,"previous":null,"results":[item]}).to_string();
        let keys = parse_list(&page, at()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].owner.as_str(), "frank@acme.test");
        assert_eq!(keys[0].owner_name, "Frank Ng");
        assert_eq!(parse_list(&json!([item]).to_string(), at()).unwrap(), keys);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = |text: &str| parse_list(text, at()).unwrap_err().to_string();
        assert!(err("{").contains("not JSON"));
        assert!(err("{}").contains("results"));
        assert!(err(r#"{"next":"https://x/?offset=100","results":[]}"#).contains("one page"));
        assert!(
            err(r#"[{"owner":{},"mask_value":"phx_...abcd","scopes":[],"created_at":"2030-01-01T00:00:00Z"}]"#)
                .contains("item 1: owner.email")
        );
        assert!(
            err(r#"[{"owner":{"email":"a@b.test"},"mask_value":"x","scopes":[],"created_at":"2030-01-01T00:00:00Z"}]"#)
                .contains("mask_value")
        );
        let leaked = r#"[{"owner":{"email":"a@b.test"},"mask_value":"phx_...abcd","value":"phx_0123456789abcdefghij","scopes":[],"created_at":"2030-01-01T00:00:00Z"}]"#;
        let message = err(leaked);
        assert!(message.contains("whole PostHog key value") && !message.contains("phx_0123"), "{message}");
    }
}
