//! The verification gRPC service: the project manager's queue and outcomes.

use crate::store::{CaseDocument, VerificationCase, VerificationStore};
use chrono::Utc;
use masar_domain::eligibility::overall;
use masar_domain::{
    ActorRole, Bilingual, CaseStatus, DocumentReview, FieldError, HijriDate, TextRule, Verdict, clean_texts,
    missing_for_completion,
};
use masar_platform::audit::{self, Actor, action};
use masar_platform::grpc::{
    Problem, changed_meanwhile, cleaned, ensure_version, hijri_day_or_empty, internal, invalid_input, iso_day_or_empty,
    parse_uuid, request_not_found,
};
use masar_platform::identity::Staff;
use masar_platform::messaging::{Outbox, event_text};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::events::v1 as events;
use masar_proto::research::v1 as research;
use masar_proto::verification::v1::{self as api, verification_service_server::VerificationService};
use tonic::{Code, Request, Response, Status};

pub struct Verification {
    pub store: VerificationStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
}

/// The explanations of the rules the case clearly does not meet.
fn failed_rules(case: &VerificationCase) -> Vec<&Bilingual> {
    case.eligibility.iter().filter(|o| o.verdict == Verdict::NotMet).map(|o| &o.explanation).collect()
}

/// The documents that stand in the way of verifying: rejected, or expired at submission.
fn refused_documents(case: &VerificationCase) -> Vec<&Bilingual> {
    case.documents.iter().filter(|d| d.review.is_refusal()).map(|d| &d.name).collect()
}

/// The documents the project manager has not confirmed (nor refused) yet.
fn unreviewed_documents(case: &VerificationCase) -> Vec<&Bilingual> {
    case.documents.iter().filter(|d| d.review == DocumentReview::Pending).map(|d| &d.name).collect()
}

/// One precondition failure naming each item, in both languages, with its reason.
fn blocked_by(reason: &'static str, ar: &str, en: &str, items: &[&Bilingual]) -> Status {
    Problem::new(Bilingual::new(
        format!("{ar}: {}", items.iter().map(|r| r.ar.as_str()).collect::<Vec<_>>().join("؛ ")),
        format!("{en}: {}", items.iter().map(|r| r.en.as_str()).collect::<Vec<_>>().join("; ")),
    ))
    .because(reason)
    .into_status(Code::FailedPrecondition)
}

fn document_reply(d: CaseDocument, case_version: u64) -> api::CaseDocument {
    api::CaseDocument {
        case_version,
        issued_on_hijri: hijri_day_or_empty(d.issued_on),
        expires_on_hijri: hijri_day_or_empty(d.expires_on),
        issued_on: iso_day_or_empty(d.issued_on),
        expires_on: iso_day_or_empty(d.expires_on),
        document: d.document,
        name_ar: d.name.ar,
        name_en: d.name.en,
        attachment_id: d.attachment_id.to_string(),
        content_type: d.content_type,
        size_bytes: d.size_bytes,
        sha256: d.sha256,
        review: d.review.to_string(),
        reason: d.reason,
        reviewed_by: d.reviewed_by.unwrap_or_default(),
    }
}

/// What an outcome hands on: its event, and for a return what the beneficiary is told is missing.
struct Outcome {
    event: Event,
    missing: Vec<Bilingual>,
}

impl Outcome {
    fn event(event: Event) -> Self {
        Self { event, missing: Vec::new() }
    }
}

/// A document as the case is verified on it; with reviews optional, the
/// ones not looked at are accepted by the verification itself.
fn verified_document(d: &CaseDocument, reviews_optional: bool) -> research::VerifiedDocument {
    let review =
        if reviews_optional && d.review == DocumentReview::Pending { DocumentReview::Accepted } else { d.review };
    research::VerifiedDocument {
        document: d.document.clone(),
        name_ar: d.name.ar.clone(),
        name_en: d.name.en.clone(),
        attachment_id: d.attachment_id.to_string(),
        content_type: d.content_type.clone(),
        sha256: d.sha256.clone(),
        review: review.to_string(),
    }
}

