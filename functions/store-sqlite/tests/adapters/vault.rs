//! `FileVault` on real files: stages move as in Secrets Manager, re-running a step is
//! a no-op, the file stays owner-only, and no value leaks into Debug or errors.

use std::path::PathBuf;

use hogwarden_core::Error;
use hogwarden_core::ports::{Stage, Vault};
use hogwarden_store_sqlite::FileVault;
use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

const KEY: &str = "posthog/service-key";

fn vault() -> (FileVault, PathBuf, TempDir) {
    let dir = TempDir::new().expect("temporary folder");
    let path = dir.path().join("secrets").join("vault.json");
    let vault = FileVault::open(&path).expect("a new vault opens");
    (vault, path, dir)
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value)
}

async fn stage_value(vault: &FileVault, stage: Stage) -> Option<String> {
    vault.get(KEY, stage).await.unwrap().map(|s| s.expose_secret().to_owned())
}

#[tokio::test]
async fn a_stored_key_reads_back_as_current() {
    let (vault, path, _dir) = vault();

    vault.put_current(KEY, secret("phx_first")).await.unwrap();

    assert_eq!(stage_value(&vault, Stage::Current).await.as_deref(), Some("phx_first"));
    assert_eq!(stage_value(&vault, Stage::Pending).await, None);
    assert_eq!(vault.get("unknown", Stage::Current).await.unwrap().map(|s| s.expose_secret().to_owned()), None);
    let reopened = FileVault::open(&path).unwrap();
    assert_eq!(reopened.get(KEY, Stage::Current).await.unwrap().map(|s| s.expose_secret().to_owned()).as_deref(), Some("phx_first"));
}

#[tokio::test]
async fn promoting_moves_pending_to_current_and_current_to_previous() {
    // Arrange
    let (vault, _path, _dir) = vault();
    vault.put_current(KEY, secret("phs_one")).await.unwrap();

    // Act + Assert: a rotation step by step.
    vault.stage_pending(KEY, "v2", secret("phs_two")).await.unwrap();
    assert_eq!(stage_value(&vault, Stage::Pending).await.as_deref(), Some("phs_two"));
    assert_eq!(stage_value(&vault, Stage::Current).await.as_deref(), Some("phs_one"), "staging leaves current alone");

    vault.promote(KEY, "v2").await.unwrap();
    assert_eq!(stage_value(&vault, Stage::Current).await.as_deref(), Some("phs_two"));
    assert_eq!(stage_value(&vault, Stage::Previous).await.as_deref(), Some("phs_one"));
    assert_eq!(stage_value(&vault, Stage::Pending).await, None);

    vault.stage_pending(KEY, "v3", secret("phs_three")).await.unwrap();
    vault.promote(KEY, "v3").await.unwrap();
    assert_eq!(stage_value(&vault, Stage::Current).await.as_deref(), Some("phs_three"));
    assert_eq!(stage_value(&vault, Stage::Previous).await.as_deref(), Some("phs_two"), "only one previous version is kept");
}

#[tokio::test]
async fn rerunning_a_rotation_step_is_a_no_op() {
    let (vault, path, _dir) = vault();
    vault.put_current(KEY, secret("phs_one")).await.unwrap();

    vault.stage_pending(KEY, "v2", secret("phs_two")).await.unwrap();
    vault.stage_pending(KEY, "v2", secret("phs_two")).await.unwrap();
    vault.promote(KEY, "v2").await.unwrap();
    let after_promote = std::fs::read(&path).unwrap();
    vault.promote(KEY, "v2").await.unwrap();
    vault.stage_pending(KEY, "v2", secret("phs_two")).await.unwrap();
    vault.put_current(KEY, secret("phs_two")).await.unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), after_promote, "repeated steps do not rewrite the file");
    assert_eq!(stage_value(&vault, Stage::Current).await.as_deref(), Some("phs_two"));
    assert_eq!(stage_value(&vault, Stage::Previous).await.as_deref(), Some("phs_one"));
    assert_eq!(stage_value(&vault, Stage::Pending).await, None);
}

#[tokio::test]
async fn staging_a_different_value_under_a_used_version_id_is_refused_without_naming_either() {
    let (vault, _path, _dir) = vault();
    vault.stage_pending(KEY, "v1", secret("phs_original_value")).await.unwrap();

    let err = vault.stage_pending(KEY, "v1", secret("phs_other_value")).await.unwrap_err();

    assert!(matches!(err, Error::Vault(_)), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("phs_original_value") && !shown.contains("phs_other_value"), "{shown}");
    assert_eq!(stage_value(&vault, Stage::Pending).await.as_deref(), Some("phs_original_value"));
}

#[tokio::test]
async fn promoting_an_unknown_version_is_refused() {
    let (vault, _path, _dir) = vault();
    vault.put_current(KEY, secret("phs_one")).await.unwrap();

    let err = vault.promote(KEY, "never-staged").await.unwrap_err();

    assert!(err.to_string().contains("stage it as pending first"), "{err}");
    assert_eq!(stage_value(&vault, Stage::Current).await.as_deref(), Some("phs_one"));
}

#[cfg(unix)]
#[tokio::test]
async fn the_vault_file_is_owner_only_and_is_made_so_again_if_loosened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    // A new file, and every rewrite of it, is 0600.
    let (vault, path, _dir) = vault();
    assert_eq!(mode(&path), 0o600, "a new vault file");
    vault.put_current(KEY, secret("phs_one")).await.unwrap();
    assert_eq!(mode(&path), 0o600, "after a write");

    // Someone loosens it: opening (or any read) makes it owner-only again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reopened = FileVault::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600, "after opening a loosened file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    reopened.get(KEY, Stage::Current).await.unwrap();
    assert_eq!(mode(&path), 0o600, "after reading a loosened file");
}

#[tokio::test]
async fn debug_output_and_errors_never_show_a_value() {
    let (vault, path, _dir) = vault();
    vault.put_current(KEY, secret("phx_do_not_print")).await.unwrap();

    let read = vault.get(KEY, Stage::Current).await.unwrap();
    let shown = format!("{vault:?} {read:?}");
    assert!(!shown.contains("phx_do_not_print"), "{shown}");

    // A damaged file holding a key: the error says where, not what.
    std::fs::write(&path, r#"{"format": 1, "secrets": {"k": [{"id": "v1", "stage": "current", "value": "phx_do_not_print", }]}}"#).unwrap();
    let err = FileVault::open(&path).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("phx_do_not_print"), "{shown}");
    assert!(shown.contains("line 1"), "the error says where the file is damaged: {shown}");
}

#[tokio::test]
async fn a_vault_file_with_two_current_versions_is_refused() {
    let (_vault, path, _dir) = vault();
    std::fs::write(
        &path,
        r#"{"format": 1, "secrets": {"k": [{"id": "a", "stage": "current", "value": "x"}, {"id": "b", "stage": "current", "value": "y"}]}}"#,
    )
    .unwrap();

    let err = FileVault::open(&path).unwrap_err();

    assert!(err.to_string().contains("two Current versions"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_to_one_vault_lose_nothing() {
    let (vault, _path, _dir) = vault();

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let vault = vault.clone();
            tokio::spawn(async move { vault.put_current(&format!("key-{i}"), SecretString::from(format!("value-{i}"))).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }

    for i in 0..8 {
        let got = vault.get(&format!("key-{i}"), Stage::Current).await.unwrap().map(|s| s.expose_secret().to_owned());
        assert_eq!(got, Some(format!("value-{i}")));
    }
}
