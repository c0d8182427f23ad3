//! The security review's sign-in findings, each as the attack: the dev sign-in against
//! a stack that manages a real PostHog (C1), a request addressed to another host, as a
//! DNS-rebinding page sends it (C1), an unverified email and a second account behind
//! the same email (H4), an identity-provider group that merely contains "admin" (M1),
//! and a data folder other users can read (L7).

use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, spawn_stack, spawn_stack_with};
use hogwarden_local::PostHogTarget;
use posthog_sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::json;

/// A stack whose PostHog is "real" (a sandbox it did not start, reached by URL and
/// key, exactly as `--posthog-host` configures it).
async fn stack_with_real_posthog(insecure_dev_sign_in: bool) -> (hogwarden_e2e::TestStack, posthog_sandbox::SandboxHandle) {
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (host, org, key) = (url::Url::parse(&sandbox.base_url()).unwrap(), sandbox.organization_id(), sandbox.service_api_key());
    let t = spawn_stack_with(move |c| {
        c.posthog = PostHogTarget::Existing { host, organization_id: org, api_key: Some(SecretString::from(key)) };
        c.insecure_dev_sign_in = insecure_dev_sign_in;
    })
    .await;
    (t, sandbox)
}

#[tokio::test]
async fn the_dev_sign_in_is_refused_when_the_stack_manages_a_real_posthog() {
    // Arrange
    let (t, sandbox) = stack_with_real_posthog(false).await;

    // Act: anyone who reaches the port asks for the admin demo user's token.
    let login = t.dev_login(APPROVER).await;
    let users = t.http.get(t.url("/auth/demo-users")).send().await.unwrap();

    // Assert
    assert_eq!(login.status, 403, "{:?}", login.body);
    assert!(login.message().contains("dev sign-in is off") && login.message().contains("--insecure-dev-sign-in"), "{}", login.message());
    assert!(login.body.get("access_token").is_none());
    assert_eq!(users.status().as_u16(), 403);
    t.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_dev_sign_in_with_a_real_posthog_needs_the_insecure_opt_in() {
    let (t, sandbox) = stack_with_real_posthog(true).await;
    let login = t.dev_login(MEMBER).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    t.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_request_addressed_to_another_host_is_refused() {
    // Arrange
    let t = spawn_stack().await;
    let port = t.stack.addr.port();
    let with_host = |host: String| t.http.get(t.url("/api/me")).bearer_auth(t.token(MEMBER)).header("host", host);

    // Act: a DNS-rebinding page's request carries its own name.
    let rebound = with_host("evil.example".into()).send().await.unwrap();
    let rebound_with_port = with_host(format!("evil.example:{port}")).send().await.unwrap();
    let login =
        t.http.post(t.url("/auth/dev-login")).header("host", "evil.example").json(&json!({ "email": APPROVER })).send().await.unwrap();
    let local = with_host(format!("localhost:{port}")).send().await.unwrap();
    let loopback = with_host(format!("127.0.0.1:{port}")).send().await.unwrap();

    // Assert
    assert_eq!(rebound.status().as_u16(), 400);
    let body: serde_json::Value = rebound.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Host header 'evil.example'") && message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert_eq!(rebound_with_port.status().as_u16(), 400);
    assert_eq!(login.status().as_u16(), 400, "no token for a rebound page");
    assert_eq!(local.status().as_u16(), 200);
    assert_eq!(loopback.status().as_u16(), 200);
    t.shutdown().await;
}

#[tokio::test]
async fn an_allowed_host_given_by_the_operator_is_answered() {
    let t = spawn_stack_with(|c| c.allowed_hosts = vec!["hogwarden.internal:8443".into()]).await;
    let res = t.http.get(t.url("/healthz")).header("host", "hogwarden.internal:8443").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = t.http.get(t.url("/healthz")).header("host", "hogwarden.internal").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400, "the port is part of the name");
    t.shutdown().await;
}

/// A token from the stack's own issuer with these claims replaced.
fn token_with(t: &hogwarden_e2e::TestStack, email: &str, groups: &[&str], extra: serde_json::Value) -> String {
    let serde_json::Value::Object(extra) = extra else { panic!("claims are an object") };
    t.stack.issuer.issue_with_claims(email, "Someone", groups, extra, chrono::Duration::minutes(5)).unwrap()
}

async fn me(t: &hogwarden_e2e::TestStack, token: &str) -> (u16, serde_json::Value) {
    let res = t.http.get(t.url("/api/me")).bearer_auth(token).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_token_whose_email_is_not_verified_is_refused() {
    // Arrange
    let t = spawn_stack().await;
    let unverified = token_with(&t, APPROVER, &["hogwarden-admin"], json!({ "email_verified": false }));
    let unverified_string = token_with(&t, APPROVER, &["hogwarden-admin"], json!({ "email_verified": "false" }));

    // Act
    let (status, body) = me(&t, &unverified).await;
    let (status_string, _) = me(&t, &unverified_string).await;
    let inbox = t.http.get(t.url("/api/inbox")).bearer_auth(&unverified).send().await.unwrap();

    // Assert
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("email_verified"), "{body}");
    assert_eq!(status_string, 401);
    assert_eq!(inbox.status().as_u16(), 401);
    assert_eq!(me(&t, &t.token(APPROVER)).await.0, 200, "the dev sign-in's tokens say the email is verified");
    t.shutdown().await;
}

#[tokio::test]
async fn a_second_account_with_the_same_email_is_refused() {
    // Arrange: frank signs in with his account; the binding is kept in the store.
    let t = spawn_stack().await;
    assert_eq!(me(&t, &t.token(MEMBER)).await.0, 200);
    let other_account = token_with(&t, MEMBER, &["hogwarden-requester"], json!({ "sub": "other-idp|frank" }));

    // Act
    let (status, body) = me(&t, &other_account).await;
    let request = t
        .http
        .post(t.url("/api/requests"))
        .bearer_auth(&other_account)
        .json(&json!({ "changes": [{ "kind": "org_role", "role": "member" }], "reason": "Configure the experiment" }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("'sub'") && message.contains(MEMBER), "{message}");
    assert!(!message.contains("local|"), "the bound subject is not disclosed: {message}");
    assert_eq!(request.status().as_u16(), 401);
    assert_eq!(me(&t, &t.token(MEMBER)).await.0, 200, "the first account still signs in");
    // The first subject seen for an email is the one kept: grace's other account came first.
    let first = token_with(&t, OTHER_MEMBER, &["hogwarden-requester"], json!({ "sub": "first|grace" }));
    assert_eq!(me(&t, &first).await.0, 200);
    assert_eq!(me(&t, &t.token(OTHER_MEMBER)).await.0, 401);
    t.shutdown().await;
}

#[tokio::test]
async fn a_group_that_only_mentions_admin_gives_no_role() {
    // Arrange: identity-provider groups a company really has.
    let t = spawn_stack().await;
    let billing_admin = token_with(&t, MEMBER, &["Billing admin"], json!({}));
    let bare = token_with(&t, OTHER_MEMBER, &["admin", "approver", "requester"], json!({}));

    // Act
    let (status, body) = me(&t, &billing_admin).await;
    let (bare_status, bare_body) = me(&t, &bare).await;
    let drift = t.http.get(t.url("/api/drift")).bearer_auth(&billing_admin).send().await.unwrap();

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["roles"], json!([]), "{body}");
    assert_eq!(bare_status, 200, "{bare_body}");
    assert_eq!(bare_body["roles"], json!([]), "bare names are not Hogwarden's groups: {bare_body}");
    assert_eq!(drift.status().as_u16(), 403, "an admin-only page stays closed");
    assert_eq!(t.http.get(t.url("/api/drift")).bearer_auth(t.token(APPROVER)).send().await.unwrap().status().as_u16(), 200);
    let (_, alice) = me(&t, &t.token(APPROVER)).await;
    assert_eq!(alice["roles"], json!(["requester", "approver", "admin"]), "hogwarden-* groups still give roles");
    t.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    // Arrange: a data folder that does not exist yet.
    let t = spawn_stack_with(|c| c.data_dir = c.data_dir.join("fresh")).await;
    // A write, so the WAL and shared-memory files are there.
    assert_eq!(t.dev_login(MEMBER).await.status, 200);
    let db = t.stack.database.clone();
    let dir = db.parent().unwrap().to_owned();

    // Assert
    assert!(dir.ends_with("fresh"));
    assert_eq!(mode(&dir), 0o700, "data folder");
    for file in [db.clone(), dir.join("hogwarden.db-wal"), dir.join("hogwarden.db-shm")] {
        assert!(file.exists(), "{}", file.display());
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    t.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_database_left_readable_by_an_older_version_is_narrowed() {
    use std::os::unix::fs::PermissionsExt;
    let t = spawn_stack_with(|c| {
        let db = c.data_dir.join("hogwarden.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    })
    .await;
    assert_eq!(std::fs::metadata(&t.stack.database).unwrap().permissions().mode() & 0o777, 0o600);
    t.shutdown().await;
}
