//! Social research as the pack defines it: the researcher reads the pack's
//! criteria for the case, scores them (a score outside its scale or of an
//! unknown criterion is refused, and nothing is kept), and recommends with
//! what the recommendation proposes; the total's band must be followed or
//! departed from with a reason; and the whole research file reaches the
//! committee.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::{Cast, GatewayClient, HAYAT, NUZUL, sign_up, submit};
use serde_json::{Value, json};

/// A request filed at the cast's front desk, verified, and its researcher.
async fn verified_and_assigned(base: &GatewayClient, cast: &Cast<'_>, national_id: &str) -> (String, String) {
    let reception = base.as_staff(cast.reception).await.unwrap();
    let submitted = submit(&reception, cast, national_id, "هند سالم", "0553331122").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, cast.project_manager).await.unwrap();
    let researcher = base.wait_for_researcher(&id, cast.branch_manager).await.unwrap();
    (id, researcher)
}

fn fields(body: &Value) -> Vec<&str> {
    body["fields"].as_array().map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect()).unwrap_or_default()
}

async fn research_file_scored_and_carried_to_the_committee(base: &GatewayClient) {
    let (id, researcher) = verified_and_assigned(base, &HAYAT, "1000000180").await;
    let research = format!("/v1/requests/{id}/research");
    let file = base.get(&format!("{research}/file"), Some(&researcher)).await.unwrap();
    assert_eq!(file["policy_version"], 2, "filed under Hayat's version with criteria: {file}");
    let criteria = file["criteria"].as_array().unwrap().clone();
    let codes: Vec<&str> = criteria.iter().map(|c| c["criterion"].as_str().unwrap()).collect();
    assert_eq!(codes, ["severity", "urgency", "no_other_source", "income_adequacy", "cost_burden"], "{file}");
    assert_eq!(criteria[0]["label"]["ar"], "خطورة الحالة");
    assert!(criteria[0]["guidance"]["en"].as_str().unwrap().contains("life-threatening"));
    assert!(criteria.iter().all(|c| c["score"].is_null()));
    assert_eq!(file["amount_label"]["en"], "Support amount (SAR)");

    // Bad scores are refused at their field, and none of the good ones beside them is kept.
    let scores = |pairs: &[(&str, u32)]| json!({ "scores": pairs.iter().map(|(c, s)| json!({ "criterion": c, "score": s })).collect::<Vec<_>>() });
    let score_path = format!("{research}/scores");
    let put = |body: Value| {
        let (path, researcher) = (&score_path, &researcher);
        async move { base.call(reqwest::Method::PUT, path, Some(researcher), Some(body)).await.unwrap() }
    };
    let (status, refused) = put(scores(&[("severity", 3), ("urgency", 9), ("shoe_size", 1)])).await;
    assert_eq!((status, fields(&refused)), (400, vec!["scores[1].score", "scores[2].criterion"]), "{refused}");
    assert!(refused["fields"][0]["message"]["ar"].as_str().unwrap().contains("إلحاح العلاج"), "{refused}");
    let unchanged = base.get(&format!("{research}/file"), Some(&researcher)).await.unwrap();
    assert!(unchanged["criteria"].as_array().unwrap().iter().all(|c| c["score"].is_null()), "{unchanged}");
    // A supervisor reads the file but cannot score it.
    let (status, _) = base
        .call(reqwest::Method::PUT, &format!("{research}/scores"), Some(HAYAT.branch_manager), Some(scores(&[])))
        .await
        .unwrap();
    assert_eq!(status, 403);

    // A visit: without a day it is refused; a missed one is kept and moves nothing; then the visit itself.
    let visits = format!("{research}/visits");
    let undated = json!({ "outcome": "done", "people_met": [{ "kind": "beneficiary" }], "findings": "Seen." });
    let (status, refused) = base.call(reqwest::Method::POST, &visits, Some(&researcher), Some(undated)).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["visited_on"]), "{refused}");
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now()).to_string();
    let missed = json!({ "outcome": "missed", "visited_on": today, "findings": "Nobody was home." });
    let assignment = base.post(&visits, Some(&researcher), missed).await.unwrap();
    assert_eq!((assignment["status"].as_str(), assignment["visits"].as_u64()), (Some("researcher_assigned"), Some(0)));
    let mut visit = masar::demo::visit_today("The household cannot afford the device.");
    visit["people_met"].as_array_mut().unwrap().push(
        json!({ "kind": "treating_doctor", "name": "د. خالد", "relation": "her doctor", "contact": "0148001234" }),
    );
    let assignment = base.post(&visits, Some(&researcher), visit).await.unwrap();
    assert_eq!((assignment["status"].as_str(), assignment["visits"].as_u64()), (Some("field_visit_recorded"), Some(1)));
    let file = base.get(&format!("{research}/file"), Some(&researcher)).await.unwrap();
    let recorded = file["visits"].as_array().unwrap();
    assert_eq!(recorded.iter().map(|v| v["outcome"].as_str().unwrap()).collect::<Vec<_>>(), ["missed", "done"]);
    assert_eq!(recorded[1]["people_met"][2]["contact"], "0148001234", "the researcher reads whom to call: {file}");

    // Scored low on all but one: the recommendation names the one left.
    let (status, scored) =
        put(scores(&[("severity", 1), ("urgency", 0), ("no_other_source", 1), ("income_adequacy", 1)])).await;
    assert_eq!(status, 200, "{scored}");
    assert!(scored["total_percent"].is_null(), "not every criterion is scored yet: {scored}");
    let recommend = format!("{research}/recommendation");
    let approve = json!({ "recommendation": "approve", "justification": "The device cannot wait.",
                          "service": "A powered wheelchair from the quoted supplier", "amount_sar": 9500 });
    let (status, refused) =
        base.call(reqwest::Method::POST, &recommend, Some(&researcher), Some(approve.clone())).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["scores"]), "{refused}");
    assert!(refused["fields"][0]["message"]["en"].as_str().unwrap().contains("The treatment's cost"), "{refused}");

    // Scored in full, the total falls in the band that suggests rejecting: approving needs a reason.
    let (status, scored) = put(scores(&[("cost_burden", 2)])).await;
    assert_eq!(status, 200, "{scored}");
    assert_eq!(
        (scored["total_percent"].as_u64(), scored["suggested"].as_str()),
        (Some(27), Some("reject")),
        "{scored}"
    );
    assert_eq!(scored["band"]["en"], "Need not established");
    let (status, refused) =
        base.call(reqwest::Method::POST, &recommend, Some(&researcher), Some(approve.clone())).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["departure_reason"]), "{refused}");
    let (status, refused) = base
        .call(
            reqwest::Method::POST,
            &recommend,
            Some(&researcher),
            Some(json!({ "recommendation": "approve", "justification": "x" })),
        )
        .await
        .unwrap();
    assert_eq!(fields(&refused), ["service", "amount_sar", "departure_reason"], "{status} {refused}");
    let mut departing = approve;
    departing["departure_reason"] = json!("The scores miss that the beneficiary lives alone.");
    let recommended = base.post(&recommend, Some(&researcher), departing).await.unwrap();
    assert_eq!(recommended["status"], "recommended", "{recommended}");

    // The committee weighs the whole file as recommended.
    let item = base.wait_for_agenda(&id, HAYAT.committee[0], HAYAT.branch).await.unwrap();
    let carried = &item["research"];
    assert_eq!(carried["justification"], "The device cannot wait.", "{item}");
    assert_eq!(carried["departure_reason"], "The scores miss that the beneficiary lives alone.");
    assert_eq!((carried["amount_sar"].as_u64(), carried["total_percent"].as_u64()), (Some(9500), Some(27)));
    assert_eq!(carried["service"], "A powered wheelchair from the quoted supplier");
    assert_eq!(carried["criteria"].as_array().unwrap().len(), 5);
    assert_eq!(carried["criteria"][4]["score"], 2);
    assert_eq!(carried["visits"][1]["findings"], "The household cannot afford the device.", "{item}");
    let doctor = &carried["visits"][1]["people_met"][2];
    assert_eq!((doctor["kind"].as_str(), doctor["relation"].as_str()), (Some("treating_doctor"), Some("her doctor")));
    assert_eq!(
        (doctor["name"].as_str(), doctor["contact"].as_str()),
        (Some(""), Some("")),
        "the committee weighs what they said, never who: {item}"
    );
    // The scoring is on the case's trail.
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(HAYAT.branch_manager)).await.unwrap();
    assert!(trail.to_string().contains("research.scored"), "{trail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_research_file_is_scored_on_the_packs_criteria_and_reaches_the_committee_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    research_file_scored_and_carried_to_the_committee(&GatewayClient::new(&suite.gateway_url())).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_research_file_is_scored_on_the_packs_criteria_and_reaches_the_committee_distributed() {
    let distributed = distributed_suite().await;
    research_file_scored_and_carried_to_the_committee(&GatewayClient::new(&distributed.suite.gateway_url())).await;
    distributed.stop().await;
}

