//! The research gRPC service: the researcher's cases, visits and recommendation.

use crate::store::{Assignment, ResearchStore};
use chrono::Utc;
use masar_domain::{ActorRole, Bilingual, CaseStatus, FieldError, Recommendation, TextRule, clean_text};
use masar_platform::audit::{self, Actor, action};
use masar_platform::db::Tx;
use masar_platform::forms::read_text;
use masar_platform::grpc::{
    Problem, changed_meanwhile, cleaned, ensure_version, invalid_input, parse_uuid, request_not_found,
};
use masar_platform::identity::Staff;
use masar_platform::messaging::Outbox;
use masar_platform::paging::{PageRequest, Position};
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::events::v1 as events;
use masar_proto::research::v1::{self as api, research_service_server::ResearchService};
use tonic::{Code, Request, Response, Status};

pub struct Research {
    pub store: ResearchStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    /// Who the branch's researchers are.
    pub directory: std::sync::Arc<masar_domain::Directory>,
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

fn actor(staff: &Staff) -> Option<events::Actor> {
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
        if !matches!(assignment.status, CaseStatus::ResearcherAssigned | CaseStatus::FieldVisitRecorded) {
            return Err(refused(assignment.status));
        }
        let mut errors = Vec::new();
        let reason = read_text("reason", &input.reason, &mut errors);
        let researcher = input.researcher.trim();
        let of_branch = self.directory.association(&assignment.association).is_some_and(|a| {
            a.staff_in_branch(ActorRole::SocialResearcher, &assignment.branch).iter().any(|s| s.username == researcher)
        });
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
            actor: actor(&staff),
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

    async fn get_assignment(
        &self,
        request: Request<api::GetAssignmentRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::SocialResearcher, ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let request_id = parse_uuid("request_id", &request.get_ref().request_id)?;
        let assignment = self.store.assignment(request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&assignment.association, &assignment.branch)?;
        // A researcher sees their own assignments, as in their list; another's is none of theirs.
        if staff.role == ActorRole::SocialResearcher && assignment.researcher != staff.username {
            return Err(request_not_found());
        }
        Ok(Response::new(to_api(assignment)))
    }

    async fn record_field_visit(
        &self,
        request: Request<api::RecordFieldVisitRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let mut tx = self.store.db().begin().await?;
        let input = request.get_ref();
        let (staff, assignment) =
            self.own_assignment(&mut tx, &request, &input.request_id, input.expected_version).await?;
        assignment.status.transition(CaseStatus::FieldVisitRecorded).map_err(|r| refused(r.from))?;
        let findings = cleaned("findings", &input.findings, TextRule::NOTE)?;
        if findings.is_empty() {
            return Err(invalid_input(vec![FieldError::required("findings")]));
        }
        let recorded = self
            .store
            .record_visit(&mut tx, assignment.request_id, assignment.version, &staff.username, &findings)
            .await?;
        if !recorded {
            return Err(changed_meanwhile());
        }
        let event = events::FieldVisitRecorded {
            case: Some(assignment.case_ref()),
            actor: actor(&staff),
            visited_at: Some(masar_proto::timestamp(Utc::now())),
        };
        let actor = Actor::staff(&staff, &request);
        self.finish(tx, &assignment, &actor, Event::FieldVisitRecorded(event), "").await
    }

    async fn record_recommendation(
        &self,
        request: Request<api::RecordRecommendationRequest>,
    ) -> Result<Response<api::Assignment>, Status> {
        let input = request.get_ref();
        // Who and which case first: a caller without the right learns nothing from their input's faults.
        let mut tx = self.store.db().begin().await?;
        let (staff, assignment) =
            self.own_assignment(&mut tx, &request, &input.request_id, input.expected_version).await?;
        assignment.status.transition(CaseStatus::Recommended).map_err(|r| refused(r.from))?;
        let mut errors = Vec::new();
        let recommendation = Recommendation::parse(&input.recommendation)
            .map_err(|_| {
                errors.push(FieldError::new(
                    "recommendation",
                    Bilingual::new("التوصية إما approve أو reject", "The recommendation is either approve or reject"),
                ))
            })
            .ok();
        let justification = clean_text("justification", &input.justification, TextRule::NOTE)
            .map_err(|problem| errors.push(problem))
            .unwrap_or_default();
        if justification.is_empty() && !errors.iter().any(|e| e.field == "justification") {
            errors.push(FieldError::required("justification"));
        }
        let Some(recommendation) = recommendation.filter(|_| errors.is_empty()) else {
            return Err(invalid_input(errors));
        };
        let recorded = self
            .store
            .record_recommendation(&mut tx, assignment.request_id, assignment.version, recommendation, &justification)
            .await?;
        if !recorded {
            return Err(changed_meanwhile());
        }
        let event = events::ResearchRecommended {
            case: Some(assignment.case_ref()),
            actor: actor(&staff),
            recommended_at: Some(masar_proto::timestamp(Utc::now())),
            recommendation: recommendation.to_string(),
            justification,
            policy_version: assignment.policy_version,
        };
        let actor = Actor::staff(&staff, &request);
        self.finish(tx, &assignment, &actor, Event::ResearchRecommended(event), recommendation.as_str()).await
    }
}
