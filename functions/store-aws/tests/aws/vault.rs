//! `SecretsManagerVault` on moto: the rotation stages, idempotency per version id,
//! the AWSPENDING end-state rule, and values kept out of `Debug` and errors.

use hogwarden_core::Error;
use hogwarden_core::ports::{Stage, Vault};
use secrecy::{ExposeSecret, SecretString};

use crate::harness::vault;

fn secret_name() -> String {
    format!("hogwarden/test/{}", uuid::Uuid::new_v4())
}

fn version() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn read(v: &impl Vault, name: &str, stage: Stage) -> Option<String> {
    v.get(name, stage).await.unwrap().map(|s| s.expose_secret().to_owned())
}

#[tokio::test]
async fn a_missing_secret_or_stage_reads_as_none() {
    let v = vault().await;
    let name = secret_name();
    assert_eq!(read(&v, &name, Stage::Current).await, None);

    v.stage_pending(&name, &version(), SecretString::from("phx_first")).await.unwrap();

    // Secrets Manager makes a secret's first version current as well as pending.
    assert_eq!(read(&v, &name, Stage::Current).await.as_deref(), Some("phx_first"));
    assert_eq!(read(&v, &name, Stage::Pending).await.as_deref(), Some("phx_first"));
    assert_eq!(read(&v, &name, Stage::Previous).await, None);
}

#[tokio::test]
async fn a_second_version_stays_pending_until_promoted() {
    let v = vault().await;
    let name = secret_name();
    let (first, second) = (version(), version());
    v.stage_pending(&name, &first, SecretString::from("phx_first")).await.unwrap();
    v.promote(&name, &first).await.unwrap();

    v.stage_pending(&name, &second, SecretString::from("phx_second")).await.unwrap();

    assert_eq!(read(&v, &name, Stage::Current).await.as_deref(), Some("phx_first"));
    assert_eq!(read(&v, &name, Stage::Pending).await.as_deref(), Some("phx_second"));
}

#[tokio::test]
async fn promoting_a_new_secrets_first_version_takes_pending_off_it() {
    let v = vault().await;
    let name = secret_name();
    let first = version();
    v.stage_pending(&name, &first, SecretString::from("phx_first")).await.unwrap();

    v.promote(&name, &first).await.unwrap();

    assert_eq!(read(&v, &name, Stage::Current).await.as_deref(), Some("phx_first"));
    assert_eq!(read(&v, &name, Stage::Pending).await, None);
}

#[tokio::test]
async fn staging_the_same_version_twice_keeps_the_first_value() {
    let v = vault().await;
    let name = secret_name();
    let id = version();

    v.stage_pending(&name, &id, SecretString::from("phx_one")).await.unwrap();
    v.stage_pending(&name, &id, SecretString::from("phx_one")).await.unwrap();
    v.stage_pending(&name, &id, SecretString::from("phx_other")).await.unwrap();

    assert_eq!(read(&v, &name, Stage::Pending).await.as_deref(), Some("phx_one"));
}

#[tokio::test]
async fn promoting_moves_current_to_previous_and_leaves_no_pending_version() {
    // Arrange: a first rotation, then a second one staged.
    let v = vault().await;
    let name = secret_name();
    let (first, second) = (version(), version());
    v.stage_pending(&name, &first, SecretString::from("phx_first")).await.unwrap();
    v.promote(&name, &first).await.unwrap();
    v.stage_pending(&name, &second, SecretString::from("phx_second")).await.unwrap();

    // Act
    v.promote(&name, &second).await.unwrap();

    // Assert
    assert_eq!(read(&v, &name, Stage::Current).await.as_deref(), Some("phx_second"));
    assert_eq!(read(&v, &name, Stage::Previous).await.as_deref(), Some("phx_first"));
    assert_eq!(read(&v, &name, Stage::Pending).await, None, "AWSPENDING is on no version after a rotation");
}

#[tokio::test]
async fn promoting_the_current_version_again_is_a_no_op() {
    let v = vault().await;
    let name = secret_name();
    let (first, second) = (version(), version());
    v.stage_pending(&name, &first, SecretString::from("phx_first")).await.unwrap();
    v.promote(&name, &first).await.unwrap();
    v.stage_pending(&name, &second, SecretString::from("phx_second")).await.unwrap();
    v.promote(&name, &second).await.unwrap();

    let (a, b) = tokio::join!(v.promote(&name, &second), v.promote(&name, &second));

    a.unwrap();
    b.unwrap();
    assert_eq!(read(&v, &name, Stage::Current).await.as_deref(), Some("phx_second"));
    assert_eq!(read(&v, &name, Stage::Previous).await.as_deref(), Some("phx_first"), "a retried promote does not rotate again");
}

#[tokio::test]
async fn promoting_an_unknown_version_is_not_found_and_names_no_value() {
    let v = vault().await;
    let name = secret_name();
    v.stage_pending(&name, &version(), SecretString::from("phx_do_not_print")).await.unwrap();

    let err = v.promote(&name, &version()).await.unwrap_err();

    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("phx_do_not_print"));
}

#[tokio::test]
async fn debug_output_never_shows_a_value() {
    let v = vault().await;
    let name = secret_name();
    v.stage_pending(&name, &version(), SecretString::from("phx_hidden_value")).await.unwrap();

    let value = v.get(&name, Stage::Pending).await.unwrap().unwrap();

    let shown = format!("{v:?} {value:?} {:?}", Some(&value));
    assert!(!shown.contains("phx_hidden_value"), "{shown}");
}
