//! After the committee's approval: the project manager records the
//! service's delivery, the beneficiary rates it, and supervisors read the
//! figures per service type (never per staff member).

use super::Query;
use super::requests::RequestView;
use super::{Body, Created, Note, Reply, State, created, grpc, present, time};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_proto::intake::v1 as intake;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Records that an approved request's service was provided; the beneficiary
/// is invited by SMS to rate it. For the project manager, branch manager
/// and association admin of the case's scope.
#[utoipa::path(post, path = "/v1/requests/{id}/delivery", tag = "satisfaction",
    params(("id" = String, Path, description = "The request")), request_body = Note,
    responses((status = 200, body = RequestView)))]
pub(super) async fn record_delivery(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<Note>,
) -> Reply<RequestView> {
    let message = intake::RecordDeliveryRequest { request_id: id, note: body.note };
    Ok(Json(services.satisfaction.clone().record_delivery(grpc(&headers, message)).await?.into_inner().into()))
}

#[derive(Serialize, ToSchema)]
pub(super) struct StepRecord {
    done_on: String,
    contractor: String,
    provider: String,
    amount_sar: Option<u64>,
    reference: String,
    note: String,
    /// A partial delivery: the step was not done by it.
    partial: bool,
    recorded_by: String,
    recorded_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct PlanStep {
    code: String,
    label: masar_domain::Bilingual,
    /// What its records state beside the day: `contractor`, `provider`, `amount_sar`, `reference`.
    asks: Vec<String>,
    /// The beneficiary confirms it once done (the handover).
    beneficiary_confirms: bool,
    /// Oldest first.
    records: Vec<StepRecord>,
    done: bool,
    confirmed_at: Option<String>,
}

/// An approved case's delivery plan, as its pack sets it.
#[derive(Serialize, ToSchema)]
pub(super) struct DeliveryPlan {
    request_id: String,
    status: String,
    /// In the pack's order.
    steps: Vec<PlanStep>,
    /// Every step done and confirmed where asked: the service is delivered.
    complete: bool,
    /// Days the delivered service waits for its rating before the case closes by itself.
    unrated_closes_after_days: u32,
}

impl From<intake::DeliveryPlan> for DeliveryPlan {
    fn from(p: intake::DeliveryPlan) -> Self {
        Self {
            steps: p
                .steps
                .into_iter()
                .map(|s| PlanStep {
                    label: masar_domain::Bilingual::new(s.label_ar, s.label_en),
                    confirmed_at: time(s.confirmed_at.as_ref()),
                    records: s
                        .records
                        .into_iter()
                        .map(|r| StepRecord {
                            recorded_at: time(r.recorded_at.as_ref()),
                            done_on: r.done_on,
                            contractor: r.contractor,
                            provider: r.provider,
                            amount_sar: r.amount_sar,
                            reference: r.reference,
                            note: r.note,
                            partial: r.partial,
                            recorded_by: r.recorded_by,
                        })
                        .collect(),
                    code: s.code,
                    asks: s.asks,
                    beneficiary_confirms: s.beneficiary_confirms,
                    done: s.done,
                })
                .collect(),
            request_id: p.request_id,
            status: p.status,
            complete: p.complete,
            unrated_closes_after_days: p.unrated_closes_after_days,
        }
    }
}

/// An approved case's delivery plan: the pack's steps with their records
/// (for the case's supervisors and its own beneficiary).
#[utoipa::path(get, path = "/v1/requests/{id}/delivery", tag = "satisfaction",
    params(("id" = String, Path, description = "The request")), responses((status = 200, body = DeliveryPlan)))]
