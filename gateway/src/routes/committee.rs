//! The research committee: its agenda, members' votes and the decision.

use super::Query;
use super::{Body, BranchQuery, PageQuery, Reply, State, grpc, present, time};
use crate::versions::{IfMatch, VersionedReply};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_proto::committee::v1 as committee;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(super) struct Vote {
    member: String,
    /// `approve`, `reject` or `defer`.
    vote: String,
    note: String,
}

/// A case on the committee's agenda.
#[derive(Serialize, ToSchema)]
pub(super) struct AgendaItem {
    request_id: String,
    association: String,
    branch: String,
    service_type: String,
    /// The researcher's recommendation.
    recommendation: String,
    status: String,
    votes: Vec<Vote>,
    /// `approved`, `rejected` or `deferred`, once decided.
    decision: String,
    reasons: Vec<String>,
    policy_version: u32,
    /// The item's version, raised by each vote: send it back as `If-Match` with the decision.
    version: u64,
    /// What research found and proposes (scores, bands, visits, the service
    /// and amount or the reasons, the justification), as recommended.
    research: Option<super::research::ResearchFile>,
    /// Members who take no part in deciding it this round, and why.
    recusals: Vec<Recusal>,
    /// 1, then one more each time it comes back after a deferral.
    round: u32,
}

/// A member who takes no part in deciding a case this round.
#[derive(Serialize, ToSchema)]
pub(super) struct Recusal {
    member: String,
    /// `researched` (recorded when the case was scheduled) or `declared`.
    kind: String,
    reason: String,
}

fn recusals(list: Vec<committee::Recusal>) -> Vec<Recusal> {
    list.into_iter().map(|r| Recusal { member: r.member, kind: r.kind, reason: r.reason }).collect()
}

