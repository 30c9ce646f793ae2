//! The REST routes. Each handler turns JSON into one gRPC call and back.

use crate::Services;
use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use masar_domain::Bilingual;
use masar_platform::identity::{attach_token, bearer, token_refused};
use masar_platform::telemetry;
use masar_platform::tokens::{TokenError, TokenVerifier};
use masar_proto::{committee::v1 as committee, intake::v1 as intake, notification::v1 as notification};
use masar_proto::{research::v1 as research, verification::v1 as verification};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

mod inquiries;
mod people;
mod sessions;

type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

/// The largest upload the gateway passes on; intake checks the document's own limit.
const UPLOAD_LIMIT: usize = 6 * 1024 * 1024;

pub fn router(services: Services, verifier: TokenVerifier) -> Router {
    // Documents are the one large body; everything else is small JSON.
    let uploads = Router::new()
        .route("/v1/requests/{id}/documents/{document}", put(upload_document))
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT))
        .layer(RequestBodyLimitLayer::new(UPLOAD_LIMIT));
    Router::new()
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/v1/associations/{code}/policy", get(get_policy))
        .route("/v1/accounts", post(people::register_account))
        .route("/v1/accounts/password", post(sessions::change_password))
        .route("/v1/sessions", post(sessions::sign_in))
        .route("/v1/sessions/refresh", post(sessions::refresh))
        .route("/v1/sessions/sign-out", post(sessions::sign_out))
        .route("/v1/beneficiaries/possible-duplicates", get(people::list_possible_duplicates))
        .route("/v1/beneficiaries/{id}", get(people::get_beneficiary))
        .route("/v1/inquiries", post(inquiries::ask_question).get(inquiries::list_inquiries))
        .route("/v1/inquiries/{id}", get(inquiries::get_inquiry))
        .route("/v1/inquiries/{id}/refer", post(inquiries::refer_inquiry))
        .route("/v1/inquiries/{id}/answer", post(inquiries::answer_inquiry))
        .route("/v1/requests", post(create_request))
        .route("/v1/requests/{id}/submit", post(submit_request))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/timeline", get(get_timeline))
        .route("/v1/requests/{id}/resubmit", post(resubmit_request))
        .route("/v1/requests/{id}/messages", get(list_messages))
        .route("/v1/verification/pending", get(list_pending))
        .route("/v1/requests/{id}/verification/documents/{document}", post(review_document))
        .route("/v1/requests/{id}/verification/accept", post(accept_request))
        .route("/v1/requests/{id}/verification/return", post(return_for_completion))
        .route("/v1/requests/{id}/verification/ineligible", post(declare_ineligible))
        .route("/v1/research/assignments", get(list_assignments))
        .route("/v1/requests/{id}/research/visits", post(record_field_visit))
        .route("/v1/requests/{id}/research/recommendation", post(record_recommendation))
        .route("/v1/committee/agenda", get(get_agenda))
        .route("/v1/requests/{id}/committee/votes", post(cast_vote))
        .route("/v1/requests/{id}/committee/decision", post(record_decision))
        .fallback(|| async { ApiError::not_found() })
        .layer(RequestBodyLimitLayer::new(256 * 1024))
        .merge(uploads)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn_with_state(verifier, authenticate))
        .layer(axum::middleware::map_response(stable_error_body))
        .layer(TraceLayer::new_for_http().make_span_with(http_span))
        .with_state(services)
}

/// Refuses a request whose bearer token is not valid before it reaches a
/// service (each service verifies it again: the gateway is not trusted).
async fn authenticate(
    axum::extract::State(verifier): axum::extract::State<TokenVerifier>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let Some(value) = request.headers().get(http::header::AUTHORIZATION) else {
        return next.run(request).await;
    };
    let verified = value.to_str().ok().and_then(bearer).ok_or(TokenError::Invalid).and_then(|t| verifier.verify(t));
    match verified {
        Ok(_) => next.run(request).await,
        Err(error) => ApiError::from(token_refused(&error)).into_response(),
    }
}

/// The body limit and the timeout answer below the handlers, in plain text or
/// not at all; front ends get the same JSON error body as from any handler.
async fn stable_error_body(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE if !is_json => ApiError::too_large().into_response(),
        StatusCode::GATEWAY_TIMEOUT if !is_json => ApiError::timed_out().into_response(),
        _ => response,
    }
}

