//! Offboarding records on the single table (an addition to [`crate::keys`]' layout):
//!
//! | item | PK | SK | GSI1 | GSI3 |
//! |---|---|---|---|---|
//! | offboarding | `OFFBOARD#<id>` | `OFFBOARD` | `OFFBOARD#STATUS#<status>` / `<created_at>#<id>` (resume: one status, oldest first) | `OFFBOARDINGS` / `<created_at>#<id>` (the list page) |
//!
//! Each write is one conditional `Put` (`attribute_not_exists` to create,
//! `version = :expected` to update) in the same transaction as its audit entries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::claims::Claim;
use hogwarden_core::offboard::{OffboardStatus, Offboarding};
use hogwarden_core::ports::Guarded;
use hogwarden_core::types::RequestId;

use crate::error::StoreError;
use crate::items::{self, Item};
use crate::keys;
use crate::store::{DynamoStore, Query, RecordGuard, check_version, guarded_put};

const SK: &str = "OFFBOARD";
const LIST_PK: &str = "OFFBOARDINGS";

fn pk(id: RequestId) -> String {
    format!("OFFBOARD#{id}")
}

fn status_pk(status: OffboardStatus) -> String {
    format!("OFFBOARD#STATUS#{}", status.as_str())
}

fn item(o: &Offboarding) -> Result<Item, StoreError> {
    let s = |v: String| AttributeValue::S(v);
    let body = serde_json::to_string(o).map_err(|e| StoreError::Contract(format!("offboarding {} cannot be serialised: {e}", o.id)))?;
    let created = keys::time_id(o.created_at, &o.id);
    let (_, gsi1_pk, gsi1_sk) = keys::INDEXES[0];
    let (_, gsi3_pk, gsi3_sk) = keys::INDEXES[2];
    Ok(HashMap::from([
        (keys::PK.to_owned(), s(pk(o.id))),
        (keys::SK.to_owned(), s(SK.to_owned())),
        (items::BODY.to_owned(), s(body)),
        (items::VERSION.to_owned(), AttributeValue::N(o.version.to_string())),
        (gsi1_pk.to_owned(), s(status_pk(o.status))),
        (gsi1_sk.to_owned(), s(created.clone())),
        (gsi3_pk.to_owned(), s(LIST_PK.to_owned())),
        (gsi3_sk.to_owned(), s(created)),
    ]))
}

fn from(item: &Item) -> Result<Offboarding, StoreError> {
    serde_json::from_str(items::string(item, items::BODY, "offboarding")?).map_err(|e| StoreError::corrupt("offboarding", e))
}

impl DynamoStore {
    pub(crate) async fn put_offboarding_item(
        &self,
        record: Guarded<Offboarding>,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.put_offboarding_item_claimed(record, None, audit).await
    }

    /// The record's `Put` and, when given, its claim's, in one transaction with the audit.
    pub(crate) async fn put_offboarding_item_claimed(
        &self,
        record: Guarded<Offboarding>,
        claim: Option<Claim>,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let id = record.record.id.to_string();
        check_version("offboarding", &id, record.record.version, record.expected_version)?;
        let mut puts = vec![guarded_put(self.table(), item(&record.record)?, record.expected_version)?];
        let mut guards = vec![RecordGuard { what: "offboarding", id, expected: record.expected_version }];
        if let Some(claim) = &claim {
            let (put, guard) = crate::claims::put(self.table(), claim)?;
            puts.push(put);
            guards.push(guard);
        }
        self.write_guarded(&puts, &guards, &audit).await
    }

    pub(crate) async fn get_offboarding_item(&self, id: RequestId) -> Result<Option<Offboarding>, StoreError> {
        self.get(items::key(pk(id), SK)).await?.as_ref().map(from).transpose()
    }

    pub(crate) async fn list_offboarding_items(
        &self,
        status: Option<OffboardStatus>,
        limit: usize,
    ) -> Result<Vec<Offboarding>, StoreError> {
        let query = match status {
            Some(s) => Query::on(1, status_pk(s)),
            None => Query::on(3, LIST_PK.to_owned()),
        };
        self.query(&query, limit, false).await?.iter().map(from).collect()
    }
}
