//! After approval: the service's delivery, then the beneficiary's rating of
//! it, which closes the case; and the figures supervisors improve by.

use crate::requests::store::{IntakeStore, StoredRequest, TimelineEntry};
use crate::requests::{parse_optional_date, refused_in, request_reply, visible_request};
use chrono::Utc;
use masar_domain::calendar::saudi_day;
use masar_domain::{ActorRole, Bilingual, CaseStatus, FieldError, Rating, published_months};
use masar_platform::audit::{self, Actor, action};
use masar_platform::forms::{policy_in_force, read_optional_text};
use masar_platform::grpc::invalid_input;
use masar_platform::identity::{Caller, Staff};
use masar_platform::messaging::Outbox;
use masar_platform::policies::PolicyBook;
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use masar_proto::intake::v1::{self as api, satisfaction_service_server::SatisfactionService};
use std::collections::BTreeMap;
use tonic::{Request, Response, Status};
use uuid::Uuid;

mod plan;
mod store;

pub use store::RatedService;

pub struct Ratings {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
}

impl Ratings {
    /// Records the service delivered (once), on the timeline and the trail,
    /// and announces it: the beneficiary is invited to rate.
    async fn deliver(
        &self,
        tx: &mut masar_platform::db::Tx,
        stored: &StoredRequest,
        (by, role, actor): (&str, ActorRole, &Actor),
        now: chrono::DateTime<Utc>,
        note: &str,
    ) -> Result<(), Status> {
        if !self.store.insert_delivery(tx, stored.request_id, by, now, note).await? {
            return Err(refused_in(
                CaseStatus::ServiceDelivered,
                "سُجّل تقديم الخدمة من قبل",
                "The delivery is already recorded",
            ));
        }
        let entry = TimelineEntry::new(Uuid::now_v7(), CaseStatus::ServiceDelivered, role, now, note.to_owned());
        self.store.record(tx, stored.request_id, &entry).await?;
        let event = events::ServiceDelivered {
            case: Some(stored.case_ref()),
            actor: Some(actor.event_actor()),
            delivered_at: Some(masar_proto::timestamp(now)),
        };
        self.outbox.append(tx, &Event::ServiceDelivered(event)).await?;
        audit::record(tx, actor, stored.audit_subject(), event_type::SERVICE_DELIVERED, "").await?;
        tracing::info!(request_id = %stored.request_id, "service delivered");
        Ok(())
    }
}

#[tonic::async_trait]
impl SatisfactionService for Ratings {
    async fn get_delivery_plan(
        &self,
        request: Request<api::GetDeliveryPlanRequest>,
    ) -> Result<Response<api::DeliveryPlan>, Status> {
        self.get_delivery_plan_call(request).await.map(Response::new)
    }

    async fn record_delivery_step(
        &self,
        request: Request<api::RecordDeliveryStepRequest>,
    ) -> Result<Response<api::DeliveryPlan>, Status> {
        self.record_delivery_step_call(request).await.map(Response::new)
    }

    async fn confirm_delivery_step(
        &self,
        request: Request<api::ConfirmDeliveryStepRequest>,
    ) -> Result<Response<api::DeliveryPlan>, Status> {
        self.confirm_delivery_step_call(request).await.map(Response::new)
    }

