//! Two callers at the same moment: the same change-set file submitted twice, and two
//! offboardings of one person. Each creation claims its key in the write that stores
//! it, so exactly one record is made; the loser gets the winner's set back, or the
//! 409 naming the open offboarding. After the winner is denied, a new one can start.

use hogwarden_api_types as dto;
use hogwarden_core::types::Email;
use hogwarden_e2e::{APPROVER, OTHER_MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use serde_json::json;

const LAURA: &str = "laura@example.com";

/// Large enough to need an approval, so the set stays pending until denied.
fn csv() -> String {
    let mut csv = String::from("email,project,role,end_date\n");
    for p in ["ivan", "judy", "karl", "rupert", "sybil", "trent", "walter", "xavier", "yvonne", "zara", "aaron", "bella"] {
        csv.push_str(&format!("{p}@example.com,Web App,member,\n"));
    }
    csv
}

async fn submit(t: &TestStack) -> hogwarden_e2e::Reply {
    t.post(APPROVER, "/api/bulk/sets", json!({ "format": "csv", "content": csv(), "reason": "Web App onboarding, OPS-81" })).await
}

/// Submits twice at once; returns both statuses (sorted) and the one id both name.
async fn submit_twice_at_once(t: &TestStack) -> (Vec<u16>, String) {
    let (a, b) = tokio::join!(submit(t), submit(t));
    let mut statuses = vec![a.status, b.status];
    statuses.sort_unstable();
    assert!(a.status < 300 && b.status < 300, "{:?} / {:?}", a.body, b.body);
    let (a, b): (dto::BulkSetDto, dto::BulkSetDto) = (a.json(), b.json());
    assert_eq!(a.id, b.id, "both answers name the same change set");
    (statuses, a.id)
}

async fn sets_made(t: &TestStack) -> Vec<String> {
    let store = &t.stack.app.store;
    let mut sets = Vec::new();
    for r in store.list_requests_for_user(&Email::parse(APPROVER).unwrap(), 100).await.unwrap() {
        if store.get_change_set(r.id).await.unwrap().is_some() {
            sets.push(r.id.to_string());
        }
    }
    sets
}

#[tokio::test]
async fn the_same_change_set_posted_twice_at_once_makes_one_set_and_a_resubmission_after_denial_one_more() {
    // Arrange
    let t = spawn_stack().await;

    // Act: twice at once, deny it, twice at once again.
    let (first_statuses, first) = submit_twice_at_once(&t).await;
    let sets_before_denial = sets_made(&t).await;
    let denied = t.post(SECOND_APPROVER, &format!("/api/requests/{first}/deny"), json!({ "reason": "Wrong project, use Staging" })).await;
    let (second_statuses, second) = submit_twice_at_once(&t).await;
    let again = submit(&t).await;

    // Assert
    assert_eq!(first_statuses, [200, 201], "one creation, one answer with the set made");
    assert_eq!(sets_before_denial, std::slice::from_ref(&first), "one set exists");
    assert_eq!(denied.status, 200, "{:?}", denied.body);
    assert_eq!(second_statuses, [200, 201], "after the denial, one new set");
    assert_ne!(second, first);
    assert_eq!(sets_made(&t).await, [second.clone(), first], "newest first: exactly two sets");
    assert_eq!((again.status, again.json::<dto::BulkSetDto>().id), (200, second), "a plain resubmission finds the live set");
    t.shutdown().await;
}

#[tokio::test]
async fn two_offboardings_of_one_person_at_once_make_one_and_the_other_is_told_which() {
    // Arrange
    let t = spawn_stack().await;
    let offboard =
        || t.post(APPROVER, "/api/offboardings", json!({"email": LAURA, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday"}));

    // Act: two at once; deny the winner; one more.
    let (a, b) = tokio::join!(offboard(), offboard());
    let laura = |list: serde_json::Value| {
        let list: Vec<dto::OffboardingDto> = serde_json::from_value(list["offboardings"].clone()).expect("a list of offboardings");
        list.into_iter().filter(|o| o.email == LAURA).map(|o| o.id).collect::<Vec<_>>()
    };
    let made: Vec<String> = laura(t.get(APPROVER, "/api/offboardings").await.body);
    let (won, lost) = if a.status == 201 { (a, b) } else { (b, a) };
    let winner: dto::OffboardingDto = won.json();
    let denied =
        t.post(SECOND_APPROVER, &format!("/api/offboardings/{}/deny", winner.id), json!({"reason": "Laura stays after all"})).await;
    let after = offboard().await;

    // Assert
    assert_eq!(won.status, 201, "{:?}", won.body);
    assert_eq!(lost.status, 409, "{:?}", lost.body);
    assert!(lost.message().contains(&winner.id), "the 409 names the open offboarding: {}", lost.message());
    assert_eq!(made, std::slice::from_ref(&winner.id), "one offboarding exists");
    assert_eq!(denied.status, 200, "{:?}", denied.body);
    assert_eq!(after.status, 201, "a denied offboarding frees the person: {:?}", after.body);
    let now: Vec<String> = laura(t.get(APPROVER, "/api/offboardings").await.body);
    assert_eq!(now.len(), 2);
    t.shutdown().await;
}
