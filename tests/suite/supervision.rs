//! The promise on a working calendar, kept watch over: a case past its
//! stage's target shows on its supervisor's overdue list, alerts them once
//! (in the product and by SMS) with the escalation on the case's trail, and
//! the beneficiary is told the new expected date when the promise slips;
//! the next stage starts a clock of its own. Weeks pass on the suite's
//! clock, never by sleeping.

use crate::support::{distributed_suite, embedded_suite_clocked, logged_sms};
use masar::demo::{Cast, GatewayClient, HAYAT, NUZUL, deliver, research_and_decide, sign_up, submit};
use masar_platform::clock::Clock;
use serde_json::{Value, json};

/// Every `YYYY-MM-DD` a text names.
fn days_in(text: &str) -> Vec<chrono::NaiveDate> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|word| chrono::NaiveDate::parse_from_str(word, "%Y-%m-%d").ok())
        .collect()
}

fn trail_count(trail: &Value, action: &str) -> usize {
    trail["entries"].as_array().unwrap().iter().filter(|e| e["action"] == action).count()
}

async fn overdue_case_escalated_once(base: &GatewayClient, clock: &Clock, read_sms: &dyn Fn() -> Vec<String>) {
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, "1000000297", "لولوة سعد", "0553332211").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    let promised =
        chrono::NaiveDate::parse_from_str(submitted["expected_decision_on"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    base.wait_until_pending(&id, NUZUL.project_manager).await.unwrap();
    let overdue = "/v1/supervision/overdue?stage=verification";
    let listed = base.get(overdue, Some(NUZUL.branch_manager)).await.unwrap();
    assert_eq!(listed["cases"], json!([]), "on time: {listed}");

    // Ten days on, the project manager has still not verified it: two working days were its target.
    clock.advance(chrono::Duration::days(10));
    let case = base
        .eventually("the case on the overdue list, escalated", || async {
            let listed = base.get(overdue, Some(NUZUL.branch_manager)).await?;
            let found =
                listed["cases"].as_array().and_then(|c| c.iter().find(|c| c["request_id"] == id.as_str()).cloned());
            Ok(found.filter(|c| !c["escalated_at"].is_null()))
        })
        .await
        .unwrap();
    assert_eq!((case["stage"].as_str(), case["branch"].as_str()), (Some("verification"), Some("riyadh")), "{case}");
    assert!(case["working_days_over"].as_u64().unwrap() >= 3, "{case}");
    let elsewhere = base.get("/v1/supervision/overdue", Some("nuzul.jeddah.branch")).await.unwrap();
    assert_eq!(elsewhere["cases"], json!([]), "another branch's manager sees none of it");
    let (status, refused) = base
        .call(reqwest::Method::GET, "/v1/supervision/overdue?stage=delivery", Some(NUZUL.branch_manager), None)
        .await
        .unwrap();
    assert_eq!((status, refused["fields"][0]["field"].as_str()), (400, Some("stage")), "{refused}");

    // The branch manager's alert, in the product and by SMS; the beneficiary's new date.
    let alerts = base.get("/v1/supervision/alerts", Some(NUZUL.branch_manager)).await.unwrap();
    let reference = submitted["reference"].as_str().unwrap();
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1, "{alerts}");
    assert!(alerts["alerts"][0]["message"]["en"].as_str().unwrap().contains(reference), "{alerts}");
    let admin_alerts = base.get("/v1/supervision/alerts", Some("nuzul.admin")).await.unwrap();
    assert_eq!(admin_alerts["alerts"], json!([]), "verification is the branch manager's to answer for");
    let sms = base
        .eventually("the supervisor's and the beneficiary's SMS", || async {
            let texts = read_sms();
            let to_manager: Vec<String> = texts.iter().filter(|t| t.starts_with("+966550000101")).cloned().collect();
            let revised: Vec<String> =
                texts.iter().filter(|t| t.starts_with("+966553332211") && t.contains("تأخير")).cloned().collect();
            Ok((!to_manager.is_empty() && !revised.is_empty()).then_some((to_manager, revised)))
        })
        .await
        .unwrap();
    assert_eq!(sms.0.len(), 1, "{:?}", sms.0);
    assert!(sms.0[0].contains(reference) && sms.0[0].contains("تنبيه"), "{:?}", sms.0);
    let new_date = days_in(&sms.1[0]).into_iter().max().unwrap();
    assert!(new_date > promised, "the new expected date is later than the promise: {:?}", sms.1);
    let timeline = reception.get(&format!("/v1/requests/{id}/timeline"), None).await.unwrap();
    assert_eq!(
        (timeline["awaiting_stage"].as_str(), timeline["stage_overdue"].as_bool()),
        (Some("verification"), Some(true))
    );

    // Verified at last: research's clock starts afresh, and its own breach alerts once more.
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    clock.advance(chrono::Duration::days(14));
    base.eventually("research's breach", || async {
        let listed = base.get("/v1/supervision/overdue?stage=research", Some(NUZUL.branch_manager)).await?;
        let found = listed["cases"].as_array().and_then(|c| c.iter().find(|c| c["request_id"] == id.as_str()).cloned());
        Ok(found.filter(|c| !c["escalated_at"].is_null()))
    })
    .await
    .unwrap();
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(NUZUL.branch_manager)).await.unwrap();
    assert_eq!(trail_count(&trail, "case.escalated"), 2, "once per breach: {trail}");
    assert!(trail_count(&trail, "case.promise_revised") >= 1, "{trail}");
    // One SMS to the manager per breach, however many passes read the clocks since: by the time
    // another case's breach reaches him, this one's two have not been sent again.
    let later = submit(&reception, &NUZUL, "1000000354", "عبير ناصر", "0553332299").await.unwrap();
    let later_reference = later["reference"].as_str().unwrap().to_owned();
    base.wait_until_pending(later["request_id"].as_str().unwrap(), NUZUL.project_manager).await.unwrap();
    clock.advance(chrono::Duration::days(10));
    let to_manager =
        |about: &str| read_sms().into_iter().filter(|t| t.starts_with("+966550000101") && t.contains(about)).count();
    base.eventually("the later case's alert", || async { Ok((to_manager(&later_reference) == 1).then_some(())) })
        .await
        .unwrap();
    assert_eq!(to_manager(reference), 2, "{:?}", read_sms());
    let alerts = base.get("/v1/supervision/alerts", Some(NUZUL.branch_manager)).await.unwrap();
    let stages: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["reference"] == reference)
        .map(|a| a["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["research", "verification"], "the latest first: {alerts}");
    assert!(
        base.get("/v1/supervision/overdue?stage=verification", Some(NUZUL.branch_manager)).await.unwrap()["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["request_id"] != id.as_str()),
        "verified, it left verification's list"
    );
}

/// A Hayat service delivered and never rated: the case closes by itself once
/// the pack's 30 days have passed, and a late rating is refused with why.
async fn unrated_delivery_closes_by_itself(base: &GatewayClient, clock: &Clock, read_sms: &dyn Fn() -> Vec<String>) {
    let applicant = json!({ "national_id": "1000000305", "full_name": "جواهر علي", "mobile": "0553334466" });
    let beneficiary = sign_up(base, "hayat", applicant, read_sms).await.unwrap();
    let online = Cast { channel: "website", ..HAYAT };
    let submitted = submit(&beneficiary, &online, "1000000305", "جواهر علي", "0553334466").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, HAYAT.project_manager).await.unwrap();
    research_and_decide(&beneficiary, &HAYAT, &id, "approved").await.unwrap();
    let delivered = deliver(&beneficiary, &HAYAT, &id).await.unwrap();
    assert_eq!(delivered["status"], "service_delivered", "{delivered}");
    clock.advance(chrono::Duration::days(31));
    let timeline = beneficiary.wait_for_status(&id, "closed").await.unwrap();
    let last = timeline["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["actor_role"].as_str(), last["stage"].as_str()), (Some("system"), Some("satisfaction")), "{last}");
    let note = last["note"].as_str().unwrap();
    assert!(note.contains("أغلق الطلب دون تقييم") && note.contains("30"), "in the beneficiary's Arabic: {last}");
    let (status, refused) = beneficiary
        .call(reqwest::Method::POST, &format!("/v1/requests/{id}/rating"), None, Some(json!({ "score": 5 })))
        .await
        .unwrap();
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"]["en"].as_str().unwrap().contains("closed without a rating"), "{refused}");
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(HAYAT.branch_manager)).await.unwrap();
    assert_eq!(trail_count(&trail, "case.closed_unrated"), 1, "{trail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrated_delivery_closes_by_itself_embedded() {
    let (suite, data_dir, clock) = embedded_suite_clocked().await;
    let base = GatewayClient::new(&suite.gateway_url());
    unrated_delivery_closes_by_itself(&base, &clock, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrated_delivery_closes_by_itself_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let (clock, sms) = (distributed.settings.clock.clone(), distributed.sms.clone());
    unrated_delivery_closes_by_itself(&base, &clock, &move || sms.texts()).await;
    distributed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_past_its_stage_target_alerts_its_supervisor_once_embedded() {
    let (suite, data_dir, clock) = embedded_suite_clocked().await;
    let base = GatewayClient::new(&suite.gateway_url());
    overdue_case_escalated_once(&base, &clock, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_past_its_stage_target_alerts_its_supervisor_once_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let (clock, sms) = (distributed.settings.clock.clone(), distributed.sms.clone());
    overdue_case_escalated_once(&base, &clock, &move || sms.texts()).await;
    distributed.stop().await;
}
