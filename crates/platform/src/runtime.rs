//! Runs one service: its gRPC server, its outbox relay, its consumer and
//! any background work, until shutdown. `masar dev` runs six of these in
//! one process; `masar serve <role>` runs one.

use crate::db::{Db, DbError};
use crate::health::Readiness;
use crate::messaging::{Consumer, ConsumerSettings, EventHandler, Outbox, OutboxRelay, OutboxSettings};
use crate::queue::{Queue, Subscription};
use crate::role::Role;
use futures::future::BoxFuture;
use masar_domain::Directory;
use masar_proto::audit::v1::audit_trail_server::AuditTrailServer;
use sqlx::migrate::Migrator;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Creates or upgrades a service's tables: the platform's outbox and inbox,
/// then the service's own migrations for the database's backend.
pub async fn migrate_service(db: &Db, service: &str, postgres: &Migrator, sqlite: &Migrator) -> Result<(), DbError> {
    crate::messaging::migrate(db).await?;
    db.migrate(postgres, sqlite, format!("_masar_{service}_migrations")).await
}

/// What every service gets from the process that runs it.
#[derive(Clone)]
pub struct Dependencies {
    pub db: Db,
    pub queue: Arc<dyn Queue>,
    pub directory: Arc<Directory>,
    /// The official Eid holidays the operator set, for every association's working calendar.
    pub holidays: Arc<masar_domain::working_days::OfficialHolidays>,
    pub consumer: ConsumerSettings,
    pub outbox: OutboxSettings,
    /// Object storage for uploaded files (a local folder, or an S3-compatible bucket).
    pub files: Arc<dyn object_store::ObjectStore>,
    /// Seals one-time passwords between identity and notification.
    pub sealer: crate::sealing::Sealer,
    /// Verifies callers' access tokens (every service); signs them (identity).
    pub tokens: crate::tokens::TokenKeys,
    pub sessions: crate::config::SessionPolicy,
    /// The revoked sessions `tokens.verifier` refuses; read from the service's table.
    pub revocations: crate::revocations::Revocations,
    pub drain: DrainSettings,
    /// Checks the gateway's vouchers for the calls it forwards.
    pub forwarding: crate::forwarding::ForwardingKey,
    /// Identity vouches with it for its calls to intake's registry, which
    /// intake checks (the other roles get an inert stand-in).
    pub registry_key: crate::forwarding::ForwardingKey,
    /// Confirms a beneficiary's national ID (identity), where one is configured.
    pub identity_provider: crate::identity_checks::Provider,
    /// Seals personal data at rest (intake, identity, verification, notification).
    pub personal: crate::personal::PersonalData,
    /// Where the other services listen (identity reaches intake's registry).
    pub endpoints: crate::replicas::Endpoints,
    /// The time stage deadlines and escalations are read at.
    pub clock: crate::clock::Clock,
    /// How often intake reads the stage clocks for escalations.
    pub supervision_every: std::time::Duration,
}

/// How a service stops (SIGTERM on a rolling update): readiness turns false
/// at once, calls keep being served for `delay` (while load balancers stop
/// sending new ones), then no new call or stream message is taken and those
/// in flight finish, for `grace` at most.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainSettings {
    pub delay: Duration,
    pub grace: Duration,
}

impl Default for DrainSettings {
    fn default() -> Self {
        Self { delay: Duration::ZERO, grace: Duration::from_secs(20) }
    }
}

impl DrainSettings {
    /// Runs `work` to its end, or until the drain delay and the grace period
    /// after `shutdown` are over (`None`: still in flight, given up).
    pub async fn bounded<T>(&self, shutdown: &CancellationToken, work: impl Future<Output = T>) -> Option<T> {
        let out_of_time = async {
            shutdown.cancelled().await;
            tokio::time::sleep(self.delay + self.grace).await;
        };
        tokio::select! {
            done = work => Some(done),
            () = out_of_time => {
                tracing::warn!("work still in flight after the grace period; stopping anyway");
                None
            }
        }
    }
}

/// What a service contributes: its gRPC routes and the events it consumes.
pub struct ServiceParts {
    pub role: Role,
    pub routes: tonic::service::Routes,
    /// Fully qualified gRPC service names, reported by the health service.
    pub service_names: Vec<&'static str>,
    pub outbox: Outbox,
    /// Event types this service consumes, and the handler that applies them.
    pub consumes: Option<(Vec<&'static str>, Arc<dyn EventHandler>)>,
    /// Other long-running work (e.g. the SMS dispatcher), stopped by the shutdown token.
    pub background: Vec<BoxFuture<'static, ()>>,
}

/// This replica's consumer name: the pod name when there is one.
fn consumer_name(role: Role) -> String {
    match std::env::var("HOSTNAME") {
        Ok(host) if !host.is_empty() => format!("{role}-{host}-{}", std::process::id()),
        _ => format!("{role}-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// Runs `parts` on `listener` until `shutdown` is cancelled.
pub async fn run(
    parts: ServiceParts,
    deps: Dependencies,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let mut tasks = tokio::task::JoinSet::new();
    let readiness = Readiness::new();
    let relay = OutboxRelay {
        role: parts.role,
        db: deps.db.clone(),
        queue: deps.queue.clone(),
        outbox: parts.outbox.clone(),
        settings: deps.outbox.clone(),
        readiness: readiness.clone(),
        settle_cursor: Default::default(),
    };
    // The relay stops last, once calls and stream messages are drained, so that
    // what they committed is handed off before the process exits.
    let relay_stop = CancellationToken::new();
    let relay = tokio::spawn(relay.run(relay_stop.clone()));
    if let Some((event_types, handler)) = parts.consumes {
        let consumer = Consumer {
            db: deps.db.clone(),
            queue: deps.queue.clone(),
            subscription: Subscription {
                group: parts.role.name().to_owned(),
                consumer: consumer_name(parts.role),
                // And every service refuses the tokens of revoked sessions (see `crate::revocations`).
                event_types: event_types
                    .iter()
                    .chain(&[masar_proto::event_type::SESSION_REVOKED])
                    .map(|t| t.to_string())
                    .collect(),
            },
            handler,
            settings: deps.consumer.clone(),
            outbox: parts.outbox.clone(),
            readiness: readiness.clone(),
        };
        tasks.spawn(consumer.run(shutdown.clone()));
    }
    for work in parts.background {
        tasks.spawn(work);
    }
    tasks.spawn(deps.revocations.clone().run(deps.db.clone(), shutdown.clone()));
    // Every service answers for its own part of a case's audit trail.
    let trail =
        crate::audit::TrailService { db: deps.db.clone(), verifier: deps.tokens.verifier.clone(), service: parts.role };
    let routes = parts.routes.add_service(AuditTrailServer::new(trail));
    let mut service_names = parts.service_names;
    service_names.push(<AuditTrailServer<crate::audit::TrailService> as tonic::server::NamedService>::NAME);
    tracing::info!(role = %parts.role, addr = ?listener.local_addr().ok(), "serving");
    let (drain, forwarding) = (deps.drain.clone(), deps.forwarding.clone());
    let stopping = shutdown.clone();
    let work = async move {
        let served =
            crate::grpc::serve(listener, routes, &service_names, readiness, stopping.clone(), drain.delay, forwarding)
                .await;
        stopping.cancel();
        while tasks.join_next().await.is_some() {}
        relay_stop.cancel();
        let _ = relay.await;
        served
    };
    deps.drain.bounded(&shutdown, work).await.unwrap_or(Ok(()))
}
