//! [`DynamoStore`]: the `Store` port on one DynamoDB table, one method per access
//! pattern of DESIGN.md's "Data" section. The layout is documented in
//! [`crate::keys`]; the item mapping lives in [`crate::items`].
//!
//! Every commit is one `TransactWriteItems`: each record is a conditional `Put`
//! (`attribute_not_exists` to create, `version = :expected` to update), and the audit
//! entries are sealed onto the chain head read just before, whose own `Put` is
//! conditioned on the head not having moved. A moved head means another writer
//! appended first, so the whole commit is sealed again and retried; a record guard
//! that fails is final and becomes [`hogwarden_core::Error::Conflict`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection,
    ProjectionType, Put, PutRequest, ScalarAttributeType, TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::changeset::{ChangeItem, ChangeSet};
use hogwarden_core::error::Result;
use hogwarden_core::model::{AccessRequest, AccessTarget, Grant, RequestStatus};
use hogwarden_core::ports::{AuditQuery, Commit, Guarded, Store};
use hogwarden_core::types::{Email, GrantId, RequestId};

use crate::error::StoreError;
use crate::items::{self, Item};
use crate::keys;

/// DynamoDB refuses a transaction of more than 100 items.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// How many times a commit is sealed again when the chain head moved under it.
/// Six writers racing on one head each win within a handful of tries.
const HEAD_ATTEMPTS: u32 = 25;

/// The first pause before sealing again; it grows with each attempt, plus jitter,
/// so racing writers spread out instead of colliding again in step.
pub(crate) const HEAD_BACKOFF: Duration = Duration::from_millis(5);

/// A page size for reads without a caller's limit.
const PAGE: i32 = 1000;

/// BatchGetItem reads at most 100 keys per call.
const BATCH_GET: usize = 100;

/// BatchWriteItem writes at most 25 items per call.
pub(crate) const BATCH_WRITE: usize = 25;

/// The DynamoDB-backed [`Store`]. Cheap to clone; clones share the client and the
/// read counter.
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    table: Arc<str>,
    sweep_reads: Arc<AtomicU64>,
}

impl DynamoStore {
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore").field("table", &self.table).finish_non_exhaustive()
    }
}

/// The table's key schema, attributes and indexes, as `create_table` sends them and
/// as infrastructure templates can be checked against.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
}

fn key_schema(pk: &str, sk: &str) -> std::result::Result<Vec<KeySchemaElement>, StoreError> {
    let element = |name: &str, key_type| {
        KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(|e| StoreError::dynamo("CreateTable", e))
    };
    Ok(vec![element(pk, KeyType::Hash)?, element(sk, KeyType::Range)?])
}

/// The table's definition: string keys `PK`/`SK` and the five overloaded GSIs of
/// [`crate::keys`], each projecting every attribute so a query returns whole records.
pub fn table_definition() -> std::result::Result<TableDefinition, StoreError> {
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::dynamo("CreateTable", e))
    };
    let mut attribute_definitions = vec![string_attribute(keys::PK)?, string_attribute(keys::SK)?];
    let mut global_secondary_indexes = Vec::new();
    for (name, pk, sk) in keys::INDEXES {
        attribute_definitions.push(string_attribute(pk)?);
        attribute_definitions.push(string_attribute(sk)?);
        global_secondary_indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .set_key_schema(Some(key_schema(pk, sk)?))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(|e| StoreError::dynamo("CreateTable", e))?,
        );
    }
    Ok(TableDefinition { attribute_definitions, key_schema: key_schema(keys::PK, keys::SK)?, global_secondary_indexes })
}

/// Creates the table (on-demand billing) as [`table_definition`] describes it. For
/// tests and the local stack; production tables come from the infrastructure template.
pub async fn create_table(client: &Client, table: &str) -> std::result::Result<(), StoreError> {
    let definition = table_definition()?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definition.attribute_definitions))
        .set_key_schema(Some(definition.key_schema))
        .set_global_secondary_indexes(Some(definition.global_secondary_indexes))
        .send()
        .await
        .map_err(|e| StoreError::dynamo("CreateTable", e))?;
    Ok(())
}

