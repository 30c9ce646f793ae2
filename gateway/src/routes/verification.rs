//! Verification, for the project manager: the queue of received requests,
//! document reviews, and the three ways a verification ends.

use super::Query;
use super::{Body, BranchQuery, Note, PageQuery, Reply, State, grpc, present, time};
use crate::versions::{IfMatch, VersionedReply};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_domain::Bilingual;
use masar_proto::verification::v1 as verification;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A received document with its review; dates in both calendars.
#[derive(Serialize, ToSchema)]
pub(super) struct CaseDocument {
    document: String,
    name: Bilingual,
    attachment_id: String,
    content_type: String,
    size_bytes: u64,
    sha256: String,
    issued_on: String,
    issued_on_hijri: String,
    expires_on: String,
    expires_on_hijri: String,
    /// `pending`, `accepted`, `rejected` or `expired_at_submission`.
    review: String,
    reason: String,
    reviewed_by: String,
}

impl From<verification::CaseDocument> for CaseDocument {
    fn from(d: verification::CaseDocument) -> Self {
        Self {
            name: Bilingual::new(d.name_ar, d.name_en),
            document: d.document,
            attachment_id: d.attachment_id,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            issued_on: d.issued_on,
            issued_on_hijri: d.issued_on_hijri,
            expires_on: d.expires_on,
            expires_on_hijri: d.expires_on_hijri,
            review: d.review,
            reason: d.reason,
            reviewed_by: d.reviewed_by,
        }
    }
}

/// How the request fares against one eligibility rule of the policy.
#[derive(Serialize, ToSchema)]
pub(super) struct RuleOutcome {
    rule: String,
    /// `met`, `not_met` or `unknown`.
    verdict: String,
    explanation: Bilingual,
}

/// A request waiting for verification.
#[derive(Serialize, ToSchema)]
pub(super) struct PendingRequest {
    request_id: String,
    association: String,
    branch: String,
    service_type: String,
    applicant_name: String,
    /// Masked.
    national_id: String,
    status: String,
    received_at: Option<String>,
    received_on_hijri: String,
    documents: Vec<CaseDocument>,
    policy_version: u32,
    eligibility_verdict: String,
    eligibility: Vec<RuleOutcome>,
    /// The case's version: send it back as `If-Match` with an action on the case.
    version: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct PendingRequests {
    /// Oldest first: the queue is worked in the order it came in.
    requests: Vec<PendingRequest>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// The project manager's queue: requests received and not yet verified.
#[utoipa::path(get, path = "/v1/verification/pending", tag = "verification", params(BranchQuery, PageQuery),
    responses((status = 200, body = PendingRequests)))]
pub(super) async fn list_pending(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
    Query(page): Query<PageQuery>,
) -> Reply<PendingRequests> {
    let message =
        verification::ListPendingRequest { branch: q.branch, page_size: page.page_size, page_token: page.page_token };
    let reply = services.verification.clone().list_pending(grpc(&headers, message)).await?.into_inner();
    let requests = reply
        .requests
        .into_iter()
        .map(|r| PendingRequest {
            received_at: time(r.received_at.as_ref()),
            documents: r.documents.into_iter().map(CaseDocument::from).collect(),
            eligibility: r
                .eligibility
                .into_iter()
                .map(|o| RuleOutcome {
                    rule: o.rule,
                    verdict: o.verdict,
                    explanation: Bilingual::new(o.explanation_ar, o.explanation_en),
                })
                .collect(),
            request_id: r.request_id,
            association: r.association,
            branch: r.branch,
            service_type: r.service_type,
            applicant_name: r.applicant_name,
            national_id: r.national_id_masked,
            status: r.status,
            received_on_hijri: r.received_on_hijri,
            policy_version: r.policy_version,
            eligibility_verdict: r.eligibility_verdict,
            version: r.version,
        })
        .collect();
    Ok(Json(PendingRequests { requests, next_page_token: present(&reply.next_page_token) }))
}

