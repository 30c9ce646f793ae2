//! Keeps each request's status and timeline up to date from the events of
//! the later stages.

use crate::requests::store::{IntakeStore, TimelineEntry};
use masar_domain::{ActorRole, Bilingual, CaseStatus};
use masar_platform::db::Tx;
use masar_platform::messaging::{EventHandler, HandlerError, event_case, listed};
use masar_platform::queue::Message;
use masar_proto::events::v1 as events;
use masar_proto::{Event, event_type};

pub const CONSUMES: &[&str] = &[
    event_type::REQUEST_RETURNED,
    event_type::REQUEST_VERIFIED,
    event_type::REQUEST_INELIGIBLE,
    event_type::RESEARCHER_ASSIGNED,
    event_type::FIELD_VISIT_RECORDED,
    event_type::RESEARCH_RECOMMENDED,
    event_type::CASE_SCHEDULED,
    event_type::COMMITTEE_DECIDED,
];

pub struct TimelineProjection {
    pub store: IntakeStore,
}

/// What a stage event means for the timeline.
struct Step {
    case: Option<events::CaseRef>,
    actor: Option<events::Actor>,
    at: Option<prost_types::Timestamp>,
    status: CaseStatus,
    /// Shown to the beneficiary in their language.
    note: Bilingual,
    /// The researcher assigned, for a researcher's assignment.
    researcher: Option<String>,
}

fn step(message: &Message, event: Event) -> Result<Step, HandlerError> {
    Ok(match event {
        Event::RequestReturned(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.returned_at,
            status: CaseStatus::ReturnedForCompletion,
            note: listed(&e.missing_items, &e.missing),
            researcher: None,
        },
        Event::RequestVerified(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.verified_at,
            status: CaseStatus::Verified,
            note: Bilingual::default(),
            researcher: None,
        },
        Event::RequestIneligible(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.decided_at,
            status: CaseStatus::Ineligible,
            note: listed(&e.reasons, &e.rule_explanations),
            researcher: None,
        },
        Event::ResearcherAssigned(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.assigned_at,
            status: CaseStatus::ResearcherAssigned,
            note: Bilingual::default(),
            researcher: Some(e.researcher),
        },
        Event::FieldVisitRecorded(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.visited_at,
            status: CaseStatus::FieldVisitRecorded,
            note: Bilingual::default(),
            researcher: None,
        },
        Event::ResearchRecommended(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.recommended_at,
            status: CaseStatus::Recommended,
            note: Bilingual::default(),
            researcher: None,
        },
        Event::CaseScheduled(e) => Step {
            case: e.case,
            actor: e.actor,
            at: e.scheduled_at,
            status: CaseStatus::OnCommitteeAgenda,
            note: Bilingual::default(),
            researcher: None,
        },
        Event::CommitteeDecided(e) => {
            let status = CaseStatus::parse(&e.decision).map_err(|err| HandlerError::Reject(err.to_string()))?;
            Step { case: e.case, actor: e.actor, at: e.decided_at, status, note: listed(&e.reasons, &[]), researcher: None }
        }
        Event::PolicyApplied(_)
        | Event::RequestSubmitted(_)
        | Event::RequestResubmitted(_)
        | Event::ServiceDelivered(_)
            | Event::CaseOverdue(_)
            | Event::PromiseRevised(_)
        | Event::DocumentsRequested(_)
        | Event::VisitScheduled(_)
        | Event::VisitChangeRequested(_)
        | Event::AccountOpened(_)
        | Event::AccountVerified(_)
        | Event::ContactConfirmed(_)
        | Event::InquiryAnswered(_)
        // Kept by the platform before any handler (`masar_platform::revocations`).
        | Event::SessionRevoked(_) => {
            return Err(HandlerError::Reject(format!("intake does not consume {}", message.event_type)));
        }
    })
}

#[async_trait::async_trait]
impl EventHandler for TimelineProjection {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        // A reassignment changes who may open the case, not what the beneficiary reads.
        if let Event::ResearcherAssigned(moved) = &event
            && moved.reassignment
        {
            let (request_id, _) = event_case(moved.case.clone())?;
            self.store.assign_researcher(tx, request_id, &moved.researcher).await?;
            return Ok(());
        }
        let step = step(message, event)?;
        let (request_id, _) = event_case(step.case)?;
        // Only the language the note is written in: the projection opens no personal data.
        let Some(language) = self.store.request_language_in(tx, request_id).await? else {
            return Err(HandlerError::Reject(format!("no request {request_id} in intake")));
        };
        let actor_role = step.actor.and_then(|a| ActorRole::parse(&a.role).ok()).unwrap_or(ActorRole::System);
        let at = masar_proto::to_datetime(step.at.as_ref());
        let entry = TimelineEntry::new(
            message.event_id,
            step.status,
            actor_role,
            at,
            step.note.in_language(language).to_owned(),
        );
        self.store.record(tx, request_id, &entry).await?;
        if let Some(researcher) = &step.researcher {
            self.store.assign_researcher(tx, request_id, researcher).await?;
        }
        Ok(())
    }
}
