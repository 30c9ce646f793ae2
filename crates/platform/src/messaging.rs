//! Reliable hand-offs: the transactional outbox and its relay on the
//! producing side; the inbox and the consumer loop on the consuming side.
//!
//! A service writes its state change and the event in one transaction
//! ([`Outbox::append`]); the [`OutboxRelay`] publishes committed events. A
//! [`Consumer`] applies each delivery in one transaction that also records
//! the event id, acknowledges only after commit, skips events it has
//! already applied, takes over deliveries a dead replica left pending, and
//! dead-letters a message after too many failed attempts.

use crate::db::{Backend, Db, DbError, Sql, Tx};
use crate::health::{Link, Readiness};
use crate::metrics::metrics;
use crate::queue::{Delivery, Message, Queue, QueueError, Subscription};
use crate::role::Role;
use crate::telemetry;
use chrono::Utc;
use masar_proto::events::v1::CaseRef;
use masar_proto::{Event, EventError};
use sqlx::migrate::Migrator;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates the outbox and inbox tables in a service's database.
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    db.migrate(&POSTGRES_MIGRATIONS, &SQLITE_MIGRATIONS, "_masar_messaging_migrations").await
}

/// A service's handle on its outbox.
#[derive(Clone, Default)]
pub struct Outbox {
    committed: Arc<Notify>,
    /// Rows appended so far (committed or not): a consumer wakes the relay
    /// only when its handler added some.
    appended: Arc<std::sync::atomic::AtomicU64>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `event` to the outbox inside `tx`. An event about a case is an
    /// action on it: it gets a span in the case's trace, linked to the
    /// current call's, and its hand-off continues that trace; any other event
    /// continues the current trace.
    pub async fn append(&self, tx: &mut Tx, event: &Event) -> Result<Uuid, DbError> {
        let event_type = event.event_type();
        let payload = event.encode_to_vec();
        let case = event.case().and_then(|case| Uuid::parse_str(&case.request_id).ok());
        let event_id = Uuid::now_v7();
        self.appended.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let headers = match case {
            None => telemetry::trace_headers(&tracing::Span::current()),
            Some(request_id) => {
                let case_trace = case_trace(tx, request_id).await?;
                let span = telemetry::case_action_span(event_type, request_id, case_trace.as_ref());
                let mut headers = telemetry::trace_headers(&span);
                if case_trace.is_none() {
                    remember_case_trace(tx, request_id, &headers).await?;
                }
                headers.insert(telemetry::REQUEST_ID_HEADER.to_owned(), request_id.to_string());
                headers
            }
        };
        let headers = serde_json::to_value(headers).expect("string maps serialise");
        tx.execute(
            Sql::new(
                "INSERT INTO outbox (event_id, event_type, payload, headers, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(event_id)
            .bind(event_type)
            .bind(payload)
            .bind(headers)
            .bind(Utc::now()),
        )
        .await?;
        Ok(event_id)
    }

    /// Tells the relay that a transaction with outbox rows has committed.
    pub fn wake(&self) {
        self.committed.notify_one();
    }

    /// How many rows were appended so far; compared before and after a
    /// transaction, a change means it may have added some (another
    /// transaction's appends only cost a needless wake-up, never a missed one).
    pub fn appended(&self) -> u64 {
        self.appended.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// How the relay publishes and follows up what it published.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How often to look for rows when nobody wakes the relay (e.g. rows
    /// committed by another replica).
    pub poll_every: Duration,
    /// How often published rows are checked against the queue: lost ones
    /// are published again, consumed ones are settled.
    pub settle_every: Duration,
    /// How long rows are kept after every consumer group has them (for
    /// operators and replays), and how long unsettled rows are followed up.
    pub keep_for: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(1),
            settle_every: Duration::from_secs(5),
            keep_for: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The trace context of a case, as this service first saw it.
async fn case_trace(tx: &mut Tx, request_id: Uuid) -> Result<Option<BTreeMap<String, String>>, DbError> {
    let row =
        tx.fetch_optional(Sql::new("SELECT headers FROM case_traces WHERE request_id = $1").bind(request_id)).await?;
    row.map(|row| row.json("headers")).transpose()
}

/// Keeps a case's trace context, unless one is kept already.
async fn remember_case_trace(tx: &mut Tx, request_id: Uuid, headers: &BTreeMap<String, String>) -> Result<(), DbError> {
    let trace: BTreeMap<&String, &String> =
        headers.iter().filter(|(k, _)| *k != telemetry::REQUEST_ID_HEADER).collect();
    tx.execute(
        Sql::new(
            "INSERT INTO case_traces (request_id, headers, recorded_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(request_id)
        .bind(serde_json::to_value(trace).expect("string maps serialise"))
        .bind(Utc::now()),
    )
    .await?;
    Ok(())
}

/// What one housekeeping round removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub outbox_rows: u64,
    pub inbox_rows: u64,
}

/// How often the relay removes what retention no longer needs.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Outbox rows published per round.
const PUBLISH_BATCH: usize = 100;

/// Rows removed per statement, so housekeeping never holds long locks.
const SWEEP_BATCH: i64 = 1000;

/// Publishes committed outbox rows to the queue, oldest first, and follows
/// them up: the queue is a hand-off, the outbox the record. A row stays
/// unsettled until every consumer group has acknowledged its entry; an
/// entry the queue lost (restart without persistence, failover to a replica
/// that lagged, an emptied server) is published again, and consumers skip
/// what their inbox already holds.
pub struct OutboxRelay {
    pub role: Role,
    pub db: Db,
    pub queue: Arc<dyn Queue>,
    pub outbox: Outbox,
    pub settings: OutboxSettings,
    pub readiness: Readiness,
    /// Where the next settling round reads from (0: the oldest row).
    pub settle_cursor: std::sync::atomic::AtomicI64,
}

/// What one settling round found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Rows every consumer group acknowledged.
    pub consumed: usize,
    /// Rows whose entries the queue lost, to be published again.
    pub republished: usize,
}

impl OutboxRelay {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut link = Link::new(format!("queue ({} relay)", self.role), self.readiness.clone());
        let mut last_settled = tokio::time::Instant::now();
        let mut last_swept: Option<tokio::time::Instant> = None;
        loop {
            let round = async {
                let published = self.publish_batch().await?;
                if last_settled.elapsed() >= self.settings.settle_every {
                    last_settled = tokio::time::Instant::now();
                    self.settle().await?;
                }
                if last_swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                    last_swept = Some(tokio::time::Instant::now());
                    let swept = self.sweep().await?;
                    if swept != Swept::default() {
                        tracing::info!(
                            outbox = swept.outbox_rows,
                            inbox = swept.inbox_rows,
                            "retention: old rows removed"
                        );
                    }
                }
                Ok::<_, RelayError>(published)
            };
            let wait = match round.await {
                Ok(published) => {
                    link.succeeded();
                    // A full batch may have left more; a shorter one took all there was, and
                    // what commits meanwhile wakes the relay (the wake-up is kept until it waits).
                    if published == PUBLISH_BATCH {
                        continue;
                    }
                    self.settings.poll_every.min(self.settings.settle_every)
                }
                Err(RelayError::Db(error)) => {
                    tracing::warn!(%error, "outbox relay: database error; retrying");
                    self.settings.poll_every
                }
                Err(RelayError::Queue(error)) => link.failed(&error),
            };
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // One last pass for what was committed while the service drained.
                    if let Err(error) = self.publish_batch().await {
                        tracing::warn!(%error, "the last outbox pass failed; another replica or the next start publishes it");
                    }
                    return;
                }
                _ = self.outbox.committed.notified(), if !link.is_down() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes up to one batch; returns how many rows went out.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        const POSTGRES_BATCH: &str = "SELECT seq, event_id, event_type, payload, headers FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED";
        const SQLITE_BATCH: &str = "SELECT seq, event_id, event_type, payload, headers FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT $1";
        let mut tx = self.db.begin().await?;
        let batch = match tx.backend() {
            Backend::Postgres => POSTGRES_BATCH,
            Backend::Sqlite => SQLITE_BATCH,
        };
        let rows = tx.fetch_all(Sql::new(batch).bind(PUBLISH_BATCH as i64)).await?;
        let mut published = 0;
        let mut failure = None;
        for row in rows {
            let stored_headers: BTreeMap<String, String> = row.json("headers")?;
            let event_type = row.text("event_type")?;
            let event_id = row.uuid("event_id")?;
            let span = tracing::info_span!(
                "queue.publish",
                otel.name = %format!("{event_type} publish"),
                otel.kind = "producer",
                messaging.system = "masar",
                messaging.destination.name = %event_type,
                messaging.message.id = %event_id,
                masar.request.id = tracing::field::Empty,
            );
            let request_id = telemetry::record_request_id(&span, &stored_headers);
            telemetry::continue_trace(&span, &stored_headers);
            let mut headers = telemetry::trace_headers(&span);
            if let Some(request_id) = request_id {
                headers.insert(telemetry::REQUEST_ID_HEADER.to_owned(), request_id.clone());
            }
            let message = Message { event_id, event_type, payload: row.bytes("payload")?, headers };
            let event_type = message.event_type.clone();
            match self.queue.publish(&message).instrument(span).await {
                Ok(entry_id) => {
                    metrics().published.with_label_values(&[self.role.name(), &event_type]).inc();
                    tx.execute(
                        Sql::new("UPDATE outbox SET published_at = $1, stream_entry_id = $2 WHERE seq = $3")
                            .bind(Utc::now())
                            .bind(entry_id)
                            .bind(row.int("seq")?),
                    )
                    .await?;
                    published += 1;
                }
                Err(error) => {
                    // Keep what went out; the rest is retried on the next round.
                    failure = Some(error);
                    break;
                }
            }
        }
        tx.commit().await?;
        match failure {
            Some(error) if published == 0 => Err(error.into()),
            _ => Ok(published),
        }
    }

