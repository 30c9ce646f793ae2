//! `masar`: one binary for every role and shape. See `masar --help`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use masar::{EmbeddedOptions, PolicySource, start_embedded, stop_on_signal};
use masar_platform::CancellationToken;
use masar_platform::config::Settings;
use masar_platform::role::Role;
use masar_platform::telemetry;
use masar_platform::tokens::TokenSigner;
use secrecy::ExposeSecret;

#[derive(Parser)]
#[command(
    name = "masar",
    version,
    about = "Masar (مسار): the beneficiary journey platform for Saudi nonprofit associations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs everything in one process: SQLite files under MASAR_DATA_DIR (./data), the in-process queue.
    Dev,
    /// Runs one role against PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).
    Serve {
        /// intake | verification | research | committee | notification | gateway
        role: String,
    },
    /// Creates or upgrades the PostgreSQL schemas of every service (or one).
    Migrate {
        #[arg(long)]
        role: Option<String>,
    },
    /// Checks or applies an association's policy pack (one TOML file per version).
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Prints a new token signing key (identity's MASAR_TOKEN_SIGNING_KEY) and
    /// its verifying key (every role's MASAR_TOKEN_VERIFYING_KEYS).
    TokenKeys,
    /// Rotates the keys personal data at rest is sealed with (MASAR_DATA_KEYS), or shows how far re-sealing is.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Sets a staff member's password in identity's database (PostgreSQL if
    /// DATABASE_URL is set, else ./data), read from standard input. They must
    /// change it at their first sign-in.
    StaffPassword { association: String, username: String },
    /// Prints the gateway's OpenAPI 3.1 document (as served at /openapi.json), e.g. to generate a client.
    Openapi,
    /// Drives sample cases of both associations through the journey via the gateway.
    /// Reads the beneficiaries' SMS (their one-time passwords) from
    /// `$MASAR_DATA_DIR/sms.log`: run it with the same MASAR_DATA_DIR as `masar dev`.
    Demo {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
    },
    /// Lists, shows and replays the messages in Redis's dead-letter streams
    /// (REDIS_URL, MASAR_STREAM_PREFIX).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Checks every service's audit trail: each row must hold with the one
    /// before it in its chain. Names the first row changed, removed or
    /// inserted around the append-only trigger, and fails then.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// An operator's bad day on this machine: every role its own process (two notification
    /// replicas) on a PostgreSQL and a Redis of its own, filings through the gateway, and in
    /// turn kill -9 of every role, Redis restarted empty, Redis emptied, PostgreSQL restarted,
    /// SIGTERM of every role. Prints one line; fails unless nothing was lost, stuck or sent twice.
    Chaos {
        #[arg(long, default_value_t = 600)]
        requests: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Adds cases at scale to the configured databases (PostgreSQL with
    /// `DATABASE_URL`, else the embedded files): over both associations and
    /// 20 branches, in every stage, with their documents, timelines, audit
    /// chains and each stage's rows, to measure queries where they will run.
    Seed {
        #[arg(long, default_value_t = 100_000)]
        cases: usize,
    },
    /// Measures both shapes, each beside its limit: the embedded suite on a
    /// fresh temporary data directory, and the distributed shape (a process
    /// per role) on a fresh database of the PostgreSQL and a stream prefix of
    /// the Redis the tests use (`TEST_DATABASE_URL`, `TEST_REDIS_URL`):
    /// filing latency and throughput, the hand-offs, reads, CPU and memory
    /// (`make bench` runs it on a release build).
    Bench {
        #[arg(long, default_value_t = 200)]
        requests: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// `embedded`, `distributed`, `both` or `none` (only the reads at scale).
        #[arg(long, default_value = "both")]
        shape: String,
        /// Seed this many cases on PostgreSQL (a tenth on SQLite) and measure the staff's reads on them.
        #[arg(long, default_value_t = 0)]
        scale: usize,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// A new key of the next version: embedded, written to <data dir>/data.keys (restart to use it);
    /// distributed, the two MASAR_DATA_KEYS lists to deploy in turn.
    Rotate,
    /// Rows still sealed with an older key; a key may leave MASAR_DATA_KEYS once every count is 0.
    Status,
}

#[derive(Subcommand)]
enum AuditAction {
    /// Checks every chain of every service (PostgreSQL if DATABASE_URL is set, else ./data).
    Verify,
}

#[derive(Subcommand)]
enum DlqAction {
    /// One line per dead-lettered message: event type, entry id, event id, reason.
    List,
    /// What is known of one message (never its payload, which may hold personal data).
    Show { event_type: String, entry_id: String },
    /// Publishes one message again (or every one, with --all) and removes it from the dead-letter stream.
    Replay {
        event_type: Option<String>,
        entry_id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum PolicyAction {
    /// Reports every problem in the file with its location; exits non-zero if there is one.
    Validate { file: std::path::PathBuf },
    /// Stores the file as the association's next version (PostgreSQL if DATABASE_URL is set, else ./data).
    Apply { file: std::path::PathBuf },
}

fn role(name: &str) -> anyhow::Result<Role> {
    Role::parse(name).with_context(|| {
        let names: Vec<_> = Role::ALL.iter().map(|r| r.name()).collect();
        format!("unknown role '{name}' (one of: {})", names.join(", "))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    match cli.command {
        Command::Dev => {
            let _telemetry =
                telemetry::init("masar", settings.otlp_endpoint.as_deref(), settings.trace_filter.as_deref())?;
            let metrics = masar::start_metrics(&settings, "127.0.0.1", CancellationToken::new())?;
            let data_dir = settings.data_dir.clone();
            let suite = start_embedded(EmbeddedOptions { settings, any_port: false }).await?;
            let gateway = suite.gateway_url();
            println!("Masar is running (embedded: SQLite in {}, in-process queue).", data_dir.display());
            println!("  gateway   {gateway}   (REST/JSON)");
            for running in &suite.roles {
                if running.role != Role::Gateway {
                    println!("  {:<13} grpc://{}", running.role.name(), running.address);
                }
            }
            if let Some(addr) = metrics {
                println!("  metrics       http://{addr}/metrics");
            }
            println!("Try it from another terminal:");
            println!("  cargo run --quiet -- demo");
            println!(
                "  curl -s {gateway}/v1/sessions -H 'content-type: application/json' \\\n    -d '{{\"association\":\"nuzul\",\"username\":\"nuzul.pm\",\"password\":\"{}\"}}'",
                masar::DEMO_STAFF_PASSWORD
            );
            println!("  then: curl -s {gateway}/v1/verification/pending -H 'authorization: Bearer <access_token>'");
            println!(
                "Dev SMS messages are appended to {} (run the demo with the same MASAR_DATA_DIR). Ctrl-C stops.",
                data_dir.join("sms.log").display()
            );
            stop_on_signal(suite.shutdown.clone()).await;
            suite.stop().await
        }
        Command::Serve { role: name } => {
            let role = role(&name)?;
            let _telemetry = telemetry::init(
                &format!("masar-{role}"),
                settings.otlp_endpoint.as_deref(),
                settings.trace_filter.as_deref(),
            )?;
            masar::serve(role, settings).await
        }
        Command::Migrate { role: name } => {
            let _telemetry = telemetry::init("masar-migrate", None, None)?;
            let roles = match name {
                Some(name) => vec![role(&name)?],
                None => Role::SERVICES.to_vec(),
            };
            masar::migrate_distributed(&roles, &settings).await?;
            for role in roles {
                println!("{role}: migrated");
            }
            Ok(())
        }
        Command::Policy { action: PolicyAction::Validate { file } } => {
            let pack = match masar::parse_policy(&PolicySource::read(&file)?) {
                Ok(pack) => pack,
                Err(report) => {
                    // The report is the output here, not a crash: no backtrace, exit status 1.
                    eprintln!("{report}");
                    std::process::exit(1);
                }
            };
            println!(
                "{}: valid — {} version {}, in force from {}; approved at meeting {} of board term {} on {} AH ({})",
                file.display(),
                pack.association,
                pack.version,
                pack.effective_from,
                pack.approval.meeting,
                pack.approval.board_term,
                pack.approval.approved_on.hijri,
                pack.approval.approved_on.gregorian,
            );
            Ok(())
        }
        Command::Policy { action: PolicyAction::Apply { file } } => {
            let _telemetry = telemetry::init("masar-policy", None, None)?;
            let source = PolicySource::read(&file)?;
            let db = masar::role_database(Role::Intake, &settings).await?;
            match masar::apply_policy(&db, &source).await? {
                Some(applied) if applied.newly_stored => println!(
                    "{}: stored {} version {}, in force from {}",
                    file.display(),
                    applied.association,
                    applied.version,
                    applied.effective_from
                ),
                Some(applied) => {
                    println!(
                        "{}: {} version {} was already stored",
                        file.display(),
                        applied.association,
                        applied.version
                    )
                }
                None => {
                    anyhow::bail!("{}: a newer version of this association's policy is already stored", file.display())
                }
            }
            Ok(())
        }
        Command::TokenKeys => {
            let signing = masar_platform::hex::random_key();
            let verifying = TokenSigner::from_hex(&signing, settings.sessions.access_token_lifetime)?.verifying_key();
            println!("MASAR_TOKEN_SIGNING_KEY={}", signing.expose_secret());
            println!("MASAR_TOKEN_VERIFYING_KEYS={verifying}");
            Ok(())
        }
        Command::Keys { action: KeysAction::Rotate } => match masar::rotate_data_keys(&settings)? {
            masar::Rotation::Kept { version } => {
                println!(
                    "data.keys: version {version} now seals; restart masar dev, and re-sealing runs in the background"
                );
                Ok(())
            }
            masar::Rotation::First(list) => {
                eprintln!("No keys yet: give every intake, verification and notification replica this first list");
                println!("MASAR_DATA_KEYS={}", list.expose_secret());
                Ok(())
            }
            masar::Rotation::Deploy(next) => {
                eprintln!("Version {}. First give every intake, verification and notification replica", next.version);
                eprintln!("the list that only adds it (it opens, the old key still seals):");
                println!("MASAR_DATA_KEYS={}", next.readable.expose_secret());
                eprintln!("Once they all run it, deploy the list where it seals (re-sealing then runs by itself);");
                eprintln!("drop the old key when `masar keys status` counts 0 everywhere:");
                println!("MASAR_DATA_KEYS={}", next.current.expose_secret());
                Ok(())
            }
        },
        Command::Keys { action: KeysAction::Status } => {
            let _telemetry = telemetry::init("masar-keys", None, None)?;
            for (role, stale) in masar::rows_to_reseal(&settings).await? {
                println!("{role}: {stale} rows sealed with an older key");
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", masar_gateway::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::StaffPassword { association, username } => {
            let _telemetry = telemetry::init("masar-staff-password", None, None)?;
            let directory = masar::load_directory(&settings)?;
            if directory.staff(&username).is_none_or(|(a, _)| a.code != association) {
                anyhow::bail!("{username} is not staff of {association} in the directory");
            }
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            if let Some(problem) = masar_domain::people::new_password_problem(&password, "") {
                anyhow::bail!("{}", problem.message.en);
            }
            let db = masar::role_database(Role::Identity, &settings).await?;
            let store = masar::identity_store(&db, &settings)?;
            masar_identity::set_staff_password(&store, &association, &username, password.into(), true, "operator")
                .await
                .map_err(|status| anyhow::anyhow!("{}", status.message()))?;
            println!("{username}: password set; it must be changed at the first sign-in");
            Ok(())
        }
        Command::Chaos { requests, concurrency } => {
            let _telemetry = telemetry::init("masar-chaos", None, None)?;
            masar::chaos::run_chaos(masar::chaos::ChaosOptions { requests, concurrency }).await
        }
        Command::Dlq { action } => dead_letters(action, &settings).await,
        Command::Audit { action: AuditAction::Verify } => {
            let _telemetry = telemetry::init("masar-audit", None, None)?;
            let mut broken = false;
            for (role, check) in masar::verify_audit_chains(&settings).await? {
                match &check.broken {
                    None => println!(
                        "{role}: {} rows in {} chains hold{}",
                        check.rows,
                        check.chains,
                        if check.unchained > 0 {
                            format!(" ({} older rows unchained)", check.unchained)
                        } else {
                            String::new()
                        }
                    ),
                    Some(link) => {
                        broken = true;
                        println!("{role}: BROKEN at row {} of chain {}: {}", link.seq, link.chain, link.problem);
                    }
                }
            }
            if broken {
                anyhow::bail!("the audit trail was tampered with");
            }
            Ok(())
        }
        Command::Demo { gateway } => masar::demo::run(&gateway, &settings.data_dir.join("sms.log")).await,
        Command::Seed { cases } => masar::seed::run(&settings, masar::seed::SeedOptions { cases }).await,
        Command::Bench { requests, concurrency, shape, scale } => {
            use masar::bench::Shape;
            let shapes = match shape.as_str() {
                "embedded" => vec![Shape::Embedded],
                "distributed" => vec![Shape::Distributed],
                "both" => vec![Shape::Embedded, Shape::Distributed],
                "none" => Vec::new(),
                other => anyhow::bail!("--shape is embedded, distributed, both or none, not '{other}'"),
            };
            masar::bench::run(masar::bench::BenchOptions { requests, concurrency, shapes, scale }).await
        }
    }
}

async fn dead_letters(action: DlqAction, settings: &Settings) -> anyhow::Result<()> {
    let url = settings.redis_url().context("set REDIS_URL")?;
    let queue = masar_platform::queue::RedisQueue::connect(url.expose_secret(), &settings.stream_prefix).await?;
    let entries = queue.dead_letter_entries().await?;
    match action {
        DlqAction::List => {
            for dead in &entries {
                println!("{}\t{}\t{}\t{}", dead.event_type, dead.entry_id, dead.message.event_id, dead.reason);
            }
            eprintln!("{} dead-lettered message(s)", entries.len());
        }
        DlqAction::Show { event_type, entry_id } => {
            let dead = entries
                .iter()
                .find(|d| d.event_type == event_type && d.entry_id == entry_id)
                .with_context(|| format!("no dead-lettered {event_type} message {entry_id}"))?;
            println!("event type   {}", dead.event_type);
            println!("entry id     {}", dead.entry_id);
            println!("event id     {}", dead.message.event_id);
            println!("reason       {}", dead.reason);
            println!("payload      {} bytes", dead.message.payload.len());
            for (name, value) in &dead.message.headers {
                println!("header       {name}: {value}");
            }
        }
        DlqAction::Replay { all: true, .. } => {
            for dead in &entries {
                queue.replay_dead_letter(&dead.event_type, &dead.entry_id).await?;
            }
            println!("{} message(s) published again", entries.len());
        }
        DlqAction::Replay { event_type: Some(event_type), entry_id: Some(entry_id), .. } => {
            anyhow::ensure!(
                queue.replay_dead_letter(&event_type, &entry_id).await?,
                "no dead-lettered {event_type} message {entry_id}"
            );
            println!("{event_type} {entry_id}: published again");
        }
        DlqAction::Replay { .. } => anyhow::bail!("name the event type and entry id, or pass --all"),
    }
    Ok(())
}
