//! `masar bench`: measures Masar through its gateway as front ends use it,
//! in both shapes, each beside its limit in the same run. The embedded suite
//! (SQLite files, in-process queue) against the same writes straight on
//! SQLite through the same store; the distributed shape (a process per role
//! on PostgreSQL and Redis) against pgbench running a filing's writes and the
//! same stream hop straight on Redis. The report prints Masar's rate as a
//! share of each limit, each target as met or not, what bounds the rate
//! where it falls short, and writes every figure to `target/bench/latest.json`.
//! Goals are checked here, never by a timed test.

mod distributed;
mod hops;
pub mod limits;
mod scale;

use crate::demo::{
    GatewayClient, NUZUL, SAMPLE_PDF, attestation_version, create_draft, new_national_id, required_documents,
    submit_draft, upload_path,
};
use crate::processes::{cpu_seconds_of, memory_of};
use crate::{EmbeddedOptions, start_embedded};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use masar_platform::config::Settings;
use masar_platform::metrics::metrics;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct BenchOptions {
    /// How many requests to file.
    pub requests: usize,
    /// How many front ends call at once.
    pub concurrency: usize,
    /// Which shapes to measure.
    pub shapes: Vec<Shape>,
    /// Cases to seed for the reads at scale on PostgreSQL (SQLite gets a
    /// tenth); none, no measure at scale.
    pub scale: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Embedded,
    Distributed,
}

/// Latencies of one kind of call, fastest first.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut measured: Vec<Duration>) -> Self {
        measured.sort();
        Latencies(measured)
    }

    fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0.get(rank.saturating_sub(1)).copied().unwrap_or_default()
    }

    fn ms(&self, p: f64) -> f64 {
        self.percentile(p).as_secs_f64() * 1000.0
    }

    fn figures(&self) -> serde_json::Value {
        json!({ "p50_ms": self.ms(50.0), "p95_ms": self.ms(95.0), "p99_ms": self.ms(99.0), "calls": self.0.len() })
    }

    fn line(&self, what: &str) -> String {
        format!(
            "  {what:<44} p50 {:>7.1} ms   p95 {:>7.1} ms   p99 {:>7.1} ms",
            self.ms(50.0),
            self.ms(95.0),
            self.ms(99.0)
        )
    }
}

/// A target, and whether the run met it.
fn target(what: &str, met: bool) -> String {
    format!("  {what:<60} {}", if met { "met" } else { "NOT MET" })
}

/// Measures each shape asked for, then writes every figure in one file.
pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
    let concurrency = options.concurrency.max(1);
    let mut report = serde_json::Map::new();
    report.insert("requests".into(), json!(options.requests));
    report.insert("concurrency".into(), json!(concurrency));
    report.insert("cores".into(), json!(cores()));
    for shape in &options.shapes {
        let figures = match shape {
            Shape::Embedded => embedded(options.requests, concurrency).await?,
            Shape::Distributed => distributed::run(options.requests, concurrency).await?,
        };
        let name = match shape {
            Shape::Embedded => "embedded",
            Shape::Distributed => "distributed",
        };
        report.insert(name.into(), figures.report);
        println!();
    }
    if options.scale > 0 {
        report.insert("scale".into(), scale::run(options.scale, concurrency).await?);
        println!();
    }
    let folder = std::path::Path::new("target/bench");
    std::fs::create_dir_all(folder)?;
    std::fs::write(folder.join("latest.json"), serde_json::to_string_pretty(&report)?)?;
    println!("Every figure: target/bench/latest.json");
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One filing's calls.
#[derive(Default)]
struct Filing {
    /// The documents uploaded, as the pack asks for them.
    documents: Vec<String>,
    draft: Duration,
    uploads: Vec<Duration>,
    submit: Duration,
    whole: Duration,
}

impl Filing {
    fn calls(&self) -> Vec<Duration> {
        std::iter::once(self.draft).chain(self.uploads.iter().copied()).chain([self.submit]).collect()
    }
}

