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
    pub const FIELD_VISIT_RECORDED: &str = "research.visited";
    pub const RESEARCH_RECOMMENDED: &str = "research.recommended";
    pub const CASE_SCHEDULED: &str = "committee.scheduled";
    pub const COMMITTEE_DECIDED: &str = "committee.decided";
    pub const SERVICE_DELIVERED: &str = "service.delivered";
    /// Not about a case: a beneficiary's account was opened (the SMS with its credentials).
    pub const ACCOUNT_OPENED: &str = "account.opened";
    /// Not about a case: an inquiry's answer (an SMS when the asker left a mobile).
    pub const INQUIRY_ANSWERED: &str = "inquiry.answered";

    /// Every stage event, in journey order.
    pub const ALL: &[&str] = &[
        REQUEST_SUBMITTED,
        REQUEST_RESUBMITTED,
        REQUEST_RETURNED,
        REQUEST_VERIFIED,
        REQUEST_INELIGIBLE,
        RESEARCHER_ASSIGNED,
        FIELD_VISIT_RECORDED,
        RESEARCH_RECOMMENDED,
        CASE_SCHEDULED,
        COMMITTEE_DECIDED,
        SERVICE_DELIVERED,
    ];
}

/// A protobuf timestamp of a UTC time.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// The UTC time of a protobuf timestamp (the epoch if it is missing or out of range).
pub fn to_datetime(at: Option<&Timestamp>) -> chrono::DateTime<chrono::Utc> {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)).unwrap_or_default()
}