impl Verification {
    /// Applies one outcome: checks the caller and the transition, records it
    /// and writes the event, all in one transaction.
    async fn decide<T>(
        &self,
        request: &Request<T>,
        request_id: &str,
        expected_version: u64,
        to: CaseStatus,
        mut detail: serde_json::Value,
        outcome: impl FnOnce(&VerificationCase, events::Actor) -> Result<Outcome, Status>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let staff = Staff::from_request(&self.verifier, request)?;
        staff.require_role(&[ActorRole::ProjectManager])?;
        let request_id = parse_uuid("request_id", request_id)?;
        let mut tx = self.store.db().begin().await?;
        let case = self.store.case_in(&mut tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&case.association, &case.branch)?;
        ensure_version(expected_version, case.version)?;
        case.status.transition(to).map_err(|refused| {
            Problem::new(Bilingual::new(
                format!("لا يمكن تنفيذ الإجراء على طلب حالته {}", refused.from.describe().ar),
                format!("Not possible on a request that is '{}'", refused.from.describe().en),
            ))
            .into_status(Code::FailedPrecondition)
        })?;
        let outcome = outcome(&case, staff.event_actor())?;
        if !outcome.missing.is_empty() {
            detail["missing"] = serde_json::to_value(&outcome.missing).map_err(internal)?;
        }
        if !self.store.decide(&mut tx, request_id, case.version, to, &staff.username, detail).await? {
            return Err(changed_meanwhile());
        }
        if to == CaseStatus::Verified && case.document_reviews_optional {
            self.store.accept_unreviewed_documents(&mut tx, request_id, &staff.username).await?;
        }
        self.outbox.append(&mut tx, &outcome.event).await?;
        let actor = Actor::staff(&staff, request);
        let action = outcome.event.event_type();
        audit::record(&mut tx, &actor, case.audit_subject(), action, "").await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(request_id = %request_id, outcome = %to, "verification outcome recorded");
        Ok(Response::new(api::VerificationOutcome {
            request_id: request_id.to_string(),
            status: to.to_string(),
            policy_version: case.policy_version,
            missing: outcome.missing.into_iter().map(|m| api::MissingItem { ar: m.ar, en: m.en }).collect(),
            version: case.version + 1,
        }))
    }
}

