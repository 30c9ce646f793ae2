//! The research committee's decisions: a deferral keeps its round's votes
//! and sends the committee's questions back to research; the case's second
//! round decides; every decision keeps the evidence it was taken on, hashed,
//! explained vote by vote, and a change to that evidence is detected;
//! recusals; and Hayat taken to approved, delivered and rated.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::{Cast, GatewayClient, HAYAT, NUZUL, decide, research_to_agenda, sign_up, submit};
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
    for member in NUZUL.committee {
        let vote = json!({ "vote": "defer", "note": "The landlord's consent is not dated" });
        base.post(&format!("/v1/requests/{id}/committee/votes"), Some(member), vote).await.unwrap();
    }
    let question = "When did the landlord consent, and for which works?";
    let deferral = json!({ "decision": "deferred", "reasons": [question] });
    base.post(&format!("/v1/requests/{id}/committee/decision"), Some(NUZUL.committee[0]), deferral).await.unwrap();

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
