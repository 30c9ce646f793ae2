//! `masar chaos`: an operator's bad day on this machine. The distributed
//! shape (every role its own `masar serve` process, two replicas of intake,
//! notification and verification) on a PostgreSQL and a Redis of its own, a bounded load of
//! filings through the gateway, and in turn: `kill -9` of every role and its
//! restart, Redis restarted without persistence, Redis emptied with a
//! backlog in its streams, PostgreSQL restarted, SIGTERM of every role and
//! its restart, as a rolling update does it (the next only once the last is
//! back and serving). No service is restarted beyond the one a fault is
//! about. Then it waits for the system to settle and prints one line.

use crate::demo::{GatewayClient, NUZUL, new_national_id, submit};
use crate::processes::{Deployment, Postgres, Redis, create_database, deployment_env, serving, sqlx_ping, wait_for};
use anyhow::bail;
use masar_platform::role::Role;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub struct ChaosOptions {
    pub requests: usize,
    pub concurrency: usize,
}

/// An OTLP/gRPC receiver of its own: which role (resource `service.name`)
/// recorded spans in which trace, and the trace of each case's submission.
#[derive(Default, Clone)]
struct Receiver {
    seen: Arc<std::sync::Mutex<ReceivedSpans>>,
}

#[derive(Default)]
struct ReceivedSpans {
    /// trace id → the roles with spans in it.
    roles_by_trace: BTreeMap<Vec<u8>, std::collections::BTreeSet<String>>,
    /// request id → the trace of its submission's action span.
    case_traces: BTreeMap<String, Vec<u8>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let text = |attributes: &[KeyValue], key: &str| {
            attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(text) => Some(text.clone()),
                _ => None,
            })
        };
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for resource_spans in request.into_inner().resource_spans {
            let attributes = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
            let role = text(&attributes, "service.name").unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                seen.roles_by_trace.entry(span.trace_id.clone()).or_default().insert(role.clone());
                if span.name == "request.submitted"
                    && let Some(request_id) = text(&span.attributes, "masar.request.id")
                {
                    seen.case_traces.entry(request_id).or_insert(span.trace_id);
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Receiver {
    /// Serves on a free port; its endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    async fn start(&self) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let service = TraceServiceServer::new(self.clone()).max_decoding_message_size(64 * 1024 * 1024);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Ok(endpoint)
    }

    /// The roles in the trace of each filed case that was exported whole enough to find.
    fn roles_per_case(&self, request_ids: &[String]) -> Vec<std::collections::BTreeSet<String>> {
        let seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        request_ids
            .iter()
            .filter_map(|id| seen.case_traces.get(id))
            .map(|trace| seen.roles_by_trace.get(trace).cloned().unwrap_or_default())
            .collect()
    }
}

/// The outcome, as the one line prints it.
#[derive(Debug, Default)]
struct Tally {
    /// Filings whose submission the gateway answered with success.
    acknowledged: usize,
    reached_verification: usize,
    /// Acknowledged and never in verification's queue.
    lost: usize,
    /// Acknowledged requests whose "received" SMS went more than once.
    duplicate_sms: usize,
    /// Acknowledged requests whose beneficiary never got the "received" SMS.
    stuck: usize,
    dead_lettered: usize,
    unclean_exits: usize,
    /// Filings that failed while a service replica stopped with SIGTERM (a rolling update).
    failed_while_rolling: usize,
    /// Cases whose trace was found at the receiver, and those whose trace holds every role of filing.
    traced: usize,
    traced_whole: usize,
}

pub async fn run_chaos(options: ChaosOptions) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("masar-chaos-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let result = chaos_in(&dir, &options).await;
    let _ = std::fs::remove_dir_all(&dir);
    let tally = result?;
    println!(
        "chaos: acknowledged {}, reached verification {}, lost {}, duplicate SMS {}, stuck {}, dead-lettered {}, unclean exits {}, filings failed during the services' SIGTERM {}, one trace across gateway, intake, verification and notification for {} of {} traced cases",
        tally.acknowledged,
        tally.reached_verification,
        tally.lost,
        tally.duplicate_sms,
        tally.stuck,
        tally.dead_lettered,
        tally.unclean_exits,
        tally.failed_while_rolling,
        tally.traced_whole,
        tally.traced,
    );
    if tally.lost + tally.duplicate_sms + tally.stuck + tally.unclean_exits + tally.failed_while_rolling > 0 {
        bail!("the system did not survive every fault");
    }
    // Spans of a process killed with -9 are lost with it, so not every case's trace is whole;
    // but the cases filed in quiet moments must be, one resource per role.
    if tally.traced_whole == 0 {
        bail!("no case's trace held the spans of every role that filed it");
    }
    Ok(())
}

async fn chaos_in(dir: &Path, options: &ChaosOptions) -> anyhow::Result<Tally> {
    let postgres = Postgres::start(dir)?;
    let mut redis = Redis::start()?;
    wait_for("PostgreSQL", || async { sqlx_ping(&postgres.url("postgres")).await }).await?;
    create_database(&postgres.url("postgres"), "masar").await?;
    let sms_file = dir.join("sms.log");
    let receiver = Receiver::default();
    let otlp = receiver.start().await?;
    let mut env = deployment_env(&postgres.url("masar"), &redis.url(), dir)?;
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("MASAR_OUTBOX_POLL_MS", "200"),
        ("MASAR_OUTBOX_SETTLE_MS", "1000"),
        ("MASAR_QUEUE_WAIT_MS", "500"),
        ("MASAR_RECLAIM_AFTER_MS", "3000"),
        ("MASAR_DRAIN_DELAY_MS", "300"),
        ("MASAR_RATE_LIMIT_PER_MINUTE", "100000"),
    ] {
        env.insert(name.to_owned(), value.to_owned());
    }
    // Two replicas of intake (whose calls the gateway balances), of identity, of notification
    // (the SMS) and of verification, as the production overlay runs them.
    let mut deployment = Deployment::plan(env, dir, |role| {
        if matches!(role, Role::Intake | Role::Identity | Role::Notification | Role::Verification) { 2 } else { 1 }
    })?;
    let settings = deployment.settings()?;
    deployment.migrate_with_demo_passwords().await?;
    deployment.start_all().await?;
    let gateway = deployment.gateway_url();
    let reception = deployment.signed_in(NUZUL.reception).await?;

    // The load: at most `requests` filings, paced to last as long as the faults, so that every
    // fault meets filings in flight. A filing that fails is simply not acknowledged.
    let pause_for = Duration::from_millis(1500);
    let faults = 2 * deployment.replicas.len() + 3;
    let concurrency = options.concurrency.max(1);
    let pace = pause_for * faults as u32 * concurrency as u32 / options.requests.max(1) as u32;
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let faults_over = Arc::new(AtomicBool::new(false));
    // While a service replica (not the gateway, which has no replica here) is stopped with SIGTERM.
    let rolling = Arc::new(AtomicBool::new(false));
    let failed_while_rolling = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(options.requests));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (reception, acknowledged, remaining, faults_over) =
            (reception.clone(), acknowledged.clone(), remaining.clone(), faults_over.clone());
        let (rolling, failed_while_rolling) = (rolling.clone(), failed_while_rolling.clone());
        load.spawn(async move {
            while !faults_over.load(Ordering::SeqCst)
                && remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
            {
                let during_rollout = rolling.load(Ordering::SeqCst);
                match submit(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await {
                    Ok(reply) => {
                        if let (Some(id), Some(reference)) = (reply["request_id"].as_str(), reply["reference"].as_str())
                        {
                            acknowledged.lock().await.push((id.to_owned(), reference.to_owned()));
                        }
                    }
                    // A filing wholly within the services' rolling update must not fail.
                    Err(error) if during_rollout && rolling.load(Ordering::SeqCst) => {
                        tracing::warn!(%error, "chaos: a filing failed during a service's SIGTERM");
                        failed_while_rolling.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(pace).await;
            }
        });
    }

    let mut unclean_exits = 0;
    let pause = || tokio::time::sleep(pause_for);
    for index in 0..deployment.replicas.len() {
        tracing::warn!(replica = %deployment.replicas[index].name, "chaos: kill -9 and restart");
        deployment.stop(index, "-KILL")?;
        deployment.start(index)?;
        pause().await;
    }
    tracing::warn!("chaos: Redis restarted without persistence");
    redis.restart()?;
    pause().await;
    tracing::warn!("chaos: Redis emptied with a backlog in its streams");
    redis.flush().await?;
    pause().await;
    tracing::warn!("chaos: PostgreSQL restarted");
    postgres.ctl(&["restart"])?;
    pause().await;
    for index in 0..deployment.replicas.len() {
        let replica = &deployment.replicas[index];
        tracing::warn!(replica = %replica.name, "chaos: SIGTERM and restart");
        rolling.store(replica.role != Role::Gateway, Ordering::SeqCst);
        if !deployment.stop(index, "-TERM")? {
            unclean_exits += 1;
        }
        deployment.start(index)?;
        // As a rolling update goes on: once the new replica serves, and the gateway has seen it.
        let address = format!("http://{}", deployment.replicas[index].addr);
        if deployment.replicas[index].role != Role::Gateway {
            wait_for("the restarted replica", || serving(&address)).await?;
        }
        pause().await;
        rolling.store(false, Ordering::SeqCst);
    }
    faults_over.store(true, Ordering::SeqCst);
    while load.join_next().await.is_some() {}

    // Settling: until every acknowledged request is in verification's queue and has its SMS, or time is up.
    let filed = acknowledged.lock().await.clone();
    let pm = GatewayClient::new(&gateway).as_staff(NUZUL.project_manager).await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut tally = Tally {
        acknowledged: filed.len(),
        unclean_exits,
        failed_while_rolling: failed_while_rolling.load(Ordering::SeqCst),
        ..Tally::default()
    };
    let mut settled_at: Option<Instant> = None;
    loop {
        let (pending, _) = pm.all_pages("/v1/verification/pending", "requests", 100, None).await?;
        let queued: std::collections::BTreeSet<&str> =
            pending.iter().filter_map(|r| r["request_id"].as_str()).collect();
        let texts = crate::demo::logged_sms(&sms_file);
        let sms_of = |reference: &str| texts.iter().filter(|t| t.contains(reference)).count();
        tally.reached_verification = filed.iter().filter(|(id, _)| queued.contains(id.as_str())).count();
        tally.lost = filed.len() - tally.reached_verification;
        tally.stuck = filed.iter().filter(|(_, reference)| sms_of(reference) == 0).count();
        tally.duplicate_sms = filed.iter().filter(|(_, reference)| sms_of(reference) > 1).count();
        if Instant::now() > deadline {
            break;
        }
        if tally.lost == 0 && tally.stuck == 0 {
            // Settled: a few more seconds for a late duplicate (a redelivery, the other replica) to show.
            settled_at.get_or_insert_with(Instant::now);
        }
        if settled_at.is_some_and(|at| at.elapsed() > Duration::from_secs(5)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let queue = masar_platform::queue::RedisQueue::connect(&redis.url(), &settings.stream_prefix).await?;
    tally.dead_lettered = queue.dead_letter_entries().await?.len();
    // A clean stop flushes every process's spans to the receiver.
    for index in 0..deployment.replicas.len() {
        deployment.stop(index, "-TERM")?;
    }
    let ids: Vec<String> = filed.iter().map(|(id, _)| id.clone()).collect();
    let filing_roles = ["masar-gateway", "masar-intake", "masar-notification", "masar-verification"];
    let traces = receiver.roles_per_case(&ids);
    tally.traced = traces.len();
    tally.traced_whole = traces.iter().filter(|roles| filing_roles.iter().all(|r| roles.contains(*r))).count();
    drop(deployment);
    Ok(tally)
}
