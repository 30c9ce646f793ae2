//! Metrics as Prometheus scrapes them: `/metrics` on its own port, with the
//! calls, hand-offs, SMS and sign-in failures of a case filed through the
//! gateway, in the distributed shape. Route labels are templates, never ids.

use crate::support::{distributed_suite, embedded_suite, wait_until};
use masar::demo::{GatewayClient, NUZUL, new_national_id, submit};

async fn scrape(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// The value of the one series of `name` whose labels include every `label`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} ")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_is_counted_and_no_label_names_a_case() {
    let distributed = distributed_suite().await;
    let settings = distributed.settings.with([("MASAR_METRICS_ADDR".to_owned(), "127.0.0.1:0".to_owned())]).unwrap();
    let addr = masar::start_metrics(&settings, "127.0.0.1", distributed.suite.shutdown.clone()).unwrap().unwrap();
    let url = format!("http://{addr}/metrics");

    let client = GatewayClient::new(&distributed.suite.gateway_url());
    let (status, _) = client
        .call(
            reqwest::Method::POST,
            "/v1/sessions",
            None,
            Some(serde_json::json!({"association": "nuzul", "username": NUZUL.reception, "password": "wrong-one"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
    let reception = client.as_staff(NUZUL.reception).await.unwrap();
    let submitted = submit(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await.unwrap();
    let request_id = submitted["request_id"].as_str().unwrap().to_owned();
    let texts = distributed.sms.clone();
    wait_until("the received SMS", || async { texts.count() >= 1 }).await;
    let sms_counted = || async {
        value(&scrape(&url).await, "masar_sms_total", &[r#"provider="file""#, r#"outcome="sent""#]).unwrap_or(0.0)
            >= 1.0
    };
    wait_until("the SMS counted", sms_counted).await;

    let text = scrape(&url).await;
    let at_least_one = |name: &str, labels: &[&str]| {
        let found = value(&text, name, labels);
        assert!(found.is_some_and(|v| v >= 1.0), "{name} {labels:?}: {found:?}\n{text}");
    };
    at_least_one(
        "masar_http_duration_seconds_count",
        &[r#"method="POST""#, r#"route="/v1/requests/{id}/submit""#, r#"status="200""#],
    );
    at_least_one(
        "masar_rpc_duration_seconds_count",
        &[r#"service="masar.intake.v1.IntakeService""#, r#"method="SubmitRequest""#, r#"code="0""#],
    );
    at_least_one("masar_events_published_total", &[r#"role="intake""#, r#"event_type="request.submitted""#]);
    at_least_one(
        "masar_events_processed_total",
        &[r#"group="verification""#, r#"event_type="request.submitted""#, r#"outcome="applied""#],
    );
    at_least_one("masar_sign_in_failures_total", &[]);
    // Each statement a round trip, counted by operation: the bench divides them by filings.
    at_least_one("masar_db_statements_total", &[r#"system="postgresql""#, r#"operation="INSERT""#]);
    at_least_one("masar_db_statements_total", &[r#"system="postgresql""#, r#"operation="COMMIT""#]);
    assert!(value(&text, "masar_outbox_backlog", &[r#"role="intake""#]).is_some(), "{text}");
    assert!(!text.contains(&request_id), "a case's id in a label");

    // Cases per stage, and one past the reply date it was promised (as if two weeks went by).
    let intake = masar::connect_database(masar_platform::role::Role::Intake, &distributed.settings).await.unwrap();
    let yesterday = masar_domain::calendar::saudi_day(chrono::Utc::now()) - chrono::Days::new(1);
    let moved = intake
        .execute(
            masar_platform::db::Sql::new("UPDATE service_requests SET expected_decision_on = $1 WHERE request_id = $2")
                .bind(yesterday)
                .bind(uuid::Uuid::parse_str(&request_id).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    wait_until("the late case counted", || async {
        let text = scrape(&url).await;
        let late = value(&text, "masar_cases_past_promised_reply", &[r#"association="nuzul""#]);
        let submitted = value(&text, "masar_cases", &[r#"association="nuzul""#, r#"status="submitted""#]);
        late == Some(1.0) && submitted.is_some_and(|n| n >= 1.0)
    })
    .await;
    assert!(!text.contains("551234567"), "personal data in the metrics");
    distributed.stop().await;
}

/// On SQLite, each file's writers take their turn in one lane: the time
/// spent waiting for it, holding it and committing is on `/metrics`, by
/// database (what `make bench` reads to say what bounds the filing rate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_and_statements_are_measured_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    let settings = masar_platform::config::Settings::from_map(
        [("MASAR_METRICS_ADDR".to_owned(), "127.0.0.1:0".to_owned())].into(),
    )
    .unwrap();
    let addr = masar::start_metrics(&settings, "127.0.0.1", suite.shutdown.clone()).unwrap().unwrap();
    let url = format!("http://{addr}/metrics");
    let writing = |text: &str| {
        value(text, "masar_sqlite_writer_seconds_total", &[r#"database="intake""#, r#"phase="writing""#]).unwrap_or(0.0)
    };
    let before = writing(&scrape(&url).await);
    let reception = GatewayClient::new(&suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    submit(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await.unwrap();
    let text = scrape(&url).await;
    assert!(writing(&text) > before, "intake's writes held its lane for no time:\n{text}");
    for phase in ["waiting", "committing"] {
        let labels = [r#"database="intake""#, &format!(r#"phase="{phase}""#)];
        assert!(value(&text, "masar_sqlite_writer_seconds_total", &labels).is_some(), "{phase}:\n{text}");
    }
    let inserts = value(&text, "masar_db_statements_total", &[r#"system="sqlite""#, r#"operation="INSERT""#]);
    assert!(inserts.is_some_and(|n| n >= 1.0), "{inserts:?}");
    suite.stop().await.unwrap();
}
