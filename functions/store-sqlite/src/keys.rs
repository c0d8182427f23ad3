//! [`KeyStore`] on SQLite: consumers and guided rotations as JSON bodies in
//! `key_records` (by kind and id), each written by a guarded insert or update in the same
//! transaction as its audit entries; claims as rows inserted only if absent; bindings
//! as `binding` records inserted only if absent and never updated.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::consumers::{Consumer, KeyStore, TokenRotation};
use hogwarden_core::error::Result;
use hogwarden_core::ports::Guarded;
use hogwarden_core::types::ProjectId;
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::rows;
use crate::store::SqliteStore;

const CONSUMER: &str = "consumer";
const TOKEN_ROTATION: &str = "token_rotation";
/// One-time bindings (`KeyStore::bind_once`), e.g. an email's identity-provider subject.
const BINDING: &str = "binding";

/// A binding's body in `key_records`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Binding {
    value: String,
    at: String,
}

struct Prepared {
    kind: &'static str,
    id: String,
    version: i64,
    body: String,
    expected: Option<i64>,
    audit: Vec<AuditDraft>,
}

fn prepare<T: Serialize>(
    kind: &'static str,
    id: String,
    record: &T,
    version: u64,
    expected: Option<u64>,
    audit: Vec<AuditDraft>,
) -> Result<Prepared, StoreError> {
    let expected = crate::store::check_version(kind, &id, version, expected)?;
    Ok(Prepared {
        kind,
        body: serde_json::to_string(record).map_err(|e| StoreError::corrupt(kind, e))?,
        id,
        version: rows::version(version)?,
        expected,
        audit: audit.into_iter().map(|d| AuditDraft { at: rows::to_micros(d.at), ..d }).collect(),
    })
}

fn write(conn: &mut Connection, p: &Prepared) -> Result<Vec<AuditEntry>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = match p.expected {
        None => tx
            .prepare_cached("INSERT INTO key_records (kind, id, version, body) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
            .execute(params![p.kind, p.id, p.version, p.body])?,
        Some(expected) => tx
            .prepare_cached("UPDATE key_records SET version = ?3, body = ?4 WHERE kind = ?1 AND id = ?2 AND version = ?5")?
            .execute(params![p.kind, p.id, p.version, p.body, expected])?,
    };
    if changed == 0 {
        return Err(match p.expected {
            None => StoreError::Conflict(format!("{} {} already exists", p.kind, p.id)),
            Some(_) => {
                StoreError::Conflict(format!("{} {} was changed by someone else, or does not exist; reload it and try again", p.kind, p.id))
            }
        });
    }
    let sealed = crate::store::append_audit(&tx, &p.audit)?;
    tx.commit()?;
    Ok(sealed)
}

fn read_all<T: DeserializeOwned>(conn: &Connection, kind: &'static str, id: Option<&str>) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT body FROM key_records WHERE kind = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY id")?;
    let bodies = stmt.query_map(params![kind, id], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    bodies.iter().map(|b| serde_json::from_str(b).map_err(|e| StoreError::corrupt(kind, e))).collect()
}

/// Project ids as ids that sort numerically (fixed width).
fn project_id(p: ProjectId) -> String {
    format!("{:020}", p.get())
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn put_consumer(&self, record: Guarded<Consumer>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let c = &record.record;
        let prepared = prepare(CONSUMER, c.id.clone(), c, c.version, record.expected_version, audit)?;
        Ok(self.run(move |conn| write(conn, &prepared)).await?)
    }

    async fn get_consumer(&self, id: &str) -> Result<Option<Consumer>> {
        let id = id.to_owned();
        Ok(self.run(move |conn| read_all(conn, CONSUMER, Some(&id))).await?.pop())
    }

    async fn list_consumers(&self) -> Result<Vec<Consumer>> {
        let mut all: Vec<Consumer> = self.run(move |conn| read_all(conn, CONSUMER, None)).await?;
        all.sort_by(|a, b| a.added_at.cmp(&b.added_at).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn put_token_rotation(&self, record: Guarded<TokenRotation>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let r = &record.record;
        let prepared = prepare(TOKEN_ROTATION, project_id(r.project), r, r.version, record.expected_version, audit)?;
        Ok(self.run(move |conn| write(conn, &prepared)).await?)
    }

    async fn get_token_rotation(&self, project: ProjectId) -> Result<Option<TokenRotation>> {
        let id = project_id(project);
        Ok(self.run(move |conn| read_all(conn, TOKEN_ROTATION, Some(&id))).await?.pop())
    }

    async fn list_token_rotations(&self) -> Result<Vec<TokenRotation>> {
        Ok(self.run(move |conn| read_all(conn, TOKEN_ROTATION, None)).await?)
    }

    async fn claim_once(&self, key: &str, at: DateTime<Utc>) -> Result<bool> {
        let (key, at) = (key.to_owned(), rows::timestamp(at));
        Ok(self
            .run(move |conn| {
                let n = conn.execute("INSERT INTO key_claims (key, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![key, at])?;
                Ok(n == 1)
            })
            .await?)
    }

    async fn bind_once(&self, key: &str, value: &str, at: DateTime<Utc>) -> Result<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        let body = serde_json::to_string(&Binding { value, at: rows::timestamp(at) }).map_err(|e| StoreError::corrupt(BINDING, e))?;
        Ok(self
            .run(move |conn| {
                // Read first: almost every call finds the binding, and a read takes no write lock.
                if let Some(found) = read_all::<Binding>(conn, BINDING, Some(&key))?.pop() {
                    return Ok(found.value);
                }
                conn.execute(
                    "INSERT INTO key_records (kind, id, version, body) VALUES (?1, ?2, 1, ?3) ON CONFLICT DO NOTHING",
                    params![BINDING, key, body],
                )?;
                read_all::<Binding>(conn, BINDING, Some(&key))?
                    .pop()
                    .map(|b| b.value)
                    .ok_or_else(|| StoreError::Contract(format!("binding {key} was not stored")))
            })
            .await?)
    }
}
