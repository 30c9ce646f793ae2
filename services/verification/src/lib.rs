//! Document verification: the project manager checks a request's documents
//! and eligibility, then verifies it (on to research), returns it for
//! completion, or closes it as ineligible.

mod grpc;
mod store;

pub use store::{CaseDocument, Received, VerificationCase, VerificationStore};

use masar_domain::calendar::{parse_gregorian, saudi_day};
use masar_domain::{Bilingual, CaseStatus, DocumentReview, Facts, PolicyPack};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::db::{Db, DbError, Tx};
use masar_platform::messaging::{EventHandler, HandlerError, Outbox, event_case};
use masar_platform::personal::{Field, PersonalData};
use masar_platform::policies::PolicyBook;
use masar_platform::queue::Message;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::events::v1 as events;
use masar_proto::verification::v1::verification_service_server::VerificationServiceServer;
use masar_proto::{Event, event_type};
use sqlx::migrate::Migrator;
use std::sync::Arc;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates or upgrades verification's tables (and its outbox and inbox).
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    masar_platform::runtime::migrate_service(db, "verification", &POSTGRES, &SQLITE).await
}

pub fn parts(deps: &Dependencies) -> ServiceParts {
    let outbox = Outbox::new();
    let store = VerificationStore::new(deps.db.clone());
    let service =
        grpc::Verification { store: store.clone(), outbox: outbox.clone(), verifier: deps.tokens.verifier.clone() };
    ServiceParts {
        role: Role::Verification,
        routes: tonic::service::Routes::new(VerificationServiceServer::new(service)),
        service_names: vec!["masar.verification.v1.VerificationService"],
        outbox: outbox.clone(),
        consumes: Some((
            vec![
                event_type::POLICY_APPLIED,
                event_type::REQUEST_SUBMITTED,
                event_type::REQUEST_RESUBMITTED,
                event_type::DOCUMENTS_REQUESTED,
            ],
            Arc::new(IncomingRequests {
                store,
                policies: PolicyBook::new(deps.db.clone()),
                personal: deps.personal.clone(),
                outbox: outbox.clone(),
            }),
        )),
        background: Vec::new(),
    }
}

/// Keeps the announced policy versions, puts submitted and resubmitted
/// requests in the project manager's queue, judged against their policy, and
/// returns to the beneficiary the cases research needs more documents for.
struct IncomingRequests {
    store: VerificationStore,
    policies: PolicyBook,
    personal: PersonalData,
    outbox: Outbox,
}

