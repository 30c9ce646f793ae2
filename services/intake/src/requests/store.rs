//! Intake's data: service requests and their timelines.

use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::calendar::{saudi_day, whole_months_between};
use masar_domain::{ActorRole, Address, CaseStatus, Channel, Facts, Language, NationalId, SaudiMobile, Stage};
use masar_platform::audit::Subject;
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::identity::Owner;
use masar_platform::paging::PageRequest;
use masar_platform::personal::{Field, PersonalData};
use masar_proto::events::v1 as events;
use uuid::Uuid;

#[derive(Clone)]
pub struct IntakeStore {
    db: Db,
    /// National IDs, mobiles, match keys and answers are stored sealed.
    personal: PersonalData,
}

/// A validated request, ready to store.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub request_id: Uuid,
    pub reference: String,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub channel: Channel,
    pub national_id: NationalId,
    pub applicant_name: String,
    pub mobile: SaudiMobile,
    pub language: Language,
    pub description: String,
    pub submitted_at: DateTime<Utc>,
    pub expected_decision_on: NaiveDate,
    pub policy_version: u32,
    pub facts: Facts,
    /// The registry entry, once found or registered.
    pub beneficiary_id: Option<Uuid>,
    /// The beneficiary's account that filed it; `None` when staff did.
    pub filed_by_account: Option<Uuid>,
    /// Where the applicant lives, where the pack asks.
    pub address: Option<Address>,
}

#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub request_id: Uuid,
    pub reference: String,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub channel: String,
    pub national_id: String,
    pub applicant_name: String,
    pub mobile: String,
    pub language: Language,
    pub status: CaseStatus,
    pub submitted_at: DateTime<Utc>,
    pub expected_decision_on: NaiveDate,
    pub policy_version: u32,
    pub facts: Facts,
    /// The applicant's entry in the association's registry.
    pub beneficiary_id: Option<Uuid>,
    /// The beneficiary's account that filed it; `None` when staff did.
    pub filed_by_account: Option<Uuid>,
    /// The researcher research assigned it to, once assigned.
    pub assigned_researcher: Option<String>,
}

impl StoredRequest {
    pub fn audit_subject(&self) -> Subject<'_> {
        Subject::case(self.request_id, &self.association, &self.branch)
    }

    /// Whose the request is, for a beneficiary's eyes.
    pub fn owner(&self) -> Owner {
        Owner { beneficiary_id: self.beneficiary_id, filed_by_account: self.filed_by_account }
    }

    /// The case as every event about it names it.
    pub fn case_ref(&self) -> events::CaseRef {
        events::CaseRef::new(self.request_id, &self.association, &self.branch, &self.service_type)
    }
}

/// One uploaded supporting document.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDocument {
    pub attachment_id: Uuid,
    pub request_id: Uuid,
    pub document: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub object_key: String,
    pub issued_on: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    /// "beneficiary", or the staff username who uploaded on their behalf.
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

/// The applicant's attestation that the data is correct.
#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    pub by: String,
    pub at: DateTime<Utc>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub entry_id: Uuid,
    pub status: CaseStatus,
    pub stage: Stage,
    pub actor_role: ActorRole,
    pub at: DateTime<Utc>,
    pub note: String,
}

impl TimelineEntry {
    /// An entry for `status`, in the stage that owns it.
    pub fn new(entry_id: Uuid, status: CaseStatus, actor_role: ActorRole, at: DateTime<Utc>, note: String) -> Self {
        Self { entry_id, status, stage: status.stage(), actor_role, at, note }
    }
}

