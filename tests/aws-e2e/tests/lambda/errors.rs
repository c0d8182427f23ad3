//! What goes wrong says so: an incomplete environment stops the start, an unknown
//! scheduled task fails the invocation (so Lambda retries and then sends it to the
//! DLQ), and a request without the authorizer's claims gets 401 in the API's shape.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use hogwarden_aws_e2e::{MEMBER, environment, http_event, invoke, scheduler_event, spawn_aws_stack};
use hogwarden_lambda::{AwsStack, Config, HandlerError, StartupError, env};
use lambda_runtime::Diagnostic;

#[tokio::test]
async fn a_missing_variable_is_a_startup_error_naming_it() {
    let t = spawn_aws_stack().await;
    let complete = environment(&t.config.table, &t.config.posthog_key_secret, &t.sandbox);

    for (name, required) in env::VARIABLES.iter().copied().filter(|(name, _)| complete.contains_key(name)) {
        let mut vars: HashMap<&str, String> = complete.clone();
        vars.remove(name);
        let err = Config::from_lookup(|n| vars.get(n).cloned()).expect_err(name);
        assert!(required);
        assert_eq!(format!("{err:?}"), err.to_string(), "main prints the message");
        assert!(err.to_string().starts_with(&format!("{name} is not set")), "{err}");
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_missing_posthog_key_secret_is_a_startup_error_naming_it() {
    let t = spawn_aws_stack().await;
    let mut config = t.config.clone();
    config.posthog_key_secret = "hogwarden/no-such-secret".into();

    let err = AwsStack::builder(config).sdk_config(t.sdk.clone()).build().await.expect_err("no key, no start");

    assert!(matches!(err, StartupError::NoKey { .. }), "{err}");
    assert!(err.to_string().contains("'hogwarden/no-such-secret' has no current value"), "{err}");
    t.shutdown().await;
}

#[tokio::test]
async fn an_unknown_scheduled_task_fails_the_invocation_and_names_the_task() {
    let t = spawn_aws_stack().await;
    let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 1, 0).unwrap();
    let mut unknown = scheduler_event("sweep", at, "exec-1");
    unknown["task"] = serde_json::json!("rotate_everything");

    let on_reverts = invoke(&t.reverts, unknown).await.expect_err("unknown task");
    let sweep_on_grants = invoke(&t.grants, scheduler_event("sweep", at, "exec-2")).await.expect_err("grants runs no schedule");
    let review_on_reverts = invoke(&t.reverts, scheduler_event("quarterly_review", at, "exec-3")).await.expect_err("not this function's");

    assert!(matches!(on_reverts, HandlerError::UnknownTask { .. }));
    assert_eq!(on_reverts.to_string(), "unknown scheduled task 'rotate_everything'; this function runs: sweep, remind, bulk_apply");
    let diagnostic = Diagnostic::from(on_reverts);
    assert_eq!(diagnostic.error_type, "Hogwarden.UnknownTask");
    assert!(sweep_on_grants.to_string().contains("'sweep'; this function runs: no scheduled task"), "{sweep_on_grants}");
    assert!(review_on_reverts.to_string().contains("'quarterly_review'"), "{review_on_reverts}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_scheduled_input_with_unsubstituted_placeholders_is_refused() {
    let t = spawn_aws_stack().await;
    let template: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/scheduler-sweep.json")).expect("the fixture is JSON");

    let err = invoke(&t.reverts, template).await.expect_err("the time is a placeholder");

    assert!(matches!(err, HandlerError::BadScheduledInput(_)), "{err}");
    assert!(err.to_string().contains("<aws.scheduler.scheduled-time>"), "{err}");
    t.shutdown().await;
}

#[tokio::test]
async fn an_event_that_is_neither_http_nor_a_schedule_is_refused() {
    let t = spawn_aws_stack().await;
    let classic_rule = serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2015-10-08T16:53:06Z", "region": "us-east-1", "resources": [], "detail": {}
    });

    let err = invoke(&t.reverts, classic_rule).await.expect_err("not ours");

    assert!(matches!(err, HandlerError::UnknownEvent { .. }), "{err}");
    assert!(err.to_string().contains("detail-type"), "{err}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_request_without_authorizer_claims_gets_401_in_the_api_error_shape() {
    let t = spawn_aws_stack().await;
    let writes = t.sandbox.write_count();
    let body = serde_json::json!({ "changes": [{ "kind": "org_role", "role": "admin" }], "duration_minutes": 60, "reason": "Need it" });
    // A caller may send any header; only the authorizer's claims identify someone.
    let mut forged = http_event(None, "POST", "/api/requests", Some(body.clone()));
    forged["headers"]["authorization"] = serde_json::json!("Bearer eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIn0.");
    forged["headers"]["x-email"] = serde_json::json!("alice@example.com");
    let mut empty_claims = http_event(Some(MEMBER), "POST", "/api/requests", Some(body));
    empty_claims["requestContext"]["authorizer"]["jwt"]["claims"] = serde_json::json!({});

    for (handler, event) in [
        (&t.grants, forged),
        (&t.grants, empty_claims),
        (&t.grants, http_event(None, "GET", "/api/inbox", None)),
        (&t.reverts, http_event(None, "POST", "/api/grants/g-1/revoke", Some(serde_json::json!({})))),
    ] {
        let reply = hogwarden_aws_e2e::Reply::from_lambda(invoke(handler, event).await.expect("an HTTP answer, not an invocation error"));
        assert_eq!(reply.status, 401, "{:?}", reply.body);
        assert_eq!(reply.code(), "unauthorized", "{:?}", reply.body);
        assert!(!reply.message().is_empty());
    }
    assert_eq!(t.sandbox.write_count(), writes);
    t.shutdown().await;
}

#[tokio::test]
async fn a_path_a_function_does_not_serve_is_a_json_404() {
    // Arrange: `/api/requests/{proxy+}` sends any sub-path to the grants Lambda.
    let t = spawn_aws_stack().await;

    // Act
    let grants = t.call(&t.grants, Some(MEMBER), "GET", "/api/requests/abc/nonsense", None).await;
    let keys = t.call(&t.key_rotation, Some(MEMBER), "GET", "/api/keys/extra", None).await;

    // Assert
    for reply in [grants, keys] {
        assert_eq!(reply.status, 404, "{:?}", reply.body);
        assert_eq!(reply.code(), "not_found", "{:?}", reply.body);
        assert_eq!(reply.message(), "There is no such API route.");
    }
    t.shutdown().await;
}
