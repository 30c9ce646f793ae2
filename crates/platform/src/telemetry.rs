//! Tracing for the whole journey: `tracing` spans exported through
//! OpenTelemetry (OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set), with the
//! W3C trace context carried across gRPC metadata and queue messages.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::BTreeMap;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Keeps the tracer provider alive; flushes pending spans when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Which spans are exported when `MASAR_TRACE_FILTER` is unset: Masar's own
/// (every crate's target starts with `masar`), not the transport's frame-level
/// spans (h2, hyper, tower), which would outnumber them fifty to one.
pub const DEFAULT_TRACE_FILTER: &str = "masar=info";

/// Logs to stderr (filtered by `RUST_LOG`, default info) and, when an OTLP
/// endpoint is given, exports spans to it as `service_name`, those that
/// `trace_filter` (EnvFilter syntax) lets through.
pub fn init(
    service_name: &str,
    otlp_endpoint: Option<&str>,
    trace_filter: Option<&str>,
) -> Result<Telemetry, TelemetryError> {
    let provider = match otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
                    .build(),
            )
        }
        None => None,
    };
    let exported = EnvFilter::try_new(trace_filter.unwrap_or(DEFAULT_TRACE_FILTER))
        .map_err(|e| TelemetryError::Exporter(format!("MASAR_TRACE_FILTER: {e}")))?;
    install(provider, true, exported)
}

/// Installs the global subscriber with the given provider (tests pass one
/// with an in-memory exporter) exporting the spans `exported` lets through.
pub fn install(
    provider: Option<SdkTracerProvider>,
    log_to_stderr: bool,
    exported: EnvFilter,
) -> Result<Telemetry, TelemetryError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,h2=warn,tower=warn"));
    let logs = log_to_stderr.then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter));
    let otel =
        provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("masar")).with_filter(exported));
    tracing_subscriber::registry().with(logs).with(otel).try_init().map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { provider })
}

/// The W3C trace context of `span`, as header name → value.
pub fn trace_headers(span: &Span) -> BTreeMap<String, String> {
    let mut headers = MapCarrier(BTreeMap::new());
    TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
    headers.0
}

/// The trace the current span belongs to, as 32 hex digits; `None` when
/// spans are not exported (no trace is kept then).
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let context = Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// The queue message header naming the case (request) an event is about,
/// so that every span of its hand-off carries `masar.request.id`.
pub const REQUEST_ID_HEADER: &str = "masar-request-id";

/// Names on `span` (declared with `masar.request.id = Empty`) the case a
/// message's `headers` say it is about, and returns that request id.
pub fn record_request_id<'a>(span: &Span, headers: &'a BTreeMap<String, String>) -> Option<&'a String> {
    let request_id = headers.get(REQUEST_ID_HEADER)?;
    span.record("masar.request.id", request_id.as_str());
    Some(request_id)
}

/// The span of an action on a case: a child of the case's trace
/// (`case_trace`, the context stored when the case was filed) and linked to
/// the trace of the call that caused it, so one trace shows the whole case
/// and each call's own trace still exists. Without a case trace yet, a child
/// of the current span: that call's trace becomes the case's.
pub fn case_action_span(action: &str, request_id: uuid::Uuid, case_trace: Option<&BTreeMap<String, String>>) -> Span {
    use opentelemetry::trace::TraceContextExt as _;
    let caller = Span::current().context().span().span_context().clone();
    let span = tracing::info_span!("case.action", otel.name = %action, masar.request.id = %request_id);
    if let Some(case) = case_trace {
        let parent = TraceContextPropagator::new().extract(&MapCarrier(case.clone()));
        let case_trace_id = parent.span().span_context().trace_id();
        let _ = span.set_parent(parent);
        if caller.is_valid() && caller.trace_id() != case_trace_id {
            span.add_link(caller);
        }
    }
    span
}

/// Makes `span` a child of the trace context found in `headers` (if any).
pub fn continue_trace(span: &Span, headers: &BTreeMap<String, String>) {
    let parent = TraceContextPropagator::new().extract(&MapCarrier(headers.clone()));
    let _ = span.set_parent(parent);
}

/// Same, reading HTTP/gRPC request headers.
pub fn continue_trace_from_http(span: &Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderCarrier(headers));
    let _ = span.set_parent(parent);
}

/// Writes the current span's trace context into gRPC metadata.
pub fn inject_into_metadata(span: &Span, metadata: &mut tonic::metadata::MetadataMap) {
    for (name, value) in trace_headers(span) {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(name.as_bytes()), tonic::metadata::MetadataValue::try_from(value))
        {
            metadata.insert(key, value);
        }
    }
}

struct MapCarrier(BTreeMap<String, String>);

impl Injector for MapCarrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for MapCarrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct HeaderCarrier<'a>(&'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
