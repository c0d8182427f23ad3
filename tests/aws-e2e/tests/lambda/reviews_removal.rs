//! An access review on the AWS composition: a manager claim kept from a sign-in through
//! the grants Lambda (DynamoDB), then the reviews Lambda assigning by it, and a revoke of
//! a plain member's organization membership carried out as an offboarding when the
//! campaign closes, a retried close changing nothing.

use hogwarden_api_types as dto;
use hogwarden_aws_e2e::{APPROVER, MEMBER, OTHER_MEMBER, Reply, SECOND_APPROVER, http_event, invoke, spawn_aws_stack};
use serde_json::json;

const LAURA_ORG: &str = "laura@example.com#org";

fn enc(id: &str) -> String {
    id.replace('@', "%40").replace('#', "%23")
}

#[tokio::test]
async fn the_reviews_lambda_assigns_by_the_signed_in_manager_claim_and_a_revoke_removes_the_member_once() {
    // Arrange: grace signs in; her token says frank is her manager.
    let t = spawn_aws_stack().await;
    let mut sign_in = http_event(Some(OTHER_MEMBER), "POST", "/api/sso/sign-in", None);
    sign_in["requestContext"]["authorizer"]["jwt"]["claims"]["manager"] = json!(MEMBER);
    let signed_in = Reply::from_lambda(invoke(&t.grants, sign_in).await.expect("sign-in answered"));
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);

    // Act: open a campaign; alice takes laura's membership and revokes it; close twice.
    let opened = t.call(&t.reviews, Some(APPROVER), "POST", "/api/reviews", Some(json!({}))).await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let detail: dto::CampaignDetail = opened.json();
    let id = detail.campaign.id.clone();
    let grace = detail.items.iter().find(|i| i.id == "grace@example.com#org").expect("grace's membership");
    let reassigned = t
        .call(
            &t.reviews,
            Some(APPROVER),
            "POST",
            &format!("/api/reviews/{id}/items/{}/reassign", enc(LAURA_ORG)),
            Some(json!({ "reviewer": SECOND_APPROVER })),
        )
        .await;
    let preview =
        t.call(&t.reviews, Some(SECOND_APPROVER), "GET", &format!("/api/reviews/{id}/items/{}/removal", enc(LAURA_ORG)), None).await;
    let decided = t
        .call(
            &t.reviews,
            Some(SECOND_APPROVER),
            "POST",
            &format!("/api/reviews/{id}/items/{}/decision", enc(LAURA_ORG)),
            Some(json!({ "decision": "revoke", "reason": "Left Acme in February" })),
        )
        .await;
    let closed = t.call(&t.reviews, Some(APPROVER), "POST", &format!("/api/reviews/{id}/close"), Some(json!({}))).await;
    let writes = t.sandbox.write_count();
    let retried = t.call(&t.reviews, Some(APPROVER), "POST", &format!("/api/reviews/{id}/close"), Some(json!({}))).await;

    // Assert
    assert_eq!(grace.reviewer.as_deref(), Some(MEMBER), "the manager claim kept from the sign-in");
    assert_eq!(reassigned.status, 200, "{:?}", reassigned.body);
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    assert!(preview.json::<dto::OffboardPreviewDto>().warnings.iter().any(|w| w.contains("Untitled draft")));
    assert_eq!(decided.status, 200, "{:?}", decided.body);
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert_eq!(t.sandbox.write_count(), writes, "a retried close changes nothing");
    assert_eq!(t.sandbox.member_level("laura@example.com"), None);
    let detail: dto::CampaignDetail = retried.json();
    let laura = detail.items.iter().find(|i| i.id == LAURA_ORG).unwrap();
    assert_eq!((laura.remediation.as_deref(), laura.offboarding), (Some("applied"), true), "{laura:?}");
    assert!(laura.applied_at.is_some());
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "offboarded").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "handed_over").count(), 6, "{kinds:?}");
    t.shutdown().await;
}