/// A sort-key condition of a query.
pub(crate) enum SortKey {
    Any,
    Between(String, String),
    After(String),
    AtMost(String),
}

/// One query: a partition of the table or of an index, a sort-key range, an order.
pub(crate) struct Query {
    /// `None` = the base table, which is read strongly consistent.
    index: Option<usize>,
    pk: String,
    sk: SortKey,
    forward: bool,
}

impl Query {
    pub(crate) fn on(index: usize, pk: String) -> Self {
        Self { index: Some(index), pk, sk: SortKey::Any, forward: true }
    }

    pub(crate) fn base(pk: impl Into<String>) -> Self {
        Self { index: None, pk: pk.into(), sk: SortKey::Any, forward: true }
    }

    pub(crate) fn sk(self, sk: SortKey) -> Self {
        Self { sk, ..self }
    }

    pub(crate) fn newest_first(self) -> Self {
        Self { forward: false, ..self }
    }
}

/// The record guards of a commit, in transaction order, for naming a failed one.
pub(crate) struct RecordGuard {
    pub(crate) what: &'static str,
    pub(crate) id: String,
    pub(crate) expected: Option<u64>,
}

/// The version a guarded write must carry: one more than expected, or 1 when new.
pub(crate) fn check_version(what: &str, id: &str, written: u64, expected: Option<u64>) -> std::result::Result<(), StoreError> {
    let required = expected.map_or(Some(1), |v| v.checked_add(1));
    if required != Some(written) {
        return Err(StoreError::Contract(format!(
            "{what} {id} is written with version {written} but must carry {} (expected version {expected:?})",
            required.map_or_else(|| "a larger version".to_owned(), |v| v.to_string())
        )));
    }
    Ok(())
}

/// A conditional `Put` of a guarded record.
pub(crate) fn guarded_put(table: &str, item: Item, expected: Option<u64>) -> std::result::Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = match expected {
        None => put.condition_expression("attribute_not_exists(PK)"),
        Some(v) => put
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", items::VERSION)
            .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
    };
    Ok(TransactWriteItem::builder().put(put.build().map_err(|e| StoreError::dynamo("TransactWriteItems", e))?).build())
}

fn plain_put(table: &str, item: Item, condition: Option<&str>) -> std::result::Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(item)).set_condition_expression(condition.map(str::to_owned));
    Ok(TransactWriteItem::builder().put(put.build().map_err(|e| StoreError::dynamo("TransactWriteItems", e))?).build())
}

/// What a cancelled transaction means for the commit.
#[derive(Debug, PartialEq, Eq)]
enum Cancelled {
    /// The record guard at this position failed: final.
    Record(usize),
    /// Only the audit head or entries (or a concurrent transaction) got in the way.
    Retry,
    /// Something else (validation, throughput): not a conflict.
    Other,
}

/// Reads the cancellation reasons, which come in transaction order: the first
/// `records` items are the guarded records.
fn classify(codes: &[Option<&str>], records: usize) -> Cancelled {
    if let Some(i) = codes.iter().take(records).position(|c| *c == Some("ConditionalCheckFailed")) {
        return Cancelled::Record(i);
    }
    let retryable = |c: &Option<&str>| matches!(c, Some("ConditionalCheckFailed" | "TransactionConflict"));
    let problems: Vec<_> = codes.iter().filter(|c| !matches!(c, None | Some("None"))).collect();
    if !problems.is_empty() && problems.iter().all(|c| retryable(c)) { Cancelled::Retry } else { Cancelled::Other }
}

