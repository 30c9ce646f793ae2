//! The gateway: REST/JSON for web and mobile front ends, in front of the
//! six gRPC services. Transport only: every rule is checked by the service
//! that owns it. Callers send the access token they got at sign-in as
//! `Authorization: Bearer …`; the gateway refuses one it cannot verify and
//! forwards the rest in gRPC metadata, where each service verifies it again.

mod docs;
mod error;
mod idempotency;
mod language;
mod limits;
mod remembered;
mod routes;
mod versions;

pub use error::{ApiError, http_status};
pub use idempotency::Replays;
pub use routes::{openapi, router};

use masar_platform::grpc::TracedChannel;
pub use masar_platform::replicas::Endpoints;
use masar_platform::replicas::{InvalidEndpoint, balanced_channel};
use masar_proto::audit::v1::audit_trail_client::AuditTrailClient;
use masar_proto::committee::v1::committee_service_client::CommitteeServiceClient;
use masar_proto::identity::v1::account_service_client::AccountServiceClient;
use masar_proto::identity::v1::session_service_client::SessionServiceClient;
use masar_proto::intake::v1::beneficiary_service_client::BeneficiaryServiceClient;
use masar_proto::intake::v1::inquiry_service_client::InquiryServiceClient;
use masar_proto::intake::v1::intake_service_client::IntakeServiceClient;
use masar_proto::intake::v1::satisfaction_service_client::SatisfactionServiceClient;
use masar_proto::intake::v1::supervision_service_client::SupervisionServiceClient;
use masar_proto::notification::v1::notification_service_client::NotificationServiceClient;
use masar_proto::research::v1::research_service_client::ResearchServiceClient;
use masar_proto::verification::v1::verification_service_client::VerificationServiceClient;

/// Clients of the six services (cheap to clone: channels are shared).
#[derive(Clone)]
pub struct Services {
    pub intake: IntakeServiceClient<TracedChannel>,
    /// Intake's registry (the same process as `intake`).
    pub beneficiaries: BeneficiaryServiceClient<TracedChannel>,
    pub inquiries: InquiryServiceClient<TracedChannel>,
    /// Identity's accounts and sign-in sessions.
    pub accounts: AccountServiceClient<TracedChannel>,
    pub sessions: SessionServiceClient<TracedChannel>,
    /// Delivery and ratings (intake, after the committee's approval).
    pub satisfaction: SatisfactionServiceClient<TracedChannel>,
    /// Overdue cases and supervisors' alerts (intake, which keeps every case's stage clock).
    pub supervision: SupervisionServiceClient<TracedChannel>,
    pub verification: VerificationServiceClient<TracedChannel>,
    pub research: ResearchServiceClient<TracedChannel>,
    pub committee: CommitteeServiceClient<TracedChannel>,
    pub notification: NotificationServiceClient<TracedChannel>,
    /// Every service's part of a case's audit trail.
    pub trails: Vec<AuditTrailClient<TracedChannel>>,
}

impl Services {
    /// Balances each service's calls over its serving replicas (see `masar_platform::replicas`).
    pub fn connect(endpoints: &Endpoints) -> Result<Self, InvalidEndpoint> {
        let intake = balanced_channel(&endpoints.intake)?;
        let identity = balanced_channel(&endpoints.identity)?;
        let verification = balanced_channel(&endpoints.verification)?;
        let research = balanced_channel(&endpoints.research)?;
        let committee = balanced_channel(&endpoints.committee)?;
        let notification = balanced_channel(&endpoints.notification)?;
        let trails = [&intake, &identity, &verification, &research, &committee, &notification]
            .into_iter()
            .map(|service| AuditTrailClient::new(service.clone()))
            .collect();
        Ok(Self {
            beneficiaries: BeneficiaryServiceClient::new(intake.clone()),
            inquiries: InquiryServiceClient::new(intake.clone()),
            accounts: AccountServiceClient::new(identity.clone()),
            sessions: SessionServiceClient::new(identity),
            satisfaction: SatisfactionServiceClient::new(intake.clone()),
            supervision: SupervisionServiceClient::new(intake.clone()),
            // A document's bytes come back in one message (at most 5 MiB, as uploaded).
            intake: IntakeServiceClient::new(intake).max_decoding_message_size(6 * 1024 * 1024),
            verification: VerificationServiceClient::new(verification),
            research: ResearchServiceClient::new(research),
            committee: CommitteeServiceClient::new(committee),
            notification: NotificationServiceClient::new(notification),
            trails,
        })
    }
}

/// Everything the gateway serves with.
pub struct Gateway {
    pub services: Services,
    /// Checks access tokens before a call goes on (each service checks again).
    pub verifier: masar_platform::tokens::TokenVerifier,
    pub settings: masar_platform::config::GatewaySettings,
    /// Where `Idempotency-Key` replies are kept.
    pub replays: Replays,
    /// Cancelled when the gateway starts to stop: `/readyz` says so at once.
    pub stopping: masar_platform::CancellationToken,
    /// Vouches to the services for the calls forwarded (see `masar_platform::forwarding`).
    pub forwarding: masar_platform::forwarding::ForwardingKey,
}

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), "gateway serving");
    // The peer's address counts for the rate limit of anonymous callers.
    let app = router(gateway).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(masar_platform::grpc::without_delay(listener), app).with_graceful_shutdown(shutdown).await
}
