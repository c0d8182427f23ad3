//! Access reviews and drift on the local stack with the sandbox's Acme Corp: a whole
//! campaign (open → decide → close → revokes in PostHog → evidence) and the drift
//! check (a change made directly in PostHog → reported with who and when → adopted,
//! or reverted through an approved request).

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use serde_json::json;

fn enc(id: &str) -> String {
    id.replace('@', "%40").replace('#', "%23")
}

fn item<'a>(detail: &'a dto::CampaignDetail, id: &str) -> &'a dto::ReviewItemDto {
    detail.items.iter().find(|i| i.id == id).unwrap_or_else(|| panic!("{id} is an item"))
}

async fn decide(t: &TestStack, who: &str, campaign: &str, item: &str, body: serde_json::Value) -> hogwarden_e2e::Reply {
    t.post(who, &format!("/api/reviews/{campaign}/items/{}/decision", enc(item)), body).await
}

/// Makes sure `reviewer` (alice or bob) has the item, reassigning it when policy gave it to someone else.
async fn give_to(t: &TestStack, detail: &dto::CampaignDetail, id: &str, reviewer: &str) {
    if item(detail, id).reviewer.as_deref() != Some(reviewer) {
        let r = t
            .post(APPROVER, &format!("/api/reviews/{}/items/{}/reassign", detail.campaign.id, enc(id)), json!({ "reviewer": reviewer }))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
}

#[tokio::test]
async fn a_quarterly_campaign_runs_from_snapshot_to_evidence_with_revokes_applied_in_posthog() {
    // Arrange
    let t = spawn_stack().await;
    let production = t.sandbox().project_id("Production").unwrap();
    let staging = t.sandbox().project_id("Staging").unwrap();

    // Act: open (twice: the second finds the first), and a non-admin may not.
    let refused = t.post(MEMBER, "/api/reviews", json!({})).await;
    let opened = t.post(APPROVER, "/api/reviews", json!({})).await;
    let again = t.post(APPROVER, "/api/reviews", json!({})).await;

    // Assert: the snapshot is the guide's Acme Corp.
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    assert_eq!(again.status, 200, "{:?}", again.body);
    let detail: dto::CampaignDetail = opened.json();
    let c = &detail.campaign;
    assert_eq!((c.id.as_str(), c.title.as_str(), c.status.as_str()), ("2026-q1", "Q1 2026 Access Review", "open"));
    assert_eq!(c.summary.organization, "Acme Corp");
    assert_eq!(c.summary.total_members, 42, "the 42 people, not Hogwarden's own service account");
    assert_eq!(c.summary.admins, ["alice", "bob", "charlie", "diana", "evan"].map(|n| format!("{n}@example.com")));
    assert_eq!(c.summary.members.len(), 35);
    assert_eq!(c.summary.viewers, ["victor@example.com", "wendy@example.com"]);
    assert_eq!(detail.items.len(), 42 + 19, "one item per organization level and one per explicit project access");
    assert_eq!(c.item_count, detail.items.len());
    let snapshots = t.audit_kinds().await.iter().filter(|k| *k == "access_snapshot").count();
    assert_eq!(snapshots, 1, "opening twice records one snapshot");
    assert!(detail.items.iter().all(|i| i.reviewer.as_deref() != Some(i.person.as_str())), "nobody reviews their own access");
    let alice_org = item(&detail, "alice@example.com#org");
    assert_eq!(alice_org.reviewer.as_deref(), Some(SECOND_APPROVER));
    let staging_admins = item(&detail, &format!("frank@example.com#project-{staging}"));
    assert_eq!(staging_admins.reviewer.as_deref(), Some("judy@example.com"), "a project's admins review access to it");
    let never = item(&detail, "evan@example.com#org");
    assert!(never.suggestions.iter().any(|s| s == "granted_outside_hogwarden"), "{:?}", never.suggestions);

    // Act: decisions by two reviewers; self-review and reasonless revokes refused.
    let grace_prod = format!("grace@example.com#project-{production}");
    let frank_staging = format!("frank@example.com#project-{staging}");
    give_to(&t, &detail, &grace_prod, SECOND_APPROVER).await;
    give_to(&t, &detail, "charlie@example.com#org", APPROVER).await;
    give_to(&t, &detail, &frank_staging, SECOND_APPROVER).await;
    let own = decide(&t, APPROVER, "2026-q1", "alice@example.com#org", json!({ "decision": "keep" })).await;
    let own_assign = t
        .post(APPROVER, &format!("/api/reviews/2026-q1/items/{}/reassign", enc("alice@example.com#org")), json!({ "reviewer": APPROVER }))
        .await;
    let no_reason = decide(&t, SECOND_APPROVER, "2026-q1", &grace_prod, json!({ "decision": "revoke" })).await;
    let not_theirs = decide(&t, MEMBER, "2026-q1", &grace_prod, json!({ "decision": "keep" })).await;
    let revoke =
        decide(&t, SECOND_APPROVER, "2026-q1", &grace_prod, json!({ "decision": "revoke", "reason": "Moved to the mobile team" })).await;
    let downgrade = decide(
        &t,
        APPROVER,
        "2026-q1",
        "charlie@example.com#org",
        json!({ "decision": "downgrade", "to": "member", "reason": "Admin no longer needed" }),
    )
    .await;
    let keep_alice = decide(&t, SECOND_APPROVER, "2026-q1", "alice@example.com#org", json!({ "decision": "keep" })).await;
    let queue: dto::ReviewQueueDto = t.get(SECOND_APPROVER, "/api/review-queue").await.json();
    let bobs_open: Vec<String> = queue.campaigns.iter().flat_map(|c| c.items.iter()).map(|i| i.id.clone()).collect();
    let bulk = t.post(SECOND_APPROVER, "/api/reviews/2026-q1/decisions", json!({ "items": bobs_open, "decision": "keep" })).await;

    // Assert
    assert_eq!(own.status, 403, "{:?}", own.body);
    assert!(own.message().contains("your own access"), "{}", own.message());
    assert_eq!(own_assign.status, 422, "{:?}", own_assign.body);
    assert_eq!(no_reason.status, 422, "{:?}", no_reason.body);
    assert!(no_reason.message().contains("reason"), "{}", no_reason.message());
    assert_eq!(not_theirs.status, 403, "{:?}", not_theirs.body);
    assert_eq!(revoke.status, 200, "{:?}", revoke.body);
    assert_eq!(downgrade.status, 200, "{:?}", downgrade.body);
    assert_eq!(keep_alice.status, 200, "{:?}", keep_alice.body);
    assert!(bobs_open.contains(&frank_staging), "bob's queue holds what was given to him: {bobs_open:?}");
    let bulk: dto::BulkDecideResult = bulk.json();
    assert!(bulk.refused.is_empty(), "{:?}", bulk.refused);
    assert_eq!(bulk.decided.len(), bobs_open.len());
    assert_eq!(t.sandbox().project_access(production, "grace@example.com").as_deref(), Some("member"), "nothing changes before closing");

    // Act: close (undecided items are skipped by default), then close again.
    let closed = t.post(APPROVER, "/api/reviews/2026-q1/close", json!({})).await;
    let writes = t.sandbox().write_count();
    let closed_again = t.post(APPROVER, "/api/reviews/2026-q1/close", json!({})).await;

    // Assert: the revoke and the downgrade went through the grant machinery into PostHog.
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed_again.status, 200, "{:?}", closed_again.body);
    assert_eq!(t.sandbox().write_count(), writes, "closing twice applies once");
    let detail: dto::CampaignDetail = closed.json();
    assert_eq!(detail.campaign.status, "closed");
    let counts = detail.campaign.counts.unwrap();
    assert_eq!((counts.revoked, counts.downgraded, counts.applied, counts.not_applied, counts.open), (1, 1, 2, 0, 0), "{counts:?}");
    assert_eq!(counts.kept + counts.skipped + 2, 61);
    assert_eq!(t.sandbox().project_access(production, "grace@example.com"), None);
    assert_eq!(t.sandbox().member_level("charlie@example.com"), Some(1));
    let revoked = item(&detail, &grace_prod);
    assert_eq!(revoked.remediation.as_deref(), Some("applied"));
    assert!(revoked.applied_at.is_some());
    let kinds = t.audit_kinds().await;
    assert!(kinds.iter().filter(|k| *k == "applied").count() >= 2, "{kinds:?}");
    assert!(kinds.contains(&"review_closed".to_owned()), "{kinds:?}");

    // Act: the evidence.
    let evidence = t.get(APPROVER, "/api/reviews/2026-q1/evidence").await;
    let markdown = t.get(APPROVER, "/api/reviews/2026-q1/evidence/markdown").await;
    let member_evidence = t.get(MEMBER, "/api/reviews/2026-q1/evidence").await;

    // Assert: the guide's layout, one CSV row per item, and the verified chain.
    assert_eq!(evidence.status, 200, "{:?}", evidence.body);
    assert_eq!(member_evidence.status, 403);
    assert_eq!(markdown.status, 200);
    assert!(markdown.headers["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let e: dto::EvidenceDto = evidence.json();
    assert!(e.chain.valid, "{:?}", e.chain);
    let lines: Vec<&str> = e.markdown.lines().collect();
    let at = |text: &str| lines.iter().position(|l| *l == text).unwrap_or_else(|| panic!("'{text}' is a line of:\n{}", e.markdown));
    let record = [
        "# Q1 2026 Access Review",
        "Date: 2026-03-15",
        "Reviewed by: alice@example.com, bob@example.com",
        "Actions:",
        "  - Removed 1 access from projects (1 user)",
        "  - Downgraded 1 user from Admin to Member",
        "Next review: 2026-06-30",
        "    Organization: Acme Corp",
        "    Total members: 42",
        "    Admins (5):",
        "      - alice@example.com",
        "      - evan@example.com",
        "    Members (35):",
        "    Viewers (2):",
        "      - victor@example.com",
    ];
    let positions: Vec<usize> = record.iter().map(|l| at(l)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in the guide's order:\n{}", e.markdown);
    assert!(e.markdown.contains(&format!("Chain verified ({} entries)", e.chain.entries)), "{}", e.markdown);
    let mut csv = csv::Reader::from_reader(e.csv.as_bytes());
    let header = csv.headers().unwrap().clone();
    for column in ["decision", "reviewer", "reason", "applied_at"] {
        assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
    }
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 61);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let grace = rows.iter().find(|r| &r[col("item")] == grace_prod.as_str()).unwrap();
    assert_eq!(&grace[col("decision")], "revoke");
    assert_eq!(&grace[col("reviewer")], SECOND_APPROVER);
    assert_eq!(&grace[col("reason")], "Moved to the mobile team");
    assert!(!grace[col("applied_at")].is_empty());
    t.shutdown().await;
}

#[tokio::test]
async fn drift_made_directly_in_posthog_is_reported_with_who_and_when_and_can_be_adopted_or_reverted() {
    // Arrange: the first check takes the baseline.
    let t = spawn_stack().await;
    let baseline: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    assert!(baseline.baseline_taken);
    assert!(baseline.findings.is_empty());
    let web_app = t.sandbox().project_id("Web App").unwrap();

    // Act: two changes made in PostHog by alice, outside Hogwarden.
    t.sandbox().set_member_level_as(APPROVER, MEMBER, 8).unwrap();
    t.sandbox().set_project_access_as(APPROVER, web_app, "grace@example.com", Some("member")).unwrap();
    let report = t.post(APPROVER, "/api/drift/check", json!({})).await;
    let refused = t.post(MEMBER, "/api/drift/check", json!({})).await;

    // Assert
    assert_eq!(refused.status, 403);
    assert_eq!(report.status, 200, "{:?}", report.body);
    let report: dto::DriftReportDto = report.json();
    assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
    let frank = report.findings.iter().find(|f| f.id == "frank@example.com#org").expect("frank's level");
    assert_eq!((frank.kind.as_str(), frank.expected.as_str(), frank.found.as_str()), ("level_differs", "member", "admin"));
    assert_eq!(frank.changed_by.as_deref(), Some(APPROVER), "PostHog's activity log names who");
    assert!(frank.changed_at.is_some());
    let grace = report.findings.iter().find(|f| f.person == "grace@example.com").expect("grace's project access");
    assert_eq!((grace.kind.as_str(), grace.found.as_str(), grace.project_id), ("granted_outside", "member", Some(web_app)));
    assert_eq!(grace.changed_by.as_deref(), Some(APPROVER));
    assert!(t.audit_kinds().await.contains(&"drift_detected".to_owned()));

    // Act: adopt frank's level; revert grace's access through a request bob approves.
    let adopted = t.post(APPROVER, &format!("/api/drift/{}/adopt", enc(&frank.id)), json!({})).await;
    let revert = t.post(APPROVER, &format!("/api/drift/{}/revert", enc(&grace.id)), json!({})).await;
    assert_eq!(adopted.status, 200, "{:?}", adopted.body);
    assert_eq!(revert.status, 201, "{:?}", revert.body);
    let request: dto::RequestDto = revert.json();
    assert_eq!(request.status, "pending", "a revert is an ordinary request: it waits for approval");
    let during: dto::DriftReportDto = t.get(APPROVER, "/api/drift").await.json();
    assert_eq!(during.findings.iter().map(|f| (f.id.as_str(), f.status.as_str())).collect::<Vec<_>>(), [(grace.id.as_str(), "reverting")]);
    let approved = t.approve(SECOND_APPROVER, &request.id).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let after: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();

    // Assert: both resolved; PostHog keeps frank's adopted Admin and lost grace's access.
    assert!(after.findings.is_empty(), "{:?}", after.findings);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    assert_eq!(t.sandbox().project_access(web_app, "grace@example.com"), None);
    let kinds = t.audit_kinds().await;
    assert!(kinds.contains(&"drift_adopted".to_owned()) && kinds.contains(&"applied".to_owned()), "{kinds:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn someone_with_no_group_learns_nothing_about_items_from_decisions_on_them() {
    // Arrange: an open campaign; Mallory is signed in but in no Hogwarden group.
    let t = spawn_stack().await;
    let production = t.sandbox().project_id("Production").unwrap();
    let opened = t.post(APPROVER, "/api/reviews", json!({})).await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let detail: dto::CampaignDetail = opened.json();
    let reviewers: Vec<String> = detail.items.iter().filter_map(|i| i.reviewer.clone()).collect();
    let grace_prod = format!("grace@example.com#project-{production}");
    assert!(detail.items.iter().any(|i| i.id == grace_prod), "grace holds Production access");
    let mallory = t.stack.issuer.issue("mallory@example.com", "Mallory", &[], chrono::Duration::minutes(5)).unwrap();
    let probes = [
        ("2026-q1", grace_prod.clone()),
        ("2026-q1", "alice@example.com#org".to_owned()),
        ("2026-q1", format!("frank@example.com#project-{production}")),
        ("2026-q1", "nobody@example.com#org".to_owned()),
        ("2026-q1", format!("nobody@example.com#project-{production}")),
        ("2031-q4", "alice@example.com#org".to_owned()),
    ];
    let bodies = [
        json!({ "decision": "keep" }),
        json!({ "decision": "revoke", "reason": "Checking who has access" }),
        json!({ "decision": "downgrade", "to": "viewer", "reason": "Checking who has access" }),
    ];

    // Act: every probe, every body, as a decision, a bulk decision and a removal preview.
    let mut answers = Vec::new();
    for (campaign, item) in &probes {
        let blank = |text: String| text.replace(item.as_str(), "ITEM").replace(campaign, "CAMPAIGN");
        for body in &bodies {
            let r = t
                .http
                .post(t.url(&format!("/api/reviews/{campaign}/items/{}/decision", enc(item))))
                .bearer_auth(&mallory)
                .json(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            answers.push((format!("decision {item}"), status, blank(r.text().await.unwrap())));
        }
        let bulk = t
            .http
            .post(t.url(&format!("/api/reviews/{campaign}/decisions")))
            .bearer_auth(&mallory)
            .json(&json!({ "items": [item], "decision": "keep" }))
            .send()
            .await
            .unwrap();
        let status = bulk.status().as_u16();
        answers.push((format!("bulk {item}"), status, blank(bulk.text().await.unwrap())));
        let preview =
            t.http.get(t.url(&format!("/api/reviews/{campaign}/items/{}/removal", enc(item)))).bearer_auth(&mallory).send().await.unwrap();
        let status = preview.status().as_u16();
        answers.push((format!("removal {item}"), status, blank(preview.text().await.unwrap())));
    }

    // Assert: the same answer whatever the item is, naming nobody.
    for kind in ["decision", "bulk", "removal"] {
        let of_kind: Vec<&(String, u16, String)> = answers.iter().filter(|(what, ..)| what.starts_with(kind)).collect();
        let (first, status, text) = of_kind[0];
        assert!(of_kind.iter().all(|(_, s, b)| s == status && b == text), "{kind}: {first} answered {status} {text}, others {of_kind:#?}");
    }
    for (what, status, text) in &answers {
        assert!(*status == 403 || what.starts_with("bulk"), "{what}: {status} {text}");
        for reviewer in &reviewers {
            assert!(!text.contains(reviewer.as_str()), "{what} names {reviewer}: {text}");
        }
    }
    assert_eq!(t.sandbox().write_count(), 0, "nothing changed in PostHog");
    t.shutdown().await;
}
