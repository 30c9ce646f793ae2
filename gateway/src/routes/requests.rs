//! A request on the beneficiary's side and at reception: the policy to read
//! first, the draft and its documents, submission, following it, the return
//! for completion, and the messages sent about it.

use super::Query;
use super::{
    Applicant, Attestation, Body, Created, Facts, FrontEndLanguage, PageQuery, Reply, State, created, fact_answers,
    grpc, present, time,
};
use crate::error::ApiError;
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::IntoResponse as _;
use masar_domain::Bilingual;
use masar_proto::{intake::v1 as intake, notification::v1 as notification};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PolicyQuery {
    /// `YYYY-MM-DD`: the policy in force on that day (today when empty).
    #[serde(default)]
    on: String,
}

/// An association's policy as published, and the facts its rules ask.
#[derive(Serialize, ToSchema)]
pub(super) struct PolicyView {
    /// Service types, required documents, eligibility rules and approval.
    #[schema(value_type = Object)]
    policy: Value,
    /// The facts a request must answer, with their kinds.
    #[schema(value_type = Object)]
    facts_asked: Value,
}

/// The policy in force: service types, documents, rules, approval.
#[utoipa::path(get, path = "/v1/associations/{code}/policy", tag = "requests",
    params(("code" = String, Path, description = "The association, e.g. `nuzul`"), PolicyQuery),
    responses((status = 200, body = PolicyView)))]
pub(super) async fn get_policy(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<PolicyQuery>,
) -> Reply<PolicyView> {
    let message = intake::GetPolicyRequest { association: code, on: query.on };
    let p = services.intake.clone().get_policy(grpc(&headers, message)).await?.into_inner();
    Ok(Json(PolicyView {
        policy: serde_json::from_str(&p.policy_json).unwrap_or_default(),
        facts_asked: serde_json::from_str(&p.facts_asked_json).unwrap_or_default(),
    }))
}

/// A new request: who it is for, what they ask, and their answers.
#[derive(Deserialize, ToSchema)]
pub(super) struct NewRequest {
    association: String,
    branch: String,
    service_type: String,
    /// How it came in: `website`, `mobile_app`, `interview`, `phone`, `letter`, …
    channel: String,
    applicant: Applicant,
    #[serde(default)]
    description: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    facts: Facts,
    /// Where the applicant lives, where the policy asks for it (its `address`: `required` or `optional`).
    #[serde(default)]
    address: Option<Address>,
}

/// Where an applicant lives, for the researcher's visit.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub(super) struct Address {
    #[serde(default)]
    city: String,
    #[serde(default)]
    district: String,
    /// The street, or the short national address below.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    street: String,
    /// The short national address: four letters and four digits, e.g. `RRRD2929`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    short_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    longitude: Option<f64>,
}

impl From<Address> for intake::Address {
    fn from(a: Address) -> Self {
        Self {
            city: a.city,
            district: a.district,
            street: a.street,
            short_address: a.short_address,
            latitude: a.latitude,
            longitude: a.longitude,
        }
    }
}

impl From<intake::Address> for Address {
    fn from(a: intake::Address) -> Self {
        Self {
            city: a.city,
            district: a.district,
            street: a.street,
            short_address: a.short_address,
            latitude: a.latitude,
            longitude: a.longitude,
        }
    }
}

/// A document the policy asks for.
#[derive(Serialize, ToSchema)]
pub(super) struct RequiredDocument {
    document: String,
    name: Bilingual,
    must_not_be_expired: bool,
    /// The document must have been issued within this many days.
    issued_within_days: Option<u32>,
}

/// The text the applicant attests to at submission, and its version.
#[derive(Serialize, ToSchema)]
pub(super) struct AttestationText {
    version: String,
    text: Bilingual,
}

/// A draft request: the documents it needs and the text to attest.
#[derive(Serialize, ToSchema)]
pub(super) struct Draft {
    request_id: String,
    reference: String,
    status: String,
    beneficiary_id: String,
    policy_version: u32,
    required_documents: Vec<RequiredDocument>,
    attestation: AttestationText,
}

/// Starts a request as a draft. A signed-in beneficiary files online for
/// themself; reception files for anyone on any channel.
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = NewRequest,
    responses((status = 201, body = Draft)))]
