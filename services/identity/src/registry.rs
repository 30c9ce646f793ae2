//! Intake's registry, as identity reaches it: every account belongs to the
//! association's one entry for its national ID, which intake keeps. Each
//! call carries identity's voucher for itself (`masar_platform::forwarding`).

use masar_platform::forwarding::{ForwardingKey, VouchAs};
use masar_platform::grpc::TracedChannel;
use masar_platform::replicas::{InvalidEndpoint, balanced_channel};
use masar_platform::role::Role;
use masar_proto::intake::v1::{self as intake, registry_service_client::RegistryServiceClient};
use tonic::Status;
use uuid::Uuid;

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

    /// The entry for the form's national ID, registered now if new.
    pub async fn find_or_register(
        &self,
        request: intake::FindOrRegisterRequest,
    ) -> Result<intake::RegistryEntry, Status> {
        Ok(self.client.clone().find_or_register(self.vouch.request(request)).await?.into_inner())
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
        Ok(self.client.clone().get_entries(self.vouch.request(request)).await?.into_inner().entries)
    }

    /// One entry, if `association` has it.
    pub async fn entry(&self, association: &str, id: Uuid) -> Result<Option<intake::RegistryEntry>, Status> {
        Ok(self.entries(association, &[id]).await?.into_iter().next())
    }
}
