//! The REST routes. Each handler turns JSON into one gRPC call and back; the
//! types it reads and answers are the OpenAPI document's schemas, so the
//! document is generated from the same code that serves the routes.

use crate::error::ApiError;
use crate::idempotency::replay_retries;
use crate::limits::{RateLimiter, limit_rate};
use crate::{Gateway, Replays, Services};
use crate::{docs, language};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::{Json, Router};
use masar_domain::{Bilingual, FieldError, Language};
use masar_platform::audit::CORRELATION_ID;
use masar_platform::config::GatewaySettings;
use masar_platform::forwarding::{FORWARDED, ForwardingKey};
use masar_platform::identity::{attach_token, bearer, token_refused};
use masar_platform::telemetry;
use masar_platform::tokens::{TokenError, TokenVerifier};
use masar_proto::intake::v1 as intake;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod audit;
mod committee;
mod inquiries;
mod people;
mod requests;
mod research;
mod roster;
mod satisfaction;
mod sessions;
mod supervision;
mod verification;

/// A JSON answer, or the stable error body.
type Reply<T> = Result<Json<T>, ApiError>;
/// A `201 Created` JSON answer, or the stable error body.
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

fn created<T>(value: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(value))
}

/// Names each HTTP request; kept in the services' audit trails and echoed to the caller.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static(CORRELATION_ID);
/// How long a call may take before the gateway answers `504`.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest upload the gateway passes on; intake checks the document's own limit.
const UPLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// The largest JSON body (every route but uploads).
pub(crate) const JSON_BODY_LIMIT: usize = 256 * 1024;

/// The OpenAPI document the gateway serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    docs::finish(api().split_for_parts().1)
}

/// Every route of the API with its OpenAPI operation, collected together so
/// the document cannot leave a route out.
fn api() -> OpenApiRouter<Arc<Services>> {
    // Documents are the one large body; everything else is small JSON.
    let uploads = OpenApiRouter::new()
        .routes(routes!(requests::upload_document))
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT))
        .layer(RequestBodyLimitLayer::new(UPLOAD_LIMIT));
    OpenApiRouter::with_openapi(docs::described())
        .routes(routes!(requests::get_policy))
        .routes(routes!(people::register_account))
        .routes(routes!(sessions::change_password))
        .routes(routes!(sessions::sign_in))
        .routes(routes!(sessions::refresh))
        .routes(routes!(sessions::sign_out))
        .routes(routes!(people::list_possible_duplicates))
        .routes(routes!(people::get_beneficiary))
        .routes(routes!(people::list_account_claims))
        .routes(routes!(people::verify_account_holder))
        .routes(routes!(people::close_account_claim))
        .routes(routes!(people::start_identity_check))
        .routes(routes!(people::get_identity_check))
        .routes(routes!(inquiries::ask_question, inquiries::list_inquiries))
        .routes(routes!(inquiries::get_inquiry))
        .routes(routes!(inquiries::refer_inquiry))
        .routes(routes!(inquiries::answer_inquiry))
        .routes(routes!(requests::create_request, requests::list_requests))
        .routes(routes!(requests::submit_request))
        .routes(routes!(requests::get_request))
        .routes(routes!(requests::get_timeline))
        .routes(routes!(requests::get_document_file))
        .routes(routes!(requests::get_case_file))
        .routes(routes!(requests::resubmit_request))
        .routes(routes!(requests::ask_to_move_visit))
        .routes(routes!(requests::list_messages))
        .routes(routes!(verification::list_pending))
        .routes(routes!(verification::review_document))
        .routes(routes!(verification::accept_request))
        .routes(routes!(verification::return_for_completion))
        .routes(routes!(verification::declare_ineligible))
        .routes(routes!(research::list_assignments))
        .routes(routes!(research::list_unassigned))
        .routes(routes!(research::reassign_researcher))
        .routes(routes!(roster::list_roster))
        .routes(routes!(roster::set_roster_entry))
        .routes(routes!(roster::add_leave))
        .routes(routes!(roster::cancel_leave))
        .routes(routes!(research::record_field_visit))
        .routes(routes!(research::get_research_file))
        .routes(routes!(research::schedule_visit))
        .routes(routes!(research::score_criteria))
        .routes(routes!(research::record_recommendation))
        .routes(routes!(committee::get_agenda))
        .routes(routes!(committee::cast_vote))
        .routes(routes!(committee::record_decision))
        .routes(routes!(committee::get_decisions))
        .routes(routes!(committee::declare_conflict))
        .routes(routes!(committee::schedule_meeting, committee::list_meetings))
        .routes(routes!(committee::get_meeting))
        .routes(routes!(committee::record_attendance))
        .routes(routes!(committee::close_meeting))
        .routes(routes!(committee::cancel_meeting))
        .routes(routes!(committee::get_minutes, committee::amend_minutes))
        .routes(routes!(committee::print_minutes))
        .routes(routes!(committee::confirm_minutes))
        .routes(routes!(satisfaction::record_delivery, satisfaction::get_delivery_plan))
        .routes(routes!(satisfaction::record_delivery_step))
        .routes(routes!(satisfaction::confirm_delivery_step))
        .routes(routes!(satisfaction::rate_service))
        .routes(routes!(satisfaction::get_satisfaction))
        .routes(routes!(supervision::list_overdue))
        .routes(routes!(supervision::list_alerts))
        .routes(routes!(audit::get_case_trail))
        .layer(RequestBodyLimitLayer::new(JSON_BODY_LIMIT))
        .merge(uploads)
}

