//! The database schema as an ordered list of migrations, tracked by SQLite's
//! `PRAGMA user_version`, and the connection settings every connection gets.
//!
//! Tables mirror DESIGN.md's access patterns (the DynamoDB single table keeps the
//! same names): `requests` and `grants` hold each record whole as JSON in `body`,
//! with copies of the fields that queries filter or sort on as indexed columns;
//! `audit` holds the hash chain, one column per [`hogwarden_core::audit::AuditEntry`]
//! field, so verification reads exactly what is stored.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;

/// How long one statement waits for another connection's write lock before SQLite
/// reports it busy (then [`crate::store`] retries the whole transaction a few times).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, in order. Step `i` moves the schema from version `i` to `i + 1`.
/// Never edit a step that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: requests, grants and the audit chain.
    r#"
    CREATE TABLE requests (
        id          TEXT PRIMARY KEY NOT NULL,
        requester   TEXT NOT NULL,
        subject     TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body))
    );
    -- Approver inbox: one status by age.
    CREATE INDEX requests_by_status ON requests (status, created_at, id);
    -- A person's requests, as requester or as subject.
    CREATE INDEX requests_by_requester ON requests (requester, created_at, id);
    CREATE INDEX requests_by_subject ON requests (subject, created_at, id);

    CREATE TABLE grants (
        id          TEXT PRIMARY KEY NOT NULL,
        request_id  TEXT NOT NULL REFERENCES requests (id),
        subject     TEXT NOT NULL,
        status      TEXT NOT NULL,
        target      TEXT NOT NULL,
        expires_at  TEXT,
        applied_at  TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body))
    );
    -- Expiry sweep: only active grants that expire are in it, so a sweep reads what
    -- is due and nothing else. Queries must repeat this WHERE for SQLite to use it.
    CREATE INDEX grants_due ON grants (status, expires_at, id)
        WHERE status = 'active' AND expires_at IS NOT NULL;
    -- The permanent half of the active-grants list (the due index holds the rest).
    CREATE INDEX grants_permanent ON grants (applied_at, id)
        WHERE status = 'active' AND expires_at IS NULL;
    -- A person's grants, newest first.
    CREATE INDEX grants_by_subject ON grants (subject, applied_at, id);
    -- Overlapping grants for one person at one target (a revert must not clobber them).
    CREATE INDEX grants_by_target ON grants (subject, target, status, applied_at, id);
    -- A request's grants in written order (the rowid ends every index).
    CREATE INDEX grants_by_request ON grants (request_id, applied_at);

    -- The audit chain. `seq` is the rowid, so every index below also orders by it.
    -- `actor` is the actor as displayed (an email, or `hogwarden:<job>`), which is
    -- what the audit filter matches and what someone reading the file expects.
    CREATE TABLE audit (
        seq         INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        at          TEXT NOT NULL,
        actor       TEXT NOT NULL,
        kind        TEXT NOT NULL,
        subject     TEXT,
        request_id  TEXT,
        grant_id    TEXT,
        details     TEXT NOT NULL CHECK (json_valid(details)),
        prev_hash   TEXT NOT NULL,
        hash        TEXT NOT NULL
    );
    CREATE INDEX audit_by_time ON audit (at);
    CREATE INDEX audit_by_subject ON audit (subject, at);
    -- A request's history and "what did this person do" are the other audit views.
    CREATE INDEX audit_by_request ON audit (request_id, at);
    CREATE INDEX audit_by_actor ON audit (actor, at);
    "#,
    // 2: access reviews and drift (crate::reviews): each record whole as JSON, keyed
    // like the DynamoDB table (`REVIEW#<campaign>` holds a campaign and its items).
    r#"
    CREATE TABLE review_records (
        partition   TEXT NOT NULL,
        sort        TEXT NOT NULL,
        listed      TEXT,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body)),
        PRIMARY KEY (partition, sort)
    ) WITHOUT ROWID;
    -- Campaigns newest first.
    CREATE INDEX review_records_listed ON review_records (sort, listed) WHERE listed IS NOT NULL;
    "#,
    // 3: offboardings (one record per departing member, with per-step status).
    r#"
    CREATE TABLE offboardings (
        id          TEXT PRIMARY KEY NOT NULL,
        subject     TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body))
    );
    -- Resuming runs reads one status, oldest first.
    CREATE INDEX offboardings_by_status ON offboardings (status, created_at, id);
    "#,
    // 4: bulk change sets and their items.
    r#"
    CREATE TABLE change_sets (
        id          TEXT PRIMARY KEY NOT NULL REFERENCES requests (id),
        requester   TEXT NOT NULL,
        digest      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body))
    );
    -- The same file submitted again finds its set.
    CREATE INDEX change_sets_by_digest ON change_sets (requester, digest, created_at);

    -- Items are written before their set's header (a set may hold thousands), so
    -- they carry no foreign key to it.
    CREATE TABLE change_items (
        set_id      TEXT NOT NULL,
        seq         INTEGER NOT NULL CHECK (seq >= 0),
        status      TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body)),
        PRIMARY KEY (set_id, seq)
    );
    "#,
    // 5: key consumers and guided project-token rotations (each record whole
    // as JSON, by kind and id), and one-time claims (a retried step never repeats).
    r#"
    CREATE TABLE key_records (
        kind        TEXT NOT NULL,
        id          TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body)),
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE TABLE key_claims (
        key         TEXT PRIMARY KEY NOT NULL,
        at          TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 6: the leaked-key alert history (`ALERT`, newest first by id), the
    // writes-paused record (`PAUSE`) and personal key metadata (`PERSONAL_KEY`), each
    // record whole as JSON, keyed like the DynamoDB items.
    r#"
    CREATE TABLE alert_records (
        partition   TEXT NOT NULL,
        sort        TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        body        TEXT NOT NULL CHECK (json_valid(body)),
        PRIMARY KEY (partition, sort)
    ) WITHOUT ROWID;
    "#,
    // 7: claims (`hogwarden_core::claims`): one live record per key (a requester's
    // change set per digest, a person's open offboarding), taken in the transaction
    // that stores the record, replaced only by a writer naming the holder it saw.
    r#"
    CREATE TABLE claims (
        key         TEXT PRIMARY KEY NOT NULL,
        holder      TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 8: webhook deliveries (`hogwarden_core::webhooks::DeliveryLog`), claimed before
    // they are handled and done once handled. The table used to be created on first
    // use without a state; the rows it holds were handled, so they become `done`.
    r#"
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
        provider    TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        at          TEXT NOT NULL,
        PRIMARY KEY (provider, delivery_id)
    );
    ALTER TABLE webhook_deliveries ADD COLUMN state TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('claimed', 'done'));
    -- Unix seconds of the claim, so a claim nobody finished lapses.
    ALTER TABLE webhook_deliveries ADD COLUMN claimed_at INTEGER;
    "#,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Settings every connection needs. WAL lets readers in other processes (the admin
