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
use crate::grpc::parse_uuid;
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
    pub const DOCUMENT_OPENED: &str = "document.opened";
    /// A staff member read a case file in full (the national ID, mobile, answers and address).
    pub const CASE_FILE_OPENED: &str = "case_file.opened";
    pub const INQUIRY_ASKED: &str = "inquiry.asked";
    pub const INQUIRY_REFERRED: &str = "inquiry.referred";
    pub const SIGNED_IN: &str = "session.signed_in";
    pub const SIGNED_OUT: &str = "session.signed_out";
    pub const PASSWORD_CHANGED: &str = "account.password_changed";
    /// An account's holder proved the national ID is theirs (in person, or by an identity check).
    pub const ACCOUNT_VERIFIED: &str = "account.verified";
    /// Staff turned a claim to a national ID down.
    pub const ACCOUNT_CLOSED: &str = "account.closed";
    pub const IDENTITY_CHECK_STARTED: &str = "account.identity_check_started";
    /// A person entered the registry (their entry's id in the detail, never their ID).
    pub const BENEFICIARY_REGISTERED: &str = "registry.registered";
    pub const CASE_RECEIVED: &str = "verification.received";
    pub const DOCUMENT_REVIEWED: &str = "verification.document_reviewed";
    pub const VOTE_CAST: &str = "committee.voted";
    /// A member declared a conflict with a case and takes no part in deciding it (the reason in the detail).
    pub const MEMBER_RECUSED: &str = "committee.recused";
    /// A supervisor scheduled a committee meeting (its id, day and members in the detail).
    pub const MEETING_SCHEDULED: &str = "committee.meeting_scheduled";
    /// Who is present at a meeting; the first record opens it (its id and the members present in the detail).
    pub const ATTENDANCE_RECORDED: &str = "committee.attendance_recorded";
    /// A meeting closed and its minutes were produced (their hash in the detail).
    pub const MEETING_CLOSED: &str = "committee.meeting_closed";
    /// A supervisor called off a meeting before it sat (the reason in the detail).
    pub const MEETING_CANCELLED: &str = "committee.meeting_cancelled";
    pub const MINUTES_AMENDED: &str = "committee.minutes_amended";
    pub const MINUTES_CONFIRMED: &str = "committee.minutes_confirmed";
    /// A verified case nobody in its branch could take: it waits (the reason in the detail).
    pub const RESEARCH_WAITING: &str = "research.waiting";
    /// A supervisor moved a case to another researcher (from, to and the reason in the detail).
    pub const RESEARCH_REASSIGNED: &str = "research.reassigned";
    /// A supervisor added or changed a researcher's roster entry or leave (what, in the detail).
    pub const ROSTER_CHANGED: &str = "research.roster_changed";
    /// Research kept the beneficiary's ask for another time for the visit.
    pub const VISIT_CHANGE_ASKED: &str = "research.visit_change_asked";
    /// A researcher went to a visit that did not take place (the day in the detail).
    pub const VISIT_MISSED: &str = "research.visit_missed";
    /// A researcher scored criteria of the pack (which, in the detail).
    pub const RESEARCH_SCORED: &str = "research.scored";
    pub const SERVICE_RATED: &str = "service.rated";
    /// A case passed its stage's target: its supervisors were alerted (the stage, deadline and who in the detail).
    pub const CASE_ESCALATED: &str = "case.escalated";
    /// A step of the delivery plan was recorded (the step, and whether partly, in the detail).
    pub const DELIVERY_STEP_RECORDED: &str = "delivery.step_recorded";
    /// The beneficiary confirmed a step of the delivery plan (the handover).
    pub const DELIVERY_STEP_CONFIRMED: &str = "delivery.step_confirmed";
    /// A delivered case its beneficiary never rated closed by itself after the pack's period.
    pub const CLOSED_UNRATED: &str = "case.closed_unrated";
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
    /// The system itself, in one of a service's background tasks.
    pub fn system_task(task: &str) -> Actor {
        Actor {
            username: String::new(),
            role: ActorRole::System,
            channel: Channel::Queue,
            correlation_id: format!("task:{task}"),
            trace_id: telemetry::current_trace_id().unwrap_or_default(),
        }
    }

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
/// The row is linked to the one before it in its chain (see [`verify_chains`]).
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    subject: Subject<'_>,
    action: &str,
    detail: &str,
) -> Result<(), DbError> {
    let entry = Entry {
        request_id: subject.request_id,
        association: subject.association.to_owned(),
        branch: subject.branch.to_owned(),
        actor: actor.username.clone(),
        actor_role: actor.role.as_str().to_owned(),
        action: action.to_owned(),
        detail: detail.to_owned(),
        channel: actor.channel.as_str().to_owned(),
        correlation_id: actor.correlation_id.clone(),
        trace_id: actor.trace_id.clone(),
        at: Utc::now(),
    };
    let chain = entry.chain();
    // The chain's head, made if new and locked until the action commits (an upsert
    // locks its row): appends to one chain take their turn. It reads back unchanged.
    let previous = tx
        .fetch_optional(
            Sql::new(
                "INSERT INTO audit_chain_heads (chain, hash) VALUES ($1, '') \
                 ON CONFLICT (chain) DO UPDATE SET hash = audit_chain_heads.hash RETURNING hash",
            )
            .bind(&chain),
        )
        .await?
        .map(|row| row.text("hash"))
        .transpose()?
        .unwrap_or_default();
    let (insert, _) = bind_chain(Sql::new(INSERT_ONE), vec![entry], &previous);
    tx.execute(insert).await?;
    // The head now holds this row's hash: a trigger moves it (migration 0008).
    Ok(())
}