#[tonic::async_trait]
impl VerificationService for Verification {
    async fn list_pending(
        &self,
        request: Request<api::ListPendingRequest>,
    ) -> Result<Response<api::ListPendingResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let input = request.get_ref();
        let page = PageRequest::read(input.page_size, &input.page_token)?;
        let branch = staff.branch_filter(&input.branch);
        let cases = self.store.pending(&staff.association, branch.as_deref(), &page).await?;
        let (cases, next_page_token) = page.finish(cases, |c| Position { at: c.received_at, id: c.request_id });
        Ok(Response::new(api::ListPendingResponse {
            next_page_token,
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
                    received_on_hijri: HijriDate::on(c.received_at).to_string(),
                    received_at: Some(masar_proto::timestamp(c.received_at)),
                    documents: c.documents.into_iter().map(|d| document_reply(d, c.version)).collect(),
                    version: c.version,
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

    async fn review_document(
        &self,
        request: Request<api::ReviewDocumentRequest>,
    ) -> Result<Response<api::CaseDocument>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::ProjectManager])?;
        let input = request.get_ref();
        let request_id = parse_uuid("request_id", &input.request_id)?;
        let mut tx = self.store.db().begin().await?;
        let case = self.store.case_in(&mut tx, request_id).await?.ok_or_else(request_not_found)?;
        staff.ensure_can_see(&case.association, &case.branch)?;
        ensure_version(input.expected_version, case.version)?;
        if case.status != CaseStatus::Submitted {
            return Err(Problem::new(Bilingual::new(
                format!("تراجع المستندات قبل البت في الطلب (حالته: {})", case.status.describe().ar),
                format!("Documents are reviewed before the request is decided (it is '{}')", case.status.describe().en),
            ))
            .into_status(Code::FailedPrecondition));
        }
        let reason = cleaned("reason", &input.reason, TextRule::NOTE)?;
        let reason = reason.as_str();
        let review = match DocumentReview::parse(&input.review) {
            Ok(review @ DocumentReview::Accepted) => review,
            Ok(review @ DocumentReview::Rejected) if !reason.is_empty() => review,
            Ok(DocumentReview::Rejected) => {
                let why = Bilingual::new("اذكر سبب رفض المستند", "Say why the document is rejected");
                return Err(invalid_input(vec![FieldError::new("reason", why)]));
            }
            _ => {
                let which =
                    Bilingual::new("المراجعة إما accepted أو rejected", "The review is either accepted or rejected");
                return Err(invalid_input(vec![FieldError::new("review", which)]));
            }
        };
        let document = input.document.trim();
        let Some(current) = case.documents.iter().find(|d| d.document == document) else {
            return Err(Problem::invalid(vec![FieldError::new(
                "document",
                Bilingual::new("لا يحمل الطلب هذا المستند", "The request carries no such document"),
            )])
            .into_status(Code::NotFound));
        };
        if current.review == DocumentReview::ExpiredAtSubmission && review == DocumentReview::Accepted {
            return Err(Problem::new(Bilingual::new(
                format!("{} كان منتهي الصلاحية وقت التقديم فلا يقبل؛ أعد الطلب لاستكماله", current.name.ar),
                format!(
                    "{} had expired at submission and cannot be accepted; return the request for a valid one",
                    current.name.en
                ),
            ))
            .into_status(Code::FailedPrecondition));
        }
        let reason = if review == DocumentReview::Rejected { reason } else { "" };
        if !self.store.review_document(&mut tx, &case, document, review, reason, &staff.username).await? {
            return Err(changed_meanwhile());
        }
        let actor = Actor::staff(&staff, &request);
        let detail = format!("{document}: {review}");
        audit::record(&mut tx, &actor, case.audit_subject(), action::DOCUMENT_REVIEWED, &detail).await?;
        tx.commit().await?;
        tracing::info!(request_id = %request_id, document, review = %review, "document reviewed");
        let reviewed = CaseDocument {
            review,
            reason: reason.to_owned(),
            reviewed_by: Some(staff.username.clone()),
            ..current.clone()
        };
        Ok(Response::new(document_reply(reviewed, case.version + 1)))
    }

    async fn accept_request(
        &self,
        request: Request<api::AcceptRequestRequest>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let note = cleaned("note", &request.get_ref().note, TextRule::NOTE)?;
        let request_id = request.get_ref().request_id.clone();
        let expected = request.get_ref().expected_version;
        self.decide(
            &request,
            &request_id,
            expected,
            CaseStatus::Verified,
            serde_json::json!({ "note": note }),
            |case, actor| {
                // A rule the request clearly fails cannot be waved through; an unclear one is the manager's call.
                let failed = failed_rules(case);
                if !failed.is_empty() {
                    return Err(blocked_by(
                        "verification.rules_not_met",
                        "الطلب لا يستوفي شروط الأهلية",
                        "The request does not meet the eligibility rules",
                        &failed,
                    ));
                }
                let refused = refused_documents(case);
                if !refused.is_empty() {
                    return Err(blocked_by(
                        "verification.documents_refused",
                        "مستندات مرفوضة أو منتهية يلزم استكمالها أولاً",
                        "Rejected or expired documents must be completed first",
                        &refused,
                    ));
                }
                // The policy makes the manager's confirmation of each document a step of its own.
                let unreviewed = unreviewed_documents(case);
                if !case.document_reviews_optional && !unreviewed.is_empty() {
                    return Err(blocked_by(
                        "verification.documents_unreviewed",
                        "يلزم تأكيد كل مستند مطلوب قبل قبول الطلب",
                        "Each required document must be confirmed before the request is accepted",
                        &unreviewed,
                    ));
                }
                let event = events::RequestVerified {
                    case: Some(case.case_ref()),
                    actor: Some(actor),
                    verified_at: Some(masar_proto::timestamp(Utc::now())),
                    note,
                    policy_version: case.policy_version,
                    documents: case
                        .documents
                        .iter()
                        .map(|d| verified_document(d, case.document_reviews_optional))
                        .collect(),
                    eligibility: case
                        .eligibility
                        .iter()
                        .map(|r| research::RuleResult {
                            rule: r.rule.clone(),
                            verdict: r.verdict.to_string(),
                            explanation_ar: r.explanation.ar.clone(),
                            explanation_en: r.explanation.en.clone(),
                        })
                        .collect(),
                    preferred_researcher_gender: case
                        .researcher_preference
                        .as_ref()
                        .map(|p| p.gender.to_string())
                        .unwrap_or_default(),
                    preference_reason: case
                        .researcher_preference
                        .as_ref()
                        .map(|p| events::Bilingual { ar: p.reason.ar.clone(), en: p.reason.en.clone() }),
                };
                Ok(Outcome::event(Event::RequestVerified(event)))
            },
        )
        .await
    }

