//! Who is calling a service. The gateway forwards the caller's access token
//! (signed by identity at sign-in) in gRPC metadata; each service verifies the
//! signature itself and checks the caller's role, association and branch, so
//! a call straight to a service's port gets no more than one via the gateway.

use crate::grpc::Problem;
use crate::tokens::{Claims, TokenError, TokenVerifier};
use masar_domain::{ActorRole, Bilingual};
use tonic::{Code, Status};
use uuid::Uuid;

/// The metadata key the access token travels in, as `Bearer <token>`.
pub const AUTHORIZATION: &str = "authorization";

/// A staff member acting on a case, with their scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub username: String,
    pub role: ActorRole,
    pub association: String,
    pub branch: Option<String>,
}

/// A beneficiary signed in to their own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beneficiary {
    pub username: String,
    pub association: String,
    pub beneficiary_id: Uuid,
    pub account_id: Uuid,
    /// The account's holder proved they are the person its national ID
    /// names; until then the account sees only what it filed itself.
    pub verified: bool,
}

/// Whose a record is, for a beneficiary's eyes: the registry entry it is
/// linked to, and the account that filed it (if one did).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    pub beneficiary_id: Option<Uuid>,
    pub filed_by_account: Option<Uuid>,
}

impl Beneficiary {
    /// The account whose filings alone this beneficiary may see: `None`
    /// when verified (they see everything linked to their entry).
    pub fn only_filed_by(&self) -> Option<Uuid> {
        (!self.verified).then_some(self.account_id)
    }

    /// True when a record owned so is theirs to see.
    pub fn owns(&self, owner: Owner) -> bool {
        owner.beneficiary_id == Some(self.beneficiary_id)
            && self.only_filed_by().is_none_or(|account| owner.filed_by_account == Some(account))
    }
}

/// Whoever a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Staff(Staff),
    Beneficiary(Beneficiary),
}

/// The refusal of an anonymous caller where signing in is required.
pub fn sign_in_required() -> Status {
    Problem::new(Bilingual::new("يلزم تسجيل الدخول", "Sign-in required"))
        .because("session.required")
        .into_status(Code::Unauthenticated)
}

fn staff_only() -> Status {
    Problem::new(Bilingual::new("هذا الإجراء لموظفي الجمعية", "This action is for the association's staff"))
        .because("caller.staff_only")
        .into_status(Code::PermissionDenied)
}