impl DynamoStore {
    /// A store on `table`, which must exist with [`table_definition`]'s layout.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: Arc::from(table.into()), sweep_reads: Arc::new(AtomicU64::new(0)) }
    }

    /// The table this store uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Items the expiry sweep ([`Store::list_grants_due`]) has read so far: the sum of
    /// `ScannedCount` of its queries, which is what DynamoDB bills it for.
    pub fn reads(&self) -> u64 {
        self.sweep_reads.load(Ordering::Relaxed)
    }

    /// Writes grants with `BatchWriteItem`: no guard, no audit entry. For loading
    /// fixtures and migrating data only; every state change goes through `commit`.
    pub async fn put_grants_unguarded(&self, grants: &[Grant]) -> std::result::Result<(), StoreError> {
        let puts = grants.iter().map(items::grant_item).collect::<std::result::Result<Vec<_>, _>>()?;
        self.batch_put(puts).await
    }

    /// Writes items with `BatchWriteItem`, 25 at a time, retrying unprocessed ones
    /// (fixtures above, review snapshots and the ledger in `reviews`, a new bulk change
    /// set's items below). No guard, no audit entry.
    pub(crate) async fn batch_put(&self, puts: Vec<Item>) -> std::result::Result<(), StoreError> {
        for chunk in puts.chunks(BATCH_WRITE) {
            let mut requests = Vec::with_capacity(chunk.len());
            for item in chunk {
                let put =
                    PutRequest::builder().set_item(Some(item.clone())).build().map_err(|e| StoreError::dynamo("BatchWriteItem", e))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut pending = HashMap::from([(self.table.to_string(), requests)]);
            let mut wait = HEAD_BACKOFF;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| StoreError::dynamo("BatchWriteItem", e))?;
                pending = out.unprocessed_items.unwrap_or_default();
                pending.retain(|_, writes| !writes.is_empty());
                if !pending.is_empty() {
                    // Unprocessed items mean throttling: back off before the rest.
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        Ok(())
    }

    /// Runs a query to the end or until `limit` items, following `LastEvaluatedKey`.
    /// Queries on the sweep path add their `ScannedCount` to [`Self::reads`].
    pub(crate) async fn query(&self, q: &Query, limit: usize, sweep: bool) -> std::result::Result<Vec<Item>, StoreError> {
        let mut found: Vec<Item> = Vec::new();
        self.query_each(q, limit, sweep, |item| {
            found.push(item);
            Ok(found.len() < limit)
        })
        .await?;
        Ok(found)
    }

    /// Hands each item of a query to `keep`, page by page, until `keep` says stop,
    /// `limit` items were read or the partition ends.
    async fn query_each(
        &self,
        q: &Query,
        limit: usize,
        sweep: bool,
        mut keep: impl FnMut(Item) -> std::result::Result<bool, StoreError>,
    ) -> std::result::Result<(), StoreError> {
        let (pk_name, sk_name) = match q.index {
            Some(i) => (keys::INDEXES[i - 1].1, keys::INDEXES[i - 1].2),
            None => (keys::PK, keys::SK),
        };
        let mut read = 0usize;
        let mut start: Option<Item> = None;
        while read < limit {
            let page = i32::try_from(limit - read).unwrap_or(PAGE).min(PAGE);
            let mut request = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .set_index_name(q.index.map(|i| keys::INDEXES[i - 1].0.to_owned()))
                // GSIs can only be read eventually consistent; the base table is read
                // consistently so the audit chain never misses a committed entry.
                .consistent_read(q.index.is_none())
                .scan_index_forward(q.forward)
                .limit(page)
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", AttributeValue::S(q.pk.clone()))
                .set_exclusive_start_key(start.take());
            let condition = match &q.sk {
                SortKey::Any => "#pk = :pk",
                SortKey::Between(lo, hi) => {
                    request = request.expression_attribute_values(":lo", AttributeValue::S(lo.clone()));
                    request = request.expression_attribute_values(":hi", AttributeValue::S(hi.clone()));
                    "#pk = :pk AND #sk BETWEEN :lo AND :hi"
                }
                SortKey::After(lo) => {
                    request = request.expression_attribute_values(":lo", AttributeValue::S(lo.clone()));
                    "#pk = :pk AND #sk > :lo"
                }
                SortKey::AtMost(hi) => {
                    request = request.expression_attribute_values(":hi", AttributeValue::S(hi.clone()));
                    "#pk = :pk AND #sk <= :hi"
                }
            };
            if !matches!(q.sk, SortKey::Any) {
                request = request.expression_attribute_names("#sk", sk_name);
            }
            let out = request.key_condition_expression(condition).send().await.map_err(|e| StoreError::dynamo("Query", e))?;
            if sweep {
                self.sweep_reads.fetch_add(u64::try_from(out.scanned_count.max(0)).unwrap_or(0), Ordering::Relaxed);
            }
            for item in out.items.unwrap_or_default() {
                read += 1;
                if !keep(item)? {
                    return Ok(());
                }
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                break;
            }
        }
        Ok(())
    }

    pub(crate) async fn get(&self, key: Item) -> std::result::Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        Ok(out.item)
    }

    /// Reads items by key, strongly consistent, in the order of `keys`; a missing
    /// item is left out.
    async fn batch_get(&self, wanted: Vec<Item>) -> std::result::Result<Vec<Item>, StoreError> {
        let id = |item: &Item| {
            let pk = items::string(item, keys::PK, "item key").unwrap_or_default().to_owned();
            let sk = items::string(item, keys::SK, "item key").unwrap_or_default().to_owned();
            (pk, sk)
        };
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for chunk in wanted.chunks(BATCH_GET) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::dynamo("BatchGetItem", e))?,
            );
            let mut wait = HEAD_BACKOFF;
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.as_ref(), request)
                    .send()
                    .await
                    .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
                for item in out.responses.unwrap_or_default().remove(self.table.as_ref()).unwrap_or_default() {
                    found.insert(id(&item), item);
                }
                pending = out.unprocessed_keys.unwrap_or_default().remove(self.table.as_ref()).filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        Ok(wanted.iter().filter_map(|k| found.remove(&id(k))).collect())
    }

    /// The chain head: the last entry's seq and hash, read consistently.
    async fn head(&self) -> std::result::Result<Option<(u64, String)>, StoreError> {
        let Some(item) = self.get(items::key(keys::AUDIT_PK, keys::HEAD_SK)).await? else {
            return Ok(None);
        };
        Ok(Some((items::number(&item, items::HEAD_SEQ, "audit head")?, items::string(&item, items::HEAD_HASH, "audit head")?.to_owned())))
    }

    /// Writes guarded records and the commit's audit entries in one transaction,
    /// sealing again while the chain head moves under it.
    pub(crate) async fn commit_with_audit(
        &self,
        records: &[TransactWriteItem],
        guards: &[RecordGuard],
        commit: &Commit,
    ) -> Result<Vec<AuditEntry>> {
        Ok(self.write_guarded(records, guards, &commit.audit).await?)
    }

    /// One attempt at a commit: seal onto the current head, write everything at once.
    async fn try_commit(
        &self,
        records: &[TransactWriteItem],
        guards: &[RecordGuard],
        audit: &[AuditDraft],
    ) -> std::result::Result<std::result::Result<Vec<AuditEntry>, Cancelled>, StoreError> {
        let mut writes = records.to_vec();
        let mut sealed = Vec::with_capacity(audit.len());
        if !audit.is_empty() {
            let old = self.head().await?;
            let mut head = old.clone();
            let mut months = BTreeSet::new();
            for draft in audit {
                let entry = draft.clone().seal(head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())));
                writes.push(plain_put(&self.table, items::audit_item(&entry)?, Some("attribute_not_exists(PK)"))?);
                writes.push(plain_put(&self.table, items::locator_item(&entry), Some("attribute_not_exists(PK)"))?);
                months.insert(keys::month(entry.at));
                head = Some((entry.seq, entry.hash.clone()));
                sealed.push(entry);
            }
            for month in &months {
                // Markers only list months; writing one again changes nothing.
                writes.push(plain_put(&self.table, items::month_marker_item(month), None)?);
            }
            let (seq, hash) = head.unwrap_or_default();
            let head_put = Put::builder().table_name(self.table.as_ref()).set_item(Some(items::head_item(seq, &hash)));
            let head_put = match old {
                None => head_put.condition_expression("attribute_not_exists(PK)"),
                Some((old_seq, _)) => head_put
                    .condition_expression("#seq = :seq")
                    .expression_attribute_names("#seq", items::HEAD_SEQ)
                    .expression_attribute_values(":seq", AttributeValue::N(old_seq.to_string())),
            };
            writes
                .push(TransactWriteItem::builder().put(head_put.build().map_err(|e| StoreError::dynamo("TransactWriteItems", e))?).build());
        }
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Contract(format!(
                "a commit writes {} items but DynamoDB allows at most {MAX_TRANSACTION_ITEMS} in one transaction; split the change",
                writes.len()
            )));
        }
        if writes.is_empty() {
            return Ok(Ok(sealed));
        }
        let outcome = self.client.transact_write_items().set_transact_items(Some(writes)).send().await;
        match outcome {
            Ok(_) => Ok(Ok(sealed)),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
                    let codes: Vec<Option<&str>> = cancelled.cancellation_reasons().iter().map(|r| r.code()).collect();
                    match classify(&codes, guards.len()) {
                        Cancelled::Other => {}
                        verdict => return Ok(Err(verdict)),
                    }
                }
                Err(StoreError::dynamo("TransactWriteItems", err))
            }
        }
    }
}