/// A rejection gives its reasons; a case of a service type with its own
/// group of criteria (Nuzul's accessibility adaptations) is scored on it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_gives_reasons_and_a_service_types_own_criteria_are_scored_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let accessibility = Cast { service_type: "accessibility", ..NUZUL };
    let (id, researcher) = verified_and_assigned(&base, &accessibility, "1000000198").await;
    let research = format!("/v1/requests/{id}/research");
    let file = base.get(&format!("{research}/file"), Some(&researcher)).await.unwrap();
    let codes: Vec<&str> =
        file["criteria"].as_array().unwrap().iter().map(|c| c["criterion"].as_str().unwrap()).collect();
    assert_eq!(codes.last(), Some(&"adaptation_need"), "{file}");
    base.post(&format!("{research}/visits"), Some(&researcher), masar::demo::visit_today("The home is sound."))
        .await
        .unwrap();
    let lowest = masar::demo::scores_for(&file, "reject").unwrap();
    base.ok(reqwest::Method::PUT, &format!("{research}/scores"), Some(&researcher), Some(json!({ "scores": lowest })))
        .await
        .unwrap();
    let recommend = format!("{research}/recommendation");
    let reject = json!({ "recommendation": "reject", "justification": "The home is sound.", "reasons": [" "] });
    let (status, refused) =
        base.call(reqwest::Method::POST, &recommend, Some(&researcher), Some(reject)).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["reasons"]), "{refused}");
    let reject = json!({ "recommendation": "reject", "justification": "The home is sound.",
                         "reasons": ["No adaptation is needed"], "service": "ignored", "amount_sar": 5 });
    base.post(&recommend, Some(&researcher), reject).await.unwrap();
    let item = base.wait_for_agenda(&id, NUZUL.committee[0], NUZUL.branch).await.unwrap();
    let carried = &item["research"];
    assert_eq!((carried["suggested"].as_str(), carried["total_percent"].as_u64()), (Some("reject"), Some(0)), "{item}");
    assert_eq!(carried["reasons"], json!(["No adaptation is needed"]));
    assert_eq!(
        (carried["service"].as_str(), carried["amount_sar"].as_u64()),
        (Some(""), Some(0)),
        "a rejection proposes no service"
    );
    suite.stop().await.unwrap();
}