impl From<committee::AgendaItem> for AgendaItem {
    fn from(i: committee::AgendaItem) -> Self {
        Self {
            votes: votes(i.votes),
            request_id: i.request_id,
            association: i.association,
            branch: i.branch,
            service_type: i.service_type,
            recommendation: i.recommendation,
            status: i.status,
            decision: i.decision,
            reasons: i.reasons,
            policy_version: i.policy_version,
            version: i.version,
            research: i.research.map(Into::into),
            recusals: recusals(i.recusals),
            round: i.round,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct Agenda {
    agenda_id: String,
    association: String,
    branch: String,
    opened_at: Option<String>,
    /// The cases awaiting a decision, in the order they were scheduled.
    items: Vec<AgendaItem>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// The branch committee's open agenda: a page of the cases awaiting its decision.
#[utoipa::path(get, path = "/v1/committee/agenda", tag = "committee", params(BranchQuery, PageQuery),
    responses((status = 200, body = Agenda)))]
pub(super) async fn get_agenda(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
    Query(page): Query<PageQuery>,
) -> Reply<Agenda> {
    let message =
        committee::GetAgendaRequest { branch: q.branch, page_size: page.page_size, page_token: page.page_token };
    let a = services.committee.clone().get_agenda(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Agenda {
        opened_at: time(a.opened_at.as_ref()),
        items: a.items.into_iter().map(AgendaItem::from).collect(),
        next_page_token: present(&a.next_page_token),
        agenda_id: a.agenda_id,
        association: a.association,
        branch: a.branch,
    }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Ballot {
    /// `approve`, `reject` or `defer`.
    vote: String,
    #[serde(default)]
    note: String,
}

/// A committee member's vote; one who researched the case cannot vote on it.
#[utoipa::path(post, path = "/v1/requests/{id}/committee/votes", tag = "committee",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Ballot,
    responses((status = 200, body = AgendaItem)))]
pub(super) async fn cast_vote(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Ballot>,
) -> VersionedReply<AgendaItem> {
    let message =
        committee::CastVoteRequest { request_id: id, vote: body.vote, note: body.note, expected_version: if_match.0 };
    if_match.versioned(services.committee.clone().cast_vote(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Decision {
    /// `approved`, `rejected` or `deferred`.
    decision: String,
    #[serde(default)]
    reasons: Vec<String>,
}

/// The committee's decision, as the policy's approval rule allows.
#[utoipa::path(post, path = "/v1/requests/{id}/committee/decision", tag = "committee",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Decision,
    responses((status = 200, body = AgendaItem)))]
pub(super) async fn record_decision(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Decision>,
) -> VersionedReply<AgendaItem> {
    let message = committee::RecordDecisionRequest {
        request_id: id,
        decision: body.decision,
        reasons: body.reasons,
        expected_version: if_match.0,
    };
    if_match.versioned(services.committee.clone().record_decision(grpc(&headers, message)).await, |r| r.version)
}

/// What the committee saw when it decided, as hashed.
#[derive(Serialize, ToSchema)]
pub(super) struct Evidence {
    round: u32,
    policy_version: u32,
    research: Option<super::research::ResearchFile>,
    votes: Vec<Vote>,
    decision: String,
    reasons: Vec<String>,
    decided_at: Option<String>,
    decided_by: String,
    recusals: Vec<Recusal>,
    /// The pack's rule it was decided under: members who had to take part, and which majority decides.
    quorum: u32,
    /// `simple` or `absolute`.
    majority: String,
}

/// One round's decision, with its evidence and explanation.
#[derive(Serialize, ToSchema)]
pub(super) struct DecisionRecord {
    round: u32,
    /// `approved`, `rejected` or `deferred`.
    decision: String,
    reasons: Vec<String>,
    decided_at: Option<String>,
    decided_by: String,
    votes: Vec<Vote>,
    evidence: Option<Evidence>,
    /// SHA-256 of the evidence as recorded (protobuf `masar.committee.v1.Evidence`).
    evidence_sha256: String,
    /// The evidence still hashes to `evidence_sha256`: nothing changed since the decision.
    intact: bool,
    /// The decision explained vote by vote, with what research found and the policy version.
    explanation: masar_domain::Bilingual,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Decisions {
    request_id: String,
    /// Every round, first first: a deferral keeps its votes.
    decisions: Vec<DecisionRecord>,
}

fn votes(list: Vec<committee::Vote>) -> Vec<Vote> {
    list.into_iter().map(|v| Vote { member: v.member, vote: v.vote, note: v.note }).collect()
}

/// A case's committee decisions, each with the evidence it was taken on and
/// whether that evidence is unchanged (committee members, supervisors).
#[utoipa::path(get, path = "/v1/requests/{id}/committee/decisions", tag = "committee",
    params(("id" = String, Path, description = "The request")), responses((status = 200, body = Decisions)))]
pub(super) async fn get_decisions(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Decisions> {
    let message = committee::GetDecisionsRequest { request_id: id };
    let d = services.committee.clone().get_decisions(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Decisions {
        request_id: d.request_id,
        decisions: d
            .decisions
            .into_iter()
            .map(|d| DecisionRecord {
                decided_at: time(d.decided_at.as_ref()),
                evidence: d.evidence.map(|e| Evidence {
                    decided_at: time(e.decided_at.as_ref()),
                    research: e.research.map(Into::into),
                    votes: votes(e.votes),
                    recusals: recusals(e.recusals),
                    quorum: e.quorum,
                    majority: e.majority,
                    round: e.round,
                    policy_version: e.policy_version,
                    decision: e.decision,
                    reasons: e.reasons,
                    decided_by: e.decided_by,
                }),
                votes: votes(d.votes),
                explanation: masar_domain::Bilingual::new(d.explanation_ar, d.explanation_en),
                round: d.round,
                decision: d.decision,
                reasons: d.reasons,
                decided_by: d.decided_by,
                evidence_sha256: d.evidence_sha256,
                intact: d.intact,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Conflict {
    /// Why (related to the beneficiary, say); kept on the case's trail.
    #[serde(default)]
    reason: String,
}

/// A member declares a conflict with a case: recused from it this round,
/// their vote withdrawn, the reason recorded.
#[utoipa::path(post, path = "/v1/requests/{id}/committee/recusal", tag = "committee",
    params(("id" = String, Path, description = "The request"), IfMatch), request_body = Conflict,
    responses((status = 200, body = AgendaItem)))]
pub(super) async fn declare_conflict(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Conflict>,
) -> VersionedReply<AgendaItem> {
    let message =
        committee::DeclareConflictRequest { request_id: id, reason: body.reason, expected_version: if_match.0 };
    if_match.versioned(services.committee.clone().declare_conflict(grpc(&headers, message)).await, |r| r.version)
}
