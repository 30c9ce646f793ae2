//! One case's journey is one trace: gateway, the five services' RPCs, and
//! every queue hop, checked with an in-memory exporter.

use crate::support::embedded_suite;
use masar::demo::{GatewayClient, NUZUL, research_and_decide, submit};
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_is_one_trace_across_every_hop() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    // What `masar dev` and `masar serve` export by default.
    let exported = tracing_subscriber::EnvFilter::new(masar_platform::telemetry::DEFAULT_TRACE_FILTER);
    let _telemetry = masar_platform::telemetry::install(Some(provider.clone()), false, exported).unwrap();

    let (suite, _) = embedded_suite().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    // Reception files the case (signing in is part of the same trace).
    let client = GatewayClient::new(&suite.gateway_url())
        .with_traceparent(&format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .as_staff(NUZUL.reception)
        .await
        .unwrap();
    let submitted = submit(&client, &NUZUL, "1000000008", "A B", "0551234567").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    client.wait_until_pending(&id, NUZUL.project_manager).await.unwrap();
    client
        .post(&format!("/v1/requests/{id}/verification/accept"), Some(NUZUL.project_manager), json!({}))
        .await
        .unwrap();
    research_and_decide(&client, &NUZUL, &id, "approved").await.unwrap();
    client.get(&format!("/v1/requests/{id}/messages"), Some(NUZUL.branch_manager)).await.unwrap();
    suite.stop().await.unwrap();
    let _ = provider.force_flush();

    let spans = exporter.get_finished_spans().unwrap();
    let ours: Vec<_> =
        spans.iter().filter(|s| s.span_context.trace_id() == TraceId::from_hex(trace_id).unwrap()).collect();
    let names: Vec<String> = ours.iter().map(|s| s.name.to_string()).collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    for rpc in [
        "masar.intake.v1.IntakeService/SubmitRequest",
        "masar.verification.v1.VerificationService/AcceptRequest",
        "masar.research.v1.ResearchService/RecordRecommendation",
        "masar.committee.v1.CommitteeService/RecordDecision",
        "masar.notification.v1.NotificationService/ListMessages",
    ] {
        assert!(has(rpc), "no span for {rpc} in the case's trace: {names:?}");
    }
    for hop in [
        "request.submitted publish",
        "request.submitted process",
        "request.verified process",
        "research.assigned process",
        "research.recommended process",
        "committee.scheduled process",
        "committee.decided process",
    ] {
        assert!(has(hop), "no span for {hop} in the case's trace: {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("POST /v1/requests")), "{names:?}");
    // consumers in every service continued it: five consumer groups saw request.* or later events
    let groups: std::collections::BTreeSet<String> = ours
        .iter()
        .filter_map(|s| {
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "messaging.consumer.group.name")
                .map(|kv| kv.value.to_string())
        })
        .collect();
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        ["committee", "intake", "notification", "research", "verification"]
    );
    // Only Masar's own spans are exported, not the transport's frame-level ones.
    let namespaces: std::collections::BTreeSet<String> = spans
        .iter()
        .filter_map(|s| s.attributes.iter().find(|kv| kv.key.as_str() == "target"))
        .map(|kv| kv.value.to_string())
        .collect();
    assert!(namespaces.iter().any(|n| n.starts_with("masar_platform")), "{namespaces:?}");
    assert!(namespaces.iter().all(|n| n.starts_with("masar")), "exported from elsewhere: {namespaces:?}");
    // personal data never reaches a span
    for span in &ours {
        for kv in &span.attributes {
            let value = kv.value.to_string();
            assert!(!value.contains("1000000008") && !value.contains("551234567"), "{} = {value}", kv.key);
        }
    }
}