impl DynamoStore {
    /// Writes guarded records and seals audit entries in one transaction, sealing
    /// again when the chain head moved under it.
    pub(crate) async fn write_guarded(
        &self,
        records: &[TransactWriteItem],
        guards: &[RecordGuard],
        audit: &[AuditDraft],
    ) -> std::result::Result<Vec<AuditEntry>, StoreError> {
        let mut wait = HEAD_BACKOFF;
        for attempt in 1..=HEAD_ATTEMPTS {
            match self.try_commit(records, guards, audit).await? {
                Ok(sealed) => return Ok(sealed),
                Err(Cancelled::Record(i)) => return Err(conflict(&guards[i])),
                Err(_) => {
                    tracing::debug!(attempt, "the audit head moved; sealing again");
                    let jitter = Duration::from_millis(rand::random_range(0..=wait.as_millis().try_into().unwrap_or(50)));
                    tokio::time::sleep(wait + jitter).await;
                    wait = (wait * 2).min(Duration::from_millis(200));
                }
            }
        }
        Err(StoreError::Busy(format!("the chain head moved {HEAD_ATTEMPTS} times while this change was being written")))
    }
}

/// Says why a record guard failed, in words for the person who retries.
fn conflict(guard: &RecordGuard) -> StoreError {
    if guard.what == "claim" {
        return StoreError::Conflict(format!("claim {} is held by another record: someone else took it first", guard.id));
    }
    match guard.expected {
        None => StoreError::Conflict(format!("{} {} already exists", guard.what, guard.id)),
        Some(v) => StoreError::Conflict(format!(
            "{} {} is no longer at version {v}: someone else changed it, or it does not exist; reload it and try again",
            guard.what, guard.id
        )),
    }
}

