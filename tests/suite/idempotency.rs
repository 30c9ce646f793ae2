//! `Idempotency-Key`: a retried POST gets the first call's answer and acts
//! once, in both shapes (kept in memory embedded, in Redis distributed).

use crate::support::{distributed_suite, embedded_suite};
use masar::demo::{GatewayClient, NUZUL};
use serde_json::{Value, json};
use sqlx::Connection;

struct Answer {
    status: u16,
    replayed: bool,
    body: Value,
}

async fn post(base: &str, path: &str, token: Option<&str>, key: &str, body: &Value) -> Answer {
    let mut request = reqwest::Client::new().post(format!("{base}{path}")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if !key.is_empty() {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    Answer { status: response.status().as_u16(), replayed, body: response.json().await.unwrap_or_default() }
}

/// The requests reception's calls below create: the first keyed call, the
/// call with a new key, and the call without a key.
const CREATED: usize = 3;

/// Drives the retries; reception's calls create `CREATED` requests.
async fn drive_retries(base: &str) {
    let client = GatewayClient::new(base);
    let reception = client.staff_token(NUZUL.reception).await.unwrap();
    let draft = json!({ "association": "nuzul", "branch": "riyadh", "service_type": "roof_repair",
        "channel": "phone", "facts": NUZUL.facts_with(&[]), "address": NUZUL.address(),
        "applicant": { "national_id": "1000000008", "full_name": "محمد القحطاني", "mobile": "0551234567" } });

    // A retry with the same key: the same draft, not a second one.
    let key = uuid::Uuid::new_v4().to_string();
    let first = post(base, "/v1/requests", Some(&reception), &key, &draft).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.replayed);
    let retry = post(base, "/v1/requests", Some(&reception), &key, &draft).await;
    assert_eq!((retry.status, retry.replayed), (201, true));
    assert_eq!(retry.body, first.body, "the first answer, word for word");

    // The same key for another call is refused; a new key acts again.
    let mut other = draft.clone();
    other["description"] = json!("a different request");
    let misuse = post(base, "/v1/requests", Some(&reception), &key, &other).await;
    assert_eq!(misuse.status, 422, "{}", misuse.body);
    let second = post(base, "/v1/requests", Some(&reception), &uuid::Uuid::new_v4().to_string(), &draft).await;
    assert_eq!(second.status, 201);
    assert_ne!(second.body["request_id"], first.body["request_id"]);
    // Without a key nothing is replayed.
    let third = post(base, "/v1/requests", Some(&reception), "", &draft).await;
    assert_eq!(third.status, 201);
    assert!(!third.replayed);

    // Keys are their caller's: another caller using the same key gets no one else's answer.
    let anonymous = post(base, "/v1/requests", None, &key, &draft).await;
    assert_eq!((anonymous.status, anonymous.replayed), (401, false), "{}", anonymous.body);

    // Anonymous calls are kept too: an inquiry asked twice is one inquiry.
    let question = json!({ "association": "nuzul", "branch": "riyadh", "channel": "website",
        "name": "Salma", "mobile": "0553334455", "question": "When do visits start?" });
    let key = uuid::Uuid::new_v4().to_string();
    let asked = post(base, "/v1/inquiries", None, &key, &question).await;
    let again = post(base, "/v1/inquiries", None, &key, &question).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert!(again.replayed);
    assert_eq!(again.body["inquiry_id"], asked.body["inquiry_id"]);

    // Refusals are answered again as they were (the draft is not created on the retry either).
    let mut foreign = draft.clone();
    foreign["association"] = json!("hayat");
    let key = uuid::Uuid::new_v4().to_string();
    let refused = post(base, "/v1/requests", Some(&reception), &key, &foreign).await;
    let refused_again = post(base, "/v1/requests", Some(&reception), &key, &foreign).await;
    assert!((400..500).contains(&refused.status), "{}", refused.body);
    assert_eq!((refused_again.status, refused_again.replayed), (refused.status, true));
    assert_eq!(refused_again.body["message"], refused.body["message"]);

    // Sign-in replies hold tokens and are never kept: each sign-in is its own session.
    let credentials = json!({ "association": "nuzul", "username": "nuzul.pm", "password": masar::DEMO_STAFF_PASSWORD });
    let key = uuid::Uuid::new_v4().to_string();
    let one = post(base, "/v1/sessions", None, &key, &credentials).await;
    let two = post(base, "/v1/sessions", None, &key, &credentials).await;
    assert_eq!((one.status, two.status, two.replayed), (200, 200, false));
    assert_ne!(one.body["session"]["refresh_token"], two.body["session"]["refresh_token"]);

    // A key that is no key.
    let bad = post(base, "/v1/requests", Some(&reception), &"k".repeat(300), &draft).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_retried_call_acts_once_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    drive_retries(&suite.gateway_url()).await;
    suite.stop().await.unwrap();
}

#[tokio::test]
async fn a_retried_call_acts_once_distributed() {
    let distributed = distributed_suite().await;
    drive_retries(&distributed.suite.gateway_url()).await;
    let mut db = sqlx::PgConnection::connect(&distributed.database.url).await.unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM intake.service_requests").fetch_one(&mut db).await.unwrap();
    assert_eq!(stored as usize, CREATED, "two retried calls created nothing more");
    // The replies are kept in Redis, under hashed names only.
    let mut redis =
        redis::Client::open(crate::support::redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let kept: Vec<String> =
        redis::AsyncCommands::keys(&mut redis, format!("{}:idempotency:*", distributed.prefix)).await.unwrap();
    assert!(kept.len() >= 4, "{kept:?}");
    assert!(kept.iter().all(|k| k.len() == distributed.prefix.len() + ":idempotency:".len() + 64), "{kept:?}");
    distributed.stop().await;
}
