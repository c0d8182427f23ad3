//! Access reviews that remove people from the organization, and reviewers assigned by
//! the identity provider's manager claim, on the local stack with the sandbox's Acme
//! Corp. A revoke of an organization membership is an offboarding approved by the
//! decision: laura's objects go to the new owner as manager access, then she leaves
//! every project and the organization; the evidence records it and drift stays quiet.

use hogwarden_api_types as dto;
use hogwarden_core::policy::Policy;
use hogwarden_core::reviews::{ClosePolicy, ReviewPolicy, ReviewerRule};
use hogwarden_core::types::Email;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, TestStack, spawn_stack, spawn_stack_with_policy};
use posthog_sandbox::ObjectKind;
use serde_json::json;

const LAURA: &str = "laura@example.com";
const LAURA_ORG: &str = "laura@example.com#org";

fn enc(id: &str) -> String {
    id.replace('@', "%40").replace('#', "%23")
}

fn item<'a>(detail: &'a dto::CampaignDetail, id: &str) -> &'a dto::ReviewItemDto {
    detail.items.iter().find(|i| i.id == id).unwrap_or_else(|| panic!("{id} is an item"))
}

fn kind(k: &str) -> ObjectKind {
    match k {
        "dashboard" => ObjectKind::Dashboard,
        "insight" => ObjectKind::Insight,
        "feature_flag" => ObjectKind::FeatureFlag,
        _ => ObjectKind::Notebook,
    }
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

async fn open(t: &TestStack, body: serde_json::Value) -> dto::CampaignDetail {
    let r = t.post(APPROVER, "/api/reviews", body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.json()
}

async fn reassign(t: &TestStack, campaign: &str, id: &str, to: &str) {
    let r = t.post(APPROVER, &format!("/api/reviews/{campaign}/items/{}/reassign", enc(id)), json!({ "reviewer": to })).await;
    assert_eq!(r.status, 200, "{id} to {to}: {:?}", r.body);
}

async fn removal_preview(t: &TestStack, who: &str, campaign: &str, id: &str) -> hogwarden_e2e::Reply {
    t.get(who, &format!("/api/reviews/{campaign}/items/{}/removal", enc(id))).await
}

/// The audit kinds of one request (or offboarding), in order.
async fn kinds_of(t: &TestStack, request_id: &str) -> Vec<String> {
    let mut entries: Vec<dto::AuditEntryDto> =
        t.audit(APPROVER).await.entries.into_iter().filter(|e| e.request_id.as_deref() == Some(request_id)).collect();
    entries.sort_by_key(|e| e.seq);
    entries.into_iter().map(|e| e.kind).collect()
}

fn csv_row(csv: &str, item_id: &str) -> std::collections::HashMap<String, String> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader.records().map(Result::unwrap).find(|r| &r[1] == item_id).unwrap_or_else(|| panic!("{item_id} in the CSV"));
    header.iter().map(str::to_owned).zip(row.iter().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_reviewer_revoking_a_members_organization_membership_removes_them_with_their_objects_handed_over() {
    // Arrange: a drift baseline, then a campaign; bob reviews laura's membership, and
    // the policy hands a removed person's objects to grace.
    let reviews = ReviewPolicy { hand_over_to: Some(email(OTHER_MEMBER)), ..ReviewPolicy::default() };
    let t = spawn_stack_with_policy(Policy { reviews, ..Policy::default() }).await;
    let baseline: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    assert!(baseline.baseline_taken);
    let detail = open(&t, json!({})).await;
    let campaign = detail.campaign.id.clone();
    let web = t.sandbox().project_id("Web App").unwrap();
    let laura_web = format!("{LAURA}#project-{web}");
    assert_eq!(item(&detail, LAURA_ORG).access, "member");
    if item(&detail, LAURA_ORG).reviewer.as_deref() != Some(SECOND_APPROVER) {
        reassign(&t, &campaign, LAURA_ORG, SECOND_APPROVER).await;
    }

    // Act: the reviewer sees what removal does before deciding.
    let not_theirs = removal_preview(&t, MEMBER, &campaign, LAURA_ORG).await;
    let project_item = removal_preview(&t, APPROVER, &campaign, &laura_web).await;
    let preview = removal_preview(&t, SECOND_APPROVER, &campaign, LAURA_ORG).await;

    // Assert
    assert_eq!(not_theirs.status, 403, "{:?}", not_theirs.body);
    assert_eq!(project_item.status, 422, "{:?}", project_item.body);
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let preview: dto::OffboardPreviewDto = preview.json();
    assert_eq!(preview.new_owner, OTHER_MEMBER, "the policy's hand_over_to receives the objects");
    assert_eq!(preview.objects.len(), 6);
    assert!(
        preview.warnings.iter().any(|w| w.contains("private (unsaved) insight") && w.contains("Untitled draft")),
        "the private-insight warning shows before the decision: {:?}",
        preview.warnings
    );
    assert_eq!(preview.steps.last().map(String::as_str), Some("Remove from the organization"));

    // Act: bob revokes (a reason is required); nothing happens before closing.
    let decide = |body: serde_json::Value| {
        let t = &t;
        let path = format!("/api/reviews/{campaign}/items/{}/decision", enc(LAURA_ORG));
        async move { t.post(SECOND_APPROVER, &path, body).await }
    };
    let no_reason = decide(json!({ "decision": "revoke" })).await;
    let revoked = decide(json!({ "decision": "revoke", "reason": "Left Acme at the end of February" })).await;
    assert_eq!(no_reason.status, 422, "{:?}", no_reason.body);
    assert_eq!(revoked.status, 200, "a plain member's membership can be revoked: {:?}", revoked.body);
    assert_eq!(t.sandbox().member_level(LAURA), Some(1), "nothing changes before closing");
    let closed = t.post(APPROVER, &format!("/api/reviews/{campaign}/close"), json!({})).await;
    let writes = t.sandbox().write_count();
    let closed_again = t.post(APPROVER, &format!("/api/reviews/{campaign}/close"), json!({})).await;

    // Assert: laura is gone from PostHog, each of her objects managed by grace.
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed_again.status, 200, "{:?}", closed_again.body);
    assert_eq!(t.sandbox().write_count(), writes, "remediating twice changes nothing");
    let sandbox = t.sandbox();
    assert_eq!(sandbox.member_level(LAURA), None);
    assert_eq!(sandbox.project_access(web, LAURA), None);
    for o in &preview.objects {
        assert_eq!(sandbox.object_access(kind(&o.kind), o.project_id, &o.key, OTHER_MEMBER).as_deref(), Some("manager"), "{o:?}");
    }
    let detail: dto::CampaignDetail = closed_again.json();
    let counts = detail.campaign.counts.unwrap();
    assert_eq!((counts.revoked, counts.applied, counts.not_applied), (1, 1, 0), "{counts:?}");
    let laura = item(&detail, LAURA_ORG);
    assert_eq!((laura.remediation.as_deref(), laura.offboarding), (Some("applied"), true), "{laura:?}");
    assert!(laura.applied_at.is_some());
    let offboarding_id = laura.request_id.clone().expect("the offboarding's id");
    let web_item = item(&detail, &laura_web);
    assert!(web_item.skipped, "left open under the skip policy");

    // The offboarding is on record, approved by the decision, and audited step by step.
    let record = t.get(APPROVER, &format!("/api/offboardings/{offboarding_id}")).await;
    assert_eq!(record.status, 200, "{:?}", record.body);
    let record: dto::OffboardingDto = record.json();
    assert_eq!((record.status.as_str(), record.new_owner.as_str()), ("done", OTHER_MEMBER));
    assert!(record.warnings.iter().any(|w| w.contains("Untitled draft")), "{:?}", record.warnings);
    let kinds = kinds_of(&t, &offboarding_id).await;
    let expected = ["requested", "approved"]
        .into_iter()
        .chain(std::iter::repeat_n("handed_over", 6))
        .chain(["member_removed", "member_removed", "offboarded"])
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert_eq!(kinds, expected);

    // The evidence: decision, reviewer, reason and the time it was applied.
    let e: dto::EvidenceDto = t.get(APPROVER, &format!("/api/reviews/{campaign}/evidence")).await.json();
    assert!(e.chain.valid, "{:?}", e.chain);
    let row = csv_row(&e.csv, LAURA_ORG);
    assert_eq!(row["decision"], "revoke");
    assert_eq!(row["reviewer"], SECOND_APPROVER);
    assert_eq!(row["reason"], "Left Acme at the end of February");
    assert_eq!(row["remediation"], "applied");
    assert_eq!(row["request_id"], offboarding_id);
    assert_eq!(row["applied_at"], laura.applied_at.unwrap().to_rfc3339());
    assert!(e.markdown.lines().any(|l| l.starts_with("  - Removed 1 user from the organization")), "{}", e.markdown);

    // Drift knows the removal was Hogwarden's own.
    let drift: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    assert!(drift.findings.is_empty(), "{:?}", drift.findings);
    t.shutdown().await;
}

#[tokio::test]
async fn closing_with_the_revoke_policy_removes_members_left_open_downgrades_admins_and_never_touches_owners() {
    // Arrange: a review of laura (member), charlie (admin) and diana (made an owner in
    // PostHog); hand-overs go to grace, as the policy says.
    let keep = ["laura", "charlie", "diana"];
    let excluded = posthog_sandbox::ADMINS
        .iter()
        .chain(posthog_sandbox::MEMBERS)
        .chain(posthog_sandbox::VIEWERS)
        .filter(|n| !keep.contains(n))
        .map(|n| email(&posthog_sandbox::email(n)))
        .collect();
    let reviews = ReviewPolicy {
        excluded,
        close_policy: ClosePolicy::Revoke,
        hand_over_to: Some(email(OTHER_MEMBER)),
        reviewer_rules: vec![ReviewerRule::Named],
        ..ReviewPolicy::default()
    };
    let t = spawn_stack_with_policy(Policy { reviews, ..Policy::default() }).await;
    t.sandbox().set_member_level_as(posthog_sandbox::SERVICE_EMAIL, "diana@example.com", 15).unwrap();
    let _: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    let detail = open(&t, json!({})).await;
    let campaign = detail.campaign.id.clone();
    let diana_org = item(&detail, "diana@example.com#org");
    assert_eq!(diana_org.access, "owner");

    // Act: an owner's membership cannot be revoked (PostHog's rules); the rest is left open.
    let reviewer = diana_org.reviewer.clone().expect("a named reviewer");
    let refused = t
        .post(
            &reviewer,
            &format!("/api/reviews/{campaign}/items/{}/decision", enc("diana@example.com#org")),
            json!({ "decision": "revoke", "reason": "Owner no longer needed" }),
        )
        .await;
    let preview = t.get(APPROVER, &format!("/api/reviews/{campaign}/items/{}/removal", enc(LAURA_ORG))).await;
    let closed = t.post(APPROVER, &format!("/api/reviews/{campaign}/close"), json!({})).await;
    let writes = t.sandbox().write_count();
    let closed_again = t.post(APPROVER, &format!("/api/reviews/{campaign}/close"), json!({})).await;

    // Assert
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(refused.message().contains("only an owner"), "{}", refused.message());
    assert_eq!(preview.json::<dto::OffboardPreviewDto>().new_owner, OTHER_MEMBER);
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(t.sandbox().write_count(), writes, "closing again changes nothing");
    let detail: dto::CampaignDetail = closed_again.json();
    let sandbox = t.sandbox();
    assert_eq!(sandbox.member_level(LAURA), None, "a member left open is removed from the organization");
    assert_eq!(sandbox.member_level("charlie@example.com"), Some(1), "an admin left open is downgraded to member");
    assert_eq!(sandbox.member_level("diana@example.com"), Some(15), "an owner is never touched");
    let laura = item(&detail, LAURA_ORG);
    assert_eq!((laura.decision.as_deref(), laura.remediation.as_deref(), laura.offboarding), (Some("revoke"), Some("applied"), true));
    assert_eq!(item(&detail, "charlie@example.com#org").downgrade_to.as_deref(), Some("member"));
    assert!(item(&detail, "diana@example.com#org").skipped);
    let web = sandbox.project_id("Web App").unwrap();
    let laura_web = item(&detail, &format!("{LAURA}#project-{web}"));
    assert_eq!(
        (laura_web.decision.as_deref(), laura_web.remediation.as_deref(), laura_web.request_id.as_ref()),
        (Some("revoke"), Some("applied"), laura.request_id.as_ref()),
        "her project access went with the removal, not a request of its own"
    );
    let record: dto::OffboardingDto = t.get(APPROVER, &format!("/api/offboardings/{}", laura.request_id.as_ref().unwrap())).await.json();
    assert_eq!((record.status.as_str(), record.new_owner.as_str()), ("done", OTHER_MEMBER));
    for s in record.steps.iter().filter_map(|s| s.object.as_ref()) {
        assert_eq!(sandbox.object_access(kind(&s.kind), s.project_id, &s.key, OTHER_MEMBER).as_deref(), Some("manager"), "{s:?}");
    }
    let drift: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    assert!(drift.findings.is_empty(), "{:?}", drift.findings);
    t.shutdown().await;
}

#[tokio::test]
async fn the_manager_claim_of_a_sign_in_assigns_reviews_and_a_provider_that_disabled_someone_marks_them_departed() {
    // Arrange: managers first; the policy maps grace to bob and frank to alice.
    let mut reviews = ReviewPolicy { reviewer_rules: vec![ReviewerRule::Manager, ReviewerRule::Named], ..ReviewPolicy::default() };
    reviews.managers.insert(email(OTHER_MEMBER), email(SECOND_APPROVER));
    reviews.managers.insert(email(MEMBER), email(APPROVER));
    let t = spawn_stack_with_policy(Policy { reviews, ..Policy::default() }).await;

    // Act: grace signs in (her token says her manager is frank); an admin's SSO sync
    // carries the provider's word that heidi is deprovisioned, and grace's department
    // without a manager claim (which leaves her manager as it was).
    let signed_in = t.dev_login(OTHER_MEMBER).await;
    let people = json!([
        { "email": "heidi@example.com", "claims": { "status": "deprovisioned", "department": "Product" } },
        { "email": OTHER_MEMBER, "claims": { "department": "Growth" } },
    ]);
    let plan: dto::SsoPlanDto = t.post(APPROVER, "/api/sso/plan", json!({ "people": people })).await.json();
    let synced = t.post(APPROVER, "/api/sso/apply", json!({ "people": people, "fingerprint": plan.fingerprint })).await;
    let detail = open(&t, json!({})).await;

    // Assert: the claim wins over the policy's mapping; without a claim, the mapping.
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(synced.status, 200, "{:?}", synced.body);
    let grace = item(&detail, "grace@example.com#org");
    assert_eq!(grace.reviewer.as_deref(), Some(MEMBER), "grace's manager claim names frank");
    assert!(!grace.suggestions.iter().any(|s| s == "departed"), "{:?}", grace.suggestions);
    assert_eq!(item(&detail, "frank@example.com#org").reviewer.as_deref(), Some(APPROVER), "no claim: the policy's mapping");
    let heidi = item(&detail, "heidi@example.com#org");
    assert!(heidi.suggestions.iter().any(|s| s == "departed"), "{:?}", heidi.suggestions);
    // What reviews use changed twice (grace's manager, heidi's status), and each change
    // is audited; grace's department alone is not.
    let changes: Vec<_> = t.audit(APPROVER).await.entries.into_iter().filter(|e| e.kind == "identity_changed").collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let of = |who: &str| changes.iter().find(|e| e.subject.as_deref() == Some(who)).unwrap_or_else(|| panic!("{who}: {changes:?}"));
    assert_eq!(of(OTHER_MEMBER).details["manager"]["to"], MEMBER);
    assert_eq!(of("heidi@example.com").details["active"]["to"], false);

    // Act: frank, assigned by the claim, decides grace's item.
    let r = t
        .post(
            MEMBER,
            &format!("/api/reviews/{}/items/{}/decision", detail.campaign.id, enc("grace@example.com#org")),
            json!({ "decision": "keep" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    t.shutdown().await;
}

#[tokio::test]
async fn a_reviewer_revoking_an_admins_membership_removes_the_admin_as_posthogs_rules_allow_an_owner_key() {
    // Arrange: evan is an organization admin; Hogwarden's service account is an owner,
    // and PostHog lets a member remove others of a level lower or equal to their own.
    let reviews = ReviewPolicy { hand_over_to: Some(email(OTHER_MEMBER)), ..ReviewPolicy::default() };
    let t = spawn_stack_with_policy(Policy { reviews, ..Policy::default() }).await;
    let detail = open(&t, json!({})).await;
    let campaign = detail.campaign.id.clone();
    let evan_org = "evan@example.com#org";
    assert_eq!(item(&detail, evan_org).access, "admin");
    if item(&detail, evan_org).reviewer.as_deref() != Some(SECOND_APPROVER) {
        reassign(&t, &campaign, evan_org, SECOND_APPROVER).await;
    }

    // Act
    let preview: dto::OffboardPreviewDto = removal_preview(&t, SECOND_APPROVER, &campaign, evan_org).await.json();
    let decided = t
        .post(
            SECOND_APPROVER,
            &format!("/api/reviews/{campaign}/items/{}/decision", enc(evan_org)),
            json!({ "decision": "revoke", "reason": "Contract with Acme ended" }),
        )
        .await;
    let closed = t.post(APPROVER, &format!("/api/reviews/{campaign}/close"), json!({})).await;

    // Assert: removed (not merely downgraded), warned beforehand that admin access ends.
    assert!(preview.warnings.iter().any(|w| w.contains("organization admin")), "{:?}", preview.warnings);
    assert_eq!(decided.status, 200, "{:?}", decided.body);
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(t.sandbox().member_level("evan@example.com"), None);
    let detail: dto::CampaignDetail = closed.json();
    let evan = item(&detail, evan_org);
    assert_eq!((evan.remediation.as_deref(), evan.offboarding), (Some("applied"), true), "{evan:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn l2_without_hand_over_to_the_reviewer_who_revokes_does_not_receive_the_objects() {
    // Arrange: no hand_over_to; bob reviews laura's membership.
    let t = spawn_stack().await;
    let detail = open(&t, json!({})).await;
    let campaign = detail.campaign.id.clone();
    if item(&detail, LAURA_ORG).reviewer.as_deref() != Some(SECOND_APPROVER) {
        reassign(&t, &campaign, LAURA_ORG, SECOND_APPROVER).await;
    }

    // Act
    let preview = removal_preview(&t, SECOND_APPROVER, &campaign, LAURA_ORG).await;

    // Assert: the decider never becomes the new owner; the answer says what to set.
    assert_eq!(preview.status, 422, "{:?}", preview.body);
    assert!(preview.message().contains("hand_over_to"), "{}", preview.message());
    assert_eq!(t.sandbox().write_count(), 0);
    t.shutdown().await;
}
