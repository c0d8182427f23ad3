//! infra/template.yaml agrees with the code, and each check catches a template that
//! does not (a copy of the real template with one thing broken).

use hogwarden_infra_tests::{
    Crate, SCHEDULED_TASKS, TEMPLATE, Template, check_environment, check_functions, check_invoke_permissions, check_schedules, check_table,
    check_web_headers, check_webhook_privileges, csp_problems, workspace_crates, workspace_root,
};
use hogwarden_lambda::env::VARIABLES;
use hogwarden_store_aws::table_definition;

fn template_text() -> String {
    std::fs::read_to_string(workspace_root().join(TEMPLATE)).expect("infra/template.yaml exists")
}

fn template() -> Template {
    Template::parse(&template_text()).expect("the template parses, short tags included")
}

/// The real template with `from` replaced by `to`, which must change it.
fn broken(from: &str, to: &str) -> Template {
    let text = template_text();
    assert!(text.contains(from), "the template no longer contains {from:?}; update this test");
    Template::parse(&text.replacen(from, to, 1)).expect("the broken template still parses")
}

fn lambda_crate(name: &str, bin: &str) -> Crate {
    Crate {
        name: name.to_owned(),
        dir: format!("functions/{name}"),
        bins: vec![bin.to_owned()],
        dependencies: vec!["hogwarden-lambda".to_owned()],
    }
}

/// The four Lambda crates as the template expects them.
fn the_four() -> Vec<Crate> {
    vec![
        lambda_crate("grants", "hogwarden-grants"),
        lambda_crate("reverts", "hogwarden-reverts"),
        lambda_crate("key-rotation", "hogwarden-key-rotation"),
        lambda_crate("reviews", "hogwarden-reviews"),
    ]
}

#[test]
fn every_function_is_a_lambda_crate_of_the_workspace_and_every_lambda_crate_is_deployed() {
    let crates = workspace_crates(&workspace_root()).expect("cargo metadata describes the workspace");
    let problems = check_functions(&template(), &crates);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_function_whose_binary_no_crate_builds_is_caught() {
    let problems = check_functions(&broken("hogwarden-reviews/bootstrap.zip", "hogwarden-review/bootstrap.zip"), &the_four());
    assert!(problems.iter().any(|p| p.contains("no workspace crate has a binary named hogwarden-review")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("hogwarden-reviews, which no function")), "{problems:#?}");
}

#[test]
fn a_lambda_crate_missing_from_the_template_is_caught() {
    let mut crates = the_four();
    crates.push(lambda_crate("drift", "hogwarden-drift"));
    let problems = check_functions(&template(), &crates);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("hogwarden-drift"), "{problems:#?}");
}

#[test]
fn a_function_running_a_binary_that_is_not_a_lambda_is_caught() {
    let mut crates = the_four();
    crates[0].dependencies.clear();
    let problems = check_functions(&template(), &crates);
    assert!(problems.iter().any(|p| p.contains("GrantsFunction") && p.contains("not a Lambda crate")), "{problems:#?}");
}

#[test]
fn every_function_gets_exactly_the_variables_the_lambdas_read() {
    let problems = check_environment(&template(), VARIABLES);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_missing_required_variable_is_caught() {
    let problems = check_environment(&broken("        POSTHOG_ORG_ID: !Ref PostHogOrgId\n", ""), VARIABLES);
    assert_eq!(problems.len(), 5, "one per function: {problems:#?}");
    assert!(problems.iter().all(|p| p.contains("required variable POSTHOG_ORG_ID is not set")), "{problems:#?}");
}

#[test]
fn a_variable_no_lambda_reads_is_caught_in_a_functions_own_environment() {
    let own = "      Timeout: 300\n      Environment:\n        Variables:\n          HOGWARDEN_REVIEW_DAY: \"1\"\n";
    let problems = check_environment(&broken("      Timeout: 300\n", own), VARIABLES);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("ReviewsFunction: sets HOGWARDEN_REVIEW_DAY"), "{problems:#?}");
}