pub(super) async fn get_delivery_plan(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<DeliveryPlan> {
    let message = intake::GetDeliveryPlanRequest { request_id: id };
    Ok(Json(services.satisfaction.clone().get_delivery_plan(grpc(&headers, message)).await?.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct NewStepRecord {
    /// One of the plan's step codes.
    #[serde(default)]
    step: String,
    /// `YYYY-MM-DD`: today or within the last year.
    #[serde(default)]
    done_on: String,
    /// Where the step asks for them.
    #[serde(default)]
    contractor: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    amount_sar: Option<u64>,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    note: String,
    /// A partial delivery (works in phases, a first payment): the step stays open.
    #[serde(default)]
    partial: bool,
}

/// A supervisor records a step of the plan as it happens; the record that
/// completes the plan delivers the service, and the beneficiary is invited to rate it.
#[utoipa::path(post, path = "/v1/requests/{id}/delivery/steps", tag = "satisfaction",
    params(("id" = String, Path, description = "The request")), request_body = NewStepRecord,
    responses((status = 200, body = DeliveryPlan)))]
pub(super) async fn record_delivery_step(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<NewStepRecord>,
) -> Reply<DeliveryPlan> {
    let message = intake::RecordDeliveryStepRequest {
        request_id: id,
        step: body.step,
        done_on: body.done_on,
        contractor: body.contractor,
        provider: body.provider,
        amount_sar: body.amount_sar,
        reference: body.reference,
        note: body.note,
        partial: body.partial,
    };
    Ok(Json(services.satisfaction.clone().record_delivery_step(grpc(&headers, message)).await?.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct StepConfirmation {
    #[serde(default)]
    step: String,
    #[serde(default)]
    note: String,
}

/// The beneficiary confirms a step that asks them to (the handover of the works).
#[utoipa::path(post, path = "/v1/requests/{id}/delivery/confirmation", tag = "satisfaction",
    params(("id" = String, Path, description = "The request")), request_body = StepConfirmation,
    responses((status = 200, body = DeliveryPlan)))]
pub(super) async fn confirm_delivery_step(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<StepConfirmation>,
) -> Reply<DeliveryPlan> {
    let message = intake::ConfirmDeliveryStepRequest { request_id: id, step: body.step, note: body.note };
    Ok(Json(services.satisfaction.clone().confirm_delivery_step(grpc(&headers, message)).await?.into_inner().into()))
}

/// The beneficiary's rating of their delivered service.
#[derive(Deserialize, ToSchema)]
pub(super) struct NewRating {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    score: u32,
    /// What went well or could be better (1000 characters at most).
    #[serde(default)]
    comment: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RatingView {
    request_id: String,
    score: u32,
    comment: String,
    rated_at: Option<String>,
    /// The request's status after the rating: `closed`.
    status: String,
}

/// Rates a delivered service, once; the case closes. Only the beneficiary
/// themself rates: it is their right, and their word.
#[utoipa::path(post, path = "/v1/requests/{id}/rating", tag = "satisfaction",
    params(("id" = String, Path, description = "The request")), request_body = NewRating,
    responses((status = 201, body = RatingView)))]
pub(super) async fn rate_service(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<NewRating>,
) -> Created<RatingView> {
    let message = intake::RateServiceRequest { request_id: id, score: body.score, comment: body.comment };
    let r = services.satisfaction.clone().rate_service(grpc(&headers, message)).await?.into_inner();
    Ok(created(RatingView {
        rated_at: time(r.rated_at.as_ref()),
        request_id: r.request_id,
        score: r.score,
        comment: r.comment,
        status: r.status,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Period {
    /// `YYYY-MM-DD`, inclusive; empty: from the first rating.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, inclusive; empty: today.
    #[serde(default)]
    to: String,
}

/// How satisfied the beneficiaries of one service type were.
#[derive(Serialize, ToSchema)]
pub(super) struct ServiceTypeSatisfaction {
    service_type: String,
    /// The ratings counted: those of the cells large enough to publish.
    ratings: u64,
    /// The mean score; absent without ratings counted.
    average: Option<f64>,
    /// The share of 4s and 5s, in percent; absent without ratings counted.
    satisfied_percent: Option<f64>,
    /// How many gave each score: the 1s first, the 5s last; empty without ratings counted.
    by_score: Vec<u64>,
    /// Some ratings of the period are in cells of fewer than 5 (a branch's
    /// month): they would point at the few people served, and at whoever
    /// served them, so they are counted nowhere.
    withheld: bool,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SatisfactionFigures {
    association: String,
    /// The branch the figures cover; absent for the whole association.
    branch: Option<String>,
    /// The first day of the first month counted; absent: from the first rating.
    period_from: Option<String>,
    /// The last day of the last month counted (only ended months are); absent while none has ended.
    period_to: Option<String>,
    service_types: Vec<ServiceTypeSatisfaction>,
}

/// The ratings of the caller's scope in a period, per service type: for
/// improving the service, so never per staff member. Counted by cells of
/// one branch, service type and calendar month, a month once it has ended
/// and a cell only from 5 ratings up, so that no figure, nor the difference
/// of two, tells one beneficiary's score. For the project manager, branch manager (their
/// branch) and association admin.
#[utoipa::path(get, path = "/v1/satisfaction", tag = "satisfaction", params(Period),
    responses((status = 200, body = SatisfactionFigures)))]
pub(super) async fn get_satisfaction(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(period): Query<Period>,
) -> Reply<SatisfactionFigures> {
    let message = intake::GetSatisfactionRequest { from: period.from, to: period.to };
    let f = services.satisfaction.clone().get_satisfaction(grpc(&headers, message)).await?.into_inner();
    Ok(Json(SatisfactionFigures {
        branch: present(&f.branch),
        period_from: present(&f.period_from),
        period_to: present(&f.period_to),
        association: f.association,
        service_types: f
            .service_types
            .into_iter()
            .map(|s| ServiceTypeSatisfaction {
                service_type: s.service_type,
                ratings: s.ratings,
                average: s.average,
                satisfied_percent: s.satisfied_percent,
                by_score: s.by_score,
                withheld: s.withheld,
            })
            .collect(),
    }))
}
