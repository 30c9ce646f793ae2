//! The audit trail. Each service appends every action it performs (who, in
//! which role, what, when, through which channel, under which request) to
//! its own `audit_log`, in the transaction of the action itself, so an
//! action and its record stand or fall together. Each service also answers
//! for its part of a case's trail over `masar.audit.v1.AuditTrail`; the
//! gateway merges the parts.
//!
//! Entries name usernames, roles and choices (a document, a vote), never a
//! national ID, a mobile number or health details.

use crate::db::{Db, DbError, Row, Sql, Tx};
use crate::forwarding::Forwarded;
use crate::grpc::{internal, parse_uuid};
use crate::identity::{Caller, Staff};
use crate::queue::Message;
use crate::role::Role;
use crate::telemetry;
use crate::tokens::TokenVerifier;
use chrono::{DateTime, Utc};
use masar_domain::ActorRole;
use masar_proto::audit::v1::{self as api, audit_trail_server::AuditTrail};
use masar_proto::events::v1::CaseRef;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The HTTP request id header (`X-Request-Id`), which the gateway vouches for
/// on the calls it forwards (see [`crate::forwarding`]).
pub const CORRELATION_ID: &str = "x-request-id";

/// The actions no event announces; every other action is named by the
/// type of the event it writes (`masar_proto::event_type`).
pub mod action {
    pub const REQUEST_FILED: &str = "request.filed";
    pub const DOCUMENT_UPLOADED: &str = "document.uploaded";
    pub const INQUIRY_ASKED: &str = "inquiry.asked";
    pub const INQUIRY_REFERRED: &str = "inquiry.referred";
    pub const SIGNED_IN: &str = "session.signed_in";
    pub const SIGNED_OUT: &str = "session.signed_out";
    pub const PASSWORD_CHANGED: &str = "account.password_changed";
    pub const CASE_RECEIVED: &str = "verification.received";
    pub const DOCUMENT_REVIEWED: &str = "verification.document_reviewed";
    pub const VOTE_CAST: &str = "committee.voted";
    pub const SERVICE_RATED: &str = "service.rated";
}

/// How an action reached the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Through the REST gateway (web and mobile front ends, integrators).
    Gateway,
    /// A call straight at the service's gRPC port.
    Grpc,
    /// The system itself, applying an event from the queue.
    Queue,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Gateway => "gateway",
            Channel::Grpc => "grpc",
            Channel::Queue => "queue",
        }
    }

    /// Through the gateway when its voucher says so; otherwise straight to the port, whatever the call claims.
    fn of<T>(request: &Request<T>) -> Channel {
        match request.extensions().get::<Forwarded>() {
            Some(_) => Channel::Gateway,
            None => Channel::Grpc,
        }
    }
}

/// Who performed an action and how it came in: taken once per RPC or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The username (staff or beneficiary account); empty for the system.
    pub username: String,
    pub role: ActorRole,
    pub channel: Channel,
    pub correlation_id: String,
    pub trace_id: String,
}

/// The request id the gateway vouched for; none for a direct call.
fn correlation_id<T>(request: &Request<T>) -> String {
    request.extensions().get::<Forwarded>().map(|forwarded| forwarded.request_id.clone()).unwrap_or_default()
}

impl Actor {
    /// The signed-in caller of an RPC.
    pub fn calling<T>(caller: &Caller, request: &Request<T>) -> Actor {
        let (username, role) = match caller {
            Caller::Staff(staff) => (staff.username.clone(), staff.role),
            Caller::Beneficiary(own) => (own.username.clone(), ActorRole::Beneficiary),
        };
        Actor::from_rpc(username, role, request)
    }

    /// A staff member calling an RPC.
    pub fn staff<T>(staff: &Staff, request: &Request<T>) -> Actor {
        Actor::from_rpc(staff.username.clone(), staff.role, request)
    }

    /// Somebody who has not signed in (a self-registration, an anonymous inquiry).
    pub fn anonymous<T>(request: &Request<T>) -> Actor {
        Actor::from_rpc(String::new(), ActorRole::Beneficiary, request)
    }

    fn from_rpc<T>(username: String, role: ActorRole, request: &Request<T>) -> Actor {
        Actor {
            username,
            role,
            channel: Channel::of(request),
            correlation_id: correlation_id(request),
            trace_id: telemetry::current_trace_id().unwrap_or_default(),
        }
    }

    /// Who acted, as the events name them.
    pub fn event_actor(&self) -> masar_proto::events::v1::Actor {
        masar_proto::events::v1::Actor { role: self.role.as_str().into(), username: self.username.clone() }
    }