pub(super) async fn create_request(
    axum::extract::State(services): State,
    axum::Extension(language): FrontEndLanguage,
    headers: HeaderMap,
    Body(body): Body<NewRequest>,
) -> Created<Draft> {
    let message = intake::CreateRequestRequest {
        association: body.association,
        branch: body.branch,
        service_type: body.service_type,
        channel: body.channel,
        description: body.description,
        applicant: Some(body.applicant.into_message(language)),
        facts: fact_answers(body.facts),
        address: body.address.map(Into::into),
    };
    let draft = services.intake.clone().create_request(grpc(&headers, message)).await?.into_inner();
    let required_documents = draft
        .required_documents
        .into_iter()
        .map(|d| RequiredDocument {
            document: d.document,
            name: Bilingual::new(d.name_ar, d.name_en),
            must_not_be_expired: d.must_not_be_expired,
            issued_within_days: (d.issued_within_days > 0).then_some(d.issued_within_days),
        })
        .collect();
    Ok(created(Draft {
        attestation: AttestationText {
            version: draft.attestation_version,
            text: Bilingual::new(draft.attestation_text_ar, draft.attestation_text_en),
        },
        request_id: draft.request_id,
        reference: draft.reference,
        status: draft.status,
        beneficiary_id: draft.beneficiary_id,
        policy_version: draft.policy_version,
        required_documents,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UploadQuery {
    /// The file's name as the applicant knows it.
    #[serde(default)]
    file_name: String,
    /// `YYYY-MM-DD`, where the policy limits the document's age.
    #[serde(default)]
    issued_on: String,
    /// `YYYY-MM-DD`, where the document must not be expired.
    #[serde(default)]
    expires_on: String,
}

/// A document received with a request.
#[derive(Serialize, ToSchema)]
pub(super) struct Document {
    attachment_id: String,
    document: String,
    file_name: String,
    content_type: String,
    size_bytes: u64,
    sha256: String,
    issued_on: Option<String>,
    expires_on: Option<String>,
    uploaded_at: Option<String>,
}

impl From<intake::Document> for Document {
    fn from(d: intake::Document) -> Self {
        Self {
            issued_on: present(&d.issued_on),
            expires_on: present(&d.expires_on),
            uploaded_at: time(d.uploaded_at.as_ref()),
            attachment_id: d.attachment_id,
            document: d.document,
            file_name: d.file_name,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
        }
    }
}

/// The file itself, as the body of an upload.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes the raw body in the OpenAPI document; never built
pub(super) struct DocumentFile(Vec<u8>);

/// Uploads (or replaces) one document: the body is the file itself (PDF,
/// JPEG or PNG, checked by its content).
#[utoipa::path(put, path = "/v1/requests/{id}/documents/{document}", tag = "requests",
    params(("id" = String, Path, description = "The request"),
           ("document" = String, Path, description = "Which document, as the draft named it"), UploadQuery),
    request_body(content = DocumentFile, content_type = "application/octet-stream"),
    responses((status = 201, body = Document)))]
pub(super) async fn upload_document(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path((id, document)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    content: axum::body::Bytes,
) -> Created<Document> {
    let message = intake::UploadDocumentRequest {
        request_id: id,
        document,
        file_name: query.file_name,
        content: content.to_vec(),
        issued_on: query.issued_on,
        expires_on: query.expires_on,
    };
    let d = services.intake.clone().upload_document(grpc(&headers, message)).await?.into_inner();
    Ok(created(Document::from(d)))
}

/// `attachment`, with the file's name as plain ASCII and in full (RFC 6266).
fn attachment(file_name: &str, document: &str) -> String {
    let name = if file_name.trim().is_empty() { document } else { file_name };
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// One uploaded document's file (current or replaced since), always as a
/// download: for the staff whose step needs it and its own beneficiary; the
/// opening is in the case's audit trail.
#[utoipa::path(get, path = "/v1/requests/{id}/attachments/{attachment_id}", tag = "requests",
    params(("id" = String, Path, description = "The request"),
           ("attachment_id" = String, Path, description = "The upload, as the request's documents name it")),
    responses((status = 200, content_type = "application/octet-stream", body = DocumentFile,
        description = "The file, with its stored content type and `Content-Disposition: attachment`")))]
pub(super) async fn get_document_file(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    let message = intake::GetDocumentFileRequest { request_id: id, attachment_id };
    let file = services.intake.clone().get_document_file(grpc(&headers, message)).await?.into_inner();
    let document = file.document.unwrap_or_default();
    let content_type = masar_domain::input::DOCUMENT_TYPES
        .iter()
        .map(|(content_type, _)| *content_type)
        .find(|t| *t == document.content_type)
        .unwrap_or("application/octet-stream");
    let disposition = attachment(&document.file_name, &document.document);
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], file.content)
        .into_response())
}

