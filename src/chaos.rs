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
use anyhow::{Context, bail};
use masar_platform::role::Role;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub struct ChaosOptions {
    pub requests: usize,
    pub concurrency: usize,
}

/// A free port on loopback, for a process to listen on.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A command run as the `postgres` user when this process is root (PostgreSQL refuses root).
fn as_postgres(program: &Path) -> Command {
    // /proc/self belongs to the process's own user.
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("a /proc")) == 0;
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("{what}: cannot start"))?;
    if !output.status.success() {
        bail!("{what} failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
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

/// A PostgreSQL cluster of its own in a temporary folder.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Postgres {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL is not installed (make services installs it)")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("pg_ctl").exists())
            .context("no pg_ctl under /usr/lib/postgresql")?;
        let data = dir.join("pg");
        std::fs::create_dir_all(&data)?;
        let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status();
        run(
            as_postgres(&bin.join("initdb")).args(["-U", "postgres", "-A", "trust", "--no-sync", "-D"]).arg(&data),
            "initdb",
        )?;
        let postgres = Self { bin, data, port: free_port()? };
        postgres.ctl(&["start"])?;
        Ok(postgres)
    }

    fn ctl(&self, action: &[&str]) -> anyhow::Result<()> {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.data.display());
        let log = self.data.join("server.log");
        let mut command = as_postgres(&self.bin.join("pg_ctl"));
        command.arg("-D").arg(&self.data).args(["-w", "-m", "fast", "-o", &options, "-l"]).arg(log).args(action);
        run(command.stdout(Stdio::null()), "pg_ctl")
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .status();
    }
}

/// A Redis of its own, without persistence.
struct Redis {
    port: u16,
    process: Option<Child>,
}

impl Redis {
    fn start() -> anyhow::Result<Self> {
        let mut redis = Self { port: free_port()?, process: None };
        redis.restart()?;
        Ok(redis)
    }

    fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .context("redis-server is not installed (make services installs it)")?;
        self.process = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn flush(&self) -> anyhow::Result<()> {
        let mut connection = redis::Client::open(self.url())?.get_multiplexed_async_connection().await?;
        redis::cmd("FLUSHALL").query_async::<()>(&mut connection).await?;
        Ok(())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `masar serve <role>` process (one replica).
struct Replica {
    role: Role,
    name: String,
    addr: String,
    process: Option<Child>,
}

/// Every role's processes, with the environment they were started with.
struct Deployment {
    binary: PathBuf,
    env: BTreeMap<String, String>,
    log_dir: PathBuf,
    replicas: Vec<Replica>,
}

impl Deployment {
    fn spawn(&self, replica: &Replica) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("{}.log", replica.name)))?;
        Ok(Command::new(&self.binary)
            .args(["serve", replica.role.name()])
            .env_clear()
            .envs(&self.env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MASAR_LISTEN_ADDR", &replica.addr)
            .env("OTEL_SERVICE_NAME", format!("masar-{}", replica.role))
            .env("HOSTNAME", &replica.name)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?)
    }

    fn start(&mut self, index: usize) -> anyhow::Result<()> {
        let child = self.spawn(&self.replicas[index])?;
        self.replicas[index].process = Some(child);
        Ok(())
    }

