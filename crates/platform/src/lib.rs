//! The runtime kit shared by every Masar service: configuration, telemetry,
//! the dual PostgreSQL/SQLite layer, the queue (Redis Streams or in-process),
//! the outbox and inbox, the gRPC server kit, caller identity and the audit trail.

pub mod audit;
pub mod clock;
pub mod config;
pub mod db;
pub mod forms;
pub mod forwarding;
pub mod grpc;
pub mod health;
pub mod hex;
pub mod identity;
pub mod identity_checks;
pub mod messaging;
pub mod metrics;
pub mod paging;
pub mod personal;
pub mod policies;
pub mod queue;
pub mod replicas;
pub mod revocations;
pub mod role;
pub mod runtime;
pub mod sealing;
pub mod telemetry;
pub mod tokens;

pub use tokio_util::sync::CancellationToken;
