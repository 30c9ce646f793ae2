//! The committee gRPC service: the agenda, votes and the decision; the
//! meetings in [`meetings`].

mod meetings;

use crate::explain::{explain, majority_words};
use crate::meetings::Meeting;
use crate::store::{AgendaItem, CastVote, CommitteeStore, Recusal, RecusalKind, StoredDecision, evidence_hash};
use chrono::Utc;
use masar_domain::Directory;
use masar_domain::committee::MeetingStatus;
use masar_domain::{ActorRole, Bilingual, CaseStatus, FieldError, TextRule, Vote, clean_texts};
use masar_platform::audit::{self, Actor, action};
use masar_platform::db::Tx;
use masar_platform::grpc::{
    Problem, changed_meanwhile, cleaned, ensure_version, internal, invalid_input, parse_uuid,
    policy_version_not_yet_kept, request_not_found,
};
use masar_platform::identity::Staff;
use masar_platform::messaging::Outbox;
use masar_platform::paging::{PageRequest, Position};
use masar_platform::policies::PolicyBook;
use masar_platform::tokens::TokenVerifier;
use masar_proto::committee::v1::{self as api, committee_service_server::CommitteeService};
use masar_proto::events::v1 as events;
use masar_proto::{Event, event_type};
use prost::Message as _;
use std::sync::Arc;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

pub struct Committee {
    pub store: CommitteeStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    /// Tells when a member and the case's researcher are one person.
    pub directory: Arc<Directory>,
    /// How each case's committee decides, in the version it is judged under.
    pub policies: PolicyBook,
}

fn api_vote(v: &CastVote) -> api::Vote {
    api::Vote { member: v.member.clone(), vote: v.vote.to_string(), note: v.note.clone() }
}

/// A decision as kept, its evidence checked against its hash and explained.
fn decision_reply(stored: StoredDecision, votes: Vec<CastVote>) -> api::Decision {
    let intact = evidence_hash(&stored.evidence) == stored.evidence_sha256;
    let evidence = api::Evidence::decode(stored.evidence.as_slice()).ok();
    let explained = evidence.as_ref().map(explain).unwrap_or_default();
    api::Decision {
        round: stored.round,
        decision: stored.decision.to_string(),
        reasons: evidence.as_ref().map(|e| e.reasons.clone()).unwrap_or_default(),
        decided_at: Some(masar_proto::timestamp(stored.decided_at)),
        decided_by: stored.decided_by,
        // The votes as hashed with the decision; the stored rows only where the evidence is unreadable.
        votes: evidence.as_ref().map_or_else(|| votes.iter().map(api_vote).collect(), |e| e.votes.clone()),
        intact: intact && evidence.is_some(),
        evidence,
        evidence_sha256: stored.evidence_sha256,
        explanation_ar: explained.ar,
        explanation_en: explained.en,
    }
}

fn api_recusal(r: &Recusal) -> api::Recusal {
    api::Recusal { member: r.member.clone(), kind: r.kind.clone(), reason: r.reason.clone() }
}

