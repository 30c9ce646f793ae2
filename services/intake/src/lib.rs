//! Intake: receives service requests from every channel, owns the case
//! record, and keeps the timeline the beneficiary follows (a projection of
//! every stage's events).

mod accounts;
pub mod attachments;
mod census;
mod grpc;
mod inquiries;
mod passwords;
mod policy;
mod registry;
mod resealing;
mod satisfaction;
mod sessions;
mod store;
mod timeline;

pub use attachments::{DocumentStore, MAX_DOCUMENT_BYTES};
pub use inquiries::{InquiryEntry, InquiryFilter, StoredInquiry};
pub use policy::{Applied, ApplyError, apply_policy};
pub use registry::{NewAccount, NewBeneficiary, Opened, StoredAccount, StoredBeneficiary};
pub use satisfaction::RatedService;
pub use sessions::{StoredSession, seed_demo_staff_passwords, set_staff_password};
pub use store::{Attestation, IntakeStore, NewRequest, StoredDocument, StoredRequest, TimelineEntry};

use masar_platform::db::{Db, DbError};
use masar_platform::messaging::Outbox;
use masar_platform::personal::RESEAL_EVERY;
use masar_platform::policies::PolicyBook;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::intake::v1::beneficiary_service_server::BeneficiaryServiceServer;
use masar_proto::intake::v1::inquiry_service_server::InquiryServiceServer;
use masar_proto::intake::v1::intake_service_server::IntakeServiceServer;
use masar_proto::intake::v1::satisfaction_service_server::SatisfactionServiceServer;
use masar_proto::intake::v1::session_service_server::SessionServiceServer;
use sqlx::migrate::Migrator;
use std::sync::Arc;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates or upgrades intake's tables (and its outbox and inbox).
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    masar_platform::runtime::migrate_service(db, "intake", &POSTGRES, &SQLITE).await
}

pub fn parts(deps: &Dependencies, shutdown: masar_platform::CancellationToken) -> ServiceParts {
    let outbox = Outbox::new();
    let store = IntakeStore::new(deps.db.clone(), deps.personal.clone());
    let policies = PolicyBook::new(deps.db.clone());
    let ends = sessions::SessionEnds {
        store: store.clone(),
        outbox: outbox.clone(),
        revocations: deps.revocations.clone(),
        access_token_lifetime: deps.sessions.access_token_lifetime,
    };
    let beneficiaries = accounts::Beneficiaries {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies: policies.clone(),
        sealer: deps.sealer.clone(),
        ends: ends.clone(),
        identity_provider: deps.identity_provider.clone(),
    };
    let inquiries = inquiries::Inquiries {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies: policies.clone(),
    };
    let sessions = sessions::Sessions {
        store: store.clone(),
        directory: deps.directory.clone(),
        tokens: deps.tokens.clone(),
        policy: deps.sessions.clone(),
        ends,
    };
    let ratings = satisfaction::Ratings {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies: policies.clone(),
    };
    let service = grpc::Intake {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies,
        documents: DocumentStore::new(deps.files.clone(), deps.personal.clone()),
    };
    ServiceParts {
        role: Role::Intake,
        // Room for one document and its envelope; the document itself is checked against MAX_DOCUMENT_BYTES.
        routes: tonic::service::Routes::new(
            IntakeServiceServer::new(service).max_decoding_message_size(MAX_DOCUMENT_BYTES + 64 * 1024),
        )
        .add_service(BeneficiaryServiceServer::new(beneficiaries))
        .add_service(InquiryServiceServer::new(inquiries))
        .add_service(SessionServiceServer::new(sessions))
        .add_service(SatisfactionServiceServer::new(ratings)),
        service_names: vec![
            "masar.intake.v1.IntakeService",
            "masar.intake.v1.BeneficiaryService",
            "masar.intake.v1.InquiryService",
            "masar.intake.v1.SessionService",
            "masar.intake.v1.SatisfactionService",
        ],
        outbox,
        consumes: Some((timeline::CONSUMES.to_vec(), Arc::new(timeline::TimelineProjection { store: store.clone() }))),
        background: vec![
            Box::pin(census::count_cases(
                store.clone(),
                DocumentStore::new(deps.files.clone(), deps.personal.clone()),
                deps.outbox.settle_every,
                shutdown.clone(),
            )),
            Box::pin(async move {
                masar_platform::personal::keep_sealed(|| store.reseal_batch(), RESEAL_EVERY, shutdown).await
            }),
        ],
    }
}
