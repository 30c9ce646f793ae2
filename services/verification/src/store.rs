//! Verification's data: the cases it has received and their outcomes.

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use masar_domain::{Bilingual, CaseStatus, DocumentReview, ReviewedDocument, RuleOutcome};
use masar_platform::audit::Subject;
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::messaging::HandlerError;
use masar_platform::paging::PageRequest;
use masar_proto::events::v1::CaseRef;
use uuid::Uuid;

#[derive(Clone)]
pub struct VerificationStore {
    db: Db,
}

#[derive(Debug, Clone)]
pub struct VerificationCase {
    pub request_id: Uuid,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub applicant_name: String,
    pub national_id_masked: String,
    pub status: CaseStatus,
    pub received_at: DateTime<Utc>,
    /// The policy version in force at submission, which the case is judged by.
    pub policy_version: u32,
    pub eligibility: Vec<RuleOutcome>,
    /// Each required document as last submitted, with its review.
    pub documents: Vec<CaseDocument>,
    /// The pack lets the project manager verify without confirming each document.
    pub document_reviews_optional: bool,
    /// Raised by every change, so an action on an older reading is refused.
    pub version: u64,
    /// Whom the pack prefers to research it, judged on the answers.
    pub researcher_preference: Option<masar_domain::roster::Preference>,
}

/// A required document of a case, as submitted, and where its review stands.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDocument {
    pub document: String,
    pub name: Bilingual,
    pub attachment_id: Uuid,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub issued_on: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    pub review: DocumentReview,
    pub reason: String,
    pub reviewed_by: Option<String>,
}

impl CaseDocument {
    pub fn reviewed(&self) -> ReviewedDocument {
        ReviewedDocument {
            document: self.document.clone(),
            name: self.name.clone(),
            review: self.review,
            reason: self.reason.clone(),
        }
    }
}

/// What the stage learns of a (re)submitted request.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub case: &'a CaseRef,
    pub applicant_name: &'a str,
    pub national_id_masked: &'a str,
    pub received_at: DateTime<Utc>,
    pub policy_version: u32,
    pub eligibility: &'a [RuleOutcome],
    /// Reviews start as `DocumentReview::on_receipt` decides.
    pub documents: &'a [CaseDocument],
    pub document_reviews_optional: bool,
    pub researcher_preference: Option<&'a masar_domain::roster::Preference>,
}

impl VerificationCase {
    pub fn case_ref(&self) -> CaseRef {
        CaseRef::new(self.request_id, &self.association, &self.branch, &self.service_type)
    }

    pub fn audit_subject(&self) -> Subject<'_> {
        Subject::case(self.request_id, &self.association, &self.branch)
    }
}

fn case(row: &Row) -> Result<VerificationCase, DbError> {
    Ok(VerificationCase {
        request_id: row.uuid("request_id")?,
        association: row.text("association")?,
        branch: row.text("branch")?,
        service_type: row.text("service_type")?,
        applicant_name: row.text("applicant_name")?,
        national_id_masked: row.text("national_id_masked")?,
        status: row.parsed("status", CaseStatus::parse)?,
        received_at: row.time("received_at")?,
        policy_version: row.unsigned("policy_version")?,
        eligibility: row.json("eligibility")?,
        documents: Vec::new(),
        document_reviews_optional: row.int("document_reviews_optional")? != 0,
        version: row.unsigned("version")?,
        researcher_preference: preference_of(&row.text("researcher_preference")?)?,
    })
}

/// A stored preference: JSON, or '' for none.
fn preference_of(text: &str) -> Result<Option<masar_domain::roster::Preference>, DbError> {
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| DbError::Decode { column: "researcher_preference".into(), reason: e.to_string() })
}

fn preference_text(preference: Option<&masar_domain::roster::Preference>) -> String {
    preference.map(|p| serde_json::to_string(p).expect("a preference serializes")).unwrap_or_default()
}

fn case_document(row: &Row) -> Result<CaseDocument, DbError> {
    Ok(CaseDocument {
        document: row.text("document")?,
        name: Bilingual::new(row.text("name_ar")?, row.text("name_en")?),
        attachment_id: row.uuid("attachment_id")?,
        content_type: row.text("content_type")?,
        size_bytes: row.unsigned("size_bytes")?,
        sha256: row.text("sha256")?,
        issued_on: row.optional_date("issued_on")?,
        expires_on: row.optional_date("expires_on")?,
        review: row.parsed("review", DocumentReview::parse)?,
        reason: row.text("reason")?,
        reviewed_by: row.optional_text("reviewed_by")?,
    })
}

/// The cases query with a condition, as one static string.
macro_rules! concat_cases_where {
    ($condition:literal) => {
        concat!(
            "SELECT request_id, association, branch, service_type, applicant_name, national_id_masked, status, ",
            "received_at, policy_version, eligibility, document_reviews_optional, version, researcher_preference ",
            "FROM verification_cases WHERE ",
            $condition
        )
    };
}

