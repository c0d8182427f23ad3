//! `SqliteStore` on real database files: the shared conformance suite, then what
//! only a file can show: persistence, several connections on one file, and audit
//! rows edited behind Hogwarden's back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hogwarden_core::audit::{AuditEntry, AuditKind, verify_chain};
use hogwarden_core::ports::{Commit, Guarded, Store};
use hogwarden_store_sqlite::conformance::fixtures::{at, draft, person, request};
use hogwarden_store_sqlite::conformance::{append, whole_chain};
use hogwarden_store_sqlite::{SCHEMA_VERSION, SqliteStore, StoreError};
use tempfile::TempDir;

/// A fresh store on a new file; the folder lives as long as the test holds it.
async fn fresh_store() -> (Arc<dyn Store>, TempDir) {
    let dir = TempDir::new().expect("temporary folder");
    let store = SqliteStore::open(&dir.path().join("hogwarden.sqlite")).expect("a new database opens");
    (Arc::new(store), dir)
}

hogwarden_store_sqlite::store_conformance_tests!(fresh_store);

mod reviews {
    use super::fresh_store;

    hogwarden_store_sqlite::review_conformance_tests!(fresh_store);
}

mod keys {
    use super::fresh_store;

    hogwarden_store_sqlite::key_conformance_tests!(fresh_store);
}

mod alerts {
    use super::fresh_store;

    hogwarden_store_sqlite::alert_conformance_tests!(fresh_store);
}

mod deliveries {
    use std::sync::Arc;

    use hogwarden_core::webhooks::DeliveryLog;
    use hogwarden_store_sqlite::SqliteStore;
    use tempfile::TempDir;

    async fn fresh_log() -> (Arc<dyn DeliveryLog>, TempDir) {
        let dir = TempDir::new().expect("temporary folder");
        let store = SqliteStore::open(&dir.path().join("hogwarden.sqlite")).expect("a new database opens");
        (Arc::new(store), dir)
    }

    hogwarden_store_sqlite::delivery_conformance_tests!(fresh_log);
}

/// A store on a new file plus the file's path, for raw-SQL access.
fn store_on_file() -> (SqliteStore, PathBuf, TempDir) {
    let dir = TempDir::new().expect("temporary folder");
    let path = dir.path().join("data").join("hogwarden.sqlite");
    let store = SqliteStore::open(&path).expect("a new database opens");
    (store, path, dir)
}

/// Five audit entries, markers 1 to 5, in two commits.
async fn five_entries(store: &dyn Store) -> Vec<AuditEntry> {
    let mut sealed =
        append(store, (1..=3).map(|m| draft(m, at(m as i64), person("ana"), AuditKind::Requested, None, None)).collect()).await;
    sealed.extend(append(store, (4..=5).map(|m| draft(m, at(m as i64), person("bo"), AuditKind::Approved, None, None)).collect()).await);
    sealed
}

/// Another SQLite client on the same file, as someone with file access would use.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    // Arrange
    let (store, path, _dir) = store_on_file();
    let r = request("ana", "ana", at(0));
    store
        .commit(Commit {
            requests: vec![Guarded::create(r.clone())],
            audit: vec![draft(1, at(0), person("ana"), AuditKind::Requested, Some(&r.subject), Some(r.id))],
            ..Commit::default()
        })
        .await
        .unwrap();
    drop(store);

    // Act
    let reopened = SqliteStore::open(&path).unwrap();
    append(&reopened, vec![draft(2, at(1), person("bo"), AuditKind::Approved, None, None)]).await;

    // Assert
    assert_eq!(reopened.get_request(r.id).await.unwrap(), Some(r));
    let chain = whole_chain(&reopened, 10).await;
    assert_eq!(chain.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2], "the chain continues where it stopped");
    assert!(verify_chain(&chain).valid);
}

#[tokio::test]
async fn a_new_file_uses_wal_mode_and_the_current_schema_version() {
    let (_store, path, _dir) = store_on_file();

    let conn = raw(&path);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();

    assert_eq!(mode, "wal");
    assert_eq!(version, SCHEMA_VERSION);
}