fn requests_from(found: &[Item]) -> std::result::Result<Vec<AccessRequest>, StoreError> {
    found.iter().map(items::request_from).collect()
}

fn grants_from(found: &[Item]) -> std::result::Result<Vec<Grant>, StoreError> {
    found.iter().map(items::grant_from).collect()
}

#[async_trait]
impl Store for DynamoStore {
    #[tracing::instrument(skip_all, fields(requests = commit.requests.len(), grants = commit.grants.len(), audit = commit.audit.len()))]
    async fn commit(&self, commit: Commit) -> Result<Vec<AuditEntry>> {
        let mut records = Vec::new();
        let mut guards = Vec::new();
        for Guarded { record, expected_version } in &commit.requests {
            let id = record.id.to_string();
            check_version("request", &id, record.version, *expected_version)?;
            records.push(guarded_put(&self.table, items::request_item(record)?, *expected_version)?);
            guards.push(RecordGuard { what: "request", id, expected: *expected_version });
        }
        for Guarded { record, expected_version } in &commit.grants {
            let id = record.id.to_string();
            check_version("grant", &id, record.version, *expected_version)?;
            records.push(guarded_put(&self.table, items::grant_item(record)?, *expected_version)?);
            guards.push(RecordGuard { what: "grant", id, expected: *expected_version });
        }
        for Guarded { record, expected_version } in &commit.change_sets {
            let id = record.request_id.to_string();
            check_version("change set", &id, record.version, *expected_version)?;
            records.push(guarded_put(&self.table, items::change_set_item(record)?, *expected_version)?);
            guards.push(RecordGuard { what: "change set", id, expected: *expected_version });
        }
        for Guarded { record, expected_version } in &commit.change_items {
            let id = format!("{}#{}", record.request_id, record.seq);
            check_version("change item", &id, record.version, *expected_version)?;
            records.push(guarded_put(&self.table, items::change_item_item(record)?, *expected_version)?);
            guards.push(RecordGuard { what: "change item", id, expected: *expected_version });
        }
        for claim in &commit.claims {
            let (write, guard) = crate::claims::put(&self.table, claim)?;
            records.push(write);
            guards.push(guard);
        }
        self.commit_with_audit(&records, &guards, &commit).await
    }