    /// Stops one replica with `signal` and waits for it; true when it exited 0.
    fn stop(&mut self, index: usize, signal: &str) -> anyhow::Result<bool> {
        let Some(mut child) = self.replicas[index].process.take() else { return Ok(true) };
        run(Command::new("kill").args([signal, &child.id().to_string()]), "kill")?;
        Ok(child.wait()?.success())
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for replica in &mut self.replicas {
            if let Some(mut child) = replica.process.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
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
    {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&postgres.url("postgres")).await?;
        sqlx::query("CREATE DATABASE masar").execute(&mut admin).await?;
    }
    let signing = masar_platform::hex::random_key();
    let verifying = masar_platform::tokens::TokenSigner::from_hex(&signing, Duration::from_secs(900))?.verifying_key();
    let sms_file = dir.join("sms.log");
    let receiver = Receiver::default();
    let otlp = receiver.start().await?;
    let gateway_port = free_port()?;
    let mut env: BTreeMap<String, String> = [
        ("DATABASE_URL", postgres.url("masar")),
        ("REDIS_URL", redis.url()),
        ("MASAR_DATA_DIR", dir.join("data").display().to_string()),
        ("MASAR_SMS_FILE", sms_file.display().to_string()),
        ("MASAR_SEALING_KEY", secrecy::ExposeSecret::expose_secret(&masar_platform::hex::random_key()).to_owned()),
        ("MASAR_FORWARDING_KEY", secrecy::ExposeSecret::expose_secret(&masar_platform::hex::random_key()).to_owned()),
        ("MASAR_REGISTRY_KEY", secrecy::ExposeSecret::expose_secret(&masar_platform::hex::random_key()).to_owned()),
        (
            "MASAR_DATA_KEYS",
            secrecy::ExposeSecret::expose_secret(&masar_platform::personal::LocalKeys::generate()).to_owned(),
        ),
        ("MASAR_TOKEN_SIGNING_KEY", secrecy::ExposeSecret::expose_secret(&signing).to_owned()),
        ("MASAR_TOKEN_VERIFYING_KEYS", verifying),
        ("MASAR_METRICS_ADDR", "off".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp),
        ("MASAR_OUTBOX_POLL_MS", "200".into()),
        ("MASAR_OUTBOX_SETTLE_MS", "1000".into()),
        ("MASAR_QUEUE_WAIT_MS", "500".into()),
        ("MASAR_RECLAIM_AFTER_MS", "3000".into()),
        ("MASAR_DRAIN_DELAY_MS", "300".into()),
        ("MASAR_RATE_LIMIT_PER_MINUTE", "100000".into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut replicas = Vec::new();
    for role in Role::ALL {
        // Two replicas of intake (whose calls the gateway balances), of notification (the SMS)
        // and of verification, as the production overlay runs them.
        let copies =
            if matches!(role, Role::Intake | Role::Identity | Role::Notification | Role::Verification) { 2 } else { 1 };
        let mut endpoints = Vec::new();
        for copy in 0..copies {
            let port = if role == Role::Gateway { gateway_port } else { free_port()? };
            let addr = format!("127.0.0.1:{port}");
            endpoints.push(format!("http://{addr}"));
            replicas.push(Replica { role, name: format!("{role}-{copy}"), addr, process: None });
        }
        if role != Role::Gateway {
            env.insert(format!("{}ENDPOINT", role.env_prefix()), endpoints.join(","));
        }
    }
    let settings = masar_platform::config::Settings::from_map(env.clone().into_iter().collect())?;
    crate::migrate_distributed(&Role::SERVICES, &settings).await?;
    let identity = crate::connect_database(Role::Identity, &settings).await?;
    crate::seed_demo_passwords(&identity, &settings, &crate::load_directory(&settings)?).await?;
    identity.close().await;

    let binary = std::env::current_exe()?;
    let mut deployment = Deployment { binary, env, log_dir: dir.to_owned(), replicas };
    for index in 0..deployment.replicas.len() {
        deployment.start(index)?;
    }
    let gateway = format!("http://127.0.0.1:{gateway_port}");
    wait_for("the gateway", || async {
        reqwest::get(format!("{gateway}/healthz")).await.is_ok_and(|r| r.status().is_success())
    })
    .await?;
    let reception = loop {
        match GatewayClient::new(&gateway).as_staff(NUZUL.reception).await {
            Ok(client) => break client,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };

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

/// Whether the replica at `address` says it serves, as the gateway asks it.
async fn serving(address: &str) -> bool {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let Ok(channel) = tonic::transport::Endpoint::from_shared(address.to_owned()) else { return false };
    let Ok(channel) = channel.connect().await else { return false };
    let mut health = HealthClient::new(channel);
    let reply = health.check(HealthCheckRequest { service: String::new() }).await;
    reply.is_ok_and(|reply| reply.get_ref().status() == ServingStatus::Serving)
}

async fn sqlx_ping(url: &str) -> bool {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url).await.is_ok()
}

async fn wait_for<F, Fut>(what: &str, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready().await {
        if Instant::now() > deadline {
            bail!("{what} did not come up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
