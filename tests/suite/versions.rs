//! ETag / If-Match on staff updates: an action on an older reading of a
//! case, assignment, agenda item or inquiry is refused with 412 instead of
//! overwriting a colleague's change, through the gateway and at the port.

use crate::support::{distributed_suite, embedded_suite, grpc_request};
use masar::Suite;
use masar::demo::{GatewayClient, NUZUL, recommendation_body, scores_for, submit, visit_today};
use masar_platform::role::Role;
use masar_proto::committee::v1 as committee;
use serde_json::{Value, json};

/// A staff POST with an optional `If-Match`; the status, the `ETag` and the body.
async fn act(
    client: &GatewayClient,
    staff: &str,
    path: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, String, Value) {
    act_as(reqwest::Method::POST, client, staff, path, if_match, body).await
}

/// A staff call with an optional `If-Match`; the status, the `ETag` and the body.
async fn act_as(
    method: reqwest::Method,
    client: &GatewayClient,
    staff: &str,
    path: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, String, Value) {
    let token = client.staff_token(staff).await.unwrap();
    let url = format!("{}{path}", client.base());
    let mut request = reqwest::Client::new().request(method, url).bearer_auth(token).json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let etag = answer.headers().get("etag").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, etag, answer.json().await.unwrap())
}

fn tag(version: &Value) -> String {
    format!("\"{}\"", version.as_u64().expect("a version"))
}

fn assert_stale(answer: &(u16, String, Value)) {
    let (status, _, body) = answer;
    assert_eq!((*status, body["code"].as_str()), (412, Some("precondition_failed")), "{body}");
    assert!(body["message"]["ar"].as_str().unwrap().contains("مستخدم آخر"), "{body}");
}