/// CLI) work while the server writes; foreign keys are off by default in SQLite.
pub(crate) fn configure(conn: &Connection, file_backed: bool) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if file_backed {
        // journal_mode answers with the mode it settled on; anything but WAL means the
        // file system refused it, which would make concurrent readers block writers.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Setup(format!("SQLite would not switch to WAL mode (it chose '{mode}')")));
        }
        // NORMAL is durable across application crashes in WAL mode and much faster
        // than FULL; only a power loss can drop the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction, so a failed
/// migration leaves the file as it was.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock before reading the version, so two processes
    // opening a new file at once cannot both run the same step.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, known: SCHEMA_VERSION });
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(step).map_err(|e| StoreError::Setup(format!("migration {} failed: {}", index + 1, crate::error::describe(&e))))?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tracing::info!(from = found, to = SCHEMA_VERSION, "database schema migrated");
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_gets_every_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn, false).unwrap();
        migrate(&mut conn).unwrap();
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 12);
    }

    #[test]
    fn deliveries_recorded_before_claims_stay_replays() {
        // A file at step 7, whose deliveries table was created on first use.
        let mut conn = Connection::open_in_memory().unwrap();
        for step in &MIGRATIONS[..7] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 7).unwrap();
        conn.execute_batch(
            "CREATE TABLE webhook_deliveries (provider TEXT NOT NULL, delivery_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (provider, delivery_id));
             INSERT INTO webhook_deliveries VALUES ('generic', 'd-old', '2025-01-01T00:00:00+00:00');",
        )
        .unwrap();

        migrate(&mut conn).unwrap();

        let state: String = conn.query_row("SELECT state FROM webhook_deliveries WHERE delivery_id = 'd-old'", [], |r| r.get(0)).unwrap();
        assert_eq!(state, "done");
    }

    #[test]
    fn a_schema_newer_than_this_build_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        assert!(err.to_string().contains("upgrade Hogwarden"), "{err}");
    }
}
