//! The research committee: its agenda, its meetings and their minutes,
//! members' votes and the decision.

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
    /// The meeting in session that took it on its agenda; `null` while it waits for one.
    meeting_id: Option<String>,
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
            meeting_id: present(&i.meeting_id),
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
    /// The meeting it was decided at, and the members present who could take part.
    meeting_id: Option<String>,
    present: Vec<String>,
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
                    meeting_id: present(&e.meeting_id),
                    present: e.present,
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

#[derive(Deserialize, ToSchema)]
pub(super) struct NewMeeting {
    /// The meeting's branch; empty (or left out) for an association-wide
    /// meeting, where the pack's `[committee] meetings` says so.
    #[serde(default)]
    branch: String,
    /// The day, `YYYY-MM-DD`, from today to 90 days ahead.
    #[serde(default)]
    on: String,
    /// The time, `HH:MM`, Saudi time.
    #[serde(default)]
    at: String,
    #[serde(default)]
    place: String,
    /// One of `members`.
    #[serde(default)]
    chair: String,
    /// Usernames of the association's committee members: at least the pack's quorum.
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Attendee {
    member: String,
    present: bool,
    /// As the directory has it (in the minutes); `null` elsewhere.
    name: Option<String>,
}

fn attendees(list: Vec<committee::Attendee>) -> Vec<Attendee> {
    list.into_iter().map(|a| Attendee { name: present(&a.name), member: a.member, present: a.present }).collect()
}

/// A committee meeting.
#[derive(Serialize, ToSchema)]
pub(super) struct Meeting {
    meeting_id: String,
    association: String,
    /// `null` for an association-wide meeting.
    branch: Option<String>,
    /// `branch` or `association`.
    scope: String,
    starts_at: Option<String>,
    /// The day in the Umm al-Qura calendar.
    on_hijri: String,
    place: String,
    chair: String,
    /// In the order they were named, each present or not (empty in lists: read the meeting).
    members: Vec<Attendee>,
    /// `scheduled`, `in_session` (from the first attendance recorded), `closed` or `cancelled`.
    status: String,
    /// Members present (not recused) the pack requires for a decision.
    quorum: u32,
    majority: String,
    /// The cases before it: those awaiting a decision while it is scheduled,
    /// those it took when it opened after. Empty in lists.
    agenda: Vec<AgendaItem>,
    scheduled_by: String,
    opened_at: Option<String>,
    closed_at: Option<String>,
    /// `null` until it closes; then `awaiting_confirmation` or `confirmed`.
    minutes_status: Option<String>,
    /// Raised by every change: send it back as `If-Match` with attendance and closing.
    version: u64,
}

impl From<committee::Meeting> for Meeting {
    fn from(m: committee::Meeting) -> Self {
        Self {
            starts_at: time(m.starts_at.as_ref()),
            opened_at: time(m.opened_at.as_ref()),
            closed_at: time(m.closed_at.as_ref()),
            branch: present(&m.branch),
            minutes_status: present(&m.minutes_status),
            members: attendees(m.members),
            agenda: m.agenda.into_iter().map(AgendaItem::from).collect(),
            meeting_id: m.meeting_id,
            association: m.association,
            scope: m.scope,
            on_hijri: m.on_hijri,
            place: m.place,
            chair: m.chair,
            status: m.status,
            quorum: m.quorum,
            majority: m.majority,
            scheduled_by: m.scheduled_by,
            version: m.version,
        }
    }
}

/// A branch manager (their branch) or the association admin schedules a
/// committee meeting with its members and chair.
#[utoipa::path(post, path = "/v1/committee/meetings", tag = "committee", request_body = NewMeeting,
    responses((status = 200, body = Meeting)))]
pub(super) async fn schedule_meeting(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Body(body): Body<NewMeeting>,
) -> VersionedReply<Meeting> {
    let message = committee::ScheduleMeetingRequest {
        branch: body.branch,
        on: body.on,
        at: body.at,
        place: body.place,
        chair: body.chair,
        members: body.members,
    };
    crate::versions::versioned(services.committee.clone().schedule_meeting(grpc(&headers, message)).await, |m| {
        m.version
    })
}

#[derive(Serialize, ToSchema)]
pub(super) struct Meetings {
    /// The latest first, without their agendas.
    meetings: Vec<Meeting>,
    next_page_token: Option<String>,
}