async fn drive_versions(suite: &Suite) {
    let client = GatewayClient::new(&suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&client, &NUZUL, "1000000024", "نورة سعد", "0557654321").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();

    // Verification: two readings of the same case, the second one stale after a review.
    client.wait_until_pending(&id, NUZUL.project_manager).await.unwrap();
    let pending = client.get("/v1/verification/pending", Some(NUZUL.project_manager)).await.unwrap();
    let case = pending["requests"].as_array().unwrap().iter().find(|r| r["request_id"] == id.as_str()).unwrap();
    let seen = tag(&case["version"]);
    let review = format!("/v1/requests/{id}/verification/documents/national_id");
    let reviewed = act(&client, NUZUL.project_manager, &review, Some(&seen), json!({ "review": "accepted" })).await;
    assert_eq!(reviewed.0, 200, "{}", reviewed.2);
    assert_ne!(reviewed.1, seen, "the review raised the version");
    let accept = format!("/v1/requests/{id}/verification/accept");
    assert_stale(&act(&client, NUZUL.project_manager, &accept, Some(&seen), json!({})).await);
    // Every other document confirmed too, each raising the version.
    client.confirm_documents(&id, NUZUL.project_manager).await.unwrap();
    let pending = client.find_in_list("/v1/verification/pending", "requests", &id, Some(NUZUL.project_manager));
    let confirmed = tag(&pending.await.unwrap().unwrap()["version"]);
    assert_stale(&act(&client, NUZUL.project_manager, &accept, Some(&reviewed.1), json!({})).await);
    let accepted = act(&client, NUZUL.project_manager, &accept, Some(&confirmed), json!({})).await;
    assert_eq!((accepted.0, accepted.2["status"].as_str()), (200, Some("verified")), "{}", accepted.2);
    assert_eq!(accepted.1, tag(&accepted.2["version"]), "the ETag is the answer's version");

    // Research: the visit raises the assignment's version; a recommendation on the older reading is refused.
    let researcher = client.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let assignments = client.get("/v1/research/assignments", Some(&researcher)).await.unwrap();
    let assignment =
        assignments["assignments"].as_array().unwrap().iter().find(|a| a["request_id"] == id.as_str()).unwrap();
    let seen = tag(&assignment["version"]);
    let visit = format!("/v1/requests/{id}/research/visits");
    let visited = act(&client, &researcher, &visit, Some(&seen), visit_today("The roof leaks.")).await;
    assert_eq!(visited.0, 200, "{}", visited.2);
    // Scoring the criteria raises it again: a recommendation on the visit's reading is refused.
    let file = client.get(&format!("/v1/requests/{id}/research/file"), Some(&researcher)).await.unwrap();
    let scores = json!({ "scores": scores_for(&file, "approve").unwrap() });
    let score = format!("/v1/requests/{id}/research/scores");
    let scored = act_as(reqwest::Method::PUT, &client, &researcher, &score, Some(&visited.1), scores).await;
    assert_eq!(scored.0, 200, "{}", scored.2);
    let recommend = format!("/v1/requests/{id}/research/recommendation");
    let recommendation = recommendation_body("approve");
    assert_stale(&act(&client, &researcher, &recommend, Some(&visited.1), recommendation.clone()).await);
    let recommended = act(&client, &researcher, &recommend, Some(&scored.1), recommendation).await;
    assert_eq!(recommended.0, 200, "{}", recommended.2);

    // Committee: each vote raises the item's version, so a decision on a reading before the last vote is refused.
    client.wait_for_agenda(&id, NUZUL.committee[0], NUZUL.branch).await.unwrap();
    masar::demo::hold_meeting(&client, &NUZUL).await.unwrap();
    let votes = format!("/v1/requests/{id}/committee/votes");
    let first = act(&client, NUZUL.committee[0], &votes, None, json!({ "vote": "approve" })).await;
    assert_eq!(first.0, 200, "{}", first.2);
    let second = act(&client, NUZUL.committee[1], &votes, Some(&first.1), json!({ "vote": "approve" })).await;
    assert_eq!(second.0, 200, "{}", second.2);
    let decide = format!("/v1/requests/{id}/committee/decision");
    let decision = json!({ "decision": "approved" });
    assert_stale(&act(&client, NUZUL.committee[0], &decide, Some(&first.1), decision.clone()).await);
    // Straight at committee's port, the version the member saw travels in the message.
    let port = suite.url(Role::Committee);
    let mut service = committee::committee_service_client::CommitteeServiceClient::connect(port).await.unwrap();
    let stale = committee::RecordDecisionRequest {
        request_id: id.clone(),
        decision: "approved".into(),
        expected_version: first.2["version"].as_u64().unwrap(),
        ..Default::default()
    };
    let direct = grpc_request(stale, Some(&client.staff_token(NUZUL.committee[0]).await.unwrap()));
    assert_eq!(service.record_decision(direct).await.unwrap_err().code(), tonic::Code::Aborted);
    let decided = act(&client, NUZUL.committee[0], &decide, Some(&second.1), decision).await;
    assert_eq!((decided.0, decided.2["status"].as_str()), (200, Some("approved")), "{}", decided.2);

    // Inquiries: the reading's ETag; an answer on the reading before the referral is refused.
    let question = json!({ "association": "nuzul", "branch": NUZUL.branch, "channel": "phone",
                           "name": "Fahad", "question": "Which documents prove the address?" });
    let asked = client.post("/v1/inquiries", Some(NUZUL.reception), question).await.unwrap();
    let inquiry = format!("/v1/inquiries/{}", asked["inquiry_id"].as_str().unwrap());
    let read = reqwest::Client::new()
        .get(format!("{}{inquiry}", client.base()))
        .bearer_auth(client.staff_token(NUZUL.reception).await.unwrap())
        .send()
        .await
        .unwrap();
    let seen = read.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(seen, "\"1\"");
    let referred = act(&client, NUZUL.reception, &format!("{inquiry}/refer"), Some(&seen), json!({})).await;
    assert_eq!((referred.0, referred.1.as_str()), (200, "\"2\""), "{}", referred.2);
    let answer = json!({ "answer": "The latest electricity bill." });
    assert_stale(&act(&client, "nuzul.referral", &format!("{inquiry}/answer"), Some(&seen), answer.clone()).await);
    let answered = act(&client, "nuzul.referral", &format!("{inquiry}/answer"), Some("W/\"2\""), answer).await;
    assert_eq!((answered.0, answered.2["status"].as_str()), (200, Some("answered")), "{}", answered.2);
    // `*` sets no condition; a malformed tag is refused before anything happens.
    let again = act(&client, "nuzul.referral", &format!("{inquiry}/answer"), Some("*"), json!({ "answer": "x" })).await;
    assert_eq!(again.0, 409, "an answered inquiry stays answered: {}", again.2);
    let malformed =
        act(&client, "nuzul.referral", &format!("{inquiry}/answer"), Some("3"), json!({ "answer": "x" })).await;
    assert_eq!((malformed.0, malformed.2["code"].as_str()), (400, Some("invalid_request")), "{}", malformed.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_cannot_overwrite_each_other_embedded() {
    let (suite, _) = embedded_suite().await;
    drive_versions(&suite).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_cannot_overwrite_each_other_distributed() {
    let distributed = distributed_suite().await;
    drive_versions(&distributed.suite).await;
    distributed.stop().await;
}