    /// The system, applying `message` from the queue.
    pub fn system(message: &Message) -> Actor {
        Actor {
            username: String::new(),
            role: ActorRole::System,
            channel: Channel::Queue,
            correlation_id: format!("event:{}", message.event_id),
            trace_id: telemetry::current_trace_id().unwrap_or_default(),
        }
    }
}

/// What an action was about: a case (a service request), or only an
/// association and branch (a sign-in, an account, an inquiry without a case).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub request_id: Option<Uuid>,
    pub association: &'a str,
    pub branch: &'a str,
}

impl<'a> Subject<'a> {
    pub fn case(request_id: Uuid, association: &'a str, branch: &'a str) -> Self {
        Self { request_id: Some(request_id), association, branch }
    }

    /// The case an event is about.
    pub fn of(request_id: Uuid, case: &'a CaseRef) -> Self {
        Self::case(request_id, &case.association, &case.branch)
    }

    pub fn outside_a_case(association: &'a str, branch: &'a str) -> Self {
        Self { request_id: None, association, branch }
    }
}

/// Appends one action to the trail inside `tx`, the action's own transaction.
/// `action` names it (`request.accepted`); `detail` says what was chosen.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    subject: Subject<'_>,
    action: &str,
    detail: &str,
) -> Result<(), DbError> {
    tx.execute(
        Sql::new(
            "INSERT INTO audit_log (request_id, association, branch, actor, actor_role, action, detail, channel, \
             correlation_id, trace_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(subject.request_id)
        .bind(subject.association)
        .bind(subject.branch)
        .bind(&actor.username)
        .bind(actor.role.as_str())
        .bind(action)
        .bind(detail)
        .bind(actor.channel.as_str())
        .bind(&actor.correlation_id)
        .bind(&actor.trace_id)
        .bind(Utc::now()),
    )
    .await?;
    Ok(())
}

/// One recorded action, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub request_id: Option<Uuid>,
    pub association: String,
    pub branch: String,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub detail: String,
    pub channel: String,
    pub correlation_id: String,
    pub trace_id: String,
    pub at: DateTime<Utc>,
}

fn entry(row: &Row) -> Result<Entry, DbError> {
    Ok(Entry {
        request_id: row.optional_uuid("request_id")?,
        association: row.text("association")?,
        branch: row.text("branch")?,
        actor: row.text("actor")?,
        actor_role: row.text("actor_role")?,
        action: row.text("action")?,
        detail: row.text("detail")?,
        channel: row.text("channel")?,
        correlation_id: row.text("correlation_id")?,
        trace_id: row.text("trace_id")?,
        at: row.time("at")?,
    })
}

/// This service's actions on one case, oldest first.
pub async fn case_trail(db: &Db, request_id: Uuid) -> Result<Vec<Entry>, DbError> {
    let rows = db
        .fetch_all(
            Sql::new(
                "SELECT request_id, association, branch, actor, actor_role, action, detail, channel, correlation_id, \
                 trace_id, at FROM audit_log WHERE request_id = $1 ORDER BY seq",
            )
            .bind(request_id),
        )
        .await?;
    rows.iter().map(entry).collect()
}

/// The `AuditTrail` gRPC service every role serves over its own `audit_log`.
pub struct TrailService {
    pub db: Db,
    pub verifier: TokenVerifier,
    pub service: Role,
}

#[tonic::async_trait]
impl AuditTrail for TrailService {
    async fn case_trail(
        &self,
        request: Request<api::CaseTrailRequest>,
    ) -> Result<Response<api::CaseTrailResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        // The roles that supervise a case's handling.
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let request_id = parse_uuid("request_id", &request.get_ref().request_id)?;
        let entries = case_trail(&self.db, request_id).await.map_err(internal)?;
        // Outside the caller's scope the trail reads as empty, as for an unknown case.
        let entries = entries
            .into_iter()
            .filter(|e| staff.can_see(&e.association, &e.branch))
            .map(|e| api::AuditEntry {
                service: self.service.name().to_owned(),
                actor: e.actor,
                actor_role: e.actor_role,
                action: e.action,
                detail: e.detail,
                channel: e.channel,
                correlation_id: e.correlation_id,
                trace_id: e.trace_id,
                at: Some(masar_proto::timestamp(e.at)),
            })
            .collect();
        Ok(Response::new(api::CaseTrailResponse { entries }))
    }
}
