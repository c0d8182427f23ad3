//! Every API route in the OpenAPI document reaches, through infra/template.yaml, the
//! Lambda whose router serves it; and every route the template declares is served.
//! A request without a token must get the API's 401, never API Gateway's or axum's
//! 404: that is how a path the function does not know shows up.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hogwarden_api::{ApiState, AuthMode};
use hogwarden_core::Hogwarden;
use hogwarden_core::policy::Policy;
use hogwarden_core::ports::{Notification, Notifier, SystemClock};
use hogwarden_infra_tests::{Route, Template, most_specific, route_matches, workspace_root};
use tower::ServiceExt;
use utoipa::OpenApi;

#[derive(Debug)]
struct Nobody;

#[async_trait::async_trait]
impl Notifier for Nobody {
    async fn notify(&self, _: Notification) -> hogwarden_core::error::Result<()> {
        Ok(())
    }
}

fn state() -> ApiState {
    let store = Arc::new(hogwarden_store_sqlite::SqliteStore::in_memory().expect("store"));
    let mut config = hogwarden_posthog::PostHogConfig::new(
        url::Url::parse("http://127.0.0.1:9").unwrap(),
        secrecy::SecretString::from("phx_never_used"),
        "00000000-0000-0000-0000-000000000000".to_owned(),
    );
    config.allow_plain_http = true;
    let app = Hogwarden::new(
        store,
        Arc::new(hogwarden_posthog::PostHogClient::new(config).expect("client")),
        Arc::new(SystemClock),
        Arc::new(Nobody),
        Arc::new(Policy::default()),
        "https://hogwarden.example".into(),
    );
    ApiState::new(app, AuthMode::Gateway)
}

/// The router each template function runs (the Lambdas' `Handler`s use the same).
fn router_of(function: &str, state: &ApiState) -> Router {
    match function {
        "GrantsFunction" => hogwarden_api::grants_router(state.clone()),
        "RevertsFunction" => hogwarden_api::reverts_router(state.clone()),
        "ReviewsFunction" => hogwarden_api::reviews_router(state.clone()),
        // The webhook's function runs the key-rotation binary with a narrower role.
        "KeyRotationFunction" | "WebhookFunction" => hogwarden_api::keys_router(state.clone()),
        other => panic!("the template has a function {other} that this test does not know"),
    }
}

/// A concrete path for an OpenAPI path: `{id}` and friends become a uuid.
fn concrete(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "0190a0c4-2b7e-7000-8000-000000000001" } else { s }).collect::<Vec<_>>().join("/")
}

async fn status(router: Router, method: &str, path: &str) -> u16 {
    let request = http::Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    router.oneshot(request).await.unwrap().status().as_u16()
}

fn api_operations() -> Vec<(String, String)> {
    let doc = hogwarden_api::openapi::ApiDoc::openapi();
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths {
        for (method, op) in [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("PATCH", &item.patch), ("DELETE", &item.delete)]
        {
            if op.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_api_operation_reaches_the_function_that_serves_it() {
    let template = Template::load(&workspace_root().join("infra/template.yaml")).unwrap();
    let routes = template.routes();
    let state = state();
    let mut problems = Vec::new();
    for (method, path) in api_operations() {
        let concrete = concrete(&path);
        let Some(route) = most_specific(&routes, &method, &concrete) else {
            problems.push(format!("{method} {path}: no route in infra/template.yaml"));
            continue;
        };
        let got = status(router_of(&route.function, &state), &method, &concrete).await;
        if got != 401 {
            problems.push(format!(
                "{method} {path}: routed to {} ({} {}), whose router answers {got} instead of 401",
                route.function, route.method, route.path
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_route_in_the_template_is_served_by_its_function() {
    let template = Template::load(&workspace_root().join("infra/template.yaml")).unwrap();
    let operations = api_operations();
    let state = state();
    let mut problems = Vec::new();
    for Route { function, method, path } in template.routes() {
        // Preflight is answered by API Gateway's CORS configuration; the leaked-key
        // webhook lands with the keys issue (its handler verifies signatures).
        if method == "OPTIONS" || path.starts_with("/webhooks/") {
            continue;
        }
        let served: Vec<&(String, String)> =
            operations.iter().filter(|(m, p)| (method == "ANY" || *m == method) && route_matches(&path, &concrete(p))).collect();
        if served.is_empty() {
            problems.push(format!("{function}: {method} {path} matches no operation of the API"));
        }
        for (m, p) in served {
            let got = status(router_of(&function, &state), m, &concrete(p)).await;
            if got != 401 {
                problems.push(format!("{function}: {m} {p} (via {method} {path}) answers {got} instead of 401"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn route_matching_follows_api_gateway() {
    assert!(route_matches("/api/requests/{proxy+}", "/api/requests/1/approve"));
    assert!(!route_matches("/api/requests/{proxy+}", "/api/requests"));
    assert!(route_matches("/api/grants/{id}/extend", "/api/grants/7/extend"));
    assert!(!route_matches("/api/grants/{id}/extend", "/api/grants/7/revoke"));
    let routes = vec![
        Route { function: "A".into(), method: "ANY".into(), path: "/api/grants/{proxy+}".into() },
        Route { function: "B".into(), method: "POST".into(), path: "/api/grants/{id}/revoke".into() },
    ];
    assert_eq!(most_specific(&routes, "POST", "/api/grants/7/revoke").unwrap().function, "B");
    assert_eq!(most_specific(&routes, "POST", "/api/grants/7/extend").unwrap().function, "A");
}

/// The methods API Gateway's CORS configuration allows (`AllowMethods` of the HTTP API).
fn cors_methods(template: &Template) -> Vec<String> {
    let apis = template.resources("AWS::Serverless::HttpApi");
    let (_, api) = apis.iter().next().expect("the template has an HTTP API");
    api.get("Properties")
        .and_then(|p| p.get("CorsConfiguration"))
        .and_then(|c| c.get("AllowMethods"))
        .and_then(|m| m.as_sequence())
        .map(|m| m.iter().filter_map(|v| v.as_str()).map(str::to_ascii_uppercase).collect())
        .unwrap_or_default()
}

#[test]
fn cors_allows_every_method_the_api_uses() {
    // Arrange: the browser's preflight for a cross-origin DELETE or PUT is refused by
    // API Gateway unless the method is listed, so the UI's revoke and key calls fail.
    let template = Template::load(&workspace_root().join("infra/template.yaml")).unwrap();
    let allowed = cors_methods(&template);

    // Act
    let missing: std::collections::BTreeSet<String> =
        api_operations().into_iter().map(|(method, _)| method).filter(|m| !allowed.contains(m)).collect();

    // Assert
    assert!(missing.is_empty(), "CORS AllowMethods {allowed:?} lacks {missing:?}, which the OpenAPI document uses");
    assert!(allowed.contains(&"OPTIONS".to_owned()), "preflights themselves are OPTIONS");
}
