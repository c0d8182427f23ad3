//! Record ↔ item mapping. Each record is stored whole as JSON in `body` (so it
//! round-trips exactly, nanoseconds included) next to copies of the fields that key
//! it, made from [`crate::keys`]. Audit entries are stored whole too: editing any
//! field changes what `verify_chain` recomputes, so tampering is seen.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use hogwarden_core::audit::AuditEntry;
use hogwarden_core::changeset::{ChangeItem, ChangeSet};
use hogwarden_core::model::{AccessRequest, Grant, GrantStatus};

use crate::error::StoreError;
use crate::keys;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const BODY: &str = "body";
pub(crate) const VERSION: &str = "version";
pub(crate) const HEAD_SEQ: &str = "seq";
pub(crate) const HEAD_HASH: &str = "hash";
pub(crate) const REF_PK: &str = "ref_pk";
pub(crate) const REF_SK: &str = "ref_sk";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn put(item: &mut Item, name: &str, value: AttributeValue) {
    item.insert(name.to_owned(), value);
}

fn index(item: &mut Item, gsi: usize, pk: String, sk: String) {
    let (_, pk_name, sk_name) = keys::INDEXES[gsi - 1];
    put(item, pk_name, s(pk));
    put(item, sk_name, s(sk));
}

fn body<T: serde::Serialize>(what: &str, id: &dyn std::fmt::Display, record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Contract(format!("{what} {id} cannot be serialised: {e}")))
}

pub(crate) fn request_item(r: &AccessRequest) -> Result<Item, StoreError> {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::request_pk(r.id)));
    put(&mut item, keys::SK, s(keys::REQUEST_SK));
    put(&mut item, BODY, s(body("request", &r.id, r)?));
    put(&mut item, VERSION, n(r.version));
    let created = keys::time_id(r.created_at, &r.id);
    index(&mut item, 1, keys::status_pk(r.status), created.clone());
    index(&mut item, 3, keys::user_requests_pk(&r.requester), created.clone());
    index(&mut item, 4, keys::user_requests_pk(&r.subject), created);
    Ok(item)
}

pub(crate) fn grant_item(g: &Grant) -> Result<Item, StoreError> {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::grant_pk(g.id)));
    put(&mut item, keys::SK, s(keys::GRANT_SK));
    put(&mut item, BODY, s(body("grant", &g.id, g)?));
    put(&mut item, VERSION, n(g.version));
    let applied = keys::time_id(g.applied_at, &g.id);
    index(&mut item, 3, keys::user_grants_pk(&g.subject), applied.clone());
    index(&mut item, 4, keys::request_grants_pk(g.request_id), applied.clone());
    // Only active grants carry the sparse indexes, so a status change takes a grant
    // out of the sweep, the active list and the overlap check in the same write.
    if g.status == GrantStatus::Active {
        index(&mut item, 1, keys::ACTIVE_PK.to_owned(), keys::active_sk(g.expires_at, g.applied_at, g.id));
        if let Some(expires_at) = g.expires_at {
            index(&mut item, 2, keys::expiry_bucket_pk(expires_at), keys::time_id(expires_at, &g.id));
        }
        index(&mut item, 5, keys::target_pk(&g.subject, g.target()), applied);
    }
    Ok(item)
}

pub(crate) fn change_set_item(c: &ChangeSet) -> Result<Item, StoreError> {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::change_set_pk(c.request_id)));
    put(&mut item, keys::SK, s(keys::CHANGE_SET_SK));
    put(&mut item, BODY, s(body("change set", &c.request_id, c)?));
    put(&mut item, VERSION, n(c.version));
    index(&mut item, 3, keys::change_set_digest_pk(&c.requester, &c.digest), keys::time_id(c.created_at, &c.request_id));
    Ok(item)
}

pub(crate) fn change_item_item(i: &ChangeItem) -> Result<Item, StoreError> {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::change_set_pk(i.request_id)));
    put(&mut item, keys::SK, s(keys::change_item_sk(i.seq)));
    put(&mut item, BODY, s(body("change item", &i.seq, i)?));
    put(&mut item, VERSION, n(i.version));
    Ok(item)
}

