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
    let logs = log_to_stderr.then(|| {
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        // JSON for a log pipeline (`MASAR_LOG_FORMAT=json`, as in k8s/); text for people.
        match std::env::var("MASAR_LOG_FORMAT").as_deref() {
            Ok("json") => layer.json().with_filter(filter).boxed(),
            _ => layer.fmt_fields(escaped_fields()).with_filter(filter).boxed(),
        }
    });
    let otel =
        provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("masar")).with_filter(exported));
    tracing_subscriber::registry().with(logs).with(otel).try_init().map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { provider })
}

/// Text log fields with every control and bidi-control character escaped:
/// what a caller typed (a sign-in field, say) can never forge a log line,
/// move the terminal or reorder what an operator reads.
fn escaped_fields() -> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + 'static {
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        if field.name() == "message" {
            write!(writer, "{}", Escaped(value))
        } else {
            write!(writer, "{field}={}", Escaped(value))
        }
    })
    .delimited(" ")
}

/// A value as `Debug` writes it, with control and bidi-control characters as `\u{…}`.
struct Escaped<'a>(&'a dyn std::fmt::Debug);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for c in format!("{:?}", self.0).chars() {
            if is_unsafe_in_a_log(c) {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Characters that must not reach a log in the raw: controls (newline,
/// escape) and the bidi controls that reorder a line (U+202A…E, U+2066…9).
fn is_unsafe_in_a_log(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// Collects what the log layer writes.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn what_a_caller_types_cannot_forge_a_log_line_or_move_the_terminal() {
        let written = Written::default();
        let out = written.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(super::escaped_fields())
            .with_ansi(false)
            .with_writer(move || out.clone())
            .finish();
        let typed = "nuzul\n2026-12-02T00:00:00Z  INFO masar: signed in role=admin\u{1b}[2J\u{202e}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(association = %typed, username = typed, "sign-in refused {typed}");
        });
        let log = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(!log.trim_end().chars().any(super::is_unsafe_in_a_log), "{log}");
        assert!(log.contains("association=nuzul\\u{a}2026"), "{log}");
    }
}
