//! The whole journey through the gateway, in both shapes, and bad input.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::{
    GatewayClient, HAYAT, NUZUL, NUZUL_JEDDAH, SAMPLE_PDF, create_draft, decide, research_and_decide,
    research_to_agenda, sign_up, submit, submit_draft, submit_with_facts, upload_required_documents,
};
use serde_json::{Value, json};

fn applicant(national_id: &str, full_name: &str, mobile: &str) -> Value {
    json!({ "national_id": national_id, "full_name": full_name, "mobile": mobile, "preferred_language": "ar" })
}

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

/// The project manager's view of one pending request.
async fn pending(client: &GatewayClient, id: &str, project_manager: &str) -> Value {
    client.wait_until_pending(id, project_manager).await.unwrap();
    let found = client.find_in_list("/v1/verification/pending", "requests", id, Some(project_manager)).await;
    found.unwrap().expect("the request is pending")
}

fn verdicts(pending: &Value) -> Vec<(String, String)> {
    pending["eligibility"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap().to_owned(), r["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

fn v(rule: &str, verdict: &str) -> (String, String) {
    (rule.into(), verdict.into())
}

/// Nuzul: unclear tenure, returned for completion, resubmitted with it, approved.
/// Hayat: one request ineligible by the income rule, one rejected by the committee.
async fn drive_both_associations(base: &GatewayClient, read_sms: &dyn Fn() -> Vec<String>) {
    // Nuzul's beneficiary applies on the website, signed in to their own account.
    let client =
        &sign_up(base, "nuzul", applicant("1000000008", "محمد عبدالله", "0551234567"), read_sms).await.unwrap();
    // Ownership is left out: the tenure rule cannot be judged yet.
    let unclear = NUZUL.facts_with(&[]).as_object().unwrap().clone().into_iter().filter(|(k, _)| k != "home.ownership");
    let unclear = Value::Object(unclear.collect());
    let submitted =
        submit_with_facts(client, &NUZUL, "1000000008", "محمد عبدالله", "0551234567", unclear).await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["policy_version"], 4, "version 4, in force since 2026-12-07");
    assert!(submitted["reference"].as_str().unwrap().starts_with("NZL-"));
    let submitted_on = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let expected = submitted_on + chrono::Days::new(14);
    assert_eq!(submitted["expected_decision_on"], expected.to_string());
    assert_eq!(submitted["expected_decision_on_hijri"], masar_domain::HijriDate::from_gregorian(expected).to_string());
    assert!(submitted["message"]["ar"].as_str().unwrap().contains("لجنة البحث"));
    assert!(submitted["message"]["ar"].as_str().unwrap().contains(" هـ"));
    // The timeline counts the working days left to the promise on the Saudi calendar.
    let timeline = client.get(&format!("/v1/requests/{id}/timeline"), None).await.unwrap();
    let official = masar_domain::working_days::OfficialHolidays::from_toml(masar::BUILT_IN_HOLIDAYS).unwrap();
    let calendar = masar_domain::working_days::WorkingCalendar { official: &official, closures: &[] };
    let left = calendar.working_days_between(submitted_on, expected);
    assert_eq!(timeline["working_days_left"], left, "{timeline}");
    assert!((8..=10).contains(&left), "two weeks hold ten working days, fewer across a holiday: {left}");
    assert_eq!(timeline["expected_decision_on"], expected.to_string());
    // Verification has the pack's two working days for it.
    let deadline = calendar.add_working_days(submitted_on, 2);
    assert_eq!(
        (timeline["awaiting_stage"].as_str(), timeline["stage_overdue"].as_bool()),
        (Some("verification"), Some(false))
    );
    assert_eq!(timeline["stage_deadline"], deadline.to_string(), "{timeline}");
    assert_eq!(timeline["stage_working_days_left"], calendar.working_days_between(submitted_on, deadline));

    let seen = pending(client, &id, NUZUL.project_manager).await;
    assert_eq!((seen["policy_version"].as_u64(), seen["eligibility_verdict"].as_str()), (Some(4), Some("unknown")));
    assert_eq!(
        verdicts(&seen),
        [
            v("service_area", "met"),
            v("income_per_member", "met"),
            v("home_tenure", "unknown"),
            v("no_recent_restoration", "met")
        ]
    );
    assert!(seen["eligibility"][1]["explanation"]["ar"].as_str().unwrap().contains("1500"));
    assert_eq!(seen["received_on_hijri"], masar_domain::HijriDate::from_gregorian(submitted_on).to_string());
    let reviews: Vec<_> = seen["documents"].as_array().unwrap().iter().map(|d| d["review"].as_str().unwrap()).collect();
    assert_eq!(reviews, ["pending"; 6], "{seen}");
    // The project manager reviews the deed, document by document.
    let review = |document: &str, body: Value| {
        let path = format!("/v1/requests/{id}/verification/documents/{document}");
        async move { client.call(reqwest::Method::POST, &path, Some(NUZUL.project_manager), Some(body)).await.unwrap() }
    };
    let (status, body) = review("title_deed_or_consent", json!({ "review": "rejected" })).await;
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("reason")), "{body}");
    let (status, body) = review("passport", json!({ "review": "accepted" })).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = review("national_id", json!({ "review": "accepted" })).await;
    assert_eq!(
        (status, body["review"].as_str(), body["reviewed_by"].as_str()),
        (200, Some("accepted"), Some(NUZUL.project_manager))
    );
    let (status, rejected) =
        review("title_deed_or_consent", json!({ "review": "rejected", "reason": "الصورة غير واضحة" })).await;
    assert_eq!((status, rejected["review"].as_str()), (200, Some("rejected")), "{rejected}");
    // A rejected document blocks verifying, named in both languages.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{id}/verification/accept"),
            Some(NUZUL.project_manager),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body["message"]["en"].as_str().unwrap().contains("Title deed"), "{body}");
    // Returned with nothing typed: the beneficiary is told exactly what is missing.
    let returned = client
        .post(&format!("/v1/requests/{id}/verification/return"), Some(NUZUL.project_manager), json!({}))
        .await
        .unwrap();
    let missing = returned["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 2, "{returned}");
    assert_eq!(missing[0]["ar"], "صك الملكية أو موافقة المالك الخطية: الصورة غير واضحة");
    assert_eq!(missing[1]["en"], "Please give: Home ownership, or Landlord's consent");
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
    // A fact the policy does not ask is refused, and nothing changes.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{id}/resubmit"),
            None,
            Some(json!({ "facts": { "need.covered_by_insurance": false } })),
        )
        .await
        .unwrap();
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("facts.need.covered_by_insurance")), "{body}");
    // The deed is replaced while the request is returned; the earlier upload is kept, marked replaced.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let (status, replaced) = client
        .upload(
            &format!("/v1/requests/{id}/documents/title_deed_or_consent?file_name=deed.pdf&issued_on={today}"),
            None,
            SAMPLE_PDF.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!((status, replaced["content_type"].as_str()), (201, Some("application/pdf")), "{replaced}");
    let request = client.get(&format!("/v1/requests/{id}"), None).await.unwrap();
    let deeds: Vec<_> =
        request["documents"].as_array().unwrap().iter().filter(|d| d["document"] == "title_deed_or_consent").collect();
    assert_eq!(deeds.len(), 1);
    assert_eq!(deeds[0]["attachment_id"], replaced["attachment_id"]);
    assert_eq!(deeds[0]["file_name"], "deed.pdf");
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{id}/resubmit"),
            None,
            Some(json!({ "note": "no attestation" })),
        )
        .await
        .unwrap();
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("attestation")), "{body}");
    client
        .post(
            &format!("/v1/requests/{id}/resubmit"),
            None,
            json!({ "note": "deed attached", "facts": { "home.ownership": "owned" },
                    "attestation": { "attested": true, "version": "nuzul-2025-1" } }),
        )
        .await
        .unwrap();
    let seen = pending(client, &id, NUZUL.project_manager).await;
    assert_eq!(seen["eligibility_verdict"], "met", "{seen}");
    // The replaced deed is reviewed afresh; the identity card keeps its acceptance.
    let review_of = |document: &str| {
        seen["documents"].as_array().unwrap().iter().find(|d| d["document"] == document).unwrap()["review"].clone()
    };
    assert_eq!((review_of("title_deed_or_consent"), review_of("national_id")), (json!("pending"), json!("accepted")));
    // The manager's confirmation of each document is a step of the policy: not skipped by accepting.
    let accept = format!("/v1/requests/{id}/verification/accept");
    let (status, body) =
        client.call(reqwest::Method::POST, &accept, Some(NUZUL.project_manager), Some(json!({}))).await.unwrap();
    assert_eq!((status, body["reason"].as_str()), (409, Some("verification.documents_unreviewed")), "{body}");
    let named = body["message"]["en"].as_str().unwrap();
    assert!(named.contains("Title deed") && !named.contains("National ID"), "only the unconfirmed ones: {named}");
    assert!(body["message"]["ar"].as_str().unwrap().contains("تأكيد"), "{body}");
    client.verify(&id, NUZUL.project_manager).await.unwrap();
    research_and_decide(client, &NUZUL, &id, "approved").await.unwrap();

    let timeline = client.get(&format!("/v1/requests/{id}/timeline"), None).await.unwrap();
    assert_eq!(timeline["working_days_left"], Value::Null, "replied: nothing left to count");
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
    // Every stage event told the beneficiary, once, in Arabic (and the visit's appointment).
    let messages = client
        .eventually("ten sent messages", || async {
            let m = client.get(&format!("/v1/requests/{id}/messages"), Some(NUZUL.branch_manager)).await?;
            let list = m["messages"].as_array().cloned().unwrap_or_default();
            Ok((list.len() == 10 && list.iter().all(|x| x["status"] == "sent")).then_some(list))
        })
        .await
        .unwrap();
    assert!(messages[0]["text"].as_str().unwrap().contains(submitted["reference"].as_str().unwrap()));
    let hijri_and_gregorian =
        format!("{} هـ ({} م)", submitted["expected_decision_on_hijri"].as_str().unwrap(), expected);
    assert!(messages[0]["text"].as_str().unwrap().contains(&hijri_and_gregorian), "{}", messages[0]["text"]);
    assert_eq!(messages[0]["mobile"], "+9665******67");
    // The return's SMS and timeline name the deed and the missing answer, in the beneficiary's Arabic.
    let told = messages[1]["text"].as_str().unwrap();
    assert!(
        told.contains("صك الملكية") && told.contains("الصورة غير واضحة") && told.contains("ملكية المسكن"),
        "{told}"
    );
    let returned_entry = &timeline["entries"][1];
    assert!(returned_entry["note"].as_str().unwrap().contains("ملكية المسكن"), "{returned_entry}");
    assert_eq!(timeline["entries"][0]["on_hijri"], masar_domain::HijriDate::from_gregorian(submitted_on).to_string());
    crate::satisfaction::deliver_and_rate(client, &NUZUL, &id).await;

    // Hayat's applicants come to an interview; reception files for them.
    let client = &base.as_staff(HAYAT.reception).await.unwrap();
    // Hayat's income rule: 12,000 SAR for 3 members is 4,000 each, over the 2,000 threshold.
    let rich = HAYAT.facts_with(&[("household.monthly_income", "12000"), ("household.members", "3")]);
    let over = submit_with_facts(client, &HAYAT, "2000000006", "Aisha Rahman", "0567654321", rich).await.unwrap();
    let over_id = over["request_id"].as_str().unwrap().to_owned();
    let seen = pending(client, &over_id, HAYAT.project_manager).await;
    assert_eq!(seen["eligibility_verdict"], "not_met");
    assert_eq!(verdicts(&seen)[1], v("income_per_member", "not_met"));
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{over_id}/verification/accept"),
            Some(HAYAT.project_manager),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!((status, body["code"].as_str()), (409, Some("failed_precondition")), "{body}");
    assert!(body["message"]["en"].as_str().unwrap().contains("2,000 SAR"), "{body}");
    // Without reasons of their own, the manager gives the policy's explanation.
    client
        .post(&format!("/v1/requests/{over_id}/verification/ineligible"), Some(HAYAT.project_manager), json!({}))
        .await
        .unwrap();
    let timeline = client.wait_for_status(&over_id, "ineligible").await.unwrap();
    assert_eq!(
        statuses(&timeline),
        vec![s("submitted", "intake", "reception_officer"), s("ineligible", "verification", "project_manager")]
    );
    let messages = client
        .eventually("the ineligibility SMS", || async {
            let m = client.get(&format!("/v1/requests/{over_id}/messages"), Some(HAYAT.branch_manager)).await?;
            let list = m["messages"].as_array().cloned().unwrap_or_default();
            Ok((list.len() == 2).then_some(list))
        })
        .await
        .unwrap();
    // In the beneficiary's language only, from the policy's own explanation.
    let text = messages[1]["text"].as_str().unwrap();
    assert!(text.contains("أن يقل دخل الفرد الشهري في الأسرة عن 2000 ريال") && !text.contains("SAR"), "{text}");

    let hayat = submit(client, &HAYAT, "2000000006", "Aisha Rahman", "0567654321").await.unwrap();
    let hayat_id = hayat["request_id"].as_str().unwrap().to_owned();
    client.verify(&hayat_id, HAYAT.project_manager).await.unwrap();
    research_to_agenda(client, &HAYAT, &hayat_id, "reject").await.unwrap();
    // Reem researched it; her seat on the committee does not let her vote on it.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{hayat_id}/committee/votes"),
            Some("hayat.committee3"),
            Some(json!({ "vote": "approve" })),
        )
        .await
        .unwrap();
    assert_eq!((status, body["message"]["en"].as_str()), (403, Some("A member cannot vote on a case they researched")));
    decide(client, &HAYAT, &hayat_id, "rejected").await.unwrap();
    let request = client.get(&format!("/v1/requests/{hayat_id}"), None).await.unwrap();
    assert_eq!(request["status"], "rejected");
    assert_eq!(request["national_id"], "2******006");

    // Hayat through a return as well: the medical report is rejected, replaced, and the request verified.
    let report_case = submit(client, &HAYAT, "1000000313", "Hessa Alharbi", "0501234567").await.unwrap();
    let report_id = report_case["request_id"].as_str().unwrap().to_owned();
    let seen = pending(client, &report_id, HAYAT.project_manager).await;
    assert_eq!(seen["eligibility_verdict"], "met", "{seen}");
    let review = format!("/v1/requests/{report_id}/verification/documents/medical_report");
    let rejected = json!({ "review": "rejected", "reason": "غير مختوم من المنشأة" });
    client.post(&review, Some(HAYAT.project_manager), rejected).await.unwrap();
    let returned = client
        .post(&format!("/v1/requests/{report_id}/verification/return"), Some(HAYAT.project_manager), json!({}))
        .await
        .unwrap();
    assert_eq!(returned["missing"].as_array().unwrap().len(), 1, "{returned}");
    assert_eq!(returned["missing"][0]["ar"], "تقرير طبي من منشأة مرخصة: غير مختوم من المنشأة");
    client.wait_for_status(&report_id, "returned_for_completion").await.unwrap();
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let upload = format!("/v1/requests/{report_id}/documents/medical_report?file_name=report.pdf&issued_on={today}");
    let (status, _) = client.upload(&upload, None, SAMPLE_PDF.to_vec()).await.unwrap();
    assert_eq!(status, 201);
    let attestation = json!({ "attested": true, "version": "hayat-1441-1" });
    client
        .post(&format!("/v1/requests/{report_id}/resubmit"), None, json!({ "attestation": attestation }))
        .await
        .unwrap();
    let seen = pending(client, &report_id, HAYAT.project_manager).await;
    let report = seen["documents"].as_array().unwrap().iter().find(|d| d["document"] == "medical_report").unwrap();
    assert_eq!(report["review"], "pending", "the new report is reviewed afresh: {seen}");
    client.verify(&report_id, HAYAT.project_manager).await.unwrap();
    // Research assigns a researcher at once, so the status may already have moved past "verified".
    let timeline = client.wait_for_status(&report_id, "researcher_assigned").await.unwrap();
    assert_eq!(statuses(&timeline)[3], s("verified", "verification", "project_manager"), "{timeline}");

    // Nuzul through an ineligible outcome: 12,000 SAR for 2 members is over its 1,500 per member.
    let client =
        &sign_up(base, "nuzul", applicant("1000000214", "Saad Alotaibi", "0591234567"), read_sms).await.unwrap();
    let rich = NUZUL.facts_with(&[("household.monthly_income", "12000"), ("household.members", "2")]);
    let over = submit_with_facts(client, &NUZUL, "1000000214", "Saad Alotaibi", "0591234567", rich).await.unwrap();
    let over_id = over["request_id"].as_str().unwrap().to_owned();
    let seen = pending(client, &over_id, NUZUL.project_manager).await;
    assert_eq!(seen["eligibility_verdict"], "not_met");
    client
        .post(&format!("/v1/requests/{over_id}/verification/ineligible"), Some(NUZUL.project_manager), json!({}))
        .await
        .unwrap();
    client.wait_for_status(&over_id, "ineligible").await.unwrap();
}