/// The documents query, up to its condition.
macro_rules! documents_where {
    () => {
        concat!(
            "SELECT d.request_id, d.document, d.name_ar, d.name_en, d.attachment_id, d.content_type, d.size_bytes, ",
            "d.sha256, d.issued_on, d.expires_on, d.review, d.reason, d.reviewed_by FROM case_documents d WHERE "
        )
    };
}

/// The documents query with a condition, as one static string.
macro_rules! concat_documents_where {
    ($condition:literal) => {
        concat!(documents_where!(), $condition, " ORDER BY d.document")
    };
}

/// Keeps each document's review across a resubmission unless the beneficiary replaced it.
const UPSERT_DOCUMENT: &str = "INSERT INTO case_documents (request_id, document, name_ar, name_en, attachment_id, \
     content_type, size_bytes, sha256, issued_on, expires_on, review, reason) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (request_id, document) DO UPDATE SET attachment_id = excluded.attachment_id, \
     content_type = excluded.content_type, size_bytes = excluded.size_bytes, sha256 = excluded.sha256, \
     issued_on = excluded.issued_on, expires_on = excluded.expires_on, review = excluded.review, \
     reason = excluded.reason, reviewed_by = NULL, reviewed_at = NULL \
     WHERE case_documents.attachment_id <> excluded.attachment_id";

