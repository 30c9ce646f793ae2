//! The research committee's decisions: a deferral keeps its round's votes
//! and sends the committee's questions back to research; the case's second
//! round decides; every decision keeps the evidence it was taken on, hashed,
//! explained vote by vote, and a change to that evidence is detected;
//! recusals; and Hayat taken to approved, delivered and rated.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::{
    Cast, GatewayClient, HAYAT, NUZUL, close_meeting, decide, hold_meeting, research_to_agenda, sign_up, submit,
};
use masar_platform::role::Role;
use prost::Message as _;
use serde_json::{Value, json};

/// A Nuzul case deferred with a question, researched again and approved;
/// its decisions as the committee's readers get them.
async fn deferred_then_approved(base: &GatewayClient) -> (String, Value) {
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, "1000000222", "سارة حمد", "0553336688").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    let researcher = research_to_agenda(base, &NUZUL, &id, "approve").await.unwrap();
    let meeting = hold_meeting(base, &NUZUL).await.unwrap();
    for member in NUZUL.committee {
        let vote = json!({ "vote": "defer", "note": "The landlord's consent is not dated" });
        base.post(&format!("/v1/requests/{id}/committee/votes"), Some(member), vote).await.unwrap();
    }
    let question = "When did the landlord consent, and for which works?";
    let deferral = json!({ "decision": "deferred", "reasons": [question] });
    base.post(&format!("/v1/requests/{id}/committee/decision"), Some(NUZUL.committee[0]), deferral).await.unwrap();
    close_meeting(base, &NUZUL, &meeting).await.unwrap();

    // Back in research with the committee's question, for the same researcher.
    let file = base
        .eventually("the deferred case back in research", || async {
            let path = format!("/v1/requests/{id}/research/file");
            let file = base.get(&path, Some(&researcher)).await?;
            Ok((file["committee_questions"] == json!([question])).then_some(file))
        })
        .await
        .unwrap();
    assert_eq!(file["researcher"], researcher.as_str(), "{file}");
    // Research's days run again from the deferral, on the pack's target of five.
    let timeline = reception.wait_for_status(&id, "researcher_assigned").await.unwrap();
    let official = masar_domain::working_days::OfficialHolidays::from_toml(masar::BUILT_IN_HOLIDAYS).unwrap();
    let calendar = masar_domain::working_days::WorkingCalendar { official: &official, closures: &[] };
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    assert_eq!(timeline["awaiting_stage"], "research", "{timeline}");
    assert_eq!(timeline["stage_deadline"], calendar.add_working_days(today, 5).to_string(), "{timeline}");
    assert_eq!(research_to_agenda(base, &NUZUL, &id, "approve").await.unwrap(), researcher);
    decide(&reception, &NUZUL, &id, "approved").await.unwrap();
    let decisions =
        base.get(&format!("/v1/requests/{id}/committee/decisions"), Some(NUZUL.branch_manager)).await.unwrap();
    (id, decisions)
}