/// Bad input is a 4xx with a stable, bilingual body; never a 500.
async fn refuse_bad_input(base: &GatewayClient) {
    // Hayat's reception files the requests below; identity itself is tested at the end.
    let client = &base.as_staff(HAYAT.reception).await.unwrap();
    let post = |path: &str, staff: Option<&'static str>, body: Value| {
        let client = client.clone();
        let path = path.to_owned();
        async move { client.call(reqwest::Method::POST, &path, staff, Some(body)).await.unwrap() }
    };
    // malformed JSON, from a signed-in caller (an anonymous one is refused before its input is read)
    let token = client.token().unwrap().to_owned();
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/requests", client.base()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request");
    assert!(!body["message"]["ar"].as_str().unwrap().is_empty());

    // a body over the JSON routes' limit, announced by its length: the stable error body, not plain text
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/requests", client.base()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"description\": \"{}\"}}", "x".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 413);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["message"]["en"], "The request body is too large", "{body}");

    // missing fields
    let (status, body) = post("/v1/requests", None, json!({ "association": "nuzul" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]["en"].as_str().unwrap().contains("missing field"), "{body}");

    // Another association is refused before its form is read.
    let bad_form = json!({ "association": "nowhere", "branch": "x", "service_type": "y", "channel": "pigeon",
        "applicant": { "national_id": "1000000000", "full_name": " ", "mobile": "0521234567" } });
    let (status, body) = post("/v1/requests", None, bad_form.clone()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("permission_denied")), "{body}");
    // Unknown branch and service, invalid ID and mobile: every field reported (the admin files for any branch).
    let mut bad_form = bad_form;
    bad_form["association"] = json!("hayat");
    let (status, body) = post("/v1/requests", Some("hayat.admin"), bad_form).await;
    assert_eq!(status, 400, "{body}");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    let expected =
        ["branch", "service_type", "channel", "applicant.national_id", "applicant.mobile", "applicant.full_name"];
    assert_eq!(fields, expected);
    assert_eq!(body["fields"][3]["message"]["ar"], "رقم الهوية غير صحيح، يرجى التحقق منه");

    // answers the policy cannot read, and a required one left out
    let (status, body) = post(
        "/v1/requests",
        None,
        json!({ "association": "hayat", "branch": "madinah", "service_type": "medical_devices", "channel": "website",
                "applicant": { "national_id": "1000000008", "full_name": "A B", "mobile": "0551234567" },
                "facts": { "household.members": "many", "need.covered_by_insurance": "perhaps", "pets": 2,
                           "household.monthly_income": -5, "applicant.region": "Madinah" } }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "facts.household.members",
            "facts.household.monthly_income",
            "facts.need.covered_by_insurance",
            "facts.pets",
            "facts.need.covered_by_government"
        ],
        "{body}"
    );
    assert_eq!(body["fields"][2]["message"]["ar"], "الإجابة نعم أو لا");

    // a draft: documents refused by content, size and code; submission needs every document and the attestation
    let draft = create_draft(client, &HAYAT, "1000000008", "A B", "0551234567", HAYAT.facts_with(&[])).await.unwrap();
    assert_eq!(draft["status"], "draft");
    let draft_id = draft["request_id"].as_str().unwrap();
    let required: Vec<&str> =
        draft["required_documents"].as_array().unwrap().iter().map(|d| d["document"].as_str().unwrap()).collect();
    assert_eq!(
        required,
        ["national_id", "medical_report", "price_quotation", "proof_of_income", "family_record", "insurance_status"]
    );
    let upload = |document: &str, query: &str, file: Vec<u8>| {
        let client = client.clone();
        let path = format!("/v1/requests/{draft_id}/documents/{document}?file_name=scan.pdf{query}");
        async move { client.upload(&path, None, file).await.unwrap() }
    };
    let executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00 this is not a pdf".to_vec();
    let (status, body) = upload("national_id", "", executable).await;
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("content")), "{body}");
    assert!(body["fields"][0]["message"]["ar"].as_str().unwrap().contains("غير مقبول"));
    // A page of HTML and script that starts as a PDF, and a real PDF with a page glued after it.
    let html = b"%PDF-1.7\n<html><script>fetch('/v1/requests')</script></html>\n%%EOF\n".to_vec();
    let mut glued = SAMPLE_PDF.to_vec();
    glued.extend_from_slice(b"<html><script>alert(1)</script></html>");
    for smuggled in [html, glued] {
        let (status, body) = upload("national_id", "", smuggled).await;
        assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("content")), "{body}");
    }
    let mut oversize = SAMPLE_PDF.to_vec();
    oversize.resize(masar_intake::MAX_DOCUMENT_BYTES + 1, b' ');
    let (status, body) = upload("national_id", "", oversize).await;
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("content")), "{body}");
    let (status, body) = upload("title_deed_or_consent", "&issued_on=2025-02-30", SAMPLE_PDF.to_vec()).await;
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["document", "issued_on"]), "{body}");
    let expired = (masar_domain::calendar::saudi_day(chrono::Utc::now()) - chrono::Days::new(1)).to_string();
    let (status, _) = upload("national_id", &format!("&expires_on={expired}"), SAMPLE_PDF.to_vec()).await;
    assert_eq!(status, 201, "an expired document is stored; submission refuses it");
    let (status, body) = client
        .call(reqwest::Method::POST, &format!("/v1/requests/{draft_id}/submit"), None, Some(json!({})))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "documents.national_id",
            "documents.medical_report",
            "documents.price_quotation",
            "documents.proof_of_income",
            "documents.family_record",
            "documents.insurance_status",
            "attestation"
        ]
    );
    assert_eq!(body["fields"][0]["message"]["en"], "National ID or iqama has expired");
    assert_eq!(body["fields"][1]["message"]["ar"], "مستند مطلوب: تقرير طبي من منشأة مرخصة");
    // nothing half-stored: the draft is still a draft, with only the one upload
    let still = client.get(&format!("/v1/requests/{draft_id}"), None).await.unwrap();
    assert_eq!((still["status"].as_str(), still["documents"].as_array().unwrap().len()), (Some("draft"), 1));
    // completing it makes it submittable; a second submission is refused
    upload_required_documents(client, &draft).await.unwrap();
    let submitted = submit_draft(client, draft_id, "hayat-1441-1").await.unwrap();
    assert_eq!(submitted["status"], "submitted");
    let (status, body) = client
        .call(reqwest::Method::POST, &format!("/v1/requests/{draft_id}/submit"), None, Some(json!({})))
        .await
        .unwrap();
    assert_eq!((status, body["code"].as_str()), (409, Some("failed_precondition")), "{body}");
    let (status, _) = upload("national_id", "", SAMPLE_PDF.to_vec()).await;
    assert_eq!(status, 409, "documents are fixed once submitted, until a return for completion");

    // the policy in force (version 2), for front ends: approval in both calendars, the questions per service type
    let policy = client.get("/v1/associations/hayat/policy", None).await.unwrap();
    assert_eq!(
        policy["policy"]["approval"]["approved_on"],
        json!({ "gregorian": "2026-12-01", "hijri": "1448-06-21" })
    );
    assert_eq!(policy["policy"]["referral_role"], "health_administration_manager");
    assert_eq!(policy["facts_asked"]["medical_devices"][0]["fact"], "applicant.region");
    let (status, _) = client.call(reqwest::Method::GET, "/v1/associations/nowhere/policy", None, None).await.unwrap();
    assert_eq!(status, 404);
    let (status, _) =
        client.call(reqwest::Method::GET, "/v1/associations/nuzul/policy?on=2024-12-31", None, None).await.unwrap();
    assert_eq!(status, 404, "nothing was in force before the first version");

    // identity and scope
    let (status, _) = post(
        "/v1/requests",
        None,
        json!({ "association": "nuzul", "branch": "riyadh", "service_type": "roof_repair", "channel": "website",
                "applicant": { "national_id": "1000000008", "full_name": "A B", "mobile": "0551234567" },
                "facts": NUZUL.facts_with(&[]) }),
    )
    .await;
    assert_eq!(status, 403, "Hayat's reception cannot file for Nuzul");
    let nuzul_reception = &base.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(nuzul_reception, &NUZUL, "1000000008", "A B", "0551234567").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap();
    client.wait_until_pending(id, NUZUL.project_manager).await.unwrap();
    let accept = format!("/v1/requests/{id}/verification/accept");
    let anonymous = GatewayClient::new(base.base());
    let (status, body) = anonymous.call(reqwest::Method::POST, &accept, None, Some(json!({}))).await.unwrap();
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let (status, _) = anonymous.call(reqwest::Method::GET, &format!("/v1/requests/{id}"), None, None).await.unwrap();
    assert_eq!(status, 401, "a request is not readable by whoever holds its id");
    let forged = anonymous.with_token("eyJhbGciOiJFZERTQSJ9.eyJyb2xlIjoiYXNzb2NpYXRpb25fYWRtaW4ifQ.c2lnbmF0dXJl");
    let (status, body) = forged.call(reqwest::Method::POST, &accept, None, Some(json!({}))).await.unwrap();
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{body}");
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

