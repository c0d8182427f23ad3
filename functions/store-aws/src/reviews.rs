//! The `ReviewStore` port on the single table (layout in [`crate::keys`]): a campaign
//! and its items share one partition, so reading a review is one `Query`; campaigns
//! are listed newest first through GSI1's `REVIEWS` partition. Guarded records and the
//! audit entries of a [`ReviewCommit`] go in one `TransactWriteItems`, through the same
//! head-sealing loop as the main store's commits.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use hogwarden_core::audit::AuditEntry;
use hogwarden_core::error::Result;
use hogwarden_core::identity::Identity;
use hogwarden_core::ports::{Commit, Guarded};
use hogwarden_core::reviews::{Campaign, CampaignId, DriftFinding, LedgerEntry, LedgerHead, ReviewCommit, ReviewItem, ReviewStore};
use hogwarden_core::types::Email;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::items::{self, Item};
use crate::keys;
use crate::store::{DynamoStore, Query, RecordGuard, SortKey, check_version, guarded_put};

/// What the identity provider said about each person: `IDENTITY` / `<email>`.
const IDENTITY_PK: &str = "IDENTITY";

fn record_item<T: Serialize>(what: &str, pk: String, sk: String, version: u64, record: &T) -> std::result::Result<Item, StoreError> {
    let body = serde_json::to_string(record).map_err(|e| StoreError::Contract(format!("{what} {sk} cannot be serialised: {e}")))?;
    let mut item = items::key(pk, sk);
    item.insert(items::BODY.to_owned(), AttributeValue::S(body));
    item.insert(items::VERSION.to_owned(), AttributeValue::N(version.to_string()));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(what: &'static str, item: &Item) -> std::result::Result<T, StoreError> {
    let body = items::string(item, items::BODY, what)?;
    serde_json::from_str(body).map_err(|e| StoreError::corrupt(what, e))
}

fn campaign_item(c: &Campaign) -> std::result::Result<Item, StoreError> {
    let mut item = record_item("campaign", keys::campaign_pk(&c.id), keys::CAMPAIGN_SK.into(), c.version, c)?;
    let (_, pk_name, sk_name) = keys::INDEXES[0];
    item.insert(pk_name.to_owned(), AttributeValue::S(keys::CAMPAIGNS_PK.into()));
    item.insert(sk_name.to_owned(), AttributeValue::S(keys::time_id(c.opened_at, &c.id)));
    Ok(item)
}

fn review_item(i: &ReviewItem) -> std::result::Result<Item, StoreError> {
    record_item("review item", keys::campaign_pk(&i.campaign), keys::item_sk(&i.id), i.version, i)
}

fn ledger_item(e: &LedgerEntry) -> std::result::Result<Item, StoreError> {
    record_item("ledger entry", keys::LEDGER_PK.into(), e.key(), e.version, e)
}

impl DynamoStore {
    async fn partition<T: DeserializeOwned>(&self, what: &'static str, q: Query) -> std::result::Result<Vec<T>, StoreError> {
        self.query(&q, usize::MAX, false).await?.iter().map(|i| from_item(what, i)).collect()
    }

    async fn one<T: DeserializeOwned>(&self, what: &'static str, pk: String, sk: String) -> std::result::Result<Option<T>, StoreError> {
        self.get(items::key(pk, sk)).await?.as_ref().map(|i| from_item(what, i)).transpose()
    }
}

#[async_trait]
impl ReviewStore for DynamoStore {
    async fn commit_review(&self, commit: ReviewCommit) -> Result<Vec<AuditEntry>> {
        let mut records: Vec<TransactWriteItem> = Vec::new();
        let mut guards: Vec<RecordGuard> = Vec::new();
        let mut add =
            |what: &'static str, id: String, item: Item, version: u64, expected: Option<u64>| -> std::result::Result<(), StoreError> {
                check_version(what, &id, version, expected)?;
                records.push(guarded_put(self.table(), item, expected)?);
                guards.push(RecordGuard { what, id, expected });
                Ok(())
            };
        for Guarded { record, expected_version } in &commit.campaigns {
            add("campaign", record.id.to_string(), campaign_item(record)?, record.version, *expected_version)?;
        }
        for Guarded { record, expected_version } in &commit.items {
            add("review item", record.id.clone(), review_item(record)?, record.version, *expected_version)?;
        }
        for Guarded { record, expected_version } in &commit.ledger {
            add("ledger entry", record.key(), ledger_item(record)?, record.version, *expected_version)?;
        }
        if let Some(Guarded { record, expected_version }) = &commit.head {
            let item = record_item("ledger head", keys::LEDGER_HEAD_PK.into(), keys::HEAD_SK.into(), record.version, record)?;
            add("ledger head", "head".into(), item, record.version, *expected_version)?;
        }
        for Guarded { record, expected_version } in &commit.findings {
            let item = record_item("drift finding", keys::DRIFT_PK.into(), record.id.clone(), record.version, record)?;
            add("drift finding", record.id.clone(), item, record.version, *expected_version)?;
        }
        for Guarded { record, expected_version } in &commit.identities {
            let item = record_item("identity", IDENTITY_PK.into(), record.email.to_string(), record.version, record)?;
            add("identity", record.email.to_string(), item, record.version, *expected_version)?;
        }
        for (id, version) in &commit.resolved {
            let delete = Delete::builder()
                .table_name(self.table())
                .set_key(Some(items::key(keys::DRIFT_PK, id.clone())))
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", items::VERSION)
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string()))
                .build()
                .map_err(|e| StoreError::dynamo("TransactWriteItems", e))?;
            records.push(TransactWriteItem::builder().delete(delete).build());
            guards.push(RecordGuard { what: "drift finding", id: id.clone(), expected: Some(*version) });
        }
        let audit = Commit { audit: commit.audit, ..Commit::default() };
        self.commit_with_audit(&records, &guards, &audit).await
    }

    async fn put_new_items(&self, new: &[ReviewItem]) -> Result<usize> {
        let mut by_campaign: HashMap<&CampaignId, Vec<&ReviewItem>> = HashMap::new();
        for i in new {
            by_campaign.entry(&i.campaign).or_default().push(i);
        }
        let mut written = 0;
        for (campaign, wanted) in by_campaign {
            // Items are only created while their campaign is opening (no decision can
            // exist yet), so reading which exist and writing the rest is safe.
            let q =
                Query::base(keys::campaign_pk(campaign)).sk(SortKey::Between(keys::ITEM_PREFIX.into(), format!("{}~", keys::ITEM_PREFIX)));
            let existing: HashSet<String> = self
                .query(&q, usize::MAX, false)
                .await?
                .iter()
                .filter_map(|i| items::string(i, keys::SK, "review item").ok().map(str::to_owned))
                .collect();
            let missing: Vec<Item> = wanted
                .into_iter()
                .filter(|i| !existing.contains(&keys::item_sk(&i.id)))
                .map(review_item)
                .collect::<std::result::Result<_, _>>()?;
            written += missing.len();
            self.batch_put(missing).await?;
        }
        Ok(written)
    }

    async fn put_ledger(&self, entries: &[LedgerEntry]) -> Result<()> {
        let puts = entries.iter().map(ledger_item).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(self.batch_put(puts).await?)
    }

    async fn get_campaign(&self, id: &CampaignId) -> Result<Option<Campaign>> {
        Ok(self.one("campaign", keys::campaign_pk(id), keys::CAMPAIGN_SK.into()).await?)
    }

    async fn list_campaigns(&self, limit: usize) -> Result<Vec<Campaign>> {
        let found = self.query(&Query::on(1, keys::CAMPAIGNS_PK.into()).newest_first(), limit, false).await?;
        Ok(found.iter().map(|i| from_item("campaign", i)).collect::<std::result::Result<_, _>>()?)
    }

    async fn list_items(&self, campaign: &CampaignId) -> Result<Vec<ReviewItem>> {
        let q = Query::base(keys::campaign_pk(campaign)).sk(SortKey::Between(keys::ITEM_PREFIX.into(), format!("{}~", keys::ITEM_PREFIX)));
        Ok(self.partition("review item", q).await?)
    }

    async fn get_item(&self, campaign: &CampaignId, id: &str) -> Result<Option<ReviewItem>> {
        Ok(self.one("review item", keys::campaign_pk(campaign), keys::item_sk(id)).await?)
    }

    async fn ledger_head(&self) -> Result<Option<LedgerHead>> {
        Ok(self.one("ledger head", keys::LEDGER_HEAD_PK.into(), keys::HEAD_SK.into()).await?)
    }

    async fn list_ledger(&self) -> Result<Vec<LedgerEntry>> {
        Ok(self.partition("ledger entry", Query::base(keys::LEDGER_PK)).await?)
    }

    async fn list_findings(&self) -> Result<Vec<DriftFinding>> {
        Ok(self.partition("drift finding", Query::base(keys::DRIFT_PK)).await?)
    }

    async fn get_finding(&self, id: &str) -> Result<Option<DriftFinding>> {
        Ok(self.one("drift finding", keys::DRIFT_PK.into(), id.to_owned()).await?)
    }

    async fn get_identity(&self, email: &Email) -> Result<Option<Identity>> {
        Ok(self.one("identity", IDENTITY_PK.into(), email.to_string()).await?)
    }

    async fn list_identities(&self) -> Result<Vec<Identity>> {
        Ok(self.partition("identity", Query::base(IDENTITY_PK)).await?)
    }
}
