//! The hand-off queue between stages: one stream per event type, consumer
//! groups per consuming service, acknowledgement after the consumer's
//! transaction commits, redelivery of what a dead consumer left pending, and
//! a dead-letter stream after too many failed deliveries.
//!
//! Two implementations share these semantics: Redis Streams (distributed)
//! and an in-process queue (embedded).

mod memory;
mod redis_streams;

pub use memory::MemoryQueue;
pub use redis_streams::{DeadLetter, RedisQueue};

use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the queue did not answer in time")]
    Timeout,
    #[error("malformed message {entry_id} on {stream}: {reason}")]
    Malformed { stream: String, entry_id: String, reason: String },
}

/// One event on the wire. `headers` carries the W3C trace context
/// (`traceparent`, `tracestate`) so the consumer continues the producer's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// A message handed to one consumer of a group, with how often it was handed out.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub stream: String,
    pub entry_id: String,
    pub delivery_count: u64,
    pub message: Message,
}

/// Who is reading: a consumer group (one per consuming service) and this
/// replica's consumer name within it.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub group: String,
    pub consumer: String,
    pub event_types: Vec<String>,
}

/// What became of entries a producer published, as far as the queue still knows.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Settlement {
    /// No longer in the stream: the queue lost them (a restart without
    /// persistence, a failover to a replica that lagged, an emptied server).
    pub lost: Vec<String>,
    /// Acknowledged by every consumer group of the stream (there is at least one).
    pub consumed: Vec<String>,
}

/// A consumer group's backlog on one stream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Entries not yet read by the group.
    pub lag: u64,
    /// Entries read and not yet acknowledged.
    pub pending: u64,
}

#[async_trait::async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Appends a message to the stream of its event type; returns its entry id.
    async fn publish(&self, message: &Message) -> Result<String, QueueError>;

    /// Removes entries older than `older_than` from `event_type`'s stream
    /// and its dead-letter stream (retention; the outbox keeps the record).
    async fn trim(&self, event_type: &str, older_than: Duration) -> Result<(), QueueError>;

    /// Which of `published` (entry id and event id, on `event_type`'s stream)
    /// the stream lost, and which every consumer group has acknowledged. An
    /// entry counts as lost when its id holds another event (a server that
    /// lost it may have given the id to a new one). The rest are on their way.
    async fn settle(&self, event_type: &str, published: &[(String, Uuid)]) -> Result<Settlement, QueueError>;

    /// Creates the group on every stream if missing, reading from the start
    /// so nothing published before the consumer first started is missed.
    async fn subscribe(&self, subscription: &Subscription) -> Result<(), QueueError>;

    /// New messages for this consumer, waiting up to `wait` for one.
    async fn receive(
        &self,
        subscription: &Subscription,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, QueueError>;

    /// Marks a delivery done for the group.
    async fn ack(&self, subscription: &Subscription, delivery: &Delivery) -> Result<(), QueueError>;

    /// Takes over deliveries left unacknowledged longer than `min_idle` by any
    /// consumer of the group (a crashed replica, a failed handler). Each
    /// comes back with its delivery count raised.
    async fn reclaim(&self, subscription: &Subscription, min_idle: Duration) -> Result<Vec<Delivery>, QueueError>;

    /// Moves a delivery to `<stream>:dlq` with the reason, and acknowledges it.
    async fn dead_letter(
        &self,
        subscription: &Subscription,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), QueueError>;

    /// How far behind the group is on each of its streams (for the metrics).
    async fn backlog(&self, subscription: &Subscription) -> Result<Vec<(String, Backlog)>, QueueError>;

    /// Messages in a stream's dead-letter stream (for operators and tests).
    async fn dead_letters(&self, event_type: &str) -> Result<Vec<(Message, String)>, QueueError>;
}

/// The name of an event type's stream under a prefix, e.g. `masar:request.submitted`.
pub fn stream_name(prefix: &str, event_type: &str) -> String {
    format!("{prefix}:{event_type}")
}

pub fn dead_letter_stream(stream: &str) -> String {
    format!("{stream}:dlq")
}