#[derive(Deserialize, Default, ToSchema)]
pub(super) struct Submission {
    #[serde(default)]
    attestation: Attestation,
}

/// A submitted request and when to expect the committee's reply.
#[derive(Serialize, ToSchema)]
pub(super) struct Submitted {
    request_id: String,
    reference: String,
    status: String,
    expected_decision_on: String,
    expected_decision_on_hijri: String,
    policy_version: u32,
    /// What to tell the beneficiary, with both dates.
    message: Bilingual,
}

/// Submits a complete draft; the reply promises the committee's decision date.
#[utoipa::path(post, path = "/v1/requests/{id}/submit", tag = "requests",
    params(("id" = String, Path, description = "The request")), request_body = Submission,
    responses((status = 200, body = Submitted)))]
pub(super) async fn submit_request(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<Submission>,
) -> Reply<Submitted> {
    let message = intake::SubmitRequestRequest {
        request_id: id,
        attested: body.attestation.attested,
        attestation_version: body.attestation.version,
    };
    let reply = services.intake.clone().submit_request(grpc(&headers, message)).await?.into_inner();
    let told = Bilingual::new(
        format!(
            "تم استلام طلبكم رقم {}، وسيصلكم رد لجنة البحث بتاريخ {} هـ ({} م) تقريباً",
            reply.reference, reply.expected_decision_on_hijri, reply.expected_decision_on
        ),
        format!(
            "Request {} received; expect the research committee's reply around {} ({} AH)",
            reply.reference, reply.expected_decision_on, reply.expected_decision_on_hijri
        ),
    );
    Ok(Json(Submitted {
        request_id: reply.request_id,
        reference: reply.reference,
        status: reply.status,
        expected_decision_on: reply.expected_decision_on,
        expected_decision_on_hijri: reply.expected_decision_on_hijri,
        policy_version: reply.policy_version,
        message: told,
    }))
}

/// A request as its beneficiary and the staff in scope see it; national ID
/// and mobile are masked.
#[derive(Serialize, ToSchema)]
pub(super) struct RequestView {
    request_id: String,
    reference: String,
    association: String,
    branch: String,
    service_type: String,
    channel: String,
    status: String,
    stage: String,
    applicant_name: String,
    national_id: String,
    mobile: String,
    submitted_at: Option<String>,
    submitted_on_hijri: String,
    expected_decision_on: String,
    expected_decision_on_hijri: String,
    policy_version: u32,
    documents: Vec<Document>,
}

/// One request: its beneficiary, or staff of its association (and branch).
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request")), responses((status = 200, body = RequestView)))]
pub(super) async fn get_request(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<RequestView> {
    let message = intake::GetRequestRequest { request_id: id };
    Ok(Json(services.intake.clone().get_request(grpc(&headers, message)).await?.into_inner().into()))
}

/// One answer to the policy's questions.
#[derive(Serialize, ToSchema)]
pub(super) struct Answer {
    fact: String,
    question: Bilingual,
    value: String,
}

/// A request's case file: the request, and for whoever acts on it (the
/// project manager, the assigned researcher, the beneficiary) the applicant's
/// national ID, mobile, answers, description and address in full.
#[derive(Serialize, ToSchema)]
pub(super) struct CaseFile {
    request: RequestView,
    /// False for other staff: contact details, answers and description are
    /// left out, and the address is the city and district only.
    in_full: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    national_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    mobile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    answers: Vec<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
}

/// The case file. A staff member's full opening is on the case's audit trail.
#[utoipa::path(get, path = "/v1/requests/{id}/file", tag = "requests",
    params(("id" = String, Path, description = "The request")), responses((status = 200, body = CaseFile)))]
