//! Stable error bodies: `{code, reason, message: {ar, en}, fields: [...]}`,
//! and the one table from gRPC status to HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use masar_domain::{Bilingual, FieldError};
use masar_platform::grpc::Problem;
use serde::Serialize;
use tonic::Code;

/// The body of every refusal and failure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// Stable, for programs: `invalid_argument`, `unauthenticated`, `permission_denied`, `not_found`,
    /// `conflict`, `failed_precondition`, `resource_exhausted`, …
    pub code: &'static str,
    /// Stable and finer, for programs to branch on (never on the text):
    /// `<subject>.<what>`, e.g. `session.revoked`, `session.expired`,
    /// `sign_in.wrong_credentials`, `sign_in.wait`, `request.not_found`,
    /// `record.changed_meanwhile`, `input.invalid`, `caller.role_not_allowed`,
    /// `route.method_not_allowed`, `caller.too_many`, `idempotency.in_progress`.
    pub reason: String,
    /// For people, in Arabic and English.
    pub message: Bilingual,
    /// The message in the language asked for with `Accept-Language` (Arabic
    /// by default); the gateway adds it to every error on the way out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The input fields to correct, each with its own message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// Seconds to wait before trying again, sent as `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// gRPC status → (HTTP status, stable error code). The only such table; an
/// action made conditional with `If-Match` is the one refinement (`ApiError::conditional`).
pub fn http_status(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "invalid_argument"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
        Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, "conflict"),
        Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
        Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let (http, code) = http_status(status.code());
        if http.is_server_error() {
            tracing::warn!(grpc_code = ?status.code(), message = %status.message(), "service call failed");
        }
        let problem = Problem::from_status(&status);
        let retry_after = status
            .metadata()
            .get(masar_platform::grpc::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Self {
            status: http,
            code,
            reason: problem.reason,
            message: problem.message,
            text: None,
            fields: problem.fields,
            retry_after,
        }
    }
}

impl ApiError {
    /// A service's refusal of an action the caller made conditional with
    /// `If-Match`. gRPC has one code (`Aborted`) for any lost race; over
    /// HTTP, one lost to a change since the caller's reading is `412`.
    pub(crate) fn conditional(status: tonic::Status) -> Self {
        match status.code() {
            Code::Aborted => {
                Self { status: StatusCode::PRECONDITION_FAILED, code: "precondition_failed", ..Self::from(status) }
            }
            _ => Self::from(status),
        }
    }

    pub fn new(status: StatusCode, code: &'static str, message: Bilingual) -> Self {
        let reason = reason_of_http(status).to_owned();
        Self { status, code, reason, message, text: None, fields: Vec::new(), retry_after: None }
    }

    /// This error, with the reason programs read.
    pub fn because(self, reason: &str) -> Self {
        Self { reason: reason.to_owned(), ..self }
    }

    pub fn bad_request(message: Bilingual) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A body over the route's limit, refused before any handler read it.
    pub fn too_large() -> Self {
        let message = Bilingual::new("حجم الطلب أكبر من المسموح", "The request body is too large");
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", message)
    }

    pub fn timed_out() -> Self {
        let message = Bilingual::new("انتهت مهلة الطلب، حاول مرة أخرى", "The request took too long; please try again");
        Self::new(StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded", message)
    }

    pub fn conflict(message: Bilingual) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unavailable() -> Self {
        let message = Bilingual::new(
            "الخدمة غير متاحة مؤقتاً، حاول مرة أخرى",
            "The service is briefly unavailable; please try again",
        );
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal() -> Self {
        let message = Bilingual::new("حدث خطأ داخلي، حاول مرة أخرى", "Something went wrong; please try again");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A client that used up its requests for now.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let message =
            Bilingual::new("طلبات كثيرة في وقت قصير، حاول بعد قليل", "Too many requests; please try again shortly");
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "resource_exhausted", message)
        }
    }

    /// A route that exists, called with a method it does not have (`Allow` lists those it has).
    pub fn method_not_allowed() -> Self {
        let message = Bilingual::new("هذه العملية غير متاحة على هذا المسار", "This method is not allowed on this path");
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", Bilingual::new("المسار غير موجود", "No such endpoint"))
    }
}

/// The reason of an answer the gateway makes itself, by its status.
fn reason_of_http(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "input.unreadable",
        StatusCode::UNAUTHORIZED => "session.required",
        StatusCode::FORBIDDEN => "caller.not_allowed",
        StatusCode::NOT_FOUND => "route.not_found",
        StatusCode::METHOD_NOT_ALLOWED => "route.method_not_allowed",
        StatusCode::CONFLICT => "record.conflict",
        StatusCode::PRECONDITION_FAILED => "record.changed_meanwhile",
        StatusCode::PAYLOAD_TOO_LARGE => "input.too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "input.invalid",
        StatusCode::TOO_MANY_REQUESTS => "caller.too_many",
        StatusCode::SERVICE_UNAVAILABLE => "service.unavailable",
        StatusCode::GATEWAY_TIMEOUT => "service.timed_out",
        _ if status.is_server_error() => "service.failed",
        _ => "request.refused",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let mut response = (self.status, Json(self)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
