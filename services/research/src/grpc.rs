//! The research gRPC service: the researcher's cases, visits and
//! recommendation; the roster in [`roster`].

mod roster;

use crate::file::{for_the_committee, research_file, score_values};
use crate::store::{Assignment, CriterionScore, ResearchStore};
use chrono::Utc;
use masar_domain::calendar::saudi_day;
use masar_domain::input::read_field;
use masar_domain::research::{RecommendationEntered, check_recommendation};
use masar_domain::visits::{
    AppointmentEntered, PersonMetEntered, VisitEntered, VisitOutcome, check_appointment, check_visit,
};
use masar_domain::{ActorRole, Bilingual, CaseStatus, FieldError, PolicyPack, Recommendation, TextRule};
use masar_platform::audit::{self, Actor, action};
use masar_platform::db::Tx;
use masar_platform::forms::read_text;
use masar_platform::grpc::{
    Problem, changed_meanwhile, ensure_version, invalid_input, parse_uuid, policy_version_not_yet_kept,
    request_not_found,
};
use masar_platform::identity::Staff;
use masar_platform::messaging::Outbox;
use masar_platform::paging::{PageRequest, Position};
use masar_platform::policies::PolicyBook;
use masar_platform::tokens::TokenVerifier;
use masar_proto::events::v1 as events;
use masar_proto::research::v1::{self as api, research_service_server::ResearchService};
use masar_proto::{Event, event_type};
use tonic::{Code, Request, Response, Status};

pub struct Research {
    pub store: ResearchStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    /// Who the branch's researchers are.
    pub directory: std::sync::Arc<masar_domain::Directory>,
    /// The criteria each case is scored on, in the version it is judged under.
    pub policies: PolicyBook,
    /// Wakes the assignment of the waiting cases when the roster changes.
    pub roster_moved: std::sync::Arc<tokio::sync::Notify>,
}

fn to_api(a: Assignment) -> api::Assignment {
    api::Assignment {
        request_id: a.request_id.to_string(),
        association: a.association,
        branch: a.branch,
        service_type: a.service_type,
        researcher: a.researcher,
        status: a.status.to_string(),
        visits: a.visits as u32,
        recommendation: a.recommendation,
        assigned_at: Some(masar_proto::timestamp(a.assigned_at)),
        version: a.version,
        why_ar: a.why.ar,
        why_en: a.why.en,
    }
}

fn refused(from: CaseStatus) -> Status {
    Problem::new(Bilingual::new(
        format!("لا يمكن تنفيذ الإجراء على طلب حالته {}", from.describe().ar),
        format!("Not possible on a case that is '{}'", from.describe().en),
    ))
    .into_status(Code::FailedPrecondition)
}

impl Research {
    /// The policy version the case is judged under (kept at start and from every announcement).
    async fn pack_of(&self, assignment: &Assignment) -> Result<PolicyPack, Status> {
        let (association, version) = (&assignment.association, assignment.policy_version);
        self.policies
            .version(association, version)
            .await?
            .ok_or_else(|| policy_version_not_yet_kept(association, version))
    }

