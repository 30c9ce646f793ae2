//! The bench at scale: a fresh installation seeded with `masar seed`
//! (PostgreSQL with the cases asked for, the embedded SQLite files with a
//! tenth of them), started as `masar dev` and the distributed roles start,
//! then the reads staff make all day, through the gateway as a console
//! makes them: a page of each work queue, a branch's requests, a case's
//! timeline and audit trail, the satisfaction figures. Beside each, the
//! plan of every statement it ran (captured as the product ran it): an index
//! search, or a sequential scan, which a hot path must not need on a large table.

use crate::demo::{GatewayClient, NUZUL};
use crate::processes::{Deployment, create_database, deployment_env};
use anyhow::Context;
use masar_platform::config::Settings;
use masar_platform::db::{Backend, capture_reads, captured_reads};
use serde_json::json;

/// One kind of read, as the member of staff whose console makes it.
struct Read {
    what: &'static str,
    staff: &'static str,
    /// The path, given a case of the project manager's queue.
    path: fn(&str) -> String,
    /// A figure rather than a page: its target is 200 ms, not 20.
    figures: bool,
}

const READS: &[Read] = &[
    Read {
        what: "verification queue, a page of 20",
        staff: NUZUL.project_manager,
        path: |_| "/v1/verification/pending?page_size=20".into(),
        figures: false,
    },
    Read {
        what: "a researcher's assignments, a page",
        staff: "nuzul.researcher1",
        path: |_| "/v1/research/assignments?page_size=20".into(),
        figures: false,
    },
    Read {
        // The association's: its branches with nobody on the roster have cases waiting.
        what: "unassigned queue, a page",
        staff: "nuzul.admin",
        path: |_| "/v1/research/unassigned?page_size=20".into(),
        figures: false,
    },
    Read {
        what: "committee agenda, a page",
        staff: NUZUL.committee[0],
        path: |_| "/v1/committee/agenda?branch=riyadh&page_size=20".into(),
        figures: false,
    },
    Read {
        what: "a branch's requests, a page",
        staff: NUZUL.branch_manager,
        path: |_| "/v1/requests?page_size=20".into(),
        figures: false,
    },
    Read {
        what: "a case's timeline",
        staff: NUZUL.project_manager,
        path: |id| format!("/v1/requests/{id}/timeline"),
        figures: false,
    },
    Read {
        what: "a case's audit trail",
        staff: NUZUL.branch_manager,
        path: |id| format!("/v1/requests/{id}/audit"),
        figures: false,
    },
    Read {
        what: "satisfaction figures",
        staff: NUZUL.branch_manager,
        path: |_| "/v1/satisfaction".into(),
        figures: true,
    },
];

/// Both backends at scale: PostgreSQL with `cases`, SQLite with a tenth.
pub(super) async fn run(cases: usize, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    let sqlite = embedded(cases / 10, concurrency).await?;
    println!();
    let postgres = distributed(cases, concurrency).await?;
    Ok(json!({ "sqlite": sqlite, "postgresql": postgres }))
}

