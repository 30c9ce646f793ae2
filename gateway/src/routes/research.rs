//! Research, for social researchers: their assignments, field visits and
//! the recommendation to the committee.

use super::Query;
use super::{Body, PageQuery, Reply, State, grpc, present, time};
use crate::versions::{IfMatch, VersionedReply};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_domain::Bilingual;
use masar_proto::research::v1 as research;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A case assigned to a social researcher.
#[derive(Serialize, ToSchema)]
pub(super) struct Assignment {
    request_id: String,
    association: String,
    branch: String,
    service_type: String,
    researcher: String,
    status: String,
    visits: u32,
    /// `approve` or `reject`, once recommended.
    recommendation: String,
    assigned_at: Option<String>,
    /// The assignment's version: send it back as `If-Match` with a visit or the recommendation.
    version: u64,
    /// Why it went to this researcher: who was considered, and the rule that chose.
    why: Bilingual,
}

impl From<research::Assignment> for Assignment {
    fn from(a: research::Assignment) -> Self {
        Self {
            assigned_at: time(a.assigned_at.as_ref()),
            request_id: a.request_id,
            association: a.association,
            branch: a.branch,
            service_type: a.service_type,
            researcher: a.researcher,
            status: a.status,
            visits: a.visits,
            recommendation: a.recommendation,
            version: a.version,
            why: Bilingual::new(a.why_ar, a.why_en),
        }
    }
}

/// A verified case nobody in its branch can take yet.
#[derive(Serialize, ToSchema)]
pub(super) struct UnassignedCase {
    request_id: String,
    association: String,
    branch: String,
    service_type: String,
    waiting_since: Option<String>,
    /// Why nobody took it.
    why: Bilingual,
}

#[derive(Serialize, ToSchema)]
pub(super) struct UnassignedCases {
    /// Oldest first.
    cases: Vec<UnassignedCase>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// Supervisors: the verified cases waiting for a researcher (each is assigned as soon as one can take it).
#[utoipa::path(get, path = "/v1/research/unassigned", tag = "research", params(PageQuery),
    responses((status = 200, body = UnassignedCases)))]
pub(super) async fn list_unassigned(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> Reply<UnassignedCases> {
    let message = research::ListUnassignedRequest { page_size: page.page_size, page_token: page.page_token };
    let reply = services.research.clone().list_unassigned(grpc(&headers, message)).await?.into_inner();
    Ok(Json(UnassignedCases {
        cases: reply
            .cases
            .into_iter()
            .map(|c| UnassignedCase {
                waiting_since: time(c.waiting_since.as_ref()),
                request_id: c.request_id,
                association: c.association,
                branch: c.branch,
                service_type: c.service_type,
                why: Bilingual::new(c.why_ar, c.why_en),
            })
            .collect(),
        next_page_token: present(&reply.next_page_token),
    }))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Assignments {
    /// Oldest first.
    assignments: Vec<Assignment>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// The caller's open assignments (a researcher), or their branch's (a manager).
#[utoipa::path(get, path = "/v1/research/assignments", tag = "research", params(PageQuery),
    responses((status = 200, body = Assignments)))]
pub(super) async fn list_assignments(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> Reply<Assignments> {
    let message = research::ListAssignmentsRequest { page_size: page.page_size, page_token: page.page_token };
    let reply = services.research.clone().list_assignments(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Assignments {
        assignments: reply.assignments.into_iter().map(Assignment::from).collect(),
        next_page_token: present(&reply.next_page_token),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct FieldVisit {
    /// What the researcher found at the visit.
    findings: String,
}

/// Records a field visit to the beneficiary.
#[utoipa::path(post, path = "/v1/requests/{id}/research/visits", tag = "research",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = FieldVisit,
    responses((status = 200, body = Assignment)))]
pub(super) async fn record_field_visit(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<FieldVisit>,
) -> VersionedReply<Assignment> {
    let message =
        research::RecordFieldVisitRequest { request_id: id, findings: body.findings, expected_version: if_match.0 };
    if_match.versioned(services.research.clone().record_field_visit(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Reassignment {
    /// Another social researcher of the case's branch.
    researcher: String,
    /// Why (kept on the case's audit trail).
    reason: String,
}

/// The branch manager (or the association admin) moves an open case to
/// another researcher of its branch; the former one loses access, and the
/// beneficiary, told of the first assignment, is not told again.
#[utoipa::path(post, path = "/v1/requests/{id}/research/reassign", tag = "research",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Reassignment,
    responses((status = 200, body = Assignment)))]
pub(super) async fn reassign_researcher(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Reassignment>,
) -> VersionedReply<Assignment> {
    let message = research::ReassignResearcherRequest {
        request_id: id,
        researcher: body.researcher,
        reason: body.reason,
        expected_version: if_match.0,
    };
    if_match.versioned(services.research.clone().reassign_researcher(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Recommendation {
    /// `approve` or `reject`.
    recommendation: String,
    justification: String,
}

/// Recommends to the committee; the case joins the branch's agenda.
#[utoipa::path(post, path = "/v1/requests/{id}/research/recommendation", tag = "research",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Recommendation,
    responses((status = 200, body = Assignment)))]
pub(super) async fn record_recommendation(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Recommendation>,
) -> VersionedReply<Assignment> {
    let message = research::RecordRecommendationRequest {
        request_id: id,
        recommendation: body.recommendation,
        justification: body.justification,
        expected_version: if_match.0,
    };
    if_match.versioned(services.research.clone().record_recommendation(grpc(&headers, message)).await, |r| r.version)
}
