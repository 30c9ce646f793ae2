//! An operator's bad day, in the distributed shape as `masar serve` runs it,
//! on a Redis of the test's own: Redis restarting empty, Redis emptied with a
//! backlog in its streams, two notification replicas. No service is
//! restarted by the test unless that restart is the fault itself; every
//! acknowledged request must reach verification with exactly one "received"
//! SMS, and no SMS may go twice.

use crate::support::{
    Distributed, RedisServer, distributed_suite_on, distributed_suite_with_replicas, redis_url, wait_until,
};
use masar::demo::{GatewayClient, NUZUL, new_national_id, submit};
use masar_platform::health::QUEUE_HEALTH;
use masar_platform::role::Role;
use std::collections::BTreeSet;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A request the gateway acknowledged.
struct Filed {
    request_id: String,
    reference: String,
}

/// Files `count` Nuzul requests through reception, as a front end does.
async fn file(reception: &GatewayClient, count: usize) -> Vec<Filed> {
    let mut filed = Vec::new();
    for _ in 0..count {
        let reply = submit(reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await.unwrap();
        let text = |field: &str| reply[field].as_str().unwrap_or_else(|| panic!("no {field}: {reply}")).to_owned();
        filed.push(Filed { request_id: text("request_id"), reference: text("reference") });
    }
    filed
}

/// Waits until every filed request is in the project manager's queue and its
/// beneficiary got exactly one SMS; fails on any SMS sent twice.
async fn every_case_reached_verification_once(distributed: &Distributed, reception: &GatewayClient, filed: &[Filed]) {
    let pm = NUZUL.project_manager;
    wait_until("every acknowledged request in the verification queue", || async {
        let (pending, _) = reception.all_pages("/v1/verification/pending", "requests", 100, Some(pm)).await.unwrap();
        let queued: BTreeSet<&str> = pending.iter().filter_map(|r| r["request_id"].as_str()).collect();
        filed.iter().all(|f| queued.contains(f.request_id.as_str()))
    })
    .await;
    wait_until("a received SMS for every request", || async {
        let texts = distributed.sms.texts();
        filed.iter().all(|f| texts.iter().any(|t| t.contains(f.reference.as_str())))
    })
    .await;
    // Give a duplicate the time to show (a redelivery, a second replica's send).
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let texts = distributed.sms.texts();
    for Filed { reference, .. } in filed {
        let sent = texts.iter().filter(|t| t.contains(reference.as_str())).count();
        assert_eq!(sent, 1, "{reference}: {sent} SMS");
    }
}

/// The queue's health as a service's readiness probe reads it.
async fn queue_health(distributed: &Distributed, role: Role) -> ServingStatus {
    let channel = tonic::transport::Endpoint::from_shared(distributed.suite.url(role)).unwrap().connect_lazy();
    let mut health = HealthClient::new(channel);
    let request = tonic_health::pb::HealthCheckRequest { service: QUEUE_HEALTH.into() };
    let status = health.check(request).await.unwrap().into_inner().status;
    ServingStatus::try_from(status).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_without_persistence_loses_nothing_and_needs_no_restart() {
    let mut redis = RedisServer::start().await;
    let distributed = distributed_suite_on(&redis.url(), &[]).await;
    let reception = GatewayClient::new(&distributed.suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let mut filed = file(&reception, 4).await;

    redis.kill();
    // Filing does not need Redis: the outbox keeps what intake acknowledges.
    filed.extend(file(&reception, 3).await);
    wait_until("readiness to report the queue down", || async {
        queue_health(&distributed, Role::Verification).await == ServingStatus::NotServing
    })
    .await;
    let down = r#"masar_queue_down{link="queue (verification consumer)"} 1"#;
    assert!(masar_platform::metrics::render().contains(down), "the outage shows in the metrics");
    // The gateway stays in rotation (only Idempotency-Key calls need Redis) and says it is degraded.
    let gateway_readiness = || async {
        let reply = reqwest::get(format!("{}/readyz", distributed.suite.gateway_url())).await.unwrap();
        (reply.status().as_u16(), reply.json::<serde_json::Value>().await.unwrap()["status"].clone())
    };
    assert_eq!(gateway_readiness().await, (200, serde_json::json!("degraded")));

    redis.restart().await;
    filed.extend(file(&reception, 3).await);
    every_case_reached_verification_once(&distributed, &reception, &filed).await;
    for role in [Role::Intake, Role::Verification, Role::Notification] {
        wait_until("readiness to report the queue back", || async {
            queue_health(&distributed, role).await == ServingStatus::Serving
        })
        .await;
    }
    let back = r#"masar_queue_down{link="queue (verification consumer)"} 0"#;
    assert!(masar_platform::metrics::render().contains(back));
    assert_eq!(gateway_readiness().await, (200, serde_json::json!("ready")));
    distributed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lost_with_redis_data_are_published_again_from_the_outbox() {
    let redis = RedisServer::start().await;
    let mut distributed = distributed_suite_on(&redis.url(), &[]).await;
    let reception = GatewayClient::new(&distributed.suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let mut filed = file(&reception, 2).await;
    every_case_reached_verification_once(&distributed, &reception, &filed).await;

    // The consumers stop; a backlog builds up in the streams; then Redis loses everything.
    let mut stopped = Vec::new();
    for role in [Role::Verification, Role::Notification] {
        stopped.push((role, distributed.stop_role(role).await));
    }
    let backlog = file(&reception, 4).await;
    wait_until("the backlog published to the streams", || async {
        crate::support::stream_length(&distributed.redis, &distributed.prefix, "request.submitted").await >= 6
    })
    .await;
    redis.flush().await;
    filed.extend(backlog);

    for (role, address) in stopped {
        distributed.restart_role(role, address).await;
    }
    every_case_reached_verification_once(&distributed, &reception, &filed).await;
    distributed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_notification_replicas_send_each_sms_once() {
    let redis = RedisServer::start().await;
    let mut distributed = distributed_suite_on(&redis.url(), &[]).await;
    let second = distributed.start_replica(Role::Notification).await;
    distributed.suite.roles.push(second);
    let reception = GatewayClient::new(&distributed.suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let filed = file(&reception, 8).await;
    every_case_reached_verification_once(&distributed, &reception, &filed).await;
    distributed.stop().await;
}

/// A rolling update's SIGTERM (the same cancellation `masar serve` does on
/// it): the role finishes what it took, acknowledges it and exits cleanly;
/// nothing is left pending for a replica to reclaim, and filing never fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_stopped_under_load_drains_and_leaves_nothing_pending() {
    let redis = RedisServer::start().await;
    let mut distributed = distributed_suite_on(&redis.url(), &[("MASAR_DRAIN_DELAY_MS", "200")]).await;
    let reception = GatewayClient::new(&distributed.suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let load = {
        let reception = reception.clone();
        tokio::spawn(async move {
            let mut filed = Vec::new();
            for _ in 0..4 {
                filed.extend(file(&reception, 3).await);
            }
            filed
        })
    };
    wait_until("the load under way", || async {
        crate::support::stream_length(&distributed.redis, &distributed.prefix, "request.submitted").await >= 2
    })
    .await;
    for role in [Role::Verification, Role::Notification] {
        let address = distributed.stop_role(role).await;
        let pending =
            crate::support::pending_count(&distributed.redis, &distributed.prefix, "request.submitted", role.name())
                .await;
        assert_eq!(pending, 0, "{role} left deliveries pending");
        distributed.restart_role(role, address).await;
    }
    let filed = load.await.expect("no filing failed");
    every_case_reached_verification_once(&distributed, &reception, &filed).await;
    // No redelivery storm: a drained replica leaves nothing for the others to take over.
    let reclaimed: f64 = masar_platform::metrics::render()
        .lines()
        .filter(|line| line.starts_with("masar_events_reclaimed_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(reclaimed, 0.0, "deliveries were reclaimed after a clean stop");
    distributed.stop().await;
}

/// A rolling update of a service under load: one of intake's two replicas
/// gets SIGTERM (and comes back at its address, as a new pod would). The
/// gateway stops sending it calls as soon as its health turns, it finishes
/// those it has, and not one call of the front ends fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_replica_stopped_under_load_fails_no_call() {
    let settings = [("MASAR_DRAIN_DELAY_MS", "1000")];
    let mut distributed = distributed_suite_with_replicas(&redis_url(), &settings, &[Role::Intake]).await;
    let reception = GatewayClient::new(&distributed.suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    let stop = masar_platform::CancellationToken::new();
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (reception, stop) = (reception.clone(), stop.clone());
        load.spawn(async move {
            let (mut filed, mut failed) = (Vec::new(), Vec::new());
            while !stop.is_cancelled() {
                match submit(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await {
                    Ok(reply) => filed.push(Filed {
                        request_id: reply["request_id"].as_str().unwrap().to_owned(),
                        reference: reply["reference"].as_str().unwrap().to_owned(),
                    }),
                    Err(error) => failed.push(error.to_string()),
                }
            }
            (filed, failed)
        });
    }
    let (redis, prefix) = (distributed.redis.clone(), distributed.prefix.clone());
    let submitted = || crate::support::stream_length(&redis, &prefix, "request.submitted");
    let at_least = |count: usize| async move {
        wait_until(&format!("{count} filings"), || async { submitted().await >= count }).await;
    };
    at_least(4).await;
    let address = distributed.stop_role(Role::Intake).await;
    // Filing goes on with one replica, then with both again.
    at_least(submitted().await + 4).await;
    distributed.restart_role(Role::Intake, address).await;
    at_least(submitted().await + 8).await;
    stop.cancel();
    let (mut filed, mut failed) = (Vec::new(), Vec::new());
    while let Some(outcome) = load.join_next().await {
        let (more_filed, more_failed) = outcome.unwrap();
        filed.extend(more_filed);
        failed.extend(more_failed);
    }
    assert_eq!(failed, Vec::<String>::new(), "calls failed while a replica stopped");
    every_case_reached_verification_once(&distributed, &reception, &filed).await;
    distributed.stop().await;
}

/// A crash between writing an uploaded file and committing its row leaves a
/// file nobody names: housekeeping removes it, and only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_no_document_names_are_swept_and_the_others_kept() {
    let (suite, data_dir) = crate::support::embedded_suite().await;
    let reception = GatewayClient::new(&suite.gateway_url()).as_staff(NUZUL.reception).await.unwrap();
    file(&reception, 1).await;
    let settings = masar_platform::config::Settings::from_map(
        [("MASAR_DATA_DIR".to_owned(), data_dir.display().to_string())].into_iter().collect(),
    )
    .unwrap();
    let objects = masar::file_store(&settings).unwrap();
    let personal = masar::personal_data(&settings, true).unwrap();
    let documents = masar_intake::attachments::DocumentStore::new(objects.clone(), personal);
    documents.put("nuzul", "nuzul/orphan/national_id/left-by-a-crash", b"%PDF-1.7").await.unwrap();
    let count = || async {
        use futures::TryStreamExt as _;
        objects.list(None).try_collect::<Vec<_>>().await.unwrap().len()
    };
    let before = count().await;
    assert!(before >= 2, "the request's documents and the orphan");
    let store = masar::intake_store(&masar::role_database(Role::Intake, &settings).await.unwrap(), &settings).unwrap();
    let young = documents.sweep_orphans(&store, std::time::Duration::from_secs(3600), 1000).await.unwrap();
    assert_eq!(young, 0, "a file younger than the grace period may be an upload in progress");
    let removed = documents.sweep_orphans(&store, std::time::Duration::ZERO, 1000).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(count().await, before - 1, "every named document stays");
    suite.stop().await.unwrap();
}
