//! The `masar` binary's library: starts roles in either shape, prepares
//! databases, and drives the demo. `main.rs` only parses the command line.
//!
//! - embedded (`masar dev`): the five services and the gateway in one
//!   process, SQLite files, the in-process queue;
//! - distributed (`masar serve <role>`): one role per process, PostgreSQL
//!   and Redis Streams.

pub mod demo;

use anyhow::Context;
use masar_domain::Directory;
use masar_notification::sms::{FileSmsProvider, SmsProvider};
use masar_platform::CancellationToken;
use masar_platform::config::Settings;
use masar_platform::db::Db;
use masar_platform::queue::{MemoryQueue, Queue, RedisQueue};
use masar_platform::role::Role;
use masar_platform::runtime::{self, Dependencies, ServiceParts};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The demo directory: Nuzul and Hayat, a branch each, staff for every role.
pub const DEMO_DIRECTORY: &str = include_str!("../demo/directory.json");

pub fn load_directory(settings: &Settings) -> anyhow::Result<Directory> {
    let text = match &settings.directory_file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => DEMO_DIRECTORY.to_owned(),
    };
    Ok(Directory::from_json(&text)?)
}

/// Creates or upgrades one role's tables.
pub async fn migrate(role: Role, db: &Db) -> anyhow::Result<()> {
    match role {
        Role::Intake => masar_intake::migrate(db).await?,
        Role::Verification => masar_verification::migrate(db).await?,
        Role::Research => masar_research::migrate(db).await?,
        Role::Committee => masar_committee::migrate(db).await?,
        Role::Notification => masar_notification::migrate(db).await?,
        Role::Gateway => {}
    }
    Ok(())
}

/// The SMS provider named in the settings.
pub fn sms_provider(settings: &Settings) -> anyhow::Result<Arc<dyn SmsProvider>> {
    match settings.sms.provider.as_str() {
        "file" => Ok(Arc::new(FileSmsProvider {
            path: settings.sms.file.clone().unwrap_or_else(|| settings.data_dir.join("sms.log")),
            sender: settings.sms.sender.clone(),
        })),
        other => anyhow::bail!("unknown SMS provider '{other}' (this version has: file)"),
    }
}

fn parts(role: Role, deps: &Dependencies, sms: Arc<dyn SmsProvider>, shutdown: &CancellationToken) -> ServiceParts {
    match role {
        Role::Intake => masar_intake::parts(deps),
        Role::Verification => masar_verification::parts(deps),
        Role::Research => masar_research::parts(deps),
        Role::Committee => masar_committee::parts(deps),
        Role::Notification => masar_notification::parts(deps, sms, shutdown.clone()),
        Role::Gateway => unreachable!("the gateway is started with start_gateway"),
    }
}

/// Starts one service on `listener`; it runs until `shutdown` is cancelled.
pub fn start_service(
    role: Role,
    deps: Dependencies,
    sms: Arc<dyn SmsProvider>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    let parts = parts(role, &deps, sms, &shutdown);
    tokio::spawn(async move { Ok(runtime::run(parts, deps, listener, shutdown).await?) })
}

/// Starts the gateway on `listener`, talking to the services at `endpoints`.
pub fn start_gateway(
    endpoints: &masar_gateway::Endpoints,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let services = masar_gateway::Services::connect(endpoints)?;
    Ok(tokio::spawn(async move { Ok(masar_gateway::serve(listener, services, shutdown.cancelled_owned()).await?) }))
}

pub fn endpoints(address_of: impl Fn(Role) -> String) -> masar_gateway::Endpoints {
    masar_gateway::Endpoints {
        intake: address_of(Role::Intake),
        verification: address_of(Role::Verification),
        research: address_of(Role::Research),
        committee: address_of(Role::Committee),
        notification: address_of(Role::Notification),
    }
}

/// A running suite: each role's address and task.
pub struct Suite {
    pub addresses: Vec<(Role, SocketAddr)>,
    pub tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    pub shutdown: CancellationToken,
}

