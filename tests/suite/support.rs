//! Isolated real infrastructure for each test.

use masar::Suite;
use masar_domain::{Directory, SaudiMobile};
use masar_notification::sms::{SmsError, SmsProvider};
use masar_platform::CancellationToken;
use masar_platform::config::{SessionPolicy, Settings};
use masar_platform::db::Db;
use masar_platform::messaging::ConsumerSettings;
use masar_platform::queue::{Queue, RedisQueue};
use masar_platform::role::Role;
use masar_platform::runtime::Dependencies;
use masar_platform::tokens::TokenKeys;
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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

/// Sign-in locks measured in milliseconds, so tests can wait them out.
pub fn fast_sign_in_policy() -> SessionPolicy {
    SessionPolicy { slowdown: Duration::from_millis(300), lock_for: Duration::from_millis(1500), ..Default::default() }
}

/// Fast hand-offs for tests: short waits, quick reclaim.
pub fn consumer_settings() -> ConsumerSettings {
    ConsumerSettings { max_deliveries: 3, reclaim_after: Duration::from_millis(400), wait: Duration::from_millis(100) }
}

/// An SMS provider that remembers what it sent.
#[derive(Default, Clone)]
pub struct RecordingSms {
    pub sent: Arc<Mutex<Vec<(String, String)>>>,
}

impl RecordingSms {
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    pub fn texts(&self) -> Vec<String> {
        self.sent.lock().unwrap().iter().map(|(_, text)| text.clone()).collect()
    }
}

/// The texts the embedded suite's dev SMS provider wrote to its file.
pub fn logged_sms(data_dir: &std::path::Path) -> Vec<String> {
    masar::demo::logged_sms(&data_dir.join("sms.log"))
}

#[async_trait::async_trait]
impl SmsProvider for RecordingSms {
    async fn send(&self, to: &SaudiMobile, text: &str) -> Result<String, SmsError> {
        self.sent.lock().unwrap().push((to.as_str().to_owned(), text.to_owned()));
        Ok(uuid::Uuid::new_v4().to_string())
    }
}

/// Settings with a fresh data directory (for files a test's services store).
pub fn fresh_settings() -> Settings {
    let data_dir = temp_dir().display().to_string();
    Settings::from_map([("MASAR_DATA_DIR".to_owned(), data_dir)].into_iter().collect()).unwrap()
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
    let settings = Settings::from_map(
        [
            ("MASAR_DATA_DIR", data_dir.to_str().unwrap()),
            ("MASAR_OUTBOX_POLL_MS", "100"),
            ("MASAR_QUEUE_WAIT_MS", "100"),
            ("MASAR_RECLAIM_AFTER_MS", "400"),
            ("MASAR_SIGN_IN_SLOWDOWN_MS", "300"),
            ("MASAR_SIGN_IN_LOCK_MS", "1500"),
        ]
        .iter()
        .chain(more)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    )
    .unwrap();
    masar::start_embedded(masar::EmbeddedOptions { settings, any_port: true }).await.unwrap()
}

/// Distributed shape: every service its own tonic server, its own
/// connections to one PostgreSQL database (a schema each) and to Redis.
pub struct Distributed {
    pub suite: Suite,
    pub database: TestDatabase,
    pub prefix: String,
    pub sms: RecordingSms,
}

pub async fn distributed_suite() -> Distributed {
    let database = TestDatabase::create().await;
    let prefix = unique("test");
    let sms = RecordingSms::default();
    let shutdown = CancellationToken::new();
    let mut suite = Suite { addresses: Vec::new(), tasks: Vec::new(), shutdown: shutdown.clone() };
    let files_settings = fresh_settings();
    let sealer = masar::sealer(&files_settings, true).unwrap();
    // Intake signs; every other role only verifies, with the public key alone.
    let signing = masar::token_keys(&files_settings, Role::Intake, true).unwrap();
    let verifying = TokenKeys::verifying(&signing.signer.verifying_key()).unwrap();
    for role in Role::SERVICES {
        let db = Db::connect(&database.url, role.schema()).await.unwrap();
        let settings = Settings::from_map(Default::default()).unwrap();
        masar::prepare(role, &db, &settings).await.unwrap();
        if role == Role::Intake {
            masar::seed_demo_passwords(&db, &settings, &directory()).await.unwrap();
        }
        let queue: Arc<dyn Queue> = Arc::new(RedisQueue::connect(&redis_url(), &prefix).await.unwrap());
        let deps = Dependencies {
            db,
            queue,
            directory: directory(),
            consumer: consumer_settings(),
            outbox_poll: Duration::from_millis(100),
            files: masar::file_store(&files_settings).unwrap(),
            sealer: sealer.clone(),
            tokens: if role == Role::Intake { signing.clone() } else { verifying.clone() },
            sessions: fast_sign_in_policy(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        suite.addresses.push((role, listener.local_addr().unwrap()));
        suite.tasks.push(masar::start_service(role, deps, Arc::new(sms.clone()), listener, shutdown.clone()));
    }
    let addresses = suite.addresses.clone();
    let endpoints = masar::endpoints(|role| {
        let addr = addresses.iter().find(|(r, _)| *r == role).unwrap().1;
        format!("http://{addr}")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    suite.addresses.push((Role::Gateway, listener.local_addr().unwrap()));
    let replays = masar_gateway::Replays::redis(&redis_url(), &prefix).await.unwrap();
    let settings = Settings::from_map(Default::default()).unwrap();
    suite
        .tasks
        .push(masar::start_gateway(&endpoints, verifying.verifier, &settings, replays, listener, shutdown).unwrap());
    Distributed { suite, database, prefix, sms }
}

impl Distributed {
    pub async fn stop(self) {
        self.suite.stop().await.unwrap();
        self.database.drop_database().await;
        delete_streams(&self.prefix).await;
    }
}

/// Removes every key under a test's stream prefix.
pub async fn delete_streams(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut connection).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut connection).await.unwrap();
    }
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
