//! Who takes a verified case, and why: the branch's least busy researcher,
//! the reason on the assignment for supervisors; with nobody to take it the
//! case waits where supervisors see it (never dropped), and is assigned as
//! soon as someone can.

use crate::support::{embedded_suite_in, temp_dir};
use masar::demo::{GatewayClient, NUZUL_JEDDAH, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_nobody_can_take_waits_and_is_assigned_when_someone_can_embedded() {
    let data_dir = temp_dir();
    // The built-in directory first: every demo staff member gets the demo password.
    embedded_suite_in(&data_dir, &[]).await.stop().await.unwrap();
    // Then a directory whose Jeddah branch has no researcher (on leave, say).
    let without = masar::DEMO_DIRECTORY
        .lines()
        .filter(|line| !line.contains("\"nuzul.jeddah.researcher\""))
        .collect::<Vec<_>>()
        .join("\n");
    let file = data_dir.join("directory-without-jeddah-researcher.json");
    std::fs::write(&file, &without).unwrap();
    let suite = embedded_suite_in(&data_dir, &[("MASAR_DIRECTORY", file.to_str().unwrap())]).await;
    let base = GatewayClient::new(&suite.gateway_url());
    let reception = base.as_staff(NUZUL_JEDDAH.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL_JEDDAH, "1000000073", "ريم", "0553337788").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL_JEDDAH.project_manager).await.unwrap();
    let waiting = base
        .eventually("the case to wait for a researcher", || async {
            let list = base.get("/v1/research/unassigned", Some(NUZUL_JEDDAH.branch_manager)).await?;
            Ok(list["cases"]
                .as_array()
                .and_then(|cases| cases.iter().find(|c| c["request_id"] == id.as_str()).cloned()))
        })
        .await
        .unwrap();
    assert!(waiting["why"]["en"].as_str().unwrap().contains("No social researcher in branch jeddah"), "{waiting}");
    assert!(waiting["why"]["ar"].as_str().unwrap().contains("باحث"), "{waiting}");
    // The Riyadh branch's manager does not see Jeddah's queue; the researcher's queue is their own.
    let riyadh = base.get("/v1/research/unassigned", Some("nuzul.branch")).await.unwrap();
    assert!(riyadh["cases"].as_array().unwrap().is_empty(), "{riyadh}");
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(NUZUL_JEDDAH.branch_manager)).await.unwrap();
    assert!(trail.to_string().contains("research.waiting"), "the wait is on the case's trail: {trail}");
    suite.stop().await.unwrap();

    // The researcher is back: the waiting case is theirs, with why.
    let suite = embedded_suite_in(&data_dir, &[]).await;
    let base = GatewayClient::new(&suite.gateway_url());
    let researcher = base.wait_for_researcher(&id, NUZUL_JEDDAH.branch_manager).await.unwrap();
    assert_eq!(researcher, "nuzul.jeddah.researcher");
    let assignments = base.get("/v1/research/assignments", Some(NUZUL_JEDDAH.branch_manager)).await.unwrap();
    let assignment = assignments["assignments"].as_array().unwrap().iter().find(|a| a["request_id"] == id.as_str());
    let why = assignment.unwrap()["why"]["en"].as_str().unwrap().to_owned();
    assert!(why.starts_with("nuzul.jeddah.researcher: the fewest open cases of nuzul.jeddah.researcher ("), "{why}");
    let list = base.get("/v1/research/unassigned", Some(NUZUL_JEDDAH.branch_manager)).await.unwrap();
    assert!(list["cases"].as_array().unwrap().is_empty(), "no longer waiting: {list}");
    let reception = base.as_staff(NUZUL_JEDDAH.reception).await.unwrap();
    reception.wait_for_status(&id, "researcher_assigned").await.unwrap();
    suite.stop().await.unwrap();
}
