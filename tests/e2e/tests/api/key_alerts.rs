//! keys-alerts on the local stack with the sandbox: the alert history (accepted and
//! refused alerts with reasons, never a value), the writes pause after Hogwarden's own
//! key leaks (nothing sent to PostHog, pending work done exactly once after a new key is
//! stored), and personal key metadata imported from PostHog's organization list with
//! reminders to owners.

use hogwarden_core::ports::Clock;
use hogwarden_core::webhooks::sign_generic;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, TestStack, spawn_stack_with};
use secrecy::SecretString;
use serde_json::{Value, json};

const GENERIC_SECRET: &str = "generic-shared-secret";

async fn stack() -> TestStack {
    let t =
        spawn_stack_with(|c| c.policy.security_contacts = vec![hogwarden_core::types::Email::parse("security@example.com").unwrap()]).await;
    t.stack.vault.put_current("hogwarden/webhooks/generic", SecretString::from(GENERIC_SECRET)).await.unwrap();
    t
}

async fn generic(t: &TestStack, delivery: &str, body: &str, signature: Option<&str>) -> (u16, Value) {
    let ts = t.clock.now().timestamp().to_string();
    let good = sign_generic(GENERIC_SECRET.as_bytes(), &ts, delivery, body.as_bytes());
    let mut request = t
        .http
        .post(t.url("/webhooks/generic"))
        .header("content-type", "application/json")
        .header("x-hogwarden-timestamp", &ts)
        .header("x-hogwarden-delivery", delivery);
    if signature != Some("") {
        request = request.header("x-hogwarden-signature", signature.unwrap_or(&good));
    }
    let response = request.body(body.to_owned()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Requests that change PostHog (the sandbox's write count), leaked-key reports aside.
fn posthog_writes(t: &TestStack) -> usize {
    t.sandbox().requests().iter().filter(|r| r.method.as_str() != "GET" && !r.path.contains("revoke_leaked_key")).count()
}

#[tokio::test]
async fn the_alert_history_lists_accepted_and_refused_alerts_with_reasons_and_no_values() {
    // Arrange
    let t = stack().await;
    let leaked = t.sandbox().create_personal_key_as(MEMBER, "laptop", &["project:read"], chrono::Duration::days(3)).unwrap();
    let body = json!({ "token": leaked }).to_string();

    // Act
    let accepted = generic(&t, "d-1", &body, None).await;
    let replayed = generic(&t, "d-1", &body, None).await;
    let forged = generic(&t, "d-2", &body, Some("sha256=00ff")).await;
    let forged_again = generic(&t, "d-3", &body, Some("sha256=00ff")).await;
    let unsigned = generic(&t, "d-4", &body, Some("")).await;
    let malformed_body = "{\"tok\":1}";
    let malformed = generic(&t, "d-5", malformed_body, None).await;
    let page = t.get(APPROVER, "/api/keys/alerts").await;
    let first = t.get(APPROVER, "/api/keys/alerts?limit=2").await;
    let second = t.get(APPROVER, &format!("/api/keys/alerts?limit=2&before={}", first.body["next"].as_str().unwrap_or("x"))).await;
    let by_member = t.get(MEMBER, "/api/keys/alerts").await;
    let bad_cursor = t.get(APPROVER, "/api/keys/alerts?before=%27%20OR%201%3D1").await;

    // Assert
    assert_eq!((accepted.0, replayed.0, forged.0, forged_again.0, unsigned.0, malformed.0), (202, 409, 401, 401, 401, 400));
    assert_eq!(page.status, 200, "{:?}", page.body);
    let alerts = page.body["alerts"].as_array().unwrap();
    let find = |verdict: &str, reason: Option<&str>| {
        alerts
            .iter()
            .find(|a| a["verdict"] == verdict && reason.is_none_or(|r| a["reason"] == r))
            .unwrap_or_else(|| panic!("no {verdict} {reason:?} alert in {alerts:#?}"))
    };
    let ok = find("accepted", None);
    assert_eq!(ok["provider"], "generic");
    assert_eq!(ok["delivery_id"], "d-1");
    assert_eq!(ok["leaks"][0]["kind"], "personal");
    assert!(ok["leaks"][0]["fingerprint"].as_str().unwrap().starts_with("sha256:"));
    assert!(ok["leaks"][0]["action"].as_str().unwrap().contains("rolled"), "{ok}");
    assert_eq!(find("refused", Some("replayed"))["count"], 1);
    assert_eq!(find("refused", Some("bad_signature"))["count"], 2, "two forgeries in one minute are one counted entry");
    assert_eq!(find("refused", Some("missing_header"))["provider"], "generic");
    assert!(find("refused", Some("malformed"))["detail"].as_str().unwrap().contains("token"));
    let received: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert!(received.windows(2).all(|w| w[0] > w[1]), "newest first: {received:?}");
    assert_eq!(first.body["alerts"].as_array().unwrap().len(), 2);
    let paged: Vec<Value> = [first.body["alerts"].as_array().unwrap().clone(), second.body["alerts"].as_array().unwrap().clone()].concat();
    assert_eq!(paged[..], alerts[..paged.len()], "pages follow each other");
    assert_eq!(by_member.status, 403);
    assert_eq!(bad_cursor.status, 400, "{:?}", bad_cursor.body);
    let text = page.body.to_string();
    assert!(!text.contains(&leaked) && !text.contains("phx_"), "a key value in the alert history");
    assert!(!text.contains("00ff"), "a header value in the alert history");
    t.shutdown().await;
}

#[tokio::test]
async fn an_own_key_leak_pauses_writes_until_a_new_key_is_stored_then_pending_work_runs_once() {
    // Arrange: Frank holds a temporary admin grant; Grace waits for approval.
    let t = stack().await;
    let grant = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(t.approve(APPROVER, &grant.id).await.status, 200);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    let waiting = t.request_temporary_admin(OTHER_MEMBER, 60).await;
    let own = t.sandbox().service_api_key();

    // Act 1: Hogwarden's own key leaks.
    let (leak, reply) = generic(&t, "own-1", &json!({ "token": own }).to_string(), None).await;
    let status = t.get(MEMBER, "/api/keys/status").await;
    let keys = t.get(APPROVER, "/api/keys").await;
    let writes_before = posthog_writes(&t);
    let approval = t.approve(SECOND_APPROVER, &waiting.id).await;
    t.clock.advance(chrono::Duration::minutes(61));
    let paused_sweep = t.stack.app.sweep().await.unwrap();
    let writes_while_paused = posthog_writes(&t) - writes_before;
    let level_while_paused = t.sandbox().member_level(MEMBER);

    // Act 2: an admin stores a new key; the next sweeps run what waited.
    let new_key = t.sandbox().issue_api_key(posthog_sandbox::SERVICE_EMAIL, &["*"]).unwrap();
    let stored = t.send(Some(APPROVER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": new_key }))).await;
    let lifted = t.get(MEMBER, "/api/keys/status").await;
    let writes_at_lift = posthog_writes(&t);
    let first = t.stack.app.sweep().await.unwrap();
    let second = t.stack.app.sweep().await.unwrap();
    let approved_again = t.approve(SECOND_APPROVER, &waiting.id).await;
    let third = t.stack.app.sweep().await.unwrap();
    let writes_after = posthog_writes(&t) - writes_at_lift;

    // Assert
    assert_eq!(leak, 202, "{reply}");
    assert!(reply["actions"][0]["action"].as_str().unwrap().contains("paused"), "{reply}");
    let paused = &status.body["writes_paused"];
    assert!(paused["reason"].as_str().unwrap().contains("own PostHog key"), "{:?}", status.body);
    assert!(paused["message"].as_str().unwrap().contains("Keys page"));
    assert_eq!(keys.body["writes_paused"]["since"], paused["since"], "GET /api/keys shows the pause");
    assert_eq!(approval.status, 503, "{:?}", approval.body);
    assert_eq!(approval.code(), "posthog_writes_paused");
    assert!(approval.message().contains("paused") && approval.message().contains("new service key"), "{}", approval.message());
    assert!(paused_sweep.writes_paused);
    assert_eq!((paused_sweep.reverted, paused_sweep.applied_retries), (0, 0));
    assert_eq!(writes_while_paused, 0, "nothing was sent to PostHog while paused");
    assert_eq!(level_while_paused, Some(8), "the due revert waited");
    assert_eq!(stored.status, 200, "{:?}", stored.body);
    assert_eq!(lifted.body["writes_paused"], Value::Null);
    // PostHog rejected the leaked key before the approval could be recorded (the
    // approver's membership read got 401): the request still waits, nothing was lost.
    assert_eq!((first.reverted, second.reverted, third.reverted), (1, 0, 0), "the revert ran once: {first:?} {second:?} {third:?}");
    assert_eq!(approved_again.status, 200, "{:?}", approved_again.body);
    assert_eq!(approved_again.body["status"], "applied");
    assert_eq!(third.applied_retries, 0, "nothing applied twice");
    assert_eq!(writes_after, 2, "one write for the revert and one for the approval");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    assert_eq!(t.sandbox().member_level(OTHER_MEMBER), Some(8));
    let steps: Vec<String> = t
        .audit(APPROVER)
        .await
        .entries
        .iter()
        .filter(|e| e.kind == "key_alert")
        .filter_map(|e| e.details["step"].as_str().map(str::to_owned))
        .collect();
    assert!(steps.contains(&"writes_paused".to_owned()) && steps.contains(&"writes_resumed".to_owned()), "{steps:?}");
    for reply in [&status, &keys, &approval, &stored, &lifted] {
        let text = reply.body.to_string();
        assert!(!text.contains(&own) && !text.contains(&new_key), "a key value in an answer");
    }
    t.shutdown().await;
}

#[tokio::test]
async fn personal_keys_are_imported_from_posthogs_list_and_owners_are_reminded_once_per_cadence() {
    // Arrange: Frank's key is 200 days old, Grace's is new, Bob's is old but Bob leaves.
    let t = stack().await;
    // The sandbox dates keys by the real clock; the stack's clock starts there too.
    t.clock.set(chrono::Utc::now());
    let s = t.sandbox();
    let frank_key = s.create_personal_key_as(MEMBER, "laptop", &["project:read"], chrono::Duration::days(200)).unwrap();
    s.create_personal_key_as(OTHER_MEMBER, "ci", &["feature_flag:read"], chrono::Duration::days(1)).unwrap();
    s.create_personal_key_as(SECOND_APPROVER, "old script", &["*"], chrono::Duration::days(300)).unwrap();
    let list = s.organization_personal_keys_as(APPROVER, 1000, 0).unwrap().to_string();
    let before = t.get(APPROVER, "/api/keys/personal").await;

    // Act
    let by_member =
        t.send(Some(MEMBER), reqwest::Method::POST, "/api/keys/personal/import", Some(serde_json::from_str(&list).unwrap())).await;
    let broken = json!({ "count": 1, "next": null, "results": [{ "owner": {}, "mask_value": "phx_...abcd", "scopes": [], "created_at": "2030-01-01T00:00:00Z" }] });
    let bad = t.send(Some(APPROVER), reqwest::Method::POST, "/api/keys/personal/import", Some(broken)).await;
    let with_value = json!([{ "owner": { "email": MEMBER }, "mask_value": "phx_...abcd", "value": frank_key, "scopes": [], "created_at": "2030-01-01T00:00:00Z" }]);
    let holding_a_key = t.send(Some(APPROVER), reqwest::Method::POST, "/api/keys/personal/import", Some(with_value)).await;
    let after_bad = t.get(APPROVER, "/api/keys/personal").await;
    let imported =
        t.send(Some(APPROVER), reqwest::Method::POST, "/api/keys/personal/import", Some(serde_json::from_str(&list).unwrap())).await;
    let listed = t.get(APPROVER, "/api/keys/personal").await;
    s.deactivate_user(SECOND_APPROVER).unwrap();
    let reminded =
        |to: &str| t.stack.outbox.sent().into_iter().filter(|n| n.to.as_str() == to && n.subject.contains("personal API key")).count();
    let first = t.stack.app.sweep().await.unwrap();
    let retried = t.stack.app.sweep().await.unwrap();
    let after_first = reminded(MEMBER);
    t.clock.advance(chrono::Duration::days(3));
    let within_cadence = t.stack.app.sweep().await.unwrap();
    t.clock.advance(chrono::Duration::days(5));
    let next_cadence = t.stack.app.sweep().await.unwrap();

    // Assert
    assert_eq!(before.status, 200, "{:?}", before.body);
    assert_eq!(before.body["keys"], json!([]));
    assert!(before.body["how_to_import"].as_str().unwrap().contains("personal_api_keys"));
    assert!(before.body["who_rolls"].as_str().unwrap().contains("Only a key's owner"));
    assert_eq!(by_member.status, 403);
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert!(bad.message().contains("item 1: owner.email"), "{}", bad.message());
    assert_eq!(holding_a_key.status, 422);
    assert!(holding_a_key.message().contains("whole PostHog key value") && !holding_a_key.message().contains(&frank_key));
    assert_eq!(after_bad.body["keys"], json!([]), "a bad file stored nothing");
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    let keys = listed.body["keys"].as_array().unwrap();
    let frank = keys.iter().find(|k| k["owner"] == MEMBER).expect("Frank's key imported");
    assert!(frank["mask"].as_str().unwrap().starts_with("phx_..."));
    assert!(frank["due"].as_str().unwrap().contains("created or last rolled 199 days ago"), "{frank}");
    assert!(keys.iter().find(|k| k["owner"] == OTHER_MEMBER).unwrap()["due"].is_null());
    assert!(!listed.body.to_string().contains(&frank_key));
    assert_eq!(first.personal_key_reminders, 1, "only Frank: Grace's key is fine and Bob left: {first:?}");
    assert_eq!(retried.personal_key_reminders, 0, "a retried sweep sends nothing more");
    assert_eq!(after_first, 1);
    assert_eq!(reminded(SECOND_APPROVER), 0, "never to someone who left");
    assert_eq!(within_cadence.personal_key_reminders, 0);
    assert_eq!(next_cadence.personal_key_reminders, 1, "again once the cadence has passed");
    let message = t.stack.outbox.sent().into_iter().find(|n| n.to.as_str() == MEMBER && n.subject.contains("personal API key")).unwrap();
    assert!(message.body.contains("Only you can roll") && message.body.contains("Settings → Personal API keys"));
    assert!(!message.body.contains(&frank_key));
    t.shutdown().await;
}

#[tokio::test]
async fn a_stored_key_posthog_starts_rejecting_pauses_writes_once_and_is_in_the_alert_history() {
    // Arrange: PostHog rolls Hogwarden's key behind its back.
    let t = stack().await;
    let waiting = t.request_temporary_admin(MEMBER, 60).await;
    let old = t.sandbox().service_api_key();
    let new_key = t.sandbox().roll_api_key(&old).unwrap();

    // Act: the next PostHog call meets the 401 (an approver's approval), then a key check.
    let approval = t.approve(APPROVER, &waiting.id).await;
    let check = t.stack.app.check_service_key().await.unwrap();
    let status = t.get(MEMBER, "/api/keys/status").await;
    let history = t.get(APPROVER, "/api/keys/alerts").await;
    let stored = t.send(Some(APPROVER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": new_key }))).await;
    let approved = t.approve(APPROVER, &waiting.id).await;

    // Assert
    assert_eq!(approval.status, 503, "{:?}", approval.body);
    assert_eq!(approval.code(), "posthog_writes_paused");
    assert!(!check.accepted);
    assert!(status.body["writes_paused"]["reason"].as_str().unwrap().contains("rejects Hogwarden's stored API key"), "{:?}", status.body);
    let rejected: Vec<&Value> = history.body["alerts"].as_array().unwrap().iter().filter(|a| a["verdict"] == "key_rejected").collect();
    assert_eq!(rejected.len(), 1, "one alert per pause, however many calls met the 401: {:?}", history.body);
    assert_eq!(rejected[0]["provider"], "posthog");
    assert_eq!(stored.status, 200, "{:?}", stored.body);
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["status"], "applied");
    let paused = t.audit(APPROVER).await.entries.iter().filter(|e| e.kind == "key_alert" && e.details["step"] == "writes_paused").count();
    assert_eq!(paused, 1);
    t.shutdown().await;
}

#[tokio::test]
async fn keys_hogwarden_sees_only_masked_have_consumers_who_are_told_when_the_key_leaks() {
    // Arrange: a project secret key Hogwarden does not rotate, and Frank's personal key
    // (imported from PostHog's list); Grace runs a place using each of them.
    let t = stack().await;
    t.clock.set(chrono::Utc::now());
    let production = t.sandbox().project_id("Production").unwrap();
    let made = t.sandbox().create_secret_key_as(APPROVER, production, "billing flags", &["feature_flag:read"]).unwrap();
    let (key_id, secret_value) = (made.id, made.value);
    let frank_key = t.sandbox().create_personal_key_as(MEMBER, "exports", &["query:read"], chrono::Duration::days(2)).unwrap();
    let list = t.sandbox().organization_personal_keys_as(APPROVER, 1000, 0).unwrap();
    let imported = t.send(Some(APPROVER), reqwest::Method::POST, "/api/keys/personal/import", Some(list)).await;
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    let inventory = t.get(APPROVER, "/api/keys").await;
    let keys = inventory.body["keys"].as_array().unwrap().clone();
    let secret_row = keys.iter().find(|k| k["key_id"] == json!(key_id)).expect("the unmanaged key is listed");
    let personal_row =
        keys.iter().find(|k| k["kind"] == "personal_api_key" && k["note"].as_str().unwrap_or("").contains(MEMBER)).expect("Frank's key");
    let secret_ref = secret_row["key_ref"].as_str().unwrap().to_owned();
    let personal_ref = personal_row["key_ref"].as_str().unwrap().to_owned();
    let add = |key: &str, name: &str| {
        let form = json!({ "key": key, "kind": "server", "name": name, "owner": OTHER_MEMBER });
        t.post(APPROVER, "/api/keys/consumers", form)
    };

    // Act: add the consumers, and two that name keys PostHog does not have.
    let on_secret = add(&secret_ref, "billing service, FLAGS_KEY on api-1").await;
    let on_personal = add(&personal_ref, "nightly export job").await;
    let audit_before = t.audit(APPROVER).await.entries.len();
    let no_such_secret = add(&format!("secret_key:{production}:no-such-key"), "x").await;
    let no_such_personal = add("personal_key:pk_nope", "x").await;
    let audit_after_bad = t.audit(APPROVER).await.entries.len();
    let listed = t.get(APPROVER, "/api/keys").await;
    let secret_leak = generic(&t, "leak-phs", &json!({ "token": secret_value }).to_string(), None).await;
    let personal_leak = generic(&t, "leak-phx", &json!({ "token": frank_key }).to_string(), None).await;

    // Assert: the inventory names both keys for consumers, with PostHog's mask.
    assert_eq!(secret_ref, format!("secret_key:{production}:{key_id}"));
    assert!(personal_ref.starts_with("personal_key:pk_"), "{personal_ref}");
    assert_eq!(secret_row["mask"], json!(format!("phs_...{}", &secret_value[secret_value.len() - 4..])));
    assert_eq!(personal_row["mask"], json!(format!("phx_...{}", &frank_key[frank_key.len() - 4..])));
    assert!(inventory.body["notes"][0].as_str().unwrap().contains("last import"), "{:?}", inventory.body["notes"]);
    let personal_rows: Vec<&Value> = keys.iter().filter(|k| k["kind"] == "personal_api_key").collect();
    assert_eq!(personal_rows.len(), 2, "Hogwarden's own key once (PostHog's list has it too), and Frank's: {personal_rows:?}");
    assert_eq!(personal_rows[0]["key_ref"], "service_key");
    assert_eq!((on_secret.status, on_personal.status), (201, 201), "{:?} {:?}", on_secret.body, on_personal.body);
    assert_eq!((no_such_secret.status, no_such_personal.status), (404, 404));
    assert!(no_such_secret.message().contains("PostHog lists no project secret key no-such-key"), "{}", no_such_secret.message());
    assert!(no_such_personal.message().contains("last import"), "{}", no_such_personal.message());
    assert_eq!(audit_after_bad, audit_before, "a refused consumer writes nothing");
    let consumers_of = |key_ref: &str| {
        listed.body["keys"].as_array().unwrap().iter().find(|k| k["key_ref"] == json!(key_ref)).unwrap()["consumers"].clone()
    };
    assert_eq!(consumers_of(&secret_ref)[0]["name"], "billing service, FLAGS_KEY on api-1");
    assert_eq!(consumers_of(&personal_ref)[0]["name"], "nightly export job");

    // Assert: each leak is reported to PostHog, named, and the places' owners told.
    assert_eq!((secret_leak.0, personal_leak.0), (202, 202), "{secret_leak:?} {personal_leak:?}");
    let secret_action = secret_leak.1["actions"][0]["action"].as_str().unwrap();
    assert!(secret_action.contains("project secret key billing flags of Production, 1 owner(s) told"), "{secret_action}");
    let personal_action = personal_leak.1["actions"][0]["action"].as_str().unwrap();
    assert!(personal_action.contains(&format!("of {MEMBER}, 2 owner(s) told")), "{personal_action}");
    let told = |to: &str| -> Vec<String> {
        t.stack
            .outbox
            .sent()
            .into_iter()
            .filter(|n| n.to.as_str() == to && n.subject == "A PostHog key you use leaked")
            .map(|n| n.body)
            .collect()
    };
    let grace = told(OTHER_MEMBER);
    assert_eq!(grace.len(), 2, "{grace:?}");
    assert!(grace[0].contains("billing service, FLAGS_KEY on api-1") && grace[0].contains("billing flags"), "{}", grace[0]);
    assert!(grace[1].contains("nightly export job"), "{}", grace[1]);
    let frank = told(MEMBER);
    assert_eq!(frank.len(), 1);
    assert!(frank[0].contains("It is your key"), "{}", frank[0]);
    let all = format!("{grace:?}{frank:?}{secret_leak:?}{personal_leak:?}{}", listed.body);
    assert!(!all.contains(&secret_value) && !all.contains(&frank_key), "no key value in any message or answer");
    t.shutdown().await;
}

#[tokio::test]
async fn the_personal_key_reminder_cadence_comes_from_the_policy() {
    // Arrange: remind every 2 days; Frank's key is 200 days old.
    let t = spawn_stack_with(|c| c.policy.keys.personal_key_reminder_days = 2).await;
    t.clock.set(chrono::Utc::now());
    t.sandbox().create_personal_key_as(MEMBER, "laptop", &["project:read"], chrono::Duration::days(200)).unwrap();
    let list = t.sandbox().organization_personal_keys_as(APPROVER, 1000, 0).unwrap();
    let imported = t.send(Some(APPROVER), reqwest::Method::POST, "/api/keys/personal/import", Some(list)).await;
    assert_eq!(imported.status, 200, "{:?}", imported.body);

    // Act
    let first = t.stack.app.sweep().await.unwrap().personal_key_reminders;
    t.clock.advance(chrono::Duration::days(1));
    let a_day_later = t.stack.app.sweep().await.unwrap().personal_key_reminders;
    t.clock.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let two_days_later = t.stack.app.sweep().await.unwrap().personal_key_reminders;

    // Assert
    assert_eq!((first, a_day_later, two_days_later), (1, 0, 1));
    t.shutdown().await;
}

#[tokio::test]
async fn a_revert_held_back_by_the_pause_makes_the_sweep_fail_and_tells_security_once() {
    // Arrange: Frank holds an hour of temporary admin; then Hogwarden's own key leaks.
    let t = stack().await;
    let grant = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(t.approve(APPROVER, &grant.id).await.status, 200);
    let own = t.sandbox().service_api_key();
    assert_eq!(generic(&t, "own-1", &json!({ "token": own }).to_string(), None).await.0, 202);
    let told = |t: &TestStack| {
        t.stack
            .outbox
            .sent()
            .into_iter()
            .filter(|n| n.to.as_str() == "security@example.com" && n.subject.contains("outliving its end"))
            .count()
    };

    // Act: a sweep while nothing is due, then two after the grant ended.
    let before_due = t.stack.app.sweep().await.unwrap();
    t.clock.advance(chrono::Duration::minutes(61));
    let first = t.stack.app.sweep().await.unwrap();
    let second = t.stack.app.sweep().await.unwrap();

    // Assert: the overdue revert is counted, the sweep is not clean, security is told once.
    assert!(before_due.writes_paused && before_due.is_clean(), "{before_due:?}");
    assert_eq!((first.blocked_by_pause, second.blocked_by_pause), (1, 1), "{first:?} {second:?}");
    assert!(!first.is_clean() && !second.is_clean(), "a held-back revert is not a clean sweep");
    assert_eq!(told(&t), 1, "told once per pause, not once per sweep: {:?}", t.stack.outbox.sent());
    let message = t.stack.outbox.sent().into_iter().find(|n| n.subject.contains("outliving its end")).unwrap();
    assert!(message.body.contains(MEMBER) && message.body.contains("Keys page"), "{}", message.body);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8), "nothing was written while paused");
    t.shutdown().await;
}
