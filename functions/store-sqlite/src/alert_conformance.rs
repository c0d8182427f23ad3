//! The `AlertStore` conformance suite (keys-alerts): the alert history, the
//! writes-paused record and personal key metadata, checked only through the port
//! (reached as `Store::alerts`). Run it for an adapter with
//! [`crate::alert_conformance_tests!`], which takes the same constructor as
//! [`crate::store_conformance_tests!`].

use chrono::Duration;
use hogwarden_core::Error;
use hogwarden_core::alerts::{AlertLeak, AlertRecord, AlertVerdict, PauseState, PersonalKey, WritePause};
use hogwarden_core::audit::{AuditKind, verify_chain};
use hogwarden_core::ports::{Guarded, Store};

use crate::conformance::fixtures::{at, draft, email, person};
use crate::conformance::whole_chain;

fn leak(i: u32) -> AlertLeak {
    AlertLeak { kind: "personal".into(), fingerprint: format!("sha256:{i:012}"), action: "reported".into() }
}

/// Alerts read back exactly, newest first, in pages that neither skip nor repeat; a
/// refused alert recorded again in the same minute is counted into one record.
pub async fn alerts_list_newest_first_and_refusals_are_counted(store: &dyn Store) {
    let alerts = store.alerts();
    let accepted: Vec<AlertRecord> =
        (0..5).map(|i| AlertRecord::accepted("generic", at(i), &format!("d-{i}"), &[leak(i as u32)])).collect();
    for a in &accepted {
        alerts.record_alert(a).await.expect("an alert is recorded");
    }
    let refused = AlertRecord::refused("github", at(10), "bad_signature", "the signature does not match the body");
    alerts.record_alert(&refused).await.expect("a refusal is recorded");
    let again = AlertRecord::refused("github", at(10) + Duration::seconds(20), "bad_signature", "the signature does not match the body");
    alerts.record_alert(&again).await.expect("the same refusal is counted");

    let all = alerts.list_alerts(None, 100).await.expect("alerts list");
    assert_eq!(all.len(), 6, "five accepted and one counted refusal: {all:#?}");
    assert_eq!(all[0].verdict, AlertVerdict::Refused);
    assert_eq!(all[0].count, 2, "the second refusal of the minute is counted, not stored twice");
    assert_eq!(all[0].last_at, again.last_at);
    assert_eq!(all[1], accepted[4], "an accepted alert reads back exactly");
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");

    let first = alerts.list_alerts(None, 4).await.unwrap();
    let rest = alerts.list_alerts(Some(&first[3].id), 4).await.unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(rest.len(), 2, "the page after the cursor holds the rest and not the cursor itself");
    assert_eq!([first, rest].concat(), all);
}

fn pause_state(version: u64, paused: bool) -> PauseState {
    PauseState {
        paused: paused.then(|| WritePause {
            since: at(1),
            reason: "Hogwarden's own key leaked".into(),
            alert_id: Some("x".into()),
            fingerprint: Some("sha256:abc".into()),
        }),
        lifted_at: (!paused).then(|| at(2)),
        version,
    }
}

/// The pause record is created once, updated only from the version read, and written
/// with its audit entries on the one chain.
pub async fn the_pause_record_is_guarded_and_audited(store: &dyn Store) {
    let alerts = store.alerts();
    assert_eq!(alerts.get_pause().await.unwrap(), None);
    alerts
        .put_pause(Guarded::create(pause_state(1, true)), vec![draft(1, at(1), person("ana"), AuditKind::KeyAlert, None, None)])
        .await
        .unwrap();
    let twice = alerts
        .put_pause(Guarded::create(pause_state(1, true)), vec![draft(2, at(1), person("ana"), AuditKind::KeyAlert, None, None)])
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "a second create conflicts: {twice:?}");
    let stale = alerts.put_pause(Guarded::update(pause_state(3, false), 2), Vec::new()).await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "a stale update conflicts: {stale:?}");
    alerts
        .put_pause(Guarded::update(pause_state(2, false), 1), vec![draft(3, at(2), person("bo"), AuditKind::KeyAlert, None, None)])
        .await
        .unwrap();
    assert_eq!(alerts.get_pause().await.unwrap(), Some(pause_state(2, false)));
    let chain = whole_chain(store, 10).await;
    assert_eq!(chain.len(), 2, "only the writes that happened left audit entries");
    assert_eq!(verify_chain(&chain).first_broken_seq, None, "one valid chain");
}

fn personal_key(id: &str, version: u64) -> PersonalKey {
    PersonalKey {
        id: id.into(),
        owner: email("frank"),
        owner_name: "Frank".into(),
        mask: "phx_...abcd".into(),
        scopes: vec!["project:read".into()],
        access: "all".into(),
        created_at: at(0),
        last_used_at: None,
        rolled_seen_at: None,
        imported_at: at(1),
        listed: true,
        last_reminded_at: None,
        version,
    }
}

/// Personal keys read back exactly; a reminder claim from a stale version conflicts, so
/// two sweeps remind once.
pub async fn personal_keys_are_guarded(store: &dyn Store) {
    let alerts = store.alerts();
    alerts.put_personal_key(Guarded::create(personal_key("pk_b", 1)), Vec::new()).await.unwrap();
    alerts.put_personal_key(Guarded::create(personal_key("pk_a", 1)), Vec::new()).await.unwrap();
    let mut claimed = personal_key("pk_a", 2);
    claimed.last_reminded_at = Some(at(5));
    alerts
        .put_personal_key(Guarded::update(claimed.clone(), 1), vec![draft(1, at(5), person("sweep"), AuditKind::Reminded, None, None)])
        .await
        .unwrap();
    let mut again = personal_key("pk_a", 2);
    again.last_reminded_at = Some(at(6));
    let second = alerts.put_personal_key(Guarded::update(again, 1), Vec::new()).await;
    assert!(matches!(second, Err(Error::Conflict(_))), "the second claim conflicts: {second:?}");
    let mut keys = alerts.list_personal_keys().await.unwrap();
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(keys, vec![claimed, personal_key("pk_b", 1)]);
    assert_eq!(whole_chain(store, 10).await.len(), 1);
}

/// Writes one `#[tokio::test]` per alert-store check for an adapter.
#[macro_export]
macro_rules! alert_conformance_tests {
    ($make:path) => {
        $crate::alert_conformance_tests!(@each $make;
            alerts_list_newest_first_and_refusals_are_counted,
            the_pause_record_is_guarded_and_audited,
            personal_keys_are_guarded,
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _keep_alive) = $make().await;
                $crate::alert_conformance::$check(&*store).await;
            }
        )*
    };
}
