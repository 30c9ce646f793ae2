//! The notification gRPC service: which messages a case's beneficiary got.

use crate::store::NotificationStore;
use masar_domain::{ActorRole, SaudiMobile};
use masar_platform::grpc::{parse_uuid, request_not_found};
use masar_platform::identity::Staff;
use masar_platform::tokens::TokenVerifier;
use masar_proto::notification::v1::{self as api, notification_service_server::NotificationService};
use tonic::{Request, Response, Status};

pub struct Notification {
    pub store: NotificationStore,
    pub verifier: TokenVerifier,
}

#[tonic::async_trait]
impl NotificationService for Notification {
    async fn list_messages(
        &self,
        request: Request<api::ListMessagesRequest>,
    ) -> Result<Response<api::ListMessagesResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::CASE_DESK)?;
        let request_id = parse_uuid("request_id", &request.get_ref().request_id)?;
        let recipient = self.store.recipient(request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&recipient.association, &recipient.branch)?;
        let messages = self.store.messages(request_id).await?;
        Ok(Response::new(api::ListMessagesResponse {
            messages: messages
                .into_iter()
                .map(|m| api::Message {
                    message_id: m.message_id.to_string(),
                    event_type: m.event_type,
                    language: m.language,
                    mobile_masked: SaudiMobile::mask(&m.mobile),
                    text: m.body,
                    status: m.status,
                    created_at: Some(masar_proto::timestamp(m.created_at)),
                    sent_at: m.sent_at.map(masar_proto::timestamp),
                })
                .collect(),
        }))
    }
}