impl IncomingRequests {
    /// Research needs more documents: the case goes back to the beneficiary
    /// exactly as a return for completion does, with the researcher's list.
    async fn return_for_research(
        &self,
        tx: &mut Tx,
        message: &Message,
        asked: events::DocumentsRequested,
    ) -> Result<(), HandlerError> {
        let (request_id, case) = event_case(asked.case.clone())?;
        let current = self
            .store
            .case_in(tx, request_id)
            .await?
            .ok_or_else(|| HandlerError::Reject(format!("no case {request_id} in verification")))?;
        // Verification was done with it: the status that moves is research's.
        if current.status != CaseStatus::Verified {
            return Err(HandlerError::Reject(format!("documents asked for a case that is '{}'", current.status)));
        }
        let from = CaseStatus::parse(&asked.from_status).map_err(|e| HandlerError::Reject(e.to_string()))?;
        from.transition(CaseStatus::ReturnedForCompletion).map_err(|e| HandlerError::Reject(e.to_string()))?;
        let researcher = asked.actor.as_ref().map(|a| a.username.clone()).unwrap_or_default();
        let detail =
            serde_json::json!({ "missing_items": asked.documents, "note": asked.note, "asked_by": "research" });
        let to = CaseStatus::ReturnedForCompletion;
        if !self.store.decide(tx, request_id, current.version, to, &researcher, detail).await? {
            return Err(HandlerError::Retry(format!("case {request_id} changed meanwhile")));
        }
        let returned = events::RequestReturned {
            case: Some(case.clone()),
            actor: asked.actor,
            returned_at: asked.requested_at,
            missing_items: asked.documents,
            note: asked.note,
            policy_version: current.policy_version,
            missing: Vec::new(),
        };
        self.outbox.append(tx, &Event::RequestReturned(returned)).await?;
        let subject = Subject::of(request_id, &case);
        audit::record(tx, &Actor::system(message), subject, event_type::REQUEST_RETURNED, "asked by research").await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl EventHandler for IncomingRequests {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        let event = match event {
            Event::PolicyApplied(announced) => return PolicyBook::keep_announced(tx, &announced).await,
            Event::RequestSubmitted(submitted) | Event::RequestResubmitted(submitted) => submitted,
            Event::DocumentsRequested(asked) => return self.return_for_research(tx, message, asked).await,
            Event::RequestReturned(_)
            | Event::RequestVerified(_)
            | Event::RequestIneligible(_)
            | Event::ResearcherAssigned(_)
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
            | Event::ContactConfirmed(_)
            | Event::InquiryAnswered(_)
            // Kept by the platform before any handler (`masar_platform::revocations`).
            | Event::SessionRevoked(_) => {
                return Err(HandlerError::Reject(format!("verification does not consume {}", message.event_type)));
            }
        };
        let (request_id, case) = event_case(event.case.clone())?;
        // Judged by the version in force at submission, which intake names.
        let pack = self
            .policies
            .version(&case.association, event.policy_version)
            .await?
            // The announcement travels on another stream and may arrive later.
            .ok_or_else(|| {
                HandlerError::Retry(format!(
                    "{} policy version {} not known yet",
                    case.association, event.policy_version
                ))
            })?;
        // Sealed by intake (Hayat's answers are health facts); opened only to be judged.
        let facts = self.personal.open(&case.association, Field::Facts, &event.facts_json)?;
        let facts: Facts =
            serde_json::from_str(&facts).map_err(|e| HandlerError::Reject(format!("facts do not decode: {e}")))?;
        let facts = facts.with_derived(event.months_since_same_service_approved, &case.branch);
        let eligibility = pack.evaluate(&case.service_type, &facts);
        // Whom research should prefer for it: judged here, where the answers are opened anyway.
        let researcher_preference = pack.research.as_ref().and_then(|r| r.preferred_researcher(&facts));
        let received_at = masar_proto::to_datetime(event.submitted_at.as_ref());
        let documents = case_documents(&pack, &event.documents, saudi_day(received_at));
        let received = Received {
            case: &case,
            applicant_name: &event.applicant_name,
            national_id_masked: &event.national_id_masked,
            received_at,
            policy_version: event.policy_version,
            eligibility: &eligibility,
            documents: &documents,
            document_reviews_optional: pack.document_reviews_optional,
            researcher_preference: researcher_preference.as_ref(),
        };
        if event.resubmission {
            self.store.reopen(tx, request_id, received).await?;
        } else {
            self.store.receive(tx, request_id, received).await?;
        }
        let subject = Subject::of(request_id, &case);
        let detail = format!("policy version {}", event.policy_version);
        audit::record(tx, &Actor::system(message), subject, action::CASE_RECEIVED, &detail).await?;
        Ok(())
    }
}

/// The submitted documents, each named by the policy and flagged if its dates
/// made it invalid on the day of submission.
fn case_documents(
    pack: &PolicyPack,
    submitted: &[events::SubmittedDocument],
    submitted_on: chrono::NaiveDate,
) -> Vec<CaseDocument> {
    let date = |text: &str| parse_gregorian(text).ok();
    submitted
        .iter()
        .map(|d| {
            let (issued_on, expires_on) = (date(&d.issued_on), date(&d.expires_on));
            let kind = pack.document(&d.document);
            CaseDocument {
                document: d.document.clone(),
                name: kind.map_or_else(|| Bilingual::new(&d.document, &d.document), |k| k.name.clone()),
                attachment_id: d.attachment_id.parse().unwrap_or_default(),
                content_type: d.content_type.clone(),
                size_bytes: d.size_bytes,
                sha256: d.sha256.clone(),
                issued_on,
                expires_on,
                review: kind.map_or(DocumentReview::Pending, |k| {
                    DocumentReview::on_receipt(k, issued_on, expires_on, submitted_on)
                }),
                reason: String::new(),
                reviewed_by: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_expired_at_submission_are_flagged_on_arrival() {
        let pack = PolicyPack::from_toml(include_str!("../../../policies/hayat.toml")).unwrap();
        let submitted_on: chrono::NaiveDate = "2026-11-23".parse().unwrap();
        let document = |code: &str, expires_on: &str| events::SubmittedDocument {
            attachment_id: uuid::Uuid::now_v7().to_string(),
            document: code.into(),
            content_type: "application/pdf".into(),
            expires_on: expires_on.into(),
            ..Default::default()
        };
        let reviewed = case_documents(
            &pack,
            &[document("national_id", "2026-11-22"), document("national_id", "2027-01-01"), document("unheard_of", "")],
            submitted_on,
        );
        let reviews: Vec<_> = reviewed.iter().map(|d| d.review).collect();
        assert_eq!(reviews, [DocumentReview::ExpiredAtSubmission, DocumentReview::Pending, DocumentReview::Pending]);
        assert_eq!(reviewed[0].name, pack.document("national_id").unwrap().name);
        assert_eq!(reviewed[2].name.en, "unheard_of");
    }
}