fn to_api(item: AgendaItem, votes: Vec<CastVote>, recusals: &[Recusal]) -> api::AgendaItem {
    api::AgendaItem {
        request_id: item.request_id.to_string(),
        association: item.association,
        branch: item.branch,
        service_type: item.service_type,
        recommendation: item.recommendation,
        status: item.status.to_string(),
        votes: votes.iter().map(api_vote).collect(),
        decision: item.decision,
        reasons: item.reasons,
        policy_version: item.policy_version,
        version: item.version,
        research: item.research,
        recusals: recusals.iter().map(api_recusal).collect(),
        round: item.round,
        meeting_id: item.meeting_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

fn recused() -> Status {
    Problem::new(Bilingual::new("أنت متنحٍّ عن هذا الطلب في هذه الجولة", "You are recused from this case in this round"))
        .into_status(Code::PermissionDenied)
}

fn decision_of(vote: Vote) -> CaseStatus {
    match vote {
        Vote::Approve => CaseStatus::Approved,
        Vote::Reject => CaseStatus::Rejected,
        Vote::Defer => CaseStatus::Deferred,
    }
}

impl Committee {
    /// A member of the case's association, and the item on the agenda as
    /// they last saw it (`expected_version`, 0 for any).
    async fn member_and_item<T>(
        &self,
        tx: &mut Tx,
        request: &Request<T>,
        request_id: &str,
        expected_version: u64,
    ) -> Result<(Staff, AgendaItem), Status> {
        let staff = Staff::from_request(&self.verifier, request)?;
        staff.require_role(&[ActorRole::CommitteeMember])?;
        let request_id = parse_uuid("request_id", request_id)?;
        let item = self.store.item_in(tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&item.association, &item.branch)?;
        // Whoever researched the case takes no part in deciding it.
        if self.directory.same_person(&item.researcher, &staff.username) {
            return Err(Problem::new(Bilingual::new(
                "لا يصوت الباحث على طلب درسه",
                "A member cannot vote on a case they researched",
            ))
            .into_status(Code::PermissionDenied));
        }
        // Nor does a member recused from this round (by a declared conflict): no vote, no decision.
        let recusals = self.store.recusals(tx, item.request_id, item.round).await?;
        if recusals.iter().any(|r| r.member == staff.username) {
            return Err(recused());
        }
        // An older reading is refused first, as everywhere: reloading shows what happened meanwhile.
        ensure_version(expected_version, item.version)?;
        if item.status != CaseStatus::OnCommitteeAgenda {
            return Err(Problem::new(Bilingual::new("تم البت في هذا الطلب", "This case has already been decided"))
                .into_status(Code::FailedPrecondition));
        }
        Ok((staff, item))
    }

    /// The meeting in session that has the item on its agenda, with the
    /// member present at it: votes and decisions are taken there, nowhere else.
    async fn meeting_in_session(&self, tx: &mut Tx, staff: &Staff, item: &AgendaItem) -> Result<Meeting, Status> {
        let meeting = match item.meeting_id {
            Some(id) => self.store.meeting_in(tx, id).await?,
            None => None,
        };
        // Held in session until this transaction ends: closing cannot slip between the check and the write.
        let held = match &meeting {
            Some(m) if m.status == MeetingStatus::InSession => self.store.hold_in_session(tx, m.meeting_id).await?,
            _ => false,
        };
        let Some(meeting) = meeting.filter(|_| held) else {
            return Err(Problem::new(Bilingual::new(
                "يُصوَّت على الطلب ويُبتّ فيه في اجتماع منعقد يعرضه",
                "A case is voted on and decided at a meeting in session that has it on its agenda",
            ))
            .because("meeting.not_in_session")
            .into_status(Code::FailedPrecondition));
        };
        if !meeting.present().any(|m| m == staff.username) {
            return Err(Problem::new(Bilingual::new(
                "لم يُسجَّل حضورك في هذا الاجتماع",
                "You are not recorded present at this meeting",
            ))
            .into_status(Code::FailedPrecondition));
        }
        Ok(meeting)
    }

    /// Agenda items as replies, each with its votes and recusals (read for all at once).
    async fn agenda_replies(&self, items: Vec<AgendaItem>) -> Result<Vec<api::AgendaItem>, Status> {
        let ids: Vec<Uuid> = items.iter().map(|item| item.request_id).collect();
        let mut votes = self.store.votes_on(&ids).await?;
        let recusals = self.store.recusals_on(&items).await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let item_votes = votes.remove(&item.request_id).unwrap_or_default();
                let item_recusals = recusals.get(&item.request_id).map(Vec::as_slice).unwrap_or_default();
                to_api(item, item_votes, item_recusals)
            })
            .collect())
    }
}

