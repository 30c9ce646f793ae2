//! The distributed shape as processes on this machine: every role its own
//! `masar serve` process (as many replicas as asked), with the keys it needs
//! generated for the run, and the PostgreSQL and Redis of its own that
//! `masar chaos` restarts. `masar chaos` and `masar bench` start it alike.

use anyhow::{Context, bail};
use masar_platform::role::Role;
use secrecy::ExposeSecret as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on loopback, for a process to listen on.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A command run as the `postgres` user when this process is root (PostgreSQL refuses root).
pub fn as_postgres(program: &Path) -> Command {
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

/// Runs `command` to its end; its output is the error when it fails.
pub fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("{what}: cannot start"))?;
    if !output.status.success() {
        bail!("{what} failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// The folder of PostgreSQL's programs (`pg_ctl`, `pgbench`, …).
pub fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (make services installs it)")?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop().context("no pg_ctl under /usr/lib/postgresql")
}

/// A PostgreSQL cluster of its own in a temporary folder.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Postgres {
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = postgres_bin()?;
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

    pub fn ctl(&self, action: &[&str]) -> anyhow::Result<()> {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.data.display());
        let log = self.data.join("server.log");
        let mut command = as_postgres(&self.bin.join("pg_ctl"));
        command.arg("-D").arg(&self.data).args(["-w", "-m", "fast", "-o", &options, "-l"]).arg(log).args(action);
        run(command.stdout(Stdio::null()), "pg_ctl")
    }

    pub fn url(&self, database: &str) -> String {
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
pub struct Redis {
    port: u16,
    process: Option<Child>,
}

impl Redis {
    pub fn start() -> anyhow::Result<Self> {
        let mut redis = Self { port: free_port()?, process: None };
        redis.restart()?;
        Ok(redis)
    }

    pub fn restart(&mut self) -> anyhow::Result<()> {
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

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn flush(&self) -> anyhow::Result<()> {
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

/// Creates `database` on the PostgreSQL at `admin_url` (a URL of its `postgres` database).
pub async fn create_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{database}\""))).execute(&mut admin).await?;
    Ok(())
}