impl IntakeStore {
    fn stored_request(&self, row: &Row) -> Result<StoredRequest, DbError> {
        let association = row.text("association")?;
        let facts = self.open(&association, Field::Facts, &row.text("facts")?)?;
        Ok(StoredRequest {
            request_id: row.uuid("request_id")?,
            reference: row.text("reference")?,
            branch: row.text("branch")?,
            service_type: row.text("service_type")?,
            channel: row.text("channel")?,
            national_id: self.open(&association, Field::NationalId, &row.text("national_id")?)?,
            applicant_name: row.text("applicant_name")?,
            mobile: self.open(&association, Field::Mobile, &row.text("mobile")?)?,
            language: Language::from_tag(&row.text("preferred_language")?),
            status: row.parsed("status", CaseStatus::parse)?,
            submitted_at: row.time("submitted_at")?,
            expected_decision_on: row.date("expected_decision_on")?,
            policy_version: row.unsigned("policy_version")?,
            facts: serde_json::from_str(&facts)
                .map_err(|e| DbError::Decode { column: "facts".into(), reason: e.to_string() })?,
            beneficiary_id: row.optional_uuid("beneficiary_id")?,
            filed_by_account: row.optional_uuid("filed_by_account")?,
            assigned_researcher: row.optional_text("assigned_researcher")?,
            association,
        })
    }
}

fn stored_document(row: &Row) -> Result<StoredDocument, DbError> {
    Ok(StoredDocument {
        attachment_id: row.uuid("attachment_id")?,
        request_id: row.uuid("request_id")?,
        document: row.text("document")?,
        file_name: row.text("file_name")?,
        content_type: row.text("content_type")?,
        size_bytes: row.unsigned("size_bytes")?,
        sha256: row.text("sha256")?,
        object_key: row.text("object_key")?,
        issued_on: row.optional_date("issued_on")?,
        expires_on: row.optional_date("expires_on")?,
        uploaded_by: row.text("uploaded_by")?,
        uploaded_at: row.time("uploaded_at")?,
    })
}

fn timeline_entry(row: &Row) -> Result<TimelineEntry, DbError> {
    Ok(TimelineEntry {
        entry_id: row.uuid("entry_id")?,
        status: row.parsed("status", CaseStatus::parse)?,
        stage: row.parsed("stage", Stage::parse)?,
        actor_role: row.parsed("actor_role", ActorRole::parse)?,
        at: row.time("at")?,
        note: row.text("note")?,
    })
}

/// The requests query with a condition, as one static string.
macro_rules! concat_requests_where {
    ($condition:literal) => {
        concat!(
            "SELECT request_id, reference, association, branch, service_type, channel, national_id, applicant_name, ",
            "mobile, preferred_language, status, submitted_at, expected_decision_on, policy_version, facts, ",
            "beneficiary_id, filed_by_account, assigned_researcher FROM service_requests WHERE ",
            $condition
        )
    };
}

const SELECT_REQUEST: &str = concat_requests_where!("request_id = $1");

/// Which requests a list shows: an association's, narrowed to a branch, a
/// beneficiary or a status.
#[derive(Debug, Clone, Copy)]
pub struct RequestFilter<'a> {
    pub association: &'a str,
    pub branch: Option<&'a str>,
    pub beneficiary_id: Option<Uuid>,
    /// Only those this account filed (an unverified account's own list).
    pub filed_by_account: Option<Uuid>,
    pub status: Option<CaseStatus>,
}

impl IntakeStore {
    pub fn new(db: Db, personal: PersonalData) -> Self {
        Self { db, personal }
    }

    pub fn personal(&self) -> &PersonalData {
        &self.personal
    }

    /// `clear`, sealed for the association's rows.
    pub(crate) fn seal(&self, association: &str, field: Field, clear: &str) -> String {
        self.personal.seal(association, field, clear)
    }

    pub(crate) fn open(&self, association: &str, field: Field, stored: &str) -> Result<String, DbError> {
        Ok(self.personal.open(association, field, stored)?)
    }

