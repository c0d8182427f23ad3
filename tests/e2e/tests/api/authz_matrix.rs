//! The authorization matrix: every operation of the OpenAPI document served by the running
//! stack (and the public routes outside it), called by six kinds of caller, each answer's
//! class compared with the checked-in table `authz_matrix.tsv`.
//!
//! A class is `401` (no identity), `403` (forbidden), or `ok` (got past authorization: any
//! other 2xx or 4xx). A 5xx is never expected. A route without a row, a row without a route,
//! and every mismatch are reported together in one failure.
//!
//! `AUTHZ_MATRIX_PRINT=1` prints the observed table (same format) to start a new row from.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use posthog_sandbox::SERVICE_EMAIL;
use serde_json::{Value, json};

const TABLE: &str = include_str!("authz_matrix.tsv");

/// Served by the stack but not part of the OpenAPI document; they have rows too.
const OUTSIDE_THE_DOCUMENT: &[(&str, &str)] = &[
    ("GET", "/api/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/config.json"),
    ("GET", "/auth/demo-users"),
    ("POST", "/auth/dev-login"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
];

/// A PostHog member whose token carries no Hogwarden group.
const NO_GROUP: &str = "heidi@example.com";
/// Has the approver group in the identity provider, but was removed from PostHog.
const DEPARTED: &str = "charlie@example.com";
const LEAVER: &str = "laura@example.com";
/// An approver who is none of the callers: starts the offboarding, so that no caller is its
/// creator (who may not approve it).
const THIRD_APPROVER: &str = "diana@example.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    NoToken,
    NoGroup,
    Requester,
    Approver,
    Admin,
    Departed,
}

/// The table's column order.
const COLUMNS: [Who; 6] = [Who::NoToken, Who::NoGroup, Who::Requester, Who::Approver, Who::Admin, Who::Departed];
/// Least privileged first, so a caller who is refused meets each object before a caller who
/// may act on it has changed it (an earlier 409 must not hide a missing 403).
const CALL_ORDER: [Who; 6] = [Who::NoToken, Who::NoGroup, Who::Requester, Who::Departed, Who::Approver, Who::Admin];

impl Who {
    fn name(self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::NoGroup => "no_group",
            Self::Requester => "requester",
            Self::Approver => "approver",
            Self::Admin => "admin",
            Self::Departed => "departed",
        }
    }

    fn column(self) -> usize {
        COLUMNS.iter().position(|c| *c == self).expect("every caller is a column")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unauthenticated,
    Forbidden,
    Passed,
    ServerError,
}

impl Class {
    fn of(status: u16) -> Self {
        match status {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            500.. => Self::ServerError,
            _ => Self::Passed,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "401" => Some(Self::Unauthenticated),
            "403" => Some(Self::Forbidden),
            "ok" => Some(Self::Passed),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "401",
            Self::Forbidden => "403",
            Self::Passed => "ok",
            Self::ServerError => "5xx",
        }
    }
}

type Operation = (String, String);

#[derive(Debug)]
struct Row {
    line: usize,
    expected: [Class; 6],
    /// The row's trailing comment, e.g. `fixed by M2`.
    note: Option<String>,
}

/// `METHOD PATH no_token no_group requester approver admin departed [# comment]`;
/// blank lines and lines starting with `#` are skipped.
fn parse_table(text: &str) -> BTreeMap<Operation, Row> {
    let mut rows = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let (content, note) = match raw.split_once('#') {
            Some((c, n)) => (c, Some(n.trim().to_owned()).filter(|n| !n.is_empty())),
            None => (raw, None),
        };
        let fields: Vec<&str> = content.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        assert_eq!(fields.len(), 8, "authz_matrix.tsv:{line}: expected METHOD PATH and six classes, got {raw:?}");
        let mut expected = [Class::Passed; 6];
        for (slot, field) in expected.iter_mut().zip(&fields[2..]) {
            *slot = Class::parse(field).unwrap_or_else(|| panic!("authz_matrix.tsv:{line}: {field:?} is not a class (401, 403 or ok)"));
        }
        let op = (fields[0].to_ascii_uppercase(), fields[1].to_owned());
        let previous = rows.insert(op.clone(), Row { line, expected, note });
        assert!(previous.is_none(), "authz_matrix.tsv:{line}: {} {} has a second row", op.0, op.1);
    }
    rows
}

