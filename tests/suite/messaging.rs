//! Hand-off guarantees on Redis Streams: a consumer killed mid-message
//! loses nothing, a redelivered event sends no second SMS, a poison message
//! is dead-lettered.

use crate::support::{SmsLog, TestDatabase, delete_streams, distributed_settings, redis_url, unique, wait_until};
use masar_platform::CancellationToken;
use masar_platform::db::Db;
use masar_platform::personal::PersonalData;
use masar_platform::queue::{Message, Queue, RedisQueue, Subscription};
use masar_platform::role::Role;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use prost::Message as _;
use std::collections::BTreeMap;
use std::time::Duration;

fn submitted(request_id: uuid::Uuid) -> Message {
    let event = events::RequestSubmitted {
        case: Some(events::CaseRef {
            request_id: request_id.to_string(),
            association: "nuzul".into(),
            branch: "riyadh".into(),
            service_type: "roof_repair".into(),
        }),
        actor: Some(events::Actor { role: "beneficiary".into(), username: String::new() }),
        submitted_at: Some(masar_proto::timestamp(chrono::Utc::now())),
        channel: "website".into(),
        applicant_name: "A B".into(),
        national_id_masked: "1******008".into(),
        mobile: "+966551234567".into(),
        preferred_language: "en".into(),
        expected_decision_on: "2026-12-07".into(),
        reference: "NZL-TEST22".into(),
        resubmission: false,
        policy_version: 1,
        facts_json: "{}".into(),
        months_since_same_service_approved: None,
        documents: Vec::new(),
    };
    Message {
        event_id: uuid::Uuid::now_v7(),
        event_type: event_type::REQUEST_SUBMITTED.into(),
        payload: event.encode_to_vec(),
        headers: BTreeMap::new(),
    }
}

