//! `masar bench`: measures the embedded suite, the shape a small association
//! runs on one machine, through its gateway as a front end uses it: filing
//! requests (each kind of call), the hand-off to verification, reading
//! timelines, CPU and memory; and beside it, in the same run, the limit: the
//! same writes a filing makes, straight on SQLite through the same store
//! (no gateway, no gRPC). The report prints Masar's rate as a share of the
//! limit and each target as met or not, and writes every figure to
//! `target/bench/latest.json`. Goals are checked here, never by a timed test.

use crate::demo::{
    GatewayClient, NUZUL, SAMPLE_PDF, attestation_version, create_draft, new_national_id, required_documents,
    submit_draft, upload_path,
};
use crate::{EmbeddedOptions, start_embedded};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use masar_platform::config::Settings;
use serde_json::json;
use std::time::{Duration, Instant};

pub struct BenchOptions {
    /// How many requests to file.
    pub requests: usize,
    /// How many front ends call at once.
    pub concurrency: usize,
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
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "  {what:<44} p50 {:>7.1} ms   p95 {:>7.1} ms   p99 {:>7.1} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(95.0)),
            ms(self.percentile(99.0))
        )
    }
}

/// The process's resident memory now and at its peak, in MiB (Linux).
fn memory() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU seconds this process has used (user and system; Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// A target, and whether the run met it.
fn target(what: &str, met: bool) -> String {
    format!("  {what:<60} {}", if met { "met" } else { "NOT MET" })
}

/// Starts the embedded suite on a fresh data directory, drives it, prints the report.
pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
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
    let result = drive(&suite, &options).await;
    suite.stop().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

async fn drive(suite: &crate::Suite, options: &BenchOptions) -> anyhow::Result<()> {
    let gateway = suite.gateway_url();
    let reception = GatewayClient::new(&gateway).as_staff(NUZUL.reception).await?;
    let concurrency = options.concurrency.max(1);
    println!(
        "Masar bench: the embedded suite (SQLite, in-process queue), {} requests, {concurrency} at a time",
        options.requests
    );

    let attestation = attestation_version(&reception, "nuzul").await?;
    let statements_before = masar_platform::metrics::metrics().db_statement_counts();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    // Each filing as a front end makes it: a draft, every required document, the submission.
    let filed: Vec<(Filing, String)> = futures::stream::iter(0..options.requests)
        .map(|_| async {
            let mut filing = Filing::default();
            let begun = Instant::now();
            let draft =
                create_draft(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567", NUZUL.facts_with(&[]))
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
            submit_draft(&reception, &id, &attestation).await?;
            filing.submit = submitting.elapsed();
            filing.whole = begun.elapsed();
            anyhow::Ok((filing, id))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let filing_wall = started.elapsed();
    let cpu_per_filing = cpu_before.zip(cpu_seconds()).map(|(before, after)| (after - before) / filed.len() as f64);
    let filing = Latencies::new(filed.iter().map(|(f, _)| f.whole).collect());
    let drafts = Latencies::new(filed.iter().map(|(f, _)| f.draft).collect());
    let uploads = Latencies::new(filed.iter().flat_map(|(f, _)| f.uploads.clone()).collect());
    let submits = Latencies::new(filed.iter().map(|(f, _)| f.submit).collect());
    let calls: Vec<Duration> = filed.iter().flat_map(|(f, _)| f.calls()).collect();
    let calls = Latencies::new(calls);

    // The hand-off: until the project manager's queue holds every request filed.
    let handed_off = Instant::now();
    loop {
        let (pending, _) =
            reception.all_pages("/v1/verification/pending", "requests", 100, Some(NUZUL.project_manager)).await?;
        if pending.len() >= filed.len() {
            break;
        }
        anyhow::ensure!(handed_off.elapsed() < Duration::from_secs(120), "the hand-off to verification stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hand_off = handed_off.elapsed();
    // Every statement of the filings and of what they set off until verification held them all.
    let statements_per_filing: std::collections::BTreeMap<String, f64> = masar_platform::metrics::metrics()
        .db_statement_counts()
        .into_iter()
        .map(|(operation, n)| {
            let before = statements_before.get(&operation).copied().unwrap_or_default();
            (operation, (n - before) as f64 / filed.len() as f64)
        })
        .collect();

    let reads: Vec<Duration> = futures::stream::iter(filed.iter().cycle().take(options.requests * 5))
        .map(|(_, id)| {
            let path = format!("/v1/requests/{id}/timeline");
            let reception = &reception;
            async move {
                let begun = Instant::now();
                reception.get(&path, None).await?;
                anyhow::Ok(begun.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let reads = Latencies::new(reads);
    // The same reads straight at intake's port: what one gateway hop adds.
    let token = reception.staff_token(NUZUL.reception).await?;
    let services = masar_gateway::Services::connect(&masar_platform::replicas::Endpoints::of(|role| suite.url(role)))?;
    let direct: Vec<Duration> = futures::stream::iter(filed.iter().cycle().take(options.requests * 5))
        .map(|(_, id)| {
            let mut intake = services.intake.clone();
            let token = token.clone();
            async move {
                let mut call =
                    tonic::Request::new(masar_proto::intake::v1::GetTimelineRequest { request_id: id.clone() });
                masar_platform::identity::attach_token(&mut call, &token);
                let begun = Instant::now();
                intake.get_timeline(call).await?;
                anyhow::Ok(begun.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let direct = Latencies::new(direct);
    let hop = reads.ms(50.0) - direct.ms(50.0);
    let memory = memory();
    let rate = filed.len() as f64 / filing_wall.as_secs_f64();
    let documents = filed.first().map(|(f, _)| f.documents.clone()).unwrap_or_default();
    let limit = sqlite_limit(options.requests, concurrency, &documents).await?;

    println!("{}", filing.line("filing (draft, every document, submit)"));
    println!("{}", drafts.line("  draft"));
    println!("{}", uploads.line("  document upload"));
    println!("{}", submits.line("  submit"));
    println!("{}", calls.line("any gateway call of a filing"));
    println!("  {:<44} {rate:.1} filings/s", "filing throughput");
    println!("  {:<44} {limit:.1} filings/s", "limit: the same writes straight on SQLite");
    println!("  {:<44} {:.0} %", "Masar's rate as a share of the limit", 100.0 * rate / limit);
    if let Some(cpu) = cpu_per_filing {
        println!("  {:<44} {:.1} ms", "CPU per filing (whole suite)", cpu * 1000.0);
    }
    let statements: f64 = statements_per_filing.values().sum();
    let by_operation: Vec<String> = statements_per_filing.iter().map(|(op, n)| format!("{op} {n:.1}")).collect();
    println!("  {:<44} {statements:.0} ({})", "database statements per filing", by_operation.join(", "));
    println!("  {:<44} {:.2} s after the last submission", "hand-off of all to verification", hand_off.as_secs_f64());
    println!("{}", reads.line("timeline read"));
    println!("{}", direct.line("  the same, straight at intake's port"));
    println!("  {:<44} {hop:.2} ms at p50", "what the gateway hop adds");
    if let Some((now, peak)) = memory {
        println!("  {:<44} {now:.0} MiB now, {peak:.0} MiB at peak", "resident memory (whole suite)");
    }
    println!("Targets (embedded, 2 cores; issue 14):");
    println!("{}", target("≥ 300 complete filings/s", rate >= 300.0));
    println!(
        "{}",
        target("a filing's calls: p50 ≤ 10 ms, p99 ≤ 40 ms", calls.ms(50.0) <= 10.0 && calls.ms(99.0) <= 40.0)
    );
    println!("{}", target("one gateway→service hop adds ≤ 0.5 ms p50", hop <= 0.5));
    let peak = memory.map(|(_, peak)| peak);
    println!("{}", target("≤ 120 MiB for the whole embedded suite", peak.is_some_and(|p| p <= 120.0)));

    let report = json!({
        "shape": "embedded",
        "requests": options.requests,
        "concurrency": concurrency,
        "filing": filing.figures(),
        "draft": drafts.figures(),
        "upload": uploads.figures(),
        "submit": submits.figures(),
        "gateway_call": calls.figures(),
        "filings_per_second": rate,
        "sqlite_limit_filings_per_second": limit,
        "share_of_limit": rate / limit,
        "cpu_ms_per_filing": cpu_per_filing.map(|c| c * 1000.0),
        "hand_off_seconds": hand_off.as_secs_f64(),
        "db_statements_per_filing": statements_per_filing,
        "timeline_read": reads.figures(),
        "timeline_read_at_intake": direct.figures(),
        "gateway_hop_p50_ms": hop,
        "rss_mib": memory.map(|(now, _)| now),
        "peak_rss_mib": peak,
    });
    let folder = std::path::Path::new("target/bench");
    std::fs::create_dir_all(folder)?;
    std::fs::write(folder.join("latest.json"), serde_json::to_string_pretty(&report)?)?;
    println!("Every figure: target/bench/latest.json");
    Ok(())
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

/// The limit beside Masar's rate: the writes one filing makes (the request,
/// its documents, the audit rows, the submission and its outbox row) through
/// intake's own store on a fresh SQLite file, `concurrency` at a time, with
/// no gateway, no gRPC and no queue. Filings per second.
async fn sqlite_limit(filings: usize, concurrency: usize, documents: &[String]) -> anyhow::Result<f64> {
    use masar_domain::{ActorRole, Channel, Facts, Language, NationalId, SaudiMobile};
    use masar_platform::audit::{self, Actor, Subject, action};
    use masar_platform::messaging::Outbox;
    use masar_platform::role::Role;
    let data_dir = std::env::temp_dir().join(format!("masar-bench-limit-{}", uuid::Uuid::new_v4().simple()));
    let settings = Settings::from_map(
        [("MASAR_DATA_DIR".to_owned(), data_dir.to_str().context("a UTF-8 temp dir")?.to_owned())].into(),
    )?;
    let db = crate::role_database(Role::Intake, &settings).await?;
    let store = crate::intake_store(&db, &settings)?;
    let outbox = Outbox::new();
    let actor = Actor {
        username: NUZUL.reception.into(),
        role: ActorRole::ReceptionOfficer,
        channel: audit::Channel::Gateway,
        correlation_id: String::new(),
        trace_id: String::new(),
    };
    let started = Instant::now();
    futures::stream::iter(0..filings)
        .map(|_| async {
            let now = chrono::Utc::now();
            let request_id = uuid::Uuid::now_v7();
            let new = masar_intake::NewRequest {
                request_id,
                reference: format!("NZL-{}", request_id.simple()),
                association: "nuzul".into(),
                branch: "riyadh".into(),
                service_type: NUZUL.service_type.into(),
                channel: Channel::Phone,
                national_id: NationalId::parse(&new_national_id())?,
                applicant_name: "مقدم الطلب".into(),
                mobile: SaudiMobile::parse("0551234567")?,
                language: Language::Arabic,
                description: String::new(),
                submitted_at: now,
                expected_decision_on: now.date_naive(),
                policy_version: 1,
                facts: Facts::default(),
                beneficiary_id: None,
                filed_by_account: None,
                // Sealed like a filing's (the pack asks for it).
                address: Some(masar_domain::Address {
                    city: NUZUL.address[0].into(),
                    district: NUZUL.address[1].into(),
                    street: NUZUL.address[2].into(),
                    short_address: String::new(),
                    location: None,
                }),
            };
            let subject = Subject::case(request_id, "nuzul", "riyadh");
            let mut tx = db.begin().await?;
            store.insert_request(&mut tx, &new).await?;
            audit::record(&mut tx, &actor, subject, action::REQUEST_FILED, "draft").await?;
            tx.commit().await?;
            for document in documents {
                let upload = masar_intake::StoredDocument {
                    attachment_id: uuid::Uuid::now_v7(),
                    request_id,
                    document: document.clone(),
                    file_name: format!("{document}.pdf"),
                    content_type: "application/pdf".into(),
                    size_bytes: SAMPLE_PDF.len() as u64,
                    sha256: String::new(),
                    object_key: format!("nuzul/{request_id}/{document}"),
                    issued_on: None,
                    expires_on: None,
                    uploaded_by: NUZUL.reception.into(),
                    uploaded_at: now,
                };
                let mut tx = db.begin().await?;
                store.add_document(&mut tx, &upload).await?;
                audit::record(&mut tx, &actor, subject, action::DOCUMENT_UPLOADED, document).await?;
                tx.commit().await?;
            }
            let mut tx = db.begin().await?;
            let stored = store.request_in(&mut tx, request_id).await?.context("the request just stored")?;
            let attestation = masar_intake::Attestation { by: NUZUL.reception.into(), at: now, version: "v1".into() };
            store.mark_submitted(&mut tx, &stored, &attestation).await?;
            let submitted =
                masar_proto::events::v1::RequestSubmitted { case: Some(stored.case_ref()), ..Default::default() };
            outbox.append(&mut tx, &masar_proto::Event::RequestSubmitted(submitted)).await?;
            audit::record(&mut tx, &actor, subject, "request.submitted", "").await?;
            tx.commit().await?;
            anyhow::Ok(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let rate = filings as f64 / started.elapsed().as_secs_f64();
    db.close().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(rate)
}
