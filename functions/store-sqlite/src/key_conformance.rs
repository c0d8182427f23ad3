//! The `KeyStore` conformance suite: key consumers, guided project-token rotations and
//! one-time claims, checked only through the port (reached as `Store::keys`). Run it for
//! an adapter with [`crate::key_conformance_tests!`], which takes the same constructor
//! as [`crate::store_conformance_tests!`].

use hogwarden_core::Error;
use hogwarden_core::audit::{AuditKind, verify_chain};
use hogwarden_core::consumers::{Consumer, ConsumerKind, KeyRef, TokenRotation, TokenRotationStatus, TokenStep, TokenStepKind};
use hogwarden_core::ports::{Guarded, Store};
use hogwarden_core::types::ProjectId;

use crate::conformance::fixtures::{at, draft, email, person};
use crate::conformance::whole_chain;

/// A consumer of project 2's token named `name`, added `minutes` after t0.
pub fn consumer(name: &str, minutes: i64) -> Consumer {
    let key = KeyRef::ProjectToken(ProjectId::new(2).expect("positive"));
    Consumer {
        id: Consumer::id_for(&key, name),
        key: key.as_string(),
        kind: ConsumerKind::FrontendSdk,
        name: name.into(),
        owner: email("frank"),
        added_by: email("alice"),
        added_at: at(minutes),
        removed_at: None,
        removed_by: None,
        version: 1,
    }
}

/// An open guided rotation of `project`.
pub fn rotation(project: i64) -> TokenRotation {
    TokenRotation {
        project: ProjectId::new(project).expect("positive"),
        project_name: format!("Project {project}"),
        id: format!("rot-{project}"),
        status: TokenRotationStatus::Open,
        reason: "leaked".into(),
        started_by: "alice@example.com".into(),
        started_at: at(1),
        old_fingerprint: "ab".repeat(32),
        new_fingerprint: None,
        steps: TokenStepKind::ALL.into_iter().map(|kind| TokenStep { kind, at: None, note: None }).collect(),
        warned: vec![email("frank")],
        notified: Vec::new(),
        last_error: None,
        updated_at: at(1),
        version: 1,
    }
}

/// Consumers read back exactly, list oldest first, and a removal is a guarded update.
pub async fn consumers_read_back_list_oldest_first_and_update_guarded(store: &dyn Store) {
    let keys = store.keys();
    let late = consumer("Web app", 5);
    let early = consumer("CI variable in acme/web", 1);
    for c in [&late, &early] {
        keys.put_consumer(Guarded::create(c.clone()), Vec::new()).await.unwrap();
    }
    assert_eq!(keys.get_consumer(&late.id).await.unwrap().as_ref(), Some(&late));
    assert_eq!(keys.get_consumer("c-none").await.unwrap(), None);
    let listed: Vec<String> = keys.list_consumers().await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(listed, vec![early.id.clone(), late.id.clone()]);

    let removed = Consumer { removed_at: Some(at(9)), removed_by: Some(email("alice")), version: 2, ..late.clone() };
    keys.put_consumer(Guarded::update(removed.clone(), 1), Vec::new()).await.unwrap();
    assert_eq!(keys.get_consumer(&late.id).await.unwrap(), Some(removed));
}

/// Creating an existing consumer, or updating from a stale version, conflicts and writes
/// neither the record nor its audit entry.
pub async fn a_stale_consumer_write_conflicts_and_writes_no_audit(store: &dyn Store) {
    let keys = store.keys();
    let c = consumer("Mobile app", 1);
    let audit = || vec![draft(1, at(1), person("alice"), AuditKind::KeyConsumer, None, None)];
    keys.put_consumer(Guarded::create(c.clone()), audit()).await.unwrap();
    let again = keys.put_consumer(Guarded::create(c.clone()), audit()).await.unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again}");
    let first = Consumer { name: "first".into(), version: 2, ..c.clone() };
    keys.put_consumer(Guarded::update(first.clone(), 1), audit()).await.unwrap();
    let stale = Consumer { name: "second".into(), version: 2, ..c.clone() };
    let err = keys.put_consumer(Guarded::update(stale, 1), audit()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert_eq!(keys.get_consumer(&c.id).await.unwrap(), Some(first));
    let chain = whole_chain(store, 100).await;
    assert_eq!(chain.len(), 2, "only the two writes that landed are audited");
    assert!(verify_chain(&chain).valid);
}

