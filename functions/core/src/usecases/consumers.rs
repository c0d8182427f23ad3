//! Consumers of keys: where each key is used and who owns that place (admins list, add
//! and remove them). Every change is one guarded write with its audit entry; adding the
//! same place twice changes nothing, removing a removed place changes nothing.

use serde_json::json;

use super::Hogwarden;
use crate::audit::{AuditDraft, AuditKind};
use crate::consumers::{Consumer, ConsumerKind, KeyRef};
use crate::error::{Error, Result};
use crate::keys::ProjectKeys;
use crate::ports::Guarded;
use crate::types::{Email, ParseError, Principal, Role};

/// Longest place name.
const MAX_NAME: usize = 120;

/// An admin's form to add a consumer, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsumer {
    pub key: String,
    pub kind: String,
    pub name: String,
    pub owner: String,
}

fn admin_only(who: &Principal) -> Result<()> {
    if who.has(Role::Admin) { Ok(()) } else { Err(Error::Forbidden("You need the admin role to manage key consumers.".into())) }
}

fn parse_name(raw: &str) -> Result<String, ParseError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ParseError::Other(format!(
            "name: say where the key is used (1 to {MAX_NAME} characters, e.g. 'web app, VITE_POSTHOG_KEY in acme/web')"
        )));
    }
    Ok(name.to_owned())
}

impl Hogwarden {
    /// The places each key is used in (active ones), oldest first.
    pub async fn list_consumers(&self, who: &Principal) -> Result<Vec<Consumer>> {
        admin_only(who)?;
        Ok(self.store.keys().list_consumers().await?.into_iter().filter(Consumer::is_active).collect())
    }

    /// The active consumers of one key.
    pub(crate) async fn consumers_of(&self, key: &KeyRef) -> Result<Vec<Consumer>> {
        let key = key.as_string();
        Ok(self.store.keys().list_consumers().await?.into_iter().filter(|c| c.is_active() && c.key == key).collect())
    }

