//! How the gateway says no: who calls before what they sent, the one JSON
//! error body for every refusal (the framework's own included) without
//! echoing personal data, the usual security headers, keys that only their
//! caller can replay, and refusals that are not logged as errors.

use crate::support::{embedded_suite, embedded_suite_with};
use masar::demo::{GatewayClient, NUZUL, new_national_id};
use reqwest::{Method, header};
use serde_json::{Value, json};

async fn answer(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or_else(|e| panic!("{status}: not the JSON error body: {e}"));
    if status >= 400 {
        assert!(is_reason(&body["reason"]), "{status}: every refusal has a stable reason: {body}");
    }
    (status, headers, body)
}

/// `<subject>.<what>`, in lower-case words: what programs branch on.
fn is_reason(reason: &Value) -> bool {
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    reason.as_str().and_then(|r| r.split_once('.')).is_some_and(|(subject, what)| word(subject) && word(what))
}

#[tokio::test]
async fn every_refusal_is_the_documented_json_body_and_quotes_no_personal_data() {
    let (suite, _) = embedded_suite().await;
    let base = suite.gateway_url();
    let http = reqwest::Client::new();
    let pm = GatewayClient::new(&base).as_staff(NUZUL.project_manager).await.unwrap();
    let token = pm.token().unwrap().to_owned();

    // A route without the method.
    let (status, headers, body) =
        answer(http.delete(format!("{base}/v1/requests")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (405, Some("method_not_allowed")), "{body}");
    assert_eq!(body["reason"], "route.method_not_allowed");
    assert!(headers.get(header::ALLOW).is_some(), "Allow names the methods there are");
    assert!(body["message"]["ar"].is_string() && body["message"]["en"].is_string());

    // Query strings that do not parse.
    for query in ["page_size=abc", "page_size=-1", "page_size=1.5"] {
        let url = format!("{base}/v1/verification/pending?{query}");
        let (status, _, body) = answer(http.get(url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{query}: {body}");
    }

    // A body of another type.
    let url = format!("{base}/v1/requests/00000000-0000-0000-0000-000000000000/submit");
    let form = http.post(&url).bearer_auth(&token).header(header::CONTENT_TYPE, "text/plain").body("attested");
    let (status, _, body) = answer(form.send().await.unwrap()).await;
    assert_eq!(status, 400, "{body}");

    // A national ID and a mobile sent as JSON numbers: refused, and never quoted back.
    let reception = GatewayClient::new(&base).as_staff(NUZUL.reception).await.unwrap();
    let national_id = new_national_id();
    let draft = json!({
        "association": "nuzul", "branch": "riyadh", "service_type": "home_restoration", "channel": "reception",
        "applicant": { "national_id": national_id.parse::<u64>().unwrap(), "full_name": "مقدم الطلب", "mobile": 551234567 },
        "facts": {},
    });
    let sent = http.post(format!("{base}/v1/requests")).bearer_auth(reception.token().unwrap()).json(&draft);
    let (status, _, body) = answer(sent.send().await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(!text.contains(&national_id) && !text.contains("551234567"), "personal data quoted: {text}");
    assert!(body["fields"][0]["field"].as_str().is_some_and(|f| f.starts_with("applicant.")), "named: {text}");
    suite.stop().await.unwrap();
}

#[tokio::test]
async fn an_anonymous_caller_is_refused_before_their_input_is_read() {
    let (suite, _) = embedded_suite().await;
    let base = suite.gateway_url();
    let http = reqwest::Client::new();
    let malformed = |path: &str| {
        http.post(format!("{base}{path}")).header(header::CONTENT_TYPE, "application/json").body("{not json")
    };
    // Who calls comes first, as the services check it.
    let (status, _, body) =
        answer(malformed("/v1/requests/00000000-0000-0000-0000-000000000000/submit").send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["reason"].as_str()),
        (401, Some("unauthenticated"), Some("session.required"))
    );
    let (status, _, _) = answer(http.get(format!("{base}/v1/requests?page_size=abc")).send().await.unwrap()).await;
    assert_eq!(status, 401);
    // Where anonymous callers are welcome (opening an account), their input is what is wrong.
    let (status, _, body) = answer(malformed("/v1/accounts").send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{body}");
    suite.stop().await.unwrap();
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let (suite, _) = embedded_suite().await;
    let base = suite.gateway_url();
    let http = reqwest::Client::new();
    let policy = http.get(format!("{base}/v1/associations/nuzul/policy")).send().await.unwrap();
    let sign_in = http
        .post(format!("{base}/v1/sessions"))
        .json(&json!({ "association": "nuzul", "username": "nuzul.pm", "password": masar::DEMO_STAFF_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 200);
    for answer in [&policy, &sign_in] {
        let headers = answer.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store", "tokens and personal data are never cached");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
        assert!(headers.get("strict-transport-security").is_none(), "plain HTTP here");
    }
    let page = http.get(format!("{base}/docs/")).header("x-forwarded-proto", "https").send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(page.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    suite.stop().await.unwrap();
}

/// Two front ends behind the same proxy, seen by their addresses.
async fn open_account(base: &str, address: &str, key: &str, applicant: &Value) -> (u16, bool, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/accounts"))
        .header("x-forwarded-for", address)
        .header("idempotency-key", key)
        .json(applicant)
        .send()
        .await
        .unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    (response.status().as_u16(), replayed, response.json().await.unwrap())
}

#[tokio::test]
async fn anonymous_callers_never_read_each_others_replies() {
    let (suite, _) = embedded_suite_with(&[("MASAR_CLIENT_ADDRESS_HEADER", "x-forwarded-for")]).await;
    let base = suite.gateway_url();
    let applicant = json!({
        "association": "nuzul", "channel": "website",
        "applicant": { "national_id": new_national_id(), "full_name": "هند سالم", "mobile": "0559998877" },
    });
    let key = "the-same-key";
    let (first, replayed, reply) = open_account(&base, "10.0.0.1", key, &applicant).await;
    assert!(!replayed && first < 500, "{first}: {reply}");
    // The same caller retrying gets its own answer again.
    let (status, replayed, again) = open_account(&base, "10.0.0.1", key, &applicant).await;
    assert_eq!((status, replayed), (first, true));
    assert_eq!(again, reply);
    // Anyone else with the same key, the same call even, makes their own call.
    let (_, replayed, theirs) = open_account(&base, "10.0.0.2", key, &applicant).await;
    assert!(!replayed, "another caller got the first one's reply: {theirs}");
    let other = json!({ "association": "nuzul", "channel": "website", "applicant": { "national_id": new_national_id(),
        "full_name": "سارة علي", "mobile": "0551112233" } });
    let (status, replayed, _) = open_account(&base, "10.0.0.3", key, &other).await;
    assert!(!replayed && status != 422, "a key is nobody else's to refuse");
    suite.stop().await.unwrap();
}

/// Refusals are routine: logged at INFO with their code, never at ERROR,
/// which is kept for what an operator must look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_calls_are_not_logged_as_errors() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let writer = log.clone();
    tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).try_init().unwrap();
    let (suite, _) = embedded_suite().await;
    let base = suite.gateway_url();
    let beneficiary_side = GatewayClient::new(&base);
    let reception = GatewayClient::new(&base).as_staff(NUZUL.reception).await.unwrap();
    let missing = "/v1/requests/00000000-0000-0000-0000-000000000000";
    for (client, method, path, body) in [
        (&reception, Method::GET, missing, None),
        (&reception, Method::GET, "/v1/committee/agenda", None),
        (&reception, Method::POST, "/v1/requests", Some(json!({ "association": "nuzul" }))),
        (&beneficiary_side, Method::GET, "/v1/requests", None),
    ] {
        let (status, body) = client.call(method, path, None, body).await.unwrap();
        assert!((400..500).contains(&status), "{path}: {status} {body}");
    }
    suite.stop().await.unwrap();
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let errors: Vec<&str> = log.lines().filter(|line| line.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "refusals logged as errors: {errors:#?}");
    assert!(log.contains("call refused") && log.contains("grpc_code=NotFound"), "{log}");
}

/// Each service's port lists, over reflection, what it serves: its own
/// services, its part of the audit trail and health, not the whole suite.
#[tokio::test]
async fn a_port_lists_only_what_it_serves() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let (suite, _) = embedded_suite().await;
    for role in masar_platform::role::Role::SERVICES {
        let channel = tonic::transport::Endpoint::from_shared(suite.url(role)).unwrap().connect().await.unwrap();
        let mut reflection = ServerReflectionClient::new(channel);
        let ask = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = reflection.server_reflection_info(futures::stream::iter([ask])).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(listed)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("no list of services from {role}")
        };
        let names: Vec<String> = listed.service.into_iter().map(|s| s.name).collect();
        let own = format!("masar.{}.v1.", role.name());
        for name in &names {
            let expected = name.starts_with(&own)
                || name == "masar.audit.v1.AuditTrail"
                || name == "grpc.health.v1.Health"
                || name.starts_with("grpc.reflection.");
            assert!(expected, "{role} lists {name}");
        }
        assert!(names.iter().any(|n| n.starts_with(&own)), "{role} lists its own: {names:?}");
    }
    suite.stop().await.unwrap();
}

/// Every text field is bounded and cleaned in the domain: too long, control
/// characters, direction overrides and names without letters are refused
/// field by field in both languages; invisible characters are dropped.
async fn drive_text_bounds(base: &str) {
    let reception = GatewayClient::new(base).as_staff(NUZUL.reception).await.unwrap();
    let form = |name: &str, facts: Value| {
        json!({
            "association": "nuzul", "branch": "riyadh", "service_type": NUZUL.service_type, "channel": NUZUL.channel,
            "applicant": { "national_id": new_national_id(), "full_name": name, "mobile": "0551234567" },
            "facts": facts, "address": NUZUL.address(),
        })
    };
    let facts = NUZUL.facts_with(&[]);
    let refused_name =
        |body: &Value| body["fields"].as_array().unwrap().iter().find(|f| f["field"] == "applicant.full_name").cloned();
    for name in [
        "ا".repeat(100_000),
        "\u{200B}\u{200B}\u{200B}".to_owned(),
        "\u{FEFF}\u{0640}\u{0640}".to_owned(),
        "سعد\u{0000}".to_owned(),
        "\u{202E}سعد".to_owned(),
        "سعد\u{1b}[2J".to_owned(),
    ] {
        let (status, body) =
            reception.call(Method::POST, "/v1/requests", None, Some(form(&name, facts.clone()))).await.unwrap();
        assert_eq!(status, 400, "{name:?}: {body}");
        let problem = refused_name(&body).unwrap_or_else(|| panic!("{name:?}: {body}"));
        assert!(
            problem["message"]["ar"].as_str().is_some_and(|m| !m.is_empty()) && problem["message"]["en"].is_string()
        );
    }
    let mut long_answer = facts.clone();
    long_answer["applicant.region"] = json!("ر".repeat(5_000));
    let (status, body) =
        reception.call(Method::POST, "/v1/requests", None, Some(form("سعد علي", long_answer))).await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["fields"][0]["field"], "facts.applicant.region", "{body}");
    // The address is bounded and cleaned like every other text.
    let mut overridden = form("سعد علي", facts.clone());
    overridden["address"]["street"] = json!("\u{202E}شارع");
    overridden["address"]["district"] = json!("ح".repeat(500));
    let (status, body) = reception.call(Method::POST, "/v1/requests", None, Some(overridden)).await.unwrap();
    let fields: Vec<_> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["address.district", "address.street"]), "{body}");
    // Invisible characters are dropped, and the name kept as it reads.
    let (status, draft) =
        reception.call(Method::POST, "/v1/requests", None, Some(form("سعد\u{200B} علي\u{FEFF}", facts))).await.unwrap();
    assert_eq!(status, 201, "{draft}");
    let id = draft["request_id"].as_str().unwrap();
    let case = reception.get(&format!("/v1/requests/{id}"), None).await.unwrap();
    assert_eq!(case["applicant_name"], "سعد علي", "{case}");
}

