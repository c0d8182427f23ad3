//! The `ReviewStore` port on the `review_records` table: campaigns and their items in
//! one partition per campaign (`REVIEW#<id>`), the ledger (`LEDGER`), its head
//! (`LEDGER-HEAD`) and drift findings (`DRIFT`), each record whole as JSON with its
//! version. Guarded writes and the audit entries of a [`ReviewCommit`] share one
//! `BEGIN IMMEDIATE` transaction, exactly like the main store's commits.

use async_trait::async_trait;
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::error::Result;
use hogwarden_core::identity::Identity;
use hogwarden_core::ports::Guarded;
use hogwarden_core::reviews::{Campaign, CampaignId, DriftFinding, LedgerEntry, LedgerHead, ReviewCommit, ReviewItem, ReviewStore};
use hogwarden_core::types::Email;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::rows;
use crate::store::{SqliteStore, append_audit, check_version};

const CAMPAIGN_SK: &str = "CAMPAIGN";
const LEDGER_PK: &str = "LEDGER";
const HEAD_PK: &str = "LEDGER-HEAD";
const HEAD_SK: &str = "HEAD";
const DRIFT_PK: &str = "DRIFT";
/// What the identity provider said about each person, sorted by email.
const IDENTITY_PK: &str = "IDENTITY";

fn campaign_pk(id: &CampaignId) -> String {
    format!("REVIEW#{id}")
}

fn item_sk(id: &str) -> String {
    format!("ITEM#{id}")
}

/// One row to write: its key, its listing column, its JSON, its versions.
struct Row {
    what: &'static str,
    partition: String,
    sort: String,
    listed: Option<String>,
    body: String,
    version: i64,
    expected: Option<i64>,
}

fn json<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Contract(format!("{what} cannot be stored as JSON: {e}")))
}

fn parse<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt(what.to_owned(), e))
}

fn row<T: Serialize>(
    what: &'static str,
    partition: String,
    sort: String,
    listed: Option<String>,
    g: &Guarded<T>,
    version: u64,
) -> Result<Row, StoreError> {
    let expected = check_version(what, &format!("{partition}/{sort}"), version, g.expected_version)?;
    Ok(Row { what, partition, sort, listed, body: json(what, &g.record)?, version: rows::version(version)?, expected })
}

/// A commit with every row already serialised.
struct Prepared {
    rows: Vec<Row>,
    deletes: Vec<(String, String, i64)>,
    audit: Vec<AuditDraft>,
}

impl Prepared {
    fn new(commit: ReviewCommit) -> Result<Self, StoreError> {
        let mut out = Vec::new();
        for g in &commit.campaigns {
            let c = &g.record;
            out.push(row("campaign", campaign_pk(&c.id), CAMPAIGN_SK.into(), Some(rows::timestamp(c.opened_at)), g, c.version)?);
        }
        for g in &commit.items {
            let i = &g.record;
            out.push(row("review item", campaign_pk(&i.campaign), item_sk(&i.id), None, g, i.version)?);
        }
        for g in &commit.ledger {
            out.push(row("ledger entry", LEDGER_PK.into(), g.record.key(), None, g, g.record.version)?);
        }
        if let Some(g) = &commit.head {
            out.push(row("ledger head", HEAD_PK.into(), HEAD_SK.into(), None, g, g.record.version)?);
        }
        for g in &commit.findings {
            out.push(row("drift finding", DRIFT_PK.into(), g.record.id.clone(), None, g, g.record.version)?);
        }
        for g in &commit.identities {
            out.push(row("identity", IDENTITY_PK.into(), g.record.email.to_string(), None, g, g.record.version)?);
        }
        let deletes = commit
            .resolved
            .iter()
            .map(|(id, v)| Ok((DRIFT_PK.to_owned(), id.clone(), rows::version(*v)?)))
            .collect::<Result<_, StoreError>>()?;
        let audit = commit.audit.into_iter().map(|d| AuditDraft { at: rows::to_micros(d.at), ..d }).collect();
        Ok(Self { rows: out, deletes, audit })
    }

    fn write(&self, conn: &mut Connection) -> Result<Vec<AuditEntry>, StoreError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for r in &self.rows {
            write_row(&tx, r)?;
        }
        for (partition, sort, version) in &self.deletes {
            let gone = tx.execute(
                "DELETE FROM review_records WHERE partition = ?1 AND sort = ?2 AND version = ?3",
                params![partition, sort, version],
            )?;
            if gone == 0 {
                return Err(StoreError::Conflict(format!("drift finding {sort} changed or is gone; check again")));
            }
        }
        let sealed = append_audit(&tx, &self.audit)?;
        tx.commit()?;
        Ok(sealed)
    }
}

fn write_row(tx: &Transaction<'_>, r: &Row) -> Result<(), StoreError> {
    let changed = match r.expected {
        None => tx
            .prepare_cached(
                "INSERT INTO review_records (partition, sort, listed, version, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (partition, sort) DO NOTHING",
            )?
            .execute(params![r.partition, r.sort, r.listed, r.version, r.body])?,
        Some(expected) => tx
            .prepare_cached(
                "UPDATE review_records SET listed = ?3, version = ?4, body = ?5 WHERE partition = ?1 AND sort = ?2 AND version = ?6",
            )?
            .execute(params![r.partition, r.sort, r.listed, r.version, r.body, expected])?,
    };
    if changed == 0 {
        let message = match r.expected {
            None => format!("{} {} already exists", r.what, r.sort),
            Some(_) => format!("{} {} was changed by someone else (or does not exist); reload it and try again", r.what, r.sort),
        };
        return Err(StoreError::Conflict(message));
    }
    Ok(())
}

