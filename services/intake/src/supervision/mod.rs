//! Supervision: every case's clock on the stage it waits on, read on the
//! association's working calendar. A case past its stage's target alerts the
//! stage's supervisors once per breach (an alert in the product, an SMS to
//! those with a mobile on file, an entry on the case's trail); when the reply
//! promised to the beneficiary will now be late, they are told the new date
//! and why. Supervisors list what is overdue, per stage.

mod store;

pub(crate) use store::SupervisionStore;

use crate::requests::stage_clock;
use crate::requests::store::IntakeStore;
use crate::requests::store::TimelineEntry;
use masar_domain::calendar::saudi_day;
use masar_domain::working_days::{OfficialHolidays, StageClock, WorkingCalendar, stage_supervisor};
use masar_domain::{ActorRole, Bilingual, CaseStatus, Directory, FieldError, HijriDate, Stage};
use masar_platform::audit::{self, Actor, action};
use masar_platform::clock::Clock;
use masar_platform::db::DbError;
use masar_platform::grpc::invalid_input;
use masar_platform::identity::Staff;
use masar_platform::messaging::Outbox;
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::{Field, PersonalData};
use masar_platform::policies::PolicyBook;
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::events::v1 as events;
use masar_proto::intake::v1::{self as api, supervision_service_server::SupervisionService};
use std::sync::Arc;
use store::Breach;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Reads the stage clocks and raises what is overdue, every `every`.
pub(crate) struct Supervisor {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub policies: PolicyBook,
    pub holidays: Arc<OfficialHolidays>,
    pub directory: Arc<Directory>,
    pub personal: PersonalData,
    pub clock: Clock,
}

