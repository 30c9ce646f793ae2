//! One case is one trace, whoever acts on it: reception files it, the
//! project manager, the researcher and the committee act on it from their
//! own front ends (no client sends a `traceparent`: each call starts its own
//! trace), and the queue hands it on. The case's trace holds every service's
//! spans and every hop; each staff action's span in it links to the trace of
//! the call that caused it. Checked with an in-memory exporter, in both shapes.

use crate::support::{distributed_suite, embedded_suite};
use masar::Suite;
use masar::demo::{GatewayClient, NUZUL, research_and_decide, submit};
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use std::collections::BTreeSet;

/// What `masar dev` and `masar serve` export by default, into memory.
fn exporting() -> (InMemorySpanExporter, SdkTracerProvider, masar_platform::telemetry::Telemetry) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let exported = tracing_subscriber::EnvFilter::new(masar_platform::telemetry::DEFAULT_TRACE_FILTER);
    let telemetry = masar_platform::telemetry::install(Some(provider.clone()), false, exported).unwrap();
    (exporter, provider, telemetry)
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

/// Takes one Nuzul case from filing to the committee's decision; its request id.
async fn drive_case(suite: &Suite) -> String {
    let client = GatewayClient::new(&suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&client, &NUZUL, "1000000008", "A B", "0551234567").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    client.verify(&id, NUZUL.project_manager).await.unwrap();
    research_and_decide(&client, &NUZUL, &id, "approved").await.unwrap();
    client.get(&format!("/v1/requests/{id}/messages"), Some(NUZUL.branch_manager)).await.unwrap();
    id
}

fn check_one_trace(spans: &[SpanData], request_id: &str) {
    // The case's trace: where its submission (its first action) was recorded.
    let submission = spans
        .iter()
        .find(|s| s.name == "request.submitted" && attribute(s, "masar.request.id").as_deref() == Some(request_id))
        .expect("the submission's action span");
    let case_trace = submission.span_context.trace_id();
    let ours: Vec<&SpanData> = spans.iter().filter(|s| s.span_context.trace_id() == case_trace).collect();
    let names: Vec<String> = ours.iter().map(|s| s.name.to_string()).collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    assert!(names.iter().any(|n| n.starts_with("POST /v1/requests")), "the gateway's filing call: {names:?}");
    assert!(has("masar.intake.v1.IntakeService/SubmitRequest"), "{names:?}");
    // Semantic conventions: the route template and status on the gateway's span, the gRPC code on the RPC's.
    let named = |name: &str| ours.iter().find(|s| s.name == name).copied().unwrap();
    let submit_call = named("POST /v1/requests/{id}/submit");
    assert_eq!(attribute(submit_call, "http.route").as_deref(), Some("/v1/requests/{id}/submit"));
    assert_eq!(attribute(submit_call, "http.response.status_code").as_deref(), Some("200"));
    let submit_rpc = named("masar.intake.v1.IntakeService/SubmitRequest");
    assert_eq!(attribute(submit_rpc, "rpc.grpc.status_code").as_deref(), Some("0"));
    // Store spans: the statement's operation and the database system, under the call or message.
    let systems: BTreeSet<String> = ours
        .iter()
        .filter(|s| attribute(s, "db.operation").as_deref() == Some("INSERT"))
        .filter_map(|s| attribute(s, "db.system"))
        .collect();
    assert!(systems.len() == 1 && ["postgresql", "sqlite"].contains(&systems.first().unwrap().as_str()), "{systems:?}");
    for action in ["request.verified", "research.assigned", "research.recommended", "committee.decided"] {
        assert!(has(action), "no action span {action} in the case's trace: {names:?}");
    }
    for hop in ["request.submitted publish", "request.submitted process", "committee.decided process"] {
        assert!(has(hop), "no span for {hop} in the case's trace: {names:?}");
    }
    let groups: BTreeSet<String> = ours.iter().filter_map(|s| attribute(s, "messaging.consumer.group.name")).collect();
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        ["committee", "intake", "notification", "research", "verification"]
    );
    // Every span of the case's hand-offs names it.
    for span in ours.iter().filter(|s| s.name.ends_with(" publish") || s.name.ends_with(" process")) {
        assert_eq!(attribute(span, "masar.request.id").as_deref(), Some(request_id), "{}", span.name);
    }
    // A staff action in the case's trace links to the call that made it, whose own trace holds its RPC.
    for (action, rpc) in [
        ("request.verified", "masar.verification.v1.VerificationService/AcceptRequest"),
        ("committee.decided", "masar.committee.v1.CommitteeService/RecordDecision"),
    ] {
        let span = ours.iter().find(|s| s.name == action).unwrap();
        let linked: Vec<TraceId> = span.links.links.iter().map(|l| l.span_context.trace_id()).collect();
        assert_eq!(linked.len(), 1, "{action} links to its call: {linked:?}");
        assert_ne!(linked[0], case_trace);
        let call: Vec<String> =
            spans.iter().filter(|s| s.span_context.trace_id() == linked[0]).map(|s| s.name.to_string()).collect();
        assert!(call.iter().any(|n| n == rpc), "{action}'s call trace has no {rpc}: {call:?}");
    }
    // Only Masar's own spans are exported, not the transport's frame-level ones.
    let targets: BTreeSet<String> = spans.iter().filter_map(|s| attribute(s, "target")).collect();
    assert!(targets.iter().any(|n| n.starts_with("masar_platform")), "{targets:?}");
    assert!(targets.iter().all(|n| n.starts_with("masar")), "exported from elsewhere: {targets:?}");
    // Personal data never reaches a span.
    for span in spans {
        for kv in &span.attributes {
            let value = kv.value.to_string();
            assert!(!value.contains("1000000008") && !value.contains("551234567"), "{} = {value}", kv.key);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_is_one_trace_whoever_acts_embedded() {
    let (exporter, provider, _telemetry) = exporting();
    let (suite, _) = embedded_suite().await;
    let request_id = drive_case(&suite).await;
    suite.stop().await.unwrap();
    let _ = provider.force_flush();
    check_one_trace(&exporter.get_finished_spans().unwrap(), &request_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_is_one_trace_whoever_acts_distributed() {
    let (exporter, provider, _telemetry) = exporting();
    let distributed = distributed_suite().await;
    let request_id = drive_case(&distributed.suite).await;
    distributed.stop().await;
    let _ = provider.force_flush();
    check_one_trace(&exporter.get_finished_spans().unwrap(), &request_id);
}