impl Suite {
    pub fn address(&self, role: Role) -> SocketAddr {
        self.addresses.iter().find(|(r, _)| *r == role).map(|(_, a)| *a).expect("every role is started")
    }

    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.address(Role::Gateway))
    }

    /// Stops every role and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}

/// How to build the embedded suite.
pub struct EmbeddedOptions {
    pub settings: Settings,
    /// Bind every role on 127.0.0.1:0 (tests) instead of its configured port.
    pub any_port: bool,
}

/// Starts all five services and the gateway in this process on SQLite files
/// in the data directory and the in-process queue.
pub async fn start_embedded(options: EmbeddedOptions) -> anyhow::Result<Suite> {
    let settings = &options.settings;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    let directory = Arc::new(load_directory(settings)?);
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
    let sms = sms_provider(settings)?;
    let shutdown = CancellationToken::new();
    let mut suite = Suite { addresses: Vec::new(), tasks: Vec::new(), shutdown: shutdown.clone() };
    for role in Role::SERVICES {
        let path = settings.data_dir.join(format!("{}.db", role.schema()));
        let db = Db::connect(&format!("sqlite://{}", path.display()), role.schema()).await?;
        migrate(role, &db).await?;
        let deps = Dependencies {
            db,
            queue: queue.clone(),
            directory: directory.clone(),
            consumer: settings.consumer.clone(),
            outbox_poll: settings.outbox_poll,
        };
        let listener = bind(role, settings, options.any_port, "127.0.0.1").await?;
        suite.addresses.push((role, listener.local_addr()?));
        suite.tasks.push(start_service(role, deps, sms.clone(), listener, shutdown.clone()));
    }
    let listener = bind(Role::Gateway, settings, options.any_port, "127.0.0.1").await?;
    suite.addresses.push((Role::Gateway, listener.local_addr()?));
    let addresses = suite.addresses.clone();
    let endpoints = endpoints(|role| {
        let addr = addresses.iter().find(|(r, _)| *r == role).map(|(_, a)| *a).expect("started above");
        format!("http://{addr}")
    });
    suite.tasks.push(start_gateway(&endpoints, listener, shutdown)?);
    Ok(suite)
}

async fn bind(role: Role, settings: &Settings, any_port: bool, host: &str) -> anyhow::Result<TcpListener> {
    let addr = if any_port { SocketAddr::from(([127, 0, 0, 1], 0)) } else { settings.listen_addr(role, host)? };
    TcpListener::bind(addr).await.with_context(|| format!("{role} cannot listen on {addr}"))
}

/// The role's database in the distributed shape.
pub async fn connect_database(role: Role, settings: &Settings) -> anyhow::Result<Db> {
    let url = settings
        .database_url(role)
        .with_context(|| format!("set DATABASE_URL (or {}DATABASE_URL) to a PostgreSQL URL", role.env_prefix()))?;
    Ok(Db::connect(url.expose_secret(), role.schema()).await?)
}

/// Runs one role against PostgreSQL and Redis until Ctrl-C or SIGTERM.
pub async fn serve(role: Role, settings: Settings) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let listener = bind(role, &settings, false, "0.0.0.0").await?;
    if role == Role::Gateway {
        let endpoints = endpoints(|r| settings.endpoint(r));
        return start_gateway(&endpoints, listener, shutdown)?.await?;
    }
    let db = connect_database(role, &settings).await?;
    let redis_url = settings.redis_url().context("set REDIS_URL for the queue")?;
    let queue: Arc<dyn Queue> =
        Arc::new(RedisQueue::connect(redis_url.expose_secret(), &settings.stream_prefix).await?);
    let deps = Dependencies {
        db,
        queue,
        directory: Arc::new(load_directory(&settings)?),
        consumer: settings.consumer.clone(),
        outbox_poll: settings.outbox_poll,
    };
    start_service(role, deps, sms_provider(&settings)?, listener, shutdown).await?
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what Kubernetes sends).
pub async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