    /// Asks the queue what became of published, unsettled rows (oldest first,
    /// within the retention period): consumed ones are settled, lost ones are
    /// made unpublished again so the next batch publishes them anew.
    pub async fn settle(&self) -> Result<Settled, RelayError> {
        const WINDOW: i64 = 500;
        let since = Utc::now() - chrono::Duration::from_std(self.settings.keep_for).unwrap_or(chrono::Duration::MAX);
        // A window at a time past a cursor, so rows that stay unsettled (a group that is down)
        // never hide newer ones; back to the start once the end is reached.
        let after = self.settle_cursor.load(std::sync::atomic::Ordering::Relaxed);
        let rows = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT seq, event_id, event_type, stream_entry_id FROM outbox WHERE settled_at IS NULL \
                     AND published_at IS NOT NULL AND stream_entry_id IS NOT NULL AND created_at >= $1 \
                     AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(since)
                .bind(after)
                .bind(WINDOW),
            )
            .await?;
        let last = rows.last().map(|row| row.int("seq")).transpose()?;
        let next = if (rows.len() as i64) < WINDOW { 0 } else { last.unwrap_or(0) };
        self.settle_cursor.store(next, std::sync::atomic::Ordering::Relaxed);
        let mut by_stream: BTreeMap<String, Vec<(i64, String, Uuid)>> = BTreeMap::new();
        for row in &rows {
            let entry = (row.int("seq")?, row.text("stream_entry_id")?, row.uuid("event_id")?);
            by_stream.entry(row.text("event_type")?).or_default().push(entry);
        }
        let mut settled = Settled::default();
        for (event_type, entries) in by_stream {
            let published: Vec<(String, Uuid)> = entries.iter().map(|(_, id, event)| (id.clone(), *event)).collect();
            let settlement = self.queue.settle(&event_type, &published).await?;
            let rows_of = |ids: &[String]| -> Vec<(i64, String)> {
                entries.iter().filter(|(_, id, _)| ids.contains(id)).map(|(seq, id, _)| (*seq, id.clone())).collect()
            };
            let now = Utc::now();
            let mut tx = self.db.begin().await?;
            for (seq, _) in rows_of(&settlement.consumed) {
                tx.execute(Sql::new("UPDATE outbox SET settled_at = $1 WHERE seq = $2").bind(now).bind(seq)).await?;
                settled.consumed += 1;
            }
            for (seq, entry_id) in rows_of(&settlement.lost) {
                // Only if still as read: another replica may have republished it meanwhile.
                let changed = tx
                    .execute(
                        Sql::new(
                            "UPDATE outbox SET published_at = NULL, stream_entry_id = NULL, \
                             republished = republished + 1 WHERE seq = $1 AND settled_at IS NULL \
                             AND stream_entry_id = $2",
                        )
                        .bind(seq)
                        .bind(entry_id),
                    )
                    .await?;
                settled.republished += changed as usize;
                metrics().republished.with_label_values(&[self.role.name(), &event_type]).inc_by(changed);
            }
            tx.commit().await?;
            if !settlement.lost.is_empty() {
                tracing::warn!(
                    %event_type,
                    lost = settlement.lost.len(),
                    "the queue lost published events; publishing them again from the outbox"
                );
            }
        }
        if settled.republished > 0 {
            self.outbox.wake();
        }
        self.measure_backlog().await?;
        Ok(settled)
    }

    /// The outbox's backlog and the age of its oldest unsettled row, for the metrics.
    async fn measure_backlog(&self) -> Result<(), DbError> {
        let unpublished = self
            .db
            .fetch_optional(Sql::new("SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL"))
            .await?
            .map(|row| row.int("n"))
            .transpose()?
            .unwrap_or(0);
        let oldest = self
            .db
            .fetch_optional(Sql::new(
                "SELECT created_at FROM outbox WHERE settled_at IS NULL AND published_at IS NOT NULL ORDER BY seq LIMIT 1",
            ))
            .await?
            .map(|row| row.time("created_at"))
            .transpose()?;
        let age = oldest.map_or(0.0, |at| (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0);
        metrics().outbox_backlog.with_label_values(&[self.role.name()]).set(unpublished);
        metrics().outbox_oldest_unsettled_seconds.with_label_values(&[self.role.name()]).set(age);
        Ok(())
    }

    /// Removes what the retention period no longer needs: outbox rows
    /// settled longer ago than `keep_for`, inbox rows older than twice that
    /// (an event is never published again once settled, and the inbox must
    /// outlive any redelivery), and stream entries older than `keep_for`.
    /// Every replica may run it: each batch skips rows another is deleting.
    pub async fn sweep(&self) -> Result<Swept, RelayError> {
        const POSTGRES_OUTBOX: &str = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox \
             WHERE settled_at < $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)";
        const SQLITE_OUTBOX: &str =
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE settled_at < $1 ORDER BY seq LIMIT $2)";
        const POSTGRES_INBOX: &str = "DELETE FROM inbox WHERE (consumer_group, event_id) IN \
             (SELECT consumer_group, event_id FROM inbox WHERE processed_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";
        const SQLITE_INBOX: &str = "DELETE FROM inbox WHERE (consumer_group, event_id) IN \
             (SELECT consumer_group, event_id FROM inbox WHERE processed_at < $1 LIMIT $2)";
        let keep_for = chrono::Duration::from_std(self.settings.keep_for).unwrap_or(chrono::Duration::MAX);
        let (outbox, inbox) = match self.db.backend() {
            Backend::Postgres => (POSTGRES_OUTBOX, POSTGRES_INBOX),
            Backend::Sqlite => (SQLITE_OUTBOX, SQLITE_INBOX),
        };
        let mut swept = Swept::default();
        for (statement, before, count) in [
            (outbox, Utc::now() - keep_for, &mut swept.outbox_rows),
            (inbox, Utc::now() - keep_for - keep_for, &mut swept.inbox_rows),
        ] {
            loop {
                let removed = self.db.execute(Sql::new(statement).bind(before).bind(SWEEP_BATCH)).await?;
                *count += removed;
                if removed < SWEEP_BATCH as u64 {
                    break;
                }
            }
        }
        let published: Vec<String> = self
            .db
            .fetch_all(Sql::new("SELECT DISTINCT event_type FROM outbox"))
            .await?
            .iter()
            .map(|row| row.text("event_type"))
            .collect::<Result<_, _>>()?;
        for event_type in published {
            self.queue.trim(&event_type, self.settings.keep_for).await?;
        }
        Ok(swept)
    }
}