/// One span per HTTP request, continuing a front end's trace if it sent one.
fn http_span<B>(request: &http::Request<B>) -> tracing::Span {
    let route = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{} {}", request.method(), route),
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = %route,
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

fn body_error(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let mut error = match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(Bilingual::new(
            "يجب أن يكون نوع المحتوى application/json",
            "The body must be sent as application/json",
        )),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request(Bilingual::new("صيغة JSON غير صحيحة", format!("Malformed JSON: {detail}")))
        }
        JsonRejection::JsonDataError(_) => ApiError::bad_request(Bilingual::new(
            "بيانات الطلب ناقصة أو غير صحيحة",
            format!("Missing or invalid data: {detail}"),
        )),
        _ => ApiError::bad_request(Bilingual::new("تعذر قراءة الطلب", format!("Unreadable request body: {detail}"))),
    };
    if too_large {
        error.status = StatusCode::PAYLOAD_TOO_LARGE;
    }
    error
}

/// A gRPC request carrying the caller's access token, if they sent one.
fn grpc<T>(headers: &HeaderMap, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer) {
        attach_token(&mut request, token);
    }
    request
}

fn time(at: Option<&prost_types::Timestamp>) -> Option<String> {
    at.map(|t| masar_proto::to_datetime(Some(t)).to_rfc3339())
}

fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)))
}

#[derive(Deserialize)]
struct ApplicantBody {
    national_id: String,
    full_name: String,
    mobile: String,
    #[serde(default)]
    preferred_language: String,
}

impl From<ApplicantBody> for intake::Applicant {
    fn from(body: ApplicantBody) -> Self {
        Self {
            national_id: body.national_id,
            full_name: body.full_name,
            mobile: body.mobile,
            preferred_language: body.preferred_language,
        }
    }
}

#[derive(Deserialize)]
struct DraftBody {
    association: String,
    branch: String,
    service_type: String,
    channel: String,
    applicant: ApplicantBody,
    #[serde(default)]
    description: String,
    /// Answers to the facts the policy asks, as JSON numbers, booleans or strings.
    #[serde(default)]
    facts: serde_json::Map<String, Value>,
}

/// Forms send answers as JSON; the services read them as text by the fact's kind.
fn fact_answers(facts: serde_json::Map<String, Value>) -> std::collections::HashMap<String, String> {
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

type State = axum::extract::State<Services>;

/// Starts a request: a draft, with the documents it needs and the text to attest.
async fn create_request(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<DraftBody>,
) -> ApiResult {
    let message = intake::CreateRequestRequest {
        association: body.association,
        branch: body.branch,
        service_type: body.service_type,
        channel: body.channel,
        description: body.description,
        applicant: Some(body.applicant.into()),
        facts: fact_answers(body.facts),
    };
    let draft = services.intake.create_request(grpc(&headers, message)).await?.into_inner();
    let documents: Vec<Value> = draft
        .required_documents
        .iter()
        .map(|d| {
            json!({
                "document": d.document, "name": Bilingual::new(&d.name_ar, &d.name_en),
                "must_not_be_expired": d.must_not_be_expired,
                "issued_within_days": (d.issued_within_days > 0).then_some(d.issued_within_days),
            })
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "request_id": draft.request_id, "reference": draft.reference, "status": draft.status,
            "beneficiary_id": draft.beneficiary_id,
            "policy_version": draft.policy_version, "required_documents": documents,
            "attestation": { "version": draft.attestation_version,
                             "text": Bilingual::new(&draft.attestation_text_ar, &draft.attestation_text_en) },
        })),
    ))
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    file_name: String,
    #[serde(default)]
    issued_on: String,
    #[serde(default)]
    expires_on: String,
}

