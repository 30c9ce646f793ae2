//! After approval: the project manager records the delivery plan's steps
//! (partly, if need be), the beneficiary confirms the handover where the
//! plan asks, is invited by SMS once the plan is complete and rates it once,
//! the case closes, and supervisors read the figures per service type; a
//! case never rated closes by itself after the pack's period.

use chrono::Datelike as _;
use masar::demo::{Cast, GatewayClient};
use reqwest::Method;
use serde_json::{Value, json};

/// Takes an approved request of `cast` through delivery and the
/// beneficiary's rating; `beneficiary` calls as the request's own beneficiary.
pub async fn deliver_and_rate(beneficiary: &GatewayClient, cast: &Cast<'_>, id: &str) {
    let delivery = format!("/v1/requests/{id}/delivery");
    let steps = format!("{delivery}/steps");
    let rating = format!("/v1/requests/{id}/rating");
    let call = |method, path, staff, body| attempt(beneficiary, method, path, staff, body);

    // Not before the service is delivered.
    let early = call(Method::POST, &rating, None, Some(json!({ "score": 5 }))).await;
    assert_eq!(code(&early), (409, "failed_precondition".into()), "{}", early.1);
    // The pack delivers in steps: not in one go.
    let one_go = call(Method::POST, &delivery, Some(cast.project_manager), Some(json!({}))).await;
    assert_eq!((one_go.0, one_go.1["reason"].as_str()), (409, Some("delivery.plan")), "{}", one_go.1);
    let plan = beneficiary.get(&delivery, None).await.unwrap();
    assert_eq!((plan["complete"].as_bool(), plan["unrated_closes_after_days"].as_u64()), (Some(false), Some(30)));
    let first = plan["steps"][0].clone();
    // Steps are the supervisors' to record, not the beneficiary's; each is checked at its field.
    let own = call(Method::POST, &steps, None, Some(json!({ "step": first["code"] }))).await;
    assert_eq!(code(&own), (403, "permission_denied".into()), "{}", own.1);
    let unknown = call(Method::POST, &steps, Some(cast.project_manager), Some(json!({ "step": "fireworks" }))).await;
    assert_eq!((unknown.0, unknown.1["fields"][0]["field"].as_str()), (400, Some("step")), "{}", unknown.1);
    let tomorrow = (masar_domain::calendar::saudi_day(chrono::Utc::now()) + chrono::Days::new(1)).to_string();
    let ahead = json!({ "step": first["code"], "done_on": tomorrow, "note": "x".repeat(2001) });
    let ahead = call(Method::POST, &steps, Some(cast.project_manager), Some(ahead)).await;
    let fields: Vec<&str> =
        ahead.1["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(ahead.0, 400, "{}", ahead.1);
    assert!(fields.contains(&"done_on") && fields.contains(&"note"), "{}", ahead.1);
    // In the plan's order: not the last step first.
    let last_code = plan["steps"].as_array().unwrap().last().unwrap()["code"].clone();
    let early_last =
        json!({ "step": last_code, "done_on": masar_domain::calendar::saudi_day(chrono::Utc::now()).to_string() });
    let early_last = call(Method::POST, &steps, Some(cast.project_manager), Some(early_last)).await;
    assert_eq!(
        (early_last.0, early_last.1["reason"].as_str()),
        (409, Some("delivery.step_out_of_order")),
        "{}",
        early_last.1
    );
    let untouched = beneficiary.get(&delivery, None).await.unwrap();
    assert!(untouched["steps"][0]["records"].as_array().unwrap().is_empty(), "nothing kept: {untouched}");
    // A partial delivery keeps its step open.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now()).to_string();
    let mut partly = json!({ "step": first["code"], "done_on": today, "partial": true, "note": "First part" });
    for asked in first["asks"].as_array().unwrap() {
        partly[asked.as_str().unwrap()] = if asked == "amount_sar" { json!(5_000) } else { json!("Part one") };
    }
    let partial = beneficiary.post(&steps, Some(cast.project_manager), partly).await.unwrap();
    assert_eq!(partial["steps"][0]["done"], false, "{partial}");
    assert_eq!(partial["steps"][0]["records"][0]["partial"], true, "{partial}");

    let done = masar::demo::deliver(beneficiary, cast, id).await.unwrap();
    assert_eq!(
        (done["complete"].as_bool(), done["status"].as_str()),
        (Some(true), Some("service_delivered")),
        "{done}"
    );
    assert_eq!(done["steps"][0]["records"].as_array().unwrap().len(), 2, "the partial record is kept: {done}");
    let confirms = done["steps"].as_array().unwrap().iter().any(|s| s["beneficiary_confirms"] == true);
    let again = call(Method::POST, &steps, Some(cast.project_manager), Some(json!({ "step": first["code"] }))).await;
    assert_eq!(code(&again), (409, "failed_precondition".into()), "{}", again.1);

    // The beneficiary is invited to rate, in their language.
    let invitation = beneficiary
        .eventually("the invitation to rate", || async {
            let m = beneficiary.get(&format!("/v1/requests/{id}/messages"), Some(cast.branch_manager)).await?;
            Ok(m["messages"].as_array().into_iter().flatten().find(|m| m["event_type"] == "service.delivered").cloned())
        })
        .await
        .unwrap();
    assert!(invitation["text"].as_str().unwrap().contains("تقييم"), "{invitation}");

    // Staff do not rate on the beneficiary's behalf; a score is 1 to 5.
    let by_staff = call(Method::POST, &rating, Some(cast.reception), Some(json!({ "score": 5 }))).await;
    assert_eq!(code(&by_staff), (403, "permission_denied".into()), "{}", by_staff.1);
    let out_of_range = call(Method::POST, &rating, None, Some(json!({ "score": 6, "comment": "" }))).await;
    assert_eq!((out_of_range.0, out_of_range.1["fields"][0]["field"].as_str()), (400, Some("score")));
    assert!(out_of_range.1["fields"][0]["message"]["ar"].as_str().unwrap().contains("٥"));

    let (status, rated) =
        call(Method::POST, &rating, None, Some(json!({ "score": 4, "comment": "  خدمة ممتازة وتأخر بسيط  " }))).await;
    assert_eq!(status, 201, "{rated}");
    assert_eq!((rated["score"].as_u64(), rated["comment"].as_str()), (Some(4), Some("خدمة ممتازة وتأخر بسيط")));
    assert_eq!(rated["status"], "closed");
    let twice = call(Method::POST, &rating, None, Some(json!({ "score": 1 }))).await;
    assert_eq!(code(&twice), (409, "failed_precondition".into()), "{}", twice.1);

    let timeline = beneficiary.get(&format!("/v1/requests/{id}/timeline"), None).await.unwrap();
    let last: Vec<_> = timeline["entries"].as_array().unwrap().iter().rev().take(2).collect();
    // Delivered by whoever completed the plan: the beneficiary confirming the handover, or the project manager.
    let completed_by = if confirms { "beneficiary" } else { "project_manager" };
    assert_eq!(
        (last[1]["status"].as_str(), last[1]["actor_role"].as_str()),
        (Some("service_delivered"), Some(completed_by))
    );
    assert_eq!((last[0]["status"].as_str(), last[0]["stage"].as_str()), (Some("closed"), Some("satisfaction")));
    assert_eq!(timeline["status"], "closed");

    // The trail says who delivered and that the beneficiary rated, but not the score.
    let trail = beneficiary.get(&format!("/v1/requests/{id}/audit"), Some(cast.branch_manager)).await.unwrap();
    let entries = trail["entries"].as_array().unwrap();
    let rated_entry = entries.iter().find(|e| e["action"] == "service.rated").expect("the rating is audited");
    assert_eq!((rated_entry["actor_role"].as_str(), rated_entry["detail"].as_str()), (Some("beneficiary"), Some("")));
    assert!(entries.iter().any(|e| e["action"] == "service.delivered"), "{trail}");
    let steps_recorded = entries.iter().filter(|e| e["action"] == "delivery.step_recorded").collect::<Vec<_>>();
    assert!(steps_recorded.len() >= 3 && steps_recorded.iter().all(|e| e["actor"] == cast.project_manager), "{trail}");
    assert_eq!(entries.iter().any(|e| e["action"] == "delivery.step_confirmed"), confirms, "{trail}");

    // The figures count the rating under its service type, for the case's scope only.
    let figures = beneficiary.get("/v1/satisfaction", Some(cast.branch_manager)).await.unwrap();
    assert_eq!(figures["branch"], cast.branch);
    let of_type = figures["service_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_type"] == cast.service_type)
        .unwrap_or_else(|| panic!("{figures}"));
    // This month's ratings are published once the month has ended, and then only in cells of five
    // or more: reading the figures before and after this rating tells nothing of it.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let last_month_end = today.with_day(1).unwrap().pred_opt().unwrap();
    assert_eq!(figures["period_to"], last_month_end.to_string(), "{figures}");
    assert_eq!((of_type["ratings"].as_u64(), of_type["withheld"].as_bool()), (Some(0), Some(false)), "{figures}");
    assert!(of_type["average"].is_null() && of_type["by_score"] == json!([]), "{figures}");
    let listed = figures["service_types"].as_array().unwrap().len();
    assert!(listed >= 2, "every type offered is listed: {figures}");
    // Another branch's manager counts none of it.
    let jeddah = beneficiary.get("/v1/satisfaction", Some("nuzul.jeddah.branch")).await.unwrap();
    assert_eq!(jeddah["branch"], "jeddah");
    assert!(jeddah["service_types"].as_array().unwrap().iter().all(|s| s["ratings"] == 0), "{jeddah}");
    // A range inside this month publishes nothing at all.
    let this_month = today.with_day(1).unwrap();
    let inside =
        beneficiary.get(&format!("/v1/satisfaction?from={this_month}"), Some(cast.branch_manager)).await.unwrap();
    assert!(inside["period_to"].is_null(), "{inside}");
    let backwards =
        call(Method::GET, "/v1/satisfaction?from=2026-02-01&to=2026-01-01", Some(cast.branch_manager), None).await;
    assert_eq!((backwards.0, backwards.1["fields"][0]["field"].as_str()), (400, Some("to")));
    // Not the beneficiary's to read.
    let mine = call(Method::GET, "/v1/satisfaction", None, None).await;
    assert_eq!(code(&mine), (403, "permission_denied".into()), "{}", mine.1);
}

async fn attempt(
    client: &GatewayClient,
    method: Method,
    path: &str,
    staff: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    client.call(method, path, staff, body).await.unwrap()
}

/// The HTTP status and the stable error code of an answer.
fn code(reply: &(u16, Value)) -> (u16, String) {
    (reply.0, reply.1["code"].as_str().unwrap_or_default().to_owned())
}