#[tokio::test]
async fn a_file_from_a_newer_hogwarden_is_refused() {
    let (store, path, _dir) = store_on_file();
    drop(store);
    raw(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();

    let err = SqliteStore::open(&path).unwrap_err();

    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
}

#[tokio::test]
async fn an_in_memory_store_commits_and_reads() {
    let store = SqliteStore::in_memory().unwrap();
    let r = request("ana", "ana", at(0));

    store.commit(Commit { requests: vec![Guarded::create(r.clone())], ..Commit::default() }).await.unwrap();

    assert_eq!(store.get_request(r.id).await.unwrap(), Some(r));
    assert_eq!(store.path(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_keep_one_contiguous_chain() {
    // Arrange: two connections, as the server and the admin CLI would have.
    let (first, path, _dir) = store_on_file();
    let second = SqliteStore::open(&path).unwrap();

    // Act
    let write = |store: SqliteStore, base: u64| {
        tokio::spawn(async move {
            for i in 0..15 {
                append(&store, vec![draft(base + i, at(0), person("ana"), AuditKind::Requested, None, None)]).await;
            }
        })
    };
    let (a, b) = tokio::join!(write(first.clone(), 100), write(second, 200));
    a.unwrap();
    b.unwrap();

    // Assert
    let chain = whole_chain(&first, 100).await;
    assert_eq!(chain.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=30).collect::<Vec<_>>());
    assert!(verify_chain(&chain).valid);
}

// ---------------------------------------------------------------- tampering

#[tokio::test]
async fn editing_an_audit_rows_details_is_detected() {
    // Arrange
    let (store, path, _dir) = store_on_file();
    five_entries(&store).await;
    assert!(verify_chain(&whole_chain(&store, 10).await).valid, "untouched, the chain verifies");

    // Act
    let changed = raw(&path).execute("UPDATE audit SET details = '{\"marker\": 99, \"note\": \"forged\"}' WHERE seq = 3", []).unwrap();

    // Assert
    assert_eq!(changed, 1);
    let verification = verify_chain(&whole_chain(&store, 10).await);
    assert!(!verification.valid);
    assert_eq!(verification.first_broken_seq, Some(3));
}

#[tokio::test]
async fn editing_an_audit_rows_actor_or_time_is_detected() {
    for (column, value) in [("actor", "mallory@example.com"), ("at", "2030-01-01T09:03:00.000000Z"), ("kind", "denied")] {
        let (store, path, _dir) = store_on_file();
        five_entries(&store).await;

        raw(&path).execute(&format!("UPDATE audit SET {column} = ?1 WHERE seq = 2"), [value]).unwrap();

        let verification = verify_chain(&whole_chain(&store, 10).await);
        assert_eq!(verification.first_broken_seq, Some(2), "an edited {column} is detected: {verification:?}");
    }
}

#[tokio::test]
async fn deleting_an_audit_row_is_detected() {
    let (store, path, _dir) = store_on_file();
    five_entries(&store).await;

    raw(&path).execute("DELETE FROM audit WHERE seq = 2", []).unwrap();

    let verification = verify_chain(&whole_chain(&store, 10).await);
    assert!(!verification.valid);
    assert_eq!(verification.first_broken_seq, Some(3));
}

#[tokio::test]
async fn swapping_two_audit_rows_is_detected() {
    let (store, path, _dir) = store_on_file();
    five_entries(&store).await;

    // Swap every column but seq between rows 2 and 3, so the order of events changes.
    raw(&path)
        .execute_batch(
            "UPDATE audit SET seq = 1000 WHERE seq = 2;
             UPDATE audit SET seq = 2 WHERE seq = 3;
             UPDATE audit SET seq = 3 WHERE seq = 1000;",
        )
        .unwrap_or_else(|e| panic!("swap: {e}"));

    let chain = whole_chain(&store, 10).await;
    assert_eq!(chain.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5], "the swap kept seq contiguous");
    let verification = verify_chain(&chain);
    assert!(!verification.valid);
    assert_eq!(verification.first_broken_seq, Some(2));
}

#[tokio::test]
async fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    // Arrange
    let (store, path, _dir) = store_on_file();
    let sealed = five_entries(&store).await;
    let mut forged = sealed[1].clone();
    forged.details = serde_json::json!({ "marker": 2, "note": "nothing happened here" });
    forged.hash = forged.compute_hash();

    // Act
    raw(&path)
        .execute("UPDATE audit SET details = ?1, hash = ?2 WHERE seq = 2", [forged.details.to_string(), forged.hash.clone()])
        .unwrap();

    // Assert
    let verification = verify_chain(&whole_chain(&store, 10).await);
    assert_eq!(verification.first_broken_seq, Some(3), "{verification:?}");
}

#[tokio::test]
async fn an_audit_row_with_invalid_json_details_cannot_be_written() {
    let (store, path, _dir) = store_on_file();
    five_entries(&store).await;

    let refused = raw(&path).execute("UPDATE audit SET details = 'not json' WHERE seq = 1", []);

    assert!(refused.is_err(), "the CHECK constraint refuses details that are not JSON");
    assert!(verify_chain(&whole_chain(&store, 10).await).valid);
}
