//! No call waits on the network for nothing. A reused connection whose
//! sockets leave Nagle's algorithm on meets the peer's delayed ACK: about
//! 40 ms per call on Linux, whatever the work. Every listener and client
//! sets `TCP_NODELAY`, so sequential calls through the gateway, each one
//! gateway → service hop on a kept-alive connection, take what the work
//! takes. A structural check (the median of 20 calls far below the stall),
//! not a benchmark: `make bench` measures.

use crate::support::{
    distributed_suite, distributed_suite_on, embedded_suite, embedded_suite_with, redis_url, wait_until,
};
use masar::demo::{GatewayClient, NUZUL, new_national_id, submit};
use std::time::{Duration, Instant};

/// The median time of 20 sequential calls of each kind: the policy (a large
/// answer, written in parts), on a new connection each time as a command-line
/// client makes them and on one kept alive, and a signed-in list.
async fn median_of_sequential_calls(base: &GatewayClient) -> Duration {
    let pm = base.as_staff(NUZUL.project_manager).await.unwrap();
    let policy = format!("{}/v1/associations/nuzul/policy", base.base());
    let kept_alive = reqwest::Client::new();
    let mut took = Vec::new();
    for call in 0..60 {
        let started = Instant::now();
        match call % 3 {
            0 => {
                let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
                assert!(!fresh.get(&policy).send().await.unwrap().bytes().await.unwrap().is_empty());
            }
            1 => assert!(!kept_alive.get(&policy).send().await.unwrap().bytes().await.unwrap().is_empty()),
            _ => drop(pm.get("/v1/requests?page_size=5", None).await.unwrap()),
        }
        took.push(started.elapsed());
    }
    took.sort();
    took[took.len() / 2]
}

/// Below the ~40 ms a delayed ACK costs (two calls in three ride a kept-alive
/// connection, so with the stall the median is at least that), with room for
/// a debug build on two cores busy with the rest of the suite.
const NO_STALL: Duration = Duration::from_millis(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_calls_through_the_gateway_do_not_stall_embedded() {
    let (suite, _data_dir) = embedded_suite().await;
    let median = median_of_sequential_calls(&GatewayClient::new(&suite.gateway_url())).await;
    assert!(median < NO_STALL, "median {median:?}: a socket waits for a delayed ACK");
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_calls_through_the_gateway_do_not_stall_distributed() {
    let distributed = distributed_suite().await;
    let median = median_of_sequential_calls(&GatewayClient::new(&distributed.suite.gateway_url())).await;
    assert!(median < NO_STALL, "median {median:?}: a socket waits for a delayed ACK");
    distributed.stop().await;
}

/// Every polling round a minute apart: what a submission sets off is woken by
/// the work itself (the outbox relay by the commit, the consumers by the
/// stream, the SMS dispatcher by the message composed), never left for the
/// next round. The request reaches the project manager's queue, and the
/// beneficiary's phone its "received" SMS, in seconds.
const POLLING_EVERY_MINUTE: [(&str, &str); 1] = [("MASAR_OUTBOX_POLL_MS", "60000")];

async fn handed_off_without_waiting_for_a_poll(gateway: &str, sms: impl Fn() -> Vec<String>) {
    let reception = GatewayClient::new(gateway).as_staff(NUZUL.reception).await.unwrap();
    let filed = submit(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await.unwrap();
    let (id, reference) = (filed["request_id"].as_str().unwrap(), filed["reference"].as_str().unwrap());
    let submitted = Instant::now();
    reception.wait_until_pending(id, NUZUL.project_manager).await.unwrap();
    wait_until("the received SMS", || async { sms().iter().any(|text| text.contains(reference)) }).await;
    let took = submitted.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "{took:?} from submission to verification and SMS: a hand-off waited for a poll"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_are_woken_by_the_work_not_by_polling_embedded() {
    let (suite, data_dir) = embedded_suite_with(&POLLING_EVERY_MINUTE).await;
    handed_off_without_waiting_for_a_poll(&suite.gateway_url(), || crate::support::logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_are_woken_by_the_work_not_by_polling_distributed() {
    let distributed = distributed_suite_on(&redis_url(), &POLLING_EVERY_MINUTE).await;
    let sms = distributed.sms.clone();
    handed_off_without_waiting_for_a_poll(&distributed.suite.gateway_url(), move || sms.texts()).await;
    distributed.stop().await;
}