    /// The owners of a key's consumers, each once.
    pub(crate) async fn consumer_owners(&self, key: &KeyRef) -> Result<Vec<Email>> {
        let mut owners: Vec<Email> = self.consumers_of(key).await?.into_iter().map(|c| c.owner).collect();
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    /// Checks that the key exists: a PostHog project (its token), a project secret key
    /// Hogwarden rotates or one PostHog lists (`keys`), a personal key of the newest
    /// import, or Hogwarden's own key.
    async fn check_key_exists(&self, key: &KeyRef, keys: Option<&dyn ProjectKeys>) -> Result<()> {
        let missing = |why: String| Err(Error::NotFound(format!("key '{}' ({why})", key.as_string())));
        match key {
            KeyRef::ServiceKey => Ok(()),
            KeyRef::Secret(name) if self.policy.keys.managed_secrets.contains(name) => Ok(()),
            KeyRef::Secret(_) => missing("Hogwarden rotates no project secret key under that name".into()),
            KeyRef::ProjectToken(p) => {
                if self.posthog.list_projects().await?.iter().any(|project| project.id == *p) {
                    Ok(())
                } else {
                    missing(format!("PostHog has no project {p}"))
                }
            }
            KeyRef::SecretKey { project, id } => {
                let Some(keys) = keys else {
                    return missing("this deployment does not read PostHog's project secret keys".into());
                };
                if keys.list_secret_keys(*project).await?.iter().any(|k| k.id == *id) {
                    Ok(())
                } else {
                    missing(format!("PostHog lists no project secret key {id} in project {project}"))
                }
            }
            KeyRef::PersonalKey(id) => {
                if self.store.alerts().list_personal_keys().await?.iter().any(|k| k.id == *id && k.listed) {
                    Ok(())
                } else {
                    missing("no personal key of that id is in the last import of PostHog's list".into())
                }
            }
        }
    }

    /// Adds a place where a key is used. Returns the record and whether it was written
    /// now (`false`: the same place was already listed, nothing changed). `keys` checks
    /// that a project secret key Hogwarden does not rotate exists in PostHog.
    #[tracing::instrument(skip_all, fields(by = %who.email))]
    pub async fn add_consumer(&self, who: &Principal, form: NewConsumer, keys: Option<&dyn ProjectKeys>) -> Result<(Consumer, bool)> {
        admin_only(who)?;
        let key = KeyRef::parse(form.key.trim())?;
        let kind = ConsumerKind::parse(form.kind.trim())?;
        let name = parse_name(&form.name)?;
        let owner = Email::parse(&form.owner).map_err(|_| {
            ParseError::Other(format!("owner: '{}' is not a valid email address", form.owner.chars().take(60).collect::<String>()))
        })?;
        self.check_key_exists(&key, keys).await?;
        let id = Consumer::id_for(&key, &name);
        let now = self.clock.now();
        let existing = self.store.keys().get_consumer(&id).await?;
        let (record, expected) = match existing {
            Some(c) if c.is_active() && c.kind == kind && c.owner == owner => return Ok((c, false)),
            Some(c) if c.is_active() => {
                return Err(Error::Conflict(format!(
                    "name: '{}' is already listed for this key ({}, owned by {}); remove it first to change it",
                    c.name,
                    c.kind.as_str(),
                    c.owner
                )));
            }
            Some(c) => (
                Consumer {
                    kind,
                    name,
                    owner,
                    added_by: who.email.clone(),
                    added_at: now,
                    removed_at: None,
                    removed_by: None,
                    version: c.version + 1,
                    ..c.clone()
                },
                Some(c.version),
            ),
            None => (
                Consumer {
                    id: id.clone(),
                    key: key.as_string(),
                    kind,
                    name,
                    owner,
                    added_by: who.email.clone(),
                    added_at: now,
                    removed_at: None,
                    removed_by: None,
                    version: 1,
                },
                None,
            ),
        };
        let audit = self.consumer_audit(who, &record, "added");
        let guarded = Guarded { record: record.clone(), expected_version: expected };
        match self.store.keys().put_consumer(guarded, vec![audit]).await {
            Ok(_) => Ok((record, true)),
            // The same form sent twice at once: the other one wrote it.
            Err(Error::Conflict(_)) => match self.store.keys().get_consumer(&id).await? {
                Some(c) if c.is_active() && c.kind == record.kind && c.owner == record.owner => Ok((c, false)),
                _ => Err(Error::Conflict("The consumer changed while it was being added; reload and try again.".into())),
            },
            Err(e) => Err(e),
        }
    }

    /// Removes a place from a key's consumers. `expected_version`, when given, must be
    /// the version the caller saw. Removing a removed place changes nothing.
    #[tracing::instrument(skip_all, fields(by = %who.email, consumer = %id))]
    pub async fn remove_consumer(&self, who: &Principal, id: &str, expected_version: Option<u64>) -> Result<Consumer> {
        admin_only(who)?;
        let current = self.store.keys().get_consumer(id).await?.ok_or_else(|| Error::NotFound(format!("consumer {id}")))?;
        if !current.is_active() {
            return Ok(current);
        }
        if let Some(v) = expected_version
            && v != current.version
        {
            return Err(Error::Conflict(format!(
                "version: the consumer is at version {}, not {v}; someone else changed it, reload and try again",
                current.version
            )));
        }
        let mut record = current.clone();
        record.removed_at = Some(self.clock.now());
        record.removed_by = Some(who.email.clone());
        record.version = current.version + 1;
        let audit = self.consumer_audit(who, &record, "removed");
        self.store.keys().put_consumer(Guarded::update(record.clone(), current.version), vec![audit]).await?;
        Ok(record)
    }

    fn consumer_audit(&self, who: &Principal, c: &Consumer, action: &str) -> AuditDraft {
        AuditDraft {
            at: self.clock.now(),
            actor: who.actor(),
            kind: AuditKind::KeyConsumer,
            subject: Some(c.owner.clone()),
            request_id: None,
            grant_id: None,
            details: json!({ "action": action, "consumer_id": c.id, "key": c.key, "kind": c.kind.as_str(), "name": c.name, "owner": c.owner }),
        }
    }
}