    async fn record_delivery(
        &self,
        request: Request<api::RecordDeliveryRequest>,
    ) -> Result<Response<api::ServiceRequest>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = caller.as_staff()?;
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        if stored.status != CaseStatus::Approved {
            return Err(refused_in(
                stored.status,
                "تُسجَّل الخدمة بعد موافقة لجنة البحث",
                "A service is recorded as delivered after the research committee approved it",
            ));
        }
        // A pack with a plan delivers step by step; the one-go record is for versions without one.
        if self
            .policies
            .version(&stored.association, stored.policy_version)
            .await?
            .is_some_and(|p| p.delivery.is_some())
        {
            return Err(masar_platform::grpc::Problem::new(Bilingual::new(
                "تقدم هذه الخدمة على خطوات؛ سجّلوا خطوات خطة التقديم",
                "This service is delivered in steps: record the delivery plan's steps",
            ))
            .because("delivery.plan")
            .into_status(tonic::Code::FailedPrecondition));
        }
        let mut errors = Vec::new();
        let note = read_optional_text("note", &request.get_ref().note, &mut errors);
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let now = Utc::now();
        let mut tx = self.store.db().begin().await?;
        let actor = Actor::calling(&caller, &request);
        self.deliver(&mut tx, &stored, (&staff.username, staff.role, &actor), now, &note).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Response::new(request_reply(StoredRequest { status: CaseStatus::ServiceDelivered, ..stored })))
    }

    async fn rate_service(
        &self,
        request: Request<api::RateServiceRequest>,
    ) -> Result<Response<api::ServiceRating>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        caller.as_beneficiary()?;
        let input = request.get_ref();
        let stored = visible_request(&self.store, &caller, &input.request_id).await?;
        let already_rated = || {
            refused_in(
                CaseStatus::Closed,
                "قيّمتم هذه الخدمة من قبل، شكراً لكم",
                "You already rated this service; thank you",
            )
        };
        match stored.status {
            CaseStatus::ServiceDelivered => {}
            CaseStatus::Closed if self.store.closed_unrated(stored.request_id).await? => {
                return Err(refused_in(
                    CaseStatus::Closed,
                    "أغلق الطلب دون تقييم بعد انقضاء مدة التقييم",
                    "The request closed without a rating once the rating period had passed",
                ));
            }
            CaseStatus::Closed => return Err(already_rated()),
            other => {
                return Err(refused_in(
                    other,
                    "يُقيَّم الطلب بعد تقديم الخدمة",
                    "A service is rated once it is delivered",
                ));
            }
        }
        let rating = Rating::new(input.score, &input.comment).map_err(invalid_input)?;
        let now = Utc::now();
        let mut tx = self.store.db().begin().await?;
        if !self.store.mark_rated(&mut tx, stored.request_id).await? {
            return Err(already_rated());
        }
        let rated = RatedService {
            association: &stored.association,
            branch: &stored.branch,
            service_type: &stored.service_type,
        };
        self.store.keep_rating(&mut tx, &rated, &rating, saudi_day(now)).await?;
        let entry = TimelineEntry::new(Uuid::now_v7(), CaseStatus::Closed, ActorRole::Beneficiary, now, String::new());
        self.store.record(&mut tx, stored.request_id, &entry).await?;
        // The trail says the case was rated, not how: beside the delivery's
        // actor, a score would become a figure about one staff member.
        let actor = Actor::calling(&caller, &request);
        audit::record(&mut tx, &actor, stored.audit_subject(), action::SERVICE_RATED, "").await?;
        tx.commit().await?;
        tracing::info!(request_id = %stored.request_id, "service rated");
        Ok(Response::new(api::ServiceRating {
            request_id: stored.request_id.to_string(),
            score: rating.score().into(),
            comment: rating.comment().to_owned(),
            rated_at: Some(masar_proto::timestamp(now)),
            status: CaseStatus::Closed.to_string(),
        }))
    }

    async fn get_satisfaction(
        &self,
        request: Request<api::GetSatisfactionRequest>,
    ) -> Result<Response<api::SatisfactionFigures>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let input = request.get_ref();
        let mut errors = Vec::new();
        let from = parse_optional_date("from", &input.from, &mut errors);
        let to = parse_optional_date("to", &input.to, &mut errors);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            errors.push(FieldError::new(
                "to",
                Bilingual::new("تاريخ النهاية قبل تاريخ البداية", "The end date is before the start date"),
            ));
        }
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let today = saudi_day(Utc::now());
        let branch = staff.branch_filter("");
        // Whole months that have ended, and only cells of enough ratings: nobody's score can be told apart.
        let months = published_months(from, to.unwrap_or(today), today);
        let mut figures = match months {
            Some((from, to)) => self.store.satisfaction(&staff.association, branch.as_deref(), from, to).await?,
            None => BTreeMap::new(),
        };
        // Every service type offered today is listed, rated or not yet.
        if let Some(pack) = policy_in_force(&self.policies, &staff.association, today).await? {
            for offered in &pack.service_types {
                figures.entry(offered.code.clone()).or_default();
            }
        }
        Ok(Response::new(api::SatisfactionFigures {
            association: staff.association.clone(),
            branch: branch.unwrap_or_default(),
            period_from: months.and_then(|(from, _)| from).map(|d| d.to_string()).unwrap_or_default(),
            period_to: months.map(|(_, to)| to.to_string()).unwrap_or_default(),
            service_types: figures
                .into_iter()
                .map(|(service_type, published)| {
                    let s = &published.shown;
                    api::ServiceTypeSatisfaction {
                        ratings: s.ratings(),
                        average: s.average(),
                        satisfied_percent: s.satisfied_percent(),
                        by_score: if s.ratings() > 0 { s.by_score.to_vec() } else { Vec::new() },
                        withheld: published.withheld_ratings > 0,
                        service_type,
                    }
                })
                .collect(),
        }))
    }
}