    async fn get_request(&self, id: RequestId) -> Result<Option<AccessRequest>> {
        let found = self.get(items::key(keys::request_pk(id), keys::REQUEST_SK)).await?;
        Ok(found.as_ref().map(items::request_from).transpose()?)
    }

    async fn list_requests_for_user(&self, email: &Email, limit: usize) -> Result<Vec<AccessRequest>> {
        let pk = keys::user_requests_pk(email);
        // As requester (GSI3) and as subject (GSI4): the newest `limit` of the union
        // are among the newest `limit` of each. Both copies of one request carry the
        // same sort key, which is how a request about oneself is listed once.
        let mut found = self.query(&Query::on(3, pk.clone()).newest_first(), limit, false).await?;
        found.extend(self.query(&Query::on(4, pk).newest_first(), limit, false).await?);
        let sort_key = |item: &Item| items::string(item, "GSI3SK", "request").unwrap_or_default().to_owned();
        found.sort_by_key(|item| std::cmp::Reverse(sort_key(item)));
        found.dedup_by_key(|item| sort_key(item));
        found.truncate(limit);
        Ok(requests_from(&found)?)
    }

    async fn list_requests_by_status(&self, status: RequestStatus, limit: usize) -> Result<Vec<AccessRequest>> {
        let found = self.query(&Query::on(1, keys::status_pk(status)), limit, false).await?;
        Ok(requests_from(&found)?)
    }

    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>> {
        let found = self.get(items::key(keys::grant_pk(id), keys::GRANT_SK)).await?;
        Ok(found.as_ref().map(items::grant_from).transpose()?)
    }

    async fn list_grants_for_request(&self, id: RequestId) -> Result<Vec<Grant>> {
        // Ids are time-ordered (UUIDv7), so grants applied together keep written order.
        let found = self.query(&Query::on(4, keys::request_grants_pk(id)), usize::MAX, false).await?;
        Ok(grants_from(&found)?)
    }

    async fn list_grants_for_user(&self, email: &Email, limit: usize) -> Result<Vec<Grant>> {
        let found = self.query(&Query::on(3, keys::user_grants_pk(email)).newest_first(), limit, false).await?;
        Ok(grants_from(&found)?)
    }