/// The SMS on the beneficiary's phone that contain `needle`, once there are `count`.
async fn texts_with(
    base: &GatewayClient,
    read_sms: &dyn Fn() -> Vec<String>,
    needle: &str,
    count: usize,
) -> Vec<String> {
    base.eventually("the appointment's SMS", || async {
        let texts: Vec<String> = read_sms().into_iter().filter(|t| t.contains(needle)).collect();
        Ok((texts.len() >= count).then_some(texts))
    })
    .await
    .unwrap()
}

/// The researcher sets the visit's day, time and place; the beneficiary is
/// told by SMS, asks for another time with a reason, which the researcher
/// reads; the visit is moved (told again), and the visit recorded keeps it.
async fn a_visit_is_appointed_moved_at_the_beneficiarys_ask_and_kept(
    base: &GatewayClient,
    read_sms: &dyn Fn() -> Vec<String>,
) {
    let applicant = json!({ "national_id": "1000000206", "full_name": "نورة علي", "mobile": "0553334466", "preferred_language": "ar" });
    let beneficiary = sign_up(base, "nuzul", applicant, read_sms).await.unwrap();
    let submitted = submit(&beneficiary, &NUZUL, "1000000206", "نورة علي", "0553334466").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let researcher = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let appointments = format!("/v1/requests/{id}/research/appointments");
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let day = |ahead: u64| (today + chrono::Days::new(ahead)).to_string();

    let late = json!({ "on": day(2), "at": "23:30", "place": "" });
    let (status, refused) =
        base.call(reqwest::Method::POST, &appointments, Some(&researcher), Some(late)).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["at", "place"]), "{refused}");
    let (status, _) =
        base.call(reqwest::Method::POST, &appointments, Some(NUZUL.branch_manager), Some(json!({}))).await.unwrap();
    assert_eq!(status, 403, "the assigned researcher sets the visit");
    let set = json!({ "on": day(2), "at": "16:30", "place": "منزل الأسرة" });
    let file = base.post(&appointments, Some(&researcher), set).await.unwrap();
    assert_eq!(file["appointments"][0]["status"], "scheduled", "{file}");
    let told = texts_with(base, read_sms, "16:30", 1).await;
    assert!(told[0].contains("منزل الأسرة") && told[0].contains(&day(2)), "{told:?}");
    assert!(told[0].contains(submitted["reference"].as_str().unwrap()), "{told:?}");

    // The beneficiary asks for another time; only while the case is in research, with a reason.
    let change = format!("/v1/requests/{id}/visit-change");
    let (status, refused) =
        beneficiary.call(reqwest::Method::POST, &change, None, Some(json!({ "reason": " " }))).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["reason"]), "{refused}");
    let asked = beneficiary.post(&change, None, json!({ "reason": "بعد المغرب يناسبنا" })).await.unwrap();
    assert!(asked["message"]["ar"].as_str().unwrap().contains("موعداً آخر"), "{asked}");
    let research = format!("/v1/requests/{id}/research/file");
    let file = base
        .eventually("research to hear of the ask", || async {
            let file = base.get(&research, Some(&researcher)).await?;
            Ok((file["appointments"][0]["status"] == "change_requested").then_some(file))
        })
        .await
        .unwrap();
    assert_eq!(file["appointments"][0]["change_reason"], "بعد المغرب يناسبنا");

    // Moved: the first is marked so, the beneficiary told of the new time; the visit keeps it.
    // Moved to this evening, at the beneficiary's ask.
    let moved = json!({ "on": day(0), "at": "19:00", "place": "منزل الأسرة" });
    let file = base.post(&appointments, Some(&researcher), moved).await.unwrap();
    let statuses: Vec<&str> =
        file["appointments"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["moved", "scheduled"], "{file}");
    let told = texts_with(base, read_sms, "19:00", 1).await;
    assert!(told[0].contains("تغير موعد"), "{told:?}");
    base.post(&format!("/v1/requests/{id}/research/visits"), Some(&researcher), masar::demo::visit_today("Seen."))
        .await
        .unwrap();
    let file = base.get(&research, Some(&researcher)).await.unwrap();
    assert_eq!(file["appointments"][1]["status"], "kept", "{file}");
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(NUZUL.branch_manager)).await.unwrap().to_string();
    for action in ["research.visit_scheduled", "visit.change_requested", "research.visit_change_asked"] {
        assert!(trail.contains(action), "{action} on the trail: {trail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_is_appointed_moved_at_the_beneficiarys_ask_and_kept_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    a_visit_is_appointed_moved_at_the_beneficiarys_ask_and_kept(&base, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_is_appointed_moved_at_the_beneficiarys_ask_and_kept_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    a_visit_is_appointed_moved_at_the_beneficiarys_ask_and_kept(&base, &move || sms.texts()).await;
    distributed.stop().await;
}

/// The researcher needs more documents: the case goes back to the beneficiary
/// as a return for completion does (told exactly what, by SMS), and once
/// resubmitted and verified again it is the same researcher's, with the
/// visits and scores as they left them.
async fn more_documents_go_back_to_the_beneficiary_and_the_case_returns_to_its_researcher(
    base: &GatewayClient,
    read_sms: &dyn Fn() -> Vec<String>,
) {
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, "1000000214", "فهد ناصر", "0553335577").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let researcher = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let research = format!("/v1/requests/{id}/research");
    base.post(&format!("{research}/visits"), Some(&researcher), masar::demo::visit_today("The deed is unreadable."))
        .await
        .unwrap();
    let file = base.get(&format!("{research}/file"), Some(&researcher)).await.unwrap();
    let scores = json!({ "scores": masar::demo::scores_for(&file, "approve").unwrap() });
    base.ok(reqwest::Method::PUT, &format!("{research}/scores"), Some(&researcher), Some(scores)).await.unwrap();
    let recommend = format!("{research}/recommendation");
    let asking = json!({ "recommendation": "more_documents", "justification": "The deed photo cannot be read." });
    let (status, refused) =
        base.call(reqwest::Method::POST, &recommend, Some(&researcher), Some(asking)).await.unwrap();
    assert_eq!((status, fields(&refused)), (400, vec!["documents_requested"]), "{refused}");
    let asking = json!({ "recommendation": "more_documents", "justification": "The deed photo cannot be read.",
                         "documents_requested": ["A readable copy of the title deed"] });
    let asked = base.post(&recommend, Some(&researcher), asking).await.unwrap();
    assert_eq!(asked["status"], "returned_for_completion", "{asked}");

    // Back with the beneficiary, as a return: their timeline, and the SMS naming what to bring.
    reception.wait_for_status(&id, "returned_for_completion").await.unwrap();
    let told = texts_with(base, read_sms, "A readable copy of the title deed", 1).await;
    assert!(told[0].contains(submitted["reference"].as_str().unwrap()), "{told:?}");
    let attestation =
        json!({ "attested": true, "version": masar::demo::attestation_version(base, "nuzul").await.unwrap() });
    reception
        .post(
            &format!("/v1/requests/{id}/resubmit"),
            None,
            json!({ "note": "deed attached", "attestation": attestation }),
        )
        .await
        .unwrap();
    base.verify(&id, NUZUL.project_manager).await.unwrap();

    // The same researcher has it again, with their visit and scores; now they recommend.
    let file = base
        .eventually("the case back with its researcher", || async {
            let (status, file) =
                base.call(reqwest::Method::GET, &format!("{research}/file"), Some(&researcher), None).await?;
            Ok((status == 200 && file["recommendation"] == "more_documents" && file["total_percent"] == 100)
                .then_some(file))
        })
        .await
        .unwrap();
    assert_eq!(file["documents_requested"], json!(["A readable copy of the title deed"]), "{file}");
    reception.wait_for_status(&id, "researcher_assigned").await.unwrap();
    // Back at "researcher assigned": a follow-up visit with the new deed before recommending.
    let follow_up = masar::demo::visit_today("The new deed matches the home.");
    base.post(&format!("{research}/visits"), Some(&researcher), follow_up).await.unwrap();
    let recommended =
        base.post(&recommend, Some(&researcher), masar::demo::recommendation_body("approve")).await.unwrap();
    assert_eq!(recommended["status"], "recommended", "{recommended}");
    base.wait_for_agenda(&id, NUZUL.committee[0], NUZUL.branch).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_documents_go_back_to_the_beneficiary_and_the_case_returns_to_its_researcher_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    more_documents_go_back_to_the_beneficiary_and_the_case_returns_to_its_researcher(&base, &|| logged_sms(&data_dir))
        .await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_documents_go_back_to_the_beneficiary_and_the_case_returns_to_its_researcher_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    more_documents_go_back_to_the_beneficiary_and_the_case_returns_to_its_researcher(&base, &move || sms.texts()).await;
    distributed.stop().await;
}

