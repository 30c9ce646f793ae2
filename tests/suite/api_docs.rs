//! The API documents itself: OpenAPI 3.1 at /openapi.json, generated from the
//! gateway's routes, and Swagger UI at /docs from assets in the binary.

use crate::support::embedded_suite;
use serde_json::Value;

#[tokio::test]
async fn the_gateway_serves_its_openapi_document_and_docs_page() {
    let (suite, _data_dir) = embedded_suite().await;
    let base = suite.gateway_url();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let response = http.get(format!("{base}/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document, serde_json::to_value(masar_gateway::openapi()).unwrap(), "served as generated");

    // The whole journey is there, beneficiary side and staff side.
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/accounts", "post"),
        ("/v1/sessions", "post"),
        ("/v1/accounts/password", "post"),
        ("/v1/requests", "post"),
        ("/v1/requests/{id}/documents/{document}", "put"),
        ("/v1/requests/{id}/submit", "post"),
        ("/v1/requests/{id}/timeline", "get"),
        ("/v1/requests/{id}/resubmit", "post"),
        ("/v1/inquiries", "post"),
        ("/v1/inquiries", "get"),
        ("/v1/verification/pending", "get"),
        ("/v1/research/assignments", "get"),
        ("/v1/committee/agenda", "get"),
        ("/v1/requests/{id}/committee/decision", "post"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is documented");
    }

    // Every documented operation is a real route (never the gateway's "no such endpoint"),
    // answers a documented success, and documents the stable error body.
    // Signed in, since every operation but a few refuses anonymous callers before reading anything.
    let signed_in = masar::demo::GatewayClient::new(&base).as_staff("nuzul.reception").await.unwrap();
    let bearer = format!("Bearer {}", signed_in.token().unwrap());
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().unwrap());
    let http_ok = reqwest::Client::builder().default_headers(headers).build().unwrap();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: a success");
            assert_eq!(responses["4XX"]["$ref"], "#/components/responses/Problem", "{method} {path}");
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000").replace("{document}", "x");
            let concrete = concrete.replace("{code}", "nuzul");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = http_ok.request(method.clone(), format!("{base}{concrete}")).send().await.unwrap();
            let body: Value = answer.json().await.unwrap_or_default();
            assert_ne!(body["message"]["en"], "No such endpoint", "{method} {path} is routed");
            // `If-Match` is documented exactly where a handler reads it (and refuses a malformed one).
            let documented = operation["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == "If-Match");
            let answer = http_ok.request(method, format!("{base}{concrete}")).header("if-match", "bogus").send();
            let body: Value = answer.await.unwrap().json().await.unwrap_or_default();
            let read = body["message"]["en"].as_str().is_some_and(|m| m.contains("If-Match"));
            assert_eq!(documented, read, "{path}: If-Match documented iff read");
        }
    }
    let header_names = |path: &str, method: &str| -> Vec<String> {
        let parameters = document["paths"][path][method]["parameters"].as_array().cloned().unwrap_or_default();
        parameters.iter().filter(|p| p["in"] == "header").map(|p| p["name"].as_str().unwrap().to_lowercase()).collect()
    };
    assert!(header_names("/v1/requests", "post").contains(&"idempotency-key".to_owned()));
    assert!(!header_names("/v1/sessions", "post").contains(&"idempotency-key".to_owned()), "never kept");
    assert!(header_names("/v1/requests/{id}/timeline", "get").contains(&"accept-language".to_owned()));
    let schemas = document["components"]["schemas"].as_object().unwrap();
    assert!(schemas["ApiError"]["properties"]["message"].is_object());
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    // The docs page and its assets, from the binary.
    let redirect = http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    let page = http.get(format!("{base}/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/docs.js"] {
        assert!(html.contains(asset), "{asset} linked");
        let response = http.get(format!("{base}{asset}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{asset}");
    }
    let initializer = http.get(format!("{base}/docs/docs.js")).send().await.unwrap().text().await.unwrap();
    assert!(initializer.contains("\"/openapi.json\""), "the page reads this gateway's document");
    suite.stop().await.unwrap();
}