    /// An assignment for its researcher or the supervisors of its scope; a
    /// researcher sees only their own, as in their list (another's is none of theirs).
    async fn visible_assignment<T>(
        &self,
        tx: &mut Tx,
        request: &Request<T>,
        request_id: &str,
    ) -> Result<Assignment, Status> {
        let staff = Staff::from_request(&self.verifier, request)?;
        staff.require_role(&[ActorRole::SocialResearcher, ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let request_id = parse_uuid("request_id", request_id)?;
        let assignment = self.store.assignment_in(tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&assignment.association, &assignment.branch)?;
        if staff.role == ActorRole::SocialResearcher && assignment.researcher != staff.username {
            return Err(request_not_found());
        }
        Ok(assignment)
    }

    /// The research file as it stands within `tx`, after a change to it.
    async fn current_file(
        &self,
        tx: &mut Tx,
        request_id: uuid::Uuid,
        pack: &PolicyPack,
    ) -> Result<masar_proto::research::v1::ResearchFile, Status> {
        let updated = self.store.assignment_in(tx, request_id).await?.ok_or_else(request_not_found)?;
        self.file_in(tx, &updated, pack).await
    }

    /// The research file of an assignment, as stored within `tx`.
    async fn file_in(
        &self,
        tx: &mut Tx,
        assignment: &Assignment,
        pack: &PolicyPack,
    ) -> Result<masar_proto::research::v1::ResearchFile, Status> {
        let scores = self.store.scores(tx, assignment.request_id).await?;
        let visits = self.store.visits(tx, assignment.request_id).await?;
        let appointments = self.store.appointments(tx, assignment.request_id).await?;
        let verified = self.store.verified_on(tx, assignment.request_id).await?;
        Ok(research_file(assignment, pack, &scores, &visits, &appointments, verified))
    }

    /// The assignment, only for the researcher it belongs to, and only as
    /// they last saw it (`expected_version`, 0 for any).
    async fn own_assignment<T>(
        &self,
        tx: &mut Tx,
        request: &Request<T>,
        request_id: &str,
        expected_version: u64,
    ) -> Result<(Staff, Assignment), Status> {
        let staff = Staff::from_request(&self.verifier, request)?;
        staff.require_role(&[ActorRole::SocialResearcher])?;
        let request_id = parse_uuid("request_id", request_id)?;
        let assignment = self.store.assignment_in(tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&assignment.association, &assignment.branch)?;
        if assignment.researcher != staff.username {
            return Err(Problem::new(Bilingual::new(
                "هذا الطلب مسند إلى باحث آخر",
                "This case is assigned to another researcher",
            ))
            .into_status(Code::PermissionDenied));
        }
        ensure_version(expected_version, assignment.version)?;
        Ok((staff, assignment))
    }

    /// [`Self::own_assignment`], while its research is open (assigned, or visited).
    async fn open_assignment<T>(
        &self,
        tx: &mut Tx,
        request: &Request<T>,
        request_id: &str,
        expected_version: u64,
    ) -> Result<(Staff, Assignment), Status> {
        let (staff, assignment) = self.own_assignment(tx, request, request_id, expected_version).await?;
        if !assignment.status.under_research() {
            return Err(refused(assignment.status));
        }
        Ok((staff, assignment))
    }

    /// Writes the event and the audit entry (the action is the event's
    /// type), commits, and answers with the assignment as stored.
    async fn finish(
        &self,
        mut tx: Tx,
        assignment: &Assignment,
        actor: &Actor,
        event: Event,
        detail: &str,
    ) -> Result<Response<api::Assignment>, Status> {
        let kind = event.event_type();
        self.outbox.append(&mut tx, &event).await?;
        audit::record(&mut tx, actor, assignment.audit_subject(), kind, detail).await?;
        let updated = self.store.assignment_in(&mut tx, assignment.request_id).await?.ok_or_else(request_not_found)?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Response::new(to_api(updated)))
    }
}

fn actor_of(staff: &Staff) -> Option<events::Actor> {
    Some(staff.event_actor())
}

#[tonic::async_trait]
impl ResearchService for Research {
    async fn list_assignments(
        &self,
        request: Request<api::ListAssignmentsRequest>,
    ) -> Result<Response<api::ListAssignmentsResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::SocialResearcher, ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let researcher = (staff.role == ActorRole::SocialResearcher).then_some(staff.username.as_str());
        let branch = staff.branch_filter("");
        let page = PageRequest::read(request.get_ref().page_size, &request.get_ref().page_token)?;
        let assignments = self.store.open_assignments(&staff.association, branch.as_deref(), researcher, &page).await?;
        let (assignments, next_page_token) =
            page.finish(assignments, |a| Position { at: a.assigned_at, id: a.request_id });
        Ok(Response::new(api::ListAssignmentsResponse {
            assignments: assignments.into_iter().map(to_api).collect(),
            next_page_token,
        }))
    }

