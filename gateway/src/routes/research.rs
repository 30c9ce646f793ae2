//! Research, for social researchers: their assignments, field visits, the
//! pack's criteria to score and the recommendation to the committee.

use super::Query;
use super::{Body, PageQuery, Reply, State, grpc, present, time};
use crate::versions::{IfMatch, VersionedReply, versioned};
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

/// Someone the researcher met: the beneficiary, or a reference person who
/// can give reliable information about them.
#[derive(Deserialize, Serialize, ToSchema)]
pub(super) struct PersonMet {
    /// `beneficiary`, `neighbour`, `imam`, `employer`, `treating_doctor`, `hospital`, `relative` or `other`.
    kind: String,
    /// Required for a reference person.
    #[serde(default)]
    name: String,
    /// Their relation to the beneficiary; required for a relative or other.
    #[serde(default)]
    relation: String,
    /// A telephone number to reach them again (never shown to the committee).
    #[serde(default)]
    contact: String,
}

impl From<research::PersonMet> for PersonMet {
    fn from(p: research::PersonMet) -> Self {
        Self { kind: p.kind, name: p.name, relation: p.relation, contact: p.contact }
    }
}

#[derive(Deserialize, ToSchema)]
pub(super) struct FieldVisit {
    /// `done`, or `missed` when the visit could not take place.
    #[serde(default)]
    outcome: String,
    /// The day of the visit, YYYY-MM-DD (not in the future).
    #[serde(default)]
    visited_on: String,
    /// Whom the researcher met; at least one at a done visit, nobody at a missed one.
    #[serde(default)]
    people_met: Vec<PersonMet>,
    /// What the researcher found; for a missed visit, why it did not take place.
    #[serde(default)]
    findings: String,
}

/// Records a field visit to the beneficiary (done or missed).
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
    let message = research::RecordFieldVisitRequest {
        request_id: id,
        findings: body.findings,
        expected_version: if_match.0,
        outcome: body.outcome,
        visited_on: body.visited_on,
        people_met: body
            .people_met
            .into_iter()
            .map(|p| research::PersonMet { kind: p.kind, name: p.name, relation: p.relation, contact: p.contact })
            .collect(),
    };
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
    /// `approve` or `reject` (to the committee), or `more_documents`.
    recommendation: String,
    justification: String,
    /// Approve: the service to give (Nuzul: the works; Hayat: the treatment support).
    #[serde(default)]
    service: String,
    /// Approve: its amount in riyals (the estimated cost, the support amount).
    #[serde(default)]
    amount_sar: u64,
    /// Reject: the reasons.
    #[serde(default)]
    reasons: Vec<String>,
    /// Required when recommending otherwise than the total's band suggests.
    #[serde(default)]
    departure_reason: String,
    /// `more_documents`: what the beneficiary is to bring; the case goes back
    /// to them as a return for completion, and comes back to this researcher.
    #[serde(default)]
    documents_requested: Vec<String>,
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
        service: body.service,
        amount_sar: body.amount_sar,
        reasons: body.reasons,
        departure_reason: body.departure_reason,
        documents_requested: body.documents_requested,
    };
    if_match.versioned(services.research.clone().record_recommendation(grpc(&headers, message)).await, |r| r.version)
}

/// One of the pack's criteria for the case, and its score.
#[derive(Serialize, ToSchema)]
pub(super) struct CriterionScore {
    group: String,
    group_name: Bilingual,
    criterion: String,
    label: Bilingual,
    /// How to score it: what each end of the scale means.
    guidance: Bilingual,
    scale_min: u32,
    scale_max: u32,
    weight: u32,
    /// `null` until scored.
    score: Option<u32>,
    note: String,
}

