//! Isolated real infrastructure for each test.

use masar::Suite;
use masar_domain::Directory;
use masar_platform::config::Settings;
use masar_platform::role::Role;
use secrecy::ExposeSecret;
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A PostgreSQL database of its own, dropped by `drop_database`.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = unique("masar_test");
        let admin = postgres_admin_url();
        let mut connection = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL is running (make services)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut connection).await.unwrap();
        let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap();
        Self { url: format!("{base}/{name}"), name }
    }

    pub async fn drop_database(self) {
        if let Ok(mut connection) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
                .execute(&mut connection)
                .await;
        }
    }
}

/// A fresh directory under the system temp dir.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("masar"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn directory() -> Arc<Directory> {
    Arc::new(masar::load_directory(&Settings::from_map(Default::default()).unwrap()).unwrap())
}

/// The SMS a suite's dev provider wrote to its file: the test's "phone".
#[derive(Clone)]
pub struct SmsLog {
    pub path: PathBuf,
}

impl SmsLog {
    pub fn texts(&self) -> Vec<String> {
        masar::demo::logged_sms(&self.path)
    }

    pub fn count(&self) -> usize {
        self.texts().len()
    }
}

/// The texts the embedded suite's dev SMS provider wrote to its file.
pub fn logged_sms(data_dir: &std::path::Path) -> Vec<String> {
    masar::demo::logged_sms(&data_dir.join("sms.log"))
}

/// Fast hand-offs and sign-in locks measured in milliseconds, so tests can wait them out.
const FAST: [(&str, &str); 8] = [
    ("MASAR_OUTBOX_POLL_MS", "100"),
    ("MASAR_SUPERVISION_EVERY_MS", "200"),
    ("MASAR_OUTBOX_SETTLE_MS", "200"),
    ("MASAR_QUEUE_WAIT_MS", "100"),
    ("MASAR_RECLAIM_AFTER_MS", "400"),
    ("MASAR_MAX_DELIVERIES", "3"),
    ("MASAR_SIGN_IN_SLOWDOWN_MS", "300"),
    ("MASAR_SIGN_IN_LOCK_MS", "1500"),
];

pub fn settings_of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Settings {
    Settings::from_map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()).unwrap()
}

/// Embedded shape: `masar dev` on 127.0.0.1:0 ports and a temp data dir.
pub async fn embedded_suite() -> (Suite, PathBuf) {
    embedded_suite_with(&[]).await
}

/// The embedded shape with further settings, e.g. the gateway's.
pub async fn embedded_suite_with(more: &[(&str, &str)]) -> (Suite, PathBuf) {
    let data_dir = temp_dir();
    (embedded_suite_in(&data_dir, more).await, data_dir)
}

/// The embedded shape on `data_dir`, e.g. to start it again on the same data.
pub async fn embedded_suite_in(data_dir: &std::path::Path, more: &[(&str, &str)]) -> Suite {
    embedded_suite_clocked_in(data_dir, more).await.0
}

/// The embedded shape with the clock its roles read the calendar by, which
/// a test moves ahead to see weeks pass.
pub async fn embedded_suite_clocked() -> (Suite, PathBuf, masar_platform::clock::Clock) {
    let data_dir = temp_dir();
    let (suite, clock) = embedded_suite_clocked_in(&data_dir, &[]).await;
    (suite, data_dir, clock)
}

async fn embedded_suite_clocked_in(
    data_dir: &std::path::Path,
    more: &[(&str, &str)],
) -> (Suite, masar_platform::clock::Clock) {
    let settings = settings_of(
        [("MASAR_DATA_DIR", data_dir.to_str().unwrap())].into_iter().chain(FAST).chain(more.iter().copied()),
    );
    let clock = settings.clock.clone();
    (masar::start_embedded(masar::EmbeddedOptions { settings, any_port: true }).await.unwrap(), clock)
}

