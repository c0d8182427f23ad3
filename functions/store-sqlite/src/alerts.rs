//! [`AlertStore`] on SQLite: one `alert_records` row per alert, the pause record and
//! each personal key, the record whole as JSON in `body`. Alerts are counted into an
//! existing row with the same id (`ON CONFLICT … DO UPDATE`); the pause and the keys
//! are written guarded by their version, in one transaction with their audit entries.

use async_trait::async_trait;
use hogwarden_core::alerts::{AlertRecord, AlertStore, PauseState, PersonalKey};
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::error::Result;
use hogwarden_core::ports::Guarded;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::rows;
use crate::store::SqliteStore;

const ALERT: &str = "ALERT";
const PAUSE: &str = "PAUSE";
const PAUSE_SORT: &str = "STATE";
const PERSONAL_KEY: &str = "PERSONAL_KEY";

fn json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(what, e))
}

fn parse<T: serde::de::DeserializeOwned>(what: &'static str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt(what, e))
}

/// One guarded row to write.
struct Row {
    what: &'static str,
    partition: &'static str,
    sort: String,
    version: u64,
    expected: Option<u64>,
    body: String,
}

/// Writes one guarded row and its audit entries in one transaction.
fn guarded_write(conn: &mut Connection, row: &Row, audit: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
    let Row { what, partition, sort, version, expected, body } = row;
    let expected_db = crate::store::check_version(what, sort, *version, *expected)?;
    let version = rows::version(*version)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = match expected_db {
        None => tx.execute(
            "INSERT INTO alert_records (partition, sort, version, body) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![partition, sort, version, body],
        )?,
        Some(old) => tx.execute(
            "UPDATE alert_records SET version = ?3, body = ?4 WHERE partition = ?1 AND sort = ?2 AND version = ?5",
            params![partition, sort, version, body, old],
        )?,
    };
    if changed == 0 {
        return Err(match expected {
            None => StoreError::Conflict(format!("{what} {sort} already exists")),
            Some(_) => StoreError::Conflict(format!("{what} {sort} was changed by someone else; reload it and try again")),
        });
    }
    let sealed = crate::store::append_audit(&tx, audit)?;
    tx.commit()?;
    Ok(sealed)
}

fn micros(audit: Vec<AuditDraft>) -> Vec<AuditDraft> {
    audit.into_iter().map(|d| AuditDraft { at: rows::to_micros(d.at), ..d }).collect()
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn record_alert(&self, alert: &AlertRecord) -> Result<()> {
        let id = alert.id.clone();
        let body = json("alert", alert)?;
        let last_at = alert.last_at;
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: Option<String> = tx
                .query_row("SELECT body FROM alert_records WHERE partition = ?1 AND sort = ?2", params![ALERT, id], |r| r.get(0))
                .optional()?;
            match existing {
                None => {
                    tx.execute(
                        "INSERT INTO alert_records (partition, sort, version, body) VALUES (?1, ?2, 1, ?3)",
                        params![ALERT, id, body],
                    )?;
                }
                Some(old) => {
                    let mut old: AlertRecord = parse("alert", &old)?;
                    old.count = old.count.saturating_add(1);
                    old.last_at = old.last_at.max(last_at);
                    tx.execute(
                        "UPDATE alert_records SET version = version + 1, body = ?3 WHERE partition = ?1 AND sort = ?2",
                        params![ALERT, id, json("alert", &old)?],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn list_alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>> {
        let before = before.map(str::to_owned);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let bodies = self
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT body FROM alert_records WHERE partition = ?1 AND (?2 IS NULL OR sort < ?2) ORDER BY sort DESC LIMIT ?3",
                )?;
                let bodies =
                    stmt.query_map(params![ALERT, before, limit], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(bodies)
            })
            .await?;
        Ok(bodies.iter().map(|b| parse("alert", b)).collect::<Result<Vec<_>, StoreError>>()?)
    }

    async fn get_pause(&self) -> Result<Option<PauseState>> {
        let body = self
            .run(|conn| {
                Ok(conn
                    .query_row("SELECT body FROM alert_records WHERE partition = ?1 AND sort = ?2", params![PAUSE, PAUSE_SORT], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?)
            })
            .await?;
        Ok(body.map(|b| parse("pause record", &b)).transpose()?)
    }

    async fn put_pause(&self, state: Guarded<PauseState>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let row = Row {
            what: "pause record",
            partition: PAUSE,
            sort: PAUSE_SORT.to_owned(),
            version: state.record.version,
            expected: state.expected_version,
            body: json("pause record", &state.record)?,
        };
        let audit = micros(audit);
        Ok(self.run(move |conn| guarded_write(conn, &row, &audit)).await?)
    }

    async fn list_personal_keys(&self) -> Result<Vec<PersonalKey>> {
        let bodies = self
            .run(|conn| {
                let mut stmt = conn.prepare_cached("SELECT body FROM alert_records WHERE partition = ?1 ORDER BY sort")?;
                let bodies = stmt.query_map(params![PERSONAL_KEY], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(bodies)
            })
            .await?;
        Ok(bodies.iter().map(|b| parse("personal key", b)).collect::<Result<Vec<_>, StoreError>>()?)
    }

    async fn put_personal_key(&self, key: Guarded<PersonalKey>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
        let row = Row {
            what: "personal key",
            partition: PERSONAL_KEY,
            sort: key.record.id.clone(),
            version: key.record.version,
            expected: key.expected_version,
            body: json("personal key", &key.record)?,
        };
        let audit = micros(audit);
        Ok(self.run(move |conn| guarded_write(conn, &row, &audit)).await?)
    }
}
