//! The social researchers' roster, as supervisors keep it.

use super::Query;
use super::{Body, BranchQuery, Reply, State, grpc, time};
use crate::versions::{IfMatch, VersionedReply};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_proto::research::v1 as research;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(super) struct Leave {
    leave_id: String,
    /// Both days included.
    from: String,
    to: String,
}

/// A researcher on the roster.
#[derive(Serialize, ToSchema)]
pub(super) struct RosterEntry {
    username: String,
    name: String,
    branch: String,
    /// `female`, `male`, or `null` where not set.
    gender: Option<String>,
    /// Service types they handle; none: every type.
    specialties: Vec<String>,
    /// Open cases at most; `null`: no limit.
    capacity: Option<u32>,
    /// On duty: new cases may be given to them.
    active: bool,
    leaves: Vec<Leave>,
    open_cases: u32,
    /// Raised by every change: send it back as `If-Match`.
    version: u64,
    updated_by: String,
    updated_at: Option<String>,
}

impl From<research::RosterEntry> for RosterEntry {
    fn from(e: research::RosterEntry) -> Self {
        Self {
            gender: (!e.gender.is_empty()).then_some(e.gender),
            capacity: (e.capacity > 0).then_some(e.capacity),
            leaves: e.leaves.into_iter().map(|l| Leave { leave_id: l.leave_id, from: l.from, to: l.to }).collect(),
            updated_at: time(e.updated_at.as_ref()),
            username: e.username,
            name: e.name,
            branch: e.branch,
            specialties: e.specialties,
            active: e.active,
            open_cases: e.open_cases,
            version: e.version,
            updated_by: e.updated_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct Roster {
    /// By username.
    entries: Vec<RosterEntry>,
}

/// The roster (branch manager: their branch; association admin: all, or one branch).
#[utoipa::path(get, path = "/v1/research/roster", tag = "research", params(BranchQuery),
    responses((status = 200, body = Roster)))]
pub(super) async fn list_roster(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
) -> Reply<Roster> {
    let message = research::ListRosterRequest { branch: q.branch };
    let roster = services.research.clone().list_roster(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Roster { entries: roster.entries.into_iter().map(RosterEntry::from).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct RosterChange {
    /// A branch of the association (a branch manager's is always theirs).
    #[serde(default)]
    branch: String,
    /// `female`, `male`, or empty.
    #[serde(default)]
    gender: String,
    /// Service types of the association's policy; empty: every type.
    #[serde(default)]
    specialties: Vec<String>,
    /// Open cases at most; 0 or left out: no limit.
    #[serde(default)]
    capacity: u32,
    /// On duty (true) or not: off duty, no new case is given to them; theirs stay theirs.
    #[serde(default = "on_duty")]
    active: bool,
}

fn on_duty() -> bool {
    true
}

/// Adds a social researcher of the directory to the roster, or changes
/// their entry (send the entry's `version` as `If-Match` to change one).
#[utoipa::path(put, path = "/v1/research/roster/{username}", tag = "research",
    params(("username" = String, Path, description = "The researcher"), IfMatch), request_body = RosterChange,
    responses((status = 200, body = RosterEntry)))]
pub(super) async fn set_roster_entry(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(username): Path<String>,
    if_match: IfMatch,
    Body(body): Body<RosterChange>,
) -> VersionedReply<RosterEntry> {
    let message = research::SetRosterEntryRequest {
        username,
        branch: body.branch,
        gender: body.gender,
        specialties: body.specialties,
        capacity: body.capacity,
        active: body.active,
        expected_version: if_match.0,
    };
    if_match.versioned(services.research.clone().set_roster_entry(grpc(&headers, message)).await, |e| e.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct NewLeave {
    /// `YYYY-MM-DD`, both days included; not over yet, starting within a year, overlapping no other.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Records a researcher's leave: no case is given to them then.
#[utoipa::path(post, path = "/v1/research/roster/{username}/leaves", tag = "research",
    params(("username" = String, Path, description = "The researcher"), IfMatch), request_body = NewLeave,
    responses((status = 200, body = RosterEntry)))]
pub(super) async fn add_leave(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(username): Path<String>,
    if_match: IfMatch,
    Body(body): Body<NewLeave>,
) -> VersionedReply<RosterEntry> {
    let message = research::AddLeaveRequest { username, from: body.from, to: body.to, expected_version: if_match.0 };
    if_match.versioned(services.research.clone().add_leave(grpc(&headers, message)).await, |e| e.version)
}

/// Cancels a researcher's leave.
#[utoipa::path(delete, path = "/v1/research/roster/{username}/leaves/{leave_id}", tag = "research",
    params(("username" = String, Path, description = "The researcher"), ("leave_id" = String, Path, description = "The leave"), IfMatch),
    responses((status = 200, body = RosterEntry)))]
pub(super) async fn cancel_leave(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path((username, leave_id)): Path<(String, String)>,
    if_match: IfMatch,
) -> VersionedReply<RosterEntry> {
    let message = research::CancelLeaveRequest { username, leave_id, expected_version: if_match.0 };
    if_match.versioned(services.research.clone().cancel_leave(grpc(&headers, message)).await, |e| e.version)
}
