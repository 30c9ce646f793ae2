//! Intake's registry, as identity reaches it: every account belongs to the
//! association's one entry for its national ID, which intake keeps. Each
//! call carries identity's voucher for itself under `MASAR_REGISTRY_KEY`,
//! which only identity and intake hold (`masar_platform::forwarding`).

use masar_platform::forwarding::{ForwardingKey, VouchAs};
use masar_platform::grpc::TracedChannel;
use masar_platform::replicas::{InvalidEndpoint, balanced_channel};
use masar_platform::role::Role;
use masar_proto::intake::v1::{self as intake, registry_service_client::RegistryServiceClient};
use tonic::Status;
use uuid::Uuid;

/// How long identity waits for intake's registry.
const CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone)]
pub struct Registry {
    client: RegistryServiceClient<TracedChannel>,
    vouch: VouchAs,
}

impl Registry {
    /// Balances over intake's replicas at `endpoints`; connects lazily.
    pub fn connect(endpoints: &str, key: ForwardingKey) -> Result<Self, InvalidEndpoint> {
        let channel = balanced_channel(endpoints)?;
        Ok(Self { client: RegistryServiceClient::new(channel), vouch: VouchAs { key, role: Role::Identity } })
    }

    /// The association's entry for a national ID, if it is on file (nothing is written).
    pub async fn find_entry(
        &self,
        association: &str,
        national_id: &str,
    ) -> Result<Option<intake::RegistryEntry>, Status> {
        let request =
            intake::FindEntryRequest { association: association.to_owned(), national_id: national_id.to_owned() };
        Ok(self.client.clone().find_entry(self.call(request)).await?.into_inner().entry)
    }

    /// The entry for the form's national ID, registered now if new.
    pub async fn find_or_register(
        &self,
        request: intake::FindOrRegisterRequest,
    ) -> Result<intake::RegistryEntry, Status> {
        Ok(self.client.clone().find_or_register(self.call(request)).await?.into_inner())
    }

    /// The entries of `association` with these ids (those not found left out).
    pub async fn entries(&self, association: &str, ids: &[Uuid]) -> Result<Vec<intake::RegistryEntry>, Status> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let request = intake::GetEntriesRequest {
            association: association.to_owned(),
            beneficiary_ids: ids.iter().map(Uuid::to_string).collect(),
        };
        Ok(self.client.clone().get_entries(self.call(request)).await?.into_inner().entries)
    }

    /// `message` as identity's call, with a deadline: a registration waits
    /// for intake this long at most, well within the gateway's own.
    fn call<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = self.vouch.request(message);
        request.set_timeout(CALL_DEADLINE);
        request
    }

    /// One entry, if `association` has it.
    pub async fn entry(&self, association: &str, id: Uuid) -> Result<Option<intake::RegistryEntry>, Status> {
        Ok(self.entries(association, &[id]).await?.into_iter().next())
    }
}