#[tonic::async_trait]
impl CommitteeService for Committee {
    async fn get_agenda(&self, request: Request<api::GetAgendaRequest>) -> Result<Response<api::Agenda>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::CommitteeMember, ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let Some(branch) = staff.branch_filter(&request.get_ref().branch) else {
            return Err(invalid_input(vec![FieldError::required("branch")]));
        };
        let page = PageRequest::read(request.get_ref().page_size, &request.get_ref().page_token)?;
        let Some((agenda_id, opened_at, items)) = self.store.agenda(&staff.association, &branch, &page).await? else {
            return Ok(Response::new(api::Agenda { association: staff.association, branch, ..Default::default() }));
        };
        let (items, next_page_token) = page.finish(items, |i| Position { at: i.scheduled_at, id: i.request_id });
        let items = self.agenda_replies(items).await?;
        Ok(Response::new(api::Agenda {
            agenda_id: agenda_id.to_string(),
            association: staff.association,
            branch,
            opened_at: Some(masar_proto::timestamp(opened_at)),
            items,
            next_page_token,
        }))
    }

    async fn cast_vote(&self, request: Request<api::CastVoteRequest>) -> Result<Response<api::AgendaItem>, Status> {
        let input = request.get_ref();
        // Who and which case first: a caller without the right learns nothing from their input's faults.
        let mut tx = self.store.db().begin().await?;
        let (staff, item) = self.member_and_item(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let vote = Vote::parse(&input.vote).map_err(|_| {
            invalid_input(vec![FieldError::new(
                "vote",
                Bilingual::new("التصويت إما approve أو reject أو defer", "A vote is approve, reject or defer"),
            )])
        })?;
        let note = cleaned("note", &input.note, TextRule::NOTE)?;
        self.meeting_in_session(&mut tx, &staff, &item).await?;
        let recusals = self.store.recusals(&mut tx, item.request_id, item.round).await?;
        let cast = CastVote { member: staff.username.clone(), vote, note };
        if !self.store.cast_vote(&mut tx, item.request_id, item.version, &cast).await? {
            return Err(changed_meanwhile());
        }
        let actor = Actor::staff(&staff, &request);
        audit::record(&mut tx, &actor, item.audit_subject(), action::VOTE_CAST, vote.as_str()).await?;
        let votes = self.store.votes_in(&mut tx, item.request_id).await?;
        tx.commit().await?;
        Ok(Response::new(to_api(AgendaItem { version: item.version + 1, ..item }, votes, &recusals)))
    }

    async fn declare_conflict(
        &self,
        request: Request<api::DeclareConflictRequest>,
    ) -> Result<Response<api::AgendaItem>, Status> {
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let (staff, item) = self.member_and_item(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let mut problems = Vec::new();
        let reason = masar_domain::input::read_field("reason", &input.reason, TextRule::LINE, true, &mut problems);
        if !problems.is_empty() {
            return Err(invalid_input(problems));
        }
        if !self.store.touch(&mut tx, &item).await? {
            return Err(changed_meanwhile());
        }
        self.store
            .recuse(&mut tx, (item.request_id, item.round), &staff.username, RecusalKind::Declared, &reason)
            .await?;
        let actor = Actor::staff(&staff, &request);
        audit::record(&mut tx, &actor, item.audit_subject(), action::MEMBER_RECUSED, &reason).await?;
        let votes = self.store.votes_in(&mut tx, item.request_id).await?;
        let recusals = self.store.recusals(&mut tx, item.request_id, item.round).await?;
        tx.commit().await?;
        Ok(Response::new(to_api(AgendaItem { version: item.version + 1, ..item }, votes, &recusals)))
    }

    async fn get_decisions(
        &self,
        request: Request<api::GetDecisionsRequest>,
    ) -> Result<Response<api::Decisions>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::CommitteeMember, ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let request_id = parse_uuid("request_id", &request.get_ref().request_id)?;
        let mut tx = self.store.db().begin().await?;
        let item = self.store.item_in(&mut tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&item.association, &item.branch)?;
        let mut decisions = Vec::new();
        for stored in self.store.decisions(&mut tx, request_id).await? {
            // The round on the agenda now keeps its votes in place; earlier rounds beside them.
            let votes = if stored.round == item.round {
                self.store.votes_in(&mut tx, request_id).await?
            } else {
                self.store.past_votes(&mut tx, request_id, stored.round).await?
            };
            decisions.push(decision_reply(stored, votes));
        }
        tx.commit().await?;
        Ok(Response::new(api::Decisions { request_id: request_id.to_string(), decisions }))
    }

    async fn schedule_meeting(
        &self,
        request: Request<api::ScheduleMeetingRequest>,
    ) -> Result<Response<api::Meeting>, Status> {
        self.schedule_meeting_call(request).await.map(Response::new)
    }

    async fn list_meetings(
        &self,
        request: Request<api::ListMeetingsRequest>,
    ) -> Result<Response<api::Meetings>, Status> {
        self.list_meetings_call(request).await.map(Response::new)
    }

    async fn get_meeting(&self, request: Request<api::GetMeetingRequest>) -> Result<Response<api::Meeting>, Status> {
        self.get_meeting_call(request).await.map(Response::new)
    }

    async fn record_attendance(
        &self,
        request: Request<api::RecordAttendanceRequest>,
    ) -> Result<Response<api::Meeting>, Status> {
        self.record_attendance_call(request).await.map(Response::new)
    }

    async fn close_meeting(
        &self,
        request: Request<api::CloseMeetingRequest>,
    ) -> Result<Response<api::Meeting>, Status> {
        self.close_meeting_call(request).await.map(Response::new)
    }

    async fn cancel_meeting(
        &self,
        request: Request<api::CancelMeetingRequest>,
    ) -> Result<Response<api::Meeting>, Status> {
        self.cancel_meeting_call(request).await.map(Response::new)
    }

    async fn get_minutes(&self, request: Request<api::GetMinutesRequest>) -> Result<Response<api::Minutes>, Status> {
        self.get_minutes_call(request).await.map(Response::new)
    }

    async fn amend_minutes(
        &self,
        request: Request<api::AmendMinutesRequest>,
    ) -> Result<Response<api::Minutes>, Status> {
        self.amend_minutes_call(request).await.map(Response::new)
    }

    async fn confirm_minutes(
        &self,
        request: Request<api::ConfirmMinutesRequest>,
    ) -> Result<Response<api::Minutes>, Status> {
        self.confirm_minutes_call(request).await.map(Response::new)
    }

    async fn record_decision(
        &self,
        request: Request<api::RecordDecisionRequest>,
    ) -> Result<Response<api::AgendaItem>, Status> {
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let (staff, item) = self.member_and_item(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let decision = CaseStatus::parse(&input.decision)
            .ok()
            .filter(|d| matches!(d, CaseStatus::Approved | CaseStatus::Rejected | CaseStatus::Deferred))
            .ok_or_else(|| {
                invalid_input(vec![FieldError::new(
                    "decision",
                    Bilingual::new(
                        "القرار إما approved أو rejected أو deferred",
                        "The decision is approved, rejected or deferred",
                    ),
                )])
            })?;
        let reasons = clean_texts("reasons", &input.reasons, TextRule::NOTE, 20)
            .map_err(|problem| invalid_input(vec![problem]))?;
        if decision != CaseStatus::Approved && reasons.is_empty() {
            return Err(invalid_input(vec![FieldError::new(
                "reasons",
                Bilingual::new("يجب ذكر أسباب الرفض أو التأجيل", "Give the reasons for rejecting or deferring"),
            )]));
        }
        let meeting = self.meeting_in_session(&mut tx, &staff, &item).await?;
        let votes = self.store.votes_in(&mut tx, item.request_id).await?;
        let recusals = self.store.recusals(&mut tx, item.request_id, item.round).await?;
        let (association, version) = (&item.association, item.policy_version);
        let pack = self
            .policies
            .version(association, version)
            .await?
            .ok_or_else(|| policy_version_not_yet_kept(association, version))?;
        let rules = pack.committee;
        // The quorum is of the members present who may take part: a recused member is not counted.
        let present: Vec<String> =
            meeting.present().filter(|m| !recusals.iter().any(|r| r.member == *m)).map(str::to_owned).collect();
        if !rules.quorum_present(present.len()) {
            return Err(Problem::new(Bilingual::new(
                format!(
                    "لا قرار دون النصاب: يلزم حضور {} من الأعضاء غير المتنحّين، والحاضرون {}",
                    rules.quorum,
                    present.len()
                ),
                format!(
                    "No decision without the quorum: {} members present who are not recused are needed, {} are",
                    rules.quorum,
                    present.len()
                ),
            ))
            .because("committee.no_quorum")
            .into_status(Code::FailedPrecondition));
        }
        // Only the votes of members present count: one marked absent since takes no part.
        let votes: Vec<CastVote> = votes.into_iter().filter(|v| present.contains(&v.member)).collect();
        if votes.len() < rules.quorum as usize {
            return Err(Problem::new(Bilingual::new(
                format!("يلزم أن يشارك {} من الأعضاء على الأقل قبل تسجيل القرار", rules.quorum),
                format!("At least {} members must take part before the decision", rules.quorum),
            ))
            .into_status(Code::FailedPrecondition));
        }
        let cast: Vec<Vote> = votes.iter().map(|v| v.vote).collect();
        if rules.outcome(&cast).map(decision_of) != Some(decision) {
            let (ar, en) = majority_words(rules.majority.as_str());
            return Err(Problem::new(Bilingual::new(
                format!("القرار لا يوافق {ar}"),
                format!("The decision does not match {en}"),
            ))
            .into_status(Code::FailedPrecondition));
        }
        item.status.transition(decision).map_err(internal)?;
        let now = Utc::now();
        // What the committee saw, as it saw it: hashed, so a later reader can check nothing changed.
        let evidence = api::Evidence {
            request_id: item.request_id.to_string(),
            round: item.round,
            policy_version: item.policy_version,
            research: item.research.clone(),
            votes: votes.iter().map(api_vote).collect(),
            decision: decision.to_string(),
            reasons: reasons.clone(),
            decided_at: Some(masar_proto::timestamp(now)),
            decided_by: staff.username.clone(),
            recusals: recusals.iter().map(api_recusal).collect(),
            quorum: rules.quorum,
            majority: rules.majority.to_string(),
            meeting_id: meeting.meeting_id.to_string(),
            present,
        };
        let decided = (staff.username.as_str(), now);
        if !self.store.decide(&mut tx, &item, decision, &reasons, decided, &evidence.encode_to_vec()).await? {
            return Err(changed_meanwhile());
        }
        let event = events::CommitteeDecided {
            case: Some(item.case_ref()),
            actor: Some(staff.event_actor()),
            decided_at: Some(masar_proto::timestamp(now)),
            decision: decision.to_string(),
            reasons: reasons.clone(),
            policy_version: item.policy_version,
        };
        self.outbox.append(&mut tx, &Event::CommitteeDecided(event)).await?;
        let actor = Actor::staff(&staff, &request);
        audit::record(&mut tx, &actor, item.audit_subject(), event_type::COMMITTEE_DECIDED, decision.as_str()).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(request_id = %item.request_id, %decision, "committee decision recorded");
        let decided =
            AgendaItem { status: decision, decision: decision.to_string(), reasons, version: item.version + 1, ..item };
        Ok(Response::new(to_api(decided, votes, &recusals)))
    }
}
