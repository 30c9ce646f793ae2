//! The verification gRPC service: the project manager's queue and outcomes.

use crate::store::{VerificationCase, VerificationStore};
use chrono::Utc;
use masar_domain::eligibility::overall;
use masar_domain::{ActorRole, Bilingual, CaseStatus, Directory, FieldError, Verdict};
use masar_platform::grpc::{Problem, changed_meanwhile, internal, parse_uuid, request_not_found};
use masar_platform::identity::Staff;
use masar_platform::messaging::Outbox;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use masar_proto::verification::v1::{self as api, verification_service_server::VerificationService};
use prost::Message as _;
use std::sync::Arc;
use tonic::{Code, Request, Response, Status};

pub struct Verification {
    pub store: VerificationStore,
    pub outbox: Outbox,
    pub directory: Arc<Directory>,
}

/// The explanations of the rules the case clearly does not meet.
fn failed_rules(case: &VerificationCase) -> Vec<&Bilingual> {
    case.eligibility.iter().filter(|o| o.verdict == Verdict::NotMet).map(|o| &o.explanation).collect()
}

/// Non-empty, trimmed entries of a list the caller filled in.
fn cleaned(items: &[String]) -> Vec<String> {
    items.iter().map(|i| i.trim().to_owned()).filter(|i| !i.is_empty()).collect()
}

impl Verification {
    /// Applies one outcome: checks the caller and the transition, records it
    /// and writes the event, all in one transaction.
    async fn decide<T>(
        &self,
        request: &Request<T>,
        request_id: &str,
        to: CaseStatus,
        mut detail: serde_json::Value,
        event: impl FnOnce(&VerificationCase, events::Actor) -> Result<(&'static str, Vec<u8>), Status>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let staff = Staff::from_request(&self.directory, request)?;
        staff.require_role(&[ActorRole::ProjectManager])?;
        let request_id = parse_uuid("request_id", request_id)?;
        let mut tx = self.store.db().begin().await.map_err(internal)?;
        let case = self.store.case_in(&mut tx, request_id).await.map_err(internal)?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&case.association, &case.branch)?;
        case.status.transition(to).map_err(|refused| {
            Problem::new(Bilingual::new(
                format!("لا يمكن تنفيذ الإجراء على طلب حالته {}", refused.from.describe().ar),
                format!("Not possible on a request that is '{}'", refused.from.describe().en),
            ))
            .into_status(Code::FailedPrecondition)
        })?;
        detail["policy_version"] = case.policy_version.into();
        if !self.store.decide(&mut tx, request_id, case.status, to, &staff.username, detail).await.map_err(internal)? {
            return Err(changed_meanwhile());
        }
        let actor = events::Actor { role: staff.role.as_str().into(), username: staff.username.clone() };
        let (kind, payload) = event(&case, actor)?;
        self.outbox.append_encoded(&mut tx, kind, payload).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.outbox.wake();
        tracing::info!(request_id = %request_id, outcome = %to, "verification outcome recorded");
        Ok(Response::new(api::VerificationOutcome {
            request_id: request_id.to_string(),
            status: to.to_string(),
            policy_version: case.policy_version,
        }))
    }
}

#[tonic::async_trait]
impl VerificationService for Verification {
    async fn list_pending(
        &self,
        request: Request<api::ListPendingRequest>,
    ) -> Result<Response<api::ListPendingResponse>, Status> {
        let staff = Staff::from_request(&self.directory, &request)?;
        staff.require_role(&[ActorRole::ProjectManager, ActorRole::BranchManager, ActorRole::AssociationAdmin])?;
        let branch = staff.branch_filter(&request.get_ref().branch);
        let cases = self.store.pending(&staff.association, branch.as_deref()).await.map_err(internal)?;
        Ok(Response::new(api::ListPendingResponse {
            requests: cases
                .into_iter()
                .map(|c| api::PendingRequest {
                    request_id: c.request_id.to_string(),
                    association: c.association,
                    branch: c.branch,
                    service_type: c.service_type,
                    applicant_name: c.applicant_name,
                    national_id_masked: c.national_id_masked,
                    status: c.status.to_string(),
                    received_at: Some(masar_proto::timestamp(c.received_at)),
                    policy_version: c.policy_version,
                    eligibility_verdict: overall(&c.eligibility).as_str().to_owned(),
                    eligibility: c
                        .eligibility
                        .into_iter()
                        .map(|o| api::RuleOutcome {
                            rule: o.rule,
                            verdict: o.verdict.as_str().to_owned(),
                            explanation_ar: o.explanation.ar,
                            explanation_en: o.explanation.en,
                        })
                        .collect(),
                })
                .collect(),
        }))
    }

