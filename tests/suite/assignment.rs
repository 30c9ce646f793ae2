//! Who takes a verified case, and why: the branch's least busy researcher,
//! the reason on the assignment for supervisors; with nobody to take it the
//! case waits where supervisors see it (never dropped), and is assigned as
//! soon as someone can.

use masar::demo::{GatewayClient, NUZUL_JEDDAH, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_nobody_can_take_waits_and_is_assigned_when_someone_can_embedded() {
    let (suite, _data_dir) = crate::support::embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    // The Jeddah branch's one researcher off duty (on leave, say).
    let entry = "/v1/research/roster/nuzul.jeddah.researcher";
    let manager = Some(NUZUL_JEDDAH.branch_manager);
    base.ok(reqwest::Method::PUT, entry, manager, Some(serde_json::json!({ "active": false }))).await.unwrap();
    let waiting = filed_and_waiting(&base, &NUZUL_JEDDAH, "1000000073", "ريم", "0553337788").await;
    let id = waiting["request_id"].as_str().unwrap().to_owned();
    assert!(waiting["why"]["en"].as_str().unwrap().contains("No social researcher in branch jeddah"), "{waiting}");
    assert!(waiting["why"]["ar"].as_str().unwrap().contains("باحث"), "{waiting}");
    // The Riyadh branch's manager does not see Jeddah's queue; the researcher's queue is their own.
    let riyadh = base.get("/v1/research/unassigned", Some("nuzul.branch")).await.unwrap();
    assert!(riyadh["cases"].as_array().unwrap().is_empty(), "{riyadh}");
    let trail = base.get(&format!("/v1/requests/{id}/audit"), manager).await.unwrap();
    assert!(trail.to_string().contains("research.waiting"), "the wait is on the case's trail: {trail}");

    // The researcher is back on duty: the waiting case is theirs, with why.
    base.ok(reqwest::Method::PUT, entry, manager, Some(serde_json::json!({ "active": true }))).await.unwrap();
    let researcher = base.wait_for_researcher(&id, NUZUL_JEDDAH.branch_manager).await.unwrap();
    assert_eq!(researcher, "nuzul.jeddah.researcher");
    let assignments = base.get("/v1/research/assignments", manager).await.unwrap();
    let assignment = assignments["assignments"].as_array().unwrap().iter().find(|a| a["request_id"] == id.as_str());
    let why = assignment.unwrap()["why"]["en"].as_str().unwrap().to_owned();
    assert!(why.starts_with("nuzul.jeddah.researcher: the fewest open cases of nuzul.jeddah.researcher ("), "{why}");
    let list = base.get("/v1/research/unassigned", manager).await.unwrap();
    assert!(list["cases"].as_array().unwrap().is_empty(), "no longer waiting: {list}");
    let reception = base.as_staff(NUZUL_JEDDAH.reception).await.unwrap();
    reception.wait_for_status(&id, "researcher_assigned").await.unwrap();
    suite.stop().await.unwrap();
}

/// A request filed at `cast`'s front desk and verified there, once it waits
/// for a researcher in the branch manager's unassigned queue: its entry there.
async fn filed_and_waiting(
    base: &GatewayClient,
    cast: &masar::demo::Cast<'_>,
    national_id: &str,
    name: &str,
    mobile: &str,
) -> serde_json::Value {
    let reception = base.as_staff(cast.reception).await.unwrap();
    let submitted = submit(&reception, cast, national_id, name, mobile).await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, cast.project_manager).await.unwrap();
    base.eventually("the case to wait for a researcher", || async {
        let list = base.get("/v1/research/unassigned", Some(cast.branch_manager)).await?;
        Ok(list["cases"].as_array().and_then(|cases| cases.iter().find(|c| c["request_id"] == id.as_str()).cloned()))
    })
    .await
    .unwrap()
}

