//! Opening a case's documents, in both shapes: the staff whose step needs
//! them and the beneficiary download the very file uploaded, always as an
//! attachment that no browser renders as a page of the portal's origin;
//! every opening is in the case's audit trail; the stored file is sealed.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::{
    GatewayClient, NUZUL, SAMPLE_PDF, attestation_version, create_draft, new_national_id, sign_up, submit_draft,
    upload_required_documents,
};
use reqwest::Method;
use serde_json::json;

async fn drive_documents(base: &GatewayClient, read_sms: &dyn Fn() -> Vec<String>) {
    let id = new_national_id();
    let applicant = json!({ "national_id": id, "full_name": "مها", "mobile": "0556200101" });
    let beneficiary = sign_up(base, "nuzul", applicant, read_sms).await.unwrap();
    let draft = create_draft(&beneficiary, &NUZUL, &id, "مها", "0556200101", NUZUL.facts_with(&[])).await.unwrap();
    upload_required_documents(&beneficiary, &draft).await.unwrap();
    let request_id = draft["request_id"].as_str().unwrap().to_owned();
    let document = draft["required_documents"][0]["document"].as_str().unwrap().to_owned();
    // Replaced by a scan with an Arabic name: both files stay openable.
    let path = masar::demo::upload_path(&request_id, &document, "صك الملكية \"1\".pdf");
    let (status, replaced) = beneficiary.upload(&path, None, SAMPLE_PDF.to_vec()).await.unwrap();
    assert_eq!(status, 201, "{replaced}");
    submit_draft(&beneficiary, &request_id, &attestation_version(base, "nuzul").await.unwrap()).await.unwrap();

    let file = |who: Option<&'static str>, client: &GatewayClient, attachment: &str| {
        let path = format!("/v1/requests/{request_id}/attachments/{attachment}");
        let client = client.clone();
        async move {
            let mut call = reqwest::Client::new().get(format!("{}{path}", client.base()));
            let token = match who {
                Some(staff) => client.staff_token(staff).await.unwrap(),
                None => client.token().unwrap().to_owned(),
            };
            call = call.bearer_auth(token);
            call.send().await.unwrap()
        }
    };
    let attachment = replaced["attachment_id"].as_str().unwrap().to_owned();
    let response = file(Some(NUZUL.project_manager), base, &attachment).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.contains("filename*=UTF-8''"),
        "{disposition}"
    );
    assert_eq!(disposition.matches('"').count(), 2, "the plain name cannot close its quotes: {disposition}");
    assert!(disposition.contains("%D8%B5%D9%83"), "the Arabic name, percent-encoded: {disposition}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), SAMPLE_PDF, "the very file uploaded");
    // The replaced upload too, and the beneficiary's own.
    let listed = base.get(&format!("/v1/requests/{request_id}"), Some(NUZUL.project_manager)).await.unwrap();
    let current: Vec<_> = listed["documents"].as_array().unwrap().iter().map(|d| d["attachment_id"].clone()).collect();
    assert!(current.contains(&json!(attachment)), "{listed}");
    let by_beneficiary = file(None, &beneficiary, &attachment).await;
    assert_eq!(by_beneficiary.status(), 200);
    // Reception files requests but does not read the case file; another association's staff find nothing.
    assert_eq!(file(Some(NUZUL.reception), base, &attachment).await.status(), 403);
    assert_eq!(file(Some("hayat.admin"), base, &attachment).await.status(), 404);
    let unknown = file(Some(NUZUL.project_manager), base, &uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(unknown.status(), 404);
    // Every opening is in the trail: who, and which document.
    let trail = base.get(&format!("/v1/requests/{request_id}/audit"), Some(NUZUL.project_manager)).await.unwrap();
    let opened: Vec<_> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "document.opened")
        .map(|e| (e["actor"].as_str().unwrap().to_owned(), e["detail"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(opened.len(), 2, "{trail}");
    assert_eq!(opened[0], (NUZUL.project_manager.to_owned(), document.clone()));
    assert_eq!(opened[1].1, document);
    let (status, _) =
        base.call(Method::GET, &format!("/v1/requests/{request_id}/attachments/x"), None, None).await.unwrap();
    assert_eq!(status, 401, "signed in only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_open_for_those_whose_step_needs_them_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let base = GatewayClient::new(&suite.gateway_url());
    drive_documents(&base, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
    // The stored files are sealed: none holds the PDF uploaded.
    let mut stored = 0;
    let mut folders = vec![data_dir.join("files")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                folders.push(entry.path());
            } else {
                stored += 1;
                let bytes = std::fs::read(entry.path()).unwrap();
                assert!(bytes.starts_with(b"pd:1:") && !bytes.windows(5).any(|w| w == b"%PDF-"), "{entry:?}");
            }
        }
    }
    assert!(stored >= 3, "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_open_for_those_whose_step_needs_them_distributed() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    drive_documents(&base, &move || sms.texts()).await;
    distributed.stop().await;
}
