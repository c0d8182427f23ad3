//! [`SqliteStore`]: the `Store` port on one SQLite file, one method per access
//! pattern of DESIGN.md's "Data" section.
//!
//! rusqlite is blocking, so the connection sits behind a mutex and every call runs
//! on tokio's blocking pool. One connection is plenty for the local stack and keeps
//! in-process writes strictly ordered; other processes (the admin CLI) share the
//! file through WAL mode and `BEGIN IMMEDIATE` plus a busy timeout.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hogwarden_core::audit::{AuditDraft, AuditEntry};
use hogwarden_core::changeset::{ChangeItem, ChangeSet};
use hogwarden_core::error::Result;
use hogwarden_core::model::{AccessRequest, AccessTarget, Grant, GrantStatus, RequestStatus};
use hogwarden_core::ports::{AuditQuery, Commit, Guarded, Store};
use hogwarden_core::types::{Email, GrantId, RequestId};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter};

use crate::changesets::{self, ItemColumns, SetColumns};
use crate::error::StoreError;
use crate::rows::{self, AUDIT_COLUMNS, AuditRow, GrantColumns, RequestColumns};
use crate::schema;

/// How often a transaction is tried when another connection holds the lock past
/// the busy timeout, and how long to wait before the first retry (it doubles).
const BUSY_ATTEMPTS: u32 = 4;
const BUSY_BACKOFF: Duration = Duration::from_millis(25);

