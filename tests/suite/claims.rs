//! Whose an account is, in both shapes. Anyone can type anyone's national ID
//! online: the account that opens is a claim, seeing only what it filed
//! itself, until its holder proves the ID is theirs (the SMS to the number
//! the registry holds, reception seeing them in person, or the identity
//! provider). Staff see competing claims and turn them down.

use crate::support::{distributed_suite_on, embedded_suite_with, logged_sms, redis_url};
use masar::demo::{
    Cast, GatewayClient, NUZUL, SAMPLE_PDF, attestation_version, create_draft, new_national_id, sign_up, submit,
    submit_draft, upload_required_documents,
};
use reqwest::Method;
use serde_json::{Value, json};

/// The stranger who claims the victim's ID, and the victim, a Nuzul applicant.
const STRANGER_MOBILE: &str = "0557001122";
const VICTIM_MOBILE: &str = "0557003344";
const VICTIM_NAME: &str = "منيرة السبيعي";

fn applicant(national_id: &str, name: &str, mobile: &str) -> Value {
    json!({ "national_id": national_id, "full_name": name, "mobile": mobile, "preferred_language": "ar" })
}

fn ids(list: &Value, rows: &str, field: &str) -> Vec<String> {
    list[rows].as_array().unwrap().iter().map(|r| r[field].as_str().unwrap().to_owned()).collect()
}

async fn status_of(client: &GatewayClient, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    client.call(method, path, None, body).await.unwrap()
}

/// Credentials SMS sent to `mobile` (as the log writes it) after the first `before` texts.
fn credentials_to(texts: &[String], before: usize, mobile: &str) -> usize {
    texts
        .iter()
        .skip(before)
        .filter(|t| t.starts_with(&format!("{mobile}: ")) && masar::demo::username_in(t).is_some())
        .count()
}