/// The environment every role of one deployment starts with: its database
/// and queue, a data folder and SMS file under `dir`, and keys generated for
/// this run (sealing, forwarding, registry, personal data, tokens).
pub fn deployment_env(database_url: &str, redis_url: &str, dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let random = || masar_platform::hex::random_key().expose_secret().to_owned();
    let signing = masar_platform::hex::random_key();
    let verifying = masar_platform::tokens::TokenSigner::from_hex(&signing, Duration::from_secs(900))?.verifying_key();
    Ok([
        ("DATABASE_URL", database_url.to_owned()),
        ("REDIS_URL", redis_url.to_owned()),
        ("MASAR_DATA_DIR", dir.join("data").display().to_string()),
        ("MASAR_SMS_FILE", dir.join("sms.log").display().to_string()),
        ("MASAR_SEALING_KEY", random()),
        ("MASAR_FORWARDING_KEY", random()),
        ("MASAR_REGISTRY_KEY", random()),
        ("MASAR_DATA_KEYS", masar_platform::personal::LocalKeys::generate().expose_secret().to_owned()),
        ("MASAR_TOKEN_SIGNING_KEY", signing.expose_secret().to_owned()),
        ("MASAR_TOKEN_VERIFYING_KEYS", verifying),
        ("MASAR_METRICS_ADDR", "off".into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}

/// One `masar serve <role>` process (one replica).
pub struct Replica {
    pub role: Role,
    pub name: String,
    pub addr: String,
    process: Option<Child>,
}

impl Replica {
    /// The process's id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::id)
    }
}

/// Every role's processes, with the environment they were started with.
pub struct Deployment {
    binary: PathBuf,
    pub env: BTreeMap<String, String>,
    log_dir: PathBuf,
    pub replicas: Vec<Replica>,
    gateway_port: u16,
}

impl Deployment {
    /// Plans `copies(role)` replicas of every role on free ports (the
    /// services' endpoints go into `env`, as an operator sets them), none started yet.
    pub fn plan(
        mut env: BTreeMap<String, String>,
        log_dir: &Path,
        copies: impl Fn(Role) -> usize,
    ) -> anyhow::Result<Self> {
        let gateway_port = free_port()?;
        let mut replicas = Vec::new();
        for role in Role::ALL {
            let mut endpoints = Vec::new();
            for copy in 0..copies(role).max(1) {
                let port = if role == Role::Gateway { gateway_port } else { free_port()? };
                let addr = format!("127.0.0.1:{port}");
                endpoints.push(format!("http://{addr}"));
                replicas.push(Replica { role, name: format!("{role}-{copy}"), addr, process: None });
            }
            if role != Role::Gateway {
                env.insert(format!("{}ENDPOINT", role.env_prefix()), endpoints.join(","));
            }
        }
        Ok(Self { binary: std::env::current_exe()?, env, log_dir: log_dir.to_owned(), replicas, gateway_port })
    }

    /// The settings the roles read, for migrating and seeding before they start.
    pub fn settings(&self) -> anyhow::Result<masar_platform::config::Settings> {
        Ok(masar_platform::config::Settings::from_map(self.env.clone().into_iter().collect())?)
    }

    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }

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

    pub fn start(&mut self, index: usize) -> anyhow::Result<()> {
        let child = self.spawn(&self.replicas[index])?;
        self.replicas[index].process = Some(child);
        Ok(())
    }

    /// Starts every replica and waits until the gateway answers its health check.
    pub async fn start_all(&mut self) -> anyhow::Result<()> {
        for index in 0..self.replicas.len() {
            self.start(index)?;
        }
        let gateway = self.gateway_url();
        wait_for("the gateway", || async {
            reqwest::get(format!("{gateway}/healthz")).await.is_ok_and(|r| r.status().is_success())
        })
        .await
    }

    /// Creates or upgrades every service's schema and gives the demo staff
    /// their demo passwords, as an operator does before the first start.
    pub async fn migrate_with_demo_passwords(&self) -> anyhow::Result<()> {
        let settings = self.settings()?;
        crate::migrate_distributed(&Role::SERVICES, &settings).await?;
        let identity = crate::connect_database(Role::Identity, &settings).await?;
        crate::seed_demo_passwords(&identity, &settings, &crate::load_directory(&settings)?).await?;
        identity.close().await;
        Ok(())
    }

    /// CPU seconds each running replica has used so far, by name.
    pub fn cpu_seconds(&self) -> BTreeMap<String, f64> {
        self.replicas.iter().filter_map(|r| Some((r.name.clone(), cpu_seconds_of(&r.pid()?.to_string())?))).collect()
    }

    /// Each running replica's peak resident memory so far, in MiB, by name.
    pub fn peak_memory_mib(&self) -> BTreeMap<String, f64> {
        self.replicas.iter().filter_map(|r| Some((r.name.clone(), memory_of(&r.pid()?.to_string())?.1))).collect()
    }

    /// A front end signed in as `staff`, once the deployment takes sign-ins
    /// (identity may serve a moment after the gateway answers).
    pub async fn signed_in(&self, staff: &str) -> anyhow::Result<crate::demo::GatewayClient> {
        let gateway = crate::demo::GatewayClient::new(&self.gateway_url());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match gateway.as_staff(staff).await {
                Ok(client) => return Ok(client),
                Err(error) if Instant::now() > deadline => return Err(error.context(format!("signing in as {staff}"))),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Stops one replica with `signal` and waits for it; true when it exited 0.
    pub fn stop(&mut self, index: usize, signal: &str) -> anyhow::Result<bool> {
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

/// Resident memory now and at its peak, in MiB, of the process `pid` names
/// (`self` for this one; Linux).
pub fn memory_of(pid: &str) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU seconds the process `pid` names has used (user and system; Linux).
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// The whole machine's CPU time so far, in ticks: (busy, waiting for I/O, all) (Linux).
pub fn machine_cpu() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal …
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    let all: u64 = ticks.iter().take(8).sum();
    Some((all - idle - iowait, iowait, all))
}

/// Whether the replica at `address` says it serves, as the gateway asks it.
pub async fn serving(address: &str) -> bool {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let Ok(channel) = tonic::transport::Endpoint::from_shared(address.to_owned()) else { return false };
    let Ok(channel) = channel.connect().await else { return false };
    let mut health = HealthClient::new(channel);
    let reply = health.check(HealthCheckRequest { service: String::new() }).await;
    reply.is_ok_and(|reply| reply.get_ref().status() == ServingStatus::Serving)
}

pub async fn sqlx_ping(url: &str) -> bool {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url).await.is_ok()
}

/// Waits up to 30 s for `ready`.
pub async fn wait_for<F, Fut>(what: &str, mut ready: F) -> anyhow::Result<()>
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
