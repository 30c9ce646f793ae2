//! Personal data at rest: after a journey through both associations (online
//! and assisted registrations, requests with Hayat's health answers, an
//! inquiry answered by SMS), neither a `pg_dump` of the distributed shape's
//! database nor the embedded shape's SQLite files hold any national ID or
//! mobile number it used, in any of the forms they are written, nor the
//! applicants' answers; and a key rotation re-seals everything while the
//! suite keeps reading and matching.

use crate::support::{distributed_suite, embedded_suite_in, logged_sms, temp_dir, wait_until};
use masar::demo::{Cast, GatewayClient, HAYAT, NUZUL, new_national_id, sign_up, submit};
use serde_json::json;
use std::path::Path;

/// What the journey left behind, to look for.
struct Used {
    national_ids: Vec<String>,
    /// As typed (`05…`).
    mobiles: Vec<&'static str>,
}

impl Used {
    /// Every form a value may be written in: as typed, international, bare, and hex (as `pg_dump` writes bytea).
    fn needles(&self) -> Vec<String> {
        let mut needles: Vec<String> = self.national_ids.clone();
        for mobile in &self.mobiles {
            let bare = mobile.trim_start_matches('0');
            needles.extend([mobile.to_string(), format!("+966{bare}"), format!("966{bare}"), bare.to_owned()]);
        }
        // An applicant's answer about their insurance, as answers are written (a JSON key; the
        // policy names the fact too, but in TOML, never followed by a colon).
        needles.push("\"need.covered_by_insurance\":".into());
        // The street a researcher visits (Nuzul's form asks for the address).
        needles.push(NUZUL.address[2].into());
        let hex: Vec<String> = needles.iter().map(|n| masar_platform::hex::encode(n.as_bytes())).collect();
        needles.extend(hex);
        needles
    }

    fn found_in(&self, haystack: &[u8]) -> Vec<String> {
        self.needles().into_iter().filter(|n| haystack.windows(n.len()).any(|w| w == n.as_bytes())).collect()
    }
}

