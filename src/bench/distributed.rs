//! The distributed shape under the bench's load: every role its own
//! `masar serve` process on the PostgreSQL and Redis `make test` starts (a
//! database and stream prefix of its own, dropped afterwards), and beside
//! it, in the same run, the limits: pgbench with a filing's writes, and the
//! same stream hop straight on Redis.

use super::{Figures, Latencies, file_requests, hops, until_in_verification};
use crate::demo::{NUZUL, attestation_version};
use crate::processes::{Deployment, create_database, deployment_env};
use anyhow::Context;
use masar_platform::role::Role;
use serde_json::json;
use std::time::{Duration, Instant};

/// The PostgreSQL and Redis the tests use, unless the environment names others.
pub(super) fn servers() -> (String, String) {
    let postgres =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    (postgres, redis)
}

/// `postgres://…/postgres` with another database.
pub(super) fn database_url(admin: &str, database: &str) -> String {
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => format!("{admin}/{database}"),
    }
}

pub(super) async fn run(requests: usize, concurrency: usize) -> anyhow::Result<Figures> {
    let (admin, redis) = servers();
    let name = format!("masar_bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir)?;
    create_database(&admin, &name).await.context("creating the bench's database (is PostgreSQL up? make services)")?;
    let result = measure(&admin, &redis, &name, &dir, requests, concurrency).await;
    let _ = drop_database(&admin, &name).await;
    let _ = drop_database(&admin, &format!("{name}_limit")).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

pub(super) async fn drop_database(admin: &str, database: &str) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)")))
        .execute(&mut connection)
        .await?;
    Ok(())
}