/// Starts one role, as `masar serve` does, against its own database and the test's streams.
/// The role running, its database, its SMS log and its personal-data keys.
async fn start(
    role: Role,
    database: &TestDatabase,
    prefix: &str,
    shutdown: &CancellationToken,
) -> (Db, SmsLog, PersonalData) {
    let settings = distributed_settings(&database.url, &redis_url(), prefix, &[]);
    masar::migrate_distributed(&[role], &settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    masar::start_role(role, &masar::Shape::Distributed, &settings, listener, shutdown.clone()).await.unwrap();
    let db = masar::connect_database(role, &settings).await.unwrap();
    let personal = masar::personal_data(&settings, false).unwrap();
    (db, SmsLog { path: settings.sms.file.clone().unwrap() }, personal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_message_does_not_lose_the_case() {
    let database = TestDatabase::create().await;
    let prefix = unique("test");
    let queue = RedisQueue::connect(&redis_url(), &prefix).await.unwrap();
    let request_id = uuid::Uuid::new_v4();
    let group = Subscription {
        group: "verification".into(),
        consumer: "doomed-replica".into(),
        event_types: vec![event_type::REQUEST_SUBMITTED.into(), event_type::REQUEST_RESUBMITTED.into()],
    };
    queue.subscribe(&group).await.unwrap();
    queue.publish(&submitted(request_id)).await.unwrap();
    // A replica reads the message and dies before acknowledging it.
    let taken = queue.receive(&group, 10, Duration::from_millis(500)).await.unwrap();
    assert_eq!(taken.len(), 1);
    drop(taken);

    let shutdown = CancellationToken::new();
    let (db, _, _) = start(Role::Verification, &database, &prefix, &shutdown).await;
    // Verification judges by the policy version the event names, which it must know.
    let source = masar::BUILT_IN_POLICIES[0].1;
    let mut tx = db.begin().await.unwrap();
    let pack = masar_domain::PolicyPack::from_toml(source).unwrap();
    masar_platform::policies::PolicyBook::keep(&mut tx, &pack, source, chrono::Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    let store = masar_verification::VerificationStore::new(db);
    wait_until("the surviving replica to take over the case", || async {
        store
            .pending("nuzul", Some("riyadh"), &masar_platform::paging::PageRequest::default())
            .await
            .unwrap()
            .iter()
            .any(|c| c.request_id == request_id)
    })
    .await;
    shutdown.cancel();
    delete_streams(&redis_url(), &prefix).await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_sends_no_second_sms_and_poison_is_dead_lettered() {
    let database = TestDatabase::create().await;
    let prefix = unique("test");
    let queue = RedisQueue::connect(&redis_url(), &prefix).await.unwrap();
    let shutdown = CancellationToken::new();
    let (db, sms, personal) = start(Role::Notification, &database, &prefix, &shutdown).await;

    let first = submitted(uuid::Uuid::new_v4());
    queue.publish(&first).await.unwrap();
    wait_until("the first SMS", || async { sms.count() == 1 }).await;
    // The same event again (a producer retry or a replay), then another request.
    queue.publish(&first).await.unwrap();
    let poison = Message { payload: b"not protobuf".to_vec(), ..submitted(uuid::Uuid::new_v4()) };
    queue.publish(&poison).await.unwrap();
    let second = submitted(uuid::Uuid::new_v4());
    queue.publish(&second).await.unwrap();
    wait_until("the second request's SMS", || async { sms.count() >= 2 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sms.count(), 2, "the replayed event sent a second SMS");
    let request_id = uuid::Uuid::parse_str(
        &events::RequestSubmitted::decode(first.payload.as_slice()).unwrap().case.unwrap().request_id,
    )
    .unwrap();
    let stored = masar_notification::NotificationStore::new(db, personal).messages(request_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].body.contains("NZL-TEST22"), "English template: {}", stored[0].body);

    wait_until("the poison message in the dead-letter stream", || async {
        queue
            .dead_letters(event_type::REQUEST_SUBMITTED)
            .await
            .unwrap()
            .iter()
            .any(|(m, _)| m.event_id == poison.event_id)
    })
    .await;
    let dead = queue.dead_letters(event_type::REQUEST_SUBMITTED).await.unwrap();
    assert!(dead[0].1.contains("does not decode"), "{}", dead[0].1);
    shutdown.cancel();
    delete_streams(&redis_url(), &prefix).await;
    database.drop_database().await;
}

/// A handler that keeps failing is retried, then dead-lettered after N deliveries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_end_in_the_dead_letter_stream() {
    let database = TestDatabase::create().await;
    let prefix = unique("test");
    let queue = RedisQueue::connect(&redis_url(), &prefix).await.unwrap();
    let shutdown = CancellationToken::new();
    let (db, _, personal) = start(Role::Notification, &database, &prefix, &shutdown).await;
    // A verified event for a request notification never heard of: retryable, never succeeds.
    let orphan = events::RequestVerified {
        case: Some(events::CaseRef { request_id: uuid::Uuid::new_v4().to_string(), ..Default::default() }),
        ..Default::default()
    };
    let message = Message {
        event_id: uuid::Uuid::now_v7(),
        event_type: event_type::REQUEST_VERIFIED.into(),
        payload: orphan.encode_to_vec(),
        headers: BTreeMap::new(),
    };
    queue.publish(&message).await.unwrap();
    wait_until("the orphan to be dead-lettered", || async {
        !queue.dead_letters(event_type::REQUEST_VERIFIED).await.unwrap().is_empty()
    })
    .await;
    let dead = queue.dead_letters(event_type::REQUEST_VERIFIED).await.unwrap();
    assert!(dead[0].1.contains("gave up after 3 deliveries"), "{}", dead[0].1);

    // The operator mends the cause (the submission arrives) and replays it (`masar dlq replay`).
    let request_id = uuid::Uuid::parse_str(&orphan.case.unwrap().request_id).unwrap();
    queue.publish(&submitted(request_id)).await.unwrap();
    let listed = queue.dead_letter_entries().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].event_type.as_str(), listed[0].message.event_id),
        (event_type::REQUEST_VERIFIED, message.event_id)
    );
    assert!(queue.replay_dead_letter(event_type::REQUEST_VERIFIED, &listed[0].entry_id).await.unwrap());
    assert!(!queue.replay_dead_letter(event_type::REQUEST_VERIFIED, &listed[0].entry_id).await.unwrap(), "once");
    let store = masar_notification::NotificationStore::new(db, personal);
    wait_until("the replayed event's SMS", || async {
        store.messages(request_id).await.unwrap().iter().any(|m| m.event_type == event_type::REQUEST_VERIFIED)
    })
    .await;
    assert!(queue.dead_letter_entries().await.unwrap().is_empty());
    shutdown.cancel();
    delete_streams(&redis_url(), &prefix).await;
    database.drop_database().await;
}