/// Why a relay round stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another try later (e.g. an event it depends on has not arrived yet).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (undecodable payload, unknown case): dead-letter it now.
    #[error("{0}")]
    Reject(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<EventError> for HandlerError {
    fn from(error: EventError) -> Self {
        HandlerError::Reject(error.to_string())
    }
}

/// A text in both languages, as events carry it.
pub fn event_text(text: &masar_domain::Bilingual) -> masar_proto::events::v1::Bilingual {
    masar_proto::events::v1::Bilingual { ar: text.ar.clone(), en: text.en.clone() }
}

/// Staff's own words (as typed) and the policy's (in each language), as one
/// list per language: what an event tells the beneficiary.
pub fn listed(typed: &[String], explained: &[masar_proto::events::v1::Bilingual]) -> masar_domain::Bilingual {
    let join = |separator: &str, pick: fn(&masar_proto::events::v1::Bilingual) -> &str| {
        let items = typed.iter().map(String::as_str).chain(explained.iter().map(pick));
        items.map(|i| i.trim().trim_end_matches('.')).filter(|i| !i.is_empty()).collect::<Vec<_>>().join(separator)
    };
    masar_domain::Bilingual::new(join("، ", |b| b.ar.as_str()), join("; ", |b| b.en.as_str()))
}

/// The case an event is about and its request id. An event without a
/// valid case can never be applied, so it is rejected (dead-lettered).
pub fn event_case(case: Option<CaseRef>) -> Result<(Uuid, CaseRef), HandlerError> {
    let case = case.ok_or_else(|| HandlerError::Reject("event has no case".into()))?;
    let request_id = Uuid::parse_str(&case.request_id)
        .map_err(|e| HandlerError::Reject(format!("event's request id '{}': {e}", case.request_id)))?;
    Ok((request_id, case))
}

/// Applies the events a service consumes to its state.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` (decoded from `message`, which names its id and
    /// trace) inside `tx`. On error nothing of it is kept.
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError>;

    /// After an applied event's transaction committed: a stage that acts on
    /// what its handler wrote (the SMS dispatcher) is woken here, not by its polling.
    fn committed(&self) {}
}

