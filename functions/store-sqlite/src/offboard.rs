//! Offboarding records: one row per offboarding, the record whole as JSON in `body`,
//! with its status and creation time as indexed columns, written in the same
//! transaction as its audit entries.

use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::offboard::{OffboardStatus, Offboarding};
use hogwarden_core::ports::Guarded;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::error::StoreError;
use crate::rows;

pub(crate) struct PreparedOffboarding {
    id: String,
    subject: String,
    status: &'static str,
    created_at: String,
    version: i64,
    body: String,
    expected: Option<i64>,
    audit: Vec<AuditDraft>,
    claim: Option<hogwarden_core::claims::Claim>,
}

impl PreparedOffboarding {
    pub(crate) fn new(record: &Guarded<Offboarding>, audit: Vec<AuditDraft>) -> Result<Self, StoreError> {
        let o = &record.record;
        let expected = crate::store::check_version("offboarding", &o.id.to_string(), o.version, record.expected_version)?;
        Ok(Self {
            id: o.id.to_string(),
            subject: o.subject.to_string(),
            status: o.status.as_str(),
            created_at: rows::timestamp(o.created_at),
            version: rows::version(o.version)?,
            body: serde_json::to_string(o).map_err(|e| StoreError::corrupt("offboarding", e))?,
            expected,
            audit: audit.into_iter().map(|d| AuditDraft { at: rows::to_micros(d.at), ..d }).collect(),
            claim: None,
        })
    }

    /// Takes `claim` in the same transaction as the record.
    pub(crate) fn with_claim(self, claim: hogwarden_core::claims::Claim) -> Self {
        Self { claim: Some(claim), ..self }
    }

    pub(crate) fn write(&self, conn: &mut Connection) -> Result<Vec<AuditEntry>, StoreError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = match self.expected {
            None => tx
                .prepare_cached(
                    "INSERT INTO offboardings (id, subject, status, created_at, version, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![self.id, self.subject, self.status, self.created_at, self.version, self.body])?,
            Some(expected) => tx
                .prepare_cached("UPDATE offboardings SET status = ?2, version = ?3, body = ?4 WHERE id = ?1 AND version = ?5")?
                .execute(params![self.id, self.status, self.version, self.body, expected])?,
        };
        if changed == 0 {
            return Err(crate::store::guard_failed(&tx, "offboarding", "offboardings", &self.id, self.expected));
        }
        if let Some(claim) = &self.claim {
            crate::claims::write(&tx, claim)?;
        }
        let sealed = crate::store::append_audit(&tx, &self.audit)?;
        tx.commit()?;
        Ok(sealed)
    }
}

pub(crate) fn read(conn: &Connection, id: &str) -> Result<Option<Offboarding>, StoreError> {
    list(conn, "SELECT body FROM offboardings WHERE id = ?1", params![id]).map(|mut v| v.pop())
}

pub(crate) fn by_status(conn: &Connection, status: Option<OffboardStatus>, limit: i64) -> Result<Vec<Offboarding>, StoreError> {
    match status {
        Some(s) => {
            list(conn, "SELECT body FROM offboardings WHERE status = ?1 ORDER BY created_at, id LIMIT ?2", params![s.as_str(), limit])
        }
        None => list(conn, "SELECT body FROM offboardings ORDER BY created_at, id LIMIT ?1", params![limit]),
    }
}

fn list(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Offboarding>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let bodies = stmt.query_map(params, |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    bodies.iter().map(|b| serde_json::from_str(b).map_err(|e| StoreError::corrupt("offboarding", e))).collect()
}
