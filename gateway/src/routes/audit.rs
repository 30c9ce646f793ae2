//! The audit trail of one case, for the staff who supervise it: every
//! service's part, merged in time order.

use super::{Reply, State, grpc, time};
use crate::ApiError;
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_proto::audit::v1 as audit;
use serde::Serialize;
use utoipa::ToSchema;

/// One action on the case.
#[derive(Serialize, ToSchema)]
pub(super) struct AuditEntry {
    /// The service that performed it: `intake`, `verification`, `research`, `committee`.
    service: String,
    /// The username that acted; empty for the system.
    actor: String,
    /// e.g. `project_manager`, `beneficiary`, `system`.
    actor_role: String,
    /// What was done, e.g. `request.filed`, `verification.document_reviewed`, `committee.decided`.
    action: String,
    /// What was chosen (a document and its review, a vote, a decision); never personal data.
    detail: String,
    /// `gateway`, `grpc` (straight at the service) or `queue` (the system, on an event).
    channel: String,
    /// The HTTP request's `X-Request-Id`, or `event:<id>` for the system's actions.
    correlation_id: String,
    /// The OpenTelemetry trace id, when tracing is on.
    trace_id: String,
    at: Option<String>,
}

impl From<audit::AuditEntry> for AuditEntry {
    fn from(e: audit::AuditEntry) -> Self {
        Self {
            at: time(e.at.as_ref()),
            service: e.service,
            actor: e.actor,
            actor_role: e.actor_role,
            action: e.action,
            detail: e.detail,
            channel: e.channel,
            correlation_id: e.correlation_id,
            trace_id: e.trace_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct CaseTrail {
    request_id: String,
    /// Oldest first.
    entries: Vec<AuditEntry>,
}

/// Who did what to the case, when and how, across every stage. For the
/// project manager, branch manager and association admin of its scope.
#[utoipa::path(get, path = "/v1/requests/{id}/audit", tag = "audit",
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = CaseTrail)))]
pub(super) async fn get_case_trail(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<CaseTrail> {
    let parts = services.trails.iter().cloned().map(|mut trail| {
        let request = grpc(&headers, audit::CaseTrailRequest { request_id: id.clone() });
        async move { trail.case_trail(request).await }
    });
    let mut entries = Vec::new();
    for part in futures::future::join_all(parts).await {
        entries.extend(part?.into_inner().entries);
    }
    // Every case has at least its filing; an empty trail is an unknown case or one out of scope.
    if entries.is_empty() {
        return Err(ApiError::from(masar_platform::grpc::request_not_found()));
    }
    entries.sort_by_key(|e| e.at.map(|t| (t.seconds, t.nanos)));
    Ok(Json(CaseTrail { request_id: id, entries: entries.into_iter().map(AuditEntry::from).collect() }))
}