#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// After this many deliveries a failing message goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// A delivery unacknowledged this long is taken over by another consumer.
    pub reclaim_after: Duration,
    /// How long one blocking read waits for new messages.
    pub wait: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self { max_deliveries: 5, reclaim_after: Duration::from_secs(30), wait: Duration::from_secs(2) }
    }
}

/// The consumer loop of one consumer group.
pub struct Consumer {
    pub db: Db,
    pub queue: Arc<dyn Queue>,
    pub subscription: Subscription,
    pub handler: Arc<dyn EventHandler>,
    pub settings: ConsumerSettings,
    /// Woken after commits, since handlers often append to the outbox.
    pub outbox: Outbox,
    pub readiness: Readiness,
}

impl Consumer {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut link = Link::new(format!("queue ({} consumer)", self.subscription.group), self.readiness.clone());
        while let Err(error) = self.queue.subscribe(&self.subscription).await {
            let wait = link.failed(&error);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let mut last_reclaim = tokio::time::Instant::now();
        // A read is never cut short: what it takes is processed and acknowledged
        // before stopping (it waits `wait` at most), so a drain leaves nothing pending.
        while !shutdown.is_cancelled() {
            let received = self.queue.receive(&self.subscription, 16, self.settings.wait).await;
            match received {
                Ok(deliveries) => {
                    link.succeeded();
                    for delivery in deliveries {
                        self.process(delivery).await;
                    }
                }
                Err(error) => {
                    let wait = link.failed(&error);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
            }
            if last_reclaim.elapsed() >= self.settings.reclaim_after / 2 {
                last_reclaim = tokio::time::Instant::now();
                if let Err(error) = self.reclaim().await {
                    link.failed(&error);
                }
            }
        }
    }

    /// Takes over deliveries left pending too long; dead-letters the hopeless.
    pub async fn reclaim(&self) -> Result<(), QueueError> {
        let reclaimed = self.queue.reclaim(&self.subscription, self.settings.reclaim_after).await?;
        metrics().reclaimed.with_label_values(&[&self.subscription.group]).inc_by(reclaimed.len() as u64);
        for (event_type, backlog) in self.queue.backlog(&self.subscription).await? {
            let labels = [self.subscription.group.as_str(), event_type.as_str()];
            metrics().consumer_lag.with_label_values(&labels).set(backlog.lag as i64);
            metrics().consumer_pending.with_label_values(&labels).set(backlog.pending as i64);
        }
        for delivery in reclaimed {
            if delivery.delivery_count > self.settings.max_deliveries {
                let reason = format!("gave up after {} deliveries", delivery.delivery_count - 1);
                self.dead_letter(&delivery, &reason).await;
            } else {
                self.process(delivery).await;
            }
        }
        Ok(())
    }

    fn count(&self, delivery: &Delivery, outcome: &str) {
        let labels = [self.subscription.group.as_str(), delivery.message.event_type.as_str(), outcome];
        metrics().processed.with_label_values(&labels).inc();
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) {
        self.count(delivery, "dead_lettered");
        tracing::error!(
            event_type = %delivery.message.event_type,
            event_id = %delivery.message.event_id,
            group = %self.subscription.group,
            %reason,
            "message moved to the dead-letter stream"
        );
        if let Err(error) = self.queue.dead_letter(&self.subscription, delivery, reason).await {
            tracing::warn!(%error, "dead-lettering failed; the message stays pending");
        }
    }

    /// Applies one delivery in its own span, continuing the producer's trace.
    pub async fn process(&self, delivery: Delivery) {
        let message = &delivery.message;
        let span = tracing::info_span!(
            "queue.consume",
            otel.name = %format!("{} process", message.event_type),
            otel.kind = "consumer",
            messaging.system = "masar",
            messaging.destination.name = %message.event_type,
            messaging.consumer.group.name = %self.subscription.group,
            messaging.message.id = %message.event_id,
            messaging.message.delivery_count = delivery.delivery_count,
            masar.request.id = tracing::field::Empty,
        );
        telemetry::record_request_id(&span, &message.headers);
        telemetry::continue_trace(&span, &message.headers);
        async {
            let event = match Event::decode(&message.event_type, &message.payload) {
                Ok(event) => event,
                // Never applicable, however often it is delivered.
                Err(error) => return self.dead_letter(&delivery, &error.to_string()).await,
            };
            let appended_before = self.outbox.appended();
            match self.apply(message, event).await {
                Ok(applied) => {
                    if applied {
                        self.count(&delivery, "applied");
                        self.handler.committed();
                        if self.outbox.appended() != appended_before {
                            self.outbox.wake();
                        }
                    } else {
                        self.count(&delivery, "duplicate");
                        tracing::info!("duplicate delivery skipped");
                    }
                    if let Err(error) = self.queue.ack(&self.subscription, &delivery).await {
                        // Applied and recorded: a redelivery will be skipped.
                        tracing::warn!(%error, "ack failed");
                    }
                }
                Err(HandlerError::Reject(reason)) => self.dead_letter(&delivery, &reason).await,
                Err(error) => {
                    self.count(&delivery, "retry");
                    // Left pending: reclaimed and retried after `reclaim_after`.
                    tracing::warn!(%error, "handling failed; will retry");
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Records the event in the inbox and applies it, in one transaction.
    /// Returns false when the group had already applied it.
    async fn apply(&self, message: &Message, event: Event) -> Result<bool, HandlerError> {
        let mut tx = self.db.begin().await?;
        let first_time = tx
            .execute(
                Sql::new(
                    "INSERT INTO inbox (consumer_group, event_id, processed_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&self.subscription.group)
                .bind(message.event_id)
                .bind(Utc::now()),
            )
            .await?
            == 1;
        if !first_time {
            tx.rollback().await?;
            return Ok(false);
        }
        // The case's trace as this service first meets it, for its own later actions on the case.
        if let Some(request_id) = message.headers.get(telemetry::REQUEST_ID_HEADER).and_then(|id| id.parse().ok()) {
            remember_case_trace(&mut tx, request_id, &message.headers).await?;
        }
        // Every service keeps the sessions revoked: the platform's own, before the service's handler.
        let handled = match event {
            Event::SessionRevoked(revoked) => crate::revocations::Revocations::keep(&mut tx, &revoked).await,
            event => self.handler.handle(&mut tx, message, event).await,
        };
        match handled {
            Ok(()) => {
                tx.commit().await?;
                Ok(true)
            }
            Err(error) => {
                tx.rollback().await?;
                Err(error)
            }
        }
    }
}
