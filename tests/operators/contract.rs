//! The OpenAPI document describes exactly the live routes, each answering a status it declares.

use serde_json::Value;

use super::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_live_routes() {
    let brands = Brands::new();
    let server = brands.node().start();
    let key = &brands.house.key;
    let doc: Value = http()
        .get(format!("{}/v1/operator/openapi.json", server.operator))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(
        doc["components"]["securitySchemes"]["operator_key"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    operations.sort();
    // The routes the API serves (every test of this file goes through them), each documented.
    let expected = [
        (
            "DELETE",
            "/v1/operator/players/{player}/free-rounds/{campaign}",
        ),
        ("GET", "/v1/operator/ledger/heads"),
        ("GET", "/v1/operator/players/{player}/balance"),
        ("GET", "/v1/operator/players/{player}/exclusion"),
        ("GET", "/v1/operator/players/{player}/free-rounds"),
        (
            "GET",
            "/v1/operator/players/{player}/free-rounds/{campaign}",
        ),
        ("GET", "/v1/operator/players/{player}/harm-flags"),
        ("GET", "/v1/operator/players/{player}/limits"),
        ("GET", "/v1/operator/players/{player}/statement"),
        ("GET", "/v1/operator/rounds/{round_id}"),
        ("POST", "/v1/operator/launch"),
        ("POST", "/v1/operator/players/{player}/deposits"),
        ("POST", "/v1/operator/players/{player}/exclusion"),
        ("POST", "/v1/operator/players/{player}/free-rounds"),
        ("POST", "/v1/operator/players/{player}/limits"),
        ("POST", "/v1/operator/players/{player}/withdrawals"),
        ("POST", "/v1/operator/rounds/{round_id}/void"),
        ("POST", "/v1/operator/sessions/revoke"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(operations, expected);
    // Every documented operation is routed: an empty call answers the API's own JSON (a route
    // the server did not have would be a bare 404 or 405).
    for (method, path) in &operations {
        let concrete = path
            .replace("{player}", "alice")
            .replace("{campaign}", "welcome")
            .replace("{round_id}", "0190a5c4-9000-7000-8000-000000000000");
        let r = call(&server, key, method, &concrete, Some("{}")).await;
        // A read needing no input (the chain heads) answers its page; the rest their error.
        assert!(
            r.body["code"].is_string() || (r.status == 200 && r.body.is_object()),
            "{method} {path}: {r:?}"
        );
        let declared = &paths[path][method.to_lowercase()]["responses"];
        assert!(
            declared.get(r.status.to_string()).is_some() || r.status == 401 || r.status == 429,
            "{method} {path} answered {} which it does not declare: {r:?}",
            r.status
        );
        assert!(
            paths[path][method.to_lowercase()]["security"].is_array(),
            "{method} {path} declares its key"
        );
    }
}
