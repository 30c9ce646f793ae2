//! No call waits on the network for nothing. A reused connection whose
//! sockets leave Nagle's algorithm on meets the peer's delayed ACK: about
//! 40 ms per call on Linux, whatever the work. Every listener and client
//! sets `TCP_NODELAY`, so sequential calls through the gateway, each one
//! gateway → service hop on a kept-alive connection, take what the work
//! takes. A structural check (the median of 20 calls far below the stall),
//! not a benchmark: `make bench` measures.

use crate::support::{distributed_suite, embedded_suite};
use masar::demo::{GatewayClient, NUZUL};
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