/// Distributed shape: every role as `masar serve` runs it (its own tonic
/// server, its own connections to its schema of one PostgreSQL database and
/// to Redis), on 127.0.0.1:0 ports, configured only through settings.
pub struct Distributed {
    pub suite: Suite,
    pub database: TestDatabase,
    pub prefix: String,
    pub sms: SmsLog,
    /// What every role was started with (e.g. to start another replica).
    pub settings: Settings,
    pub redis: String,
}

/// The settings of a distributed test deployment: its database, Redis and
/// stream prefix, fresh keys and data directory, fast hand-offs.
pub fn distributed_settings(database_url: &str, redis: &str, prefix: &str, more: &[(&str, &str)]) -> Settings {
    let data_dir = temp_dir();
    let signing = masar_platform::hex::random_key();
    let verifying =
        masar_platform::tokens::TokenSigner::from_hex(&signing, Duration::from_secs(900)).unwrap().verifying_key();
    let sealing = masar_platform::hex::random_key();
    let forwarding = masar_platform::hex::random_key();
    let registry = masar_platform::hex::random_key();
    let data_keys = masar_platform::personal::LocalKeys::generate();
    let data = data_dir.display().to_string();
    let sms = data_dir.join("sms.log").display().to_string();
    let pairs = [
        ("DATABASE_URL", database_url),
        ("REDIS_URL", redis),
        ("MASAR_STREAM_PREFIX", prefix),
        ("MASAR_DATA_DIR", data.as_str()),
        ("MASAR_SMS_FILE", sms.as_str()),
        ("MASAR_SEALING_KEY", sealing.expose_secret()),
        ("MASAR_FORWARDING_KEY", forwarding.expose_secret()),
        ("MASAR_REGISTRY_KEY", registry.expose_secret()),
        ("MASAR_TOKEN_SIGNING_KEY", signing.expose_secret()),
        ("MASAR_TOKEN_VERIFYING_KEYS", verifying.as_str()),
        ("MASAR_IDENTITY_PROVIDER", "fake"),
        ("MASAR_DATA_KEYS", data_keys.expose_secret()),
    ];
    settings_of(pairs.into_iter().chain(FAST).chain(more.iter().copied()))
}

/// The same settings, with the gateway told where each service listens
/// (every replica of a role, comma-separated).
fn with_endpoints(settings: &Settings, listeners: &[(Role, tokio::net::TcpListener)]) -> Settings {
    let mut endpoints = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (role, listener) in listeners {
        let key = format!("{}ENDPOINT", role.env_prefix());
        endpoints.entry(key).or_default().push(format!("http://{}", listener.local_addr().unwrap()));
    }
    settings.with(endpoints.into_iter().map(|(key, addresses)| (key, addresses.join(",")))).unwrap()
}

pub async fn distributed_suite() -> Distributed {
    distributed_suite_on(&redis_url(), &[]).await
}

/// The distributed shape on the Redis at `redis`, with further settings.
pub async fn distributed_suite_on(redis: &str, more: &[(&str, &str)]) -> Distributed {
    distributed_suite_with_replicas(redis, more, &[]).await
}

/// The same, with a second replica of each of `twice`, which the gateway
/// balances over as it does in production.
pub async fn distributed_suite_with_replicas(redis: &str, more: &[(&str, &str)], twice: &[Role]) -> Distributed {
    let database = TestDatabase::create().await;
    let prefix = unique("test");
    let settings = distributed_settings(&database.url, redis, &prefix, more);
    start_distributed(database, settings, redis, twice).await
}

/// The distributed shape on a database that already holds data (e.g. seeded), with its settings.
pub async fn distributed_suite_on_database(database: TestDatabase, settings: &Settings) -> Distributed {
    start_distributed(database, settings.clone(), &redis_url(), &[]).await
}

async fn start_distributed(database: TestDatabase, settings: Settings, redis: &str, twice: &[Role]) -> Distributed {
    let prefix = settings.stream_prefix.clone();
    // What an operator does once: `masar migrate`, and the staff's passwords.
    masar::migrate_distributed(&Role::SERVICES, &settings).await.unwrap();
    let identity = masar::connect_database(Role::Identity, &settings).await.unwrap();
    masar::seed_demo_passwords(&identity, &settings, &directory()).await.unwrap();
    identity.close().await;
    let mut listeners = Vec::new();
    for role in Role::ALL.into_iter().chain(twice.iter().copied()) {
        listeners.push((role, tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()));
    }
    let settings = with_endpoints(&settings, &listeners);
    let suite = masar::start_suite(&masar::Shape::Distributed, &settings, listeners).await.unwrap();
    let sms = SmsLog { path: settings.sms.file.clone().unwrap() };
    Distributed { suite, database, prefix, sms, settings, redis: redis.to_owned() }
}

