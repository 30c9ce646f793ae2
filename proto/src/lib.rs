//! Masar's contracts: the gRPC services (`masar.<service>.v1`) and the
//! hand-off events (`masar.events.v1`), generated at build time.

pub mod events {
    pub mod v1 {
        tonic::include_proto!("masar.events.v1");

        impl CaseRef {
            pub fn new(request_id: impl ToString, association: &str, branch: &str, service_type: &str) -> Self {
                Self {
                    request_id: request_id.to_string(),
                    association: association.to_owned(),
                    branch: branch.to_owned(),
                    service_type: service_type.to_owned(),
                }
            }
        }
    }
}
pub mod intake {
    pub mod v1 {
        tonic::include_proto!("masar.intake.v1");
    }
}
pub mod identity {
    pub mod v1 {
        tonic::include_proto!("masar.identity.v1");
    }
}
pub mod verification {
    pub mod v1 {
        tonic::include_proto!("masar.verification.v1");
    }
}
pub mod research {
    pub mod v1 {
        tonic::include_proto!("masar.research.v1");
    }
}
pub mod committee {
    pub mod v1 {
        tonic::include_proto!("masar.committee.v1");
    }
}
pub mod notification {
    pub mod v1 {
        tonic::include_proto!("masar.notification.v1");
    }
}
pub mod audit {
    pub mod v1 {
        tonic::include_proto!("masar.audit.v1");
    }
}

/// Encoded `FileDescriptorSet` of every Masar proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/masar_descriptor.bin"));

pub use prost_types::Timestamp;

/// The event types, each one stream. Producers and consumers name them from here.
pub mod event_type {
    /// Not about a case: a new policy version every judging stage keeps.
    pub const POLICY_APPLIED: &str = "policy.applied";
    pub const REQUEST_SUBMITTED: &str = "request.submitted";
    pub const REQUEST_RESUBMITTED: &str = "request.resubmitted";
    pub const REQUEST_RETURNED: &str = "request.returned";
    pub const REQUEST_VERIFIED: &str = "request.verified";
    pub const REQUEST_INELIGIBLE: &str = "request.ineligible";
    pub const RESEARCHER_ASSIGNED: &str = "research.assigned";
    pub const VISIT_SCHEDULED: &str = "research.visit_scheduled";
    /// The beneficiary asks research for another time for the visit (no SMS: research answers with a new one).
    pub const VISIT_CHANGE_REQUESTED: &str = "visit.change_requested";
    pub const FIELD_VISIT_RECORDED: &str = "research.visited";
    pub const RESEARCH_RECOMMENDED: &str = "research.recommended";
    /// Research needs more documents: verification returns the case (its request.returned is what the beneficiary reads).
    pub const DOCUMENTS_REQUESTED: &str = "research.documents_requested";
    pub const CASE_SCHEDULED: &str = "committee.scheduled";
    pub const COMMITTEE_DECIDED: &str = "committee.decided";
    pub const SERVICE_DELIVERED: &str = "service.delivered";
    /// A case passed its stage's target: its supervisor is alerted (an SMS to them).
    pub const CASE_OVERDUE: &str = "case.overdue";
    /// The reply promised to the beneficiary will be late: an SMS with the new date.
    pub const PROMISE_REVISED: &str = "case.promise_revised";
    /// Not about a case: a beneficiary's account was opened (the SMS with its credentials).
    pub const ACCOUNT_OPENED: &str = "account.opened";
    /// Not about a case: an account's holder proved the national ID is theirs.
    pub const ACCOUNT_VERIFIED: &str = "account.verified";
    /// Not about a case: staff confirmed a registry entry's number.
    pub const CONTACT_CONFIRMED: &str = "registry.contact_confirmed";
    /// Not about a case: an inquiry's answer (an SMS when the asker left a mobile).
    pub const INQUIRY_ANSWERED: &str = "inquiry.answered";
    /// Not about a case: a sign-in session ended early; every service refuses its access tokens.
    pub const SESSION_REVOKED: &str = "session.revoked";

    /// Every stage event, in journey order.
    pub const ALL: &[&str] = &[
        REQUEST_SUBMITTED,
        REQUEST_RESUBMITTED,
        REQUEST_RETURNED,
        REQUEST_VERIFIED,
        REQUEST_INELIGIBLE,
        RESEARCHER_ASSIGNED,
        VISIT_SCHEDULED,
        FIELD_VISIT_RECORDED,
        RESEARCH_RECOMMENDED,
        CASE_SCHEDULED,
        COMMITTEE_DECIDED,
        SERVICE_DELIVERED,
    ];
}

