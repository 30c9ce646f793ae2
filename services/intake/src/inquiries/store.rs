//! Inquiries as stored: each with its timeline of entries, moved on once from each status.

use crate::requests::store::IntakeStore;
use chrono::{DateTime, Utc};
use masar_domain::{ActorRole, Channel, InquiryStatus, Language};
use masar_platform::audit::Subject;
use masar_platform::db::{DbError, Row, Sql, Tx};
use masar_platform::identity::Owner;
use masar_platform::paging::PageRequest;
use masar_platform::personal::Field;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct StoredInquiry {
    pub inquiry_id: Uuid,
    pub reference: String,
    pub association: String,
    pub branch: String,
    pub channel: Channel,
    pub beneficiary_id: Option<Uuid>,
    /// The beneficiary's account that asked; `None` when staff recorded it.
    pub asked_by_account: Option<Uuid>,
    pub asker_name: String,
    pub mobile: Option<String>,
    pub language: Language,
    pub question: String,
    pub status: InquiryStatus,
    pub referred_to: Option<ActorRole>,
    pub asked_at: DateTime<Utc>,
    /// Raised by every change, so an action on an older reading is refused.
    pub version: u64,
}

impl StoredInquiry {
    /// An inquiry is not a case: its trail entries name only its scope.
    pub fn audit_subject(&self) -> Subject<'_> {
        Subject::outside_a_case(&self.association, &self.branch)
    }

    /// Whose the inquiry is, for a beneficiary's eyes.
    pub fn owner(&self) -> Owner {
        Owner { beneficiary_id: self.beneficiary_id, filed_by_account: self.asked_by_account }
    }
}

/// One step of an inquiry's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InquiryEntry {
    pub status: InquiryStatus,
    pub actor_role: ActorRole,
    /// The staff username, or "beneficiary".
    pub actor: String,
    pub channel: Channel,
    pub text: String,
    pub at: DateTime<Utc>,
}

macro_rules! select_inquiry {
    ($condition:literal) => {
        concat!(
            "SELECT inquiry_id, reference, association, branch, channel, beneficiary_id, asked_by_account, ",
            "asker_name, mobile, ",
            "preferred_language, question, status, referred_to, asked_at, version FROM inquiries WHERE ",
            $condition
        )
    };
}

impl IntakeStore {
    fn stored_inquiry(&self, row: &Row) -> Result<StoredInquiry, DbError> {
        let association = row.text("association")?;
        let mobile = row.optional_text("mobile")?.map(|m| self.open(&association, Field::Mobile, &m)).transpose()?;
        Ok(StoredInquiry {
            inquiry_id: row.uuid("inquiry_id")?,
            reference: row.text("reference")?,
            branch: row.text("branch")?,
            channel: row.parsed("channel", Channel::parse)?,
            beneficiary_id: row.optional_uuid("beneficiary_id")?,
            asked_by_account: row.optional_uuid("asked_by_account")?,
            asker_name: row.text("asker_name")?,
            mobile,
            language: Language::from_tag(&row.text("preferred_language")?),
            question: row.text("question")?,
            status: row.parsed("status", InquiryStatus::parse)?,
            referred_to: row
                .optional_text("referred_to")?
                .map(|r| ActorRole::parse(&r))
                .transpose()
                .map_err(|e| DbError::Decode { column: "referred_to".into(), reason: e.to_string() })?,
            asked_at: row.time("asked_at")?,
            version: row.unsigned("version")?,
            association,
        })
    }
}

fn inquiry_entry(row: &Row) -> Result<InquiryEntry, DbError> {
    Ok(InquiryEntry {
        status: row.parsed("status", InquiryStatus::parse)?,
        actor_role: row.parsed("actor_role", ActorRole::parse)?,
        actor: row.text("actor")?,
        channel: row.parsed("channel", Channel::parse)?,
        text: row.text("text")?,
        at: row.time("at")?,
    })
}

impl IntakeStore {
    pub async fn insert_inquiry(
        &self,
        tx: &mut Tx,
        inquiry: &StoredInquiry,
        asked: &InquiryEntry,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO inquiries (inquiry_id, reference, association, branch, channel, beneficiary_id, \
                 asked_by_account, asker_name, mobile, preferred_language, question, status, referred_to, asked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(inquiry.inquiry_id)
            .bind(&inquiry.reference)
            .bind(&inquiry.association)
            .bind(&inquiry.branch)
            .bind(inquiry.channel.as_str())
            .bind(inquiry.beneficiary_id)
            .bind(inquiry.asked_by_account)
            .bind(&inquiry.asker_name)
            .bind(inquiry.mobile.as_deref().map(|m| self.seal(&inquiry.association, Field::Mobile, m)))
            .bind(inquiry.language.tag())
            .bind(&inquiry.question)
            .bind(inquiry.status.as_str())
            .bind(inquiry.referred_to.map(|r| r.as_str().to_owned()))
            .bind(inquiry.asked_at),
        )
        .await?;
        self.add_inquiry_entry(tx, inquiry.inquiry_id, asked).await
    }