/// The gateway's HTTP service; the layers run from the last one added inwards.
pub fn router(gateway: Gateway) -> Router {
    let Gateway { services, verifier, settings, replays, stopping, forwarding } = gateway;
    let settings = &settings;
    let replays_for_readiness = replays.clone();
    let (api, document) = api().split_for_parts();
    api.merge(docs::routes(&docs::finish(document)))
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(move || ready(replays_for_readiness.clone(), stopping.clone())))
        .fallback(|| async { ApiError::not_found() })
        // Innermost: the client's address is known (`limit_rate`) by the time a call is vouched for.
        .layer(axum::middleware::from_fn_with_state(forwarding, vouch))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, REQUEST_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(replays, replay_retries))
        .layer(axum::middleware::from_fn_with_state(RateLimiter::new(settings), limit_rate))
        .layer(axum::middleware::from_fn_with_state(verifier, authenticate))
        .layer(cors(settings))
        .layer(axum::middleware::map_response(stable_error_body))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(language::speak))
        .layer(axum::middleware::from_fn(count_calls))
        .layer(TraceLayer::new_for_http().make_span_with(http_span))
        // Outermost: every request gets an id (or keeps the client's), echoed in the answer.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(Arc::new(services))
}

/// The readiness probe's answer. `503 stopping` from the moment the gateway
/// is told to stop, so the balancer in front sends no new call during the
/// drain delay. Otherwise `200`: `degraded` while the Redis that keeps
/// `Idempotency-Key` replies is unreachable, since only those calls need it
/// (they answer `503`) and taking every gateway out of rotation would stop
/// every other call too.
async fn ready(replays: Replays, stopping: masar_platform::CancellationToken) -> Response {
    if stopping.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "stopping" }))).into_response();
    }
    let (status, store) = match replays.reachable().await {
        None => ("ready", "in-memory"),
        Some(true) => ("ready", "up"),
        Some(false) => ("degraded", "down"),
    };
    Json(json!({ "status": status, "idempotency_store": store })).into_response()
}

/// Which browser pages may call the API: the configured origins only (none by default).
fn cors(settings: &GatewaySettings) -> tower_http::cors::CorsLayer {
    use http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_LANGUAGE, CONTENT_TYPE, ETAG, IF_MATCH, RETRY_AFTER};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = if settings.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(settings.cors_origins.iter().filter_map(|origin| match origin.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(%origin, "MASAR_CORS_ORIGINS: not a valid origin, ignored");
                None
            }
        }))
    };
    let name = http::HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([http::Method::GET, http::Method::POST, http::Method::PUT])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            ACCEPT_LANGUAGE,
            IF_MATCH,
            name(crate::idempotency::IDEMPOTENCY_KEY),
            name("traceparent"),
            name("tracestate"),
        ])
        .expose_headers([ETAG, RETRY_AFTER, CONTENT_LANGUAGE, REQUEST_ID])
        .max_age(Duration::from_secs(3600))
}

