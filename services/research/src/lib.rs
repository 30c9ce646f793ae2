//! Research: each verified request gets a social researcher of its branch
//! (the one with the fewest open cases), who records field visits, scores
//! the pack's social-research criteria and recommends to the committee,
//! which receives the whole research file. Deferred cases come back here.

mod file;
mod grpc;
mod roster;
mod store;

pub use store::{Assignment, Chosen, CriterionScore, ResearchStore, StoredAppointment, Unassigned, Visit};

use chrono::Utc;
use masar_domain::assignment::{self, Candidate, CaseToAssign, Choice};
use masar_domain::calendar::saudi_day;
use masar_domain::{CaseStatus, Directory};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::db::{Db, DbError, Tx};
use masar_platform::messaging::{EventHandler, HandlerError, Outbox, event_case};
use masar_platform::paging::{MAX_PAGE_SIZE, PageRequest, Position};
use masar_platform::policies::PolicyBook;
use masar_platform::queue::Message;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::events::v1 as events;
use masar_proto::research::v1::VerifiedOn;
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

/// How often research looks again for someone to take the waiting cases.
pub const ASSIGN_WAITING_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

pub fn parts(deps: &Dependencies, shutdown: masar_platform::CancellationToken) -> ServiceParts {
    let outbox = Outbox::new();
    let store = ResearchStore::new(deps.db.clone(), deps.personal.clone());
    let resealed = store.clone();
    let roster_moved = Arc::new(tokio::sync::Notify::new());
    let service = grpc::Research {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        directory: deps.directory.clone(),
        policies: PolicyBook::new(deps.db.clone()),
        roster_moved: roster_moved.clone(),
    };
    let assigner = Arc::new(Assigner { store, outbox: outbox.clone(), directory: deps.directory.clone() });
    let sweeper = assigner.clone();
    ServiceParts {
        role: Role::Research,
        routes: tonic::service::Routes::new(ResearchServiceServer::new(service)),
        service_names: vec!["masar.research.v1.ResearchService"],
        outbox,
        consumes: Some((
            vec![
                event_type::POLICY_APPLIED,
                event_type::REQUEST_VERIFIED,
                event_type::COMMITTEE_DECIDED,
                event_type::VISIT_CHANGE_REQUESTED,
                event_type::REQUEST_INELIGIBLE,
            ],
            assigner,
        )),
        background: vec![
            Box::pin({
                let shutdown = shutdown.clone();
                async move {
                    let mut every = tokio::time::interval(ASSIGN_WAITING_EVERY);
                    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = every.tick() => {}
                            // Someone may take a waiting case now.
                            () = roster_moved.notified() => {}
                            () = shutdown.cancelled() => return,
                        }
                        if let Err(error) = sweeper.assign_waiting().await {
                            tracing::warn!(%error, "assigning the waiting cases failed; trying again later");
                        }
                    }
                }
            }),
            Box::pin({
                let shutdown = shutdown.clone();
                async move {
                    let every = masar_platform::personal::RESEAL_EVERY;
                    masar_platform::personal::keep_sealed(|| resealed.reseal_batch(), every, shutdown).await
                }
            }),
        ],
    }
}

/// Assigns verified requests, and takes back the ones the committee deferred.
struct Assigner {
    store: ResearchStore,
    outbox: Outbox,
    directory: Arc<Directory>,
}

