//! After approval: the service's delivery, then the beneficiary's rating of
//! it, which closes the case; and the figures supervisors improve by.

use crate::grpc::{parse_optional_date, refused_in, request_reply, visible_request};
use crate::store::{IntakeStore, StoredRequest, TimelineEntry};
use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::calendar::saudi_day;
use masar_domain::{ActorRole, Bilingual, CaseStatus, FieldError, Published, Rating, Satisfaction, published_months};
use masar_platform::audit::{self, Actor, action};
use masar_platform::db::{Backend, DbError, Sql, Tx};
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

impl IntakeStore {
    /// Records the delivery; false if it was recorded before.
    async fn insert_delivery(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        delivered_by: &str,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, DbError> {
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO service_deliveries (request_id, delivered_by, delivered_at, note) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(request_id)
                .bind(delivered_by)
                .bind(at)
                .bind(note),
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Marks the delivered request rated; false if it was rated before (or never delivered).
    async fn mark_rated(&self, tx: &mut Tx, request_id: Uuid) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new("UPDATE service_deliveries SET rated = 1 WHERE request_id = $1 AND rated = 0")
                    .bind(request_id),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Keeps a rating apart from its case: a random id, the scope, the service type and the day.
    pub async fn keep_rating(
        &self,
        tx: &mut Tx,
        rated: &RatedService<'_>,
        rating: &Rating,
        on: NaiveDate,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO service_ratings (rating_id, association, branch, service_type, score, comment, rated_on) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            // Random, not time-ordered: the id must not date the rating more finely than its day.
            .bind(Uuid::new_v4())
            .bind(rated.association)
            .bind(rated.branch)
            .bind(rated.service_type)
            .bind(i64::from(rating.score()))
            .bind(rating.comment())
            .bind(on),
        )
        .await?;
        Ok(())
    }

    /// The ratings of a scope given from `from` to `to` (inclusive days), per service type.
    /// The publishable figures of each service type rated in `association`
    /// (one `branch`, or all) from `from` to `to`: the cells of each branch,
    /// service type and month, each counted only when it is large enough
    /// (see `masar_domain::satisfaction`). The caller chooses whole, ended months.
    pub async fn satisfaction(
        &self,
        association: &str,
        branch: Option<&str>,
        from: Option<NaiveDate>,
        to: NaiveDate,
    ) -> Result<BTreeMap<String, Published>, DbError> {
        const POSTGRES: &str = "SELECT branch, service_type, to_char(rated_on, 'YYYY-MM') AS month, score, \
             COUNT(*) AS ratings FROM service_ratings \
             WHERE association = $1 AND ($2 IS NULL OR branch = $2) AND ($3 IS NULL OR rated_on >= $3) \
             AND rated_on <= $4 GROUP BY branch, service_type, month, score";
        const SQLITE: &str = "SELECT branch, service_type, substr(rated_on, 1, 7) AS month, score, \
             COUNT(*) AS ratings FROM service_ratings \
             WHERE association = $1 AND ($2 IS NULL OR branch = $2) AND ($3 IS NULL OR rated_on >= $3) \
             AND rated_on <= $4 GROUP BY branch, service_type, month, score";
        let statement = match self.db().backend() {
            Backend::Postgres => POSTGRES,
            Backend::Sqlite => SQLITE,
        };
        let rows = self
            .db()
            .fetch_all(Sql::new(statement).bind(association).bind(branch.map(str::to_owned)).bind(from).bind(to))
            .await?;
        let mut cells: BTreeMap<(String, String, String), Satisfaction> = BTreeMap::new();
        for row in &rows {
            let cell = (row.text("service_type")?, row.text("branch")?, row.text("month")?);
            cells.entry(cell).or_default().add(row.unsigned("score")?, row.unsigned("ratings")?);
        }
        let mut figures: BTreeMap<String, Published> = BTreeMap::new();
        for ((service_type, _, _), cell) in &cells {
            figures.entry(service_type.clone()).or_default().add_cell(cell);
        }
        Ok(figures)
    }
}

/// What a rating says of the service it rates: where, and which service type.
pub struct RatedService<'a> {
    pub association: &'a str,
    pub branch: &'a str,
    pub service_type: &'a str,
}

pub struct Ratings {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
}

#[tonic::async_trait]
impl SatisfactionService for Ratings {
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
        let mut errors = Vec::new();
        let note = read_optional_text("note", &request.get_ref().note, &mut errors);
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let now = Utc::now();
        let mut tx = self.store.db().begin().await?;
        if !self.store.insert_delivery(&mut tx, stored.request_id, &staff.username, now, &note).await? {
            return Err(refused_in(
                CaseStatus::ServiceDelivered,
                "سُجّل تقديم الخدمة من قبل",
                "The delivery is already recorded",
            ));
        }
        let entry = TimelineEntry::new(Uuid::now_v7(), CaseStatus::ServiceDelivered, staff.role, now, note);
        self.store.record(&mut tx, stored.request_id, &entry).await?;
        let event = events::ServiceDelivered {
            case: Some(stored.case_ref()),
            actor: Some(staff.event_actor()),
            delivered_at: Some(masar_proto::timestamp(now)),
        };
        self.outbox.append(&mut tx, &Event::ServiceDelivered(event)).await?;
        let actor = Actor::calling(&caller, &request);
        audit::record(&mut tx, &actor, stored.audit_subject(), event_type::SERVICE_DELIVERED, "").await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(request_id = %stored.request_id, "service delivered");
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