/// The operations a caller may use without signing in. Every other `/v1`
/// operation refuses an anonymous caller before its input is read: who
/// calls, then what they sent, in the order the services check. (Each
/// service still decides for itself; the authorization matrix checks that
/// this list and the services agree, and the API document shows it.)
pub(crate) const OPEN_TO_ANONYMOUS: [(&str, &str); 7] = [
    ("GET", "/v1/associations/{code}/policy"),
    ("POST", "/v1/accounts"),
    ("POST", "/v1/accounts/password"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/sessions/refresh"),
    ("POST", "/v1/sessions/sign-out"),
    ("POST", "/v1/inquiries"),
];

/// Whether `method` on the route `template` needs a signed-in caller.
pub(crate) fn needs_sign_in(method: &str, template: &str) -> bool {
    template.starts_with("/v1/") && !OPEN_TO_ANONYMOUS.contains(&(method, template))
}

/// Refuses a request whose bearer token is not valid, or that has none where
/// signing in is required, before it reaches a service (each service
/// verifies it again: the gateway is not trusted).
async fn authenticate(
    axum::extract::State(verifier): axum::extract::State<TokenVerifier>,
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let Some(value) = request.headers().get(http::header::AUTHORIZATION) else {
        let route = request.extensions().get::<axum::extract::MatchedPath>().map(|path| path.as_str());
        if route.is_some_and(|route| needs_sign_in(request.method().as_str(), route)) {
            return ApiError::from(masar_platform::identity::sign_in_required()).into_response();
        }
        return next.run(request).await;
    };
    let verified = value.to_str().ok().and_then(bearer).ok_or(TokenError::Invalid).and_then(|t| verifier.verify(t));
    match verified {
        Ok(claims) => {
            // For the rate limit and Idempotency-Key: a signed-in client is its account.
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        Err(error) => ApiError::from(token_refused(&error)).into_response(),
    }
}

/// Writes the gateway's voucher for the request (its channel and id) where
/// `grpc` finds it, over any a client sent: the services trust nothing else.
async fn vouch(
    axum::extract::State(key): axum::extract::State<ForwardingKey>,
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let client = request.extensions().get::<crate::limits::ClientAddress>().map(|address| address.0);
    let voucher = key.vouch(client, id, std::time::SystemTime::now()).and_then(|v| http::HeaderValue::try_from(v).ok());
    match voucher {
        Some(voucher) => request.headers_mut().insert(FORWARDED, voucher),
        None => request.headers_mut().remove(FORWARDED),
    };
    next.run(request).await
}

/// The signed-in caller's account (`association/subject`), as `authenticate` verified it.
pub(crate) fn signed_in_account(request: &Request) -> Option<String> {
    request.extensions().get::<masar_platform::tokens::Claims>().map(|c| format!("{}/{}", c.association, c.sub))
}

/// Whether a body is JSON (the stable error body is; axum's own refusals are not).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// The framework's own refusals (a method the route lacks, the body limit,
/// the timeout, …) answer in plain text or not at all; front ends get the
/// same JSON error body as from any handler, with the refusal's headers
/// (`Allow`, `Retry-After`) kept.
async fn stable_error_body(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(),
        StatusCode::GATEWAY_TIMEOUT => ApiError::timed_out(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError {
            status,
            ..ApiError::bad_request(Bilingual::new("نوع المحتوى غير مدعوم", "The body's content type is not supported"))
        },
        status if status.is_server_error() => ApiError { status, ..ApiError::internal() },
        status => ApiError {
            status,
            ..ApiError::bad_request(Bilingual::new("تعذر قراءة الطلب", "The request could not be read"))
        },
    };
    let mut stable = error.into_response();
    for (name, value) in response.headers() {
        if name != http::header::CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
            stable.headers_mut().append(name, value.clone());
        }
    }
    stable
}

/// What a browser content security policy allows an HTML page of the
/// gateway (the API docs; the portal to come): its own scripts, styles and
/// images only, never framed.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The headers every answer carries: never sniffed, never framed, no
/// referrer; API answers (tokens, personal data) never stored by a cache;
/// HTTPS remembered when the gateway is reached over TLS (a proxy in front
/// says so with `X-Forwarded-Proto`).
async fn security_headers(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    use http::header::{self, HeaderValue};
    let api = request.uri().path().starts_with("/v1/");
    let over_tls = request.uri().scheme_str() == Some("https")
        || request.headers().get("x-forwarded-proto").is_some_and(|proto| proto.as_bytes() == b"https");
    let mut response = next.run(request).await;
    let is_page = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Anything else (JSON, a downloaded document) is sandboxed: even opened in a tab it is no page of this origin.
    let policy = if is_page { PAGE_POLICY } else { "default-src 'none'; frame-ancestors 'none'; sandbox" };
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if over_tls {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}

/// The route template a request matched (`/v1/requests/{request_id}`), never
/// its ids; `unmatched` for a path no route has.
fn route_of<B>(request: &http::Request<B>) -> String {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned())
}

/// Counts each call answered, with its latency, by method, route and status.
async fn count_calls(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    // A caller may send any method name; only the standard ones are labels of their own.
    let method = match *request.method() {
        http::Method::GET | http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE => {
            request.method().as_str().to_owned()
        }
        http::Method::HEAD | http::Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let route = route_of(&request);
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    masar_platform::metrics::metrics()
        .http
        .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    // Runs inside the request's span (the trace layer wraps this one).
    let span = tracing::Span::current();
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

/// One span per HTTP request, named after its route, continuing a front end's trace if it sent one.
fn http_span<B>(request: &http::Request<B>) -> tracing::Span {
    let route = route_of(request);
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{} {}", request.method(), route),
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        url.path = %request.uri().path(),
        http.request.id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default(),
    );
    telemetry::continue_trace_from_http(&span, request.headers());
    span
}

/// JSON body whose rejections (malformed, wrong type, missing field, too
/// large) become the stable 4xx error body instead of axum's plain text.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(body_error(rejection)),
        }
    }
}