    async fn add_inquiry_entry(&self, tx: &mut Tx, inquiry_id: Uuid, entry: &InquiryEntry) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO inquiry_entries (entry_id, inquiry_id, status, actor_role, actor, channel, text, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(Uuid::now_v7())
            .bind(inquiry_id)
            .bind(entry.status.as_str())
            .bind(entry.actor_role.as_str())
            .bind(&entry.actor)
            .bind(entry.channel.as_str())
            .bind(&entry.text)
            .bind(entry.at),
        )
        .await?;
        Ok(())
    }

    /// Moves an inquiry on, only from the status it was read in; false if someone moved it first.
    pub async fn move_inquiry(
        &self,
        tx: &mut Tx,
        inquiry: &StoredInquiry,
        referred_to: Option<ActorRole>,
        entry: &InquiryEntry,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE inquiries SET status = $1, referred_to = $2, version = version + 1 \
                     WHERE inquiry_id = $3 AND version = $4",
                )
                .bind(entry.status.as_str())
                .bind(referred_to.map(|r| r.as_str().to_owned()))
                .bind(inquiry.inquiry_id)
                .bind(inquiry.version),
            )
            .await?;
        if changed == 1 {
            self.add_inquiry_entry(tx, inquiry.inquiry_id, entry).await?;
        }
        Ok(changed == 1)
    }

    pub async fn inquiry(&self, inquiry_id: Uuid) -> Result<Option<StoredInquiry>, DbError> {
        self.db()
            .fetch_optional(Sql::new(select_inquiry!("inquiry_id = $1")).bind(inquiry_id))
            .await?
            .as_ref()
            .map(|r| self.stored_inquiry(r))
            .transpose()
    }

    pub async fn inquiry_timeline(&self, inquiry_id: Uuid) -> Result<Vec<InquiryEntry>, DbError> {
        let rows = self
            .db()
            .fetch_all(
                Sql::new(
                    "SELECT status, actor_role, actor, channel, text, at FROM inquiry_entries \
                     WHERE inquiry_id = $1 ORDER BY at, entry_id",
                )
                .bind(inquiry_id),
            )
            .await?;
        rows.iter().map(inquiry_entry).collect()
    }

    /// One page of an association's inquiries in the statuses asked, oldest
    /// first; optionally one branch's only, or those referred to one role.
    pub async fn inquiries(
        &self,
        filter: InquiryFilter<'_>,
        page: &PageRequest,
    ) -> Result<Vec<StoredInquiry>, DbError> {
        const SQL: &str = select_inquiry!(
            "association = $1 AND status IN ($2, $3, $4) AND ($5 IS NULL OR branch = $5) \
             AND ($6 IS NULL OR referred_to = $6) AND ($7 IS NULL OR beneficiary_id = $7) \
             AND ($8 IS NULL OR asked_by_account = $8) \
             AND ($9 IS NULL OR asked_at > $9 OR (asked_at = $9 AND inquiry_id > $10)) \
             ORDER BY asked_at, inquiry_id LIMIT $11"
        );
        debug_assert!((1..=3).contains(&filter.statuses.len()), "an inquiry has three statuses");
        // One to three statuses: placeholders left over repeat the first.
        let status = |i: usize| filter.statuses.get(i).or(filter.statuses.first()).map(|s| s.as_str().to_owned());
        let rows = self
            .db()
            .fetch_all(
                Sql::new(SQL)
                    .bind(filter.association)
                    .bind(status(0))
                    .bind(status(1))
                    .bind(status(2))
                    .bind(filter.branch.map(str::to_owned))
                    .bind(filter.referred_to.map(|r| r.as_str().to_owned()))
                    .bind(filter.beneficiary_id)
                    .bind(filter.asked_by_account)
                    .bind_page(page),
            )
            .await?;
        rows.iter().map(|r| self.stored_inquiry(r)).collect()
    }
}

/// Which inquiries a list shows.
pub struct InquiryFilter<'a> {
    pub association: &'a str,
    /// One to three statuses.
    pub statuses: &'a [InquiryStatus],
    pub branch: Option<&'a str>,
    /// Only those referred to this role (the referral role's own queue).
    pub referred_to: Option<ActorRole>,
    /// Only one beneficiary's (their own list).
    pub beneficiary_id: Option<Uuid>,
    /// Only those this account asked (an unverified account's own list).
    pub asked_by_account: Option<Uuid>,
}