/// Uploads (or replaces) one document: the body is the file itself.
async fn upload_document(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path((id, document)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    content: axum::body::Bytes,
) -> ApiResult {
    let message = intake::UploadDocumentRequest {
        request_id: id,
        document,
        file_name: query.file_name,
        content: content.to_vec(),
        issued_on: query.issued_on,
        expires_on: query.expires_on,
    };
    let d = services.intake.upload_document(grpc(&headers, message)).await?.into_inner();
    Ok((StatusCode::CREATED, Json(document_json(&d))))
}

fn document_json(d: &intake::Document) -> Value {
    json!({
        "attachment_id": d.attachment_id, "document": d.document, "file_name": d.file_name,
        "content_type": d.content_type, "size_bytes": d.size_bytes, "sha256": d.sha256,
        "issued_on": (!d.issued_on.is_empty()).then_some(&d.issued_on),
        "expires_on": (!d.expires_on.is_empty()).then_some(&d.expires_on),
        "uploaded_at": time(d.uploaded_at.as_ref()),
    })
}

#[derive(Deserialize, Default)]
struct AttestationBody {
    #[serde(default)]
    attested: bool,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize, Default)]
struct SubmitDraftBody {
    #[serde(default)]
    attestation: AttestationBody,
}

/// Submits a complete draft; the reply promises the committee's decision date.
async fn submit_request(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<SubmitDraftBody>,
) -> ApiResult {
    let message = intake::SubmitRequestRequest {
        request_id: id,
        attested: body.attestation.attested,
        attestation_version: body.attestation.version,
    };
    let reply = services.intake.submit_request(grpc(&headers, message)).await?.into_inner();
    ok(json!({
        "request_id": reply.request_id,
        "reference": reply.reference,
        "status": reply.status,
        "expected_decision_on": reply.expected_decision_on,
        "expected_decision_on_hijri": reply.expected_decision_on_hijri,
        "policy_version": reply.policy_version,
        "message": Bilingual::new(
            format!(
                "تم استلام طلبكم رقم {}، وسيصلكم رد لجنة البحث بتاريخ {} هـ ({} م) تقريباً",
                reply.reference, reply.expected_decision_on_hijri, reply.expected_decision_on
            ),
            format!(
                "Request {} received; expect the research committee's reply around {} ({} AH)",
                reply.reference, reply.expected_decision_on, reply.expected_decision_on_hijri
            ),
        ),
    }))
}

#[derive(Deserialize)]
struct PolicyQuery {
    #[serde(default)]
    on: String,
}

/// The policy in force (today, or `?on=YYYY-MM-DD`): service types, documents, rules, approval.
async fn get_policy(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(code): Path<String>,
    axum::extract::Query(query): axum::extract::Query<PolicyQuery>,
) -> ApiResult {
    let message = intake::GetPolicyRequest { association: code, on: query.on };
    let p = services.intake.get_policy(grpc(&headers, message)).await?.into_inner();
    let policy: Value = serde_json::from_str(&p.policy_json).unwrap_or_default();
    let facts_asked: Value = serde_json::from_str(&p.facts_asked_json).unwrap_or_default();
    ok(json!({ "policy": policy, "facts_asked": facts_asked }))
}

async fn get_request(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let r =
        services.intake.get_request(grpc(&headers, intake::GetRequestRequest { request_id: id })).await?.into_inner();
    ok(json!({
        "request_id": r.request_id, "reference": r.reference, "association": r.association, "branch": r.branch,
        "service_type": r.service_type, "channel": r.channel, "status": r.status, "stage": r.stage,
        "applicant_name": r.applicant_name, "national_id": r.national_id_masked, "mobile": r.mobile_masked,
        "submitted_at": time(r.submitted_at.as_ref()), "expected_decision_on": r.expected_decision_on,
        "expected_decision_on_hijri": r.expected_decision_on_hijri, "policy_version": r.policy_version,
        "documents": r.documents.iter().map(document_json).collect::<Vec<_>>(),
        "submitted_on_hijri": r.submitted_on_hijri,
    }))
}

async fn get_timeline(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let t =
        services.intake.get_timeline(grpc(&headers, intake::GetTimelineRequest { request_id: id })).await?.into_inner();
    let entries: Vec<Value> = t
        .entries
        .iter()
        .map(|e| {
            let described = masar_domain::CaseStatus::parse(&e.status).map(|s| s.describe()).ok();
            json!({
                "status": e.status, "stage": e.stage, "actor_role": e.actor_role, "at": time(e.at.as_ref()),
                "on_hijri": e.on_hijri, "note": e.note, "description": described,
            })
        })
        .collect();
    ok(json!({ "request_id": t.request_id, "status": t.status, "entries": entries }))
}