impl Distributed {
    /// Starts one more replica of `role`, as `masar serve <role>` would.
    pub async fn start_replica(&self, role: Role) -> masar::RunningRole {
        self.start_role_at(role, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Stops one running `role` (the first found), as its pod going away would.
    pub async fn stop_role(&mut self, role: Role) -> std::net::SocketAddr {
        let index = self.suite.roles.iter().position(|r| r.role == role).expect("the role runs");
        let running = self.suite.roles.remove(index);
        running.stop.cancel();
        running.task.await.unwrap().unwrap();
        running.address
    }

    /// Starts `role` where it listened before (the address its Service keeps).
    pub async fn restart_role(&mut self, role: Role, address: std::net::SocketAddr) {
        let running = self.start_role_at(role, address).await;
        self.suite.roles.push(running);
    }

    async fn start_role_at(&self, role: Role, address: std::net::SocketAddr) -> masar::RunningRole {
        let listener = masar::listen(address).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = self.suite.shutdown.child_token();
        let task =
            masar::start_role(role, &masar::Shape::Distributed, &self.settings, listener, stop.clone()).await.unwrap();
        masar::RunningRole { role, address, task, stop }
    }

    pub async fn stop(self) {
        self.suite.stop().await.unwrap();
        self.database.drop_database().await;
        delete_streams(&self.redis, &self.prefix).await;
    }
}

/// A Redis server of a test's own, which it may restart or empty at will
/// (the shared one serves every other test).
pub struct RedisServer {
    pub port: u16,
    process: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self { port, process: None };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server; without persistence, everything it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        let process = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (make services)");
        self.process = Some(process);
        let client = redis::Client::open(self.url()).unwrap();
        wait_until("the test's Redis to answer", || async {
            match client.get_multiplexed_async_connection().await {
                Ok(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await.is_ok(),
                Err(_) => false,
            }
        })
        .await;
    }

    /// Empties it while it runs (`FLUSHALL`): an operator's mistake, or a failover to an empty replica.
    pub async fn flush(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("FLUSHALL").query_async(&mut connection).await.unwrap();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Removes every key under a test's stream prefix.
pub async fn delete_streams(redis: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(redis) else { return };
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut connection).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut connection).await.unwrap();
    }
}

/// How many entries one event type's stream holds (0 when it does not exist).
pub async fn stream_length(redis: &str, prefix: &str, event_type: &str) -> usize {
    let client = redis::Client::open(redis).unwrap();
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else { return 0 };
    redis::cmd("XLEN").arg(format!("{prefix}:{event_type}")).query_async(&mut connection).await.unwrap_or(0)
}

/// How many entries of one event type's stream a consumer group holds unacknowledged.
pub async fn pending_count(redis: &str, prefix: &str, event_type: &str, group: &str) -> u64 {
    let client = redis::Client::open(redis).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let summary: (u64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(format!("{prefix}:{event_type}"))
        .arg(group)
        .query_async(&mut connection)
        .await
        .unwrap();
    summary.0
}

/// Every field of every entry of one event type's stream, as raw bytes.
pub async fn stream_contents(prefix: &str, event_type: &str) -> Vec<u8> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("{prefix}:{event_type}"))
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for entry in entries.ids {
        for value in entry.map.values() {
            if let redis::Value::BulkString(data) = value {
                bytes.extend_from_slice(data);
            }
        }
    }
    bytes
}

/// A gRPC request, with the caller's access token when there is one.
pub fn grpc_request<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        masar_platform::identity::attach_token(&mut request, token);
    }
    request
}

/// Polls `check` until true or the time is up.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