/// A case research sent back for documents, resubmitted and then found
/// ineligible, is closed in research too (not left waiting for documents).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_returned_by_research_and_then_found_ineligible_is_closed_there_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let national_id = masar::demo::new_national_id();
    let submitted = submit(&reception, &NUZUL, &national_id, "ليلى حسن", "0553339911").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let researcher = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let research = format!("/v1/requests/{id}/research");
    let asking = json!({ "recommendation": "more_documents", "justification": "The income proof is old.",
                         "documents_requested": ["A recent proof of income"] });
    base.post(&format!("{research}/recommendation"), Some(&researcher), asking).await.unwrap();
    reception.wait_for_status(&id, "returned_for_completion").await.unwrap();
    // The new proof shows an income over the threshold.
    let attestation =
        json!({ "attested": true, "version": masar::demo::attestation_version(&base, "nuzul").await.unwrap() });
    let over = json!({ "household.monthly_income": "30000" });
    reception
        .post(&format!("/v1/requests/{id}/resubmit"), None, json!({ "facts": over, "attestation": attestation }))
        .await
        .unwrap();
    base.wait_until_pending(&id, NUZUL.project_manager).await.unwrap();
    base.post(&format!("/v1/requests/{id}/verification/ineligible"), Some(NUZUL.project_manager), json!({}))
        .await
        .unwrap();
    reception.wait_for_status(&id, "ineligible").await.unwrap();
    let file = base
        .eventually("research to close the case", || async {
            let file = base.get(&format!("{research}/file"), Some(NUZUL.branch_manager)).await?;
            Ok((file["status"] == "ineligible").then_some(file))
        })
        .await
        .unwrap();
    assert_eq!(file["documents_requested"], json!(["A recent proof of income"]), "{file}");
    suite.stop().await.unwrap();
}

