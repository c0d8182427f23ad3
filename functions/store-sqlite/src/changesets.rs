//! Bulk change sets in SQLite: `change_sets` (one row per set, found by requester and
//! digest) and `change_items` (one row per item, keyed by set and position). Both hold
//! the record whole as JSON in `body`, like requests and grants, and are written
//! inside the same transaction as the rest of a commit, each guarded by its version.

use hogwarden_core::changeset::{ChangeItem, ChangeSet};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::StoreError;
use crate::rows;

/// A `change_sets` row, serialised.
pub(crate) struct SetColumns {
    id: String,
    requester: String,
    digest: String,
    created_at: String,
    version: i64,
    body: String,
}

impl SetColumns {
    pub(crate) fn new(s: &ChangeSet) -> Result<Self, StoreError> {
        Ok(Self {
            id: s.request_id.to_string(),
            requester: s.requester.to_string(),
            digest: s.digest.clone(),
            created_at: rows::timestamp(s.created_at),
            version: rows::version(s.version)?,
            body: serde_json::to_string(s).map_err(|e| StoreError::Contract(format!("change set cannot be serialised: {e}")))?,
        })
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

/// A `change_items` row, serialised.
pub(crate) struct ItemColumns {
    set_id: String,
    seq: i64,
    status: &'static str,
    version: i64,
    body: String,
}

impl ItemColumns {
    pub(crate) fn new(i: &ChangeItem) -> Result<Self, StoreError> {
        Ok(Self {
            set_id: i.request_id.to_string(),
            seq: i64::from(i.seq),
            status: i.status.as_str(),
            version: rows::version(i.version)?,
            body: serde_json::to_string(i).map_err(|e| StoreError::Contract(format!("change item cannot be serialised: {e}")))?,
        })
    }

    pub(crate) fn id(&self) -> String {
        format!("{}#{}", self.set_id, self.seq)
    }
}

pub(crate) fn write_set(tx: &Transaction<'_>, s: &SetColumns, expected: Option<i64>) -> Result<(), StoreError> {
    let changed = match expected {
        None => tx
            .prepare_cached(
                "INSERT INTO change_sets (id, requester, digest, created_at, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![s.id, s.requester, s.digest, s.created_at, s.version, s.body])?,
        Some(expected) => tx
            .prepare_cached("UPDATE change_sets SET version = ?2, body = ?3 WHERE id = ?1 AND version = ?4")?
            .execute(params![s.id, s.version, s.body, expected])?,
    };
    if changed == 0 {
        return Err(guard_failed("change set", &s.id, expected));
    }
    Ok(())
}

pub(crate) fn write_item(tx: &Transaction<'_>, i: &ItemColumns, expected: Option<i64>) -> Result<(), StoreError> {
    let changed = match expected {
        None => tx
            .prepare_cached(
                "INSERT INTO change_items (set_id, seq, status, version, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (set_id, seq) DO NOTHING",
            )?
            .execute(params![i.set_id, i.seq, i.status, i.version, i.body])?,
        Some(expected) => tx
            .prepare_cached("UPDATE change_items SET status = ?3, version = ?4, body = ?5 WHERE set_id = ?1 AND seq = ?2 AND version = ?6")?
            .execute(params![i.set_id, i.seq, i.status, i.version, i.body, expected])?,
    };
    if changed == 0 {
        return Err(guard_failed("change item", &i.id(), expected));
    }
    Ok(())
}

fn guard_failed(what: &str, id: &str, expected: Option<i64>) -> StoreError {
    match expected {
        None => StoreError::Conflict(format!("{what} {id} already exists")),
        Some(v) => {
            StoreError::Conflict(format!("{what} {id} is no longer at version {v}: someone else changed it; reload it and try again"))
        }
    }
}

/// Inserts the items of sets that have no header yet; an item already there is left
/// as it is.
pub(crate) fn insert_items(conn: &mut Connection, items: &[ItemColumns]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut sets: Vec<&str> = items.iter().map(|i| i.set_id.as_str()).collect();
    sets.dedup();
    for set in sets {
        if tx.prepare_cached("SELECT 1 FROM change_sets WHERE id = ?1")?.query_row([set], |_| Ok(())).optional()?.is_some() {
            return Err(StoreError::Conflict(format!("change set {set} exists already: its items change only through commits")));
        }
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO change_items (set_id, seq, status, version, body) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (set_id, seq) DO NOTHING",
        )?;
        for i in items {
            insert.execute(params![i.set_id, i.seq, i.status, i.version, i.body])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn set_from(body: &str) -> Result<ChangeSet, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt("change set", e))
}

pub(crate) fn get_set(conn: &Connection, id: &str) -> Result<Option<ChangeSet>, StoreError> {
    let body: Option<String> =
        conn.prepare_cached("SELECT body FROM change_sets WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
    body.as_deref().map(set_from).transpose()
}

pub(crate) fn find_sets(conn: &Connection, requester: &str, digest: &str) -> Result<Vec<ChangeSet>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT body FROM change_sets WHERE requester = ?1 AND digest = ?2 ORDER BY created_at DESC, id DESC")?;
    let bodies = stmt.query_map(params![requester, digest], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    bodies.iter().map(|b| set_from(b)).collect()
}

pub(crate) fn list_items(conn: &Connection, id: &str) -> Result<Vec<ChangeItem>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT body FROM change_items WHERE set_id = ?1 ORDER BY seq")?;
    let bodies = stmt.query_map([id], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    bodies.iter().map(|b| serde_json::from_str(b).map_err(|e| StoreError::corrupt("change item", e))).collect()
}
