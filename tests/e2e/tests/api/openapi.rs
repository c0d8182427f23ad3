//! The OpenAPI document is generated from the code and covers every API route.

use hogwarden_e2e::spawn_stack;

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_error_shape() {
    let t = spawn_stack().await;

    let doc = t.send(None, reqwest::Method::GET, "/api/openapi.json", None).await;

    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/requests", "post"),
        ("/api/requests", "get"),
        ("/api/requests/{id}", "get"),
        ("/api/requests/{id}/approve", "post"),
        ("/api/requests/{id}/deny", "post"),
        ("/api/inbox", "get"),
        ("/api/grants", "get"),
        ("/api/grants/{id}/revoke", "post"),
        ("/api/audit", "get"),
        ("/api/audit/verify", "get"),
        ("/api/policy", "get"),
        ("/api/me", "get"),
        ("/api/projects", "get"),
        ("/api/diagnose", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the OpenAPI document");
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    t.shutdown().await;
}