/// The operations the running stack documents, as (METHOD, path template).
fn documented_operations(doc: &Value) -> BTreeSet<Operation> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let paths = doc["paths"].as_object().expect("the OpenAPI document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(move |m| item.get(**m).is_some()).map(move |m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

/// Real objects for the routes that act on one, made in a shared setup.
#[derive(Debug)]
struct Fixtures {
    request: String,
    grant: String,
    bulk_set: String,
    offboarding: String,
    campaign: String,
    item: String,
    drift: String,
    consumer: String,
    web_app: i64,
    production: i64,
}

fn enc(id: &str) -> String {
    id.replace('@', "%40").replace('#', "%23")
}

const BULK_CSV: &str = "email,project,role,end_date\nivan@example.com,Web App,member,\n";

async fn ok(reply: hogwarden_e2e::Reply, what: &str) -> Value {
    assert!((200..300).contains(&reply.status), "setup: {what}: {} {:?}", reply.status, reply.body);
    reply.body
}

async fn setup(t: &TestStack) -> Fixtures {
    let diana = t
        .stack
        .issuer
        .issue(THIRD_APPROVER, "Diana", &["hogwarden-requester", "hogwarden-approver"], chrono::Duration::minutes(60))
        .expect("a token");
    let web_app = t.sandbox().project_id("Web App").expect("Web App");
    let production = t.sandbox().project_id("Production").expect("Production");

    // Drift: the first check takes the baseline, then a change made directly in PostHog.
    ok(t.post(APPROVER, "/api/drift/check", json!({})).await, "drift baseline").await;
    t.sandbox().set_member_level_as(SERVICE_EMAIL, "ivan@example.com", 8).expect("ivan becomes admin in PostHog");
    let report: dto::DriftReportDto =
        serde_json::from_value(ok(t.post(APPROVER, "/api/drift/check", json!({})).await, "drift check").await).unwrap();
    let drift = report.findings.first().expect("ivan's level is drift").id.clone();

    // A pending request and an active grant, both grace's (no caller's own).
    let request = t.request_temporary_admin(OTHER_MEMBER, 60).await.id;
    let granted = t.request_temporary_admin(OTHER_MEMBER, 60).await.id;
    ok(t.approve(APPROVER, &granted).await, "first approval").await;
    let second = t.approve(SECOND_APPROVER, &granted).await;
    assert!(second.status < 500, "setup: second approval: {:?}", second.body);
    let grants: dto::GrantList = serde_json::from_value(ok(t.get(APPROVER, "/api/grants").await, "grants").await).unwrap();
    let grant = grants.grants.iter().find(|g| g.request_id == granted).expect("grace's grant").id.clone();

    let bulk_set = ok(
        t.post(APPROVER, "/api/bulk/sets", json!({ "format": "csv", "content": BULK_CSV, "reason": "Matrix probe, OPS-1" })).await,
        "bulk set",
    )
    .await["id"]
        .as_str()
        .expect("set id")
        .to_owned();
    let body = json!({ "email": LEAVER, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday" });
    let offboarding = ok(call_as(t, &diana, "POST", "/api/offboardings", Some(body)).await, "offboarding").await["id"]
        .as_str()
        .expect("offboarding id")
        .to_owned();

    // A review campaign, with one item (not bob's own access) reviewed by bob.
    let opened: dto::CampaignDetail =
        serde_json::from_value(ok(t.post(APPROVER, "/api/reviews", json!({})).await, "campaign").await).unwrap();
    let campaign = opened.campaign.id.clone();
    let item = opened.items.iter().find(|i| i.person != SECOND_APPROVER && i.person != DEPARTED).expect("a review item");
    if item.reviewer.as_deref() != Some(SECOND_APPROVER) {
        let path = format!("/api/reviews/{campaign}/items/{}/reassign", enc(&item.id));
        ok(t.post(APPROVER, &path, json!({ "reviewer": SECOND_APPROVER })).await, "reassign").await;
    }
    let item = item.id.clone();

    let consumer = ok(
        t.post(
            APPROVER,
            "/api/keys/consumers",
            json!({ "key": format!("project_token:{web_app}"), "kind": "frontend_sdk", "name": "Matrix probe", "owner": MEMBER }),
        )
        .await,
        "consumer",
    )
    .await["id"]
        .as_str()
        .expect("consumer id")
        .to_owned();

    Fixtures { request, grant, bulk_set, offboarding, campaign, item, drift, consumer, web_app, production }
}

/// The concrete path (with query) for an operation: real ids where the route needs one.
fn concrete_path(method: &str, template: &str, f: &Fixtures) -> String {
    let object = |param: &str| -> String {
        match (param, template) {
            ("id", p) if p.starts_with("/api/requests/") => f.request.clone(),
            ("id", p) if p.starts_with("/api/grants/") => f.grant.clone(),
            ("id", p) if p.starts_with("/api/bulk/sets/") => f.bulk_set.clone(),
            ("id", p) if p.starts_with("/api/offboardings/") => f.offboarding.clone(),
            ("id", p) if p.starts_with("/api/reviews/") => f.campaign.clone(),
            ("item", p) if p.starts_with("/api/reviews/") => enc(&f.item),
            ("id", p) if p.starts_with("/api/drift/") => enc(&f.drift),
            ("id", p) if p.starts_with("/api/keys/consumers/") => f.consumer.clone(),
            ("project", p) if p.starts_with("/api/keys/rotations/") => f.web_app.to_string(),
            ("provider", "/webhooks/{provider}") => "generic".to_owned(),
            _ => panic!("{method} {template}: no fixture for the path parameter {{{param}}}; add one in authz_matrix.rs"),
        }
    };
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).expect("a closed path parameter");
        path.push_str(&rest[..open]);
        path.push_str(&object(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    match template {
        "/api/diagnose" => format!("{path}?email={}&project_id={}", enc(OTHER_MEMBER), f.production),
        _ => path,
    }
}

/// A minimal valid body, so that a refusal is about the caller and not the input.
fn body(method: &str, template: &str, f: &Fixtures) -> Option<Value> {
    if method == "GET" || method == "DELETE" {
        return None;
    }
    let reason = "Matrix probe for OPS-1";
    Some(match template {
        "/api/requests" => json!({
            "changes": [{ "kind": "org_role", "role": "admin" }],
            "duration_minutes": 60,
            "reason": reason,
            "ticket": "OPS-1",
        }),
        "/api/requests/{id}/approve" => json!({ "comment": "ok" }),
        "/api/requests/{id}/deny" | "/api/offboardings/{id}/deny" => json!({ "reason": reason }),
        "/api/bulk/plan" => json!({ "format": "csv", "content": BULK_CSV }),
        "/api/bulk/sets" => json!({ "format": "csv", "content": BULK_CSV, "reason": reason }),
        "/api/grants/{id}/extend" => json!({ "until": "2026-03-15T12:00:00Z", "reason": reason }),
        "/api/grants/{id}/revoke" => return None,
        "/api/offboardings/preview" => json!({ "email": LEAVER, "new_owner": OTHER_MEMBER }),
        "/api/offboardings" => json!({ "email": "mallory@example.com", "new_owner": OTHER_MEMBER, "reason": reason }),
        "/api/sso/plan" => json!({ "people": [] }),
        "/api/sso/apply" => json!({ "people": [], "fingerprint": "0000" }),
        "/api/reviews/{id}/decisions" => json!({ "items": [f.item], "decision": "keep" }),
        "/api/reviews/{id}/items/{item}/decision" => json!({ "decision": "keep" }),
        "/api/reviews/{id}/items/{item}/reassign" => json!({ "reviewer": SECOND_APPROVER }),
        "/api/keys/service" => json!({ "key": "phx_matrix_probe_not_a_real_key" }),
        "/api/keys/consumers" => json!({
            "key": format!("project_token:{}", f.web_app),
            "kind": "frontend_sdk",
            "name": "Matrix probe, a second place",
            "owner": MEMBER,
        }),
        "/api/keys/rotations/{project}" => json!({ "reason": reason }),
        "/auth/dev-login" => json!({ "email": MEMBER }),
        _ => json!({}),
    })
}

/// `t.post` for a caller who is not a demo user.
async fn call_as(t: &TestStack, token: &str, method: &str, path: &str, body: Option<Value>) -> hogwarden_e2e::Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut req = t.http.request(method, t.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("the stack answers");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    hogwarden_e2e::Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), headers }
}

struct Observed {
    status: u16,
    code: String,
    message: String,
}

async fn call(t: &TestStack, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Observed {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut req = t.http.request(method, t.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("the stack answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str::<Value>(&text).unwrap_or_default();
    let text_of = |key: &str| body["error"][key].as_str().unwrap_or_default().to_owned();
    Observed { status, code: text_of("code"), message: text_of("message") }
}

#[tokio::test]
async fn every_operation_answers_each_kind_of_caller_as_the_checked_in_table_says() {
    // Arrange: one stack, the six callers, an object for each route that acts on one.
    let t = spawn_stack().await;
    let hour = chrono::Duration::minutes(60);
    let mint = |email: &str, groups: &[&str]| t.stack.issuer.issue(email, email, groups, hour).expect("a token");
    let tokens: [(Who, Option<String>); 6] = [
        (Who::NoToken, None),
        (Who::NoGroup, Some(mint(NO_GROUP, &[]))),
        (Who::Requester, Some(t.token(MEMBER))),
        (Who::Approver, Some(t.token(SECOND_APPROVER))),
        (Who::Admin, Some(t.token(APPROVER))),
        (Who::Departed, Some(mint(DEPARTED, &["hogwarden-requester", "hogwarden-approver"]))),
    ];
    let fixtures = setup(&t).await;
    t.sandbox().remove_member_as(SERVICE_EMAIL, DEPARTED).expect("charlie leaves PostHog");

    let doc = call(&t, None, "GET", "/api/openapi.json", None).await;
    assert_eq!(doc.status, 200, "the OpenAPI document is served");
    let doc: Value = t.http.get(t.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut operations = documented_operations(&doc);
    assert!(operations.len() > 50, "the document lists the API ({} operations)", operations.len());
    operations.extend(OUTSIDE_THE_DOCUMENT.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())));
    let table = parse_table(TABLE);

    // Act: every caller, least privileged first, calls every operation.
    let mut observed: BTreeMap<Operation, [Option<Observed>; 6]> = BTreeMap::new();
    for (who, token) in CALL_ORDER.iter().map(|w| tokens.iter().find(|(c, _)| c == w).expect("a token per caller")) {
        for (method, template) in &operations {
            let path = concrete_path(method, template, &fixtures);
            let answer = call(&t, token.as_deref(), method, &path, body(method, template, &fixtures)).await;
            observed.entry((method.clone(), template.clone())).or_default()[who.column()] = Some(answer);
        }
    }

    if std::env::var_os("AUTHZ_MATRIX_PRINT").is_some() {
        let mut out = String::new();
        for ((method, path), answers) in &observed {
            let classes: Vec<String> = answers
                .iter()
                .map(|a| {
                    a.as_ref()
                        .map(|a| format!("{} ({} {} {})", Class::of(a.status).as_str(), a.status, a.code, a.message))
                        .unwrap_or_default()
                })
                .collect();
            writeln!(out, "{method}\t{path}\t{}", classes.join("\t")).unwrap();
        }
        println!("{out}");
    }

    // Assert: one report with every problem.
    let mut problems = Vec::new();
    for (method, path) in &operations {
        if !table.contains_key(&(method.clone(), path.clone())) {
            problems.push(format!("{method} {path}: a new route without a row in authz_matrix.tsv; add its expected classes"));
        }
    }
    for ((method, path), row) in &table {
        if !operations.contains(&(method.clone(), path.clone())) {
            problems.push(format!("authz_matrix.tsv:{}: {method} {path} is no longer a route; remove the row", row.line));
        }
    }
    for ((method, path), answers) in &observed {
        let Some(row) = table.get(&(method.clone(), path.clone())) else { continue };
        for who in COLUMNS {
            let answer = answers[who.column()].as_ref().expect("every caller called every operation");
            let (expected, got) = (row.expected[who.column()], Class::of(answer.status));
            if expected != got {
                let note = row.note.as_deref().map(|n| format!(" [{n}]")).unwrap_or_default();
                problems.push(format!(
                    "{method} {path} as {}: expected {}, got {} {} (authz_matrix.tsv:{}){note}",
                    who.name(),
                    expected.as_str(),
                    answer.status,
                    if answer.code.is_empty() { "-" } else { &answer.code },
                    row.line,
                ));
            }
        }
    }
    let total = operations.len() * COLUMNS.len();
    t.shutdown().await;
    assert!(
        problems.is_empty(),
        "{} of {total} operation × caller checks disagree with authz_matrix.tsv:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