/// The branch manager moves a case to another researcher of the branch,
/// with a reason: the former one loses access, the new one works it, the
/// beneficiary is not told twice, and the trail says who moved it and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_manager_reassigns_a_case_with_a_reason_embedded() {
    use masar::demo::NUZUL;
    let (suite, data_dir) = crate::support::embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, "1000000081", "منى", "0553339900").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let former = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let other = if former == "nuzul.researcher1" { "nuzul.researcher2" } else { "nuzul.researcher1" };
    let reassign = format!("/v1/requests/{id}/research/reassign");
    let call = |staff: &'static str, body: serde_json::Value| {
        let (base, reassign) = (&base, &reassign);
        async move { base.call(reqwest::Method::POST, reassign, Some(staff), Some(body)).await.unwrap() }
    };
    let (status, refused) = call(NUZUL.branch_manager, serde_json::json!({ "researcher": other, "reason": " " })).await;
    assert_eq!((status, refused["fields"][0]["field"].as_str()), (400, Some("reason")), "{refused}");
    let (status, refused) =
        call(NUZUL.branch_manager, serde_json::json!({ "researcher": "nuzul.jeddah.researcher", "reason": "x" })).await;
    assert_eq!(
        (status, refused["fields"][0]["field"].as_str()),
        (400, Some("researcher")),
        "another branch's: {refused}"
    );
    let (status, _) = call("nuzul.jeddah.branch", serde_json::json!({ "researcher": other, "reason": "x" })).await;
    assert_eq!(status, 404, "another branch's manager finds no such case");
    let (status, moved) = call(
        NUZUL.branch_manager,
        serde_json::json!({ "researcher": other, "reason": "Closer to the family's district" }),
    )
    .await;
    assert_eq!((status, moved["researcher"].as_str()), (200, Some(other)), "{moved}");
    assert!(moved["why"]["en"].as_str().unwrap().contains("Closer to the family's district"), "{moved}");
    // The former researcher loses access at once in research, and to the case file once intake hears of it.
    let (status, _) = base
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{id}/research/visits"),
            Some(&former),
            Some(masar::demo::visit_today("x")),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "no longer theirs");
    let file = format!("/v1/requests/{id}/file");
    crate::support::wait_until("the former researcher to lose the case file", || async {
        base.call(reqwest::Method::GET, &file, Some(&former), None).await.unwrap().0 == 403
    })
    .await;
    assert_eq!(base.get(&file, Some(other)).await.unwrap()["in_full"], true);
    base.post(&format!("/v1/requests/{id}/research/visits"), Some(other), masar::demo::visit_today("Seen."))
        .await
        .unwrap();
    // Told once that a researcher was assigned (by the time the visit's thanks arrive, a second
    // notice would have too); the trail names who moved it and why.
    let sms = || masar::demo::logged_sms(&data_dir.join("sms.log"));
    crate::support::wait_until("the visit's thanks", || async {
        sms().iter().any(|t| t.contains("شكراً لاستقبالكم"))
    })
    .await;
    let assigned_texts = sms().iter().filter(|t| t.contains("تم تعيين باحث اجتماعي")).count();
    assert_eq!(assigned_texts, 1);
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(NUZUL.branch_manager)).await.unwrap();
    let moved = trail["entries"].as_array().unwrap().iter().find(|e| e["action"] == "research.reassigned").cloned();
    let moved = moved.expect("the reassignment is on the trail");
    assert_eq!(moved["actor"], NUZUL.branch_manager);
    assert!(moved["detail"].as_str().unwrap().ends_with("Closer to the family's district"), "{moved}");
    suite.stop().await.unwrap();
}

/// The roster decides before the load does: a researcher on leave, or one who
/// does not handle the service type, is not given the case however free;
/// with nobody left it waits, saying who was kept out and why, and is
/// assigned once the roster allows someone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researcher_on_leave_or_outside_their_specialties_is_not_given_the_case_embedded() {
    use masar::demo::NUZUL;
    use reqwest::Method;
    use serde_json::json;
    let (suite, _data_dir) = crate::support::embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let manager = Some(NUZUL.branch_manager);
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let (from, to) = (today - chrono::Days::new(1), today + chrono::Days::new(30));
    let leave = json!({ "from": from.to_string(), "to": to.to_string() });
    base.post("/v1/research/roster/nuzul.researcher1/leaves", manager, leave).await.unwrap();
    let fahad = "/v1/research/roster/nuzul.researcher2";
    let electricians_only = json!({ "specialties": ["electrical_rewiring"] });
    base.ok(Method::PUT, fahad, manager, Some(electricians_only)).await.unwrap();
    let waiting = filed_and_waiting(&base, &NUZUL, "1000000099", "هند", "0553331122").await;
    let id = waiting["request_id"].as_str().unwrap().to_owned();
    let why = waiting["why"]["en"].as_str().unwrap();
    assert!(why.contains(&format!("nuzul.researcher1 (on leave until {to})")), "{why}");
    assert!(why.contains("nuzul.researcher2 (does not handle roof_repair)"), "{why}");
    assert!(waiting["why"]["ar"].as_str().unwrap().contains("في إجازة"), "{waiting}");

    // The roster now has Fahad on roof repairs too: the waiting case is his, and why says who was left out.
    let roofers_too = json!({ "specialties": ["roof_repair", "electrical_rewiring"] });
    base.ok(Method::PUT, fahad, manager, Some(roofers_too)).await.unwrap();
    assert_eq!(base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap(), "nuzul.researcher2");
    let assignments = base.get("/v1/research/assignments", manager).await.unwrap();
    let assignment = assignments["assignments"].as_array().unwrap().iter().find(|a| a["request_id"] == id.as_str());
    let why = assignment.unwrap()["why"]["en"].as_str().unwrap().to_owned();
    assert!(why.ends_with(&format!("not considered: nuzul.researcher1 (on leave until {to})")), "{why}");
    suite.stop().await.unwrap();
}