/// The SQLite-backed [`Store`]. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Creates the database file 0600 when it is missing (SQLite gives its `-wal` and
/// `-shm` files the database's mode) and narrows existing ones to 0600.
fn private_files(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = PathBuf::from(file);
            match std::fs::metadata(&file) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path` and brings its schema up to
    /// date. Creates missing parent folders. On Unix the file and its `-wal` and `-shm`
    /// companions are readable by their owner only (0600), also when they existed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open { path: path.to_owned(), reason };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        private_files(path).map_err(|e| open_error(e.to_string()))?;
        let mut conn = Connection::open(path).map_err(|e| open_error(crate::error::describe(&e)))?;
        schema::configure(&conn, true)?;
        schema::migrate(&mut conn)?;
        // WAL mode made the companions now; SQLite gives them the database's mode, but
        // ones left by an older Hogwarden may be wider.
        private_files(path).map_err(|e| open_error(e.to_string()))?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: Some(path.to_owned()) })
    }

    /// A private in-memory database, for unit tests. It disappears with the store.
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        schema::configure(&conn, false)?;
        schema::migrate(&mut conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: None })
    }

    /// The database file, if this store has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `op` with the connection on the blocking pool, trying again a few times
    /// if another process holds the write lock.
    pub(crate) async fn run<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while the lock was held poisons it but leaves the connection
            // usable: rusqlite rolls back a transaction it drops, unwinding included,
            // and any transaction still open is rolled back here before going on.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            let mut wait = BUSY_BACKOFF;
            let mut attempt = 1;
            loop {
                match op(&mut conn) {
                    Err(e) if e.is_busy() && attempt < BUSY_ATTEMPTS => {
                        tracing::warn!(attempt, "database busy, retrying");
                        std::thread::sleep(wait);
                        wait *= 2;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }
}

// ---------------------------------------------------------------- writes

/// A commit with every row already serialised, so the transaction only writes.
struct PreparedCommit {
    requests: Vec<(RequestColumns, Option<i64>)>,
    grants: Vec<(GrantColumns, Option<i64>)>,
    audit: Vec<AuditDraft>,
    change_sets: Vec<(SetColumns, Option<i64>)>,
    change_items: Vec<(ItemColumns, Option<i64>)>,
    claims: Vec<hogwarden_core::claims::Claim>,
}

/// The version a guarded write must carry: one more than expected, or 1 when new.
/// Anything else is the caller's bug, caught before it can corrupt the guard.
pub(crate) fn check_version(what: &str, id: &str, written: u64, expected: Option<u64>) -> Result<Option<i64>, StoreError> {
    let required = expected.map_or(Some(1), |v| v.checked_add(1));
    if required != Some(written) {
        return Err(StoreError::Contract(format!(
            "{what} {id} is written with version {written} but must carry {} (expected version {expected:?})",
            required.map_or_else(|| "a larger version".to_owned(), |v| v.to_string())
        )));
    }
    expected.map(rows::version).transpose()
}

impl PreparedCommit {
    fn new(commit: Commit) -> Result<Self, StoreError> {
        let requests = commit
            .requests
            .iter()
            .map(|Guarded { record, expected_version }| {
                let expected = check_version("request", &record.id.to_string(), record.version, *expected_version)?;
                Ok((RequestColumns::new(record)?, expected))
            })
            .collect::<Result<_, StoreError>>()?;
        let grants = commit
            .grants
            .iter()
            .map(|Guarded { record, expected_version }| {
                let expected = check_version("grant", &record.id.to_string(), record.version, *expected_version)?;
                Ok((GrantColumns::new(record)?, expected))
            })
            .collect::<Result<_, StoreError>>()?;
        let change_sets = commit
            .change_sets
            .iter()
            .map(|Guarded { record, expected_version }| {
                let columns = SetColumns::new(record)?;
                let expected = check_version("change set", columns.id(), record.version, *expected_version)?;
                Ok((columns, expected))
            })
            .collect::<Result<_, StoreError>>()?;
        let change_items = commit
            .change_items
            .iter()
            .map(|Guarded { record, expected_version }| {
                let columns = ItemColumns::new(record)?;
                let expected = check_version("change item", &columns.id(), record.version, *expected_version)?;
                Ok((columns, expected))
            })
            .collect::<Result<_, StoreError>>()?;
        let audit = commit.audit.into_iter().map(|d| AuditDraft { at: rows::to_micros(d.at), ..d }).collect();
        Ok(Self { requests, grants, audit, change_sets, change_items, claims: commit.claims })
    }

    /// Writes everything in one `BEGIN IMMEDIATE` transaction: the write lock is taken
    /// before the audit head is read, so two writers can never seal onto the same head.
    fn write(&self, conn: &mut Connection) -> Result<Vec<AuditEntry>, StoreError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (row, expected) in &self.requests {
            write_request(&tx, row, *expected)?;
        }
        for (row, expected) in &self.grants {
            write_grant(&tx, row, *expected)?;
        }
        for (row, expected) in &self.change_sets {
            changesets::write_set(&tx, row, *expected)?;
        }
        for (row, expected) in &self.change_items {
            changesets::write_item(&tx, row, *expected)?;
        }
        for claim in &self.claims {
            crate::claims::write(&tx, claim)?;
        }
        let sealed = append_audit(&tx, &self.audit)?;
        tx.commit()?;
        Ok(sealed)
    }
}

fn write_request(tx: &Transaction<'_>, r: &RequestColumns, expected: Option<i64>) -> Result<(), StoreError> {
    let changed = match expected {
        None => tx
            .prepare_cached(
                "INSERT INTO requests (id, requester, subject, status, created_at, updated_at, expires_at, version, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![r.id, r.requester, r.subject, r.status, r.created_at, r.updated_at, r.expires_at, r.version, r.body])?,
        Some(expected) => tx
            .prepare_cached(
                "UPDATE requests SET requester = ?2, subject = ?3, status = ?4, created_at = ?5, updated_at = ?6,
                 expires_at = ?7, version = ?8, body = ?9
             WHERE id = ?1 AND version = ?10",
            )?
            .execute(params![
                r.id,
                r.requester,
                r.subject,
                r.status,
                r.created_at,
                r.updated_at,
                r.expires_at,
                r.version,
                r.body,
                expected
            ])?,
    };
    if changed == 0 {
        return Err(guard_failed(tx, "request", "requests", &r.id, expected));
    }
    Ok(())
}

fn write_grant(tx: &Transaction<'_>, g: &GrantColumns, expected: Option<i64>) -> Result<(), StoreError> {
    let changed = match expected {
        None => tx
            .prepare_cached(
                "INSERT INTO grants (id, request_id, subject, status, target, expires_at, applied_at, version, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![g.id, g.request_id, g.subject, g.status, g.target, g.expires_at, g.applied_at, g.version, g.body])?,
        Some(expected) => tx
            .prepare_cached(
                "UPDATE grants SET request_id = ?2, subject = ?3, status = ?4, target = ?5, expires_at = ?6,
                 applied_at = ?7, version = ?8, body = ?9
             WHERE id = ?1 AND version = ?10",
            )?
            .execute(params![g.id, g.request_id, g.subject, g.status, g.target, g.expires_at, g.applied_at, g.version, g.body, expected])?,
    };
    if changed == 0 {
        return Err(guard_failed(tx, "grant", "grants", &g.id, expected));
    }
    Ok(())
}

/// Says why a guarded write changed nothing, in words for the person who retries.
pub(crate) fn guard_failed(tx: &Transaction<'_>, what: &str, table: &str, id: &str, expected: Option<i64>) -> StoreError {
    if expected.is_none() {
        return StoreError::Conflict(format!("{what} {id} already exists"));
    }
    // Only for the message; the transaction is rolled back either way.
    let exists = tx
        .query_row(&format!("SELECT 1 FROM {table} WHERE id = ?1"), [id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .unwrap_or(true);
    if exists {
        StoreError::Conflict(format!("{what} {id} was changed by someone else; reload it and try again"))
    } else {
        StoreError::Conflict(format!("{what} {id} does not exist, so it cannot be updated"))
    }
}

/// Seals each draft onto the chain head read inside the transaction and appends it.
pub(crate) fn append_audit(tx: &Transaction<'_>, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let head: Option<(i64, String)> =
        tx.query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
    let mut head = head
        .map(|(seq, hash)| u64::try_from(seq).map(|seq| (seq, hash)))
        .transpose()
        .map_err(|_| StoreError::corrupt("audit head", "its sequence number is negative"))?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit (seq, at, actor, kind, subject, request_id, grant_id, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut sealed = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let entry = draft.clone().seal(head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())));
        let row = AuditRow::from_entry(&entry)?;
        insert.execute(params![
            row.seq,
            row.at,
            row.actor,
            row.kind,
            row.subject,
            row.request_id,
            row.grant_id,
            row.details,
            row.prev_hash,
            row.hash
        ])?;
        head = Some((entry.seq, entry.hash.clone()));
        sealed.push(entry);
    }
    Ok(sealed)
}

// ---------------------------------------------------------------- reads

/// Runs a query whose only column is a record's JSON body.
fn bodies(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn requests(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<AccessRequest>, StoreError> {
    bodies(conn, sql, params)?.iter().map(|b| rows::request_from_body(b)).collect()
}

fn grants(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Grant>, StoreError> {
    bodies(conn, sql, params)?.iter().map(|b| rows::grant_from_body(b)).collect()
}

fn audit_entries(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let found = stmt.query_map(params, AuditRow::read)?.collect::<rusqlite::Result<Vec<_>>>()?;
    found.into_iter().map(AuditRow::into_entry).collect()
}

/// The due-grants query. Its WHERE repeats the `grants_due` index's condition word
/// for word, which is what lets SQLite use that partial index (see the plan test).
const GRANTS_DUE_SQL: &str = "SELECT body FROM grants
     WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?1
     ORDER BY expires_at, id LIMIT ?2";

/// Builds the audit query for the filters that are set; values are bound, never
/// spliced into the SQL.
fn audit_query_sql(query: &AuditQuery) -> (String, Vec<Value>) {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut filter = |clause, value: String| {
        clauses.push(clause);
        values.push(Value::Text(value));
    };
    if let Some(subject) = &query.subject {
        filter("subject = ?", subject.to_string());
    }
    if let Some(actor) = &query.actor {
        filter("actor = ?", actor.to_string());
    }
    if let Some(kind) = query.kind {
        filter("kind = ?", kind.as_str().to_owned());
    }
    if let Some(id) = query.request_id {
        filter("request_id = ?", id.to_string());
    }
    if let Some(from) = query.from {
        filter("at >= ?", rows::timestamp(from));
    }
    if let Some(to) = query.to {
        filter("at <= ?", rows::timestamp(to));
    }
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY at DESC, seq DESC LIMIT ?");
    values.push(Value::Integer(rows::limit(query.limit)));
    (sql, values)
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all, fields(requests = commit.requests.len(), grants = commit.grants.len(), audit = commit.audit.len()))]
    async fn commit(&self, commit: Commit) -> Result<Vec<AuditEntry>> {
        let prepared = PreparedCommit::new(commit)?;
        let sealed = self.run(move |conn| prepared.write(conn)).await?;
        Ok(sealed)
    }

    async fn get_request(&self, id: RequestId) -> Result<Option<AccessRequest>> {
        let id = id.to_string();
        let found = self.run(move |conn| requests(conn, "SELECT body FROM requests WHERE id = ?1", [&id])).await?;
        Ok(found.into_iter().next())
    }

    async fn list_requests_for_user(&self, email: &Email, limit: usize) -> Result<Vec<AccessRequest>> {
        let email = email.to_string();
        let limit = rows::limit(limit);
        // One row per request even when someone asked for themselves: OR, not UNION ALL.
        let sql = "SELECT body FROM requests WHERE requester = ?1 OR subject = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2";
        Ok(self.run(move |conn| requests(conn, sql, params![email, limit])).await?)
    }

    async fn list_requests_by_status(&self, status: RequestStatus, limit: usize) -> Result<Vec<AccessRequest>> {
        let limit = rows::limit(limit);
        let sql = "SELECT body FROM requests WHERE status = ?1 ORDER BY created_at, id LIMIT ?2";
        Ok(self.run(move |conn| requests(conn, sql, params![status.as_str(), limit])).await?)
    }

    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>> {
        let id = id.to_string();
        let found = self.run(move |conn| grants(conn, "SELECT body FROM grants WHERE id = ?1", [&id])).await?;
        Ok(found.into_iter().next())
    }

    async fn list_grants_for_request(&self, id: RequestId) -> Result<Vec<Grant>> {
        let id = id.to_string();
        // rowid keeps the order the grants were written in, which is the request's
        // order of changes when they share `applied_at`.
        let sql = "SELECT body FROM grants WHERE request_id = ?1 ORDER BY applied_at, rowid";
        Ok(self.run(move |conn| grants(conn, sql, [&id])).await?)
    }

    async fn list_grants_for_user(&self, email: &Email, limit: usize) -> Result<Vec<Grant>> {
        let email = email.to_string();
        let limit = rows::limit(limit);
        let sql = "SELECT body FROM grants WHERE subject = ?1 ORDER BY applied_at DESC, id DESC LIMIT ?2";
        Ok(self.run(move |conn| grants(conn, sql, params![email, limit])).await?)
    }

    async fn list_grants_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Grant>> {
        let at = rows::timestamp(now);
        let limit = rows::limit(limit);
        let mut due = self.run(move |conn| grants(conn, GRANTS_DUE_SQL, params![at, limit])).await?;
        // The column keeps microseconds; a grant due a few nanoseconds after `now`
        // would match it, so the exact rule has the last word.
        due.retain(|g| g.is_due(now));
        Ok(due)
    }

    async fn list_active_grants(&self, limit: usize) -> Result<Vec<Grant>> {
        let n = rows::limit(limit);
        let found = self
            .run(move |conn| {
                // Two indexed reads in one snapshot: expiring grants soonest first, then
                // permanent ones. One ORDER BY over both would need a sort of every row.
                let tx = conn.transaction()?;
                let mut all = grants(
                    &tx,
                    "SELECT body FROM grants WHERE status = 'active' AND expires_at IS NOT NULL ORDER BY expires_at, id LIMIT ?1",
                    [n],
                )?;
                let rest = n.saturating_sub(i64::try_from(all.len()).unwrap_or(i64::MAX));
                if rest > 0 {
                    all.extend(grants(
                        &tx,
                        "SELECT body FROM grants WHERE status = 'active' AND expires_at IS NULL ORDER BY applied_at, id LIMIT ?1",
                        [rest],
                    )?);
                }
                tx.commit()?;
                Ok(all)
            })
            .await?;
        Ok(found)
    }

    async fn list_active_grants_for_target(&self, email: &Email, target: AccessTarget) -> Result<Vec<Grant>> {
        let email = email.to_string();
        let target = rows::target_key(target);
        let active = GrantStatus::Active.as_str();
        let sql = "SELECT body FROM grants WHERE subject = ?1 AND target = ?2 AND status = ?3 ORDER BY applied_at, id";
        Ok(self.run(move |conn| grants(conn, sql, params![email, target, active])).await?)
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let (sql, values) = audit_query_sql(query);
        Ok(self.run(move |conn| audit_entries(conn, &sql, params_from_iter(values.iter()))).await?)
    }

    async fn audit_chain_page(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        // Past the largest rowid nothing can follow; clamping keeps the bound in range.
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = rows::limit(limit);
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        Ok(self.run(move |conn| audit_entries(conn, &sql, params![after, limit])).await?)
    }

    async fn put_change_items(&self, items: &[ChangeItem]) -> Result<()> {
        let rows = Arc::new(items.iter().map(ItemColumns::new).collect::<Result<Vec<_>, StoreError>>()?);
        Ok(self.run(move |conn| changesets::insert_items(conn, &rows)).await?)
    }

    async fn get_change_set(&self, id: RequestId) -> Result<Option<ChangeSet>> {
        let id = id.to_string();
        Ok(self.run(move |conn| changesets::get_set(conn, &id)).await?)
    }

    async fn find_change_sets(&self, requester: &Email, digest: &str) -> Result<Vec<ChangeSet>> {
        let (requester, digest) = (requester.to_string(), digest.to_owned());
        Ok(self.run(move |conn| changesets::find_sets(conn, &requester, &digest)).await?)
    }

    async fn list_change_items(&self, id: RequestId) -> Result<Vec<ChangeItem>> {
        let id = id.to_string();
        Ok(self.run(move |conn| changesets::list_items(conn, &id)).await?)
    }

    async fn get_claim(&self, key: &str) -> Result<Option<RequestId>> {
        let key = key.to_owned();
        let holder = self.run(move |conn| crate::claims::read(conn, &key)).await?;
        holder.map(|h| RequestId::parse(&h).map_err(|e| StoreError::corrupt("claim", e).into())).transpose()
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
        let prepared = crate::offboard::PreparedOffboarding::new(&record, audit)?;
        Ok(self.run(move |conn| prepared.write(conn)).await?)
    }

    async fn put_offboarding_claimed(
        &self,
        record: Guarded<hogwarden_core::offboard::Offboarding>,
        claim: hogwarden_core::claims::Claim,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>> {
        let prepared = crate::offboard::PreparedOffboarding::new(&record, audit)?.with_claim(claim);
        Ok(self.run(move |conn| prepared.write(conn)).await?)
    }

    async fn get_offboarding(&self, id: RequestId) -> Result<Option<hogwarden_core::offboard::Offboarding>> {
        let id = id.to_string();
        Ok(self.run(move |conn| crate::offboard::read(conn, &id)).await?)
    }

    async fn list_offboardings(
        &self,
        status: Option<hogwarden_core::offboard::OffboardStatus>,
        limit: usize,
    ) -> Result<Vec<hogwarden_core::offboard::Offboarding>> {
        let limit = rows::limit(limit);
        Ok(self.run(move |conn| crate::offboard::by_status(conn, status, limit)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_must_carry_the_next_version() {
        assert_eq!(check_version("request", "r", 1, None).unwrap(), None);
        assert_eq!(check_version("request", "r", 4, Some(3)).unwrap(), Some(3));
        for (written, expected) in [(2, None), (3, Some(3)), (5, Some(3)), (0, Some(u64::MAX))] {
            let err = check_version("request", "r", written, expected).unwrap_err();
            assert!(matches!(err, StoreError::Contract(_)), "{err}");
        }
    }

    /// The query plan's lines for `sql`, as `EXPLAIN QUERY PLAN` reports them.
    fn plan(store: &SqliteStore, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params, |row| row.get::<_, String>(3)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    #[tokio::test]
    async fn the_due_grants_query_reads_the_due_index_not_the_table() {
        // Arrange: a file-backed store with grants in every state, so the planner has
        // a real table to choose between scanning and the index.
        let dir = tempfile::TempDir::new().unwrap();
        let store = SqliteStore::open(&dir.path().join("plan.sqlite")).unwrap();
        let r = crate::conformance::fixtures::request("ana", "ana", Utc::now());
        let mut grants = Vec::new();
        for i in 0..50 {
            let target = crate::conformance::fixtures::project(i + 1);
            let mut g = crate::conformance::fixtures::grant(&r, target, Utc::now(), (i % 3 != 0).then(Utc::now));
            if i % 2 == 0 {
                g.status = GrantStatus::Reverted;
            }
            grants.push(g);
        }
        crate::conformance::save(&store, &[r], &grants).await;

        // Act
        let lines = plan(&store, GRANTS_DUE_SQL, params![rows::timestamp(Utc::now()), 10]);

        // Assert
        let text = lines.join(" | ");
        assert!(text.contains("INDEX grants_due"), "the due query must use the grants_due index: {text}");
        assert!(!text.contains("SCAN grants"), "the due query must not scan grants: {text}");
        assert!(!text.contains("TEMP B-TREE"), "the index already orders by expiry: {text}");
    }

    #[test]
    fn audit_filters_are_bound_not_spliced() {
        let query = AuditQuery { subject: Some(Email::parse("x'or'1@example.com").unwrap()), limit: 5, ..AuditQuery::default() };
        let (sql, values) = audit_query_sql(&query);
        assert!(!sql.contains("example.com"), "{sql}");
        assert_eq!(values.len(), 2);
    }
}