/// Files `requests` Nuzul requests through the gateway, `concurrency` at a
/// time, each as a front end makes it: a draft, every required document, the
/// submission. Each filing with its request id.
async fn file_requests(
    reception: &GatewayClient,
    attestation: &str,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<(Filing, String)>> {
    futures::stream::iter(0..requests)
        .map(|_| async {
            let mut filing = Filing::default();
            let begun = Instant::now();
            let draft =
                create_draft(reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567", NUZUL.facts_with(&[]))
                    .await?;
            filing.draft = begun.elapsed();
            let id = draft["request_id"].as_str().context("a request id")?.to_owned();
            for document in required_documents(&draft) {
                let path = upload_path(&id, &document, &format!("{document}.pdf"));
                let uploading = Instant::now();
                let (status, body) = reception.upload(&path, None, SAMPLE_PDF.to_vec()).await?;
                anyhow::ensure!(status == 201, "uploading {document} answered {status}: {body}");
                filing.uploads.push(uploading.elapsed());
                filing.documents.push(document);
            }
            let submitting = Instant::now();
            submit_draft(reception, &id, attestation).await?;
            filing.submit = submitting.elapsed();
            filing.whole = begun.elapsed();
            anyhow::Ok((filing, id))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

/// Waits until the project manager's queue holds `filed` requests; how long that took.
async fn until_in_verification(reception: &GatewayClient, filed: usize) -> anyhow::Result<Duration> {
    let handed_off = Instant::now();
    loop {
        let (pending, _) =
            reception.all_pages("/v1/verification/pending", "requests", 100, Some(NUZUL.project_manager)).await?;
        if pending.len() >= filed {
            return Ok(handed_off.elapsed());
        }
        anyhow::ensure!(handed_off.elapsed() < Duration::from_secs(120), "the hand-off to verification stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The filing figures both shapes report alike.
struct Figures {
    rate: f64,
    filing: Latencies,
    draft: Latencies,
    upload: Latencies,
    submit: Latencies,
    call: Latencies,
    /// Everything, for the JSON file.
    report: serde_json::Value,
}

impl Figures {
    fn of_filings(filed: &[(Filing, String)], wall: Duration) -> Self {
        let filing = Latencies::new(filed.iter().map(|(f, _)| f.whole).collect());
        let draft = Latencies::new(filed.iter().map(|(f, _)| f.draft).collect());
        let upload = Latencies::new(filed.iter().flat_map(|(f, _)| f.uploads.clone()).collect());
        let submit = Latencies::new(filed.iter().map(|(f, _)| f.submit).collect());
        let call = Latencies::new(filed.iter().flat_map(|(f, _)| f.calls()).collect());
        let rate = filed.len() as f64 / wall.as_secs_f64();
        let report = json!({
            "filing": filing.figures(),
            "draft": draft.figures(),
            "upload": upload.figures(),
            "submit": submit.figures(),
            "gateway_call": call.figures(),
            "filings_per_second": rate,
        });
        Figures { rate, filing, draft, upload, submit, call, report }
    }

    fn print(&self) {
        println!("{}", self.filing.line("filing (draft, every document, submit)"));
        println!("{}", self.draft.line("  draft"));
        println!("{}", self.upload.line("  document upload"));
        println!("{}", self.submit.line("  submit"));
        println!("{}", self.call.line("any gateway call of a filing"));
        println!("  {:<44} {:.1} filings/s", "filing throughput", self.rate);
    }
}

/// The embedded suite on a fresh data directory, driven and reported.
async fn embedded(requests: usize, concurrency: usize) -> anyhow::Result<Figures> {
    let data_dir = std::env::temp_dir().join(format!("masar-bench-{}", uuid::Uuid::new_v4().simple()));
    let settings = Settings::from_map(
        [
            ("MASAR_DATA_DIR", data_dir.to_str().context("a UTF-8 temp dir")?),
            // One front end makes every call here; the per-client limit is not what is measured.
            ("MASAR_RATE_LIMIT_PER_MINUTE", "100000000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    )?;
    let suite = start_embedded(EmbeddedOptions { settings, any_port: true }).await?;
    let result = drive_embedded(&suite, &data_dir, requests, concurrency).await;
    suite.stop().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

async fn drive_embedded(
    suite: &crate::Suite,
    data_dir: &std::path::Path,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Figures> {
    let gateway = suite.gateway_url();
    let reception = GatewayClient::new(&gateway).as_staff(NUZUL.reception).await?;
    println!(
        "Masar bench: the embedded suite (SQLite, in-process queue), {requests} requests, {concurrency} at a time"
    );

    let attestation = attestation_version(&reception, "nuzul").await?;
    let statements_before = metrics().db_statement_counts();
    let lanes_before = Lanes::now();
    let cpu_before = cpu_seconds_of("self");
    let started = Instant::now();
    let filed = file_requests(&reception, &attestation, requests, concurrency).await?;
    let wall = started.elapsed();
    let bound = Bound::measure(&lanes_before, cpu_before, wall);
    let cpu_per_filing =
        cpu_before.zip(cpu_seconds_of("self")).map(|(before, after)| (after - before) / filed.len() as f64);
    let figures = Figures::of_filings(&filed, wall);
    let hand_off = until_in_verification(&reception, filed.len()).await?;
    let hops = hops::embedded(data_dir, filed.len()).await?;
    // Every statement of the filings and of what they set off until verification held them all.
    let statements_per_filing: BTreeMap<String, f64> = metrics()
        .db_statement_counts()
        .into_iter()
        .map(|(operation, n)| {
            let before = statements_before.get(&operation).copied().unwrap_or_default();
            (operation, (n - before) as f64 / filed.len() as f64)
        })
        .collect();

    // Timeline reads through the gateway and straight at intake's port: what one gateway hop adds,
    // under the filing's load and with one front end alone.
    let token = reception.staff_token(NUZUL.reception).await?;
    let services = masar_gateway::Services::connect(&masar_platform::replicas::Endpoints::of(|role| suite.url(role)))?;
    let ids: Vec<&str> = filed.iter().map(|(_, id)| id.as_str()).collect();
    let (reads, direct) = timeline_reads(&reception, &services, &token, &ids, requests * 5, concurrency).await?;
    let (alone, alone_direct) = timeline_reads(&reception, &services, &token, &ids, requests, 1).await?;
    let hop = reads.ms(50.0) - direct.ms(50.0);
    let hop_alone = alone.ms(50.0) - alone_direct.ms(50.0);
    let memory = memory_of("self");
    let documents = filed.first().map(|(f, _)| f.documents.clone()).unwrap_or_default();
    let limit = limits::sqlite(requests, concurrency, &documents).await?;
    let rate = figures.rate;

    figures.print();
    println!("  {:<44} {limit:.1} filings/s", "limit: the same writes straight on SQLite");
    println!("  {:<44} {:.0} %", "Masar's rate as a share of the limit", 100.0 * rate / limit);
    if let Some(cpu) = cpu_per_filing {
        println!("  {:<44} {:.1} ms", "CPU per filing (whole suite)", cpu * 1000.0);
    }
    let statements: f64 = statements_per_filing.values().sum();
    let by_operation: Vec<String> = statements_per_filing.iter().map(|(op, n)| format!("{op} {n:.1}")).collect();
    println!("  {:<44} {statements:.0} ({})", "database statements per filing", by_operation.join(", "));
    println!("  {:<44} {:.2} s after the last submission", "hand-off of all to verification", hand_off.as_secs_f64());
    for (hop, latencies) in &hops {
        println!("{}", latencies.line(&format!("hop: {hop}")));
    }
    println!("{}", reads.line("timeline read"));
    println!("{}", direct.line("  the same, straight at intake's port"));
    println!("  {:<44} {hop:.2} ms at p50", "what the gateway hop adds");
    println!("{}", alone.line("timeline read, one front end alone"));
    println!("{}", alone_direct.line("  the same, straight at intake's port"));
    println!("  {:<44} {hop_alone:.2} ms at p50", "what the gateway hop adds, alone");
    if let Some((now, peak)) = memory {
        println!("  {:<44} {now:.0} MiB now, {peak:.0} MiB at peak", "resident memory (whole suite)");
    }
    let call = &figures.call;
    println!("Targets (embedded, {} cores; issue 14):", cores());
    println!("{}", target("≥ 300 complete filings/s", rate >= 300.0));
    println!(
        "{}",
        target("a filing's calls: p50 ≤ 10 ms, p99 ≤ 40 ms", call.ms(50.0) <= 10.0 && call.ms(99.0) <= 40.0)
    );
    println!("{}", target("one gateway→service hop adds ≤ 0.5 ms p50 (one front end)", hop_alone <= 0.5));
    println!("{}", target("one gateway→service hop adds ≤ 0.5 ms p50 (under the load)", hop <= 0.5));
    let to_verification = hops.iter().find(|(hop, _)| hop == hops::TO_VERIFICATION).map(|(_, l)| l.ms(99.0));
    println!("{}", target("submit → verification queue p99 ≤ 50 ms", to_verification.is_some_and(|ms| ms <= 50.0)));
    let peak = memory.map(|(_, peak)| peak);
    println!("{}", target("≤ 120 MiB for the whole embedded suite", peak.is_some_and(|p| p <= 120.0)));
    println!("What bounds the filing rate, measured while filing:");
    println!("{}", bound.lines());

    let mut report = figures.report.clone();
    let more = json!({
        "sqlite_limit_filings_per_second": limit,
        "share_of_limit": rate / limit,
        "cpu_ms_per_filing": cpu_per_filing.map(|c| c * 1000.0),
        "hand_off_seconds": hand_off.as_secs_f64(),
        "hops": hops.iter().map(|(hop, l)| (hop.clone(), l.figures())).collect::<serde_json::Map<_, _>>(),
        "db_statements_per_filing": statements_per_filing,
        "timeline_read": reads.figures(),
        "timeline_read_at_intake": direct.figures(),
        "gateway_hop_p50_ms": hop,
        "timeline_read_alone": alone.figures(),
        "timeline_read_alone_at_intake": alone_direct.figures(),
        "gateway_hop_alone_p50_ms": hop_alone,
        "rss_mib": memory.map(|(now, _)| now),
        "peak_rss_mib": peak,
        "bound": bound.figures(),
    });
    report.as_object_mut().context("an object")?.extend(more.as_object().cloned().unwrap_or_default());
    Ok(Figures { report, ..figures })
}

/// `count` timeline reads of `ids` in turn, `concurrency` at a time, through
/// the gateway as a front end makes them, then straight at intake's port
/// with the same token.
async fn timeline_reads(
    reception: &GatewayClient,
    services: &masar_gateway::Services,
    token: &str,
    ids: &[&str],
    count: usize,
    concurrency: usize,
) -> anyhow::Result<(Latencies, Latencies)> {
    let through_gateway = timed(ids, count, concurrency, |id| {
        let path = format!("/v1/requests/{id}/timeline");
        async move { reception.get(&path, None).await.map(drop) }
    })
    .await?;
    let direct = timed(ids, count, concurrency, |id| {
        let mut intake = services.intake.clone();
        let mut call = tonic::Request::new(masar_proto::intake::v1::GetTimelineRequest { request_id: id.to_string() });
        masar_platform::identity::attach_token(&mut call, token);
        async move { intake.get_timeline(call).await.map(drop).map_err(anyhow::Error::from) }
    })
    .await?;
    Ok((through_gateway, direct))
}

/// Times `count` calls made by `call`, on each of `items` in turn, `concurrency` at a time.
async fn timed<T, F, Fut>(items: &[T], count: usize, concurrency: usize, call: F) -> anyhow::Result<Latencies>
where
    F: Fn(&T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let took: Vec<Duration> = futures::stream::iter(items.iter().cycle().take(count))
        .map(|item| {
            let made = call(item);
            async move {
                let begun = Instant::now();
                made.await?;
                anyhow::Ok(begun.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    Ok(Latencies::new(took))
}

/// Seconds each SQLite file's writers held its lane, and spent committing, so far.
struct Lanes {
    writing: BTreeMap<String, f64>,
    committing: BTreeMap<String, f64>,
}

impl Lanes {
    fn now() -> Self {
        Lanes {
            writing: metrics().sqlite_writer_seconds("writing"),
            committing: metrics().sqlite_writer_seconds("committing"),
        }
    }
}

/// How close the filing came to each thing that can bound it: the cores,
/// and each SQLite file's one writer lane (the share of the time a writer
/// held it, and of that the share spent committing, the WAL's sync to disk).
struct Bound {
    /// CPU seconds per wall second over the cores there are (the bench's own front ends included).
    cpu_share: Option<f64>,
    /// Each database's writer lane (held, committing), busiest first.
    lanes: Vec<(String, f64, f64)>,
}

impl Bound {
    fn measure(before: &Lanes, cpu_before: Option<f64>, wall: Duration) -> Self {
        let wall = wall.as_secs_f64();
        let cpu_share =
            cpu_before.zip(cpu_seconds_of("self")).map(|(before, after)| (after - before) / wall / cores() as f64);
        let after = Lanes::now();
        let share = |now: &BTreeMap<String, f64>, then: &BTreeMap<String, f64>, database: &str| {
            (now.get(database).copied().unwrap_or_default() - then.get(database).copied().unwrap_or_default()) / wall
        };
        let mut lanes: Vec<(String, f64, f64)> = after
            .writing
            .keys()
            .map(|database| {
                let held = share(&after.writing, &before.writing, database);
                let committing = share(&after.committing, &before.committing, database);
                (database.clone(), held, committing)
            })
            .collect();
        lanes.sort_by(|a, b| b.1.total_cmp(&a.1));
        Bound { cpu_share, lanes }
    }

    fn lines(&self) -> String {
        let mut lines = Vec::new();
        if let Some(share) = self.cpu_share {
            lines.push(format!("  {:<44} {:.0} % of {} cores", "CPU (the whole process)", share * 100.0, cores()));
        }
        for (database, held, committing) in self.lanes.iter().take(3) {
            lines.push(format!(
                "  {:<44} {:.0} % of the time ({:.0} % committing)",
                format!("{database}'s SQLite writer lane held"),
                held * 100.0,
                committing * 100.0
            ));
        }
        let verdict = match (self.cpu_share, self.lanes.first()) {
            (Some(cpu), Some((database, held, _))) if *held >= cpu && *held >= 0.8 => {
                format!("{database}'s writes, one at a time (its writer lane)")
            }
            (Some(cpu), _) if cpu >= 0.8 => "CPU".to_owned(),
            _ => "neither saturated: time goes to waiting between them (hand-offs, fsync)".to_owned(),
        };
        lines.push(format!("  {:<44} {verdict}", "bound"));
        lines.join("\n")
    }

    fn figures(&self) -> serde_json::Value {
        let lanes: serde_json::Map<String, serde_json::Value> = self
            .lanes
            .iter()
            .map(|(database, held, committing)| {
                (database.clone(), json!({ "held_share": held, "committing_share": committing }))
            })
            .collect();
        json!({ "cpu_share": self.cpu_share, "cores": cores(), "writer_lanes": lanes })
    }
}