    async fn accept_request(
        &self,
        request: Request<api::AcceptRequestRequest>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let note = request.get_ref().note.trim().to_owned();
        let request_id = request.get_ref().request_id.clone();
        self.decide(&request, &request_id, CaseStatus::Verified, serde_json::json!({ "note": note }), |case, actor| {
            // A rule the request clearly fails cannot be waved through; an unclear one is the manager's call.
            let failed = failed_rules(case);
            if !failed.is_empty() {
                return Err(Problem::new(Bilingual::new(
                    format!(
                        "الطلب لا يستوفي شروط الأهلية: {}",
                        failed.iter().map(|r| r.ar.as_str()).collect::<Vec<_>>().join("؛ ")
                    ),
                    format!(
                        "The request does not meet the eligibility rules: {}",
                        failed.iter().map(|r| r.en.as_str()).collect::<Vec<_>>().join("; ")
                    ),
                ))
                .into_status(Code::FailedPrecondition));
            }
            let event = events::RequestVerified {
                case: Some(case.case_ref()),
                actor: Some(actor),
                verified_at: Some(masar_proto::timestamp(Utc::now())),
                note,
                policy_version: case.policy_version,
            };
            Ok((event_type::REQUEST_VERIFIED, event.encode_to_vec()))
        })
        .await
    }

    async fn return_for_completion(
        &self,
        request: Request<api::ReturnForCompletionRequest>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let missing = cleaned(&request.get_ref().missing_items);
        if missing.is_empty() {
            return Err(Problem::invalid(vec![FieldError::new(
                "missing_items",
                Bilingual::new(
                    "حدد ما ينقص الطلب ليعرف المستفيد ما يستكمله",
                    "Say what is missing so the beneficiary knows what to complete",
                ),
            )])
            .into_status(Code::InvalidArgument));
        }
        let note = request.get_ref().note.trim().to_owned();
        let request_id = request.get_ref().request_id.clone();
        let detail = serde_json::json!({ "missing_items": missing, "note": note });
        self.decide(&request, &request_id, CaseStatus::ReturnedForCompletion, detail, |case, actor| {
            let event = events::RequestReturned {
                case: Some(case.case_ref()),
                actor: Some(actor),
                returned_at: Some(masar_proto::timestamp(Utc::now())),
                missing_items: missing,
                note,
                policy_version: case.policy_version,
            };
            Ok((event_type::REQUEST_RETURNED, event.encode_to_vec()))
        })
        .await
    }

    async fn declare_ineligible(
        &self,
        request: Request<api::DeclareIneligibleRequest>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let given = cleaned(&request.get_ref().reasons);
        let request_id = request.get_ref().request_id.clone();
        let detail = serde_json::json!({ "reasons": given });
        self.decide(&request, &request_id, CaseStatus::Ineligible, detail, |case, actor| {
            // The policy's explanations always go with the manager's own reasons; either may be enough.
            let rule_explanations: Vec<_> = failed_rules(case)
                .into_iter()
                .map(|r| events::Bilingual { ar: r.ar.clone(), en: r.en.clone() })
                .collect();
            if given.is_empty() && rule_explanations.is_empty() {
                return Err(Problem::invalid(vec![FieldError::new(
                    "reasons",
                    Bilingual::new("يجب ذكر أسباب عدم الاستحقاق", "Give the reasons the request is not eligible"),
                )])
                .into_status(Code::InvalidArgument));
            }
            let event = events::RequestIneligible {
                case: Some(case.case_ref()),
                actor: Some(actor),
                decided_at: Some(masar_proto::timestamp(Utc::now())),
                reasons: given,
                policy_version: case.policy_version,
                rule_explanations,
            };
            Ok((event_type::REQUEST_INELIGIBLE, event.encode_to_vec()))
        })
        .await
    }
}
