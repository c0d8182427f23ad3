//! Claims (`hogwarden_core::claims`): one row per key naming its holder, written in
//! the transaction of the record that holds it, as a compare-and-swap on the holder.

use hogwarden_core::claims::Claim;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::StoreError;

/// Takes `claim` inside `tx`: inserts it when it replaces nothing, else moves it from
/// the holder the caller saw. Any other stored holder fails the transaction.
pub(crate) fn write(tx: &Transaction<'_>, claim: &Claim) -> Result<(), StoreError> {
    let holder = claim.holder.to_string();
    let changed = match claim.replaces {
        None => tx
            .prepare_cached("INSERT INTO claims (key, holder) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING")?
            .execute(params![claim.key, holder])?,
        Some(seen) => tx.prepare_cached("UPDATE claims SET holder = ?2 WHERE key = ?1 AND holder = ?3")?.execute(params![
            claim.key,
            holder,
            seen.to_string()
        ])?,
    };
    if changed == 0 {
        return Err(match claim.replaces {
            None => StoreError::Conflict(format!("claim {} is already held", claim.key)),
            Some(seen) => StoreError::Conflict(format!("claim {} is no longer held by {seen}: someone else took it", claim.key)),
        });
    }
    Ok(())
}

pub(crate) fn read(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.prepare_cached("SELECT holder FROM claims WHERE key = ?1")?.query_row([key], |row| row.get(0)).optional()?)
}
