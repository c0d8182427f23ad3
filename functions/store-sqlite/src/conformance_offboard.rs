//! Conformance checks for offboarding records: read-back, the status list, and the
//! guarded write with its audit entries (a step recorded twice at once lands once).

use chrono::Utc;
use hogwarden_core::Error;
use hogwarden_core::audit::AuditKind;
use hogwarden_core::offboard::{OffboardStatus, OffboardStep, Offboarding, StepAction, StepStatus};
use hogwarden_core::ports::{Guarded, ObjectKind, OwnedObject, Store};
use hogwarden_core::types::{Justification, ProjectId, RequestId};

use super::fixtures::{at, draft, email, person};
use super::whole_chain;

/// A pending offboarding of `subject` created at `minutes` past t0, with one hand-over
/// and the removal from the organization.
pub fn offboarding(subject: &str, minutes: i64) -> Offboarding {
    let object = OwnedObject {
        kind: ObjectKind::Dashboard,
        project: ProjectId::new(1003).expect("positive"),
        key: "7".into(),
        name: "Checkout funnel".into(),
        private: false,
    };
    Offboarding {
        id: RequestId::new(),
        requester: email("alice"),
        subject: email(subject),
        new_owner: email("grace"),
        justification: Justification::parse("Leaves the company on Friday").expect("valid"),
        ticket: None,
        status: OffboardStatus::Pending,
        approvals_required: 1,
        approvals: Vec::new(),
        denial: None,
        steps: vec![OffboardStep::new(StepAction::HandOver { object }), OffboardStep::new(StepAction::RemoveFromOrg)],
        warnings: vec!["1 private (unsaved) insight will be lost".into()],
        failure: None,
        created_at: at(minutes),
        updated_at: at(minutes),
        version: 1,
    }
}

fn next(o: &Offboarding) -> Offboarding {
    Offboarding { version: o.version + 1, updated_at: Utc::now(), ..o.clone() }
}

/// Records read back exactly as written, and the status list is oldest first.
pub async fn offboardings_read_back_and_list_by_status_oldest_first(store: &dyn Store) {
    let late = offboarding("laura", 5);
    let early = offboarding("mallory", 1);
    for o in [&late, &early] {
        store.put_offboarding(Guarded::create(o.clone()), Vec::new()).await.unwrap();
    }
    assert_eq!(store.get_offboarding(late.id).await.unwrap().as_ref(), Some(&late));
    assert_eq!(store.get_offboarding(RequestId::new()).await.unwrap(), None);

    let approved = Offboarding { status: OffboardStatus::Approved, ..next(&late) };
    store.put_offboarding(Guarded::update(approved.clone(), 1), Vec::new()).await.unwrap();

    let pending: Vec<RequestId> = store.list_offboardings(Some(OffboardStatus::Pending), 10).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(pending, [early.id]);
    let running = store.list_offboardings(Some(OffboardStatus::Approved), 10).await.unwrap();
    assert_eq!(running, [approved]);
    let all: Vec<RequestId> = store.list_offboardings(None, 10).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(all, [early.id, late.id], "oldest first");
}

/// A stale write conflicts, changes nothing and writes none of its audit entries.
pub async fn a_stale_offboarding_write_conflicts_and_writes_no_audit(store: &dyn Store) {
    let o = offboarding("laura", 0);
    store.put_offboarding(Guarded::create(o.clone()), Vec::new()).await.unwrap();
    let outcome = store.put_offboarding(Guarded::create(o.clone()), Vec::new()).await;
    assert!(matches!(outcome, Err(Error::Conflict(_))), "creating twice must conflict: {outcome:?}");

    let mut done = next(&o);
    done.steps[0].status = StepStatus::Done;
    let entry = draft(1, at(1), person("hogwarden"), AuditKind::HandedOver, Some(&o.subject), Some(o.id));
    store.put_offboarding(Guarded::update(done.clone(), 1), vec![entry.clone()]).await.unwrap();
    let stale = store.put_offboarding(Guarded::update(next(&o), 1), vec![entry]).await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "a stale update must conflict: {stale:?}");
    assert_eq!(store.get_offboarding(o.id).await.unwrap(), Some(done));
    assert_eq!(whole_chain(store, 10).await.len(), 1, "only the winning write's audit entry");
}

/// Two runners recording the same step at once: one wins, the step's audit entry is
/// written once.
pub async fn a_step_recorded_twice_at_once_lands_once(store: &dyn Store) {
    let o = offboarding("laura", 0);
    store.put_offboarding(Guarded::create(o.clone()), Vec::new()).await.unwrap();
    let attempt = |marker: u64| {
        let mut done = next(&o);
        done.steps[0].status = StepStatus::Done;
        done.steps[0].read_back = Some(format!("manager {marker}"));
        (Guarded::update(done, 1), vec![draft(marker, at(1), person("hogwarden"), AuditKind::HandedOver, Some(&o.subject), Some(o.id))])
    };
    let ((a1, a2), (b1, b2)) = (attempt(1), attempt(2));
    let (a, b) = tokio::join!(store.put_offboarding(a1, a2), store.put_offboarding(b1, b2));
    assert!(a.is_ok() ^ b.is_ok(), "exactly one of two racing writes must win: {a:?} / {b:?}");
    assert_eq!(whole_chain(store, 10).await.len(), 1);
    assert_eq!(store.get_offboarding(o.id).await.unwrap().unwrap().version, 2);
}