async fn measure(
    admin: &str,
    redis: &str,
    name: &str,
    dir: &std::path::Path,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Figures> {
    let database = database_url(admin, name);
    let mut env = deployment_env(&database, redis, dir)?;
    env.insert("MASAR_STREAM_PREFIX".into(), name.to_owned());
    env.insert("MASAR_RATE_LIMIT_PER_MINUTE".into(), "100000000".into());
    let mut deployment = Deployment::plan(env, dir, |_| 1)?;
    deployment.migrate_with_demo_passwords().await?;
    deployment.start_all().await?;
    let reception = deployment.signed_in(NUZUL.reception).await?;
    println!(
        "Masar bench: the distributed shape (a process per role, PostgreSQL, Redis), {requests} requests, {concurrency} at a time"
    );
    let attestation = attestation_version(&reception, "nuzul").await?;
    let cpu_before = deployment.cpu_seconds();
    let machine_before = crate::processes::machine_cpu();
    let started = Instant::now();
    let filed = file_requests(&reception, &attestation, requests, concurrency).await?;
    let wall = started.elapsed();
    let machine = machine_before.zip(crate::processes::machine_cpu()).map(|(before, after)| {
        let all = (after.2 - before.2).max(1) as f64;
        ((after.0 - before.0) as f64 / all, (after.1 - before.1) as f64 / all)
    });
    let cpu_filing = deployment.cpu_seconds();
    let hand_off = until_in_verification(&reception, filed.len()).await?;
    let cpu_after = deployment.cpu_seconds();
    let pool = sqlx::PgPool::connect(&database).await?;
    let hops = hops_across_schemas(&pool, filed.len()).await?;
    pool.close().await;
    let memory = deployment.peak_memory_mib();
    let cpu_per_filing = (cpu_after.values().sum::<f64>() - cpu_before.values().sum::<f64>()) / filed.len() as f64;
    // While filing only, by role: where the cores went.
    let mut cpu_by_role: Vec<(String, f64)> = cpu_filing
        .iter()
        .map(|(name, after)| {
            (name.clone(), (after - cpu_before.get(name).copied().unwrap_or_default()) / filed.len() as f64)
        })
        .collect();
    cpu_by_role.sort_by(|a, b| b.1.total_cmp(&a.1));
    for index in 0..deployment.replicas.len() {
        deployment.stop(index, "-TERM")?;
    }
    drop(deployment);

    let figures = Figures::of_filings(&filed, wall);
    let rate = figures.rate;
    let documents = filed.first().map(|(f, _)| f.documents.clone()).unwrap_or_default();
    let limit_database = format!("{name}_limit");
    create_database(admin, &limit_database).await?;
    let pgbench =
        super::limits::pgbench(&database_url(admin, &limit_database), requests, concurrency, &documents, dir).await?;
    let stream = super::limits::stream_hop(redis, &format!("{name}:limit"), requests * 4, concurrency).await?;

    figures.print();
    println!("  {:<44} {:.1} filings/s", "limit: pgbench, the same writes", pgbench);
    println!("  {:<44} {:.0} %", "Masar's rate as a share of the limit", 100.0 * rate / pgbench);
    println!("  {:<44} {:.1} ms", "CPU per filing (every role)", cpu_per_filing * 1000.0);
    println!("  {:<44} {:.2} s after the last submission", "hand-off of all to verification", hand_off.as_secs_f64());
    for (hop, latencies) in &hops {
        println!("{}", latencies.line(&format!("hop: {hop}")));
    }
    println!("{}", stream.latencies.line("limit: XADD → XREADGROUP → XACK on Redis"));
    println!("  {:<44} {:.0} entries/s", "  at most", stream.rate);
    for (role, mib) in &memory {
        println!("  {:<44} {mib:.0} MiB", format!("peak resident memory: {role}"));
    }
    let worst_hop = hops::worst_queue_hop_ms(&hops);
    let most_memory = memory.values().copied().fold(0.0, f64::max);
    println!("What bounds the filing rate, measured while filing:");
    if let Some((busy, iowait)) = machine {
        println!(
            "  {:<44} {:.0} % busy, {:.0} % waiting for I/O, of {} cores",
            "CPU (the whole machine: roles, PostgreSQL, Redis, the bench)",
            busy * 100.0,
            iowait * 100.0,
            super::cores()
        );
    }
    let by_role: Vec<String> = cpu_by_role.iter().map(|(role, s)| format!("{role} {:.1}", s * 1000.0)).collect();
    println!("  {:<44} {}", "CPU ms per filing, by role", by_role.join(", "));
    let verdict = match machine {
        Some((busy, _)) if busy >= 0.85 => "CPU: the machine's cores are all in use",
        Some((_, iowait)) if iowait >= 0.2 => "fsync: the cores wait for the disk",
        _ => "neither saturated: time goes to waiting between hops",
    };
    println!("  {:<44} {verdict}", "bound");
    println!("Targets (distributed, all roles on this machine; issue 14):");
    println!("{}", super::target("≥ 150 complete filings/s", rate >= 150.0));
    println!("{}", super::target("each queue hop p99 ≤ 20 ms", worst_hop <= 20.0));
    println!("{}", super::target("≥ 50 % of pgbench's rate for the same writes", rate >= 0.5 * pgbench));
    println!("{}", super::target("≤ 50 MiB resident memory per role", most_memory <= 50.0));

    let mut report = figures.report.clone();
    report["pgbench_limit_filings_per_second"] = json!(pgbench);
    report["share_of_limit"] = json!(rate / pgbench);
    report["cpu_ms_per_filing"] = json!(cpu_per_filing * 1000.0);
    report["hand_off_seconds"] = json!(hand_off.as_secs_f64());
    report["hops"] = hops.iter().map(|(hop, l)| (hop.clone(), l.figures())).collect::<serde_json::Map<_, _>>().into();
    report["stream_hop_limit"] = json!({ "hop": stream.latencies.figures(), "entries_per_second": stream.rate });
    report["peak_rss_mib"] = json!(memory);
    report["bound"] = json!({
        "machine_cpu_busy_share": machine.map(|m| m.0),
        "machine_cpu_iowait_share": machine.map(|m| m.1),
        "cpu_ms_per_filing_by_role": cpu_by_role.iter().map(|(r, s)| (r.clone(), json!(s * 1000.0))).collect::<serde_json::Map<_, _>>(),
    });
    Ok(Figures { report, ..figures })
}

/// Each hand-off of the filings, from the producer's outbox commit to the
/// consumer's inbox commit (the same event, joined across the two
/// services' schemas), and on to the SMS row's sending. Waits until every
/// filing's "received" SMS went.
async fn hops_across_schemas(pool: &sqlx::PgPool, filings: usize) -> anyhow::Result<Vec<(String, Latencies)>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let sent = format!(
        "SELECT COUNT(*) FROM {}.messages WHERE event_type = 'request.submitted' AND sent_at IS NOT NULL",
        Role::Notification.schema()
    );
    while sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sent.clone())).fetch_one(pool).await? < filings as i64 {
        anyhow::ensure!(Instant::now() < deadline, "the filings' SMS did not all go out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let intake = Role::Intake.schema();
    let mut measured = Vec::new();
    for (consumer, name) in [(Role::Verification, hops::TO_VERIFICATION), (Role::Notification, hops::TO_NOTIFICATION)] {
        let sql = format!(
            "SELECT EXTRACT(EPOCH FROM (i.processed_at - o.created_at))::float8 FROM {intake}.outbox o \
             JOIN {}.inbox i ON i.event_id = o.event_id WHERE o.event_type = 'request.submitted'",
            consumer.schema()
        );
        measured.push((name.to_owned(), seconds(pool, sql).await?));
    }
    let sql = format!(
        "SELECT EXTRACT(EPOCH FROM (m.created_at - o.created_at))::float8 FROM {intake}.outbox o \
         JOIN {}.messages m ON m.event_id = o.event_id WHERE o.event_type = 'request.submitted'",
        Role::Notification.schema()
    );
    measured.push((hops::SMS_WRITTEN.to_owned(), seconds(pool, sql).await?));
    let sql = format!(
        "SELECT EXTRACT(EPOCH FROM (m.sent_at - o.created_at))::float8 FROM {intake}.outbox o \
         JOIN {}.messages m ON m.event_id = o.event_id WHERE o.event_type = 'request.submitted'",
        Role::Notification.schema()
    );
    measured.push((hops::SMS_SENT.to_owned(), seconds(pool, sql).await?));
    Ok(measured)
}

async fn seconds(pool: &sqlx::PgPool, sql: String) -> anyhow::Result<Latencies> {
    let rows: Vec<f64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    Ok(Latencies::new(rows.into_iter().map(|s| Duration::from_secs_f64(s.max(0.0))).collect()))
}
