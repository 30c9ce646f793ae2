//! `masar bench`: measures the embedded suite, the shape a small association
//! runs on one machine, through its gateway as a front end uses it: filing
//! requests, the hand-off to verification, reading timelines, and the
//! process's memory. The numbers are printed, not asserted: goals are
//! checked here, never by a timed test.

use crate::demo::{GatewayClient, NUZUL, new_national_id, submit};
use crate::{EmbeddedOptions, start_embedded};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use masar_platform::config::Settings;
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
    let result = drive(&suite.gateway_url(), &options).await;
    suite.stop().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

async fn drive(gateway: &str, options: &BenchOptions) -> anyhow::Result<()> {
    let reception = GatewayClient::new(gateway).as_staff(NUZUL.reception).await?;
    let concurrency = options.concurrency.max(1);
    println!(
        "Masar bench: the embedded suite (SQLite, in-process queue), {} requests, {concurrency} at a time",
        options.requests
    );

    let started = Instant::now();
    let filed: Vec<(Duration, String)> = futures::stream::iter(0..options.requests)
        .map(|_| async {
            let begun = Instant::now();
            let reply = submit(&reception, &NUZUL, &new_national_id(), "مقدم الطلب", "0551234567").await?;
            let id = reply["request_id"].as_str().context("a request id")?.to_owned();
            anyhow::Ok((begun.elapsed(), id))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let filing_wall = started.elapsed();
    let filing = Latencies::new(filed.iter().map(|(d, _)| *d).collect());

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

    println!("{}", filing.line("filing (draft, every document, submit)"));
    println!("  {:<44} {:.1} requests/s", "filing throughput", filed.len() as f64 / filing_wall.as_secs_f64());
    println!("  {:<44} {:.2} s after the last submission", "hand-off of all to verification", hand_off.as_secs_f64());
    println!("{}", reads.line("timeline read"));
    if let Some((now, peak)) = memory() {
        println!("  {:<44} {now:.0} MiB now, {peak:.0} MiB at peak", "resident memory (whole suite)");
    }
    Ok(())
}