#[derive(Deserialize, Default)]
struct NoteBody {
    #[serde(default)]
    note: String,
}

#[derive(Deserialize, Default)]
struct ResubmitBody {
    #[serde(default)]
    note: String,
    #[serde(default)]
    facts: serde_json::Map<String, Value>,
    #[serde(default)]
    attestation: AttestationBody,
}

async fn resubmit_request(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ResubmitBody>,
) -> ApiResult {
    let message = intake::ResubmitRequestRequest {
        request_id: id,
        note: body.note,
        facts: fact_answers(body.facts),
        attested: body.attestation.attested,
        attestation_version: body.attestation.version,
    };
    let r = services.intake.resubmit_request(grpc(&headers, message)).await?.into_inner();
    ok(json!({ "request_id": r.request_id, "status": r.status, "expected_decision_on": r.expected_decision_on }))
}

async fn list_messages(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let reply = services
        .notification
        .list_messages(grpc(&headers, notification::ListMessagesRequest { request_id: id }))
        .await?
        .into_inner();
    let messages: Vec<Value> = reply
        .messages
        .iter()
        .map(|m| {
            json!({
                "message_id": m.message_id, "event_type": m.event_type, "language": m.language,
                "mobile": m.mobile_masked, "text": m.text, "status": m.status,
                "created_at": time(m.created_at.as_ref()), "sent_at": time(m.sent_at.as_ref()),
            })
        })
        .collect();
    ok(json!({ "messages": messages }))
}

#[derive(Deserialize)]
struct BranchQuery {
    #[serde(default)]
    branch: String,
}