/// Guided rotations are one per project, read back exactly, guarded, and listed.
pub async fn token_rotations_are_one_per_project_and_guarded(store: &dyn Store) {
    let keys = store.keys();
    let two = rotation(2);
    let ten = rotation(10);
    keys.put_token_rotation(Guarded::create(two.clone()), Vec::new()).await.unwrap();
    keys.put_token_rotation(Guarded::create(ten.clone()), Vec::new()).await.unwrap();
    let dup = keys.put_token_rotation(Guarded::create(rotation(2)), Vec::new()).await.unwrap_err();
    assert!(matches!(dup, Error::Conflict(_)), "{dup}");
    assert_eq!(keys.get_token_rotation(ProjectId::new(2).unwrap()).await.unwrap().as_ref(), Some(&two));
    assert_eq!(keys.get_token_rotation(ProjectId::new(3).unwrap()).await.unwrap(), None);

    let mut warned = two.clone();
    warned.mark(TokenStepKind::ConsumersWarned, at(2), Some("1 owner".into()));
    warned.version = 2;
    let audit = vec![draft(1, at(2), person("alice"), AuditKind::KeyRotation, None, None)];
    keys.put_token_rotation(Guarded::update(warned.clone(), 1), audit.clone()).await.unwrap();
    let stale = TokenRotation { reason: "stale".into(), ..warned.clone() };
    let err = keys.put_token_rotation(Guarded::update(stale, 1), audit).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert_eq!(keys.get_token_rotation(ProjectId::new(2).unwrap()).await.unwrap(), Some(warned));
    let mut projects: Vec<i64> = keys.list_token_rotations().await.unwrap().iter().map(|r| r.project.get()).collect();
    projects.sort_unstable();
    assert_eq!(projects, vec![2, 10]);
    assert_eq!(whole_chain(store, 100).await.len(), 1);
}

/// A claim is granted once, even to two callers at the same moment.
pub async fn a_claim_is_granted_once(store: &dyn Store) {
    let keys = store.keys();
    let (a, b) = tokio::join!(keys.claim_once("notice:x", at(1)), keys.claim_once("notice:x", at(1)));
    let granted = [a.unwrap(), b.unwrap()].iter().filter(|g| **g).count();
    assert_eq!(granted, 1);
    assert!(!keys.claim_once("notice:x", at(2)).await.unwrap());
    assert!(keys.claim_once("notice:y", at(2)).await.unwrap());
}

/// A binding keeps the first value, even against two callers at the same moment, and
/// every caller gets the stored value back.
pub async fn a_binding_keeps_the_first_value(store: &dyn Store) {
    let keys = store.keys();
    let (a, b) = tokio::join!(
        keys.bind_once("identity-sub#ana@example.com", "sub-1", at(1)),
        keys.bind_once("identity-sub#ana@example.com", "sub-2", at(1))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "both callers see the one stored value");
    assert!(a == "sub-1" || a == "sub-2", "{a}");
    assert_eq!(keys.bind_once("identity-sub#ana@example.com", "sub-3", at(2)).await.unwrap(), a, "a binding never changes");
    assert_eq!(keys.bind_once("identity-sub#bo@example.com", "sub-3", at(2)).await.unwrap(), "sub-3", "bindings are per key");
    assert!(keys.claim_once("identity-sub#bo@example.com", at(2)).await.unwrap(), "bindings and claims do not share keys");
}

/// One test per behaviour for an adapter: `key_conformance_tests!(fresh_store)`.
#[macro_export]
macro_rules! key_conformance_tests {
    ($make:path) => {
        $crate::key_conformance_tests!(@each $make;
            consumers_read_back_list_oldest_first_and_update_guarded,
            a_stale_consumer_write_conflicts_and_writes_no_audit,
            token_rotations_are_one_per_project_and_guarded,
            a_claim_is_granted_once,
            a_binding_keeps_the_first_value,
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _keep_alive) = $make().await;
                $crate::key_conformance::$check(&*store).await;
            }
        )*
    };
}