    async fn list_grants_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Grant>> {
        let mut due: Vec<Grant> = Vec::new();
        let expiring =
            |from: String| Query::on(1, keys::ACTIVE_PK.to_owned()).sk(SortKey::Between(from, format!("{}~", keys::ACTIVE_EXPIRING)));
        // The soonest active expiry says which hour bucket to start from; after each
        // bucket the same one-item read finds the next bucket with anything in it, so
        // empty hours cost nothing and grants not yet due are never read.
        let mut from = keys::ACTIVE_EXPIRING.to_owned();
        while due.len() < limit {
            let Some(next) = self.query(&expiring(from), 1, true).await?.first().map(items::grant_from).transpose()? else {
                break;
            };
            let Some(bucket_time) = next.expires_at.filter(|t| *t <= now) else {
                break;
            };
            let bucket = Query::on(2, keys::expiry_bucket_pk(bucket_time)).sk(SortKey::AtMost(keys::time_ceiling(now)));
            let found = grants_from(&self.query(&bucket, limit - due.len(), true).await?)?;
            // Keys keep microseconds; the exact rule has the last word.
            due.extend(found.into_iter().filter(|g| g.is_due(now)));
            let after = keys::next_hour(bucket_time);
            if after > now {
                break;
            }
            from = keys::active_expiring_from(after);
        }
        Ok(due)
    }

    async fn list_active_grants(&self, limit: usize) -> Result<Vec<Grant>> {
        let found = self.query(&Query::on(1, keys::ACTIVE_PK.to_owned()), limit, false).await?;
        Ok(grants_from(&found)?)
    }

    async fn list_active_grants_for_target(&self, email: &Email, target: AccessTarget) -> Result<Vec<Grant>> {
        let found = self.query(&Query::on(5, keys::target_pk(email, target)), usize::MAX, false).await?;
        Ok(grants_from(&found)?)
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        if query.limit == 0 || matches!((query.from, query.to), (Some(from), Some(to)) if from > to) {
            return Ok(out);
        }
        let month_range = SortKey::Between(
            keys::month_sk(&query.from.map(keys::month).unwrap_or_default()),
            keys::month_sk(&query.to.map_or_else(|| "~".to_owned(), keys::month)),
        );
        let months = self.query(&Query::base(keys::AUDIT_PK).sk(month_range).newest_first(), usize::MAX, false).await?;
        let lo = query.from.map_or_else(|| "0".to_owned(), keys::time_floor);
        let hi = query.to.map_or_else(|| "~".to_owned(), keys::time_ceiling);
        for marker in &months {
            let Some(month) = keys::month_of_marker(items::string(marker, keys::SK, "audit month")?) else { continue };
            let partition = Query::base(keys::audit_month_pk(month)).sk(SortKey::Between(lo.clone(), hi.clone())).newest_first();
            // Filters are applied here rather than in a FilterExpression: DynamoDB bills
            // the items a filter drops anyway, and the entry is parsed once either way.
            self.query_each(&partition, usize::MAX, false, |item| {
                let entry = items::audit_from(&item)?;
                if query.matches_all_but_time(&entry) {
                    out.push(entry);
                }
                Ok(out.len() < query.limit)
            })
            .await?;
            if out.len() >= query.limit {
                break;
            }
        }
        Ok(out)
    }

    async fn put_change_items(&self, new_items: &[ChangeItem]) -> Result<()> {
        // Only the items of a set without a header come here (checked below), so a
        // plain put of version 1 cannot overwrite progress.
        if let Some(bad) = new_items.iter().find(|i| i.version != 1) {
            return Err(StoreError::Contract(format!("change item {}#{} must be new (version 1)", bad.request_id, bad.seq)).into());
        }
        let mut sets: Vec<RequestId> = new_items.iter().map(|i| i.request_id).collect();
        sets.dedup();
        for set in sets {
            if self.get(items::key(keys::change_set_pk(set), keys::CHANGE_SET_SK)).await?.is_some() {
                return Err(StoreError::Conflict(format!("change set {set} exists already: its items change only through commits")).into());
            }
        }
        let all = new_items.iter().map(items::change_item_item).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(self.batch_put(all).await?)
    }

    async fn get_change_set(&self, id: RequestId) -> Result<Option<ChangeSet>> {
        let found = self.get(items::key(keys::change_set_pk(id), keys::CHANGE_SET_SK)).await?;
        Ok(found.as_ref().map(items::change_set_from).transpose()?)
    }

