//! Research: each verified request gets a social researcher of its branch
//! (the one with the fewest open cases), who records field visits and a
//! recommendation for the committee. Deferred cases come back here.

mod grpc;
mod store;

pub use store::{Assignment, ResearchStore};

use chrono::Utc;
use masar_domain::{ActorRole, CaseStatus, Directory};
use masar_platform::audit::{self, Actor, Subject};
use masar_platform::db::{Db, DbError, Tx};
use masar_platform::messaging::{EventHandler, HandlerError, Outbox, event_case};
use masar_platform::queue::Message;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::events::v1 as events;
use masar_proto::research::v1::research_service_server::ResearchServiceServer;
use masar_proto::{Event, event_type};
use sqlx::migrate::Migrator;
use std::sync::Arc;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates or upgrades research's tables (and its outbox and inbox).
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    masar_platform::runtime::migrate_service(db, "research", &POSTGRES, &SQLITE).await
}

pub fn parts(deps: &Dependencies) -> ServiceParts {
    let outbox = Outbox::new();
    let store = ResearchStore::new(deps.db.clone());
    let service =
        grpc::Research { store: store.clone(), outbox: outbox.clone(), verifier: deps.tokens.verifier.clone() };
    let assigner = Assigner { store, outbox: outbox.clone(), directory: deps.directory.clone() };
    ServiceParts {
        role: Role::Research,
        routes: tonic::service::Routes::new(ResearchServiceServer::new(service)),
        service_names: vec!["masar.research.v1.ResearchService"],
        outbox,
        consumes: Some((vec![event_type::REQUEST_VERIFIED, event_type::COMMITTEE_DECIDED], Arc::new(assigner))),
        background: Vec::new(),
    }
}

/// Assigns verified requests, and takes back the ones the committee deferred.
struct Assigner {
    store: ResearchStore,
    outbox: Outbox,
    directory: Arc<Directory>,
}

impl Assigner {
    async fn assign(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        case: Option<events::CaseRef>,
        policy_version: u32,
    ) -> Result<(), HandlerError> {
        let (request_id, case) = event_case(case)?;
        let association = self
            .directory
            .association(&case.association)
            .ok_or_else(|| HandlerError::Reject(format!("unknown association {}", case.association)))?;
        let researchers: Vec<String> = association
            .staff_in_branch(ActorRole::SocialResearcher, &case.branch)
            .into_iter()
            .map(|s| s.username.clone())
            .collect();
        let researcher = self
            .store
            .least_busy(tx, &researchers)
            .await?
            .ok_or_else(|| HandlerError::Reject(format!("branch {} has no social researcher", case.branch)))?;
        let now = Utc::now();
        self.store.assign(tx, request_id, &case, &researcher, now, policy_version).await?;
        let subject = Subject::of(request_id, &case);
        audit::record(tx, actor, subject, event_type::RESEARCHER_ASSIGNED, &researcher).await?;
        let event = events::ResearcherAssigned {
            case: Some(case),
            actor: Some(actor.event_actor()),
            assigned_at: Some(masar_proto::timestamp(now)),
            researcher,
        };
        self.outbox.append(tx, &Event::ResearcherAssigned(event)).await?;
        Ok(())
    }

    /// A deferred case goes back to its researcher for more research.
    async fn reopen(&self, tx: &mut Tx, actor: &Actor, case: Option<events::CaseRef>) -> Result<(), HandlerError> {
        let (request_id, case) = event_case(case)?;
        let assignment = self
            .store
            .assignment_in(tx, request_id)
            .await?
            .ok_or_else(|| HandlerError::Reject(format!("no assignment for deferred {request_id}")))?;
        CaseStatus::Deferred
            .transition(CaseStatus::ResearcherAssigned)
            .map_err(|e| HandlerError::Reject(e.to_string()))?;
        self.store.set_status(tx, request_id, CaseStatus::ResearcherAssigned).await?;
        let subject = Subject::of(request_id, &case);
        audit::record(tx, actor, subject, event_type::RESEARCHER_ASSIGNED, &assignment.researcher).await?;
        let event = events::ResearcherAssigned {
            case: Some(case),
            actor: Some(actor.event_actor()),
            assigned_at: Some(masar_proto::timestamp(Utc::now())),
            researcher: assignment.researcher,
        };
        self.outbox.append(tx, &Event::ResearcherAssigned(event)).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl EventHandler for Assigner {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        let actor = Actor::system(message);
        match event {
            Event::RequestVerified(event) => self.assign(tx, &actor, event.case, event.policy_version).await,
            Event::CommitteeDecided(event) if event.decision == CaseStatus::Deferred.as_str() => {
                self.reopen(tx, &actor, event.case).await
            }
            Event::CommitteeDecided(_) => Ok(()),
            Event::PolicyApplied(_)
            | Event::RequestSubmitted(_)
            | Event::RequestResubmitted(_)
            | Event::RequestReturned(_)
            | Event::RequestIneligible(_)
            | Event::ResearcherAssigned(_)
            | Event::FieldVisitRecorded(_)
            | Event::ResearchRecommended(_)
            | Event::CaseScheduled(_)
            | Event::ServiceDelivered(_)
            | Event::AccountOpened(_)
            | Event::AccountVerified(_)
            | Event::ContactConfirmed(_)
            | Event::InquiryAnswered(_)
            // Kept by the platform before any handler (`masar_platform::revocations`).
            | Event::SessionRevoked(_) => {
                Err(HandlerError::Reject(format!("research does not consume {}", message.event_type)))
            }
        }
    }
}