async fn journey(base: &GatewayClient, read_sms: &dyn Fn() -> Vec<String>) -> Used {
    let used = Used {
        national_ids: (0..4).map(|_| new_national_id()).collect(),
        // The fifth is a neighbour's, whom the researcher met at the visit.
        mobiles: vec!["0556100101", "0556100202", "0556100303", "0556100404", "0556100505"],
    };
    let (ids, mobiles) = (&used.national_ids, &used.mobiles);
    let person = |i: usize| json!({ "national_id": ids[i], "full_name": "نورة", "mobile": mobiles[i] });
    // Online, for themselves: one in each association.
    let nuzul = sign_up(base, "nuzul", person(0), read_sms).await.unwrap();
    let filed = submit(&nuzul, &NUZUL, &ids[0], "نورة", mobiles[0]).await.unwrap();
    let hayat = sign_up(base, "hayat", person(1), read_sms).await.unwrap();
    let hayat_online = Cast { channel: "website", ..HAYAT };
    submit(&hayat, &hayat_online, &ids[1], "نورة", mobiles[1]).await.unwrap();
    // Assisted: reception files for someone who called.
    let reception = base.as_staff(NUZUL.reception).await.unwrap();
    submit(&reception, &Cast { channel: "phone", ..NUZUL }, &ids[2], "هند", mobiles[2]).await.unwrap();
    // An inquiry with a number to answer to, answered by SMS.
    let question = json!({ "association": "nuzul", "branch": "riyadh", "channel": "phone", "name": "سعد",
                           "national_id": ids[3], "mobile": mobiles[3], "question": "متى تبدأ الزيارة؟" });
    let asked = reception.post("/v1/inquiries", None, question).await.unwrap();
    let path = format!("/v1/inquiries/{}/answer", asked["inquiry_id"].as_str().unwrap());
    reception.post(&path, None, json!({ "answer": "خلال أسبوع" })).await.unwrap();
    // Every hand-off done: verification judged the answers, notification sent the SMS.
    let request_id = filed["request_id"].as_str().unwrap();
    base.wait_until_pending(request_id, NUZUL.project_manager).await.unwrap();
    let answered = "+966556100404: ";
    wait_until("the inquiry's answer by SMS", || async { read_sms().iter().any(|t| t.starts_with(answered)) }).await;
    // The staff's views still read them: sealed is not lost.
    let seen = base.get(&format!("/v1/requests/{request_id}"), Some(NUZUL.project_manager)).await.unwrap();
    assert_eq!(seen["mobile"], "+9665******01", "{seen}");
    // The researcher visits and meets a neighbour, whose number research keeps, and reads back.
    base.verify(request_id, NUZUL.project_manager).await.unwrap();
    let researcher = base.wait_for_researcher(request_id, NUZUL.branch_manager).await.unwrap();
    let mut visit = masar::demo::visit_today("The roof leaks.");
    visit["people_met"][1]["contact"] = json!(mobiles[4]);
    base.post(&format!("/v1/requests/{request_id}/research/visits"), Some(&researcher), visit).await.unwrap();
    let file = base.get(&format!("/v1/requests/{request_id}/research/file"), Some(&researcher)).await.unwrap();
    assert_eq!(file["visits"][0]["people_met"][1]["contact"], mobiles[4], "{file}");
    used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_a_dump_of_the_distributed_database() {
    let distributed = distributed_suite().await;
    let base = GatewayClient::new(&distributed.suite.gateway_url());
    let sms = distributed.sms.clone();
    let used = journey(&base, &move || sms.texts()).await;
    let sent = distributed.sms.texts().join("\n");
    assert!(!used.found_in(sent.as_bytes()).is_empty(), "the search finds numbers where they are in clear");
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--data-only", &distributed.database.url])
        .output()
        .expect("pg_dump runs");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert!(dump.stdout.windows(5).any(|w| w == b"pd:1:"), "the dump holds the sealed values");
    assert_eq!(used.found_in(&dump.stdout), Vec::<String>::new(), "personal data in clear in the dump");
    distributed.stop().await;
}

/// Every SQLite file of the embedded suite, concatenated.
fn sqlite_files(data_dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(data_dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".db") {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_the_embedded_files_and_a_rotation_reseals_it_all() {
    let data_dir = temp_dir();
    let suite = embedded_suite_in(&data_dir, &[]).await;
    let base = GatewayClient::new(&suite.gateway_url());
    let used = journey(&base, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
    let sent = logged_sms(&data_dir).join("\n");
    assert!(!used.found_in(sent.as_bytes()).is_empty(), "the search finds numbers where they are in clear");
    let files = sqlite_files(&data_dir);
    assert!(files.windows(5).any(|w| w == b"pd:1:"));
    assert_eq!(used.found_in(&files), Vec::<String>::new(), "personal data in clear in the SQLite files");

    // A rotation: the next key seals from the restart on, and the old rows are re-sealed in the background.
    let settings = crate::support::settings_of([("MASAR_DATA_DIR", data_dir.to_str().unwrap())]);
    match masar::rotate_data_keys(&settings).unwrap() {
        masar::Rotation::Kept { version } => assert_eq!(version, 2),
        masar::Rotation::Deploy(_) | masar::Rotation::First(_) => {
            panic!("embedded keys are kept in the data directory")
        }
    }
    let suite = embedded_suite_in(&data_dir, &[]).await;
    let base = GatewayClient::new(&suite.gateway_url());
    wait_until("every row re-sealed with version 2", || async {
        masar::rows_to_reseal(&settings).await.unwrap().iter().all(|(_, stale)| *stale == 0)
    })
    .await;
    // Still read, and still matched: the registry finds the ID (the staff's details stand, not the new ones typed).
    let listed = base.get("/v1/requests", Some(NUZUL.project_manager)).await.unwrap();
    let rows = listed["requests"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(rows.iter().all(|r| r["national_id"].as_str().unwrap().contains("******")), "{listed}");
    let again = json!({ "association": "nuzul", "channel": "phone",
                        "applicant": { "national_id": used.national_ids[2], "full_name": "Hind", "mobile": used.mobiles[2] } });
    let (status, body) =
        base.call(reqwest::Method::POST, "/v1/accounts", Some(NUZUL.reception), Some(again)).await.unwrap();
    assert_eq!(status, 201, "the assisted registration finds her entry: {body}");
    let entry = body["beneficiary_id"].as_str().unwrap();
    let seen = base.get(&format!("/v1/beneficiaries/{entry}"), Some(NUZUL.reception)).await.unwrap();
    assert_eq!(seen["full_name"].as_str(), Some("هند"), "{seen}");
    // The registry learns of the account from identity's announcement, a hand-off later.
    wait_until("the entry to know of its account", || async {
        let seen = base.get(&format!("/v1/beneficiaries/{entry}"), Some(NUZUL.reception)).await.unwrap();
        seen["has_account"] == true
    })
    .await;
    suite.stop().await.unwrap();
    let files = sqlite_files(&data_dir);
    assert!(files.windows(5).any(|w| w == b"pd:2:"));
    assert_eq!(used.found_in(&files), Vec::<String>::new());
}
