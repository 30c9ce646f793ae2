//! Supervision: the cases past their stage's target, per stage, and the
//! alerts a supervisor receives once per breach.

use super::Query;
use super::{PageQuery, Reply, State, grpc, present, time};
use axum::Json;
use axum::http::HeaderMap;
use masar_proto::intake::v1 as intake;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(super) struct OverdueQuery {
    /// `verification`, `research` or `committee`; empty for every stage.
    #[serde(default)]
    stage: String,
    /// Branch code, for association-wide supervisors; branch-bound ones always get their own.
    #[serde(default)]
    branch: String,
}

/// A case past its stage's target.
#[derive(Serialize, ToSchema)]
pub(super) struct OverdueCase {
    request_id: String,
    reference: String,
    association: String,
    branch: String,
    service_type: String,
    stage: String,
    stage_started_at: Option<String>,
    /// The stage's last working day, and in the Umm al-Qura calendar.
    deadline: String,
    deadline_hijri: String,
    /// Working days since the deadline, on the association's calendar.
    working_days_over: u32,
    /// When its supervisors were alerted; `null` until the next reading of the clocks.
    escalated_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct OverdueCases {
    /// The stage begun longest ago first.
    cases: Vec<OverdueCase>,
    next_page_token: Option<String>,
}

/// The supervisor's overdue list: their scope's cases past the pack's
/// target for the stage they wait on (project manager, branch manager: their
/// branch; association admin: any).
#[utoipa::path(get, path = "/v1/supervision/overdue", tag = "supervision", params(OverdueQuery, PageQuery),
    responses((status = 200, body = OverdueCases)))]
pub(super) async fn list_overdue(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<OverdueQuery>,
    Query(page): Query<PageQuery>,
) -> Reply<OverdueCases> {
    let message = intake::ListOverdueRequest {
        stage: q.stage,
        branch: q.branch,
        page_size: page.page_size,
        page_token: page.page_token,
    };
    let o = services.supervision.clone().list_overdue(grpc(&headers, message)).await?.into_inner();
    Ok(Json(OverdueCases {
        cases: o
            .cases
            .into_iter()
            .map(|c| OverdueCase {
                stage_started_at: time(c.stage_started_at.as_ref()),
                escalated_at: time(c.escalated_at.as_ref()),
                request_id: c.request_id,
                reference: c.reference,
                association: c.association,
                branch: c.branch,
                service_type: c.service_type,
                stage: c.stage,
                deadline: c.deadline,
                deadline_hijri: c.deadline_hijri,
                working_days_over: c.working_days_over,
            })
            .collect(),
        next_page_token: present(&o.next_page_token),
    }))
}

/// An alert to a supervisor: a case of their scope passed its stage's target.
#[derive(Serialize, ToSchema)]
pub(super) struct Alert {
    alert_id: String,
    request_id: String,
    reference: String,
    branch: String,
    stage: String,
    deadline: String,
    raised_at: Option<String>,
    message: masar_domain::Bilingual,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Alerts {
    /// The latest first.
    alerts: Vec<Alert>,
    next_page_token: Option<String>,
}

/// The alerts addressed to the caller's post in their scope, the latest first.
#[utoipa::path(get, path = "/v1/supervision/alerts", tag = "supervision", params(PageQuery),
    responses((status = 200, body = Alerts)))]
pub(super) async fn list_alerts(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> Reply<Alerts> {
    let message = intake::ListAlertsRequest { page_size: page.page_size, page_token: page.page_token };
    let a = services.supervision.clone().list_alerts(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Alerts {
        alerts: a
            .alerts
            .into_iter()
            .map(|a| Alert {
                raised_at: time(a.raised_at.as_ref()),
                message: masar_domain::Bilingual::new(a.message_ar, a.message_en),
                alert_id: a.alert_id,
                request_id: a.request_id,
                reference: a.reference,
                branch: a.branch,
                stage: a.stage,
                deadline: a.deadline,
            })
            .collect(),
        next_page_token: present(&a.next_page_token),
    }))
}