/// Nuzul's Jeddah branch: each branch serves its own city (from policy version 3),
/// so a Jeddah family is eligible there, and a Riyadh one is not.
async fn drive_jeddah(base: &GatewayClient) {
    let reception = &base.as_staff(NUZUL_JEDDAH.reception).await.unwrap();
    let submitted = submit(reception, &NUZUL_JEDDAH, "1000000040", "هند الغامدي", "0553334455").await.unwrap();
    let id = submitted["request_id"].as_str().unwrap().to_owned();
    let seen = pending(base, &id, NUZUL_JEDDAH.project_manager).await;
    assert_eq!(
        (seen["branch"].as_str(), seen["eligibility_verdict"].as_str()),
        (Some("jeddah"), Some("met")),
        "{seen}"
    );
    assert_eq!(verdicts(&seen)[0], v("service_area", "met"));
    // The project manager reads the case file in full, to match the data; a supervisor without the contact.
    let file = format!("/v1/requests/{id}/file");
    let full = base.get(&file, Some(NUZUL_JEDDAH.project_manager)).await.unwrap();
    assert_eq!(
        (full["in_full"].as_bool(), full["national_id"].as_str(), full["mobile"].as_str()),
        (Some(true), Some("1000000040"), Some("+966553334455")),
        "{full}"
    );
    let city = full["answers"].as_array().unwrap().iter().find(|a| a["fact"] == "applicant.city").unwrap();
    assert_eq!((city["value"].as_str(), city["question"]["en"].as_str()), (Some("جدة"), Some("City of residence")));
    assert_eq!(full["address"], json!({ "city": "جدة", "district": "الصفا", "street": "شارع الأمير ماجد" }));
    let masked = base.get(&file, Some(NUZUL_JEDDAH.branch_manager)).await.unwrap();
    assert_eq!(masked["in_full"], false, "{masked}");
    assert!(masked.get("national_id").is_none() && masked.get("mobile").is_none(), "{masked}");
    assert!(masked["answers"].as_array().unwrap().is_empty(), "{masked}");
    assert_eq!(masked["address"], json!({ "city": "جدة", "district": "الصفا" }), "nothing that finds the door");
    assert_eq!(masked["request"]["national_id"], "1******040", "masked, as everywhere");
    let (status, _) = base.call(reqwest::Method::GET, &file, Some("nuzul.reception"), None).await.unwrap();
    assert_eq!(status, 403, "the front desk files, it does not read the file");

    base.verify(&id, NUZUL_JEDDAH.project_manager).await.unwrap();
    // The researcher assigned reads it in full, to call and visit; another branch's finds nothing.
    let researcher = base.wait_for_researcher(&id, NUZUL_JEDDAH.branch_manager).await.unwrap();
    assert_eq!(researcher, "nuzul.jeddah.researcher");
    let theirs = base.get(&file, Some(&researcher)).await.unwrap();
    assert_eq!((theirs["in_full"].as_bool(), theirs["mobile"].as_str()), (Some(true), Some("+966553334455")));
    let (status, _) = base.call(reqwest::Method::GET, &file, Some("nuzul.researcher1"), None).await.unwrap();
    assert_eq!(status, 404);
    // Each full opening by staff is on the case's trail; the supervisor's masked one is not.
    let trail = base.get(&format!("/v1/requests/{id}/audit"), Some(NUZUL_JEDDAH.branch_manager)).await.unwrap();
    let openers: Vec<_> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "case_file.opened")
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(openers, [NUZUL_JEDDAH.project_manager, researcher.as_str()]);
    research_and_decide(reception, &NUZUL_JEDDAH, &id, "approved").await.unwrap();
    let approved = reception.get(&format!("/v1/requests/{id}"), None).await.unwrap();
    assert_eq!((approved["status"].as_str(), approved["branch"].as_str()), (Some("approved"), Some("jeddah")));

    // Nuzul's form asks where the family lives: without it, nothing is filed.
    let facts = NUZUL_JEDDAH.facts_with(&[]);
    let homeless = json!({ "association": "nuzul", "branch": "jeddah", "service_type": NUZUL_JEDDAH.service_type,
        "channel": "phone", "applicant": { "national_id": "1000000057", "full_name": "سعد", "mobile": "0553334466" },
        "facts": facts, "address": { "city": "جدة", "short_address": "JED" } });
    let (status, refused) = reception.call(reqwest::Method::POST, "/v1/requests", None, Some(homeless)).await.unwrap();
    let fields: Vec<_> = refused["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["address.district", "address.short_address"]), "{refused}");

    let riyadh_family = NUZUL_JEDDAH.facts_with(&[("applicant.city", "Riyadh")]);
    let elsewhere =
        submit_with_facts(reception, &NUZUL_JEDDAH, "1000000057", "سعد", "0553334466", riyadh_family).await.unwrap();
    let seen = pending(base, elsewhere["request_id"].as_str().unwrap(), NUZUL_JEDDAH.project_manager).await;
    assert_eq!(verdicts(&seen)[0], v("service_area", "not_met"), "the Riyadh branch serves Riyadh: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let client = GatewayClient::new(&suite.gateway_url());
    drive_both_associations(&client, &|| logged_sms(&data_dir)).await;
    drive_jeddah(&client).await;
    // the dev SMS provider wrote every message to the data directory
    let log = std::fs::read_to_string(data_dir.join("sms.log")).unwrap();
    assert!(log.lines().count() >= 9, "{log}");
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_distributed() {
    let distributed = distributed_suite().await;
    let client = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    drive_both_associations(&client, &move || sms.texts()).await;
    drive_jeddah(&client).await;
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

/// `masar demo`, as a newcomer runs it against `make run`: every step of both associations succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    masar::demo::run(&suite.gateway_url(), &data_dir.join("sms.log")).await.unwrap();
    suite.stop().await.unwrap();
}