/// Declares [`Event`]: one variant per event type and its message.
macro_rules! hand_off_events {
    ($($variant:ident($message:ident) = $event_type:ident, $about_a_case:tt;)*) => {
        /// Every hand-off event, decoded: one variant per event type (each one
        /// stream). Producers append one, consumers get one decoded once; a new
        /// event is a compile error wherever events are matched.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($variant(events::v1::$message),)*
        }

        impl Event {
            /// The event type, which names its stream.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => event_type::$event_type,)*
                }
            }

            /// Decodes a payload of `event_type`.
            pub fn decode(event_type: &str, payload: &[u8]) -> Result<Self, EventError> {
                match event_type {
                    $(event_type::$event_type => Ok(Self::$variant(prost::Message::decode(payload)?)),)*
                    other => Err(EventError::Unknown(other.to_owned())),
                }
            }

            pub fn encode_to_vec(&self) -> Vec<u8> {
                match self {
                    $(Self::$variant(event) => prost::Message::encode_to_vec(event),)*
                }
            }

            /// The case the event is about; `None` for events about no case
            /// (a policy, an account, an inquiry).
            pub fn case(&self) -> Option<&events::v1::CaseRef> {
                match self {
                    $(Self::$variant(_event) => hand_off_events!(@case _event $about_a_case),)*
                }
            }
        }
    };
    (@case $event:ident case) => { $event.case.as_ref() };
    (@case $event:ident none) => { None };
}

hand_off_events! {
    PolicyApplied(PolicyApplied) = POLICY_APPLIED, none;
    RequestSubmitted(RequestSubmitted) = REQUEST_SUBMITTED, case;
    RequestResubmitted(RequestSubmitted) = REQUEST_RESUBMITTED, case;
    RequestReturned(RequestReturned) = REQUEST_RETURNED, case;
    RequestVerified(RequestVerified) = REQUEST_VERIFIED, case;
    RequestIneligible(RequestIneligible) = REQUEST_INELIGIBLE, case;
    ResearcherAssigned(ResearcherAssigned) = RESEARCHER_ASSIGNED, case;
    VisitScheduled(VisitScheduled) = VISIT_SCHEDULED, case;
    VisitChangeRequested(VisitChangeRequested) = VISIT_CHANGE_REQUESTED, case;
    FieldVisitRecorded(FieldVisitRecorded) = FIELD_VISIT_RECORDED, case;
    ResearchRecommended(ResearchRecommended) = RESEARCH_RECOMMENDED, case;
    DocumentsRequested(DocumentsRequested) = DOCUMENTS_REQUESTED, case;
    CaseScheduled(CaseScheduled) = CASE_SCHEDULED, case;
    CommitteeDecided(CommitteeDecided) = COMMITTEE_DECIDED, case;
    ServiceDelivered(ServiceDelivered) = SERVICE_DELIVERED, case;
    CaseOverdue(CaseOverdue) = CASE_OVERDUE, case;
    PromiseRevised(PromiseRevised) = PROMISE_REVISED, case;
    AccountOpened(AccountOpened) = ACCOUNT_OPENED, none;
    AccountVerified(AccountVerified) = ACCOUNT_VERIFIED, none;
    ContactConfirmed(ContactConfirmed) = CONTACT_CONFIRMED, none;
    InquiryAnswered(InquiryAnswered) = INQUIRY_ANSWERED, none;
    SessionRevoked(SessionRevoked) = SESSION_REVOKED, none;
}

/// Why a payload is not an [`Event`].
#[derive(Debug)]
pub enum EventError {
    Unknown(String),
    Decode(prost::DecodeError),
}

impl From<prost::DecodeError> for EventError {
    fn from(error: prost::DecodeError) -> Self {
        Self::Decode(error)
    }
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(event_type) => write!(f, "unknown event type {event_type}"),
            Self::Decode(error) => write!(f, "payload does not decode: {error}"),
        }
    }
}

impl std::error::Error for EventError {}

/// A protobuf timestamp of a UTC time.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// The UTC time of a protobuf timestamp (the epoch if it is missing or out of range).
pub fn to_datetime(at: Option<&Timestamp>) -> chrono::DateTime<chrono::Utc> {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_by_its_type_and_names_its_case() {
        let case = events::v1::CaseRef::new("0190-…", "nuzul", "riyadh", "roof_repair");
        let verified =
            Event::RequestVerified(events::v1::RequestVerified { case: Some(case.clone()), ..Default::default() });
        let decoded = Event::decode(verified.event_type(), &verified.encode_to_vec()).unwrap();
        assert_eq!(decoded, verified);
        assert_eq!(decoded.case(), Some(&case));
        let resubmitted = Event::RequestResubmitted(Default::default());
        assert!(matches!(
            Event::decode(event_type::REQUEST_RESUBMITTED, &resubmitted.encode_to_vec()).unwrap(),
            Event::RequestResubmitted(_)
        ));
        assert_eq!(Event::AccountOpened(Default::default()).case(), None);
        assert!(matches!(Event::decode("request.teleported", b""), Err(EventError::Unknown(_))));
        assert!(matches!(Event::decode(event_type::REQUEST_VERIFIED, b"\xff\xff"), Err(EventError::Decode(_))));
    }
}
