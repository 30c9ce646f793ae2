//! Who is calling a service. The gateway forwards the caller in gRPC
//! metadata; each service resolves it against its directory and checks the
//! caller's role, association and branch itself.
//! (Step 3 replaces the bare username with a signed identity.)

use crate::grpc::Problem;
use masar_domain::{ActorRole, Bilingual, Directory};
use tonic::{Code, Status};

pub const ACTOR_METADATA: &str = "masar-actor";

/// A staff member acting on a case, with their scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub username: String,
    pub role: ActorRole,
    pub association: String,
    pub branch: Option<String>,
}

impl Staff {
    /// Resolves the caller named in `request`'s metadata.
    pub fn from_request<T>(directory: &Directory, request: &tonic::Request<T>) -> Result<Staff, Status> {
        let username =
            request.metadata().get(ACTOR_METADATA).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()).ok_or_else(
                || {
                    Problem::new(Bilingual::new("يلزم تسجيل الدخول", "Sign-in required"))
                        .into_status(Code::Unauthenticated)
                },
            )?;
        let (association, member) = directory.staff(username).ok_or_else(|| {
            Problem::new(Bilingual::new("المستخدم غير معروف", "Unknown user")).into_status(Code::Unauthenticated)
        })?;
        Ok(Staff {
            username: member.username.clone(),
            role: member.role,
            association: association.code.clone(),
            branch: member.branch.clone(),
        })
    }

    /// The staff member calling, or `None` when the call names nobody (a
    /// beneficiary's own call); a named but unknown caller is refused.
    pub fn optional_from_request<T>(
        directory: &Directory,
        request: &tonic::Request<T>,
    ) -> Result<Option<Staff>, Status> {
        if request.metadata().get(ACTOR_METADATA).is_none() {
            return Ok(None);
        }
        Self::from_request(directory, request).map(Some)
    }

    /// The staff member as an event names who acted.
    pub fn event_actor(&self) -> masar_proto::events::v1::Actor {
        masar_proto::events::v1::Actor { role: self.role.as_str().into(), username: self.username.clone() }
    }

    /// Refuses unless the caller holds one of `roles`.
    pub fn require_role(&self, roles: &[ActorRole]) -> Result<(), Status> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Problem::new(Bilingual::new("ليست لديك صلاحية لهذا الإجراء", "Your role does not allow this action"))
                .into_status(Code::PermissionDenied))
        }
    }

    /// True when a case of `association`/`branch` is within the caller's scope:
    /// their association, and their branch for branch-bound roles.
    pub fn can_see(&self, association: &str, branch: &str) -> bool {
        self.association == association && (!self.role.is_branch_bound() || self.branch.as_deref() == Some(branch))
    }

    /// Refuses a case outside the caller's scope with the same answer as a
    /// missing one, so scope cannot be probed.
    pub fn ensure_can_see(&self, association: &str, branch: &str) -> Result<(), Status> {
        if self.can_see(association, branch) { Ok(()) } else { Err(crate::grpc::request_not_found()) }
    }

    /// The branch to list work for: a branch-bound caller always gets their
    /// own; others may pick one of their association or see all (`None`).
    pub fn branch_filter(&self, requested: &str) -> Option<String> {
        if self.role.is_branch_bound() {
            self.branch.clone()
        } else if requested.trim().is_empty() {
            None
        } else {
            Some(requested.trim().to_owned())
        }
    }
}

/// Adds the caller to an outgoing request's metadata.
pub fn attach_actor<T>(request: &mut tonic::Request<T>, username: &str) {
    if let Ok(value) = tonic::metadata::MetadataValue::try_from(username) {
        request.metadata_mut().insert(ACTOR_METADATA, value);
    }
}
