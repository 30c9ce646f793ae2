//! Lists a page at a time: a beneficiary sees their own requests,
//! reception and supervisors their scope's, newest first; the work queues
//! (verification, inquiries, research, possible duplicates) oldest first.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::{GatewayClient, NUZUL, create_draft, sign_up, submit};
use reqwest::Method;
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<String> {
    page["requests"].as_array().unwrap().iter().map(|r| r["request_id"].as_str().unwrap().to_owned()).collect()
}

async fn drive_pages(base: &str, read_sms: &dyn Fn() -> Vec<String>) {
    let client = GatewayClient::new(base);
    let applicant = json!({ "national_id": "1000000032", "full_name": "هند سالم", "mobile": "0559998877" });
    let beneficiary = sign_up(&client, "nuzul", applicant, read_sms).await.unwrap();
    let facts = NUZUL.facts_with(&[]);
    let mut own = Vec::new();
    for _ in 0..2 {
        let draft = create_draft(&beneficiary, &NUZUL, "1000000032", "هند سالم", "0559998877", facts.clone());
        own.push(draft.await.unwrap()["request_id"].as_str().unwrap().to_owned());
    }
    let reception = client.as_staff(NUZUL.reception).await.unwrap();
    let theirs = create_draft(&reception, &NUZUL, "1000000040", "سالم فهد", "0551231234", facts).await.unwrap();
    let theirs = theirs["request_id"].as_str().unwrap().to_owned();

    // The beneficiary: their own two, newest first, masked.
    let mine = beneficiary.get("/v1/requests", None).await.unwrap();
    assert_eq!(ids(&mine), [own[1].clone(), own[0].clone()], "{mine}");
    assert_eq!(mine["requests"][0]["national_id"], "1******032");
    assert!(mine["next_page_token"].is_null());
    assert!(mine["requests"][0]["documents"].as_array().unwrap().is_empty(), "lists leave documents out");

    // Reception, two at a time: every request once, newest first, across pages.
    let (seen, pages) = walk(&reception, "/v1/requests?status=draft", "requests", "request_id", 2).await;
    assert_eq!(pages, 2);
    assert_eq!(seen, [theirs.clone(), own[1].clone(), own[0].clone()]);
    let submitted = reception.get("/v1/requests?status=submitted", None).await.unwrap();
    assert!(ids(&submitted).is_empty(), "nothing submitted yet: {submitted}");

    // Bad input names its field; other scopes see nothing of these.
    for (query, field) in [("status=lost", "status"), ("page_token=not-a-token", "page_token")] {
        let (status, body) = reception.call(Method::GET, &format!("/v1/requests?{query}"), None, None).await.unwrap();
        assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some(field)), "{body}");
    }
    let hayat = client.get("/v1/requests", Some("hayat.reception")).await.unwrap();
    assert!(ids(&hayat).iter().all(|id| !seen.contains(id)), "{hayat}");
    let (status, _) = client.call(Method::GET, "/v1/requests", Some("nuzul.researcher1"), None).await.unwrap();
    assert_eq!(status, 403, "researchers work from their assignments");
    let (status, _) = client.call(Method::GET, "/v1/requests", None, None).await.unwrap();
    assert_eq!(status, 401);
}

/// The `id` of every row of a list, walking it `size` at a time; and how many pages it took.
async fn walk(client: &GatewayClient, path: &str, rows: &str, id: &str, size: u32) -> (Vec<String>, usize) {
    let (all, pages) = client.all_pages(path, rows, size, None).await.unwrap();
    (all.iter().map(|r| r[id].as_str().unwrap().to_owned()).collect(), pages)
}

async fn drive_queues(base: &str) {
    let client = GatewayClient::new(base);
    let reception = client.as_staff(NUZUL.reception).await.unwrap();
    let applicants = [("1000000107", "0551000107"), ("1000000123", "0551000123"), ("1000000131", "0551000131")];
    let mut filed = Vec::new();
    for (national_id, mobile) in applicants {
        let submitted = submit(&reception, &NUZUL, national_id, "مقدم طلب", mobile).await.unwrap();
        filed.push(submitted["request_id"].as_str().unwrap().to_owned());
    }
    for id in &filed {
        client.wait_until_pending(id, NUZUL.project_manager).await.unwrap();
    }
    // The project manager works the queue in the order it came in, two at a time.
    let manager = client.as_staff(NUZUL.project_manager).await.unwrap();
    let (pending, pages) = walk(&manager, "/v1/verification/pending", "requests", "request_id", 2).await;
    assert_eq!((pending, pages), (filed.clone(), 2));

    // Inquiries too, oldest first.
    let mut asked = Vec::new();
    for question in ["متى يبدأ الترميم؟", "هل تشمل الخدمة الكهرباء؟", "كم مدة الدراسة؟"]
    {
        let body = json!({ "association": "nuzul", "branch": "riyadh", "channel": "phone", "name": "سائل",
                           "question": question });
        asked.push(
            reception.post("/v1/inquiries", None, body).await.unwrap()["inquiry_id"].as_str().unwrap().to_owned(),
        );
    }
    let (open, pages) = walk(&reception, "/v1/inquiries?status=open", "inquiries", "inquiry_id", 2).await;
    assert_eq!((open, pages), (asked, 2));

    // Every list reads its page token the same way.
    let lists = [
        (NUZUL.project_manager, "/v1/verification/pending"),
        (NUZUL.reception, "/v1/inquiries"),
        (NUZUL.branch_manager, "/v1/research/assignments"),
        (NUZUL.reception, "/v1/beneficiaries/possible-duplicates"),
    ];
    for (staff, path) in lists {
        let (status, body) =
            client.call(Method::GET, &format!("{path}?page_token=bogus"), Some(staff), None).await.unwrap();
        assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("page_token")), "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_listed_a_page_at_a_time_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    drive_pages(&suite.gateway_url(), &|| logged_sms(&data_dir)).await;
    drive_queues(&suite.gateway_url()).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_listed_a_page_at_a_time_distributed() {
    let distributed = distributed_suite().await;
    let sms = distributed.sms.clone();
    drive_pages(&distributed.suite.gateway_url(), &move || sms.texts()).await;
    drive_queues(&distributed.suite.gateway_url()).await;
    distributed.stop().await;
}
