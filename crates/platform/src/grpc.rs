//! The gRPC kit every service uses: a server with health, reflection and a
//! span per RPC; client channels that carry the trace context (balanced over
//! replicas by [`crate::replicas`]); bilingual problem details on every error status.

use crate::health::{QUEUE_HEALTH, Readiness};
use crate::telemetry;
use masar_domain::{Bilingual, FieldError};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower_http::trace::TraceLayer;

/// Status metadata: seconds to wait before trying again (sign-in locks, rate limits).
pub const RETRY_AFTER: &str = "retry-after";

/// A client channel whose calls carry the caller's trace context.
pub type TracedChannel = InterceptedService<Channel, fn(tonic::Request<()>) -> Result<tonic::Request<()>, Status>>;

pub(crate) fn inject_trace_context(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    telemetry::inject_into_metadata(&tracing::Span::current(), request.metadata_mut());
    Ok(request)
}

/// Serves `routes` on `listener` with grpc.health.v1 (reporting `service_names`
/// as serving, and [`QUEUE_HEALTH`] as `readiness` says), server reflection,
/// a span per RPC that continues the caller's trace, and the gateway's
/// vouchers checked with `forwarding`. Returns when `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    routes: tonic::service::Routes,
    service_names: &[&str],
    readiness: Readiness,
    shutdown: CancellationToken,
    drain_delay: Duration,
    forwarding: crate::forwarding::ForwardingKey,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // "" is the whole server: the liveness probe's question. A queue outage is not
    // mended by a restart, so it shows in QUEUE_HEALTH, the readiness probe's.
    for name in std::iter::once(&"").chain(service_names) {
        health_reporter.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
    }
    let mut ready = readiness.watch();
    let reporter = health_reporter.clone();
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        while !stopping.is_cancelled() {
            let status = if *ready.borrow_and_update() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status(QUEUE_HEALTH, status).await;
            tokio::select! {
                changed = ready.changed() => if changed.is_err() { return },
                _ = stopping.cancelled() => return,
            }
        }
    });
    // Reflection lists what this port serves, not every service of the suite.
    let reflection = service_names
        .iter()
        .chain(&["grpc.health.v1.Health"])
        .fold(tonic_reflection::server::Builder::configure(), |builder, name| builder.with_service_name(*name))
        .register_encoded_file_descriptor_set(masar_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the compiled descriptor sets are valid");
    let routes = routes.add_service(health_service).add_service(reflection);
    // Stopping: not ready at once (every name), still serving for the drain delay, then graceful.
    let names: Vec<String> =
        std::iter::once("").chain(service_names.iter().copied()).chain([QUEUE_HEALTH]).map(str::to_owned).collect();
    let drained = async move {
        shutdown.cancelled().await;
        for name in &names {
            health_reporter.set_service_status(name, tonic_health::ServingStatus::NotServing).await;
        }
        tokio::time::sleep(drain_delay).await;
    };

    tonic::transport::Server::builder()
        .layer(TraceLayer::new_for_grpc().make_span_with(rpc_span).on_failure(log_failure))
        .layer(tower::layer::layer_fn(RpcMetrics))
        .layer(tower::layer::layer_fn(move |inner| crate::forwarding::CheckVouchers { inner, key: forwarding.clone() }))
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            drained,
        )
        .await
}

/// An HTTP listener whose every accepted connection sends at once
/// (`TCP_NODELAY`): with Nagle's algorithm on, an answer written in two
/// parts waits for the peer's delayed ACK, some 40 ms a call. Services'
/// gRPC listeners get the same from `TcpIncoming::with_nodelay`; clients
/// (tonic's `Endpoint`, reqwest) set it by default.
pub fn without_delay(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt as _;
    listener.tap_io(send_at_once)
}

fn send_at_once(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::warn!(%error, "TCP_NODELAY could not be set on a connection");
    }
}

