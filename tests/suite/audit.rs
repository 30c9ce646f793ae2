//! The audit trail: every service records each action it performs, and the
//! case's supervisors read the whole trail, through the gateway and at
//! each service's port.

use crate::support::{distributed_suite, embedded_suite, grpc_request};
use masar::Suite;
use masar::demo::{GatewayClient, NUZUL, create_draft, upload_required_documents};
use masar_platform::role::Role;
use masar_proto::audit::v1 as audit;
use masar_proto::research::v1 as research;
use reqwest::Method;
use serde_json::{Value, json};

/// The applicant whose national ID and mobile must never appear in the trail.
const NATIONAL_ID: &str = "1000000016";
const MOBILE: &str = "0551112233";

/// (service, action, actor role, channel) of each entry.
fn summary(trail: &Value) -> Vec<(String, String, String, String)> {
    let field = |e: &Value, name: &str| e[name].as_str().unwrap().to_owned();
    trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (field(e, "service"), field(e, "action"), field(e, "actor_role"), field(e, "channel")))
        .collect()
}

fn row(service: &str, action: &str, role: &str, channel: &str) -> (String, String, String, String) {
    (service.into(), action.into(), role.into(), channel.into())
}

async fn drive_audit(suite: &Suite) {
    let base = suite.gateway_url();
    let reception = GatewayClient::new(&base).as_staff(NUZUL.reception).await.unwrap();
    let pm_token = reception.staff_token(NUZUL.project_manager).await.unwrap();

    // Reception files at the front desk; the front end names its own request id.
    let draft = create_draft(&reception, &NUZUL, NATIONAL_ID, "سعد علي", MOBILE, NUZUL.facts_with(&[])).await.unwrap();
    let id = draft["request_id"].as_str().unwrap().to_owned();
    upload_required_documents(&reception, &draft).await.unwrap();
    let submit = reqwest::Client::new()
        .post(format!("{base}/v1/requests/{id}/submit"))
        .bearer_auth(reception.staff_token(NUZUL.reception).await.unwrap())
        .header("x-request-id", "front-end-42")
        .json(&json!({ "attestation": { "attested": true, "version": draft["attestation"]["version"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(submit.status(), 200);
    assert_eq!(submit.headers()["x-request-id"], "front-end-42", "the caller's id is echoed");
    // A call without an id gets one.
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert!(uuid::Uuid::parse_str(health.headers()["x-request-id"].to_str().unwrap()).is_ok());

    // The project manager accepts through the gateway.
    reception.verify(&id, NUZUL.project_manager).await.unwrap();
    // The researcher records the visit straight at research's port, as an integration would.
    let researcher = reception.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let researcher_token = reception.staff_token(&researcher).await.unwrap();
    let research_port = suite.url(Role::Research);
    let mut research = research::research_service_client::ResearchServiceClient::connect(research_port).await.unwrap();
    let visit = research::RecordFieldVisitRequest {
        request_id: id.clone(),
        findings: "The roof leaks.".into(),
        outcome: "done".into(),
        visited_on: masar_domain::calendar::saudi_day(chrono::Utc::now()).to_string(),
        people_met: vec![research::PersonMet { kind: "beneficiary".into(), ..Default::default() }],
        ..Default::default()
    };
    // It claims to come through the gateway under a request id of its own; nothing vouches for that.
    let mut visit = grpc_request(visit, Some(&researcher_token));
    for (name, value) in [
        ("x-request-id", "forged-id"),
        ("masar-channel", "gateway"),
        ("masar-forwarded", "1700000000.forged-id.0000000000000000000000000000000000000000000000000000000000000000"),
    ] {
        visit.metadata_mut().insert(name, value.parse().unwrap());
    }
    research.record_field_visit(visit).await.unwrap();

    let trail = reception.get(&format!("/v1/requests/{id}/audit"), Some(NUZUL.project_manager)).await.unwrap();
    let documents = draft["required_documents"].as_array().unwrap().len();
    let mut expected = vec![row("intake", "request.filed", "reception_officer", "gateway")];
    expected.extend((0..documents).map(|_| row("intake", "document.uploaded", "reception_officer", "gateway")));
    expected.extend([
        row("intake", "request.submitted", "reception_officer", "gateway"),
        row("verification", "verification.received", "system", "queue"),
    ]);
    // The manager confirms each document, then verifies.
    let reviewed = row("verification", "verification.document_reviewed", "project_manager", "gateway");
    expected.extend((0..documents).map(|_| reviewed.clone()));
    expected.extend([
        row("verification", "request.verified", "project_manager", "gateway"),
        row("research", "research.assigned", "system", "queue"),
        row("research", "research.visited", "social_researcher", "grpc"),
    ]);
    assert_eq!(summary(&trail), expected, "{trail:#}");
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries[0]["actor"], NUZUL.reception);
    assert_eq!(entries[0]["detail"], format!("{} via {}", NUZUL.service_type, NUZUL.channel));
    assert_eq!(entries[documents + 1]["correlation_id"], "front-end-42", "the submission names its request");
    assert!(entries[documents + 2]["correlation_id"].as_str().unwrap().starts_with("event:"));
    let verified = 2 * documents + 3;
    assert_eq!(entries[verified + 1]["detail"], researcher.as_str());
    assert_eq!(entries[verified + 2]["correlation_id"], "", "a direct call's claimed id is not recorded");
    assert_eq!(entries[verified]["channel"], "gateway");
    assert!(uuid::Uuid::parse_str(entries[verified]["correlation_id"].as_str().unwrap()).is_ok(), "the gateway's id");
    assert!(entries.iter().all(|e| e["at"].as_str().is_some()));
    let text = trail.to_string();
    assert!(!text.contains(NATIONAL_ID) && !text.contains(&MOBILE[1..]), "no personal data: {text}");

    // Readers: the case's supervisors. Others are refused; another association sees nothing.
    for supervisor in [NUZUL.branch_manager, "nuzul.admin"] {
        let theirs = reception.get(&format!("/v1/requests/{id}/audit"), Some(supervisor)).await.unwrap();
        assert_eq!(summary(&theirs), expected, "{supervisor}");
    }
    let path = format!("/v1/requests/{id}/audit");
    let refusals = [
        (Some(researcher.as_str()), 403),
        (Some(NUZUL.committee[0]), 403),
        (Some(NUZUL.reception), 403),
        (Some("hayat.pm"), 404),
        (Some("hayat.admin"), 404),
        (None, 401),
    ];
    let anyone = GatewayClient::new(&base);
    for (caller, status) in refusals {
        let (answered, body) = anyone.call(Method::GET, &path, caller, None).await.unwrap();
        assert_eq!(answered, status, "{caller:?}: {body}");
        assert!(body["message"]["ar"].is_string(), "{body}");
    }
    let (status, _) = reception
        .call(Method::GET, &format!("/v1/requests/{}/audit", uuid::Uuid::now_v7()), Some(NUZUL.project_manager), None)
        .await
        .unwrap();
    assert_eq!(status, 404, "an unknown case");

    // Each service answers for its own part at its own port, with the same scope rules.
    let verification_port = suite.url(Role::Verification);
    let mut trail_at = audit::audit_trail_client::AuditTrailClient::connect(verification_port).await.unwrap();
    let ask = |token: &str| grpc_request(audit::CaseTrailRequest { request_id: id.clone() }, Some(token));
    let own = trail_at.case_trail(ask(&pm_token)).await.unwrap().into_inner().entries;
    let actions: Vec<_> = own.iter().map(|e| (e.service.as_str(), e.action.as_str())).collect();
    let verification_part: Vec<_> =
        expected.iter().filter(|e| e.0 == "verification").map(|e| (e.0.as_str(), e.1.as_str())).collect();
    assert_eq!(actions, verification_part);
    assert_eq!(actions.len(), documents + 2, "received, each document confirmed, verified");
    let foreign = reception.staff_token("hayat.pm").await.unwrap();
    assert!(trail_at.case_trail(ask(&foreign)).await.unwrap().into_inner().entries.is_empty());
    let refused = trail_at.case_trail(ask(&researcher_token)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let anonymous = trail_at.case_trail(grpc_request(audit::CaseTrailRequest { request_id: id.clone() }, None));
    assert_eq!(anonymous.await.unwrap_err().code(), tonic::Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_is_audited_embedded() {
    let (suite, _) = embedded_suite().await;
    drive_audit(&suite).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_is_audited_distributed() {
    let distributed = distributed_suite().await;
    drive_audit(&distributed.suite).await;
    distributed.stop().await;
}

/// Edits the trail around its append-only guard, as someone with the
/// database's credentials could, and checks `masar audit verify` names the row.
async fn drive_tampering(suite: &Suite, settings: &masar_platform::config::Settings) {
    use masar_platform::db::{Backend, Sql};
    let reception = GatewayClient::new(&suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    for _ in 0..2 {
        masar::demo::submit(&reception, &NUZUL, &masar::demo::new_national_id(), "سعد علي", MOBILE).await.unwrap();
    }
    let intact = masar::verify_audit_chains(settings).await.unwrap();
    for (role, check) in &intact {
        assert_eq!(check.broken, None, "{role}");
    }
    let (_, intake) = &intact[0];
    assert!(intake.rows >= 6 && intake.chains >= 2, "{intake:?}: two cases");
    let (role, identity) = &intact[1];
    assert!(*role == Role::Identity && identity.rows >= 1 && identity.chains >= 1, "{identity:?}: the sign-in");

    let db = masar::role_database(Role::Intake, settings).await.unwrap();
    let guard_off: &[&'static str] = match db.backend() {
        Backend::Postgres => &["ALTER TABLE audit_log DISABLE TRIGGER audit_log_is_append_only"],
        Backend::Sqlite => &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
    };
    for statement in guard_off {
        db.execute(Sql::new(statement)).await.unwrap();
    }
    let rows = db.fetch_all(Sql::new("SELECT seq, detail FROM audit_log ORDER BY seq LIMIT 2")).await.unwrap();
    let (second, detail) = (rows[1].int("seq").unwrap(), rows[1].text("detail").unwrap());
    db.execute(Sql::new("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = $1").bind(second)).await.unwrap();
    let broken = masar::verify_audit_chains(settings).await.unwrap()[0].1.broken.clone().expect("the edit is caught");
    assert_eq!(broken.seq, second);
    assert!(broken.problem.contains("changed"), "{broken:?}");

    // Put back, the chain holds again; a row removed from a chain's end is caught too.
    db.execute(Sql::new("UPDATE audit_log SET detail = $2 WHERE seq = $1").bind(second).bind(detail)).await.unwrap();
    assert_eq!(masar::verify_audit_chains(settings).await.unwrap()[0].1.broken, None);
    let last = db.fetch_all(Sql::new("SELECT max(seq) AS seq FROM audit_log")).await.unwrap()[0].int("seq").unwrap();
    db.execute(Sql::new("DELETE FROM audit_log WHERE seq = $1").bind(last)).await.unwrap();
    let broken = masar::verify_audit_chains(settings).await.unwrap()[0].1.broken.clone();
    assert!(broken.is_some_and(|b| b.problem.contains("removed")), "a removed row goes unseen");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_trail_is_caught_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let settings = masar_platform::config::Settings::from_map(
        [("MASAR_DATA_DIR".to_owned(), data_dir.display().to_string())].into_iter().collect(),
    )
    .unwrap();
    drive_tampering(&suite, &settings).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_trail_is_caught_distributed() {
    let distributed = distributed_suite().await;
    drive_tampering(&distributed.suite, &distributed.settings).await;
    distributed.stop().await;
}