    async fn find_change_sets(&self, requester: &Email, digest: &str) -> Result<Vec<ChangeSet>> {
        // GSI3 is eventually consistent: a set made a moment ago may be missed, and then
        // a second set is made from the same text. Its items are compared with PostHog
        // before any write, so nothing is applied twice either way.
        let found = self.query(&Query::on(3, keys::change_set_digest_pk(requester, digest)).newest_first(), 20, false).await?;
        Ok(found.iter().map(items::change_set_from).collect::<std::result::Result<Vec<_>, _>>()?)
    }

    async fn list_change_items(&self, id: RequestId) -> Result<Vec<ChangeItem>> {
        let (lo, hi) = keys::change_items_range();
        let found = self.query(&Query::base(keys::change_set_pk(id)).sk(SortKey::Between(lo, hi)), usize::MAX, false).await?;
        Ok(found.iter().map(items::change_item_from).collect::<std::result::Result<Vec<_>, _>>()?)
    }

    async fn audit_chain_page(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let locators = self.query(&Query::base(keys::CHAIN_PK).sk(SortKey::After(keys::seq(after_seq))), limit, false).await?;
        let mut wanted = Vec::with_capacity(locators.len());
        for locator in &locators {
            wanted.push(items::key(
                items::string(locator, items::REF_PK, "audit locator")?,
                items::string(locator, items::REF_SK, "audit locator")?,
            ));
        }
        let found = self.batch_get(wanted).await?;
        if found.len() < locators.len() {
            // Leaving the gap in the page is what lets verify_chain report the removal.
            tracing::warn!(missing = locators.len() - found.len(), "audit entries named by the chain are missing");
        }
        Ok(found.iter().map(items::audit_from).collect::<std::result::Result<_, _>>()?)
    }

    async fn get_claim(&self, key: &str) -> Result<Option<RequestId>> {
        Ok(self.get_claim_holder(key).await?)
    }

    fn reviews(&self) -> &dyn hogwarden_core::reviews::ReviewStore {
        self
    }

    fn keys(&self) -> &dyn hogwarden_core::consumers::KeyStore {
        self
    }

    fn alerts(&self) -> &dyn hogwarden_core::alerts::AlertStore {
        self
    }

    async fn put_offboarding(
        &self,
        record: Guarded<hogwarden_core::offboard::Offboarding>,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>> {
        Ok(self.put_offboarding_item(record, audit).await?)
    }

    async fn put_offboarding_claimed(
        &self,
        record: Guarded<hogwarden_core::offboard::Offboarding>,
        claim: hogwarden_core::claims::Claim,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>> {
        Ok(self.put_offboarding_item_claimed(record, Some(claim), audit).await?)
    }

    async fn get_offboarding(&self, id: RequestId) -> Result<Option<hogwarden_core::offboard::Offboarding>> {
        Ok(self.get_offboarding_item(id).await?)
    }

    async fn list_offboardings(
        &self,
        status: Option<hogwarden_core::offboard::OffboardStatus>,
        limit: usize,
    ) -> Result<Vec<hogwarden_core::offboard::Offboarding>> {
        Ok(self.list_offboarding_items(status, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_must_carry_the_next_version() {
        assert!(check_version("request", "r", 1, None).is_ok());
        assert!(check_version("request", "r", 4, Some(3)).is_ok());
        for (written, expected) in [(2, None), (3, Some(3)), (5, Some(3)), (0, Some(u64::MAX))] {
            assert!(matches!(check_version("request", "r", written, expected), Err(StoreError::Contract(_))));
        }
    }

    #[test]
    fn a_failed_record_guard_is_final_and_a_moved_head_is_retried() {
        let ccf = Some("ConditionalCheckFailed");
        assert_eq!(classify(&[None, ccf, Some("None")], 2), Cancelled::Record(1));
        assert_eq!(classify(&[Some("None"), Some("None"), ccf], 2), Cancelled::Retry);
        assert_eq!(classify(&[Some("None"), Some("TransactionConflict")], 1), Cancelled::Retry);
        assert_eq!(classify(&[Some("ValidationError")], 1), Cancelled::Other);
        assert_eq!(classify(&[], 0), Cancelled::Other);
    }
}