pub(super) async fn get_case_file(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<CaseFile> {
    let message = intake::GetCaseFileRequest { request_id: id };
    let file = services.intake.clone().get_case_file(grpc(&headers, message)).await?.into_inner();
    Ok(Json(CaseFile {
        request: file.request.unwrap_or_default().into(),
        in_full: file.in_full,
        national_id: file.national_id,
        mobile: file.mobile,
        description: file.description,
        answers: file
            .answers
            .into_iter()
            .map(|a| Answer { fact: a.fact, question: Bilingual::new(a.label_ar, a.label_en), value: a.value })
            .collect(),
        address: file.address.map(Into::into),
    }))
}

impl From<intake::ServiceRequest> for RequestView {
    fn from(r: intake::ServiceRequest) -> Self {
        Self {
            documents: r.documents.into_iter().map(Document::from).collect(),
            submitted_at: time(r.submitted_at.as_ref()),
            request_id: r.request_id,
            reference: r.reference,
            association: r.association,
            branch: r.branch,
            service_type: r.service_type,
            channel: r.channel,
            status: r.status,
            stage: r.stage,
            applicant_name: r.applicant_name,
            national_id: r.national_id_masked,
            mobile: r.mobile_masked,
            submitted_on_hijri: r.submitted_on_hijri,
            expected_decision_on: r.expected_decision_on,
            expected_decision_on_hijri: r.expected_decision_on_hijri,
            policy_version: r.policy_version,
        }
    }
}

/// Narrows the list of requests to one status.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RequestsQuery {
    /// A status to narrow to, e.g. `submitted`; empty for all.
    #[serde(default)]
    status: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RequestPage {
    /// Without their documents (see `GET /v1/requests/{id}`).
    requests: Vec<RequestView>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// A beneficiary's own requests; reception's and supervisors' of their
/// association (their branch, for branch-bound roles). Newest first, a page at a time.
#[utoipa::path(get, path = "/v1/requests", tag = "requests", params(RequestsQuery, PageQuery),
    responses((status = 200, body = RequestPage)))]
pub(super) async fn list_requests(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<RequestsQuery>,
    Query(page): Query<PageQuery>,
) -> Reply<RequestPage> {
    let message =
        intake::ListRequestsRequest { status: q.status, page_size: page.page_size, page_token: page.page_token };
    let page = services.intake.clone().list_requests(grpc(&headers, message)).await?.into_inner();
    Ok(Json(RequestPage {
        requests: page.requests.into_iter().map(RequestView::from).collect(),
        next_page_token: present(&page.next_page_token),
    }))
}

/// One step of a request's journey.
#[derive(Serialize, ToSchema)]
pub(super) struct TimelineEntry {
    status: String,
    stage: String,
    actor_role: String,
    at: Option<String>,
    on_hijri: String,
    note: String,
    /// The status explained for the beneficiary.
    description: Option<Bilingual>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Timeline {
    request_id: String,
    status: String,
    entries: Vec<TimelineEntry>,
    /// The promised reply, in both calendars.
    expected_decision_on: String,
    expected_decision_on_hijri: String,
    /// Working days left until the promised reply (weekends, official holidays and the
    /// association's closures off); `null` once replied, or while the request is back with the beneficiary.
    working_days_left: Option<u32>,
    /// The stage the case waits on (`verification`, `research`, `committee`), if any.
    awaiting_stage: Option<String>,
    /// That stage's deadline on the pack's target, the working days left to it, and whether it has passed.
    stage_deadline: Option<String>,
    stage_working_days_left: Option<u32>,
    stage_overdue: bool,
    /// The later reply date the beneficiary was told (by SMS, with why) when
    /// a stage ran past its target; `null` while the promise holds.
    revised_decision_on: Option<String>,
    revised_decision_on_hijri: Option<String>,
}

/// The request's journey so far, for its beneficiary to follow.
#[utoipa::path(get, path = "/v1/requests/{id}/timeline", tag = "requests",
    params(("id" = String, Path, description = "The request")), responses((status = 200, body = Timeline)))]
