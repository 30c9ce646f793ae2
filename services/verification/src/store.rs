//! Verification's data: the cases it has received and their outcomes.

use chrono::{DateTime, Utc};
use masar_domain::{CaseStatus, RuleOutcome};
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::messaging::HandlerError;
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
}

impl VerificationCase {
    pub fn case_ref(&self) -> CaseRef {
        CaseRef::new(self.request_id, &self.association, &self.branch, &self.service_type)
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
        policy_version: u32::try_from(row.int("policy_version")?).unwrap_or_default(),
        eligibility: row.json("eligibility")?,
    })
}

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
                 national_id_masked, status, received_at, outcome_detail, policy_version, eligibility) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
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
            .bind(eligibility_json(received.eligibility)),
        )
        .await?;
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
                "UPDATE verification_cases SET status = $1, received_at = $2, eligibility = $3 WHERE request_id = $4",
            )
            .bind(CaseStatus::Submitted.as_str())
            .bind(received.received_at)
            .bind(eligibility_json(received.eligibility))
            .bind(request_id),
        )
        .await?;
        Ok(())
    }

    pub async fn case_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<VerificationCase>, DbError> {
        const SQL: &str = "SELECT request_id, association, branch, service_type, applicant_name, national_id_masked, \
             status, received_at, policy_version, eligibility FROM verification_cases WHERE request_id = $1";
        tx.fetch_optional(Sql::new(SQL).bind(request_id)).await?.as_ref().map(case).transpose()
    }

    /// Requests awaiting verification in an association (and branch), oldest first.
    pub async fn pending(&self, association: &str, branch: Option<&str>) -> Result<Vec<VerificationCase>, DbError> {
        let rows = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT request_id, association, branch, service_type, applicant_name, national_id_masked, \
                     status, received_at, policy_version, eligibility FROM verification_cases \
                     WHERE association = $1 AND ($2 IS NULL OR branch = $2) AND status = $3 ORDER BY received_at",
                )
                .bind(association)
                .bind(branch.map(str::to_owned))
                .bind(CaseStatus::Submitted.as_str()),
            )
            .await?;
        rows.iter().map(case).collect()
    }

    /// Records the project manager's outcome, only if the case is still in
    /// `from`; returns false when someone changed it first.
    pub async fn decide(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        from: CaseStatus,
        to: CaseStatus,
        decided_by: &str,
        detail: serde_json::Value,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE verification_cases SET status = $1, decided_by = $2, decided_at = $3, outcome_detail = $4 \
                     WHERE request_id = $5 AND status = $6",
                )
                .bind(to.as_str())
                .bind(decided_by)
                .bind(Utc::now())
                .bind(detail)
                .bind(request_id)
                .bind(from.as_str()),
            )
            .await?;
        Ok(changed == 1)
    }
}

fn eligibility_json(outcomes: &[RuleOutcome]) -> serde_json::Value {
    serde_json::to_value(outcomes).expect("rule outcomes are plain JSON")
}