    async fn list_unassigned(
        &self,
        request: Request<api::ListUnassignedRequest>,
    ) -> Result<Response<api::ListUnassignedResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let branch = staff.branch_filter("");
        let page = PageRequest::read(request.get_ref().page_size, &request.get_ref().page_token)?;
        let waiting = self.store.unassigned(&staff.association, branch.as_deref(), &page).await?;
        let (waiting, next_page_token) = page.finish(waiting, |c| Position { at: c.waiting_since, id: c.request_id });
        Ok(Response::new(api::ListUnassignedResponse {
            cases: waiting
                .into_iter()
                .map(|c| api::UnassignedCase {
                    request_id: c.request_id.to_string(),
                    association: c.association,
                    branch: c.branch,
                    service_type: c.service_type,
                    waiting_since: Some(masar_proto::timestamp(c.waiting_since)),
                    why_ar: c.why.ar,
                    why_en: c.why.en,
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn reassign_researcher(
        &self,
        request: Request<api::ReassignResearcherRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let input = request.get_ref();
        let request_id = parse_uuid("request_id", &input.request_id)?;
        let mut tx = self.store.db().begin().await?;
        let assignment = self.store.assignment_in(&mut tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&assignment.association, &assignment.branch)?;
        ensure_version(input.expected_version, assignment.version)?;
        if !assignment.status.under_research() {
            return Err(refused(assignment.status));
        }
        let mut errors = Vec::new();
        let reason = read_text("reason", &input.reason, &mut errors);
        let researcher = input.researcher.trim();
        // Of the roster's researchers of the case's branch on duty.
        let roster =
            self.store.roster(&mut tx, &assignment.association, Some(&assignment.branch), &self.directory).await?;
        let of_branch = roster.iter().any(|e| e.active && e.researcher.username == researcher);
        if !of_branch || researcher == assignment.researcher {
            errors.push(FieldError::new(
                "researcher",
                Bilingual::new(
                    "اختر باحثاً اجتماعياً آخر من فرع الحالة",
                    "Choose another social researcher of the case's branch",
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let why = Bilingual::new(
            format!("{researcher}: أعاد {} الإسناد من {}: {reason}", staff.username, assignment.researcher),
            format!("{researcher}: reassigned by {} from {}: {reason}", staff.username, assignment.researcher),
        );
        if !self.store.reassign(&mut tx, &assignment, researcher, &why).await? {
            return Err(changed_meanwhile());
        }
        let event = events::ResearcherAssigned {
            case: Some(assignment.case_ref()),
            actor: actor_of(&staff),
            assigned_at: Some(masar_proto::timestamp(Utc::now())),
            researcher: researcher.to_owned(),
            reassignment: true,
        };
        self.outbox.append(&mut tx, &Event::ResearcherAssigned(event)).await?;
        let detail = format!("{} → {researcher}: {reason}", assignment.researcher);
        audit::record(
            &mut tx,
            &Actor::staff(&staff, &request),
            assignment.audit_subject(),
            action::RESEARCH_REASSIGNED,
            &detail,
        )
        .await?;
        let updated = self.store.assignment_in(&mut tx, request_id).await?.ok_or_else(request_not_found)?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(%request_id, "case reassigned");
        Ok(Response::new(to_api(updated)))
    }

    async fn list_roster(&self, request: Request<api::ListRosterRequest>) -> Result<Response<api::Roster>, Status> {
        self.list_roster_call(request).await.map(Response::new)
    }

    async fn set_roster_entry(
        &self,
        request: Request<api::SetRosterEntryRequest>,
    ) -> Result<Response<api::RosterEntry>, Status> {
        self.set_roster_entry_call(request).await.map(Response::new)
    }

    async fn add_leave(&self, request: Request<api::AddLeaveRequest>) -> Result<Response<api::RosterEntry>, Status> {
        self.add_leave_call(request).await.map(Response::new)
    }

    async fn cancel_leave(
        &self,
        request: Request<api::CancelLeaveRequest>,
    ) -> Result<Response<api::RosterEntry>, Status> {
        self.cancel_leave_call(request).await.map(Response::new)
    }

    async fn get_assignment(
        &self,
        request: Request<api::GetAssignmentRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let mut tx = self.store.db().begin().await?;
        let assignment = self.visible_assignment(&mut tx, &request, &request.get_ref().request_id).await?;
        tx.commit().await?;
        Ok(Response::new(to_api(assignment)))
    }

    async fn schedule_visit(
        &self,
        request: Request<api::ScheduleVisitRequest>,
    ) -> Result<Response<api::ResearchFile>, Status> {
        let mut tx = self.store.db().begin().await?;
        let input = request.get_ref();
        let (staff, assignment) =
            self.open_assignment(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let entered = AppointmentEntered { on: &input.on, at: &input.at, place: &input.place };
        let now = Utc::now();
        let appointment = check_appointment(entered, saudi_day(now)).map_err(invalid_input)?;
        let Some((appointment_id, moved)) =
            self.store.schedule_visit(&mut tx, &assignment, &staff.username, &appointment, now).await?
        else {
            return Err(changed_meanwhile());
        };
        let event = events::VisitScheduled {
            case: Some(assignment.case_ref()),
            actor: actor_of(&staff),
            scheduled_at: Some(masar_proto::timestamp(now)),
            appointment_id: appointment_id.to_string(),
            visit_on: appointment.on.to_string(),
            visit_time: appointment.at.format("%H:%M").to_string(),
            place: appointment.place.clone(),
            moved,
        };
        self.outbox.append(&mut tx, &Event::VisitScheduled(event)).await?;
        let detail =
            format!("{} {}{}", appointment.on, appointment.at.format("%H:%M"), if moved { ", moved" } else { "" });
        let actor = Actor::staff(&staff, &request);
        audit::record(&mut tx, &actor, assignment.audit_subject(), event_type::VISIT_SCHEDULED, &detail).await?;
        let pack = self.pack_of(&assignment).await?;
        let file = self.current_file(&mut tx, assignment.request_id, &pack).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Response::new(file))
    }

    async fn record_field_visit(
        &self,
        request: Request<api::RecordFieldVisitRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let mut tx = self.store.db().begin().await?;
        let input = request.get_ref();
        let (staff, assignment) =
            self.open_assignment(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let people_met: Vec<PersonMetEntered> = input
            .people_met
            .iter()
            .map(|p| PersonMetEntered {
                kind: p.kind.clone(),
                name: p.name.clone(),
                relation: p.relation.clone(),
                contact: p.contact.clone(),
            })
            .collect();
        let entered = VisitEntered {
            outcome: &input.outcome,
            visited_on: &input.visited_on,
            people_met: &people_met,
            findings: &input.findings,
        };
        let visit = check_visit(entered, saudi_day(Utc::now())).map_err(invalid_input)?;
        if visit.outcome == VisitOutcome::Done {
            assignment.status.transition(CaseStatus::FieldVisitRecorded).map_err(|r| refused(r.from))?;
        }
        if !self.store.record_visit(&mut tx, &assignment, &staff.username, &visit).await? {
            return Err(changed_meanwhile());
        }
        let actor = Actor::staff(&staff, &request);
        if visit.outcome == VisitOutcome::Missed {
            // Kept in the file and on the trail; the case has not moved, so there is no hand-off.
            let detail = format!("missed on {}", visit.visited_on);
            audit::record(&mut tx, &actor, assignment.audit_subject(), action::VISIT_MISSED, &detail).await?;
            let updated =
                self.store.assignment_in(&mut tx, assignment.request_id).await?.ok_or_else(request_not_found)?;
            tx.commit().await?;
            return Ok(Response::new(to_api(updated)));
        }
        let event = events::FieldVisitRecorded {
            case: Some(assignment.case_ref()),
            actor: actor_of(&staff),
            visited_at: Some(masar_proto::timestamp(Utc::now())),
        };
        let detail = format!("done on {}, {} met", visit.visited_on, visit.people_met.len());
        self.finish(tx, &assignment, &actor, Event::FieldVisitRecorded(event), &detail).await
    }

    async fn get_research_file(
        &self,
        request: Request<api::GetResearchFileRequest>,
    ) -> Result<Response<api::ResearchFile>, Status> {
        let mut tx = self.store.db().begin().await?;
        let assignment = self.visible_assignment(&mut tx, &request, &request.get_ref().request_id).await?;
        let pack = self.pack_of(&assignment).await?;
        let file = self.file_in(&mut tx, &assignment, &pack).await?;
        tx.commit().await?;
        Ok(Response::new(file))
    }

    async fn score_criteria(
        &self,
        request: Request<api::ScoreCriteriaRequest>,
    ) -> Result<Response<api::ResearchFile>, Status> {
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let (staff, assignment) =
            self.open_assignment(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let pack = self.pack_of(&assignment).await?;
        let Some(criteria) = &pack.research else {
            return Err(invalid_input(vec![FieldError::new(
                "scores",
                Bilingual::new(
                    "لا تحدد نسخة السياسة لهذا الطلب معايير للبحث الاجتماعي",
                    "The policy version of this case sets no social-research criteria",
                ),
            )]));
        };
        if input.scores.is_empty() {
            return Err(invalid_input(vec![FieldError::required("scores")]));
        }
        let entered: Vec<(&str, u32)> = input.scores.iter().map(|s| (s.criterion.trim(), s.score)).collect();
        let mut problems = criteria.check_scores(&assignment.service_type, &entered);
        let mut scores = Vec::with_capacity(input.scores.len());
        for (i, score) in input.scores.iter().enumerate() {
            let note = read_field(&format!("scores[{i}].note"), &score.note, TextRule::NOTE, false, &mut problems);
            scores.push(CriterionScore { criterion: score.criterion.trim().to_owned(), score: score.score, note });
        }
        if !problems.is_empty() {
            return Err(invalid_input(problems));
        }
        if !self.store.save_scores(&mut tx, &assignment, &staff.username, &scores, Utc::now()).await? {
            return Err(changed_meanwhile());
        }
        let codes: Vec<&str> = scores.iter().map(|s| s.criterion.as_str()).collect();
        let actor = Actor::staff(&staff, &request);
        audit::record(&mut tx, &actor, assignment.audit_subject(), action::RESEARCH_SCORED, &codes.join(", ")).await?;
        let file = self.current_file(&mut tx, assignment.request_id, &pack).await?;
        tx.commit().await?;
        Ok(Response::new(file))
    }

    async fn record_recommendation(
        &self,
        request: Request<api::RecordRecommendationRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let input = request.get_ref();
        // Who and which case first: a caller without the right learns nothing from their input's faults.
        let mut tx = self.store.db().begin().await?;
        let (staff, assignment) =
            self.open_assignment(&mut tx, &request, &input.request_id, input.expected_version).await?;
        let pack = self.pack_of(&assignment).await?;
        let scores = self.store.scores(&mut tx, assignment.request_id).await?;
        let entered = RecommendationEntered {
            recommendation: &input.recommendation,
            justification: &input.justification,
            service: &input.service,
            amount_sar: input.amount_sar,
            reasons: &input.reasons,
            departure_reason: &input.departure_reason,
            documents_requested: &input.documents_requested,
        };
        let recommended =
            check_recommendation(pack.research.as_ref(), &assignment.service_type, &score_values(&scores), entered)
                .map_err(invalid_input)?;
        // To the committee once visited; more documents go back to the beneficiary at any time.
        let asking = recommended.recommendation == Recommendation::MoreDocuments;
        let to = if asking { CaseStatus::ReturnedForCompletion } else { CaseStatus::Recommended };
        assignment.status.transition(to).map_err(|r| refused(r.from))?;
        let now = Utc::now();
        let (id, version) = (assignment.request_id, assignment.version);
        if !self.store.record_recommendation(&mut tx, id, version, &recommended, to, now).await? {
            return Err(changed_meanwhile());
        }
        let actor = Actor::staff(&staff, &request);
        let event = if asking {
            Event::DocumentsRequested(events::DocumentsRequested {
                case: Some(assignment.case_ref()),
                actor: actor_of(&staff),
                requested_at: Some(masar_proto::timestamp(now)),
                documents: recommended.proposal.documents_requested.clone(),
                note: recommended.justification.clone(),
                from_status: assignment.status.to_string(),
                policy_version: assignment.policy_version,
            })
        } else {
            // The committee gets the whole file as recommended: what it weighs cannot change under it.
            let file = self.current_file(&mut tx, id, &pack).await?;
            Event::ResearchRecommended(events::ResearchRecommended {
                case: Some(assignment.case_ref()),
                actor: actor_of(&staff),
                recommended_at: Some(masar_proto::timestamp(now)),
                recommendation: recommended.recommendation.to_string(),
                justification: recommended.justification.clone(),
                policy_version: assignment.policy_version,
                file: Some(Box::new(for_the_committee(file))),
            })
        };
        self.finish(tx, &assignment, &actor, event, recommended.recommendation.as_str()).await
    }
}