fn bodies(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let found = stmt.query_map(p, |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

impl SqliteStore {
    async fn partition<T: DeserializeOwned + Send + 'static>(&self, what: &'static str, partition: String) -> Result<Vec<T>, StoreError> {
        let found =
            self.run(move |conn| bodies(conn, "SELECT body FROM review_records WHERE partition = ?1 ORDER BY sort", [&partition])).await?;
        found.iter().map(|b| parse(what, b)).collect()
    }

    async fn one<T: DeserializeOwned + Send + 'static>(
        &self,
        what: &'static str,
        partition: String,
        sort: String,
    ) -> Result<Option<T>, StoreError> {
        let found = self
            .run(move |conn| {
                Ok(conn
                    .query_row("SELECT body FROM review_records WHERE partition = ?1 AND sort = ?2", params![partition, sort], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?)
            })
            .await?;
        found.map(|b| parse(what, &b)).transpose()
    }

    /// Inserts rows that are new and skips existing ones (or overwrites them), in one
    /// transaction. Returns how many rows changed.
    async fn put_rows(&self, rows: Vec<(String, String, i64, String)>, overwrite: bool) -> Result<usize, StoreError> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let sql = if overwrite {
                "INSERT INTO review_records (partition, sort, version, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (partition, sort) DO UPDATE SET version = excluded.version, body = excluded.body"
            } else {
                "INSERT INTO review_records (partition, sort, version, body) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (partition, sort) DO NOTHING"
            };
            let mut n = 0;
            {
                let mut stmt = tx.prepare_cached(sql)?;
                for (p, s, v, b) in &rows {
                    n += stmt.execute(params![p, s, v, b])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }
}

#[async_trait]
impl ReviewStore for SqliteStore {
    async fn commit_review(&self, commit: ReviewCommit) -> Result<Vec<AuditEntry>> {
        let prepared = Prepared::new(commit)?;
        Ok(self.run(move |conn| prepared.write(conn)).await?)
    }

    async fn put_new_items(&self, items: &[ReviewItem]) -> Result<usize> {
        let rows = items
            .iter()
            .map(|i| Ok((campaign_pk(&i.campaign), item_sk(&i.id), rows::version(i.version)?, json("review item", i)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(self.put_rows(rows, false).await?)
    }

    async fn put_ledger(&self, entries: &[LedgerEntry]) -> Result<()> {
        let rows = entries
            .iter()
            .map(|e| Ok((LEDGER_PK.to_owned(), e.key(), rows::version(e.version)?, json("ledger entry", e)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.put_rows(rows, true).await?;
        Ok(())
    }

    async fn get_campaign(&self, id: &CampaignId) -> Result<Option<Campaign>> {
        Ok(self.one("campaign", campaign_pk(id), CAMPAIGN_SK.into()).await?)
    }

    async fn list_campaigns(&self, limit: usize) -> Result<Vec<Campaign>> {
        let limit = rows::limit(limit);
        let found = self
            .run(move |conn| {
                bodies(
                    conn,
                    "SELECT body FROM review_records WHERE sort = 'CAMPAIGN' AND listed IS NOT NULL ORDER BY listed DESC, partition DESC LIMIT ?1",
                    [limit],
                )
            })
            .await?;
        Ok(found.iter().map(|b| parse("campaign", b)).collect::<Result<_, StoreError>>()?)
    }

    async fn list_items(&self, campaign: &CampaignId) -> Result<Vec<ReviewItem>> {
        let pk = campaign_pk(campaign);
        let found = self
            .run(move |conn| {
                bodies(
                    conn,
                    "SELECT body FROM review_records WHERE partition = ?1 AND sort > 'ITEM#' AND sort < 'ITEM$' ORDER BY sort",
                    [&pk],
                )
            })
            .await?;
        Ok(found.iter().map(|b| parse("review item", b)).collect::<Result<_, StoreError>>()?)
    }

    async fn get_item(&self, campaign: &CampaignId, id: &str) -> Result<Option<ReviewItem>> {
        Ok(self.one("review item", campaign_pk(campaign), item_sk(id)).await?)
    }

    async fn ledger_head(&self) -> Result<Option<LedgerHead>> {
        Ok(self.one("ledger head", HEAD_PK.into(), HEAD_SK.into()).await?)
    }

    async fn list_ledger(&self) -> Result<Vec<LedgerEntry>> {
        Ok(self.partition("ledger entry", LEDGER_PK.into()).await?)
    }

    async fn list_findings(&self) -> Result<Vec<DriftFinding>> {
        Ok(self.partition("drift finding", DRIFT_PK.into()).await?)
    }

    async fn get_finding(&self, id: &str) -> Result<Option<DriftFinding>> {
        Ok(self.one("drift finding", DRIFT_PK.into(), id.to_owned()).await?)
    }

    async fn get_identity(&self, email: &Email) -> Result<Option<Identity>> {
        Ok(self.one("identity", IDENTITY_PK.into(), email.to_string()).await?)
    }

    async fn list_identities(&self) -> Result<Vec<Identity>> {
        Ok(self.partition("identity", IDENTITY_PK.into()).await?)
    }
}