/// Where a verification left the request.
#[derive(Serialize, ToSchema)]
pub(super) struct VerificationOutcome {
    request_id: String,
    status: String,
    policy_version: u32,
    /// What the beneficiary must complete, when returned.
    missing: Vec<Bilingual>,
    /// The case's version after the outcome (also the `ETag`).
    version: u64,
}

impl From<verification::VerificationOutcome> for VerificationOutcome {
    fn from(o: verification::VerificationOutcome) -> Self {
        Self {
            missing: o.missing.into_iter().map(|m| Bilingual::new(m.ar, m.en)).collect(),
            request_id: o.request_id,
            status: o.status,
            policy_version: o.policy_version,
            version: o.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub(super) struct DocumentReview {
    /// `accepted` or `rejected`.
    review: String,
    /// Required when rejected: told to the beneficiary.
    #[serde(default)]
    reason: String,
}

/// Accepts or rejects one received document.
#[utoipa::path(post, path = "/v1/requests/{id}/verification/documents/{document}", tag = "verification",
    params(("id" = String, Path, description = "The request"), ("document" = String, Path, description = "Which document"), IfMatch),
    request_body = DocumentReview, responses((status = 200, body = CaseDocument)))]
pub(super) async fn review_document(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path((id, document)): Path<(String, String)>,
    if_match: IfMatch,
    Body(body): Body<DocumentReview>,
) -> VersionedReply<CaseDocument> {
    let message = verification::ReviewDocumentRequest {
        request_id: id,
        document,
        review: body.review,
        reason: body.reason,
        expected_version: if_match.0,
    };
    if_match.versioned(services.verification.clone().review_document(grpc(&headers, message)).await, |d| d.case_version)
}

/// Accepts a verified, eligible request: it goes on to a social researcher.
#[utoipa::path(post, path = "/v1/requests/{id}/verification/accept", tag = "verification",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Note,
    responses((status = 200, body = VerificationOutcome)))]
pub(super) async fn accept_request(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Note>,
) -> VersionedReply<VerificationOutcome> {
    let message = verification::AcceptRequestRequest { request_id: id, note: body.note, expected_version: if_match.0 };
    if_match.versioned(services.verification.clone().accept_request(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, Default, ToSchema)]
pub(super) struct ReturnForCompletion {
    /// Empty: exactly what the document reviews and the unclear rules say is missing.
    #[serde(default)]
    missing_items: Vec<String>,
    #[serde(default)]
    note: String,
}

/// Returns the request to its beneficiary to complete what is missing.
#[utoipa::path(post, path = "/v1/requests/{id}/verification/return", tag = "verification",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = ReturnForCompletion,
    responses((status = 200, body = VerificationOutcome)))]
pub(super) async fn return_for_completion(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<ReturnForCompletion>,
) -> VersionedReply<VerificationOutcome> {
    let message = verification::ReturnForCompletionRequest {
        request_id: id,
        missing_items: body.missing_items,
        note: body.note,
        expected_version: if_match.0,
    };
    if_match
        .versioned(services.verification.clone().return_for_completion(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Ineligibility {
    /// Empty: the explanations of the policy rules the request does not meet.
    #[serde(default)]
    reasons: Vec<String>,
}

/// Closes the request as not eligible, with the reasons told to the beneficiary.
#[utoipa::path(post, path = "/v1/requests/{id}/verification/ineligible", tag = "verification",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Ineligibility,
    responses((status = 200, body = VerificationOutcome)))]
pub(super) async fn declare_ineligible(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Ineligibility>,
) -> VersionedReply<VerificationOutcome> {
    let message =
        verification::DeclareIneligibleRequest { request_id: id, reasons: body.reasons, expected_version: if_match.0 };
    if_match.versioned(services.verification.clone().declare_ineligible(grpc(&headers, message)).await, |r| r.version)
}
