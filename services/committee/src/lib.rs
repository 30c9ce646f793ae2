//! Committee: recommended cases join their branch's open agenda; a
//! supervisor schedules meetings that take them; the members present vote
//! and, with the pack's quorum present, the committee records its decision
//! (approved, rejected with reasons, or deferred for more research); each
//! meeting closes with minutes its members confirm.

mod explain;
mod grpc;
mod meetings;
mod minutes;
mod store;

pub use meetings::{Attendee, KeptMinutes, Meeting, NewMeeting};
pub use store::{
    AgendaItem, CastVote, CommitteeStore, Recommended, Recusal, RecusalKind, StoredDecision, evidence_hash,
};

use chrono::Utc;
use masar_domain::{ActorRole, CaseStatus};
use masar_platform::audit::{self, Actor, Subject};
use masar_platform::db::{Db, DbError, Tx};
use masar_platform::messaging::{EventHandler, HandlerError, Outbox, event_case};
use masar_platform::policies::PolicyBook;
use masar_platform::queue::Message;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::committee::v1::committee_service_server::CommitteeServiceServer;
use masar_proto::events::v1 as events;
use masar_proto::{Event, event_type};
use sqlx::migrate::Migrator;
use std::sync::Arc;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates or upgrades committee's tables (and its outbox and inbox).
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    masar_platform::runtime::migrate_service(db, "committee", &POSTGRES, &SQLITE).await
}

pub fn parts(deps: &Dependencies) -> ServiceParts {
    let outbox = Outbox::new();
    let store = CommitteeStore::new(deps.db.clone());
    let service = grpc::Committee {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        directory: deps.directory.clone(),
        policies: PolicyBook::new(deps.db.clone()),
    };
    ServiceParts {
        role: Role::Committee,
        routes: tonic::service::Routes::new(CommitteeServiceServer::new(service)),
        service_names: vec!["masar.committee.v1.CommitteeService"],
        outbox: outbox.clone(),
        consumes: Some((
            vec![event_type::POLICY_APPLIED, event_type::RESEARCH_RECOMMENDED],
            Arc::new(Scheduler { store, outbox, directory: deps.directory.clone() }),
        )),
        background: Vec::new(),
    }
}

/// Puts each recommended case on its branch's open agenda.
struct Scheduler {
    store: CommitteeStore,
    outbox: Outbox,
    /// Tells which members researched the case (the same person under another post).
    directory: Arc<masar_domain::Directory>,
}

#[async_trait::async_trait]
impl EventHandler for Scheduler {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        let event = match event {
            Event::ResearchRecommended(event) => event,
            // How each case's committee decides.
            Event::PolicyApplied(announced) => return PolicyBook::keep_announced(tx, &announced).await,
            Event::RequestSubmitted(_)
            | Event::RequestResubmitted(_)
            | Event::RequestReturned(_)
            | Event::RequestVerified(_)
            | Event::RequestIneligible(_)
            | Event::ResearcherAssigned(_)
            | Event::DocumentsRequested(_)
            | Event::VisitScheduled(_)
            | Event::VisitChangeRequested(_)
            | Event::FieldVisitRecorded(_)
            | Event::CaseScheduled(_)
            | Event::CommitteeDecided(_)
            | Event::ServiceDelivered(_)
            | Event::CaseOverdue(_)
            | Event::PromiseRevised(_)
            | Event::AccountOpened(_)
            | Event::AccountVerified(_)
            | Event::ContactConfirmed(_)
            | Event::InquiryAnswered(_)
            // Kept by the platform before any handler (`masar_platform::revocations`).
            | Event::SessionRevoked(_) => {
                return Err(HandlerError::Reject(format!("committee does not consume {}", message.event_type)));
            }
        };
        let (request_id, case) = event_case(event.case)?;
        let researcher = event.actor.map(|a| a.username).unwrap_or_default();
        let existing = self.store.item_in(tx, request_id).await?;
        if let Some(existing) = &existing {
            // A deferred case comes back with a new recommendation.
            existing
                .status
                .transition(CaseStatus::ResearcherAssigned)
                .map_err(|e| HandlerError::Reject(e.to_string()))?;
        }
        CaseStatus::Recommended
            .transition(CaseStatus::OnCommitteeAgenda)
            .map_err(|e| HandlerError::Reject(e.to_string()))?;
        let now = Utc::now();
        let agenda_id = self.store.open_agenda(tx, &case.association, &case.branch, now).await?;
        let recommended = Recommended {
            case: &case,
            researcher: &researcher,
            recommendation: &event.recommendation,
            policy_version: event.policy_version,
            research: event.file.as_deref(),
        };
        let round = self.store.schedule(tx, request_id, agenda_id, recommended, now, existing.as_ref()).await?;
        // Whoever researched it takes no part in deciding it: on the record from the start.
        let members = self
            .directory
            .association(&case.association)
            .map(|a| a.staff.iter().filter(|s| s.role == ActorRole::CommitteeMember).collect::<Vec<_>>())
            .unwrap_or_default();
        // Whoever visited counts too: a case reassigned was researched by both.
        let visitors: Vec<&str> =
            event.file.iter().flat_map(|f| f.visits.iter().map(|v| v.researcher.as_str())).collect();
        let researched = |member: &str| {
            std::iter::once(researcher.as_str())
                .chain(visitors.iter().copied())
                .any(|r| self.directory.same_person(member, r))
        };
        for member in members.iter().filter(|m| researched(&m.username)) {
            let reason = "researched the case";
            self.store.recuse(tx, (request_id, round), &member.username, RecusalKind::Researched, reason).await?;
        }
        let actor = Actor::system(message);
        audit::record(tx, &actor, Subject::of(request_id, &case), event_type::CASE_SCHEDULED, "").await?;
        let scheduled = events::CaseScheduled {
            case: Some(case),
            actor: Some(actor.event_actor()),
            scheduled_at: Some(masar_proto::timestamp(now)),
            agenda_id: agenda_id.to_string(),
        };
        self.outbox.append(tx, &Event::CaseScheduled(scheduled)).await?;
        Ok(())
    }
}