async fn list_pending(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
) -> ApiResult {
    let reply = services
        .verification
        .list_pending(grpc(&headers, verification::ListPendingRequest { branch: q.branch }))
        .await?
        .into_inner();
    let requests: Vec<Value> = reply
        .requests
        .iter()
        .map(|r| {
            json!({
                "request_id": r.request_id, "association": r.association, "branch": r.branch,
                "service_type": r.service_type, "applicant_name": r.applicant_name,
                "national_id": r.national_id_masked, "status": r.status, "received_at": time(r.received_at.as_ref()),
                "received_on_hijri": r.received_on_hijri,
                "documents": r.documents.iter().map(case_document_json).collect::<Vec<_>>(),
                "policy_version": r.policy_version, "eligibility_verdict": r.eligibility_verdict,
                "eligibility": r.eligibility.iter().map(|o| json!({
                    "rule": o.rule, "verdict": o.verdict,
                    "explanation": Bilingual::new(&o.explanation_ar, &o.explanation_en),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    ok(json!({ "requests": requests }))
}

fn case_document_json(d: &verification::CaseDocument) -> Value {
    json!({
        "document": d.document, "name": Bilingual::new(&d.name_ar, &d.name_en), "attachment_id": d.attachment_id,
        "content_type": d.content_type, "size_bytes": d.size_bytes, "sha256": d.sha256,
        "issued_on": d.issued_on, "issued_on_hijri": d.issued_on_hijri,
        "expires_on": d.expires_on, "expires_on_hijri": d.expires_on_hijri,
        "review": d.review, "reason": d.reason, "reviewed_by": d.reviewed_by,
    })
}

fn outcome(o: verification::VerificationOutcome) -> ApiResult {
    let missing: Vec<_> = o.missing.iter().map(|m| Bilingual::new(&m.ar, &m.en)).collect();
    ok(
        json!({ "request_id": o.request_id, "status": o.status, "policy_version": o.policy_version, "missing": missing }),
    )
}

#[derive(Deserialize)]
struct ReviewBody {
    review: String,
    #[serde(default)]
    reason: String,
}

async fn review_document(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path((id, document)): Path<(String, String)>,
    Body(body): Body<ReviewBody>,
) -> ApiResult {
    let message =
        verification::ReviewDocumentRequest { request_id: id, document, review: body.review, reason: body.reason };
    ok(case_document_json(&services.verification.review_document(grpc(&headers, message)).await?.into_inner()))
}

async fn accept_request(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<NoteBody>,
) -> ApiResult {
    let message = verification::AcceptRequestRequest { request_id: id, note: body.note };
    outcome(services.verification.accept_request(grpc(&headers, message)).await?.into_inner())
}

#[derive(Deserialize, Default)]
struct ReturnBody {
    /// Empty: exactly what the document reviews and the unclear rules say is missing.
    #[serde(default)]
    missing_items: Vec<String>,
    #[serde(default)]
    note: String,
}

async fn return_for_completion(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ReturnBody>,
) -> ApiResult {
    let message =
        verification::ReturnForCompletionRequest { request_id: id, missing_items: body.missing_items, note: body.note };
    outcome(services.verification.return_for_completion(grpc(&headers, message)).await?.into_inner())
}

#[derive(Deserialize)]
struct ReasonsBody {
    /// Empty: the explanations of the policy rules the request does not meet.
    #[serde(default)]
    reasons: Vec<String>,
}

async fn declare_ineligible(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ReasonsBody>,
) -> ApiResult {
    let message = verification::DeclareIneligibleRequest { request_id: id, reasons: body.reasons };
    outcome(services.verification.declare_ineligible(grpc(&headers, message)).await?.into_inner())
}

fn assignment(a: &research::Assignment) -> Value {
    json!({
        "request_id": a.request_id, "association": a.association, "branch": a.branch,
        "service_type": a.service_type, "researcher": a.researcher, "status": a.status,
        "visits": a.visits, "recommendation": a.recommendation, "assigned_at": time(a.assigned_at.as_ref()),
    })
}

async fn list_assignments(axum::extract::State(mut services): State, headers: HeaderMap) -> ApiResult {
    let reply =
        services.research.list_assignments(grpc(&headers, research::ListAssignmentsRequest {})).await?.into_inner();
    ok(json!({ "assignments": reply.assignments.iter().map(assignment).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
struct VisitBody {
    findings: String,
}

async fn record_field_visit(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<VisitBody>,
) -> ApiResult {
    let message = research::RecordFieldVisitRequest { request_id: id, findings: body.findings };
    ok(assignment(&services.research.record_field_visit(grpc(&headers, message)).await?.into_inner()))
}

#[derive(Deserialize)]
struct RecommendationBody {
    recommendation: String,
    justification: String,
}

async fn record_recommendation(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<RecommendationBody>,
) -> ApiResult {
    let message = research::RecordRecommendationRequest {
        request_id: id,
        recommendation: body.recommendation,
        justification: body.justification,
    };
    ok(assignment(&services.research.record_recommendation(grpc(&headers, message)).await?.into_inner()))
}

fn agenda_item(i: &committee::AgendaItem) -> Value {
    let votes: Vec<Value> =
        i.votes.iter().map(|v| json!({ "member": v.member, "vote": v.vote, "note": v.note })).collect();
    json!({
        "request_id": i.request_id, "association": i.association, "branch": i.branch,
        "service_type": i.service_type, "recommendation": i.recommendation, "status": i.status,
        "votes": votes, "decision": i.decision, "reasons": i.reasons, "policy_version": i.policy_version,
    })
}

async fn get_agenda(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
) -> ApiResult {
    let a = services
        .committee
        .get_agenda(grpc(&headers, committee::GetAgendaRequest { branch: q.branch }))
        .await?
        .into_inner();
    ok(json!({
        "agenda_id": a.agenda_id, "association": a.association, "branch": a.branch,
        "opened_at": time(a.opened_at.as_ref()), "items": a.items.iter().map(agenda_item).collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
struct VoteBody {
    vote: String,
    #[serde(default)]
    note: String,
}

async fn cast_vote(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<VoteBody>,
) -> ApiResult {
    let message = committee::CastVoteRequest { request_id: id, vote: body.vote, note: body.note };
    ok(agenda_item(&services.committee.cast_vote(grpc(&headers, message)).await?.into_inner()))
}

#[derive(Deserialize)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    reasons: Vec<String>,
}

async fn record_decision(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<DecisionBody>,
) -> ApiResult {
    let message = committee::RecordDecisionRequest { request_id: id, decision: body.decision, reasons: body.reasons };
    ok(agenda_item(&services.committee.record_decision(grpc(&headers, message)).await?.into_inner()))
}