/// Query parameters whose rejections (`?page_size=abc`, `-1`, `1.5`) become
/// the stable 400 error body, naming the parameter, instead of axum's plain text.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::bad_request(Bilingual::new(
                "معاملات الاستعلام غير صحيحة",
                format!("Invalid query parameters: {}", without_quoted_values(&rejection.body_text())),
            ))),
        }
    }
}

/// A decoder's message without the values it quotes (`integer `1012345678``,
/// `string "0551234567"`): an error must never echo personal data.
fn without_quoted_values(detail: &str) -> String {
    let mut kept = String::with_capacity(detail.len());
    let mut closing = None;
    for c in detail.chars() {
        match closing {
            Some(quote) if c == quote => closing = None,
            Some(_) => {}
            None if c == '`' || c == '"' => {
                closing = Some(c);
                kept.push('…');
            }
            None => kept.push(c),
        }
    }
    kept
}

fn body_error(rejection: JsonRejection) -> ApiError {
    let detail = without_quoted_values(&rejection.body_text());
    let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let mut error = match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(Bilingual::new(
            "يجب أن يكون نوع المحتوى application/json",
            "The body must be sent as application/json",
        )),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request(Bilingual::new("صيغة JSON غير صحيحة", format!("Malformed JSON: {detail}")))
        }
        JsonRejection::JsonDataError(_) => {
            let mut error = ApiError::bad_request(Bilingual::new(
                "بيانات الطلب ناقصة أو غير صحيحة",
                format!("Missing or invalid data: {detail}"),
            ));
            // The decoder names the field (`applicant.mobile: invalid type: …`); so do we, for the form.
            let located = detail.split_once("target type: ").and_then(|(_, rest)| rest.split_once(": "));
            if let Some((field, problem)) = located.filter(|(field, _)| !field.contains(' ')) {
                let message = Bilingual::new("القيمة ناقصة أو من نوع غير صحيح", problem.to_owned());
                error.fields.push(FieldError::new(field, message));
            }
            error
        }
        _ => ApiError::bad_request(Bilingual::new("تعذر قراءة الطلب", format!("Unreadable request body: {detail}"))),
    };
    if too_large {
        error.status = StatusCode::PAYLOAD_TOO_LARGE;
    }
    error
}