async fn embedded(cases: usize, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!("masar-bench-scale-{}", uuid::Uuid::new_v4().simple()));
    let settings = Settings::from_map(
        [
            ("MASAR_DATA_DIR".to_owned(), dir.to_str().context("a UTF-8 temp dir")?.to_owned()),
            ("MASAR_RATE_LIMIT_PER_MINUTE".to_owned(), "100000000".to_owned()),
        ]
        .into(),
    )?;
    crate::seed::run(&settings, crate::seed::SeedOptions { cases }).await?;
    let suite = crate::start_embedded(crate::EmbeddedOptions { settings, any_port: true }).await?;
    let result = measure(&suite.gateway_url(), &format!("SQLite, {cases} cases"), concurrency).await;
    suite.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn distributed(cases: usize, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    let (admin, redis) = super::distributed::servers();
    let name = format!("masar_scale_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir)?;
    create_database(&admin, &name).await?;
    let result = async {
        let mut env = deployment_env(&super::distributed::database_url(&admin, &name), &redis, &dir)?;
        env.insert("MASAR_STREAM_PREFIX".into(), name.clone());
        env.insert("MASAR_RATE_LIMIT_PER_MINUTE".into(), "100000000".into());
        // The roles' addresses and settings as the distributed bench starts them; here they run
        // in this process (as `masar serve` assembles each), so their statements can be captured.
        let deployment = Deployment::plan(env, &dir, |_| 1)?;
        deployment.migrate_with_demo_passwords().await?;
        let settings = deployment.settings()?;
        crate::seed::run(&settings, crate::seed::SeedOptions { cases }).await?;
        let mut listeners = Vec::new();
        for replica in &deployment.replicas {
            listeners.push((replica.role, crate::listen(replica.addr.parse()?)?));
        }
        let suite = crate::start_suite(&crate::Shape::Distributed, &settings, listeners).await?;
        let measured = measure(&deployment.gateway_url(), &format!("PostgreSQL, {cases} cases"), concurrency).await;
        suite.stop().await?;
        measured
    }
    .await;
    let _ = super::distributed::drop_database(&admin, &name).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Tables of fewer rows than this are read whole by any planner, rightly.
const LARGE_TABLE: i64 = 10_000;

/// The plan of a statement in one line (what it scans and how), and the
/// tables it reads whole.
fn plan_summary(backend: Backend, lines: &[String], statement: &str) -> (String, Vec<String>) {
    let scans: Vec<String> = lines
        .iter()
        .map(|line| line.trim().trim_start_matches("->").trim().to_owned())
        .filter(|line| match backend {
            Backend::Postgres => line.contains(" Scan") || line.starts_with("Scan"),
            Backend::Sqlite => line.starts_with("SCAN") || line.starts_with("SEARCH"),
        })
        .map(|line| line.split("  (cost").next().unwrap_or_default().to_owned())
        .collect();
    let whole: Vec<String> = scans
        .iter()
        .filter_map(|scan| match backend {
            Backend::Postgres => scan.split_once("Seq Scan on ").map(|(_, rest)| rest.split_whitespace().next()),
            // A SCAN through an index walks it in order; a bare SCAN reads the table.
            Backend::Sqlite => scan
                .strip_prefix("SCAN ")
                .filter(|rest| !rest.contains("USING"))
                .map(|rest| rest.split_whitespace().next()),
        })
        .flatten()
        .map(|name| table_of(name, statement))
        .collect();
    (scans.join("; "), whole)
}

/// The table an alias of `statement` names (`FROM agenda_items i`), or the name itself.
fn table_of(name: &str, statement: &str) -> String {
    let words: Vec<&str> = statement
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    for window in words.windows(3) {
        let aliased = window[2] == name && (window[1] != "AS" && !window[1].eq_ignore_ascii_case("on"));
        if matches!(window[0], "FROM" | "JOIN") && aliased {
            return window[1].to_owned();
        }
    }
    for window in words.windows(4) {
        if matches!(window[0], "FROM" | "JOIN") && window[2] == "AS" && window[3] == name {
            return window[1].to_owned();
        }
    }
    name.to_owned()
}

async fn measure(gateway: &str, installation: &str, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    println!(
        "Masar bench at scale: {installation}, seeded (masar seed); Nuzul's consoles (its Riyadh branch's, and its admin's)"
    );
    let client = GatewayClient::new(gateway);
    let pm = client.as_staff(NUZUL.project_manager).await?;
    let (queue, _) = pm.all_pages("/v1/verification/pending", "requests", 100, None).await?;
    let ids: Vec<String> = queue.iter().filter_map(|case| case["request_id"].as_str().map(str::to_owned)).collect();
    anyhow::ensure!(!ids.is_empty(), "the seeded verification queue is empty");
    let mut report = serde_json::Map::new();
    let mut slow = Vec::new();
    let mut sequential_on_hot_path = Vec::new();
    for read in READS {
        let staff = client.as_staff(read.staff).await?;
        // Once with its statements captured, for their plans; then timed.
        capture_reads(true);
        let first = staff.get(&(read.path)(&ids[0]), None).await;
        capture_reads(false);
        first.with_context(|| read.what)?;
        let mut plans = Vec::new();
        // What the hand-off machinery polled meanwhile (outbox, inbox, revoked sessions) is not this read's.
        let machinery = [" outbox", " inbox", " revoked_sessions"];
        for (db, sql) in captured_reads() {
            if machinery.iter().any(|table| sql.text().contains(&format!("FROM{table}"))) {
                continue;
            }
            let lines = db.plan(&sql).await?;
            let statement: String = sql.text().split_whitespace().collect::<Vec<_>>().join(" ");
            let (summary, whole) = plan_summary(db.backend(), &lines, &statement);
            let mut large = Vec::new();
            for table in whole {
                if db.table_rows(&table).await?.is_some_and(|rows| rows >= LARGE_TABLE) {
                    large.push(table);
                }
            }
            if !large.is_empty() && !read.figures && !sequential_on_hot_path.contains(&read.what) {
                sequential_on_hot_path.push(read.what);
            }
            plans.push(json!({
                "database": db.name(), "statement": statement, "plan": summary, "large_tables_read_whole": large,
            }));
        }
        // One console at a time (the read's own cost: the target), then `concurrency` at once
        // (what queueing for two cores adds).
        let calls = if read.figures { 20 } else { 200 };
        let time = |at_once| {
            super::timed(&ids, calls, at_once, |id| {
                let (staff, path) = (&staff, (read.path)(id));
                async move { staff.get(&path, None).await.map(drop) }
            })
        };
        let alone = time(1).await?;
        println!("{}", alone.line(&format!("{}, alone", read.what)));
        let loaded = time(concurrency).await?;
        println!("{}", loaded.line(&format!("{}, {concurrency} at once", read.what)));
        for plan in &plans {
            let whole = plan["large_tables_read_whole"].as_array().is_some_and(|t| !t.is_empty());
            let marker = if whole { "READS WHOLE" } else { "ok" };
            let database = plan["database"].as_str().unwrap_or_default();
            println!("      {marker:<11} {database}: {}", plan["plan"].as_str().unwrap_or_default());
        }
        let limit = if read.figures { 200.0 } else { 20.0 };
        if alone.ms(99.0) > limit {
            slow.push(read.what);
        }
        report.insert(
            read.what.to_owned(),
            json!({ "latency": alone.figures(), "latency_at_once": { concurrency.to_string(): loaded.figures() },
                    "statements": plans }),
        );
    }
    println!("Targets (at scale; issue 14):");
    println!("{}", super::target("a page and timeline p99 ≤ 20 ms, figures ≤ 200 ms (1 at once)", slow.is_empty()));
    if !slow.is_empty() {
        println!("    over: {}", slow.join(", "));
    }
    let no_scan = "no sequential scan of a large table on a hot path";
    println!("{}", super::target(no_scan, sequential_on_hot_path.is_empty()));
    if !sequential_on_hot_path.is_empty() {
        println!("    scanning: {}", sequential_on_hot_path.join(", "));
    }
    Ok(serde_json::Value::Object(report))
}
