//! The `DeliveryLog` conformance suite: how a webhook delivery is claimed, finished and
//! released, checked only through the port. Run it for an adapter with
//! [`crate::delivery_conformance_tests!`], whose constructor returns
//! `(Arc<dyn DeliveryLog>, impl Send)`.

use chrono::Duration;
use hogwarden_core::webhooks::{CLAIM_LEASE_SECONDS, DeliveryClaim, DeliveryLog, Provider};

use crate::conformance::fixtures::at;

/// A handled delivery is a replay for good; until it is handled, a second copy is told
/// it is in progress; the same key from another provider is another delivery.
pub async fn a_finished_delivery_is_a_replay_and_an_unfinished_one_is_in_progress(log: &dyn DeliveryLog) {
    assert_eq!(log.claim_delivery(Provider::Generic, "d-1", at(0)).await.unwrap(), DeliveryClaim::Claimed);
    assert_eq!(log.claim_delivery(Provider::Generic, "d-1", at(1)).await.unwrap(), DeliveryClaim::InProgress);
    log.finish_delivery(Provider::Generic, "d-1", at(1)).await.unwrap();
    assert_eq!(log.claim_delivery(Provider::Generic, "d-1", at(2)).await.unwrap(), DeliveryClaim::Done);
    log.release_delivery(Provider::Generic, "d-1").await.unwrap();
    assert_eq!(log.claim_delivery(Provider::Generic, "d-1", at(3)).await.unwrap(), DeliveryClaim::Done, "a release never undoes done");
    let much_later = at(0) + Duration::seconds(CLAIM_LEASE_SECONDS * 10);
    assert_eq!(log.claim_delivery(Provider::Generic, "d-1", much_later).await.unwrap(), DeliveryClaim::Done, "done never lapses");
    assert_eq!(log.claim_delivery(Provider::GitHub, "d-1", at(3)).await.unwrap(), DeliveryClaim::Claimed);
}

/// A delivery whose handling failed is released, and its retry claims it.
pub async fn a_released_delivery_is_claimed_again(log: &dyn DeliveryLog) {
    assert_eq!(log.claim_delivery(Provider::GitGuardian, "sig-1", at(0)).await.unwrap(), DeliveryClaim::Claimed);
    log.release_delivery(Provider::GitGuardian, "sig-1").await.unwrap();
    assert_eq!(log.claim_delivery(Provider::GitGuardian, "sig-1", at(1)).await.unwrap(), DeliveryClaim::Claimed);
    log.finish_delivery(Provider::GitGuardian, "sig-1", at(1)).await.unwrap();
    assert_eq!(log.claim_delivery(Provider::GitGuardian, "sig-1", at(2)).await.unwrap(), DeliveryClaim::Done);
    log.release_delivery(Provider::GitGuardian, "never-claimed").await.expect("releasing nothing is fine");
}

/// A claim its handler never finished nor released (it died) lapses after the lease.
pub async fn a_claim_nobody_finished_lapses(log: &dyn DeliveryLog) {
    let start = at(0);
    assert_eq!(log.claim_delivery(Provider::Generic, "d-2", start).await.unwrap(), DeliveryClaim::Claimed);
    let within = start + Duration::seconds(CLAIM_LEASE_SECONDS - 5);
    assert_eq!(log.claim_delivery(Provider::Generic, "d-2", within).await.unwrap(), DeliveryClaim::InProgress);
    let after = start + Duration::seconds(CLAIM_LEASE_SECONDS + 5);
    assert_eq!(log.claim_delivery(Provider::Generic, "d-2", after).await.unwrap(), DeliveryClaim::Claimed);
    let soon = after + Duration::seconds(1);
    assert_eq!(log.claim_delivery(Provider::Generic, "d-2", soon).await.unwrap(), DeliveryClaim::InProgress, "the new claim holds");
}

/// Two copies arriving at once: exactly one is handled.
pub async fn two_copies_at_once_are_claimed_once(log: &dyn DeliveryLog) {
    let (a, b) = tokio::join!(log.claim_delivery(Provider::GitHub, "sig-2", at(0)), log.claim_delivery(Provider::GitHub, "sig-2", at(0)));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|c| *c == DeliveryClaim::Claimed);
    assert_eq!(outcomes, [DeliveryClaim::InProgress, DeliveryClaim::Claimed]);
}

/// Writes one `#[tokio::test]` per delivery-log check for an adapter.
#[macro_export]
macro_rules! delivery_conformance_tests {
    ($make:path) => {
        $crate::delivery_conformance_tests!(@each $make;
            a_finished_delivery_is_a_replay_and_an_unfinished_one_is_in_progress,
            a_released_delivery_is_claimed_again,
            a_claim_nobody_finished_lapses,
            two_copies_at_once_are_claimed_once,
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (log, _keep_alive) = $make().await;
                $crate::delivery_conformance::$check(&*log).await;
            }
        )*
    };
}
