//! Identity: beneficiaries' accounts and the claims they make to a national
//! ID, staff credentials, sign-in sessions (the only service holding the
//! token signing key) and their revocation. The registry of people is
//! intake's, reached through its `RegistryService`.

mod accounts;
mod adopt;
mod passwords;
mod registry;
mod sessions;
mod store;

pub use adopt::adopt_from_intake;
pub use registry::Registry;
pub use sessions::{StoredSession, seed_demo_staff_passwords, set_staff_password};
pub use store::{IdentityStore, NewAccount, Opened, StoredAccount, StoredIdentityCheck};

use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::db::{Db, DbError, Tx};
use masar_platform::messaging::{EventHandler, HandlerError, Outbox};
use masar_platform::personal::RESEAL_EVERY;
use masar_platform::policies::PolicyBook;
use masar_platform::queue::Message;
use masar_platform::replicas::InvalidEndpoint;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::identity::v1::account_service_server::AccountServiceServer;
use masar_proto::identity::v1::session_service_server::SessionServiceServer;
use masar_proto::{Event, event_type};
use sqlx::migrate::Migrator;
use std::sync::Arc;
use uuid::Uuid;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates or upgrades identity's tables (and its outbox and inbox).
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    masar_platform::runtime::migrate_service(db, "identity", &POSTGRES, &SQLITE).await
}

pub fn parts(
    deps: &Dependencies,
    shutdown: masar_platform::CancellationToken,
) -> Result<ServiceParts, InvalidEndpoint> {
    let outbox = Outbox::new();
    let store = IdentityStore::new(deps.db.clone(), deps.personal.clone());
    let policies = PolicyBook::new(deps.db.clone());
    let ends = sessions::SessionEnds {
        store: store.clone(),
        outbox: outbox.clone(),
        revocations: deps.revocations.clone(),
        access_token_lifetime: deps.sessions.access_token_lifetime,
    };
    let accounts = accounts::Accounts {
        store: store.clone(),
        registry: Registry::connect(&deps.endpoints.intake, deps.registry_key.clone())?,
        outbox: outbox.clone(),
        verifier: deps.tokens.verifier.clone(),
        policies,
        sealer: deps.sealer.clone(),
        ends: ends.clone(),
        identity_provider: deps.identity_provider.clone(),
    };
    let sessions = sessions::Sessions {
        store: store.clone(),
        directory: deps.directory.clone(),
        tokens: deps.tokens.clone(),
        policy: deps.sessions.clone(),
        ends,
    };
    Ok(ServiceParts {
        role: Role::Identity,
        routes: tonic::service::Routes::new(AccountServiceServer::new(accounts))
            .add_service(SessionServiceServer::new(sessions)),
        service_names: vec!["masar.identity.v1.AccountService", "masar.identity.v1.SessionService"],
        outbox,
        consumes: Some((
            vec![event_type::POLICY_APPLIED, event_type::CONTACT_CONFIRMED],
            Arc::new(RegistryNews { store: store.clone() }),
        )),
        background: vec![Box::pin(async move {
            masar_platform::personal::keep_sealed(|| store.reseal_batch(), RESEAL_EVERY, shutdown).await
        })],
    })
}

/// What identity consumes: the policy versions registration is judged by,
/// and intake's news that staff confirmed an entry's number (the claims
/// whose credentials went there are proven).
struct RegistryNews {
    store: IdentityStore,
}

#[async_trait::async_trait]
impl EventHandler for RegistryNews {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        let confirmed = match event {
            Event::PolicyApplied(announced) => return PolicyBook::keep_announced(tx, &announced).await,
            Event::ContactConfirmed(confirmed) => confirmed,
            Event::RequestSubmitted(_)
            | Event::RequestResubmitted(_)
            | Event::RequestReturned(_)
            | Event::RequestVerified(_)
            | Event::RequestIneligible(_)
            | Event::ResearcherAssigned(_)
            | Event::DocumentsRequested(_)
            | Event::VisitScheduled(_)
            | Event::VisitChangeRequested(_)
            | Event::FieldVisitRecorded(_)
            | Event::ResearchRecommended(_)
            | Event::CaseScheduled(_)
            | Event::CommitteeDecided(_)
            | Event::ServiceDelivered(_)
            | Event::CaseOverdue(_)
            | Event::PromiseRevised(_)
            | Event::AccountOpened(_)
            | Event::AccountVerified(_)
            | Event::InquiryAnswered(_)
            // Kept by the platform before any handler (`masar_platform::revocations`).
            | Event::SessionRevoked(_) => {
                return Err(HandlerError::Reject(format!("identity does not consume {}", message.event_type)));
            }
        };
        let beneficiary_id = Uuid::parse_str(&confirmed.beneficiary_id)
            .map_err(|_| HandlerError::Reject("a confirmed contact names no registry entry".into()))?;
        let mobile = self.store.personal().open(
            &confirmed.association,
            masar_platform::personal::Field::Mobile,
            &confirmed.mobile,
        )?;
        let at = masar_proto::to_datetime(confirmed.confirmed_at.as_ref());
        let proven = self
            .store
            .prove_claims_to(tx, &confirmed.association, beneficiary_id, &mobile, &confirmed.confirmed_by, at)
            .await?;
        if proven > 0 {
            let subject = Subject::outside_a_case(&confirmed.association, "");
            let detail = format!("{proven} claim(s) by the registry's number, confirmed by {}", confirmed.confirmed_by);
            audit::record(tx, &Actor::system(message), subject, action::ACCOUNT_VERIFIED, &detail).await?;
            tracing::info!(association = %confirmed.association, proven, "claims proven by the registry's number");
        }
        Ok(())
    }
}
