//! [`KeyStore`] on the single table (an addition to [`crate::keys`]' layout):
//!
//! | item | PK | SK |
//! |---|---|---|
//! | key consumer | `KEYS#CONSUMER` | `<consumer id>` (all consumers: one strongly consistent `Query`) |
//! | guided project-token rotation | `KEYS#TOKENROT` | `<project id, 20 digits>` |
//! | one-time claim | `KEYS#CLAIM#<key>` | `CLAIM` |
//! | one-time binding (e.g. an email's identity-provider subject) | `KEYS#BIND#<key>` | `BIND` (`value`, `at`) |
//!
//! Records are JSON in `body`; each write is one conditional `Put` (`attribute_not_exists`
//! to create, `version = :expected` to update) in the same transaction as its audit
//! entries. A claim is a `Put` with `attribute_not_exists(PK)`; so is a binding, read back
//! (strongly consistent) before and after, and never updated.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::consumers::{Consumer, KeyStore, TokenRotation};
use hogwarden_core::error::Result;
use hogwarden_core::ports::Guarded;
use hogwarden_core::types::ProjectId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::items::{self, Item};
use crate::keys::{PK, SK};
use crate::store::{DynamoStore, Query, RecordGuard, check_version, guarded_put};

const CONSUMERS: &str = "KEYS#CONSUMER";
const ROTATIONS: &str = "KEYS#TOKENROT";

/// The item key of a one-time binding.
fn binding_key(key: &str) -> Item {
    items::key(format!("KEYS#BIND#{key}"), "BIND")
}

fn project_sk(p: ProjectId) -> String {
    format!("{:020}", p.get())
}

fn item<T: Serialize>(pk: &str, sk: &str, record: &T, version: u64, what: &str) -> std::result::Result<Item, StoreError> {
    let body = serde_json::to_string(record).map_err(|e| StoreError::Contract(format!("{what} {sk} cannot be serialised: {e}")))?;
    Ok(HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
        (items::BODY.to_owned(), AttributeValue::S(body)),
        (items::VERSION.to_owned(), AttributeValue::N(version.to_string())),
    ]))
}

fn from<T: DeserializeOwned>(item: &Item, what: &'static str) -> std::result::Result<T, StoreError> {
    serde_json::from_str(items::string(item, items::BODY, what)?).map_err(|e| StoreError::corrupt(what, e))
}

impl DynamoStore {
    /// Writes `record` at `(pk, sk)`; `versions` is (the version it carries, the version
    /// the stored one must have).
    async fn put_key_record<T: Serialize + Sync>(
        &self,
        what: &'static str,
        (pk, sk): (&str, String),
        record: &T,
        (version, expected): (u64, Option<u64>),
        audit: Vec<AuditDraft>,
    ) -> std::result::Result<Vec<AuditEntry>, StoreError> {
        check_version(what, &sk, version, expected)?;
        let put = guarded_put(self.table(), item(pk, &sk, record, version, what)?, expected)?;
        let guard = RecordGuard { what, id: sk, expected };
        self.write_guarded(&[put], &[guard], &audit).await
    }
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn put_consumer(&self, record: Guarded<Consumer>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let c = &record.record;
        Ok(self.put_key_record("consumer", (CONSUMERS, c.id.clone()), c, (c.version, record.expected_version), audit).await?)
    }

    async fn get_consumer(&self, id: &str) -> Result<Option<Consumer>> {
        Ok(self.get(items::key(CONSUMERS, id)).await?.as_ref().map(|i| from(i, "consumer")).transpose()?)
    }

    async fn list_consumers(&self) -> Result<Vec<Consumer>> {
        let found = self.query(&Query::base(CONSUMERS), usize::MAX, false).await?;
        let mut all: Vec<Consumer> = found.iter().map(|i| from(i, "consumer")).collect::<std::result::Result<_, _>>()?;
        all.sort_by(|a, b| a.added_at.cmp(&b.added_at).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn put_token_rotation(&self, record: Guarded<TokenRotation>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let r = &record.record;
        Ok(self
            .put_key_record("token rotation", (ROTATIONS, project_sk(r.project)), r, (r.version, record.expected_version), audit)
            .await?)
    }

    async fn get_token_rotation(&self, project: ProjectId) -> Result<Option<TokenRotation>> {
        Ok(self.get(items::key(ROTATIONS, project_sk(project))).await?.as_ref().map(|i| from(i, "token rotation")).transpose()?)
    }

    async fn list_token_rotations(&self) -> Result<Vec<TokenRotation>> {
        let found = self.query(&Query::base(ROTATIONS), usize::MAX, false).await?;
        Ok(found.iter().map(|i| from(i, "token rotation")).collect::<std::result::Result<_, _>>()?)
    }

    async fn claim_once(&self, key: &str, at: DateTime<Utc>) -> Result<bool> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .item(PK, AttributeValue::S(format!("KEYS#CLAIM#{key}")))
            .item(SK, AttributeValue::S("CLAIM".into()))
            .item("at", AttributeValue::S(at.to_rfc3339()))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => Ok(false),
            Err(e) => Err(StoreError::dynamo("PutItem", e).into()),
        }
    }

    async fn bind_once(&self, key: &str, value: &str, at: DateTime<Utc>) -> Result<String> {
        const WHAT: &str = "binding";
        // Read first: almost every call finds the binding, and a read costs less than a
        // refused conditional write.
        if let Some(found) = self.get(binding_key(key)).await? {
            return Ok(items::string(&found, "value", WHAT)?.to_owned());
        }
        let mut item = binding_key(key);
        item.insert("value".into(), AttributeValue::S(value.to_owned()));
        item.insert("at".into(), AttributeValue::S(at.to_rfc3339()));
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(value.to_owned()),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                // Someone bound it first, between our read and our write: theirs stands.
                let found = self.get(binding_key(key)).await?.ok_or_else(|| StoreError::Contract(format!("binding {key} vanished")))?;
                Ok(items::string(&found, "value", WHAT)?.to_owned())
            }
            Err(e) => Err(StoreError::dynamo("PutItem", e).into()),
        }
    }
}
