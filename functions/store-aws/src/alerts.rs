//! [`AlertStore`] on the single table (an addition to [`crate::keys`]' layout):
//!
//! | item | PK | SK |
//! |---|---|---|
//! | alert | `ALERTS` | the alert id (`<received_at>#<what>`, so the partition reads newest first) |
//! | writes-paused record | `KEYS#PAUSE` | `STATE` |
//! | personal key metadata | `KEYS#PERSONAL` | the key's id |
//!
//! An alert is put with `attribute_not_exists(PK)`; when its id exists (refused alerts
//! of one minute, provider and reason share one) the existing item's `count` is
//! incremented instead (a put guarded by the count it read). Refused alerts carry a `ttl` 90 days out. The pause and the
//! keys are conditional puts (`version = :expected`) in one transaction with their audit
//! entries.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use hogwarden_core::alerts::{AlertRecord, AlertStore, AlertVerdict, PauseState, PersonalKey};
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::error::Result;
use hogwarden_core::ports::Guarded;

use crate::error::StoreError;
use crate::items::{self, Item};
use crate::keys::{PK, SK};
use crate::store::{DynamoStore, Query, RecordGuard, SortKey, check_version, guarded_put};

const ALERTS: &str = "ALERTS";
const PAUSE_PK: &str = "KEYS#PAUSE";
const PAUSE_SK: &str = "STATE";
const PERSONAL_PK: &str = "KEYS#PERSONAL";
const COUNT: &str = "count";
const LAST_AT: &str = "last_at";
/// Days a refused alert's record is kept.
const REFUSED_TTL_DAYS: i64 = 90;

fn body_item<T: serde::Serialize>(what: &'static str, pk: &str, sk: &str, version: u64, value: &T) -> Result<Item, StoreError> {
    let body = serde_json::to_string(value).map_err(|e| StoreError::Contract(format!("{what} {sk} cannot be serialised: {e}")))?;
    Ok(HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
        (items::BODY.to_owned(), AttributeValue::S(body)),
        (items::VERSION.to_owned(), AttributeValue::N(version.to_string())),
    ]))
}

fn from<T: serde::de::DeserializeOwned>(what: &'static str, item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(items::string(item, items::BODY, what)?).map_err(|e| StoreError::corrupt(what, e))
}

fn alert_from(item: &Item) -> Result<AlertRecord, StoreError> {
    let mut alert: AlertRecord = from("alert", item)?;
    if let Ok(count) = items::number(item, COUNT, "alert") {
        alert.count = count;
    }
    if let Some(at) = item.get(LAST_AT).and_then(|v| v.as_s().ok()).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
        alert.last_at = at.with_timezone(&chrono::Utc);
    }
    Ok(alert)
}

impl DynamoStore {
    async fn put_versioned(
        &self,
        what: &'static str,
        item: Item,
        id: &str,
        version: u64,
        expected: Option<u64>,
        audit: &[AuditDraft],
    ) -> Result<Vec<AuditEntry>, StoreError> {
        check_version(what, id, version, expected)?;
        let put = guarded_put(self.table(), item, expected)?;
        let guard = RecordGuard { what, id: id.to_owned(), expected };
        self.write_guarded(&[put], &[guard], audit).await
    }
}

#[async_trait]
impl AlertStore for DynamoStore {
    async fn record_alert(&self, alert: &AlertRecord) -> Result<()> {
        let mut item = body_item("alert", ALERTS, &alert.id, 1, alert)?;
        item.insert(COUNT.to_owned(), AttributeValue::N(alert.count.to_string()));
        item.insert(LAST_AT.to_owned(), AttributeValue::S(alert.last_at.to_rfc3339()));
        if alert.verdict == AlertVerdict::Refused {
            let ttl = (alert.received_at + chrono::Duration::days(REFUSED_TTL_DAYS)).timestamp();
            item.insert("ttl".to_owned(), AttributeValue::N(ttl.to_string()));
        }
        // Counted with a read and a put guarded by the count read (GetItem and PutItem
        // only, the permissions every function already has), retried when two race.
        let mut first = true;
        for _ in 0..5 {
            let condition = if first {
                "attribute_not_exists(PK)".to_owned()
            } else {
                let Some(old) = self.get(items::key(ALERTS, alert.id.clone())).await? else {
                    first = true;
                    continue;
                };
                let count = items::number(&old, COUNT, "alert")?;
                let mut next = old;
                next.insert(COUNT.to_owned(), AttributeValue::N((count + 1).to_string()));
                next.insert(LAST_AT.to_owned(), AttributeValue::S(alert.last_at.to_rfc3339()));
                item = next;
                format!("#count = :c{count}")
            };
            let mut put = self.client().put_item().table_name(self.table()).set_item(Some(item.clone())).condition_expression(&condition);
            if !first {
                let count = condition.trim_start_matches("#count = :c").to_owned();
                put = put
                    .expression_attribute_names("#count", COUNT)
                    .expression_attribute_values(format!(":c{count}"), AttributeValue::N(count.clone()));
            }
            match put.send().await {
                Ok(_) => return Ok(()),
                Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => first = false,
                Err(e) => return Err(StoreError::dynamo("PutItem", e).into()),
            }
        }
        Err(StoreError::Busy(format!("alert {} kept changing while it was counted", alert.id)).into())
    }

    async fn list_alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>> {
        let mut query = Query::base(ALERTS).newest_first();
        if let Some(before) = before {
            query = query.sk(SortKey::AtMost(before.to_owned()));
        }
        let items = self.query(&query, limit.saturating_add(1), false).await?;
        let mut alerts = Vec::with_capacity(items.len());
        for item in &items {
            let alert = alert_from(item)?;
            if Some(alert.id.as_str()) != before {
                alerts.push(alert);
            }
        }
        alerts.truncate(limit);
        Ok(alerts)
    }

    async fn get_pause(&self) -> Result<Option<PauseState>> {
        let item = self.get(items::key(PAUSE_PK, PAUSE_SK)).await?;
        Ok(item.as_ref().map(|i| from("pause record", i)).transpose()?)
    }

    async fn put_pause(&self, state: Guarded<PauseState>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let item = body_item("pause record", PAUSE_PK, PAUSE_SK, state.record.version, &state.record)?;
        Ok(self.put_versioned("pause record", item, PAUSE_SK, state.record.version, state.expected_version, &audit).await?)
    }

    async fn list_personal_keys(&self) -> Result<Vec<PersonalKey>> {
        let items = self.query(&Query::base(PERSONAL_PK), usize::MAX, false).await?;
        Ok(items.iter().map(|i| from("personal key", i)).collect::<Result<Vec<_>, StoreError>>()?)
    }

    async fn put_personal_key(&self, key: Guarded<PersonalKey>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let item = body_item("personal key", PERSONAL_PK, &key.record.id, key.record.version, &key.record)?;
        Ok(self.put_versioned("personal key", item, &key.record.id, key.record.version, key.expected_version, &audit).await?)
    }
}