/// The token of an `authorization` value written `Bearer <token>`; the one
/// reading of that header, for HTTP and gRPC alike.
pub fn bearer(value: &str) -> Option<&str> {
    value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

impl Caller {
    /// The caller whose token `request` carries; `None` without a token. A
    /// token that is malformed, forged, altered, expired or signed by an
    /// unknown key is refused, never taken for "no caller".
    pub fn from_request<T>(verifier: &TokenVerifier, request: &tonic::Request<T>) -> Result<Option<Caller>, Status> {
        let Some(value) = request.metadata().get(AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value.to_str().ok().and_then(bearer).ok_or_else(|| token_refused(&TokenError::Invalid))?;
        Self::from_claims(verifier.verify(token).map_err(|e| token_refused(&e))?).map(Some)
    }

    /// The caller, who must have signed in.
    pub fn required<T>(verifier: &TokenVerifier, request: &tonic::Request<T>) -> Result<Caller, Status> {
        Self::from_request(verifier, request)?.ok_or_else(sign_in_required)
    }

    fn from_claims(claims: Claims) -> Result<Caller, Status> {
        let username = claims.username().to_owned();
        let parse = |id: Option<&str>| id.map(Uuid::parse_str);
        match (claims.role, parse(claims.beneficiary_id.as_deref()), parse(claims.account_id.as_deref())) {
            (ActorRole::Beneficiary, Some(Ok(beneficiary_id)), Some(Ok(account_id))) => {
                Ok(Caller::Beneficiary(Beneficiary {
                    username,
                    association: claims.association,
                    beneficiary_id,
                    account_id,
                    verified: claims.identity_verified,
                }))
            }
            (role, None, None) if role.is_staff() => {
                Ok(Caller::Staff(Staff { username, role, association: claims.association, branch: claims.branch }))
            }
            _ => Err(token_refused(&TokenError::Invalid)),
        }
    }

    /// True when a record of `association`/`branch`, owned by `owner`, is the
    /// caller's to see: staff within their scope, a verified beneficiary what
    /// is linked to them, an unverified one what their account filed.
    pub fn can_see(&self, association: &str, branch: &str, owner: Owner) -> bool {
        match self {
            Caller::Staff(staff) => staff.can_see(association, branch),
            Caller::Beneficiary(own) => own.owns(owner),
        }
    }

    /// The caller as staff; a beneficiary is refused.
    pub fn as_staff(&self) -> Result<&Staff, Status> {
        match self {
            Caller::Staff(staff) => Ok(staff),
            Caller::Beneficiary(_) => Err(staff_only()),
        }
    }

    /// The caller as a beneficiary acting for themself; staff are refused
    /// (a rating, for one, is the beneficiary's own word).
    pub fn as_beneficiary(&self) -> Result<&Beneficiary, Status> {
        match self {
            Caller::Beneficiary(own) => Ok(own),
            Caller::Staff(_) => Err(Problem::new(Bilingual::new(
                "هذا الإجراء للمستفيد نفسه",
                "Only the beneficiary themself can do this",
            ))
            .into_status(Code::PermissionDenied)),
        }
    }
}

/// Why a token is not accepted, for the caller (the gateway answers with the same words).
pub fn token_refused(error: &TokenError) -> Status {
    let (message, reason) = match error {
        TokenError::Expired => (
            Bilingual::new("انتهت صلاحية الجلسة؛ جدّد الدخول", "The session token has expired; refresh it"),
            "session.expired",
        ),
        TokenError::Revoked => (
            Bilingual::new("انتهت هذه الجلسة؛ سجّل الدخول من جديد", "This session has ended; sign in again"),
            "session.revoked",
        ),
        _ => (Bilingual::new("رمز الدخول غير صالح", "The access token is not valid"), "session.invalid"),
    };
    Problem::new(message).because(reason).into_status(Code::Unauthenticated)
}

impl Staff {
    /// The staff member whose token `request` carries; a beneficiary is refused.
    pub fn from_request<T>(verifier: &TokenVerifier, request: &tonic::Request<T>) -> Result<Staff, Status> {
        Caller::required(verifier, request)?.as_staff().cloned()
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
                .because("caller.role_not_allowed")
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

/// Adds the caller's access token to an outgoing request's metadata.
pub fn attach_token<T>(request: &mut tonic::Request<T>, token: &str) {
    if let Ok(value) = tonic::metadata::MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert(AUTHORIZATION, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unverified_account_owns_only_what_it_filed() {
        let (entry, account, other_account) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let holder = |verified| Beneficiary {
            username: "nzl-k7m2qx".into(),
            association: "nuzul".into(),
            beneficiary_id: entry,
            account_id: account,
            verified,
        };
        let filed_by = |by| Owner { beneficiary_id: Some(entry), filed_by_account: by };
        let (verified, claimant) = (holder(true), holder(false));
        for owner in [filed_by(None), filed_by(Some(other_account)), filed_by(Some(account))] {
            assert!(verified.owns(owner), "{owner:?}");
        }
        assert!(claimant.owns(filed_by(Some(account))));
        assert!(!claimant.owns(filed_by(None)), "filed by staff for the ID's holder");
        assert!(!claimant.owns(filed_by(Some(other_account))));
        let elsewhere = Owner { beneficiary_id: Some(Uuid::now_v7()), filed_by_account: Some(account) };
        assert!(!verified.owns(elsewhere) && !claimant.owns(elsewhere));
    }
}