/// One row of the audit log, as [`record`] appends it (written out, so the
/// hot path builds no text; a test holds it to [`COLUMNS`]).
const INSERT_ONE: &str = "INSERT INTO audit_log (request_id, association, branch, actor, actor_role, action, detail, \
     channel, correlation_id, trace_id, at, chain, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// The audit log's columns as [`record`] writes them, for bulk loads.
pub const COLUMNS: &[&str] = &[
    "request_id",
    "association",
    "branch",
    "actor",
    "actor_role",
    "action",
    "detail",
    "channel",
    "correlation_id",
    "trace_id",
    "at",
    "chain",
    "prev_hash",
    "hash",
];

/// Binds one chain's rows onto `sql` (an insert of [`COLUMNS`]) for a bulk
/// load (`masar seed`), linked as [`record`] links them: `entries` in order,
/// all of one chain, after `previous` (empty for a new chain). Returns the
/// chain and the hash its head must hold.
pub fn bind_chain(mut sql: Sql, entries: Vec<Entry>, previous: &str) -> (Sql, Option<(String, String)>) {
    let mut head: Option<(String, String)> = None;
    let mut previous = previous.to_owned();
    for entry in entries {
        // Stored to the microsecond (as PostgreSQL keeps it), so the hash reads back the same.
        let entry =
            Entry { at: DateTime::from_timestamp_micros(entry.at.timestamp_micros()).unwrap_or(entry.at), ..entry };
        let chain = entry.chain();
        let hash = entry.link_hash(&previous);
        sql = sql
            .bind(entry.request_id)
            .bind(entry.association)
            .bind(entry.branch)
            .bind(entry.actor)
            .bind(entry.actor_role)
            .bind(entry.action)
            .bind(entry.detail)
            .bind(entry.channel)
            .bind(entry.correlation_id)
            .bind(entry.trace_id)
            .bind(entry.at)
            .bind(chain.clone())
            .bind(std::mem::replace(&mut previous, hash.clone()))
            .bind(hash.clone());
        head = Some((chain, hash));
    }
    (sql, head)
}

impl Entry {
    /// The chain a row belongs to: its case's, or its association's rows about no case.
    fn chain(&self) -> String {
        match self.request_id {
            Some(request_id) => request_id.to_string(),
            None => format!("association:{}", self.association),
        }
    }