/// The meetings of the caller's scope, the latest first.
#[utoipa::path(get, path = "/v1/committee/meetings", tag = "committee", params(BranchQuery, PageQuery),
    responses((status = 200, body = Meetings)))]
pub(super) async fn list_meetings(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
    Query(page): Query<PageQuery>,
) -> Reply<Meetings> {
    let message =
        committee::ListMeetingsRequest { branch: q.branch, page_size: page.page_size, page_token: page.page_token };
    let m = services.committee.clone().list_meetings(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Meetings {
        meetings: m.meetings.into_iter().map(Meeting::from).collect(),
        next_page_token: present(&m.next_page_token),
    }))
}

/// A meeting with its agenda, each case with its research file and votes.
#[utoipa::path(get, path = "/v1/committee/meetings/{id}", tag = "committee",
    params(("id" = String, Path, description = "The meeting")), responses((status = 200, body = Meeting)))]
pub(super) async fn get_meeting(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
) -> VersionedReply<Meeting> {
    let message = committee::GetMeetingRequest { meeting_id };
    crate::versions::versioned(services.committee.clone().get_meeting(grpc(&headers, message)).await, |m| m.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Attendance {
    /// The members present now; the meeting's others are absent.
    #[serde(default)]
    present: Vec<String>,
}

/// The chair or a supervisor records who is present. The first record, on
/// the meeting's day, opens it: its agenda is then the cases recommended before.
#[utoipa::path(put, path = "/v1/committee/meetings/{id}/attendance", tag = "committee",
    params(("id" = String, Path, description = "The meeting"), IfMatch), request_body = Attendance,
    responses((status = 200, body = Meeting)))]
pub(super) async fn record_attendance(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Attendance>,
) -> VersionedReply<Meeting> {
    let message =
        committee::RecordAttendanceRequest { meeting_id, present: body.present, expected_version: if_match.0 };
    if_match.versioned(services.committee.clone().record_attendance(grpc(&headers, message)).await, |m| m.version)
}

/// Closes a meeting in session: the cases it did not decide wait for the
/// next one, and its minutes are produced for the members present to confirm.
#[utoipa::path(post, path = "/v1/committee/meetings/{id}/closing", tag = "committee",
    params(("id" = String, Path, description = "The meeting"), IfMatch),
    responses((status = 200, body = Meeting)))]
pub(super) async fn close_meeting(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
    if_match: IfMatch,
) -> VersionedReply<Meeting> {
    let message = committee::CloseMeetingRequest { meeting_id, expected_version: if_match.0 };
    if_match.versioned(services.committee.clone().close_meeting(grpc(&headers, message)).await, |m| m.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Cancellation {
    /// Why it is called off.
    #[serde(default)]
    reason: String,
}

/// A supervisor calls off a meeting that has not sat (send its `version` as `If-Match`).
#[utoipa::path(post, path = "/v1/committee/meetings/{id}/cancellation", tag = "committee",
    params(("id" = String, Path, description = "The meeting"), IfMatch), request_body = Cancellation,
    responses((status = 200, body = Meeting)))]
pub(super) async fn cancel_meeting(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Cancellation>,
) -> VersionedReply<Meeting> {
    let message = committee::CancelMeetingRequest { meeting_id, reason: body.reason, expected_version: if_match.0 };
    if_match.versioned(services.committee.clone().cancel_meeting(grpc(&headers, message)).await, |m| m.version)
}

/// One case as the minutes record it.
#[derive(Serialize, ToSchema)]
pub(super) struct MinutesCase {
    request_id: String,
    service_type: String,
    recommendation: String,
    round: u32,
    /// `approved`, `rejected`, `deferred`, or `carried_over` to the next meeting.
    decision: String,
    reasons: Vec<String>,
    votes: Vec<Vote>,
    recusals: Vec<Recusal>,
    /// The decision's evidence hash (see the case's decisions); empty when carried over.
    evidence_sha256: String,
}

/// A closed meeting's minutes (محضر).
#[derive(Serialize, ToSchema)]
pub(super) struct Minutes {
    meeting_id: String,
    association: String,
    branch: Option<String>,
    starts_at: Option<String>,
    on_gregorian: String,
    on_hijri: String,
    place: String,
    chair: String,
    attendance: Vec<Attendee>,
    quorum: u32,
    majority: String,
    cases: Vec<MinutesCase>,
    /// The chair's remarks.
    remarks: String,
    closed_at: Option<String>,
    /// `awaiting_confirmation` or `confirmed` (then they cannot change).
    status: String,
    confirmed_by: Vec<String>,
    /// SHA-256 of the printable document: what a member confirms, and what an amendment names.
    sha256: String,
    /// Where the printable document is.
    print: String,
}