impl Supervisor {
    pub async fn run(self, every: std::time::Duration, shutdown: masar_platform::CancellationToken) {
        loop {
            if let Err(error) = self.supervise().await {
                tracing::warn!(%error, "reading the stage clocks failed; trying again later");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    fn clocks(&self) -> SupervisionStore {
        SupervisionStore { db: self.store.db().clone() }
    }

    /// One pass: the clocks of the cases that moved since the last, then each new breach.
    async fn supervise(&self) -> Result<(), DbError> {
        let now = self.clock.now();
        let today = saudi_day(now);
        for request_id in self.clocks().moved_since_read().await? {
            self.read_clock(request_id, today).await?;
        }
        self.close_unrated(now).await?;
        for breach in self.clocks().new_breaches(today).await? {
            let span =
                tracing::info_span!("supervision.escalate", request_id = %breach.request_id, stage = %breach.stage);
            let _entered = span.enter();
            self.escalate(&breach, now).await?;
        }
        Ok(())
    }

    /// Closes the delivered cases their beneficiaries never rated, once the pack's period has passed.
    async fn close_unrated(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), DbError> {
        // No pack closes within a day of delivery; each says its own period.
        for waiting in self.store.awaiting_rating(now - chrono::Duration::days(1)).await? {
            let pack = self.policies.version(&waiting.association, waiting.policy_version).await?;
            let days =
                pack.map_or(masar_domain::delivery::UNRATED_CLOSES_AFTER_DAYS, |p| p.unrated_closes_after_days());
            if waiting.delivered_at + chrono::Duration::days(i64::from(days)) > now {
                continue;
            }
            let span = tracing::info_span!("supervision.close_unrated", request_id = %waiting.request_id);
            let _entered = span.enter();
            let mut tx = self.store.db().begin().await?;
            let Some(stored) = self.store.request_in(&mut tx, waiting.request_id).await? else { continue };
            if stored.status.transition(CaseStatus::Closed).is_err()
                || !self.store.close_unrated(&mut tx, stored.request_id).await?
            {
                continue;
            }
            let note = Bilingual::new(
                format!("أغلق الطلب دون تقييم بعد {days} يوماً من تقديم الخدمة"),
                format!("Closed without a rating {days} days after the service was delivered"),
            );
            let entry = TimelineEntry::new(
                Uuid::now_v7(),
                CaseStatus::Closed,
                ActorRole::System,
                now,
                note.in_language(stored.language).to_owned(),
            );
            self.store.record(&mut tx, stored.request_id, &entry).await?;
            let actor = Actor::system_task("supervision");
            let detail = format!("{days} days after delivery");
            audit::record(&mut tx, &actor, stored.audit_subject(), action::CLOSED_UNRATED, &detail).await?;
            tx.commit().await?;
            tracing::info!(request_id = %stored.request_id, days, "delivered case closed without a rating");
        }
        Ok(())
    }

    /// The calendar an association works on today: the official holidays and its pack's closures.
    async fn closures(
        &self,
        association: &str,
        today: chrono::NaiveDate,
    ) -> Result<Vec<masar_domain::working_days::Closure>, DbError> {
        Ok(self.policies.in_force(association, today).await?.map(|p| p.closures).unwrap_or_default())
    }

    /// Reads a case's clock for its status now (none once it waits on no stage).
    async fn read_clock(&self, request_id: Uuid, today: chrono::NaiveDate) -> Result<(), DbError> {
        let Some(stored) = self.store.request(request_id).await? else {
            return Ok(());
        };
        let Some(pack) = self.policies.version(&stored.association, stored.policy_version).await? else {
            // Its version is on the way; the next pass reads it.
            return Ok(());
        };
        let entries = self.store.timeline(request_id).await?;
        let closures = self.closures(&stored.association, today).await?;
        let calendar = WorkingCalendar { official: &self.holidays, closures: &closures };
        let clock = stage_clock(&entries, stored.status, &pack, &calendar, today);
        self.clocks().keep_clock(&stored, clock.as_ref()).await
    }

    /// Alerts the stage's supervisors of a breach, once, and tells the
    /// beneficiary if the promised reply will be late.
    async fn escalate(&self, breach: &Breach, now: chrono::DateTime<chrono::Utc>) -> Result<(), DbError> {
        let mut tx = self.store.db().begin().await?;
        if !self.clocks().mark_escalated(&mut tx, breach, now).await? {
            return Ok(()); // another replica raised it
        }
        let Some(stored) = self.store.request_in(&mut tx, breach.request_id).await? else {
            return Ok(());
        };
        let stage = breach.stage;
        let role = stage_supervisor(stage);
        let supervisors: Vec<_> = self
            .directory
            .association(&stored.association)
            .map(|a| {
                a.staff
                    .iter()
                    .filter(|s| {
                        s.role == role && (!role.is_branch_bound() || s.branch.as_deref() == Some(&stored.branch))
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.clocks().raise_alert(&mut tx, &stored, role, breach, now).await?;
        let alerted: Vec<&str> = supervisors.iter().map(|s| s.username.as_str()).collect();
        let detail = format!("{stage} past {}; alerted {}", breach.deadline, alerted.join(", "));
        let actor = Actor::system_task("supervision");
        audit::record(&mut tx, &actor, stored.audit_subject(), action::CASE_ESCALATED, &detail).await?;
        let case = events::CaseRef::new(stored.request_id, &stored.association, &stored.branch, &stored.service_type);
        for supervisor in supervisors {
            let Some(mobile) = &supervisor.mobile else { continue };
            let overdue = events::CaseOverdue {
                case: Some(case.clone()),
                stage: stage.to_string(),
                deadline: breach.deadline.to_string(),
                reference: stored.reference.clone(),
                supervisor: supervisor.username.clone(),
                supervisor_mobile: self.personal.seal(&stored.association, Field::Mobile, mobile),
                detected_at: Some(masar_proto::timestamp(now)),
            };
            self.outbox.append(&mut tx, &Event::CaseOverdue(overdue)).await?;
        }
        // The promise: every later stage in its target, from when this one can now end.
        let today = saudi_day(now);
        let pack = self.policies.version(&stored.association, stored.policy_version).await?;
        if let Some(targets) = pack.and_then(|p| p.targets) {
            let closures = self.closures(&stored.association, today).await?;
            let calendar = WorkingCalendar { official: &self.holidays, closures: &closures };
            let clock = StageClock { stage, deadline: breach.deadline, working_days_left: 0, overdue: true };
            let projected = calendar.projected_reply(&clock, &targets, today);
            let told = breach.promise_revised_to.unwrap_or(stored.expected_decision_on);
            if projected > told && self.clocks().revise_promise(&mut tx, breach.request_id, projected).await? {
                let revised = events::PromiseRevised {
                    case: Some(case),
                    expected_decision_on: projected.to_string(),
                    stage: stage.to_string(),
                    revised_at: Some(masar_proto::timestamp(now)),
                };
                let detail = format!("{projected}, {stage} past its target");
                audit::record(
                    &mut tx,
                    &actor,
                    stored.audit_subject(),
                    masar_proto::event_type::PROMISE_REVISED,
                    &detail,
                )
                .await?;
                self.outbox.append(&mut tx, &Event::PromiseRevised(revised)).await?;
            }
        }
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(request_id = %stored.request_id, %stage, "case past its stage's target: supervisors alerted");
        Ok(())
    }
}

/// The supervisors' lists over gRPC.
pub(crate) struct Supervision {
    pub store: IntakeStore,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
    pub holidays: Arc<OfficialHolidays>,
    pub clock: Clock,
}

fn stage_words(stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Verification => ("التحقق من المستندات", "document verification"),
        Stage::Research => ("البحث الاجتماعي", "social research"),
        _ => ("لجنة البحث", "the research committee"),
    }
}

#[tonic::async_trait]
impl SupervisionService for Supervision {
    async fn list_overdue(
        &self,
        request: Request<api::ListOverdueRequest>,
    ) -> Result<Response<api::OverdueCases>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let input = request.get_ref();
        let stage = match input.stage.trim() {
            "" => None,
            named => Some(Stage::parse(named).ok().filter(|s| s.is_awaited()).ok_or_else(|| {
                invalid_input(vec![FieldError::new(
                    "stage",
                    Bilingual::new(
                        "المرحلة verification أو research أو committee",
                        "The stage is verification, research or committee",
                    ),
                )])
            })?),
        };
        let page = PageRequest::read(input.page_size, &input.page_token)?;
        let today = saudi_day(self.clock.now());
        let branch = staff.branch_filter(&input.branch);
        let clocks = SupervisionStore { db: self.store.db().clone() };
        let rows = clocks.overdue(&staff.association, branch.as_deref(), stage, today, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| Position { at: r.started_at, id: r.request_id });
        let closures = self.policies.in_force(&staff.association, today).await?.map(|p| p.closures).unwrap_or_default();
        let calendar = WorkingCalendar { official: &self.holidays, closures: &closures };
        let cases = rows
            .into_iter()
            .map(|r| api::OverdueCase {
                request_id: r.request_id.to_string(),
                working_days_over: calendar.working_days_between(r.deadline, today),
                deadline_hijri: HijriDate::from_gregorian(r.deadline).to_string(),
                deadline: r.deadline.to_string(),
                stage_started_at: Some(masar_proto::timestamp(r.started_at)),
                escalated_at: r.escalated_at.map(masar_proto::timestamp),
                stage: r.stage.to_string(),
                reference: r.reference,
                association: r.association,
                branch: r.branch,
                service_type: r.service_type,
            })
            .collect();
        Ok(Response::new(api::OverdueCases { cases, next_page_token }))
    }

    async fn list_alerts(&self, request: Request<api::ListAlertsRequest>) -> Result<Response<api::Alerts>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        let input = request.get_ref();
        let page = PageRequest::read(input.page_size, &input.page_token)?;
        let branch = staff.branch_filter("");
        let clocks = SupervisionStore { db: self.store.db().clone() };
        let rows = clocks.alerts(&staff.association, staff.role, branch.as_deref(), &page).await?;
        let (rows, next_page_token) = page.finish(rows, |a| Position { at: a.raised_at, id: a.alert_id });
        let alerts = rows
            .into_iter()
            .map(|a| {
                let (ar, en) = stage_words(a.stage);
                let day = masar_domain::DualDate::new(a.deadline);
                api::Alert {
                    message_ar: format!(
                        "الطلب {} تجاوز المدة المحددة لمرحلة {ar}، وآخر يوم لها {}",
                        a.reference,
                        day.arabic()
                    ),
                    message_en: format!(
                        "Request {} is past its target for {en}, which ended on {}",
                        a.reference,
                        day.english()
                    ),
                    alert_id: a.alert_id.to_string(),
                    request_id: a.request_id.to_string(),
                    reference: a.reference,
                    branch: a.branch,
                    stage: a.stage.to_string(),
                    deadline: a.deadline.to_string(),
                    raised_at: Some(masar_proto::timestamp(a.raised_at)),
                }
            })
            .collect();
        Ok(Response::new(api::Alerts { alerts, next_page_token }))
    }
}
