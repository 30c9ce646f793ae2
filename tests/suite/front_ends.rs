//! What the gateway does for web and mobile front ends and against abuse:
//! CORS for configured origins, `Accept-Language`, and per-client rate limits.

use crate::support::{embedded_suite_with, logged_sms};
use masar::demo::GatewayClient;
use masar_platform::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn browsers_of_configured_origins_may_call_and_the_language_is_negotiated() {
    let (suite, data_dir) = embedded_suite_with(&[("MASAR_CORS_ORIGINS", "https://nuzul.example")]).await;
    let base = suite.gateway_url();
    let http = reqwest::Client::new();

    // A preflight from the association's site is allowed, with the headers front ends send.
    let preflight = |origin: &'static str| {
        http.request(Method::OPTIONS, format!("{base}/v1/requests"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type, idempotency-key")
            .send()
    };
    let allowed = preflight("https://nuzul.example").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://nuzul.example");
    let headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
    assert!(headers.contains("idempotency-key") && headers.contains("authorization"), "{headers}");
    // Another site's page is not.
    let other = preflight("https://elsewhere.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A plain call from the allowed origin can read the headers a front end needs.
    let call = http
        .get(format!("{base}/v1/associations/nuzul/policy"))
        .header("origin", "https://nuzul.example")
        .send()
        .await
        .unwrap();
    assert_eq!(call.headers()["access-control-allow-origin"], "https://nuzul.example");
    let exposed = call.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("retry-after") && exposed.contains("etag"), "{exposed}");

    // Errors carry both languages and the asked one as `text`; Arabic unless asked otherwise.
    let refused = |language: Option<&'static str>| {
        let mut request = http.get(format!("{base}/v1/requests/00000000-0000-0000-0000-000000000000"));
        if let Some(language) = language {
            request = request.header("accept-language", language);
        }
        request.send()
    };
    let english = refused(Some("en-GB,en;q=0.9,ar;q=0.5")).await.unwrap();
    assert_eq!(english.status(), 401);
    assert_eq!(english.headers()["content-language"], "en");
    let body: Value = english.json().await.unwrap();
    assert_eq!(body["text"], body["message"]["en"], "{body}");
    assert!(body["message"]["ar"].as_str().is_some_and(|ar| !ar.is_empty()));
    let arabic = refused(None).await.unwrap();
    assert_eq!(arabic.headers()["content-language"], "ar");
    let body: Value = arabic.json().await.unwrap();
    assert_eq!(body["text"], body["message"]["ar"], "{body}");
    // Also for the errors the gateway makes itself.
    let unknown = http.get(format!("{base}/v1/nowhere")).header("accept-language", "en").send().await.unwrap();
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["text"], "No such endpoint");

    // A registration whose form leaves the language out gets the front end's: the SMS comes in English.
    let client = GatewayClient::new(&base);
    let registered = http
        .post(format!("{base}/v1/accounts"))
        .header("accept-language", "en")
        .json(&json!({ "association": "hayat", "channel": "website", "applicant": {
            "national_id": "1000000115", "full_name": "Fatima Alzahrani", "mobile": "0551112233" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 202);
    let sms = client
        .eventually("the credentials SMS", || async {
            Ok(logged_sms(&data_dir).into_iter().find(|text| text.starts_with("+966551112233: ")))
        })
        .await
        .unwrap();
    assert!(sms.contains("one-time password"), "English: {sms}");
    suite.stop().await.unwrap();
}

#[tokio::test]
async fn each_client_has_its_own_rate_limit() {
    let (suite, _data_dir) = embedded_suite_with(&[("MASAR_RATE_LIMIT_PER_MINUTE", "5")]).await;
    let base = suite.gateway_url();
    let anonymous = GatewayClient::new(&base);
    // Signing in is the first of this address's five.
    let pm = anonymous.as_staff("nuzul.pm").await.unwrap();
    for _ in 0..4 {
        let (status, body) = anonymous.call(Method::GET, "/v1/associations/nuzul/policy", None, None).await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let refused = reqwest::get(format!("{base}/v1/associations/nuzul/policy")).await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "five a minute: the next one within 12 s, not {wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "resource_exhausted");
    assert_eq!(body["retry_after"], wait);
    // Signing in again from the address is refused as well: passwords cannot be tried without end.
    let (status, _) = anonymous
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({ "association": "nuzul", "username": "nuzul.pm", "password": "guess" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 429);
    // The signed-in project manager counts as themself, and probes are never refused.
    let (status, body) = pm.call(Method::GET, "/v1/verification/pending", None, None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status(), 200);
    suite.stop().await.unwrap();
}

/// A gateway told to stop (SIGTERM) is unready at once, so the balancer in
/// front sends it nothing new, and still serves for its drain delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_gateway_is_unready_at_once_and_serves_through_its_drain_delay() {
    let (suite, _) = embedded_suite_with(&[("MASAR_DRAIN_DELAY_MS", "2000")]).await;
    let base = suite.gateway_url();
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
    let gateway = suite.roles.iter().find(|r| r.role == Role::Gateway).unwrap();
    gateway.stop.cancel();
    let stopping = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(stopping.status(), 503);
    assert_eq!(stopping.json::<Value>().await.unwrap()["status"], "stopping");
    let policy = reqwest::get(format!("{base}/v1/associations/nuzul/policy")).await.unwrap();
    assert_eq!(policy.status(), 200, "calls are still served during the drain delay");
    suite.stop().await.unwrap();
}