/// Totals from `from_percent` up to the next band suggest `suggests`.
#[derive(Serialize, ToSchema)]
pub(super) struct ScoreBand {
    from_percent: u32,
    /// `approve` or `reject`.
    suggests: String,
    label: Bilingual,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Visit {
    researcher: String,
    /// `done` or `missed`.
    outcome: String,
    /// The day of the visit; `null` for visits recorded before the day was asked.
    visited_on: Option<String>,
    people_met: Vec<PersonMet>,
    findings: String,
    /// When it was recorded.
    recorded_at: Option<String>,
}

/// Everything research found and proposes about a case: what the committee weighs.
#[derive(Serialize, ToSchema)]
pub(super) struct ResearchFile {
    request_id: String,
    association: String,
    branch: String,
    service_type: String,
    researcher: String,
    /// Where the case stands in research (`researcher_assigned`, `field_visit_recorded`, `recommended`, …).
    status: String,
    policy_version: u32,
    /// The pack's criteria for the case's service type (empty when its version has none).
    criteria: Vec<CriterionScore>,
    bands: Vec<ScoreBand>,
    /// The weighted total, 0 to 100, once every criterion is scored.
    total_percent: Option<u32>,
    /// The total's band: its suggestion (`approve` or `reject`) and name; `null` until scored.
    suggested: Option<String>,
    band: Option<Bilingual>,
    visits: Vec<Visit>,
    /// Once recommended: `approve` or `reject`, and why.
    recommendation: Option<String>,
    justification: String,
    /// An approval's service and amount in riyals, as the pack names them.
    service: String,
    amount_sar: u64,
    service_label: Bilingual,
    amount_label: Bilingual,
    /// A rejection's reasons.
    reasons: Vec<String>,
    /// The last ask for more documents.
    documents_requested: Vec<String>,
    /// What the committee asked when it last deferred the case back to research.
    committee_questions: Vec<String>,
    /// The documents verification accepted the case on, with their SHA-256 (open them at
    /// `/v1/requests/{id}/attachments/{attachment_id}`).
    documents: Vec<VerifiedDocument>,
    /// The policy's eligibility rules, judged one by one.
    eligibility: Vec<RuleResult>,
    /// Why the recommendation departs from the band, where it does.
    departure_reason: String,
    recommended_at: Option<String>,
    /// The assignment's version: send it back as `If-Match` with scores or the recommendation.
    version: u64,
    /// The visits' appointments, first first.
    appointments: Vec<Appointment>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct VerifiedDocument {
    document: String,
    name: Bilingual,
    attachment_id: String,
    content_type: String,
    sha256: String,
    review: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RuleResult {
    rule: String,
    /// `met`, `not_met` or `unknown`.
    verdict: String,
    explanation: Bilingual,
}

/// A visit's appointment and what became of it.
#[derive(Serialize, ToSchema)]
pub(super) struct Appointment {
    appointment_id: String,
    on: String,
    at: String,
    place: String,
    /// `scheduled`, `change_requested` (the beneficiary asked for another time), `moved`, `kept` or `missed`.
    status: String,
    /// The beneficiary's reason, when they asked for another time.
    change_reason: String,
    scheduled_at: Option<String>,
}

impl From<research::ResearchFile> for ResearchFile {
    fn from(f: research::ResearchFile) -> Self {
        Self {
            criteria: f
                .criteria
                .into_iter()
                .map(|c| CriterionScore {
                    group: c.group,
                    group_name: Bilingual::new(c.group_ar, c.group_en),
                    criterion: c.criterion,
                    label: Bilingual::new(c.label_ar, c.label_en),
                    guidance: Bilingual::new(c.guidance_ar, c.guidance_en),
                    scale_min: c.scale_min,
                    scale_max: c.scale_max,
                    weight: c.weight,
                    score: c.score,
                    note: c.note,
                })
                .collect(),
            bands: f
                .bands
                .into_iter()
                .map(|b| ScoreBand {
                    from_percent: b.from_percent,
                    suggests: b.suggests,
                    label: Bilingual::new(b.label_ar, b.label_en),
                })
                .collect(),
            band: f.total_percent.map(|_| Bilingual::new(f.band_ar, f.band_en)),
            suggested: present(&f.suggested),
            visits: f
                .visits
                .into_iter()
                .map(|v| Visit {
                    recorded_at: time(v.visited_at.as_ref()),
                    visited_on: present(&v.visited_on),
                    people_met: v.people_met.into_iter().map(PersonMet::from).collect(),
                    researcher: v.researcher,
                    outcome: v.outcome,
                    findings: v.findings,
                })
                .collect(),
            recommendation: present(&f.recommendation),
            recommended_at: time(f.recommended_at.as_ref()),
            service_label: Bilingual::new(f.service_label_ar, f.service_label_en),
            amount_label: Bilingual::new(f.amount_label_ar, f.amount_label_en),
            request_id: f.request_id,
            association: f.association,
            branch: f.branch,
            service_type: f.service_type,
            researcher: f.researcher,
            status: f.status,
            policy_version: f.policy_version,
            total_percent: f.total_percent,
            justification: f.justification,
            service: f.service,
            amount_sar: f.amount_sar,
            reasons: f.reasons,
            documents_requested: f.documents_requested,
            committee_questions: f.committee_questions,
            documents: f
                .documents
                .into_iter()
                .map(|d| VerifiedDocument {
                    name: Bilingual::new(d.name_ar, d.name_en),
                    document: d.document,
                    attachment_id: d.attachment_id,
                    content_type: d.content_type,
                    sha256: d.sha256,
                    review: d.review,
                })
                .collect(),
            eligibility: f
                .eligibility
                .into_iter()
                .map(|r| RuleResult {
                    explanation: Bilingual::new(r.explanation_ar, r.explanation_en),
                    rule: r.rule,
                    verdict: r.verdict,
                })
                .collect(),
            departure_reason: f.departure_reason,
            version: f.version,
            appointments: f
                .appointments
                .into_iter()
                .map(|a| Appointment {
                    scheduled_at: time(a.scheduled_at.as_ref()),
                    appointment_id: a.appointment_id,
                    on: a.on,
                    at: a.at,
                    place: a.place,
                    status: a.status,
                    change_reason: a.change_reason,
                })
                .collect(),
        }
    }
}

/// The case's research file: the criteria to score with the scores so far,
/// the bands, the visits and the recommendation (its researcher and supervisors).
#[utoipa::path(get, path = "/v1/requests/{id}/research/file", tag = "research",
    params(("id" = String, Path, description = "The request")),
    responses((status = 200, body = ResearchFile)))]
pub(super) async fn get_research_file(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> VersionedReply<ResearchFile> {
    let message = research::GetResearchFileRequest { request_id: id };
    versioned(services.research.clone().get_research_file(grpc(&headers, message)).await, |f| f.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ScoreEntered {
    /// The criterion's code, as the research file lists it.
    criterion: String,
    /// On the criterion's scale.
    score: u32,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Scores {
    scores: Vec<ScoreEntered>,
}

/// Scores some or all of the case's criteria (again, to change a score);
/// nothing is kept unless every score given is right.
#[utoipa::path(put, path = "/v1/requests/{id}/research/scores", tag = "research",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Scores,
    responses((status = 200, body = ResearchFile)))]
pub(super) async fn score_criteria(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Scores>,
) -> VersionedReply<ResearchFile> {
    let message = research::ScoreCriteriaRequest {
        request_id: id,
        scores: body
            .scores
            .into_iter()
            .map(|s| research::CriterionScoreInput { criterion: s.criterion, score: s.score, note: s.note })
            .collect(),
        expected_version: if_match.0,
    };
    if_match.versioned(services.research.clone().score_criteria(grpc(&headers, message)).await, |f| f.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct VisitAppointment {
    /// The day, YYYY-MM-DD: from today to 60 days ahead.
    #[serde(default)]
    on: String,
    /// The time, HH:MM (Saudi time), between 08:00 and 21:00.
    #[serde(default)]
    at: String,
    /// Where, e.g. the family's home.
    #[serde(default)]
    place: String,
}

/// Sets the visit's day, time and place (moving any earlier appointment);
/// the beneficiary is told by SMS and may ask for another time.
#[utoipa::path(post, path = "/v1/requests/{id}/research/appointments", tag = "research",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = VisitAppointment,
    responses((status = 200, body = ResearchFile)))]
pub(super) async fn schedule_visit(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<VisitAppointment>,
) -> VersionedReply<ResearchFile> {
    let message = research::ScheduleVisitRequest {
        request_id: id,
        on: body.on,
        at: body.at,
        place: body.place,
        expected_version: if_match.0,
    };
    if_match.versioned(services.research.clone().schedule_visit(grpc(&headers, message)).await, |f| f.version)
}
