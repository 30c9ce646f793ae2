//! Intake: receives service requests from every channel, owns the case
//! record and the beneficiary registry, and keeps the timeline the
//! beneficiary follows (a projection of every stage's events).

mod census;
mod inquiries;
mod policy;
mod registry;
mod requests;
mod resealing;
mod satisfaction;
mod supervision;

pub use inquiries::{InquiryEntry, InquiryFilter, StoredInquiry};
pub use policy::{Applied, ApplyError, apply_policy};
pub use registry::{NewBeneficiary, Registered, StoredBeneficiary};
pub use requests::attachments::{self, DocumentStore, MAX_DOCUMENT_BYTES};
pub use requests::store::{Attestation, IntakeStore, NewRequest, StoredDocument, StoredRequest, TimelineEntry};
pub use satisfaction::RatedService;

use masar_platform::db::{Db, DbError, Tx};
use masar_platform::forwarding::OnlyFrom;
use masar_platform::messaging::{EventHandler, HandlerError, Outbox};
use masar_platform::personal::RESEAL_EVERY;
use masar_platform::policies::PolicyBook;
use masar_platform::queue::Message;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::intake::v1::beneficiary_service_server::BeneficiaryServiceServer;
use masar_proto::intake::v1::inquiry_service_server::InquiryServiceServer;
use masar_proto::intake::v1::intake_service_server::IntakeServiceServer;
use masar_proto::intake::v1::registry_service_server::RegistryServiceServer;
use masar_proto::intake::v1::satisfaction_service_server::SatisfactionServiceServer;
use masar_proto::intake::v1::supervision_service_server::SupervisionServiceServer;
use masar_proto::{Event, event_type};
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
    let beneficiaries = registry::Beneficiaries { store: store.clone(), verifier: deps.tokens.verifier.clone() };
    let registry =
        registry::RegistryForIdentity { store: store.clone(), outbox: outbox.clone(), policies: policies.clone() };
    let inquiries = inquiries::Inquiries {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies: policies.clone(),
    };
    let ratings = satisfaction::Ratings {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies: policies.clone(),
    };
    let supervision = supervision::Supervision {
        store: store.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies: policies.clone(),
        holidays: deps.holidays.clone(),
        clock: deps.clock.clone(),
    };
    let supervisor = supervision::Supervisor {
        store: store.clone(),
        outbox: outbox.clone(),
        policies: policies.clone(),
        holidays: deps.holidays.clone(),
        directory: deps.directory.clone(),
        personal: deps.personal.clone(),
        clock: deps.clock.clone(),
    };
    let service = requests::Intake {
        store: store.clone(),
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies,
        documents: DocumentStore::new(deps.files.clone(), deps.personal.clone()),
        holidays: deps.holidays.clone(),
        clock: deps.clock.clone(),
    };
    ServiceParts {
        role: Role::Intake,
        // Room for one document and its envelope; the document itself is checked against MAX_DOCUMENT_BYTES.
        routes: tonic::service::Routes::new(
            IntakeServiceServer::new(service).max_decoding_message_size(MAX_DOCUMENT_BYTES + 64 * 1024),
        )
        .add_service(BeneficiaryServiceServer::new(beneficiaries))
        .add_service(InquiryServiceServer::new(inquiries))
        .add_service(RegistryServiceServer::with_interceptor(
            registry,
            OnlyFrom { key: deps.registry_key.clone(), role: Role::Identity },
        ))
        .add_service(SatisfactionServiceServer::new(ratings))
        .add_service(SupervisionServiceServer::new(supervision)),
        service_names: vec![
            "masar.intake.v1.IntakeService",
            "masar.intake.v1.BeneficiaryService",
            "masar.intake.v1.InquiryService",
            "masar.intake.v1.RegistryService",
            "masar.intake.v1.SatisfactionService",
            "masar.intake.v1.SupervisionService",
        ],
        outbox,
        consumes: Some((
            [requests::timeline::CONSUMES, &[event_type::ACCOUNT_OPENED, event_type::ACCOUNT_VERIFIED]].concat(),
            Arc::new(Incoming {
                timeline: requests::timeline::TimelineProjection { store: store.clone() },
                accounts: registry::AccountNews { store: store.clone() },
            }),
        )),
        background: vec![
            Box::pin(supervisor.run(deps.supervision_every, shutdown.clone())),
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

/// What intake consumes: the later stages' events, for the timeline, and
/// identity's news of accounts, for the registry.
struct Incoming {
    timeline: requests::timeline::TimelineProjection,
    accounts: registry::AccountNews,
}

#[async_trait::async_trait]
impl EventHandler for Incoming {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        match event {
            Event::AccountOpened(_) | Event::AccountVerified(_) => self.accounts.handle(tx, message, event).await,
            _ => self.timeline.handle(tx, message, event).await,
        }
    }
}