async fn drive_claims(base: &GatewayClient, read_sms: &dyn Fn() -> Vec<String>, refusing_id: &str) {
    let victim_id = new_national_id();
    let by_phone = Cast { channel: "phone", ..NUZUL };
    let reception = base.as_staff(NUZUL.reception).await.unwrap();

    // A stranger registers online first, with the victim's national ID and their own number.
    let stranger = sign_up(base, "nuzul", applicant(&victim_id, "Anyone", STRANGER_MOBILE), read_sms).await.unwrap();
    let draft = create_draft(&stranger, &NUZUL, &victim_id, "Anyone", STRANGER_MOBILE, NUZUL.facts_with(&[])).await;
    let draft = draft.unwrap();
    upload_required_documents(&stranger, &draft).await.unwrap();
    let theirs = draft["request_id"].as_str().unwrap().to_owned();
    submit_draft(&stranger, &theirs, &attestation_version(base, "nuzul").await.unwrap()).await.unwrap();
    let entry = draft["beneficiary_id"].as_str().unwrap().to_owned();

    // Later the victim calls the association, and reception files for her.
    let filed = submit(&reception, &by_phone, &victim_id, VICTIM_NAME, VICTIM_MOBILE).await.unwrap();
    let case = filed["request_id"].as_str().unwrap().to_owned();
    let question = json!({ "association": "nuzul", "branch": "riyadh", "channel": "phone", "name": VICTIM_NAME,
                           "national_id": victim_id, "question": "متى تبدأ الزيارة؟" });
    let inquiry = reception.post("/v1/inquiries", None, question).await.unwrap();
    let inquiry = inquiry["inquiry_id"].as_str().unwrap().to_owned();

    // The stranger sees only what they filed: not her case, its timeline, its documents, nor her inquiry.
    let listed = stranger.get("/v1/requests", None).await.unwrap();
    assert_eq!(ids(&listed, "requests", "request_id"), std::slice::from_ref(&theirs), "{listed}");
    for path in
        [format!("/v1/requests/{case}"), format!("/v1/requests/{case}/timeline"), format!("/v1/inquiries/{inquiry}")]
    {
        assert_eq!(status_of(&stranger, Method::GET, &path, None).await.0, 404, "{path}");
    }
    let upload = format!("/v1/requests/{case}/documents/national_id?file_name=id.pdf");
    assert_eq!(stranger.upload(&upload, None, SAMPLE_PDF.to_vec()).await.unwrap().0, 404);
    let asked = stranger.get("/v1/inquiries", None).await.unwrap();
    assert!(!ids(&asked, "inquiries", "inquiry_id").contains(&inquiry), "{asked}");
    // Reception's details replaced the ones typed online.
    let seen = reception.get(&format!("/v1/beneficiaries/{entry}"), None).await.unwrap();
    assert_eq!(seen["full_name"], VICTIM_NAME, "{seen}");

    // The victim registers online: the credentials go to the number reception entered, so her account is hers.
    let victim = sign_up(base, "nuzul", applicant(&victim_id, VICTIM_NAME, VICTIM_MOBILE), read_sms).await.unwrap();
    let mine = victim.get("/v1/requests", None).await.unwrap();
    let mine = ids(&mine, "requests", "request_id");
    assert!(mine.contains(&case) && mine.contains(&theirs), "everything filed under her ID: {mine:?}");
    assert_eq!(victim.get(&format!("/v1/inquiries/{inquiry}"), None).await.unwrap()["status"], "open");

    // Now the ID is held by a verified person: nobody else can claim it online.
    let before = read_sms().len();
    let late = json!({ "association": "nuzul", "channel": "website",
                       "applicant": applicant(&victim_id, "Anyone", "0557005566") });
    let (status, _) = status_of(base, Method::POST, "/v1/accounts", Some(late.clone())).await;
    assert_eq!(status, 202, "the same answer as ever");
    let (status, refused) = base.call(Method::POST, "/v1/accounts", Some(NUZUL.reception), Some(late)).await.unwrap();
    assert_eq!((status, refused["reason"].as_str()), (409, Some("account.exists")), "{refused}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(credentials_to(&read_sms(), before, "+966557005566"), 0, "no account, no SMS");

    // Staff see the stranger's claim beside her verified account, and turn it down.
    let (status, _) = status_of(&stranger, Method::GET, "/v1/accounts/claims", None).await;
    assert_eq!(status, 403, "claims are for staff");
    let claims = reception.get("/v1/accounts/claims?page_size=100", None).await.unwrap();
    let claim = claims["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["beneficiary"]["beneficiary_id"] == entry)
        .unwrap_or_else(|| panic!("the stranger's claim is listed: {claims}"))
        .clone();
    assert_eq!(claim["account"]["standing"], "unverified");
    assert_eq!(claim["account"]["mobile"], "+9665******22", "{claim}");
    let others: Vec<_> = claim["others"].as_array().unwrap().iter().map(|o| o["standing"].clone()).collect();
    assert_eq!(others, [json!("registry_mobile")], "{claim}");
    let claim_id = claim["account"]["account_id"].as_str().unwrap();
    let close = format!("/v1/accounts/{claim_id}/close");
    let (status, missing) =
        base.call(Method::POST, &close, Some("hayat.reception"), Some(json!({ "reason": "x" }))).await.unwrap();
    assert_eq!(status, 404, "another association's staff find no such account: {missing}");
    let (status, empty) =
        base.call(Method::POST, &close, Some(NUZUL.reception), Some(json!({ "reason": " " }))).await.unwrap();
    assert_eq!((status, empty["fields"][0]["field"].as_str()), (400, Some("reason")), "{empty}");
    let closed = reception.post(&close, None, json!({ "reason": "Not the holder of the ID card" })).await.unwrap();
    assert_eq!(
        (&closed["standing"], &closed["closed_reason"]),
        (&json!("closed"), &json!("Not the holder of the ID card"))
    );
    // Its session ends: refused by intake as soon as identity's announcement
    // reaches it (within a second of its relay, `masar_platform::revocations`),
    // and it signs in no more; its holder is told why.
    crate::support::wait_until("the closed claim's session refused at intake", || async {
        let (status, ended) = status_of(&stranger, Method::GET, "/v1/requests", None).await;
        (status, ended["reason"].as_str()) == (401, Some("session.revoked"))
    })
    .await;
    let username = claim["account"]["username"].as_str().unwrap();
    let again =
        json!({ "association": "nuzul", "username": username, "password": masar::demo::DEMO_BENEFICIARY_PASSWORD });
    let (status, refused) = status_of(base, Method::POST, "/v1/sessions", Some(again)).await;
    assert_eq!((status, refused["reason"].as_str()), (403, Some("account.closed")), "{refused}");
    assert!(refused["message"]["ar"].as_str().unwrap().contains("الاستقبال"), "{refused}");
    let (status, _) =
        base.call(Method::POST, &close, Some(NUZUL.reception), Some(json!({ "reason": "twice" }))).await.unwrap();
    assert_eq!(status, 409, "a closed claim is no claim to close");

    // Someone whose registry number is old: reception files with it, her new number gets an unverified account.
    let moved_id = new_national_id();
    submit(&reception, &by_phone, &moved_id, "هند", "0557007788").await.unwrap();
    let before = read_sms().len();
    let typed_online = applicant(&moved_id, "هند", "0557009900");
    let online = json!({ "association": "nuzul", "channel": "website", "applicant": typed_online });
    assert_eq!(status_of(base, Method::POST, "/v1/accounts", Some(online)).await.0, 202);
    base.eventually("the credentials SMS to the registry's number", || async {
        Ok((credentials_to(&read_sms(), before, "+966557007788") == 1).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(credentials_to(&read_sms(), before, "+966557009900"), 0, "not to the number typed");
    let assisted =
        json!({ "association": "nuzul", "channel": "phone", "applicant": applicant(&moved_id, "هند", "0557009900") });
    let (status, refused) = status_of(&reception, Method::POST, "/v1/accounts", Some(assisted)).await;
    assert_eq!(
        (status, refused["reason"].as_str()),
        (409, Some("account.exists")),
        "the ID has its verified account: {refused}"
    );

    // In person: a claimant without a confirmed number; reception sees her ID card.
    let walk_in_id = new_national_id();
    let walk_in = sign_up(base, "nuzul", applicant(&walk_in_id, "Lama", "0557001212"), read_sms).await.unwrap();
    let draft = create_draft(&reception, &by_phone, &walk_in_id, "لمى", "0557003434", NUZUL.facts_with(&[])).await;
    let draft = draft.unwrap();
    let walk_in_entry = draft["beneficiary_id"].clone();
    let draft = draft["request_id"].as_str().unwrap().to_owned();
    assert_eq!(status_of(&walk_in, Method::GET, &format!("/v1/requests/{draft}"), None).await.0, 404);
    let claims = reception.get("/v1/accounts/claims?page_size=100", None).await.unwrap();
    let walk_in_claim = claims["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["beneficiary"]["beneficiary_id"] == walk_in_entry)
        .unwrap()["account"]["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = format!("/v1/accounts/{walk_in_claim}/verify");
    let (status, _) =
        base.call(Method::POST, &verify, Some(NUZUL.project_manager), Some(json!({ "note": "x" }))).await.unwrap();
    assert_eq!(status, 403, "reception verifies, at the front desk");
    let verified = reception.post(&verify, None, json!({ "note": "national ID card, photo matches" })).await.unwrap();
    assert_eq!((&verified["standing"], &verified["verified_by"]), (&json!("in_person"), &json!(NUZUL.reception)));
    let (status, twice) = status_of(&reception, Method::POST, &verify, Some(json!({ "note": "again" }))).await;
    assert_eq!((status, twice["reason"].as_str()), (409, Some("account.already_verified")), "{twice}");
    // Her refreshed session sees the case reception filed.
    let walk_in = walk_in.refreshed().await.unwrap();
    assert_eq!(walk_in.get(&format!("/v1/requests/{draft}"), None).await.unwrap()["request_id"], draft.as_str());

    // The identity provider: the holder confirms in their app, and the refreshed session sees her case.
    let (status, staff_check) = status_of(&reception, Method::POST, "/v1/me/identity-checks", Some(json!({}))).await;
    assert_eq!(status, 403, "{staff_check}");
    let (status, done) = status_of(&walk_in, Method::POST, "/v1/me/identity-checks", Some(json!({}))).await;
    assert_eq!((status, done["reason"].as_str()), (409, Some("account.already_verified")), "{done}");
    let online_id = new_national_id();
    let online = sign_up(base, "nuzul", applicant(&online_id, "Sara", "0557005656"), read_sms).await.unwrap();
    let filed = submit(&reception, &by_phone, &online_id, "سارة", "0557007878").await.unwrap();
    let filed = filed["request_id"].as_str().unwrap().to_owned();
    assert_eq!(status_of(&online, Method::GET, &format!("/v1/requests/{filed}"), None).await.0, 404);
    let check = online.post("/v1/me/identity-checks", None, json!({})).await.unwrap();
    let number = check["number"].as_u64().unwrap();
    assert!((10..100).contains(&number) && check["answer"] == "waiting", "{check}");
    let path = format!("/v1/me/identity-checks/{}", check["check_id"].as_str().unwrap());
    assert_eq!(status_of(&walk_in, Method::GET, &path, None).await.0, 404, "another account's check looks missing");
    let answered = online.get(&path, None).await.unwrap();
    assert_eq!(
        (&answered["answer"], &answered["account_standing"]),
        (&json!("confirmed"), &json!("identity_provider"))
    );
    let online = online.refreshed().await.unwrap();
    assert_eq!(online.get(&format!("/v1/requests/{filed}"), None).await.unwrap()["status"], "submitted");
    // A holder who turns the ask down stays a claim, seeing only what they filed.
    let refusing = sign_up(base, "nuzul", applicant(refusing_id, "Reem", "0557004545"), read_sms).await.unwrap();
    let check = refusing.post("/v1/me/identity-checks", None, json!({})).await.unwrap();
    let path = format!("/v1/me/identity-checks/{}", check["check_id"].as_str().unwrap());
    let answered = refusing.get(&path, None).await.unwrap();
    assert_eq!((&answered["answer"], &answered["account_standing"]), (&json!("refused"), &json!("unverified")));
    let session = refusing.refreshed().await.unwrap();
    let (_, signed) = status_of(&session, Method::GET, "/v1/requests", None).await;
    assert!(signed["requests"].as_array().unwrap().is_empty(), "{signed}");
    // A check is not started without end: each one alerts the holder's app.
    for _ in 0..4 {
        refusing.post("/v1/me/identity-checks", None, json!({})).await.unwrap();
    }
    let (status, flood) = status_of(&refusing, Method::POST, "/v1/me/identity-checks", Some(json!({}))).await;
    assert_eq!((status, flood["reason"].as_str()), (429, Some("identity.too_many_checks")), "{flood}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_embedded() {
    let refusing = new_national_id();
    let (suite, data_dir) = embedded_suite_with(&[("MASAR_FAKE_IDENTITY_REFUSES", refusing.as_str())]).await;
    let base = GatewayClient::new(&suite.gateway_url());
    drive_claims(&base, &|| logged_sms(&data_dir), &refusing).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_distributed() {
    let refusing = new_national_id();
    let distributed = distributed_suite_on(&redis_url(), &[("MASAR_FAKE_IDENTITY_REFUSES", refusing.as_str())]).await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    drive_claims(&base, &move || sms.texts(), &refusing).await;
    // Verifications and refusals are in the audit trail, with who acted and what they saw.
    let identity = masar_platform::db::Db::connect(&distributed.database.url, "identity").await.unwrap();
    let trail = identity
        .fetch_all(masar_platform::db::Sql::new(
            "SELECT actor, action, detail FROM audit_log WHERE action IN ('account.verified', 'account.closed') \
             ORDER BY at",
        ))
        .await
        .unwrap();
    let trail: Vec<_> = trail
        .iter()
        .map(|r| (r.text("actor").unwrap(), r.text("action").unwrap(), r.text("detail").unwrap()))
        .collect();
    assert_eq!(trail.len(), 3, "{trail:?}");
    assert!(
        trail[0].0 == NUZUL.reception
            && trail[0].1 == "account.closed"
            && trail[0].2.ends_with("Not the holder of the ID card")
    );
    assert!(trail[1].0 == NUZUL.reception && trail[1].2.ends_with("in person: national ID card, photo matches"));
    assert_eq!((trail[2].1.as_str(), trail[2].2.as_str()), ("account.verified", "identity provider"));
    distributed.stop().await;
}

/// Registration spans identity and intake's registry, so it is judged before
/// anything is written: a refused registration (reception's, or an online
/// one past its SMS limit) leaves the registry as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_writes_nothing_distributed() {
    use masar_platform::db::{Db, Sql};
    let distributed = distributed_suite_on(&redis_url(), &[]).await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let intake = Db::connect(&distributed.database.url, "intake").await.unwrap();
    let entries = || async {
        let count = Sql::new("SELECT COUNT(*) AS entries FROM beneficiaries");
        intake.fetch_optional(count).await.unwrap().unwrap().int("entries").unwrap()
    };
    let register = |body: Value, staff: Option<&'static str>| {
        let base = &base;
        async move { base.call(Method::POST, "/v1/accounts", staff, Some(body)).await.unwrap() }
    };
    let online = |national_id: &str, name: &str, mobile: &str| json!({ "association": "nuzul", "channel": "website", "applicant": applicant(national_id, name, mobile) });

    // Typed online: a provisional entry and an unverified claim with that number.
    let national_id = new_national_id();
    let (status, _) = register(online(&national_id, "Typed Online", "0557005500"), None).await;
    assert_eq!(status, 202);
    let before = entries().await;
    // Reception registers the same person with the same number: that number has its account already.
    let assisted = json!({ "association": "nuzul", "channel": "phone",
                           "applicant": applicant(&national_id, "Corrected Name", "0557005500") });
    let (status, refused) = register(assisted, Some(NUZUL.reception)).await;
    assert_eq!((status, refused["reason"].as_str()), (409, Some("account.exists")), "{refused}");
    let entry = intake
        .fetch_all(
            Sql::new("SELECT full_name, contact_confirmed FROM beneficiaries WHERE full_name = $1")
                .bind("Typed Online"),
        )
        .await
        .unwrap();
    assert_eq!(entry.len(), 1, "the provisional entry keeps what was typed online");
    assert_eq!(entry[0].int("contact_confirmed").unwrap(), 0, "and its number stays unconfirmed");
    let claims = base.get("/v1/accounts/claims?page_size=100", Some(NUZUL.reception)).await.unwrap();
    assert!(claims.to_string().contains("Typed Online"), "the claim is still one to resolve: {claims}");

    // One number, new IDs: three credentials SMS a day, and no entry for a registration past them.
    for _ in 0..3 {
        assert_eq!(register(online(&new_national_id(), "Someone", "0557006600"), None).await.0, 202);
    }
    let (status, _) = register(online(&new_national_id(), "Someone", "0557006600"), None).await;
    assert_eq!(status, 202, "answered alike");
    assert_eq!(entries().await, before + 3, "the fourth registration wrote no entry");
    intake.close().await;
    distributed.stop().await;
}