impl Assigner {
    /// Gives the case to the least busy of the branch's researchers the
    /// roster allows (on duty, handling its service type, under capacity), or
    /// keeps it waiting when there is none; true if it was assigned. A case
    /// coming back with the documents research asked for stays with the
    /// researcher who asked, unless the roster no longer allows them.
    async fn assign(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        case: Option<events::CaseRef>,
        policy_version: u32,
        preference: Option<&masar_domain::roster::Preference>,
    ) -> Result<bool, HandlerError> {
        let (request_id, case) = event_case(case)?;
        // A case research asked documents for comes back verified again; no other is assigned twice.
        let existing = self.store.assignment_in(tx, request_id).await?;
        if let Some(existing) = &existing {
            if existing.status != CaseStatus::ReturnedForCompletion {
                return Err(HandlerError::Reject(format!(
                    "request {request_id} verified again while research has it as '{}'",
                    existing.status
                )));
            }
            CaseStatus::Verified
                .transition(CaseStatus::ResearcherAssigned)
                .map_err(|e| HandlerError::Reject(e.to_string()))?;
        }
        if self.directory.association(&case.association).is_none() {
            return Err(HandlerError::Reject(format!("unknown association {}", case.association)));
        }
        // The roster as supervisors keep it: the branch's researchers on duty.
        let roster = self.store.roster(tx, &case.association, Some(&case.branch), &self.directory).await?;
        let researchers: Vec<&masar_domain::directory::StaffMember> =
            roster.iter().filter(|entry| entry.active).map(|entry| &entry.researcher).collect();
        let usernames: Vec<&str> = researchers.iter().map(|r| r.username.as_str()).collect();
        let open_cases = self.store.open_cases(tx, &case.association, &usernames).await?;
        let candidates: Vec<Candidate> = researchers
            .into_iter()
            .map(|researcher| Candidate {
                researcher,
                open_cases: open_cases.get(&researcher.username).copied().unwrap_or(0),
            })
            .collect();
        let now = Utc::now();
        let to_assign = CaseToAssign {
            branch: &case.branch,
            service_type: &case.service_type,
            day: saudi_day(now),
            prefer: preference,
        };
        // Back with its documents, it stays with the researcher who asked if the roster still allows.
        let asked_by: Vec<Candidate> = candidates
            .iter()
            .filter(|c| existing.as_ref().is_some_and(|e| e.researcher == c.researcher.username))
            .copied()
            .collect();
        let kept = (!asked_by.is_empty())
            .then(|| assignment::choose(&to_assign, &asked_by))
            .filter(|choice| choice.chosen.is_some());
        let Choice { chosen, why } = kept.unwrap_or_else(|| assignment::choose(&to_assign, &candidates));
        let subject = Subject::of(request_id, &case);
        let Some(researcher) = chosen else {
            // Never dropped: it waits where supervisors see it, and the sweep assigns it.
            let waiting = Unassigned {
                request_id,
                association: case.association.clone(),
                branch: case.branch.clone(),
                service_type: case.service_type.clone(),
                policy_version,
                waiting_since: now,
                why: why.clone(),
                preference: preference.cloned(),
            };
            self.store.keep_unassigned(tx, &waiting).await?;
            audit::record(tx, actor, subject, action::RESEARCH_WAITING, &why.en).await?;
            return Ok(false);
        };
        let chosen = Chosen { researcher: &researcher, why: &why, at: now };
        match existing {
            Some(_) => self.store.take_back(tx, request_id, chosen).await?,
            None => self.store.assign(tx, request_id, &case, chosen, policy_version).await?,
        }
        audit::record(tx, actor, subject, event_type::RESEARCHER_ASSIGNED, &researcher).await?;
        let event = events::ResearcherAssigned {
            case: Some(case),
            actor: Some(actor.event_actor()),
            assigned_at: Some(masar_proto::timestamp(now)),
            researcher,
            reassignment: false,
        };
        self.outbox.append(tx, &Event::ResearcherAssigned(event)).await?;
        Ok(true)
    }

    /// Assigns the waiting cases someone can take now (a researcher joined
    /// the branch); the others stay as they are, with nothing written. Only
    /// the branches with a researcher are read, each to its last page: a case
    /// behind a hundred that nobody can take still gets its turn.
    pub async fn assign_waiting(&self) -> Result<u64, HandlerError> {
        let mut assigned = 0;
        for association in &self.directory.associations {
            // The branches with a researcher on duty, as the roster has them.
            let mut tx = self.store.db().begin().await?;
            let roster = self.store.roster(&mut tx, &association.code, None, &self.directory).await?;
            tx.commit().await?;
            let mut branches: Vec<&str> =
                roster.iter().filter(|e| e.active).filter_map(|e| e.researcher.branch.as_deref()).collect();
            branches.sort_unstable();
            branches.dedup();
            for branch in branches {
                let mut page = PageRequest { size: MAX_PAGE_SIZE, after: None };
                loop {
                    let waiting = self.store.unassigned(&association.code, Some(branch), &page).await?;
                    let position = |case: &Unassigned| Position { at: case.waiting_since, id: case.request_id };
                    let (waiting, next) = page.finish(waiting, position);
                    page.after = waiting.last().map(position);
                    for case in waiting {
                        let mut tx = self.store.db().begin().await?;
                        let actor = Actor::system_task("assign_waiting");
                        let preference = case.preference.as_ref();
                        if self.assign(&mut tx, &actor, Some(case.case_ref()), case.policy_version, preference).await? {
                            tx.commit().await?;
                            self.outbox.wake();
                            assigned += 1;
                        } else {
                            tx.rollback().await?;
                        }
                    }
                    if next.is_empty() {
                        break;
                    }
                }
            }
        }
        Ok(assigned)
    }