/// A gRPC request carrying the caller's access token, if they sent one,
/// and for the services' audit trails the gateway's voucher (channel and request id).
fn grpc<T>(headers: &HeaderMap, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer) {
        attach_token(&mut request, token);
    }
    // `vouch` wrote it: the channel and request id the services record.
    if let Some(voucher) = headers.get(FORWARDED).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
        request.metadata_mut().insert(FORWARDED, voucher);
    }
    request
}

/// A service's timestamp as RFC 3339, absent when the service left it out.
fn time(at: Option<&prost_types::Timestamp>) -> Option<String> {
    at.map(|t| masar_proto::to_datetime(Some(t)).to_rfc3339())
}

/// Services leave an optional text empty; JSON says `null`.
fn present(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// The clients, shared: a call clones only the client it uses.
type State = axum::extract::State<Arc<Services>>;

/// The person a request or registration is for.
#[derive(Deserialize, ToSchema)]
pub(super) struct Applicant {
    /// Saudi national ID or iqama number (Arabic-Indic digits accepted).
    national_id: String,
    full_name: String,
    /// Saudi mobile number in any usual form (`05…`, `+9665…`).
    mobile: String,
    /// `ar` or `en`: the language of the SMS messages (when empty, the
    /// `Accept-Language` of the request, else Arabic).
    #[serde(default)]
    preferred_language: String,
}

impl Applicant {
    /// The message for intake; a form that leaves the language out gets the
    /// one the front end speaks.
    fn into_message(self, front_end: Language) -> intake::Applicant {
        intake::Applicant {
            national_id: self.national_id,
            full_name: self.full_name,
            mobile: self.mobile,
            preferred_language: language_or(self.preferred_language, front_end),
        }
    }
}

/// A chosen language, or else the front end's (`Accept-Language`).
fn language_or(chosen: String, front_end: Language) -> String {
    if chosen.trim().is_empty() { front_end.tag().to_owned() } else { chosen }
}

/// The language the front end asked for (see `language::speak`).
type FrontEndLanguage = axum::Extension<Language>;

/// Answers to the facts the policy asks, as JSON numbers, booleans or strings.
type Facts = serde_json::Map<String, Value>;

/// Forms send answers as JSON; the services read them as text by the fact's kind.
fn fact_answers(facts: Facts) -> std::collections::HashMap<String, String> {
    facts
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (name, text)
        })
        .collect()
}

/// The applicant's declaration that what they gave is true.
#[derive(Deserialize, Default, ToSchema)]
struct Attestation {
    #[serde(default)]
    attested: bool,
    /// The version of the attestation text they read (from the draft).
    #[serde(default)]
    version: String,
}

/// A note a staff member adds to an action.
#[derive(Deserialize, Default, ToSchema)]
struct Note {
    #[serde(default)]
    note: String,
}

/// Which page of a list: lists answer a page at a time, with the token of the next.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Rows per page: 20 by default, 100 at most.
    #[serde(default)]
    page_size: u32,
    /// The previous page's `next_page_token`; empty for the first page.
    #[serde(default)]
    page_token: String,
}

/// Narrows a staff work queue to one branch of the caller's association.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BranchQuery {
    /// Branch code; empty for the caller's own branch (or all, for association-wide roles).
    #[serde(default)]
    branch: String,
}