fn minutes_reply(m: committee::Minutes) -> Minutes {
    let record = m.record.unwrap_or_default();
    Minutes {
        print: format!("/v1/committee/meetings/{}/minutes/print", record.meeting_id),
        starts_at: time(record.starts_at.as_ref()),
        closed_at: time(record.closed_at.as_ref()),
        branch: present(&record.branch),
        attendance: attendees(record.attendance),
        cases: record
            .cases
            .into_iter()
            .map(|c| MinutesCase {
                votes: votes(c.votes),
                recusals: recusals(c.recusals),
                request_id: c.request_id,
                service_type: c.service_type,
                recommendation: c.recommendation,
                round: c.round,
                decision: c.decision,
                reasons: c.reasons,
                evidence_sha256: c.evidence_sha256,
            })
            .collect(),
        meeting_id: record.meeting_id,
        association: record.association,
        on_gregorian: record.on_gregorian,
        on_hijri: record.on_hijri,
        place: record.place,
        chair: record.chair,
        quorum: record.quorum,
        majority: record.majority,
        remarks: record.remarks,
        status: m.status,
        confirmed_by: m.confirmed_by,
        sha256: m.sha256,
    }
}

/// A closed meeting's minutes, for its committee and supervisors.
#[utoipa::path(get, path = "/v1/committee/meetings/{id}/minutes", tag = "committee",
    params(("id" = String, Path, description = "The meeting")), responses((status = 200, body = Minutes)))]
pub(super) async fn get_minutes(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
) -> Reply<Minutes> {
    let message = committee::GetMinutesRequest { meeting_id };
    Ok(Json(minutes_reply(services.committee.clone().get_minutes(grpc(&headers, message)).await?.into_inner())))
}

/// The minutes as a printable page (HTML with print styles; Arabic, then
/// English), exactly the document whose SHA-256 the members confirm.
#[utoipa::path(get, path = "/v1/committee/meetings/{id}/minutes/print", tag = "committee",
    params(("id" = String, Path, description = "The meeting")),
    responses((status = 200, content_type = "text/html", body = String)))]
pub(super) async fn print_minutes(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
) -> Result<axum::response::Response, crate::error::ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse as _;
    let message = committee::GetMinutesRequest { meeting_id };
    let minutes = services.committee.clone().get_minutes(grpc(&headers, message)).await?.into_inner();
    let etag = format!("\"{}\"", minutes.sha256);
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()), (header::ETAG, etag)], minutes.html)
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub(super) struct MinutesAmendment {
    /// The chair's remarks, replacing any earlier ones.
    #[serde(default)]
    remarks: String,
    /// The `sha256` of the minutes as the chair read them.
    #[serde(default)]
    sha256: String,
}

/// The chair amends minutes awaiting confirmation; confirmations of the earlier text no longer count.
#[utoipa::path(put, path = "/v1/committee/meetings/{id}/minutes", tag = "committee",
    params(("id" = String, Path, description = "The meeting")), request_body = MinutesAmendment,
    responses((status = 200, body = Minutes)))]
pub(super) async fn amend_minutes(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
    Body(body): Body<MinutesAmendment>,
) -> Reply<Minutes> {
    let message = committee::AmendMinutesRequest { meeting_id, remarks: body.remarks, expected_sha256: body.sha256 };
    Ok(Json(minutes_reply(services.committee.clone().amend_minutes(grpc(&headers, message)).await?.into_inner())))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct MinutesConfirmation {
    /// The `sha256` of the minutes the member read.
    #[serde(default)]
    sha256: String,
}

/// A member present confirms the minutes; with every present member's
/// confirmation they are confirmed and never change.
#[utoipa::path(post, path = "/v1/committee/meetings/{id}/minutes/confirmation", tag = "committee",
    params(("id" = String, Path, description = "The meeting")), request_body = MinutesConfirmation,
    responses((status = 200, body = Minutes)))]
pub(super) async fn confirm_minutes(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(meeting_id): Path<String>,
    Body(body): Body<MinutesConfirmation>,
) -> Reply<Minutes> {
    let message = committee::ConfirmMinutesRequest { meeting_id, sha256: body.sha256 };
    Ok(Json(minutes_reply(services.committee.clone().confirm_minutes(grpc(&headers, message)).await?.into_inner())))
}