#[test]
fn the_table_is_the_one_store_aws_creates() {
    let problems = check_table(&template(), &table_definition().expect("store-aws defines its table"));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_table_whose_index_differs_from_store_aws_is_caught() {
    let definition = table_definition().unwrap();
    let wrong_key = broken("{AttributeName: GSI5SK, KeyType: RANGE}", "{AttributeName: GSI5SK, KeyType: HASH}");
    assert!(check_table(&wrong_key, &definition).iter().any(|p| p.contains("index GSI5 is")));
    let keys_only = broken("Projection: {ProjectionType: ALL}", "Projection: {ProjectionType: KEYS_ONLY}");
    assert!(check_table(&keys_only, &definition).iter().any(|p| p.contains("index GSI1 is")));
    let renamed = broken("IndexName: GSI2", "IndexName: ByExpiry");
    let problems = check_table(&renamed, &definition);
    assert!(problems.iter().any(|p| p.contains("index GSI2 is missing")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("index ByExpiry is not in table_definition")), "{problems:#?}");
}

#[test]
fn a_table_whose_keys_or_billing_differ_from_store_aws_is_caught() {
    let definition = table_definition().unwrap();
    let keys = broken("- {AttributeName: SK, KeyType: RANGE}", "- {AttributeName: GSI1SK, KeyType: RANGE}");
    assert!(check_table(&keys, &definition).iter().any(|p| p.contains("KeySchema is")));
    let numeric = broken("{AttributeName: GSI2SK, AttributeType: S}", "{AttributeName: GSI2SK, AttributeType: N}");
    assert!(check_table(&numeric, &definition).iter().any(|p| p.contains("AttributeDefinitions are")));
    let provisioned = broken("BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED");
    assert!(check_table(&provisioned, &definition).iter().any(|p| p.contains("BillingMode")));
}

#[test]
fn each_schedule_sends_its_lambda_the_task_it_expects() {
    let problems = check_schedules(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_task_the_lambdas_run_is_scheduled_for_one_binary() {
    let mut ours: Vec<&str> = SCHEDULED_TASKS.iter().map(|(_, task)| *task).collect();
    let mut theirs: Vec<&str> = hogwarden_lambda::Task::ALL.iter().map(|t| t.name()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
}

#[test]
fn a_schedule_input_that_is_not_the_task_json_is_caught() {
    let renamed_field = broken(r#"{"task":"sweep","scheduled_time""#, r#"{"task":"sweep","scheduledTime""#);
    let problems = check_schedules(&renamed_field);
    assert!(problems.iter().any(|p| p.contains("SweepSchedule: Input") && p.contains("not the scheduled task JSON")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("task sweep (for hogwarden-reverts) is scheduled 0 times")), "{problems:#?}");

    let wrong_task = broken(r#"{"task":"key_check""#, r#"{"task":"sweep""#);
    let problems = check_schedules(&wrong_task);
    assert!(problems.iter().any(|p| p.contains("KeyCheckSchedule: Input is") && p.contains("key_check")), "{problems:#?}");

    let literal_time =
        broken(r#""<aws.scheduler.scheduled-time>","execution_id":"<aws.scheduler.execution-id>"}'"#, r#""now","execution_id":"1"}'"#);
    assert!(!check_schedules(&literal_time).is_empty());
}

#[test]
fn a_schedule_with_a_flexible_window_no_dead_letter_queue_or_a_broad_role_is_caught() {
    let flexible = broken("FlexibleTimeWindow: {Mode: \"OFF\"}", "FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 5}");
    assert!(check_schedules(&flexible).iter().any(|p| p.contains("FlexibleTimeWindow.Mode must be OFF")));

    let no_dlq = broken(
        "        RetryPolicy: {MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 5}\n        DeadLetterConfig: {Arn: !GetAtt ScheduleDeadLetterQueue.Arn}\n",
        "        RetryPolicy: {MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 5}\n",
    );
    assert!(check_schedules(&no_dlq).iter().any(|p| p.contains("KeyCheckSchedule: the target has no DeadLetterConfig")));

    let broad = broken(
        "{Effect: Allow, Action: lambda:InvokeFunction, Resource: !GetAtt ReviewsFunction.Arn}",
        "{Effect: Allow, Action: lambda:InvokeFunction, Resource: [!GetAtt ReviewsFunction.Arn, !GetAtt GrantsFunction.Arn]}",
    );
    let problems = check_schedules(&broad);
    assert!(problems.iter().any(|p| p.contains("QuarterlyReviewScheduleRole may invoke")), "{problems:#?}");
}

#[test]
fn the_internet_facing_webhook_cannot_rewrite_the_secrets_that_authenticate_it() {
    // The webhook has no authorizer: whoever takes over its function must not be able
    // to replace the webhook secrets, GitHub's token, project tokens or the PostHog key.
    let problems = check_webhook_privileges(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_webhook_role_that_may_write_its_own_secrets_is_caught() {
    let problems =
        check_webhook_privileges(&broken("Sid: NeverWriteTheSecretsThatAuthenticateOrLoad\n              Effect: Deny", "Effect: Allow"));
    assert!(problems.iter().any(|p| p.contains("PutSecretValue on a webhook secret")), "{problems:#?}");
    assert!(
        problems.iter().any(|p| p.contains("on the PostHog key")) || problems.iter().any(|p| p.contains("GitHub's token")),
        "{problems:#?}"
    );
}

#[test]
fn a_webhook_sharing_its_function_with_token_routes_is_caught() {
    let problems = check_webhook_privileges(&broken(
        "        # Leak alerts are authenticated by their HMAC signature, not by a user's token.\n",
        "        Keys: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: GET, Path: /api/keys/extra}}\n",
    ));
    assert!(problems.iter().any(|p| p.contains("also GET /api/keys/extra")), "{problems:#?}");
}

#[test]
fn a_webhook_role_with_an_index_or_deletes_is_caught() {
    let problems = check_webhook_privileges(&broken(
        "              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]\n              Resource: !GetAtt Table.Arn\n            - Sid: PostHogKey\n              Effect: Allow\n              # Read only",
        "              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query, dynamodb:DeleteItem]\n              Resource: !Sub \"${Table.Arn}/index/GSI1\"\n            - Sid: PostHogKey\n              Effect: Allow\n              # Read only",
    ));
    assert!(problems.iter().any(|p| p.contains("may dynamodb:DeleteItem")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("/index/GSI1")), "{problems:#?}");
}

#[test]
fn secrets_manager_may_invoke_the_rotation_function_only_for_this_accounts_hogwarden_secrets() {
    let problems = check_invoke_permissions(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_secrets_manager_permission_without_source_arn_is_caught() {
    let problems = check_invoke_permissions(&broken(
        "      SourceArn: !Sub \"arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:hogwarden/*\"\n",
        "",
    ));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("no SourceArn"), "{problems:#?}");
}

#[test]
fn every_page_cloudfront_serves_carries_a_strict_content_security_policy() {
    let problems = check_web_headers(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_managed_security_headers_policy_without_a_csp_is_caught() {
    let problems = check_web_headers(&broken(
        "          ResponseHeadersPolicyId: !Ref WebResponseHeadersPolicy",
        "          ResponseHeadersPolicyId: 67f7725c-6f97-4210-82d7-5512b31e9d03",
    ));
    assert!(problems.iter().any(|p| p.contains("DefaultCacheBehavior") && p.contains("sets no CSP")), "{problems:#?}");
}

#[test]
fn a_csp_that_allows_inline_scripts_or_framing_is_caught() {
    let problems =
        check_web_headers(&broken("script-src 'self' 'wasm-unsafe-eval'", "script-src 'self' 'wasm-unsafe-eval' 'unsafe-inline'"));
    assert!(problems.iter().any(|p| p.contains("script-src allows 'unsafe-inline'")), "{problems:#?}");
    let problems = check_web_headers(&broken("frame-ancestors 'none'; ", ""));
    assert!(problems.iter().any(|p| p.contains("frame-ancestors")), "{problems:#?}");
    assert!(!csp_problems("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'").iter().any(|p| p.contains("data:")));
}