/// Counts each call answered, with its latency, by method and gRPC status.
#[derive(Clone)]
struct RpcMetrics<S>(S);

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let started = std::time::Instant::now();
        let answer = self.0.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // Errors travel in the headers (trailers-only); a success's status comes in trailers: 0.
            let code = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0").to_owned();
            let (service, method) = match path.split_once('/') {
                // An unknown method is not a label of its own: callers must not grow the series.
                Some(_) if code == "12" => ("unknown", "unknown"),
                Some(split) => split,
                None => ("unknown", "unknown"),
            };
            crate::metrics::metrics()
                .rpc
                .with_label_values(&[service, method, &code])
                .observe(started.elapsed().as_secs_f64());
            // Runs inside the RPC's span (the trace layer wraps this one).
            let span = tracing::Span::current();
            span.record("rpc.grpc.status_code", code.as_str());
            if code.parse().is_ok_and(|code| is_server_fault(Code::from_i32(code))) {
                span.record("otel.status_code", "ERROR");
            }
            Ok(response)
        })
    }
}

/// Logs a call that did not succeed by whose fault it was: a refusal (the
/// caller's input, identity or scope) is routine, at INFO with its code; only
/// what an operator must look at (internal, unavailable, …) is an ERROR.
fn log_failure(failure: tower_http::classify::GrpcFailureClass, latency: Duration, _span: &tracing::Span) {
    use tower_http::classify::GrpcFailureClass;
    let latency_ms = latency.as_millis() as u64;
    match failure {
        GrpcFailureClass::Status(status) => {
            let code = Code::from_i32(status.code_raw());
            if is_server_fault(code) {
                tracing::error!(grpc_code = ?code, latency_ms, "call failed");
            } else {
                tracing::info!(grpc_code = ?code, latency_ms, "call refused");
            }
        }
        other => tracing::error!(failure = %other, latency_ms, "call failed"),
    }
}

/// Codes that mean the service failed, not the caller: unknown, deadline, internal, unavailable, data loss.
pub fn is_server_fault(code: Code) -> bool {
    matches!(code, Code::Unknown | Code::DeadlineExceeded | Code::Internal | Code::Unavailable | Code::DataLoss)
}

/// One span per RPC, named after the method, child of the caller's span.
fn rpc_span<B>(request: &http::Request<B>) -> tracing::Span {
    let path = request.uri().path();
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    telemetry::continue_trace_from_http(&span, request.headers());
    span
}

/// What went wrong, for a person: a message in both languages and, for
/// invalid input, which fields and why; for a program, a stable reason
/// (`session.revoked`, `request.not_found`, …) to branch on, never the text.
/// Travels in the status details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub message: Bilingual,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// `<subject>.<what>`; when a refusal names none, [`reason_of`] its code gives one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Problem {
    pub fn new(message: Bilingual) -> Self {
        Self { message, fields: Vec::new(), reason: String::new() }
    }

    pub fn invalid(fields: Vec<FieldError>) -> Self {
        Self {
            message: Bilingual::new("بعض البيانات المدخلة غير صحيحة", "Some of the data entered is not valid"),
            fields,
            reason: "input.invalid".into(),
        }
    }

    /// This problem, with the stable reason programs read.
    pub fn because(self, reason: &'static str) -> Self {
        Self { reason: reason.to_owned(), ..self }
    }

    /// The status carrying this problem; `code` says what kind of failure it is.
    pub fn into_status(self, code: Code) -> Status {
        let details = serde_json::to_vec(&self).unwrap_or_default();
        Status::with_details(code, self.message.en.clone(), details.into())
    }

    /// Reads the problem back from a status; statuses from elsewhere get a
    /// generic message, and every problem a reason.
    pub fn from_status(status: &Status) -> Self {
        let mut problem: Self =
            serde_json::from_slice(status.details()).unwrap_or_else(|_| Self::new(generic_message(status.code())));
        if problem.reason.is_empty() {
            problem.reason = reason_of(status.code()).to_owned();
        }
        problem
    }
}

/// The reason of a refusal that names none of its own: its kind.
pub fn reason_of(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument | Code::OutOfRange => "input.invalid",
        Code::Unauthenticated => "session.required",
        Code::PermissionDenied => "caller.not_allowed",
        Code::NotFound => "record.not_found",
        Code::AlreadyExists => "record.exists",
        Code::Aborted => "record.changed_meanwhile",
        Code::FailedPrecondition => "record.wrong_state",
        Code::ResourceExhausted => "caller.too_many",
        Code::Unavailable => "service.unavailable",
        Code::DeadlineExceeded => "service.timed_out",
        Code::Unimplemented => "service.not_implemented",
        Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => "service.failed",
    }
}