/// A case back with the documents research asked for stays with the
/// researcher who asked, unless the roster no longer allows them: on leave
/// by then, it goes to another of the branch, with why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_back_with_its_documents_follows_the_roster_embedded() {
    let (suite, _data_dir) = crate::support::embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let national_id = masar::demo::new_national_id();
    let submitted = submit(&reception, &NUZUL, &national_id, "أمل سعيد", "0553330011").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let asked_by = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    let asking = json!({ "recommendation": "more_documents", "justification": "The bill is old.",
                         "documents_requested": ["A recent electricity bill"] });
    base.post(&format!("/v1/requests/{id}/research/recommendation"), Some(&asked_by), asking).await.unwrap();
    reception.wait_for_status(&id, "returned_for_completion").await.unwrap();

    // Meanwhile the researcher who asked went on leave.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let (from, to) = (today - chrono::Days::new(1), today + chrono::Days::new(30));
    let leave = json!({ "from": from.to_string(), "to": to.to_string() });
    base.post(&format!("/v1/research/roster/{asked_by}/leaves"), Some(NUZUL.branch_manager), leave).await.unwrap();
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let attestation =
        json!({ "attested": true, "version": masar::demo::attestation_version(&base, "nuzul").await.unwrap() });
    reception.post(&format!("/v1/requests/{id}/resubmit"), None, json!({ "attestation": attestation })).await.unwrap();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let other = base.wait_for_researcher(&id, NUZUL.branch_manager).await.unwrap();
    assert_ne!(other, asked_by, "the one on leave does not get it back");
    let file = base.get(&format!("/v1/requests/{id}/research/file"), Some(&other)).await.unwrap();
    assert_eq!(
        (file["status"].as_str(), file["documents_requested"][0].as_str()),
        (Some("researcher_assigned"), Some("A recent electricity bill"))
    );
    let assignments = base.get("/v1/research/assignments", Some(NUZUL.branch_manager)).await.unwrap();
    let assignment = assignments["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["request_id"] == id.as_str())
        .cloned()
        .unwrap();
    assert!(
        assignment["why"]["en"].as_str().unwrap().contains(&format!("{asked_by} (on leave until {to})")),
        "{assignment}"
    );
    suite.stop().await.unwrap();
}