    /// Whether a document row names the stored file `object_key`.
    pub async fn names_document(&self, object_key: &str) -> Result<bool, DbError> {
        let sql = Sql::new("SELECT 1 AS found FROM request_documents WHERE object_key = $1 LIMIT 1").bind(object_key);
        Ok(self.db.fetch_optional(sql).await?.is_some())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Stores a new request in `tx`, in status submitted.
    pub async fn insert_request(&self, tx: &mut Tx, request: &NewRequest) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO service_requests (request_id, reference, association, branch, service_type, channel, \
                 national_id, applicant_name, mobile, preferred_language, description, status, submitted_at, \
                 expected_decision_on, policy_version, facts, beneficiary_id, filed_by_account, national_id_index, \
                 address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
                 $20)",
            )
            .bind(request.request_id)
            .bind(&request.reference)
            .bind(&request.association)
            .bind(&request.branch)
            .bind(&request.service_type)
            .bind(request.channel.as_str())
            .bind(self.seal(&request.association, Field::NationalId, request.national_id.as_str()))
            .bind(&request.applicant_name)
            .bind(self.seal(&request.association, Field::Mobile, request.mobile.as_str()))
            .bind(request.language.tag())
            .bind(&request.description)
            .bind(CaseStatus::INITIAL.as_str())
            .bind(request.submitted_at)
            .bind(request.expected_decision_on)
            .bind(i64::from(request.policy_version))
            .bind(self.seal(&request.association, Field::Facts, &facts_json(&request.facts)))
            .bind(request.beneficiary_id)
            .bind(request.filed_by_account)
            .bind(self.personal.index(
                &request.association,
                Field::NationalId,
                request.national_id.as_str(),
            ))
            .bind(request.address.as_ref().map(|address| {
                let json = serde_json::to_string(address).expect("an address serializes");
                self.seal(&request.association, Field::Address, &json)
            })),
        )
        .await?;
        Ok(())
    }

    /// What the case file adds to a request: the applicant's description, and their address where asked.
    pub async fn case_details(&self, request: &StoredRequest) -> Result<(String, Option<Address>), DbError> {
        let sql = Sql::new("SELECT description, address FROM service_requests WHERE request_id = $1")
            .bind(request.request_id);
        let Some(row) = self.db.fetch_optional(sql).await? else {
            return Ok((String::new(), None));
        };
        let address = match row.optional_text("address")? {
            Some(sealed) => Some(
                serde_json::from_str(&self.open(&request.association, Field::Address, &sealed)?)
                    .map_err(|e| DbError::Decode { column: "address".into(), reason: e.to_string() })?,
            ),
            None => None,
        };
        Ok((row.text("description")?, address))
    }

    /// Months since this beneficiary's last approved request of the same
    /// service type at this association; `None` if there was none.
    pub async fn months_since_same_service_approved(
        &self,
        association: &str,
        national_id: &NationalId,
        service_type: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, DbError> {
        let [current, previous] = self.personal.lookup(association, Field::NationalId, national_id.as_str());
        let row = self
            .db
            .fetch_optional(
                Sql::new(
                    "SELECT t.at FROM timeline_entries t JOIN service_requests r ON r.request_id = t.request_id \
                     WHERE r.association = $1 AND r.national_id_index IN ($2, $5) AND r.service_type = $3 \
                     AND t.status = $4 \
                     ORDER BY t.at DESC LIMIT 1",
                )
                .bind(association)
                .bind(current.clone())
                .bind(service_type)
                .bind(CaseStatus::Approved.as_str())
                .bind(previous.clone()),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(whole_months_between(saudi_day(row.time("at")?), saudi_day(now))))
    }

    pub async fn request(&self, request_id: Uuid) -> Result<Option<StoredRequest>, DbError> {
        self.db
            .fetch_optional(Sql::new(SELECT_REQUEST).bind(request_id))
            .await?
            .as_ref()
            .map(|r| self.stored_request(r))
            .transpose()
    }

    /// One page of the requests `filter` shows, newest first.
    pub async fn requests(&self, filter: RequestFilter<'_>, page: &PageRequest) -> Result<Vec<StoredRequest>, DbError> {
        // A branch's list and an association's are two statements, so the
        // planner sees the branch and walks the page index by it (written as
        // `$n IS NULL OR branch = $n`, SQLite read the association's requests).
        const OF_BRANCH: &str = concat_requests_where!(
            "association = $1 AND branch = $2 AND ($3 IS NULL OR beneficiary_id = $3) \
             AND ($4 IS NULL OR filed_by_account = $4) AND ($5 IS NULL OR status = $5) \
             AND ($6 IS NULL OR submitted_at < $6 OR (submitted_at = $6 AND request_id < $7)) \
             ORDER BY submitted_at DESC, request_id DESC LIMIT $8"
        );
        const OF_ASSOCIATION: &str = concat_requests_where!(
            "association = $1 AND ($2 IS NULL OR beneficiary_id = $2) \
             AND ($3 IS NULL OR filed_by_account = $3) AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR submitted_at < $5 OR (submitted_at = $5 AND request_id < $6)) \
             ORDER BY submitted_at DESC, request_id DESC LIMIT $7"
        );
        let list = match filter.branch {
            Some(branch) => Sql::new(OF_BRANCH).bind(filter.association).bind(branch),
            None => Sql::new(OF_ASSOCIATION).bind(filter.association),
        };
        let rows = self
            .db
            .fetch_all(
                list.bind(filter.beneficiary_id)
                    .bind(filter.filed_by_account)
                    .bind(filter.status.map(|s| s.as_str().to_owned()))
                    .bind_page(page),
            )
            .await?;
        rows.iter().map(|r| self.stored_request(r)).collect()
    }

    /// The language a request's beneficiary reads, if the request exists.
    pub async fn request_language_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<Language>, DbError> {
        let sql = Sql::new("SELECT preferred_language FROM service_requests WHERE request_id = $1").bind(request_id);
        let row = tx.fetch_optional(sql).await?;
        row.map(|r| Ok(Language::from_tag(&r.text("preferred_language")?))).transpose()
    }

    pub async fn request_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<StoredRequest>, DbError> {
        tx.fetch_optional(Sql::new(SELECT_REQUEST).bind(request_id))
            .await?
            .as_ref()
            .map(|r| self.stored_request(r))
            .transpose()
    }

    /// Stores an upload as the current one of its document, marking the earlier one replaced.
    pub async fn add_document(&self, tx: &mut Tx, document: &StoredDocument) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "UPDATE request_documents SET replaced_at = $1 \
                 WHERE request_id = $2 AND document = $3 AND replaced_at IS NULL",
            )
            .bind(document.uploaded_at)
            .bind(document.request_id)
            .bind(&document.document),
        )
        .await?;
        tx.execute(
            Sql::new(
                "INSERT INTO request_documents (attachment_id, request_id, document, file_name, content_type, \
                 size_bytes, sha256, object_key, issued_on, expires_on, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(document.attachment_id)
            .bind(document.request_id)
            .bind(&document.document)
            .bind(&document.file_name)
            .bind(&document.content_type)
            .bind(document.size_bytes)
            .bind(&document.sha256)
            .bind(&document.object_key)
            .bind(document.issued_on)
            .bind(document.expires_on)
            .bind(&document.uploaded_by)
            .bind(document.uploaded_at),
        )
        .await?;
        Ok(())
    }

    /// The current upload of each document of a request.
    /// One upload of a request, current or replaced since.
    pub async fn document(&self, request_id: Uuid, attachment_id: Uuid) -> Result<Option<StoredDocument>, DbError> {
        let sql = Sql::new(
            "SELECT attachment_id, request_id, document, file_name, content_type, size_bytes, sha256, \
             object_key, issued_on, expires_on, uploaded_by, uploaded_at FROM request_documents \
             WHERE request_id = $1 AND attachment_id = $2",
        )
        .bind(request_id)
        .bind(attachment_id);
        self.db.fetch_optional(sql).await?.as_ref().map(stored_document).transpose()
    }

    pub async fn current_documents(&self, request_id: Uuid) -> Result<Vec<StoredDocument>, DbError> {
        let rows = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT attachment_id, request_id, document, file_name, content_type, size_bytes, sha256, \
                     object_key, issued_on, expires_on, uploaded_by, uploaded_at FROM request_documents \
                     WHERE request_id = $1 AND replaced_at IS NULL ORDER BY document",
                )
                .bind(request_id),
            )
            .await?;
        rows.iter().map(stored_document).collect()
    }

    /// Turns a draft into a submitted request; false if it is no longer a draft.
    pub async fn mark_submitted(
        &self,
        tx: &mut Tx,
        request: &StoredRequest,
        attestation: &Attestation,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE service_requests SET status = $1, submitted_at = $2, expected_decision_on = $3, \
                     policy_version = $4, facts = $5, attested_by = $6, attested_at = $7, attestation_version = $8 \
                     WHERE request_id = $9 AND status = $10",
                )
                .bind(CaseStatus::Submitted.as_str())
                .bind(request.submitted_at)
                .bind(request.expected_decision_on)
                .bind(i64::from(request.policy_version))
                .bind(self.seal(&request.association, Field::Facts, &facts_json(&request.facts)))
                .bind(&attestation.by)
                .bind(attestation.at)
                .bind(&attestation.version)
                .bind(request.request_id)
                .bind(CaseStatus::Draft.as_str()),
            )
            .await?;
        Ok(changed == 1)
    }

    /// A resubmission restarts the committee's reply period. Only a request
    /// still returned for completion is changed; returns false otherwise.
    pub async fn mark_resubmitted(
        &self,
        tx: &mut Tx,
        request: &StoredRequest,
        expected_decision_on: NaiveDate,
        facts: &Facts,
        attestation: &Attestation,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE service_requests SET expected_decision_on = $1, facts = $2, attested_by = $3, \
                     attested_at = $4, attestation_version = $5 WHERE request_id = $6 AND status = $7",
                )
                .bind(expected_decision_on)
                .bind(self.seal(&request.association, Field::Facts, &facts_json(facts)))
                .bind(&attestation.by)
                .bind(attestation.at)
                .bind(&attestation.version)
                .bind(request.request_id)
                .bind(CaseStatus::ReturnedForCompletion.as_str()),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Records who research assigned the request to (the latest assignment stands).
    pub async fn assign_researcher(&self, tx: &mut Tx, request_id: Uuid, researcher: &str) -> Result<(), DbError> {
        let sql = Sql::new("UPDATE service_requests SET assigned_researcher = $1 WHERE request_id = $2")
            .bind(researcher)
            .bind(request_id);
        tx.execute(sql).await?;
        Ok(())
    }

    /// Appends to the timeline (once per entry id) and makes the request's
    /// status that of its latest entry, so events arriving out of order still
    /// leave the right status.
    pub async fn record(&self, tx: &mut Tx, request_id: Uuid, entry: &TimelineEntry) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO timeline_entries (entry_id, request_id, status, stage, actor_role, at, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(entry.entry_id)
            .bind(request_id)
            .bind(entry.status.as_str())
            .bind(entry.stage.as_str())
            .bind(entry.actor_role.as_str())
            .bind(entry.at)
            .bind(&entry.note),
        )
        .await?;
        tx.execute(
            Sql::new(
                "UPDATE service_requests SET status = (SELECT status FROM timeline_entries \
                 WHERE request_id = $1 ORDER BY at DESC, entry_id DESC LIMIT 1) WHERE request_id = $1",
            )
            .bind(request_id),
        )
        .await?;
        Ok(())
    }

    /// The case's history, oldest first.
    pub async fn timeline(&self, request_id: Uuid) -> Result<Vec<TimelineEntry>, DbError> {
        let rows = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT entry_id, status, stage, actor_role, at, note FROM timeline_entries \
                     WHERE request_id = $1 ORDER BY at, entry_id",
                )
                .bind(request_id),
            )
            .await?;
        rows.iter().map(timeline_entry).collect()
    }
}

pub(crate) fn facts_json(facts: &Facts) -> String {
    serde_json::to_string(facts).expect("facts are plain JSON values")
}