#[tokio::test]
async fn text_fields_are_bounded_and_cleaned_embedded() {
    let (suite, _) = embedded_suite().await;
    drive_text_bounds(&suite.gateway_url()).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_fields_are_bounded_and_cleaned_distributed() {
    let distributed = crate::support::distributed_suite().await;
    drive_text_bounds(&distributed.suite.gateway_url()).await;
    distributed.stop().await;
}

/// Refusals the services make carry their own reasons, through the gateway.
#[tokio::test]
async fn services_name_the_reason_of_each_refusal() {
    let (suite, _) = embedded_suite().await;
    let base = suite.gateway_url();
    let http = reqwest::Client::new();
    let sign_in = |password: &str| {
        http.post(format!("{base}/v1/sessions"))
            .json(&json!({ "association": "nuzul", "username": "nuzul.pm", "password": password }))
            .send()
    };
    let (_, _, wrong) = answer(sign_in("not-the-password").await.unwrap()).await;
    assert_eq!(wrong["reason"], "sign_in.wrong_credentials", "{wrong}");
    let pm = GatewayClient::new(&base).as_staff(NUZUL.project_manager).await.unwrap();
    let missing = format!("{base}/v1/requests/00000000-0000-0000-0000-000000000000");
    let (status, _, body) = answer(http.get(&missing).bearer_auth(pm.token().unwrap()).send().await.unwrap()).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("request.not_found")), "{body}");
    let (_, _, invalid) = answer(
        http.post(format!("{base}/v1/requests"))
            .bearer_auth(pm.token().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        invalid["reason"].as_str().is_some_and(|r| r.starts_with("input.") || r.starts_with("caller.")),
        "{invalid}"
    );
    let (_, _, forged) = answer(http.get(&missing).bearer_auth("not.a.token").send().await.unwrap()).await;
    assert_eq!(forged["reason"], "session.invalid", "{forged}");
    suite.stop().await.unwrap();
}