fn check_the_rounds(decisions: &Value) {
    let rounds = decisions["decisions"].as_array().unwrap();
    let summary: Vec<(u64, &str, usize, bool)> = rounds
        .iter()
        .map(|d| {
            let votes = d["votes"].as_array().unwrap().len();
            (d["round"].as_u64().unwrap(), d["decision"].as_str().unwrap(), votes, d["intact"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(summary, [(1, "deferred", 2, true), (2, "approved", 2, true)], "{decisions:#}");
    let first = &rounds[0];
    assert_eq!(first["votes"][0]["vote"], "defer", "the deferral's votes are kept: {first}");
    assert_eq!(first["evidence"]["research"]["recommendation"], "approve");
    assert_eq!(first["evidence"]["policy_version"], 4);
    // What verification accepted it on: every document with its fingerprint, every rule judged.
    let documents = first["evidence"]["research"]["documents"].as_array().unwrap();
    assert!(documents.len() >= 5 && documents.iter().all(|d| d["sha256"].as_str().unwrap().len() == 64), "{first}");
    assert!(documents.iter().all(|d| d["review"] == "accepted"), "{first}");
    let rules = first["evidence"]["research"]["eligibility"].as_array().unwrap();
    assert!(!rules.is_empty() && rules.iter().all(|r| r["verdict"] == "met"), "{first}");
    let explained = rounds[1]["explanation"]["en"].as_str().unwrap();
    assert!(explained.starts_with("Approved in round 2, by 2 of 2 votes."), "{explained}");
    assert!(explained.contains("a total of 100 of 100") && explained.ends_with("Policy version 4."), "{explained}");
    assert!(explained.contains("under 1,500 SAR: met."), "rule by rule: {explained}");
    assert!(explained.contains("Quorum 2 members; the most votes decide."), "{explained}");
    assert_eq!(
        (rounds[1]["evidence"]["quorum"].as_u64(), rounds[1]["evidence"]["majority"].as_str()),
        (Some(2), Some("simple"))
    );
    assert!(rounds[1]["explanation"]["ar"].as_str().unwrap().contains("الجولة 2"), "{decisions}");
    assert_eq!(rounds[1]["evidence_sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferral_keeps_its_votes_and_each_decision_its_evidence_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let (_, decisions) = deferred_then_approved(&base).await;
    check_the_rounds(&decisions);
    suite.stop().await.unwrap();
}

/// In the distributed shape, also: evidence changed in the database after
/// the decision no longer matches its hash, and the reader is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferral_keeps_its_votes_and_each_decision_its_evidence_and_a_change_is_detected_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let (id, decisions) = deferred_then_approved(&base).await;
    check_the_rounds(&decisions);

    // Someone with the database rewrites the first round's votes, keeping the hash.
    let db = masar::role_database(Role::Committee, &distributed.settings).await.unwrap();
    let store = masar_committee::CommitteeStore::new(db.clone());
    let request_id: uuid::Uuid = id.parse().unwrap();
    let mut tx = db.begin().await.unwrap();
    let stored = store.decisions(&mut tx, request_id).await.unwrap();
    let mut evidence = masar_proto::committee::v1::Evidence::decode(stored[0].evidence.as_slice()).unwrap();
    evidence.votes[1].vote = "approve".into();
    let rewrite =
        masar_platform::db::Sql::new("UPDATE decisions SET evidence = $1 WHERE request_id = $2 AND round = 1")
            .bind(evidence.encode_to_vec())
            .bind(request_id);
    assert_eq!(tx.execute(rewrite).await.unwrap(), 1);
    tx.commit().await.unwrap();
    db.close().await;
    let read = base.get(&format!("/v1/requests/{id}/committee/decisions"), Some(NUZUL.branch_manager)).await.unwrap();
    let intact: Vec<bool> =
        read["decisions"].as_array().unwrap().iter().map(|d| d["intact"].as_bool().unwrap()).collect();
    assert_eq!(intact, [false, true], "the changed evidence no longer matches its hash: {read:#}");
    distributed.stop().await;
}

/// Whoever researched a case is recused from it when it is scheduled (Reem
/// researches for Hayat and sits on its committee); a member who declares a
/// conflict is recused with the reason, their vote withdrawn, and cannot vote
/// again; the decision's evidence names both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recusals_are_recorded_and_keep_a_member_out_of_the_vote_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    let reception = base.as_staff(HAYAT.reception).await.unwrap();
    let submitted = submit(&reception, &HAYAT, "1000000230", "منيرة سعد", "0553337799").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, HAYAT.project_manager).await.unwrap();
    let researcher = research_to_agenda(&base, &HAYAT, &id, "approve").await.unwrap();
    assert_eq!(researcher, "hayat.researcher1");
    let item = base.wait_for_agenda(&id, HAYAT.committee[0], HAYAT.branch).await.unwrap();
    assert_eq!(
        item["recusals"],
        json!([{ "member": "hayat.committee3", "kind": "researched", "reason": "researched the case" }])
    );

    let votes = format!("/v1/requests/{id}/committee/votes");
    let recusal = format!("/v1/requests/{id}/committee/recusal");
    hold_meeting(&base, &HAYAT).await.unwrap();
    base.post(&votes, Some(HAYAT.committee[1]), json!({ "vote": "approve" })).await.unwrap();
    let (status, refused) = base
        .call(reqwest::Method::POST, &recusal, Some(HAYAT.committee[1]), Some(json!({ "reason": " " })))
        .await
        .unwrap();
    assert_eq!((status, refused["fields"][0]["field"].as_str()), (400, Some("reason")), "{refused}");
    let conflict = json!({ "reason": "The applicant is my cousin" });
    let recused = base.post(&recusal, Some(HAYAT.committee[1]), conflict).await.unwrap();
    assert_eq!(recused["votes"], json!([]), "the vote is withdrawn: {recused}");
    assert_eq!(recused["recusals"][1]["kind"], "declared", "{recused}");
    let (status, _) = base
        .call(reqwest::Method::POST, &votes, Some(HAYAT.committee[1]), Some(json!({ "vote": "approve" })))
        .await
        .unwrap();
    assert_eq!(status, 403, "a recused member does not vote");
    let decision = format!("/v1/requests/{id}/committee/decision");
    let (status, _) = base
        .call(reqwest::Method::POST, &decision, Some(HAYAT.committee[1]), Some(json!({ "decision": "approved" })))
        .await
        .unwrap();
    assert_eq!(status, 403, "nor records the decision");
    // One member left to vote: not enough for a decision.
    base.post(&votes, Some(HAYAT.committee[0]), json!({ "vote": "approve" })).await.unwrap();
    let (status, _) = base
        .call(reqwest::Method::POST, &decision, Some(HAYAT.committee[0]), Some(json!({ "decision": "approved" })))
        .await
        .unwrap();
    assert_eq!(status, 409, "no quorum among those who may vote");
    let (_, refused) = base
        .call(reqwest::Method::POST, &decision, Some(HAYAT.committee[0]), Some(json!({ "decision": "approved" })))
        .await
        .unwrap();
    assert_eq!(refused["reason"], "committee.no_quorum", "the recused member is present but not counted: {refused}");
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(HAYAT.branch_manager)).await.unwrap().to_string();
    assert!(trail.contains("committee.recused") && trail.contains("my cousin"), "{trail}");
    suite.stop().await.unwrap();
}

/// Hayat, as its policy runs: the beneficiary applies on the website, the
/// case is verified, researched on version 2's criteria, approved by more
/// than half of the members who may vote (its researcher recused), the
/// treatment support delivered and the service rated.
async fn hayat_approved_delivered_and_rated(base: &GatewayClient, read_sms: &dyn Fn() -> Vec<String>) {
    let applicant = json!({ "national_id": "1000000248", "full_name": "خديجة عمر", "mobile": "0553338800" });
    let beneficiary = sign_up(base, "hayat", applicant, read_sms).await.unwrap();
    let online = Cast { channel: "website", ..HAYAT };
    let submitted = submit(&beneficiary, &online, "1000000248", "خديجة عمر", "0553338800").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, HAYAT.project_manager).await.unwrap();
    research_to_agenda(base, &HAYAT, &id, "approve").await.unwrap();
    decide(&beneficiary, &HAYAT, &id, "approved").await.unwrap();
    let decisions =
        base.get(&format!("/v1/requests/{id}/committee/decisions"), Some(HAYAT.branch_manager)).await.unwrap();
    let evidence = &decisions["decisions"][0]["evidence"];
    assert_eq!(
        (evidence["quorum"].as_u64(), evidence["majority"].as_str()),
        (Some(2), Some("absolute")),
        "{decisions}"
    );
    assert_eq!(evidence["recusals"][0]["member"], "hayat.committee3", "{decisions}");
    assert_eq!(evidence["research"]["amount_label"]["en"], "Support amount (SAR)");
    crate::satisfaction::deliver_and_rate(&beneficiary, &HAYAT, &id).await;
    beneficiary.wait_for_status(&id, "closed").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hayat_is_approved_delivered_and_rated_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    hayat_approved_delivered_and_rated(&base, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hayat_is_approved_delivered_and_rated_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    hayat_approved_delivered_and_rated(&base, &move || sms.texts()).await;
    distributed.stop().await;
}

/// A Nuzul case taken to its branch's committee by what research recommends.
async fn recommended_case(base: &GatewayClient, national_id: &str, name: &str) -> String {
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, national_id, name, "0553331100").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    base.verify(&id, NUZUL.project_manager).await.unwrap();
    research_to_agenda(base, &NUZUL, &id, "approve").await.unwrap();
    id
}

/// A meeting as its members hold it: scheduled with its members and chair,
/// opened by the first attendance on its day with the cases recommended
/// before it, deciding only with the pack's quorum present, closing with
/// minutes (Hijri and Gregorian, attendance, every case's decision or
/// carrying over) that the members present confirm, after which they never change.
async fn meeting_held_to_confirmed_minutes(base: &GatewayClient) {
    let [first, second] = [("1000000263", "نورة فهد"), ("1000000271", "هيا سالم")];
    let (a, b) = (recommended_case(base, first.0, first.1).await, recommended_case(base, second.0, second.1).await);
    let vote = |id: &str| format!("/v1/requests/{id}/committee/votes");
    let decision = |id: &str| format!("/v1/requests/{id}/committee/decision");
    let approve = json!({ "vote": "approve" });
    let (status, refused) =
        base.call(reqwest::Method::POST, &vote(&a), Some(NUZUL.committee[0]), Some(approve.clone())).await.unwrap();
    assert_eq!((status, refused["reason"].as_str()), (409, Some("meeting.not_in_session")), "{refused}");

    // A meeting entered wrong is refused field by field, and nothing is kept.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let wrong = json!({ "branch": "riyadh", "on": (today - chrono::Days::new(1)).to_string(), "at": "25:00",
                        "place": " ", "chair": "nuzul.pm", "members": ["nuzul.committee1", "nuzul.researcher1"] });
    let (status, refused) = base
        .call(reqwest::Method::POST, "/v1/committee/meetings", Some(NUZUL.branch_manager), Some(wrong))
        .await
        .unwrap();
    let fields: Vec<&str> =
        refused["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["on", "at", "place", "members[1]", "members", "chair"]), "{refused}");
    let listed = base.get("/v1/committee/meetings", Some(NUZUL.branch_manager)).await.unwrap();
    assert_eq!(listed["meetings"], json!([]), "{listed}");
    let elsewhere = json!({ "branch": "riyadh", "on": today.to_string(), "at": "10:00", "place": "Hall",
                            "chair": NUZUL.committee[0], "members": NUZUL.committee });
    let (status, _) = base
        .call(reqwest::Method::POST, "/v1/committee/meetings", Some("nuzul.jeddah.branch"), Some(elsewhere))
        .await
        .unwrap();
    assert_eq!(status, 403, "another branch's manager does not schedule Riyadh's meetings");

    let members = ["nuzul.committee1", "nuzul.committee2", "nuzul.committee3"];
    let on = |day: chrono::NaiveDate| {
        json!({ "branch": "riyadh", "on": day.to_string(), "at": "10:00",
        "place": "قاعة المجلس", "chair": NUZUL.committee[0], "members": members })
    };
    // Not before its day.
    let tomorrow = base.post("/v1/committee/meetings", Some(NUZUL.branch_manager), on(today + chrono::Days::new(1)));
    let tomorrow = tomorrow.await.unwrap();
    let attendance = |m: &Value| format!("/v1/committee/meetings/{}/attendance", m["meeting_id"].as_str().unwrap());
    let present = |who: &[&str]| Some(json!({ "present": who }));
    let (status, refused) = base
        .call(reqwest::Method::PUT, &attendance(&tomorrow), Some(NUZUL.committee[0]), present(&[NUZUL.committee[0]]))
        .await
        .unwrap();
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"]["en"].as_str().unwrap().starts_with("The meeting opens on its day"), "{refused}");
    // Called off instead, with why: it takes no attendance.
    let cancellation = format!("/v1/committee/meetings/{}/cancellation", tomorrow["meeting_id"].as_str().unwrap());
    let (status, refused) =
        base.call(reqwest::Method::POST, &cancellation, Some(NUZUL.branch_manager), Some(json!({}))).await.unwrap();
    assert_eq!((status, refused["fields"][0]["field"].as_str()), (400, Some("reason")), "{refused}");
    let (status, _) = base
        .call(reqwest::Method::POST, &cancellation, Some(NUZUL.committee[0]), Some(json!({ "reason": "x" })))
        .await
        .unwrap();
    assert_eq!(status, 403, "the committee does not call off meetings");
    let called_off = base
        .post(&cancellation, Some(NUZUL.branch_manager), json!({ "reason": "The chair is travelling" }))
        .await
        .unwrap();
    assert_eq!(called_off["status"], "cancelled", "{called_off}");
    let (status, _) = base
        .call(reqwest::Method::PUT, &attendance(&tomorrow), Some(NUZUL.committee[0]), present(&[NUZUL.committee[0]]))
        .await
        .unwrap();
    assert_eq!(status, 409, "a cancelled meeting takes no attendance");

    let meeting = base.post("/v1/committee/meetings", Some(NUZUL.branch_manager), on(today)).await.unwrap();
    let agenda = |m: &Value| -> Vec<String> {
        m["agenda"].as_array().unwrap().iter().map(|i| i["request_id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!((meeting["status"].as_str(), agenda(&meeting)), (Some("scheduled"), vec![a.clone(), b.clone()]));
    assert_eq!((meeting["quorum"].as_u64(), meeting["scope"].as_str()), (Some(2), Some("branch")), "{meeting}");
    let (status, _) = base
        .call(reqwest::Method::PUT, &attendance(&meeting), Some(NUZUL.committee[1]), present(&[NUZUL.committee[1]]))
        .await
        .unwrap();
    assert_eq!(status, 403, "a member who is not its chair does not run the meeting");
    let (status, refused) =
        base.call(reqwest::Method::PUT, &attendance(&meeting), Some(NUZUL.committee[0]), present(&[])).await.unwrap();
    assert_eq!(
        (status, refused["fields"][0]["field"].as_str()),
        (400, Some("present")),
        "nobody present opens nothing"
    );
    let opening = attendance(&meeting);
    let chair_alone = present(&[NUZUL.committee[0]]);
    let opened = base.ok(reqwest::Method::PUT, &opening, Some(NUZUL.committee[0]), chair_alone).await.unwrap();
    assert_eq!((opened["status"].as_str(), agenda(&opened)), (Some("in_session"), vec![a.clone(), b.clone()]));

    // A case recommended once the meeting sits waits for the next one.
    let c = recommended_case(base, "1000000289", "ريم ناصر").await;
    let meeting_path = format!("/v1/committee/meetings/{}", meeting["meeting_id"].as_str().unwrap());
    let sitting = base.get(&meeting_path, Some(members[2])).await.unwrap();
    assert_eq!(agenda(&sitting), [a.clone(), b.clone()], "{sitting}");

    // Only those present vote; with one present there is no quorum.
    let (status, refused) =
        base.call(reqwest::Method::POST, &vote(&a), Some(NUZUL.committee[1]), Some(approve.clone())).await.unwrap();
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["message"]["en"], "You are not recorded present at this meeting");
    base.post(&vote(&a), Some(NUZUL.committee[0]), approve.clone()).await.unwrap();
    let approved = json!({ "decision": "approved" });
    let (status, refused) = base
        .call(reqwest::Method::POST, &decision(&a), Some(NUZUL.committee[0]), Some(approved.clone()))
        .await
        .unwrap();
    assert_eq!((status, refused["reason"].as_str()), (409, Some("committee.no_quorum")), "{refused}");
    base.ok(reqwest::Method::PUT, &opening, Some(NUZUL.branch_manager), present(&NUZUL.committee)).await.unwrap();
    base.post(&vote(&a), Some(NUZUL.committee[1]), approve.clone()).await.unwrap();
    let decided = base.post(&decision(&a), Some(NUZUL.committee[0]), approved).await.unwrap();
    assert_eq!(decided["status"], "approved", "{decided}");
    let decisions =
        base.get(&format!("/v1/requests/{a}/committee/decisions"), Some(NUZUL.branch_manager)).await.unwrap();
    let evidence = &decisions["decisions"][0]["evidence"];
    assert_eq!(evidence["meeting_id"], meeting["meeting_id"], "{evidence}");
    assert_eq!(evidence["present"], json!(NUZUL.committee), "{evidence}");
    base.post(&vote(&b), Some(NUZUL.committee[1]), json!({ "vote": "defer", "note": "Needs a second visit" }))
        .await
        .unwrap();

    // Closing: the undecided case waits for the next meeting; no vote after.
    let closing = format!("{meeting_path}/closing");
    base.post(&closing, Some(NUZUL.committee[0]), json!({})).await.unwrap();
    let (status, _) =
        base.call(reqwest::Method::POST, &vote(&b), Some(NUZUL.committee[0]), Some(approve.clone())).await.unwrap();
    assert_eq!(status, 409, "no vote after the meeting closed");
    let (status, _) =
        base.call(reqwest::Method::POST, &closing, Some(NUZUL.committee[0]), Some(json!({}))).await.unwrap();
    assert_eq!(status, 409, "closed once");

    let minutes_path = format!("{meeting_path}/minutes");
    let minutes = base.get(&minutes_path, Some(members[2])).await.unwrap();
    assert_eq!(minutes["status"], "awaiting_confirmation", "{minutes}");
    let cases: Vec<(&str, &str)> = minutes["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["request_id"].as_str().unwrap(), c["decision"].as_str().unwrap()))
        .collect();
    assert_eq!(cases, [(a.as_str(), "approved"), (b.as_str(), "carried_over")], "{minutes}");
    assert_eq!(minutes["cases"][0]["evidence_sha256"], decisions["decisions"][0]["evidence_sha256"]);
    assert_eq!(minutes["cases"][1]["votes"][0]["note"], "Needs a second visit", "the minutes keep the withdrawn votes");
    let attended: Vec<bool> =
        minutes["attendance"].as_array().unwrap().iter().map(|a| a["present"].as_bool().unwrap()).collect();
    assert_eq!(attended, [true, true, false]);
    assert_eq!(minutes["on_hijri"], masar_domain::HijriDate::from_gregorian(today).to_string());

    // The printable document is exactly what the members confirm.
    let printed = reqwest::Client::new()
        .get(format!("{}{}", base.base(), minutes["print"].as_str().unwrap()))
        .bearer_auth(base.staff_token(NUZUL.committee[1]).await.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(printed.headers()["content-type"], "text/html; charset=utf-8");
    let html = printed.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"ar\" dir=\"rtl\">") && html.contains("@media print"));
    assert!(html.contains("محضر اجتماع لجنة البحث") && html.contains(" هـ ("));
    assert!(html.contains("Not decided; carried over to the next meeting") && html.contains("قاعة المجلس"), "{html}");
    assert!(html.contains("<bdi>Abdullah Aldosari</bdi>"), "members by their names: {html}");
    let sha = minutes["sha256"].as_str().unwrap().to_owned();
    assert_eq!(masar_committee::evidence_hash(html.as_bytes()), sha);

    // The members present confirm it; an amendment withdraws the confirmations given.
    let confirmation = format!("{minutes_path}/confirmation");
    let (status, _) = base
        .call(reqwest::Method::POST, &confirmation, Some(members[2]), Some(json!({ "sha256": sha })))
        .await
        .unwrap();
    assert_eq!(status, 403, "an absent member does not confirm");
    let (status, refused) = base
        .call(reqwest::Method::POST, &confirmation, Some(NUZUL.committee[1]), Some(json!({ "sha256": "deadbeef" })))
        .await
        .unwrap();
    assert_eq!((status, refused["fields"][0]["field"].as_str()), (400, Some("sha256")), "{refused}");
    let confirmed = base.post(&confirmation, Some(NUZUL.committee[1]), json!({ "sha256": sha })).await.unwrap();
    assert_eq!(confirmed["confirmed_by"], json!([NUZUL.committee[1]]));
    let remarks = json!({ "remarks": "The second case needs a second visit first.", "sha256": sha });
    let amended = base.ok(reqwest::Method::PUT, &minutes_path, Some(NUZUL.committee[0]), Some(remarks)).await.unwrap();
    let amended_sha = amended["sha256"].as_str().unwrap().to_owned();
    assert_ne!(amended_sha, sha);
    assert_eq!(
        (amended["confirmed_by"].clone(), amended["status"].as_str()),
        (json!([]), Some("awaiting_confirmation"))
    );
    let (status, _) = base
        .call(reqwest::Method::POST, &confirmation, Some(NUZUL.committee[1]), Some(json!({ "sha256": sha })))
        .await
        .unwrap();
    assert_eq!(status, 409, "the text confirmed is not the minutes' any more");
    for member in NUZUL.committee {
        base.post(&confirmation, Some(member), json!({ "sha256": amended_sha })).await.unwrap();
    }
    let minutes = base.get(&minutes_path, Some(NUZUL.branch_manager)).await.unwrap();
    assert_eq!(
        (minutes["status"].as_str(), minutes["remarks"].as_str()),
        (Some("confirmed"), Some("The second case needs a second visit first."))
    );
    let again = json!({ "remarks": "Changed later", "sha256": amended_sha });
    let (status, refused) =
        base.call(reqwest::Method::PUT, &minutes_path, Some(NUZUL.committee[0]), Some(again)).await.unwrap();
    assert_eq!((status, refused["message"]["en"].as_str()), (409, Some("The minutes are confirmed and cannot change")));
    assert_eq!(base.get(&minutes_path, Some(NUZUL.committee[0])).await.unwrap()["sha256"], amended_sha.as_str());

    // The next meeting takes what waited and what came since.
    let next = base.post("/v1/committee/meetings", Some(NUZUL.branch_manager), on(today)).await.unwrap();
    assert_eq!(agenda(&next), [b.clone(), c.clone()], "{next}");
    let listed = base.get("/v1/committee/meetings", Some(NUZUL.committee[0])).await.unwrap();
    assert_eq!(listed["meetings"].as_array().unwrap().len(), 3, "the cancelled one listed too: {listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_decides_with_its_quorum_present_and_confirms_its_minutes_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    meeting_held_to_confirmed_minutes(&GatewayClient::new(&suite.gateway_url())).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_decides_with_its_quorum_present_and_confirms_its_minutes_distributed() {
    let distributed = distributed_suite().await;
    meeting_held_to_confirmed_minutes(&GatewayClient::new(&distributed.suite.gateway_url())).await;
    distributed.stop().await;
}