    async fn return_for_completion(
        &self,
        request: Request<api::ReturnForCompletionRequest>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let typed = clean_texts("missing_items", &request.get_ref().missing_items, TextRule::LINE, 50)
            .map_err(|problem| invalid_input(vec![problem]))?;
        let note = cleaned("note", &request.get_ref().note, TextRule::NOTE)?;
        let request_id = request.get_ref().request_id.clone();
        let detail = serde_json::json!({ "missing_items": typed, "note": note });
        let expected = request.get_ref().expected_version;
        self.decide(&request, &request_id, expected, CaseStatus::ReturnedForCompletion, detail, |case, actor| {
            // Exactly what is missing, from the reviews and the unclear rules, unless the manager says more.
            let reviewed: Vec<_> = case.documents.iter().map(CaseDocument::reviewed).collect();
            let missing = missing_for_completion(&reviewed, &case.eligibility);
            if typed.is_empty() && missing.is_empty() {
                return Err(invalid_input(vec![FieldError::new(
                    "missing_items",
                    Bilingual::new(
                        "لا ينقص الطلب شيء ظاهر؛ حدد ما ينقصه ليعرف المستفيد ما يستكمله",
                        "Nothing is visibly missing; say what is, so the beneficiary knows what to complete",
                    ),
                )]));
            }
            let event = events::RequestReturned {
                case: Some(case.case_ref()),
                actor: Some(actor),
                returned_at: Some(masar_proto::timestamp(Utc::now())),
                missing_items: typed,
                note,
                policy_version: case.policy_version,
                missing: missing.iter().map(event_text).collect(),
            };
            Ok(Outcome { missing, ..Outcome::event(Event::RequestReturned(event)) })
        })
        .await
    }

    async fn declare_ineligible(
        &self,
        request: Request<api::DeclareIneligibleRequest>,
    ) -> Result<Response<api::VerificationOutcome>, Status> {
        let given = clean_texts("reasons", &request.get_ref().reasons, TextRule::NOTE, 20)
            .map_err(|problem| invalid_input(vec![problem]))?;
        let request_id = request.get_ref().request_id.clone();
        let detail = serde_json::json!({ "reasons": given });
        let expected = request.get_ref().expected_version;
        self.decide(&request, &request_id, expected, CaseStatus::Ineligible, detail, |case, actor| {
            // The policy's explanations always go with the manager's own reasons; either may be enough.
            let rule_explanations: Vec<_> = failed_rules(case).into_iter().map(event_text).collect();
            if given.is_empty() && rule_explanations.is_empty() {
                return Err(invalid_input(vec![FieldError::new(
                    "reasons",
                    Bilingual::new("يجب ذكر أسباب عدم الاستحقاق", "Give the reasons the request is not eligible"),
                )]));
            }
            let event = events::RequestIneligible {
                case: Some(case.case_ref()),
                actor: Some(actor),
                decided_at: Some(masar_proto::timestamp(Utc::now())),
                reasons: given,
                policy_version: case.policy_version,
                rule_explanations,
            };
            Ok(Outcome::event(Event::RequestIneligible(event)))
        })
        .await
    }
}