impl VerificationStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A new request enters the queue.
    pub async fn receive(&self, tx: &mut Tx, request_id: Uuid, received: Received<'_>) -> Result<(), HandlerError> {
        tx.execute(
            Sql::new(
                "INSERT INTO verification_cases (request_id, association, branch, service_type, applicant_name, \
                 national_id_masked, status, received_at, outcome_detail, policy_version, eligibility, \
                 document_reviews_optional, researcher_preference) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
            )
            .bind(request_id)
            .bind(&received.case.association)
            .bind(&received.case.branch)
            .bind(&received.case.service_type)
            .bind(received.applicant_name)
            .bind(received.national_id_masked)
            .bind(CaseStatus::Submitted.as_str())
            .bind(received.received_at)
            .bind(serde_json::json!({}))
            .bind(i64::from(received.policy_version))
            .bind(eligibility_json(received.eligibility))
            .bind(i64::from(received.document_reviews_optional))
            .bind(preference_text(received.researcher_preference)),
        )
        .await?;
        self.keep_documents(tx, request_id, received.documents).await
    }

    async fn keep_documents(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        documents: &[CaseDocument],
    ) -> Result<(), HandlerError> {
        for d in documents {
            tx.execute(
                Sql::new(UPSERT_DOCUMENT)
                    .bind(request_id)
                    .bind(&d.document)
                    .bind(&d.name.ar)
                    .bind(&d.name.en)
                    .bind(d.attachment_id)
                    .bind(&d.content_type)
                    .bind(d.size_bytes)
                    .bind(&d.sha256)
                    .bind(d.issued_on)
                    .bind(d.expires_on)
                    .bind(d.review.as_str())
                    .bind(&d.reason),
            )
            .await?;
        }
        Ok(())
    }

    /// A returned request comes back after the beneficiary completed it.
    pub async fn reopen(&self, tx: &mut Tx, request_id: Uuid, received: Received<'_>) -> Result<(), HandlerError> {
        let current = self
            .case_in(tx, request_id)
            .await?
            // The original submission has not arrived yet: try again later.
            .ok_or_else(|| HandlerError::Retry(format!("resubmission of {request_id} before its submission")))?;
        current.status.transition(CaseStatus::Submitted).map_err(|e| HandlerError::Reject(e.to_string()))?;
        // Completed answers are judged again, under the same policy version.
        tx.execute(
            Sql::new(
                "UPDATE verification_cases SET status = $1, received_at = $2, eligibility = $3, version = version + 1, \
                 researcher_preference = $5 \
                 WHERE request_id = $4",
            )
            .bind(CaseStatus::Submitted.as_str())
            .bind(received.received_at)
            .bind(eligibility_json(received.eligibility))
            .bind(request_id)
            .bind(preference_text(received.researcher_preference)),
        )
        .await?;
        self.keep_documents(tx, request_id, received.documents).await
    }

    pub async fn case_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<VerificationCase>, DbError> {
        const SQL: &str = concat_cases_where!("request_id = $1");
        let Some(mut found) =
            tx.fetch_optional(Sql::new(SQL).bind(request_id)).await?.as_ref().map(case).transpose()?
        else {
            return Ok(None);
        };
        const DOCUMENTS: &str = concat_documents_where!("d.request_id = $1");
        let rows = tx.fetch_all(Sql::new(DOCUMENTS).bind(request_id)).await?;
        found.documents = rows.iter().map(case_document).collect::<Result<_, _>>()?;
        Ok(Some(found))
    }

    /// Records the reviewer's verdict on one document of a case still awaiting
    /// verification and still at the version read, and raises the version;
    /// false if the case has no such document, or changed meanwhile (the
    /// caller then rolls back).
    pub async fn review_document(
        &self,
        tx: &mut Tx,
        case: &VerificationCase,
        document: &str,
        review: DocumentReview,
        reason: &str,
        reviewed_by: &str,
    ) -> Result<bool, DbError> {
        let reviewed = tx
            .execute(
                Sql::new(
                    "UPDATE case_documents SET review = $1, reason = $2, reviewed_by = $3, reviewed_at = $4 \
                     WHERE request_id = $5 AND document = $6 \
                     AND request_id IN (SELECT request_id FROM verification_cases WHERE status = $7 AND version = $8)",
                )
                .bind(review.as_str())
                .bind(reason)
                .bind(reviewed_by)
                .bind(Utc::now())
                .bind(case.request_id)
                .bind(document)
                .bind(CaseStatus::Submitted.as_str())
                .bind(case.version),
            )
            .await?;
        if reviewed != 1 {
            return Ok(false);
        }
        // Conditional again: a concurrent review of another document may have raised it first.
        let raised = tx
            .execute(
                Sql::new("UPDATE verification_cases SET version = version + 1 WHERE request_id = $1 AND version = $2")
                    .bind(case.request_id)
                    .bind(case.version),
            )
            .await?;
        Ok(raised == 1)
    }

    /// Verifying a request, where the pack lets it, confirms the documents nobody had looked at one by one.
    pub async fn accept_unreviewed_documents(&self, tx: &mut Tx, request_id: Uuid, by: &str) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "UPDATE case_documents SET review = $1, reviewed_by = $2, reviewed_at = $3 \
                 WHERE request_id = $4 AND review = $5",
            )
            .bind(DocumentReview::Accepted.as_str())
            .bind(by)
            .bind(Utc::now())
            .bind(request_id)
            .bind(DocumentReview::Pending.as_str()),
        )
        .await?;
        Ok(())
    }

    /// One page of the requests awaiting verification in an association (and
    /// branch), oldest first: the queue is worked in the order it came in.
    pub async fn pending(
        &self,
        association: &str,
        branch: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<VerificationCase>, DbError> {
        // A branch's queue and an association's are two statements, so the
        // planner sees the branch and searches the queue index by it (written
        // as `$n IS NULL OR branch = $n`, SQLite read the association's cases).
        const OF_BRANCH: &str = concat_cases_where!(
            "association = $1 AND branch = $2 AND status = $3 \
             AND ($4 IS NULL OR received_at > $4 OR (received_at = $4 AND request_id > $5)) \
             ORDER BY received_at, request_id LIMIT $6"
        );
        const OF_ASSOCIATION: &str = concat_cases_where!(
            "association = $1 AND status = $2 \
             AND ($3 IS NULL OR received_at > $3 OR (received_at = $3 AND request_id > $4)) \
             ORDER BY received_at, request_id LIMIT $5"
        );
        let queue = match branch {
            Some(branch) => Sql::new(OF_BRANCH).bind(association).bind(branch),
            None => Sql::new(OF_ASSOCIATION).bind(association),
        };
        let rows = self.db.fetch_all(queue.bind(CaseStatus::Submitted.as_str()).bind_page(page)).await?;
        let mut cases: Vec<VerificationCase> = rows.iter().map(case).collect::<Result<_, _>>()?;
        if cases.is_empty() {
            return Ok(cases);
        }
        // The documents of the page's cases by their ids (a search of the key
        // for each), whatever their status by now: a case decided meanwhile
        // still shows with its documents.
        let documents =
            Sql::listing(concat!(documents_where!(), "d.request_id IN ("), cases.len(), ") ORDER BY d.document");
        let documents = cases.iter().fold(documents, |sql, case| sql.bind(case.request_id));
        let rows = self.db.fetch_all(documents).await?;
        let position: std::collections::HashMap<Uuid, usize> =
            cases.iter().enumerate().map(|(i, c)| (c.request_id, i)).collect();
        for row in &rows {
            if let Some(&i) = position.get(&row.uuid("request_id")?) {
                cases[i].documents.push(case_document(row)?);
            }
        }
        Ok(cases)
    }

    /// Records the project manager's outcome, only if the case is still at
    /// `version` (so still in the status read); returns false when someone
    /// changed it first.
    pub async fn decide(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        version: u64,
        to: CaseStatus,
        decided_by: &str,
        detail: serde_json::Value,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE verification_cases SET status = $1, decided_by = $2, decided_at = $3, outcome_detail = $4, \
                     version = version + 1 WHERE request_id = $5 AND version = $6",
                )
                .bind(to.as_str())
                .bind(decided_by)
                .bind(Utc::now())
                .bind(detail)
                .bind(request_id)
                .bind(version),
            )
            .await?;
        Ok(changed == 1)
    }
}

fn eligibility_json(outcomes: &[RuleOutcome]) -> serde_json::Value {
    serde_json::to_value(outcomes).expect("rule outcomes are plain JSON")
}