pub(crate) fn change_set_from(item: &Item) -> Result<ChangeSet, StoreError> {
    from_body(item, "change set")
}

pub(crate) fn change_item_from(item: &Item) -> Result<ChangeItem, StoreError> {
    from_body(item, "change item")
}

/// An audit entry in its month partition.
pub(crate) fn audit_item(e: &AuditEntry) -> Result<Item, StoreError> {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::audit_month_pk(&keys::month(e.at))));
    put(&mut item, keys::SK, s(keys::audit_entry_sk(e.at, e.seq)));
    put(&mut item, BODY, s(body("audit entry", &e.seq, e)?));
    Ok(item)
}

/// The chain locator of an audit entry: where to find entry `seq`.
pub(crate) fn locator_item(e: &AuditEntry) -> Item {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::CHAIN_PK));
    put(&mut item, keys::SK, s(keys::seq(e.seq)));
    put(&mut item, REF_PK, s(keys::audit_month_pk(&keys::month(e.at))));
    put(&mut item, REF_SK, s(keys::audit_entry_sk(e.at, e.seq)));
    item
}

pub(crate) fn head_item(seq: u64, hash: &str) -> Item {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::AUDIT_PK));
    put(&mut item, keys::SK, s(keys::HEAD_SK));
    put(&mut item, HEAD_SEQ, n(seq));
    put(&mut item, HEAD_HASH, s(hash));
    item
}

pub(crate) fn month_marker_item(month: &str) -> Item {
    let mut item = Item::new();
    put(&mut item, keys::PK, s(keys::AUDIT_PK));
    put(&mut item, keys::SK, s(keys::month_sk(month)));
    item
}

/// The primary key of an item.
pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

pub(crate) fn string<'a>(item: &'a Item, name: &str, what: &'static str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::corrupt(what, format!("attribute '{name}' is missing or not a string"))),
    }
}

pub(crate) fn number(item: &Item, name: &str, what: &'static str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::corrupt(what, format!("attribute '{name}' is not a count"))),
        _ => Err(StoreError::corrupt(what, format!("attribute '{name}' is missing or not a number"))),
    }
}

fn from_body<T: serde::de::DeserializeOwned>(item: &Item, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(string(item, BODY, what)?).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn request_from(item: &Item) -> Result<AccessRequest, StoreError> {
    from_body(item, "request")
}

pub(crate) fn grant_from(item: &Item) -> Result<Grant, StoreError> {
    from_body(item, "grant")
}

pub(crate) fn audit_from(item: &Item) -> Result<AuditEntry, StoreError> {
    from_body(item, "audit entry")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hogwarden_store_sqlite::conformance::fixtures::{at, grant, project, request};

    #[test]
    fn only_active_temporary_grants_carry_the_sweep_index() {
        let r = request("ana", "ana", at(0));
        let temporary = grant(&r, project(1), at(1), Some(at(60)));
        let permanent = grant(&r, project(1), at(1), None);
        let reverted = Grant { status: GrantStatus::Reverted, ..temporary.clone() };
        assert!(grant_item(&temporary).unwrap().contains_key("GSI2PK"));
        assert!(!grant_item(&permanent).unwrap().contains_key("GSI2PK"));
        let reverted = grant_item(&reverted).unwrap();
        for sparse in ["GSI1PK", "GSI2PK", "GSI5PK"] {
            assert!(!reverted.contains_key(sparse), "{sparse}");
        }
        assert!(reverted.contains_key("GSI3PK") && reverted.contains_key("GSI4PK"));
    }

    #[test]
    fn records_round_trip_through_items() {
        let r = request("ana", "bo", at(0));
        let g = grant(&r, project(1), at(1), Some(at(60)));
        assert_eq!(request_from(&request_item(&r).unwrap()).unwrap(), r);
        assert_eq!(grant_from(&grant_item(&g).unwrap()).unwrap(), g);
    }
}
