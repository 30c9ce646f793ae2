//! Prometheus metrics: one registry per process (`masar dev` runs every role
//! in one, so series name their role, service or consumer group), served as
//! text at `/metrics` on a port of its own, apart from the API.
//!
//! What is measured is what an operator acts on: calls and their errors and
//! latency, the hand-offs (published, processed, republished, dead-lettered,
//! reclaimed), the outbox's backlog, consumer lag, SMS by provider and
//! outcome, sign-in failures and locks. Labels never carry personal data.

use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::LazyLock;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Metrics {
    registry: Registry,
    /// gRPC calls a service answered: service, method, grpc status code.
    pub rpc: HistogramVec,
    /// HTTP calls the gateway answered: method, route template, status.
    pub http: HistogramVec,
    /// Events published from an outbox: role, event type.
    pub published: IntCounterVec,
    /// Events published again because the queue lost them: role, event type.
    pub republished: IntCounterVec,
    /// Outbox rows not yet published: role.
    pub outbox_backlog: IntGaugeVec,
    /// Age of the oldest published row not yet consumed by every group: role.
    pub outbox_oldest_unsettled_seconds: GaugeVec,
    /// Deliveries a consumer group handled: group, event type, outcome
    /// (`applied`, `duplicate`, `retry`, `dead_lettered`).
    pub processed: IntCounterVec,
    /// Deliveries taken over from a consumer that left them pending: group.
    pub reclaimed: IntCounterVec,
    /// Entries of a stream a group has not read yet, and read but not acknowledged: group, event type.
    pub consumer_lag: IntGaugeVec,
    pub consumer_pending: IntGaugeVec,
    /// 1 while a link to the queue is down: link.
    pub queue_down: IntGaugeVec,
    /// SMS handed to a provider: provider, outcome (`sent`, `retry`, `failed`).
    pub sms: IntCounterVec,
    /// Cases by association and status, the age of each status's oldest
    /// submission, and cases past the reply date promised to the beneficiary.
    pub cases: IntGaugeVec,
    pub oldest_case_seconds: GaugeVec,
    pub cases_past_promised_reply: IntGaugeVec,
    /// Failed sign-ins, and those that locked a username (no label: the
    /// association is what a caller typed, and must not grow the series).
    pub sign_in_failures: IntCounter,
    pub sign_in_locks: IntCounter,
    /// Statements sent to the database: system (`postgresql`, `sqlite`), operation (`SELECT`, `INSERT`, …).
    /// Each is a round trip (on SQLite, a hand-off to the connection's thread): the bench divides them by filings.
    pub db_statements: IntCounterVec,
    /// Seconds SQLite's writers spent, by database and phase: `waiting` for
    /// the file's one writer lane, `writing` while holding it, and of that
    /// `committing` (the WAL's sync to disk). Writing time
    /// over wall time is how busy the lane is: near 1, the lane bounds the rate.
    pub sqlite_writer_seconds: CounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

fn plain_counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    // From 1 ms to 10 s: a hop on loopback up to a slow provider.
    let buckets = vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    let metric = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("a valid metric");
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let r = Registry::new();
    let oldest = GaugeVec::new(
        Opts::new("masar_outbox_oldest_unsettled_seconds", "Age of the oldest event not yet consumed by every group"),
        &["role"],
    )
    .expect("a valid metric");
    r.register(Box::new(oldest.clone())).expect("registered once");
    let oldest_case = GaugeVec::new(
        Opts::new("masar_oldest_case_seconds", "Time since the oldest case in a status was submitted"),
        &["association", "status"],
    )
    .expect("a valid metric");
    r.register(Box::new(oldest_case.clone())).expect("registered once");
    Metrics {
        cases: gauge(&r, "masar_cases", "Cases by association and status", &["association", "status"]),
        oldest_case_seconds: oldest_case,
        cases_past_promised_reply: gauge(
            &r,
            "masar_cases_past_promised_reply",
            "Cases waiting past the promised reply date",
            &["association"],
        ),
        rpc: histogram(&r, "masar_rpc_duration_seconds", "gRPC calls answered", &["service", "method", "code"]),
        http: histogram(
            &r,
            "masar_http_duration_seconds",
            "HTTP calls the gateway answered",
            &["method", "route", "status"],
        ),
        published: counter(
            &r,
            "masar_events_published_total",
            "Events published from an outbox",
            &["role", "event_type"],
        ),
        republished: counter(
            &r,
            "masar_events_republished_total",
            "Events published again after the queue lost them",
            &["role", "event_type"],
        ),
        outbox_backlog: gauge(&r, "masar_outbox_backlog", "Outbox rows not yet published", &["role"]),
        outbox_oldest_unsettled_seconds: oldest,
        processed: counter(
            &r,
            "masar_events_processed_total",
            "Deliveries a consumer group handled",
            &["group", "event_type", "outcome"],
        ),
        reclaimed: counter(
            &r,
            "masar_events_reclaimed_total",
            "Deliveries taken over from another consumer",
            &["group"],
        ),
        consumer_lag: gauge(
            &r,
            "masar_consumer_lag",
            "Stream entries a group has not read yet",
            &["group", "event_type"],
        ),
        consumer_pending: gauge(
            &r,
            "masar_consumer_pending",
            "Entries read but not acknowledged",
            &["group", "event_type"],
        ),
        queue_down: gauge(&r, "masar_queue_down", "1 while a link to the queue is down", &["link"]),
        sms: counter(&r, "masar_sms_total", "SMS handed to a provider, by outcome", &["provider", "outcome"]),
        sign_in_failures: plain_counter(&r, "masar_sign_in_failures_total", "Failed sign-ins"),
        sign_in_locks: plain_counter(&r, "masar_sign_in_locks_total", "Failed sign-ins that locked a username"),
        db_statements: counter(
            &r,
            "masar_db_statements_total",
            "Statements sent to the database",
            &["system", "operation"],
        ),
        sqlite_writer_seconds: {
            let opts = Opts::new(
                "masar_sqlite_writer_seconds_total",
                "Seconds SQLite writers waited for or held the writer lane",
            );
            let metric = CounterVec::new(opts, &["database", "phase"]).expect("a valid metric");
            r.register(Box::new(metric.clone())).expect("registered once");
            metric
        },
        registry: r,
    }
});

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    /// The statements sent so far, by operation (`BEGIN`, `SELECT`, …, `COMMIT`) over both systems.
    pub fn db_statement_counts(&self) -> std::collections::BTreeMap<String, u64> {
        use prometheus::core::Collector as _;
        let mut counts = std::collections::BTreeMap::new();
        for family in self.db_statements.collect() {
            for metric in family.get_metric() {
                let operation = metric.get_label().iter().find(|l| l.name() == "operation").map(|l| l.value());
                *counts.entry(operation.unwrap_or_default().to_owned()).or_default() +=
                    metric.get_counter().get_value() as u64;
            }
        }
        counts
    }

    /// Seconds each SQLite database's writers spent so far in `phase` (`waiting`, `writing`, `committing`).
    pub fn sqlite_writer_seconds(&self, phase: &str) -> std::collections::BTreeMap<String, f64> {
        use prometheus::core::Collector as _;
        let mut seconds = std::collections::BTreeMap::new();
        for family in self.sqlite_writer_seconds.collect() {
            for metric in family.get_metric() {
                let label = |name: &str| metric.get_label().iter().find(|l| l.name() == name).map(|l| l.value());
                if label("phase") == Some(phase) {
                    seconds.insert(label("database").unwrap_or_default().to_owned(), metric.get_counter().get_value());
                }
            }
        }
        seconds
    }
}

/// Every metric in Prometheus's text format.
pub fn render() -> String {
    let mut out = Vec::new();
    TextEncoder::new().encode(&METRICS.registry.gather(), &mut out).expect("text encoding does not fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

/// Serves `GET /metrics` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], render()) }),
    );
    axum::serve(crate::grpc::without_delay(listener), app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}