fn generic_message(code: Code) -> Bilingual {
    match code {
        Code::NotFound => Bilingual::new("لم يتم العثور على المطلوب", "Not found"),
        Code::PermissionDenied => Bilingual::new("ليست لديك صلاحية لهذا الإجراء", "You are not allowed to do this"),
        Code::Unauthenticated => Bilingual::new("يلزم تسجيل الدخول", "Sign-in required"),
        Code::InvalidArgument => Bilingual::new("البيانات المدخلة غير صحيحة", "The data entered is not valid"),
        Code::FailedPrecondition => {
            Bilingual::new("لا يمكن تنفيذ الإجراء في حالة الطلب الحالية", "Not possible in the request's current state")
        }
        Code::Unavailable | Code::DeadlineExceeded => Bilingual::new(
            "الخدمة غير متاحة مؤقتاً، حاول لاحقاً",
            "The service is temporarily unavailable; try again later",
        ),
        _ => Bilingual::new("حدث خطأ غير متوقع", "An unexpected error occurred"),
    }
}

/// The status for an internal failure: logged in full here, vague outside.
pub fn internal(error: impl std::fmt::Display) -> Status {
    tracing::error!(%error, "internal error");
    Problem::new(generic_message(Code::Internal)).because("service.failed").into_status(Code::Internal)
}

/// A store's failure is the service's, not the caller's: `?` in an RPC
/// turns it into [`internal`], converted here, where the error is owned.
impl From<crate::db::DbError> for Status {
    fn from(error: crate::db::DbError) -> Self {
        internal(error)
    }
}

/// A free-text field cleaned by `rule` (see `masar_domain::input`), or the
/// refusal naming it.
pub fn cleaned(field: &str, raw: &str, rule: masar_domain::TextRule) -> Result<String, Status> {
    masar_domain::clean_text(field, raw, rule).map_err(|problem| invalid_input(vec![problem]))
}

/// Reads a required UUID field, or explains the problem.
pub fn parse_uuid(field: &str, value: &str) -> Result<uuid::Uuid, Status> {
    uuid::Uuid::parse_str(value.trim()).map_err(|_| {
        invalid_input(vec![FieldError::new(field, Bilingual::new("المعرّف غير صحيح", "Not a valid identifier"))])
    })
}

/// A case's policy version this service has not kept yet (its announcement
/// is on the way): the caller tries again shortly.
pub fn policy_version_not_yet_kept(association: &str, version: u32) -> Status {
    tracing::warn!(%association, version, "policy version not known yet");
    Problem::new(Bilingual::new(
        "إصدار السياسة لهذا الطلب غير متاح بعد، حاول لاحقاً",
        "The policy version of this case is not available yet; try again shortly",
    ))
    .into_status(Code::Unavailable)
}

/// The case changed between reading and writing: another staff member
/// acted first. Status changes are conditional updates that detect this.
pub fn changed_meanwhile() -> Status {
    Problem::new(Bilingual::new(
        "تم تحديث الطلب من مستخدم آخر، يرجى إعادة تحميله والمحاولة مجدداً",
        "The request was changed meanwhile; reload it and try again",
    ))
    .because("record.changed_meanwhile")
    .into_status(Code::Aborted)
}

/// Input refused field by field: `InvalidArgument` with every field's problem.
pub fn invalid_input(fields: Vec<FieldError>) -> Status {
    Problem::invalid(fields).into_status(Code::InvalidArgument)
}

/// Refuses an action taken on an older reading of a record (the front end's
/// `If-Match`): `expected` is the version the caller saw, 0 for any.
pub fn ensure_version(expected: u64, current: u64) -> Result<(), Status> {
    if expected == 0 || expected == current { Ok(()) } else { Err(changed_meanwhile()) }
}

/// The common "no such request" answer, the same whether it does not exist
/// or is outside the caller's scope (so scope cannot be probed).
pub fn request_not_found() -> Status {
    Problem::new(Bilingual::new("الطلب غير موجود", "No such request"))
        .because("request.not_found")
        .into_status(Code::NotFound)
}

/// An optional day on the wire: ISO `YYYY-MM-DD`, or empty.
pub fn iso_day_or_empty(day: Option<chrono::NaiveDate>) -> String {
    day.map(|d| d.to_string()).unwrap_or_default()
}

/// An optional day's Umm al-Qura date on the wire, or empty.
pub fn hijri_day_or_empty(day: Option<chrono::NaiveDate>) -> String {
    day.map(|d| masar_domain::HijriDate::from_gregorian(d).to_string()).unwrap_or_default()
}
