//! Malformed and hostile requests: each gets a 4xx whose message names the problem,
//! and neither Hogwarden's store nor PostHog changes.

use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use hogwarden_local::issuer::LocalIssuer;
use serde_json::json;

/// How a case authenticates.
enum Auth {
    As(&'static str),
    None,
    Raw(String),
}

struct Case {
    name: &'static str,
    auth: Auth,
    method: reqwest::Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// A piece of the message that names the problem (case-insensitive).
    says: &'static str,
}

fn post(name: &'static str, body: &serde_json::Value, status: u16, says: &'static str) -> Case {
    Case {
        name,
        auth: Auth::As(MEMBER),
        method: reqwest::Method::POST,
        path: "/api/requests".into(),
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status,
        says,
    }
}

fn valid_body() -> serde_json::Value {
    json!({ "changes": [{ "kind": "org_role", "role": "admin" }], "duration_minutes": 60, "reason": "Configure the experiment" })
}

fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
    let mut b = valid_body();
    b[field] = value;
    b
}

async fn send(t: &TestStack, case: &Case) -> hogwarden_e2e::Reply {
    let mut req = t.http.request(case.method.clone(), t.url(&case.path)).body(case.body.clone());
    if let Some(ct) = case.content_type {
        req = req.header("content-type", ct);
    }
    match &case.auth {
        Auth::As(who) => req = req.bearer_auth(t.token(who)),
        Auth::Raw(token) => req = req.header("authorization", format!("Bearer {token}")),
        Auth::None => {}
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    hogwarden_e2e::Reply { status, body, headers }
}

#[tokio::test]
async fn malformed_and_hostile_requests_get_a_clear_4xx_and_change_nothing() {
    // Arrange: one legitimate pending request, so there is something to attack.
    let t = spawn_stack().await;
    let existing = t.request_temporary_admin(SECOND_APPROVER, 30).await;
    let audit_before = t.verify().await.entries;
    let writes_before = t.sandbox().write_count();
    let requests_before = t.get(APPROVER, "/api/inbox").await.body;

    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger = LocalIssuer::load_or_create(stranger_dir.path(), t.stack.issuer.issuer(), "hogwarden").unwrap();
    let other_issuer = LocalIssuer::load_or_create(t.stack.database.parent().unwrap(), "https://evil.example", "hogwarden").unwrap();
    let other_audience = LocalIssuer::load_or_create(t.stack.database.parent().unwrap(), t.stack.issuer.issuer(), "someone-else").unwrap();
    let minute = chrono::Duration::minutes(5);
    let expired = t.stack.issuer.issue(MEMBER, "Frank", &["hogwarden-requester"], chrono::Duration::minutes(-10)).unwrap();

    let mut cases = vec![
        post("bad subject email", &with("subject_email", json!("not-an-email")), 400, "not a valid email"),
        post(
            "unknown org role",
            &json!({ "changes": [{ "kind": "org_role", "role": "superuser" }], "reason": "Configure the experiment" }),
            400,
            "not an organization role",
        ),
        post(
            "owner is never granted",
            &json!({ "changes": [{ "kind": "org_role", "role": "owner" }], "reason": "Configure the experiment" }),
            400,
            "owner is never granted",
        ),
        post(
            "unknown project role",
            &json!({ "changes": [{ "kind": "project_role", "project_id": 1001, "role": "god" }], "reason": "Configure the experiment" }),
            400,
            "not a project role",
        ),
        post("negative duration", &with("duration_minutes", json!(-5)), 400, "duration"),
        post("zero duration", &with("duration_minutes", json!(0)), 400, "duration"),
        post("huge duration", &with("duration_minutes", json!(10_000_000_000i64)), 400, "duration"),
        post("duration over the policy cap", &with("duration_minutes", json!(48 * 60)), 422, "at most"),
        post("missing reason", &json!({ "changes": [{ "kind": "org_role", "role": "admin" }] }), 400, "reason"),
        post("blank reason", &with("reason", json!("   ")), 400, "reason is required"),
        post(
            "unknown project",
            &json!({ "changes": [{ "kind": "project_role", "project_id": 999999, "role": "member" }], "reason": "Configure the experiment" }),
            404,
            "project 999999",
        ),
        post(
            "non-positive project id",
            &json!({ "changes": [{ "kind": "project_role", "project_id": -3, "role": "member" }], "reason": "Configure the experiment" }),
            400,
            "project id",
        ),
        post("duration of the wrong type", &with("duration_minutes", json!("sixty")), 400, "invalid type"),
        post("changes not a list", &with("changes", json!("admin please")), 400, "invalid type"),
        post("no changes", &with("changes", json!([])), 422, "at least one change"),
        post("unknown change kind", &with("changes", json!([{ "kind": "billing_owner" }])), 400, "unknown variant"),
        post("unknown field", &with("make_me_owner", json!(true)), 400, "unknown field"),
        post("ticket with spaces", &with("ticket", json!("OPS 42; DROP TABLE")), 400, "ticket"),
        post(
            "the same target twice",
            &with("changes", json!([{ "kind": "org_role", "role": "admin" }, { "kind": "org_role", "role": "member" }])),
            422,
            "same access twice",
        ),
        post("subject not in the organization", &with("subject_email", json!("nobody@elsewhere.example")), 404, "not found"),
        Case { body: vec![b'{'; 100 * 1024], ..post("oversized body", &json!(null), 413, "larger than") },
        Case { body: b"changes=admin".to_vec(), ..post("not JSON", &json!(null), 400, "not valid JSON") },
        Case { content_type: None, ..post("no content type", &valid_body(), 415, "application/json") },
        Case { auth: Auth::None, ..post("no token", &valid_body(), 401, "sign in") },
        Case { auth: Auth::Raw("not.a.jwt".into()), ..post("malformed token", &valid_body(), 401, "well-formed") },
        Case { auth: Auth::Raw(expired), ..post("expired token", &valid_body(), 401, "expired") },
        Case {
            auth: Auth::Raw(stranger.issue(MEMBER, "Frank", &["hogwarden-requester"], minute).unwrap()),
            ..post("token signed by another key", &valid_body(), 401, "key")
        },
        Case {
            auth: Auth::Raw(other_issuer.issue(MEMBER, "Frank", &["hogwarden-requester"], minute).unwrap()),
            ..post("token from another issuer", &valid_body(), 401, "issuer")
        },
        Case {
            auth: Auth::Raw(other_audience.issue(MEMBER, "Frank", &["hogwarden-requester"], minute).unwrap()),
            ..post("token for another audience", &valid_body(), 401, "audience")
        },
        // {"alg":"HS256","typ":"JWT"} — an algorithm-confusion attempt.
        Case {
            auth: Auth::Raw("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4IiwiZW1haWwiOiJmcmFua0BleGFtcGxlLmNvbSJ9.c2ln".into()),
            ..post("HS256 token", &valid_body(), 401, "algorithm")
        },
        // {"alg":"none"}
        Case { auth: Auth::Raw("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into()), ..post("unsigned token", &valid_body(), 401, "not valid") },
        Case {
            path: "/api/requests/not-a-uuid/approve".into(),
            auth: Auth::As(APPROVER),
            ..post("bad request id", &json!({}), 400, "not a valid id")
        },
        Case {
            path: "/api/requests/0190c7e6-0000-7000-8000-000000000000/approve".into(),
            auth: Auth::As(APPROVER),
            ..post("unknown request", &json!({}), 404, "not found")
        },
        Case {
            path: format!("/api/requests/{}/approve", existing.id),
            ..post("a member is not an approver", &json!({}), 403, "approver role")
        },
        Case {
            path: format!("/api/requests/{}/approve", existing.id),
            auth: Auth::As(SECOND_APPROVER),
            ..post("self-approval", &json!({}), 403, "own request")
        },
        Case {
            path: format!("/api/requests/{}/deny", existing.id),
            auth: Auth::As(APPROVER),
            ..post("deny without a reason", &json!({}), 400, "reason")
        },
        Case {
            path: "/api/grants/0190c7e6-0000-7000-8000-000000000000/revoke".into(),
            ..post("revoke an unknown grant", &json!({}), 404, "not found")
        },
        Case {
            method: reqwest::Method::GET,
            path: "/api/audit?kind=everything".into(),
            body: Vec::new(),
            ..post("unknown audit kind", &json!(null), 400, "not an audit entry kind")
        },
        Case {
            method: reqwest::Method::GET,
            path: "/api/audit?limit=0".into(),
            body: Vec::new(),
            ..post("audit limit zero", &json!(null), 400, "limit")
        },
        Case {
            method: reqwest::Method::GET,
            path: "/api/audit?from=yesterday".into(),
            body: Vec::new(),
            ..post("audit bad time", &json!(null), 400, "rfc 3339")
        },
        Case {
            method: reqwest::Method::GET,
            path: "/api/nothing-here".into(),
            body: Vec::new(),
            ..post("unknown route", &json!(null), 404, "no such api route")
        },
    ];
    cases.push(post("reason over the limit", &with("reason", json!("x".repeat(1001))), 400, "too long"));
    // Bidirectional overrides reorder what Slack and email show; hidden characters hide text.
    cases.push(post(
        "reason with a right-to-left override",
        &with("reason", json!("Debug the flag \u{202E}nimda em ekam")),
        400,
        "reason must be one line of visible text: remove the invisible formatting character U+202E",
    ));
    cases.push(post("reason with a zero-width space", &with("reason", json!("Debug\u{200B} the flag")), 400, "U+200B"));
    cases.push(post("reason with a control character", &with("reason", json!("Debug the flag\u{0007}")), 400, "reason must be one line"));
    cases.push(post(
        "reason with a line break",
        &with("reason", json!("Debug the flag\n- [x] Approved by security")),
        400,
        "line break U+000A",
    ));
    cases.push(post("ticket with a bidi isolate", &with("ticket", json!("OPS-42\u{2067}")), 400, "ticket must be"));
    assert!(cases.len() >= 25);

    // Act + Assert, case by case.
    let mut failures = Vec::new();
    for case in &cases {
        let reply = send(&t, case).await;
        let message = reply.message().to_lowercase();
        if reply.status != case.status || !message.contains(&case.says.to_lowercase()) {
            failures
                .push(format!("{}: expected {} mentioning {:?}, got {} {}", case.name, case.status, case.says, reply.status, reply.body));
        }
        if reply.status == 401 && reply.headers.get("www-authenticate").is_none() {
            failures.push(format!("{}: 401 without WWW-Authenticate", case.name));
        }
        assert!(!reply.body.to_string().contains("phx_"), "{}: a key leaked into a response", case.name);
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

    // Nothing changed: no new audit entry, no new request, no PostHog write.
    assert_eq!(t.verify().await.entries, audit_before);
    assert_eq!(t.get(APPROVER, "/api/inbox").await.body, requests_before);
    assert_eq!(t.sandbox().write_count(), writes_before);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    t.shutdown().await;
}