    /// A case research sent back for documents that verification then found
    /// ineligible is closed here too; cases research never had are not its business.
    async fn close_returned(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        case: Option<events::CaseRef>,
    ) -> Result<(), HandlerError> {
        let (request_id, _) = event_case(case)?;
        let Some(existing) = self.store.assignment_in(tx, request_id).await? else { return Ok(()) };
        if existing.status != CaseStatus::ReturnedForCompletion {
            return Err(HandlerError::Reject(format!(
                "request {request_id} found ineligible while research has it as '{}'",
                existing.status
            )));
        }
        // Resubmitted, then judged ineligible: the journey the event stands for.
        CaseStatus::Submitted.transition(CaseStatus::Ineligible).map_err(|e| HandlerError::Reject(e.to_string()))?;
        self.store.set_status(tx, request_id, CaseStatus::Ineligible).await?;
        audit::record(tx, actor, existing.audit_subject(), event_type::REQUEST_INELIGIBLE, "closed in research")
            .await?;
        Ok(())
    }

    /// The beneficiary asked for another time: the open appointment says so,
    /// for the researcher to set a new one. With none open, the trail keeps it.
    async fn change_asked(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        asked: events::VisitChangeRequested,
    ) -> Result<(), HandlerError> {
        let (request_id, case) = event_case(asked.case)?;
        let marked = self.store.ask_to_change_visit(tx, request_id, &asked.reason).await?;
        let detail = if marked { "" } else { "no appointment was open" };
        audit::record(tx, actor, Subject::of(request_id, &case), action::VISIT_CHANGE_ASKED, detail).await?;
        Ok(())
    }

    /// A deferred case goes back to its researcher for more research, with the committee's questions.
    async fn reopen(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        case: Option<events::CaseRef>,
        questions: &[String],
    ) -> Result<(), HandlerError> {
        let (request_id, case) = event_case(case)?;
        let assignment = self
            .store
            .assignment_in(tx, request_id)
            .await?
            .ok_or_else(|| HandlerError::Reject(format!("no assignment for deferred {request_id}")))?;
        CaseStatus::Deferred
            .transition(CaseStatus::ResearcherAssigned)
            .map_err(|e| HandlerError::Reject(e.to_string()))?;
        self.store.reopen_deferred(tx, request_id, questions).await?;
        let subject = Subject::of(request_id, &case);
        audit::record(tx, actor, subject, event_type::RESEARCHER_ASSIGNED, &assignment.researcher).await?;
        let event = events::ResearcherAssigned {
            case: Some(case),
            actor: Some(actor.event_actor()),
            assigned_at: Some(masar_proto::timestamp(Utc::now())),
            researcher: assignment.researcher,
            reassignment: false,
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
            Event::RequestVerified(event) => {
                let case = event.case.clone();
                let (request_id, _) = event_case(event.case.clone())?;
                let verified = VerifiedOn { documents: event.documents.clone(), eligibility: event.eligibility.clone() };
                self.store.keep_verified_on(tx, request_id, &verified).await?;
                let preference = masar_domain::roster::Gender::parse(&event.preferred_researcher_gender).ok().map(|gender| {
                    let reason = event.preference_reason.clone().unwrap_or_default();
                    masar_domain::roster::Preference { gender, reason: masar_domain::Bilingual::new(reason.ar, reason.en) }
                });
                if !self.assign(tx, &actor, event.case, event.policy_version, preference.as_ref()).await? {
                    // Once, here: the sweep's later tries write and say nothing until someone can take it.
                    let branch = case.map(|c| c.branch).unwrap_or_default();
                    tracing::warn!(%branch, "no researcher to assign; the case waits");
                }
                Ok(())
            }
            Event::CommitteeDecided(event) if event.decision == CaseStatus::Deferred.as_str() => {
                self.reopen(tx, &actor, event.case, &event.reasons).await
            }
            Event::CommitteeDecided(_) => Ok(()),
            // The criteria each case is scored on.
            Event::PolicyApplied(announced) => PolicyBook::keep_announced(tx, &announced).await,
            Event::VisitChangeRequested(asked) => self.change_asked(tx, &actor, asked).await,
            Event::RequestIneligible(closed) => self.close_returned(tx, &actor, closed.case).await,
            Event::RequestSubmitted(_)
            | Event::RequestResubmitted(_)
            | Event::RequestReturned(_)
            | Event::ResearcherAssigned(_)
            | Event::DocumentsRequested(_)
            | Event::VisitScheduled(_)
            | Event::FieldVisitRecorded(_)
            | Event::ResearchRecommended(_)
            | Event::CaseScheduled(_)
            | Event::ServiceDelivered(_)
            | Event::CaseOverdue(_)
            | Event::PromiseRevised(_)
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
