//! The whole journey through the gateway, in both shapes, and bad input.

use crate::support::{distributed_suite, embedded_suite};
use masar::demo::{GatewayClient, HAYAT, NUZUL, research_and_decide, submit};
use serde_json::{Value, json};

fn statuses(timeline: &Value) -> Vec<(String, String, String)> {
    timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_owned(),
                e["stage"].as_str().unwrap().to_owned(),
                e["actor_role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn s(status: &str, stage: &str, role: &str) -> (String, String, String) {
    (status.into(), stage.into(), role.into())
}

/// Nuzul: returned for completion, resubmitted, approved. Hayat: rejected.
async fn drive_both_associations(client: &GatewayClient) {
    let submitted = submit(client, &NUZUL, "1000000008", "محمد عبدالله", "0551234567").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    assert_eq!(submitted["status"], "submitted");
    assert!(submitted["reference"].as_str().unwrap().starts_with("NZL-"));
    let submitted_on = chrono::Utc::now().date_naive();
    assert_eq!(submitted["expected_decision_on"], (submitted_on + chrono::Days::new(14)).to_string());
    assert!(submitted["message"]["ar"].as_str().unwrap().contains("لجنة البحث"));

    client.wait_until_pending(&id, NUZUL.project_manager).await.unwrap();
    client
        .post(
            &format!("/v1/requests/{id}/verification/return"),
            Some(NUZUL.project_manager),
            json!({ "missing_items": ["Title deed"] }),
        )
        .await
        .unwrap();
    client.wait_for_status(&id, "returned_for_completion").await.unwrap();
    // Accepting a returned request is refused by the state machine.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{id}/verification/accept"),
            Some(NUZUL.project_manager),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!((status, body["code"].as_str()), (409, Some("failed_precondition")), "{body}");
    client.post(&format!("/v1/requests/{id}/resubmit"), None, json!({ "note": "deed attached" })).await.unwrap();
    client.wait_until_pending(&id, NUZUL.project_manager).await.unwrap();
    client
        .post(&format!("/v1/requests/{id}/verification/accept"), Some(NUZUL.project_manager), json!({}))
        .await
        .unwrap();
    research_and_decide(client, &NUZUL, &id, "approved").await.unwrap();

    let timeline = client.get(&format!("/v1/requests/{id}/timeline"), None).await.unwrap();
    assert_eq!(
        statuses(&timeline),
        vec![
            s("submitted", "intake", "beneficiary"),
            s("returned_for_completion", "intake", "project_manager"),
            s("submitted", "intake", "beneficiary"),
            s("verified", "verification", "project_manager"),
            s("researcher_assigned", "research", "system"),
            s("field_visit_recorded", "research", "social_researcher"),
            s("recommended", "research", "social_researcher"),
            s("on_committee_agenda", "committee", "system"),
            s("approved", "committee", "committee_member"),
        ]
    );
    // Every stage event told the beneficiary, once, in Arabic.
    let messages = client
        .eventually("nine sent messages", || async {
            let m = client.get(&format!("/v1/requests/{id}/messages"), Some(NUZUL.branch_manager)).await?;
            let list = m["messages"].as_array().cloned().unwrap_or_default();
            Ok((list.len() == 9 && list.iter().all(|x| x["status"] == "sent")).then_some(list))
        })
        .await
        .unwrap();
    assert!(messages[0]["text"].as_str().unwrap().contains(submitted["reference"].as_str().unwrap()));
    assert_eq!(messages[0]["mobile"], "+9665******67");
    assert!(messages[1]["text"].as_str().unwrap().contains("Title deed"));

    let hayat = submit(client, &HAYAT, "2000000006", "Aisha Rahman", "0567654321").await.unwrap();
    let hayat_id = hayat["request_id"].as_str().unwrap().to_owned();
    client.wait_until_pending(&hayat_id, HAYAT.project_manager).await.unwrap();
    client
        .post(&format!("/v1/requests/{hayat_id}/verification/accept"), Some(HAYAT.project_manager), json!({}))
        .await
        .unwrap();
    research_and_decide(client, &HAYAT, &hayat_id, "rejected").await.unwrap();
    let request = client.get(&format!("/v1/requests/{hayat_id}"), None).await.unwrap();
    assert_eq!(request["status"], "rejected");
    assert_eq!(request["national_id"], "2******006");
}

/// Bad input is a 4xx with a stable, bilingual body; never a 500.
async fn refuse_bad_input(client: &GatewayClient) {
    let post = |path: &str, staff: Option<&'static str>, body: Value| {
        let client = client.clone();
        let path = path.to_owned();
        async move { client.call(reqwest::Method::POST, &path, staff, Some(body)).await.unwrap() }
    };
    // malformed JSON
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/requests", client_base(client)))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request");
    assert!(!body["message"]["ar"].as_str().unwrap().is_empty());

    // missing fields
    let (status, body) = post("/v1/requests", None, json!({ "association": "nuzul" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]["en"].as_str().unwrap().contains("missing field"), "{body}");

    // unknown association, invalid ID and mobile: every field reported
    let (status, body) = post(
        "/v1/requests",
        None,
        json!({ "association": "nowhere", "branch": "x", "service_type": "y", "channel": "pigeon",
                "applicant": { "national_id": "1000000000", "full_name": " ", "mobile": "0521234567" } }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["association", "channel", "applicant.national_id", "applicant.mobile", "applicant.full_name"]);
    assert_eq!(body["fields"][2]["message"]["ar"], "رقم الهوية غير صحيح، يرجى التحقق منه");

    // unknown branch and service type of a known association
    let (status, body) = post(
        "/v1/requests",
        None,
        json!({ "association": "hayat", "branch": "riyadh", "service_type": "roof_repair", "channel": "website",
                "applicant": { "national_id": "1000000008", "full_name": "A B", "mobile": "0551234567" } }),
    )
    .await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["branch", "service_type"]);

    // identity and scope
    let submitted = submit(client, &NUZUL, "1000000008", "A B", "0551234567").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap();
    client.wait_until_pending(id, NUZUL.project_manager).await.unwrap();
    let accept = format!("/v1/requests/{id}/verification/accept");
    let (status, body) = post(&accept, None, json!({})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let (status, _) = post(&accept, Some("nobody"), json!({})).await;
    assert_eq!(status, 401);
    let (status, body) = post(&accept, Some("nuzul.researcher1"), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("permission_denied")));
    // another association's project manager cannot even see it
    let (status, _) = post(&accept, Some("hayat.pm"), json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = post("/v1/requests/not-a-uuid/verification/accept", Some("nuzul.pm"), json!({})).await;
    assert_eq!(status, 400);
    let (status, _) = client.call(reqwest::Method::GET, "/v1/nothing-here", None, None).await.unwrap();
    assert_eq!(status, 404);
    // returning needs to say what is missing
    let (status, body) =
        post(&format!("/v1/requests/{id}/verification/return"), Some("nuzul.pm"), json!({ "missing_items": [] })).await;
    assert_eq!(status, 400);
    assert_eq!(body["fields"][0]["field"], "missing_items");
}

fn client_base(client: &GatewayClient) -> String {
    client.base().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let client = GatewayClient::new(&suite.gateway_url());
    drive_both_associations(&client).await;
    // the dev SMS provider wrote every message to the data directory
    let log = std::fs::read_to_string(data_dir.join("sms.log")).unwrap();
    assert!(log.lines().count() >= 9, "{log}");
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_distributed() {
    let distributed = distributed_suite().await;
    let client = GatewayClient::new(&distributed.suite.gateway_url());
    drive_both_associations(&client).await;
    assert!(distributed.sms.count() >= 9);
    distributed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_embedded() {
    let (suite, _) = embedded_suite().await;
    refuse_bad_input(&GatewayClient::new(&suite.gateway_url())).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_distributed() {
    let distributed = distributed_suite().await;
    refuse_bad_input(&GatewayClient::new(&distributed.suite.gateway_url())).await;
    distributed.stop().await;
}