    /// The hash that links this row after `previous`: every field, each
    /// with its length, so no two rows hash alike by shifting text between fields.
    fn link_hash(&self, previous: &str) -> String {
        use sha2::Digest as _;
        let request_id = self.request_id.map(|id| id.to_string()).unwrap_or_default();
        let at = self.at.timestamp_micros().to_string();
        let fields = [
            previous,
            &request_id,
            &self.association,
            &self.branch,
            &self.actor,
            &self.actor_role,
            &self.action,
            &self.detail,
            &self.channel,
            &self.correlation_id,
            &self.trace_id,
            &at,
        ];
        let mut hasher = sha2::Sha256::new();
        for field in fields {
            hasher.update(field.len().to_be_bytes());
            hasher.update(field.as_bytes());
        }
        crate::hex::encode(&hasher.finalize())
    }
}

/// What [`verify_chains`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainCheck {
    pub rows: u64,
    pub chains: usize,
    /// Rows written before rows were chained (they carry no hash).
    pub unchained: u64,
    /// The first row that does not hold with its chain.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The row's `seq`; for a chain whose last rows are gone, its last row left.
    pub seq: i64,
    pub chain: String,
    pub problem: &'static str,
}

/// Reads this service's whole audit log, chain by chain, and names the first
/// row that was changed, removed or inserted around the append-only trigger:
/// one whose hash is not that of its content after the row before it, or a
/// chain that ends before its recorded head (rows removed at its end).
pub async fn verify_chains(db: &Db) -> Result<ChainCheck, DbError> {
    const PAGE: i64 = 5_000;
    let mut check = ChainCheck::default();
    // Each chain's last hash and the seq of its last row.
    let mut last: std::collections::HashMap<String, (String, i64)> = std::collections::HashMap::new();
    let mut after = 0_i64;
    loop {
        let rows = db
            .fetch_all(
                Sql::new(
                    "SELECT seq, request_id, association, branch, actor, actor_role, action, detail, channel, \
                     correlation_id, trace_id, at, chain, prev_hash, hash FROM audit_log WHERE seq > $1 \
                     ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(PAGE),
            )
            .await?;
        for row in &rows {
            let seq = row.int("seq")?;
            after = seq;
            check.rows += 1;
            let (chain, prev_hash, hash) = (row.text("chain")?, row.text("prev_hash")?, row.text("hash")?);
            if hash.is_empty() && chain.is_empty() {
                check.unchained += 1;
                continue;
            }
            let entry = entry(row)?;
            let before = last.get(&chain).map(|(hash, _)| hash.as_str()).unwrap_or_default();
            let problem = if chain != entry.chain() {
                Some("the row is not in its case's chain")
            } else if prev_hash != before {
                Some("the row does not follow the one before it (a row was removed or inserted)")
            } else if hash != entry.link_hash(&prev_hash) {
                Some("the row's content does not match its hash (it was changed)")
            } else {
                None
            };
            if let Some(problem) = problem {
                check.broken = Some(BrokenLink { seq, chain, problem });
                check.chains = last.len();
                return Ok(check);
            }
            last.insert(chain, (hash, seq));
        }
        if rows.len() < PAGE as usize {
            break;
        }
    }
    check.chains = last.len();
    let heads = db.fetch_all(Sql::new("SELECT chain, hash FROM audit_chain_heads ORDER BY chain")).await?;
    for head in &heads {
        let chain = head.text("chain")?;
        let (hash, seq) = last.get(&chain).cloned().unwrap_or_default();
        if hash != head.text("hash")? {
            let problem = "the chain ends before its last recorded row (rows were removed)";
            check.broken = Some(BrokenLink { seq, chain, problem });
            break;
        }
    }
    Ok(check)
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
        let entries = case_trail(&self.db, request_id).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_is_appended_as_a_bulk_load_writes_it() {
        assert_eq!(Sql::new(INSERT_ONE).text(), Sql::insert_rows("audit_log", COLUMNS, 1).text());
    }
}
