//! The researchers' roster kept through the API: started from the
//! directory, read per branch, changed by the branch's manager (never
//! another branch's), with leaves that overlap none; a case nobody on duty
//! can take waits, and is assigned as soon as someone can, saying why.

use crate::support::{distributed_suite, embedded_suite};
use masar::demo::{GatewayClient, NUZUL, submit};
use reqwest::Method;
use serde_json::{Value, json};

fn usernames(roster: &Value) -> Vec<&str> {
    roster["entries"].as_array().unwrap().iter().map(|e| e["username"].as_str().unwrap()).collect()
}

async fn roster_kept_by_supervisors(base: &GatewayClient) {
    let manager = Some(NUZUL.branch_manager);
    let roster = base.get("/v1/research/roster", manager).await.unwrap();
    assert_eq!(usernames(&roster), ["nuzul.researcher1", "nuzul.researcher2"], "the branch's, from the directory");
    let jeddah = base.get("/v1/research/roster", Some("nuzul.jeddah.branch")).await.unwrap();
    assert_eq!(usernames(&jeddah), ["nuzul.jeddah.researcher"]);
    let (status, _) = base.call(Method::GET, "/v1/research/roster", Some("nuzul.researcher1"), None).await.unwrap();
    assert_eq!(status, 403, "researchers do not keep the roster");

    // Bad entries are refused at their fields; a stranger or another branch's researcher looks missing.
    let entry = |who: &str| format!("/v1/research/roster/{who}");
    let wrong = json!({ "specialties": ["moon_landing"], "capacity": 501, "gender": "x" });
    let (status, refused) = base.call(Method::PUT, &entry("nuzul.researcher1"), manager, Some(wrong)).await.unwrap();
    let fields: Vec<&str> =
        refused["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["gender", "specialties[0]", "capacity"]), "{refused}");
    let (status, _) = base
        .call(Method::PUT, &entry("nuzul.researcher1"), Some("nuzul.jeddah.branch"), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(status, 404, "another branch's researcher looks missing");
    let (status, refused) = base.call(Method::PUT, &entry("nuzul.pm"), manager, Some(json!({}))).await.unwrap();
    assert_eq!(
        (status, refused["fields"][0]["field"].as_str()),
        (400, Some("username")),
        "not a researcher: {refused}"
    );
    let elsewhere = json!({ "branch": "jeddah" });
    let (status, _) = base.call(Method::PUT, &entry("nuzul.researcher1"), manager, Some(elsewhere)).await.unwrap();
    assert_eq!(status, 403, "a branch manager does not move a researcher to another branch");
    let unchanged = base.get("/v1/research/roster", manager).await.unwrap();
    assert_eq!(unchanged["entries"][0]["version"], 1, "nothing kept: {unchanged}");

    // Both Riyadh researchers off duty: a verified case waits for someone.
    for who in ["nuzul.researcher1", "nuzul.researcher2"] {
        let off = base.ok(Method::PUT, &entry(who), manager, Some(json!({ "active": false }))).await.unwrap();
        assert_eq!((off["active"].as_bool(), off["version"].as_u64()), (Some(false), Some(2)), "{off}");
    }
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, "1000000313", "منى خالد", "0553339900").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let waiting = base
        .eventually("the case in the unassigned queue", || async {
            let queue = base.get("/v1/research/unassigned", manager).await?;
            Ok(queue["cases"].as_array().and_then(|c| c.iter().find(|c| c["request_id"] == id.as_str()).cloned()))
        })
        .await
        .unwrap();
    assert!(waiting["why"]["en"].as_str().unwrap().starts_with("No social researcher in branch riyadh"), "{waiting}");

    // Researcher 1 is on leave from today: back on duty, still not given the case.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let day = |n: u64| (today + chrono::Days::new(n)).to_string();
    let leaves = format!("{}/leaves", entry("nuzul.researcher1"));
    let on_leave = base.post(&leaves, manager, json!({ "from": day(0), "to": day(10) })).await.unwrap();
    let leave_id = on_leave["leaves"][0]["leave_id"].as_str().unwrap().to_owned();
    let overlapping = json!({ "from": day(5), "to": day(12) });
    let (status, refused) = base.call(Method::POST, &leaves, manager, Some(overlapping)).await.unwrap();
    assert_eq!((status, refused["fields"][0]["field"].as_str()), (400, Some("from")), "{refused}");
    base.ok(Method::PUT, &entry("nuzul.researcher1"), manager, Some(json!({ "active": true }))).await.unwrap();
    base.ok(Method::PUT, &entry("nuzul.researcher2"), manager, Some(json!({ "active": true, "capacity": 5 })))
        .await
        .unwrap();
    let researcher = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    assert_eq!(researcher, "nuzul.researcher2");
    let assignments = base.get("/v1/research/assignments?page_size=100", manager).await.unwrap();
    let assignment =
        assignments["assignments"].as_array().unwrap().iter().find(|a| a["request_id"] == id.as_str()).unwrap();
    let why = assignment["why"]["en"].as_str().unwrap();
    assert!(why.contains(&format!("nuzul.researcher1 (on leave until {})", day(10))), "{why}");

    // The leave cancelled; the roster says what changed, and a stale change is refused.
    let cancelled = base.ok(Method::DELETE, &format!("{leaves}/{leave_id}"), manager, None).await.unwrap();
    assert_eq!(cancelled["leaves"], json!([]), "{cancelled}");
    let roster = base.get("/v1/research/roster", manager).await.unwrap();
    let second = &roster["entries"][1];
    assert_eq!((second["capacity"].as_u64(), second["open_cases"].as_u64()), (Some(5), Some(1)), "{roster}");
    assert_eq!(second["updated_by"], NUZUL.branch_manager);
    let stale = reqwest::Client::new()
        .put(format!("{}{}", base.base(), entry("nuzul.researcher2")))
        .bearer_auth(base.staff_token(NUZUL.branch_manager).await.unwrap())
        .header("if-match", "\"1\"")
        .json(&json!({ "active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);

    // Nuzul's pack prefers a female researcher for a household headed by a woman, where one can take it.
    let noura = base.get("/v1/research/roster", manager).await.unwrap()["entries"][0].clone();
    let female = format!("\"{}\"", noura["version"]);
    let set = reqwest::Client::new()
        .put(format!("{}{}", base.base(), entry("nuzul.researcher1")))
        .bearer_auth(base.staff_token(NUZUL.branch_manager).await.unwrap())
        .header("if-match", female)
        .json(&json!({ "active": true, "gender": "female" }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    // Two more cases make Noura the busier of the two (the least busy takes each; a tie, the first username).
    for (national_id, name) in [("1000000339", "سارة محمد"), ("1000000347", "ريم علي")] {
        let other = submit(&reception, &NUZUL, national_id, name, "0553339922").await.unwrap();
        let other_id = other["request_id"].as_str().unwrap().to_owned();
        base.verify(&other_id, NUZUL.project_manager).await.unwrap();
        assert_eq!(base.wait_for_researcher(&other_id, NUZUL.branch_manager).await.unwrap(), "nuzul.researcher1");
    }
    let facts = NUZUL.facts_with(&[("household.head_gender", "female")]);
    let headed = masar::demo::submit_with_facts(&reception, &NUZUL, "1000000321", "نوال سعيد", "0553339911", facts)
        .await
        .unwrap();
    let headed_id = headed["request_id"].as_str().unwrap().to_owned();
    base.verify(&headed_id, NUZUL.project_manager).await.unwrap();
    let researcher = base.wait_for_researcher(&headed_id, NUZUL.branch_manager).await.unwrap();
    assert_eq!(researcher, "nuzul.researcher1", "preferred over the less busy Fahad");
    let assignments = base.get("/v1/research/assignments?page_size=100", manager).await.unwrap();
    let assignment =
        assignments["assignments"].as_array().unwrap().iter().find(|a| a["request_id"] == headed_id.as_str()).unwrap();
    let why = assignment["why"]["en"].as_str().unwrap();
    assert!(why.contains("a female researcher preferred: a household headed by a woman"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_is_kept_by_supervisors_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    roster_kept_by_supervisors(&GatewayClient::new(&suite.gateway_url())).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_is_kept_by_supervisors_distributed() {
    let distributed = distributed_suite().await;
    roster_kept_by_supervisors(&GatewayClient::new(&distributed.suite.gateway_url())).await;
    distributed.stop().await;
}