pub(super) async fn get_timeline(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Timeline> {
    let message = intake::GetTimelineRequest { request_id: id };
    let t = services.intake.clone().get_timeline(grpc(&headers, message)).await?.into_inner();
    let entries = t
        .entries
        .into_iter()
        .map(|e| TimelineEntry {
            description: masar_domain::CaseStatus::parse(&e.status).map(|s| s.describe()).ok(),
            at: time(e.at.as_ref()),
            status: e.status,
            stage: e.stage,
            actor_role: e.actor_role,
            on_hijri: e.on_hijri,
            note: e.note,
        })
        .collect();
    Ok(Json(Timeline {
        request_id: t.request_id,
        status: t.status,
        entries,
        expected_decision_on: t.expected_decision_on,
        expected_decision_on_hijri: t.expected_decision_on_hijri,
        working_days_left: t.working_days_left,
        awaiting_stage: present(&t.awaiting_stage),
        stage_deadline: present(&t.stage_deadline),
        stage_working_days_left: t.stage_working_days_left,
        stage_overdue: t.stage_overdue,
        revised_decision_on: present(&t.revised_decision_on),
        revised_decision_on_hijri: present(&t.revised_decision_on_hijri),
    }))
}

/// What the beneficiary sends back after a return for completion.
#[derive(Deserialize, Default, ToSchema)]
pub(super) struct Resubmission {
    #[serde(default)]
    note: String,
    /// Corrected answers; the others stay as they were.
    #[serde(default)]
    #[schema(value_type = Object)]
    facts: Facts,
    #[serde(default)]
    attestation: Attestation,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Resubmitted {
    request_id: String,
    status: String,
    expected_decision_on: String,
}

/// Answers a return for completion: the request goes back to verification.
#[utoipa::path(post, path = "/v1/requests/{id}/resubmit", tag = "requests",
    params(("id" = String, Path, description = "The request")), request_body = Resubmission,
    responses((status = 200, body = Resubmitted)))]
pub(super) async fn resubmit_request(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<Resubmission>,
) -> Reply<Resubmitted> {
    let message = intake::ResubmitRequestRequest {
        request_id: id,
        note: body.note,
        facts: fact_answers(body.facts),
        attested: body.attestation.attested,
        attestation_version: body.attestation.version,
    };
    let r = services.intake.clone().resubmit_request(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Resubmitted { request_id: r.request_id, status: r.status, expected_decision_on: r.expected_decision_on }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct VisitChange {
    /// Why, and the times that would suit (kept for the researcher).
    #[serde(default)]
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct VisitChangeAsked {
    asked_at: Option<String>,
    message: Bilingual,
}

/// The beneficiary asks for another time for the researcher's visit; the
/// researcher sets a new one, and the SMS tells them.
#[utoipa::path(post, path = "/v1/requests/{id}/visit-change", tag = "requests",
    params(("id" = String, Path, description = "The request")), request_body = VisitChange,
    responses((status = 200, body = VisitChangeAsked)))]
pub(super) async fn ask_to_move_visit(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<VisitChange>,
) -> Reply<VisitChangeAsked> {
    let message = intake::AskToMoveVisitRequest { request_id: id, reason: body.reason };
    let r = services.intake.clone().ask_to_move_visit(grpc(&headers, message)).await?.into_inner();
    Ok(Json(VisitChangeAsked {
        asked_at: time(r.asked_at.as_ref()),
        message: Bilingual::new(r.message_ar, r.message_en),
    }))
}

/// An SMS sent (or to be sent) about a request; the number is masked.
#[derive(Serialize, ToSchema)]
pub(super) struct SentMessage {
    message_id: String,
    event_type: String,
    language: String,
    mobile: String,
    text: String,
    status: String,
    created_at: Option<String>,
    sent_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Messages {
    messages: Vec<SentMessage>,
}

/// The SMS messages about a request, oldest first.
#[utoipa::path(get, path = "/v1/requests/{id}/messages", tag = "requests",
    params(("id" = String, Path, description = "The request")), responses((status = 200, body = Messages)))]
pub(super) async fn list_messages(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Messages> {
    let message = notification::ListMessagesRequest { request_id: id };
    let reply = services.notification.clone().list_messages(grpc(&headers, message)).await?.into_inner();
    let messages = reply
        .messages
        .into_iter()
        .map(|m| SentMessage {
            created_at: time(m.created_at.as_ref()),
            sent_at: time(m.sent_at.as_ref()),
            message_id: m.message_id,
            event_type: m.event_type,
            language: m.language,
            mobile: m.mobile_masked,
            text: m.text,
            status: m.status,
        })
        .collect();
    Ok(Json(Messages { messages }))
}
