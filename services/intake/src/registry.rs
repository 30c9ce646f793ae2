//! The beneficiary registry and accounts: intake's records of people, apart
//! from their requests.

use crate::store::IntakeStore;
use chrono::{DateTime, Utc};
use masar_domain::people::name_key;
use masar_domain::{Channel, Language, NationalId, SaudiMobile};
use masar_platform::db::{DbError, Row, Sql, Tx};
use masar_platform::paging::{PageRequest, Position};
use uuid::Uuid;

/// Who is being registered, validated.
#[derive(Debug, Clone)]
pub struct NewBeneficiary {
    pub association: String,
    pub national_id: NationalId,
    pub full_name: String,
    pub mobile: SaudiMobile,
    pub language: Language,
    pub channel: Channel,
    /// "beneficiary", or the staff username who registered them.
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
}

impl NewBeneficiary {
    /// The applicant of a request, as the registry would first know them.
    pub fn of_request(request: &crate::store::NewRequest, registered_by: String) -> Self {
        Self {
            association: request.association.clone(),
            national_id: request.national_id.clone(),
            full_name: request.applicant_name.clone(),
            mobile: request.mobile.clone(),
            language: request.language,
            channel: request.channel,
            registered_by,
            registered_at: request.submitted_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredBeneficiary {
    pub beneficiary_id: Uuid,
    pub association: String,
    pub national_id: String,
    pub full_name: String,
    pub mobile: String,
    pub language: Language,
    pub channel: String,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub possible_duplicate_of: Option<Uuid>,
    pub has_account: bool,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub account_id: Uuid,
    pub association: String,
    pub beneficiary_id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub channel: Channel,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct StoredAccount {
    pub account_id: Uuid,
    pub association: String,
    pub beneficiary_id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub must_change_password: bool,
}

/// How opening an account went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Opened,
    /// The beneficiary already has an account.
    AlreadyHasAccount,
    /// Another account has this username; try another.
    UsernameTaken,
}

/// The beneficiary query with a condition, as one static string.
macro_rules! select_beneficiary {
    ($condition:literal) => {
        concat!(
            "SELECT b.beneficiary_id, b.association, b.national_id, b.full_name, b.mobile, b.preferred_language, ",
            "b.channel, b.registered_by, b.registered_at, b.possible_duplicate_of, ",
            "(SELECT COUNT(*) FROM accounts a WHERE a.beneficiary_id = b.beneficiary_id) AS accounts ",
            "FROM beneficiaries b WHERE ",
            $condition
        )
    };
}

fn stored_beneficiary(row: &Row) -> Result<StoredBeneficiary, DbError> {
    Ok(StoredBeneficiary {
        beneficiary_id: row.uuid("beneficiary_id")?,
        association: row.text("association")?,
        national_id: row.text("national_id")?,
        full_name: row.text("full_name")?,
        mobile: row.text("mobile")?,
        language: Language::from_tag(&row.text("preferred_language")?),
        channel: row.text("channel")?,
        registered_by: row.text("registered_by")?,
        registered_at: row.time("registered_at")?,
        possible_duplicate_of: row.optional_uuid("possible_duplicate_of")?,
        has_account: row.int("accounts")? > 0,
    })
}

fn stored_account(row: &Row) -> Result<StoredAccount, DbError> {
    Ok(StoredAccount {
        account_id: row.uuid("account_id")?,
        association: row.text("association")?,
        beneficiary_id: row.uuid("beneficiary_id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        must_change_password: row.int("must_change_password")? != 0,
    })
}

impl IntakeStore {
    /// Credentials SMS caused by anonymous registrations since `since`, for the
    /// national ID or for the number, whichever has had more.
    pub async fn credential_messages_since(
        &self,
        tx: &mut Tx,
        national_id: &str,
        mobile: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        let row = tx
            .fetch_optional(
                Sql::new(
                    "SELECT (SELECT COUNT(*) FROM credential_messages WHERE national_id = $1 AND sent_at > $3) AS by_id, \
                     (SELECT COUNT(*) FROM credential_messages WHERE mobile = $2 AND sent_at > $3) AS by_mobile",
                )
                .bind(national_id)
                .bind(mobile)
                .bind(since),
            )
            .await?;
        let Some(row) = row else { return Ok(0) };
        Ok(row.unsigned::<u64>("by_id")?.max(row.unsigned::<u64>("by_mobile")?))
    }

    pub async fn record_credential_message(
        &self,
        tx: &mut Tx,
        national_id: &str,
        mobile: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new("INSERT INTO credential_messages (national_id, mobile, sent_at) VALUES ($1, $2, $3)")
                .bind(national_id)
                .bind(mobile)
                .bind(at),
        )
        .await?;
        Ok(())
    }

    /// The association's beneficiary with this national ID, registered now if
    /// new (flagged when an earlier one has the same name and mobile). True if registered now.
    pub async fn find_or_register(
        &self,
        tx: &mut Tx,
        new: &NewBeneficiary,
    ) -> Result<(StoredBeneficiary, bool), DbError> {
        if let Some(found) = self.beneficiary_by_national_id(tx, &new.association, &new.national_id).await? {
            return Ok((found, false));
        }
        let key = name_key(&new.full_name);
        let resembles = tx
            .fetch_optional(
                Sql::new(
                    "SELECT beneficiary_id FROM beneficiaries WHERE association = $1 AND name_key = $2 \
                     AND mobile = $3 AND national_id <> $4 ORDER BY registered_at LIMIT 1",
                )
                .bind(&new.association)
                .bind(&key)
                .bind(new.mobile.as_str())
                .bind(new.national_id.as_str()),
            )
            .await?
            .map(|row| row.uuid("beneficiary_id"))
            .transpose()?;
        // Two registrations of one person at once: the unique key keeps one, both read it back.
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO beneficiaries (beneficiary_id, association, national_id, full_name, name_key, \
                     mobile, preferred_language, channel, registered_by, registered_at, possible_duplicate_of) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (association, national_id) DO NOTHING",
                )
                .bind(Uuid::now_v7())
                .bind(&new.association)
                .bind(new.national_id.as_str())
                .bind(&new.full_name)
                .bind(&key)
                .bind(new.mobile.as_str())
                .bind(new.language.tag())
                .bind(new.channel.as_str())
                .bind(&new.registered_by)
                .bind(new.registered_at)
                .bind(resembles),
            )
            .await?;
        let found = self
            .beneficiary_by_national_id(tx, &new.association, &new.national_id)
            .await?
            .ok_or_else(|| DbError::Decode { column: "beneficiaries".into(), reason: "not stored".into() })?;
        Ok((found, inserted == 1))
    }

    pub async fn beneficiary_by_national_id(
        &self,
        tx: &mut Tx,
        association: &str,
        national_id: &NationalId,
    ) -> Result<Option<StoredBeneficiary>, DbError> {
        const SQL: &str = select_beneficiary!("b.association = $1 AND b.national_id = $2");
        tx.fetch_optional(Sql::new(SQL).bind(association).bind(national_id.as_str()))
            .await?
            .as_ref()
            .map(stored_beneficiary)
            .transpose()
    }

    pub async fn beneficiary(&self, beneficiary_id: Uuid) -> Result<Option<StoredBeneficiary>, DbError> {
        const SQL: &str = select_beneficiary!("b.beneficiary_id = $1");
        self.db().fetch_optional(Sql::new(SQL).bind(beneficiary_id)).await?.as_ref().map(stored_beneficiary).transpose()
    }

    /// One page of an association's flagged beneficiaries, each with the one
    /// they resemble, newest first.
    pub async fn possible_duplicates(
        &self,
        association: &str,
        page: &PageRequest,
    ) -> Result<Vec<(StoredBeneficiary, StoredBeneficiary)>, DbError> {
        const FLAGGED: &str = select_beneficiary!(
            "b.association = $1 AND b.possible_duplicate_of IS NOT NULL \
             AND ($2 IS NULL OR b.registered_at < $2 OR (b.registered_at = $2 AND b.beneficiary_id < $3)) \
             ORDER BY b.registered_at DESC, b.beneficiary_id DESC LIMIT $4"
        );
        let read = |rows: Vec<Row>| rows.iter().map(stored_beneficiary).collect::<Result<Vec<_>, _>>();
        let page_rows = Sql::new(FLAGGED).bind(association).bind_page(page);
        let flagged = read(self.db().fetch_all(page_rows).await?)?;
        let Some(last) = flagged.last().map(|b| Position { at: b.registered_at, id: b.beneficiary_id }) else {
            return Ok(Vec::new());
        };
        // Whom the flagged entries between the page's bounds resemble; a flag
        // is never moved, so every row of the page finds its pair.
        const RESEMBLED: &str = select_beneficiary!(
            "b.beneficiary_id IN (SELECT possible_duplicate_of FROM beneficiaries \
             WHERE association = $1 AND possible_duplicate_of IS NOT NULL \
             AND ($2 IS NULL OR registered_at < $2 OR (registered_at = $2 AND beneficiary_id < $3)) \
             AND (registered_at > $4 OR (registered_at = $4 AND beneficiary_id >= $5)))"
        );
        let bounds = Sql::new(RESEMBLED).bind(association).bind_after(page).bind_position(last);
        let resembled = read(self.db().fetch_all(bounds).await?)?;
        Ok(flagged
            .into_iter()
            .filter_map(|beneficiary| {
                let resembles =
                    resembled.iter().find(|r| Some(r.beneficiary_id) == beneficiary.possible_duplicate_of)?;
                Some((beneficiary, resembles.clone()))
            })
            .collect())
    }

    pub async fn open_account(&self, tx: &mut Tx, account: &NewAccount) -> Result<Opened, DbError> {
        let existing = tx
            .fetch_optional(
                Sql::new("SELECT account_id FROM accounts WHERE beneficiary_id = $1").bind(account.beneficiary_id),
            )
            .await?;
        if existing.is_some() {
            return Ok(Opened::AlreadyHasAccount);
        }
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO accounts (account_id, association, beneficiary_id, username, password_hash, \
                     must_change_password, channel, opened_by, opened_at) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) ON CONFLICT DO NOTHING",
                )
                .bind(account.account_id)
                .bind(&account.association)
                .bind(account.beneficiary_id)
                .bind(&account.username)
                .bind(&account.password_hash)
                .bind(account.channel.as_str())
                .bind(&account.opened_by)
                .bind(account.opened_at),
            )
            .await?;
        Ok(if inserted == 1 { Opened::Opened } else { Opened::UsernameTaken })
    }

    pub async fn account(&self, association: &str, username: &str) -> Result<Option<StoredAccount>, DbError> {
        self.db()
            .fetch_optional(
                Sql::new(
                    "SELECT account_id, association, beneficiary_id, username, password_hash, must_change_password \
                     FROM accounts WHERE association = $1 AND username = $2",
                )
                .bind(association)
                .bind(username),
            )
            .await?
            .as_ref()
            .map(stored_account)
            .transpose()
    }

    /// Replaces the password (its hash), which ends the one-time password.
    /// Conditional on the hash read, so of two changes at once one wins.
    pub async fn change_password(
        &self,
        account_id: Uuid,
        previous_hash: &str,
        new_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = self
            .db()
            .execute(
                Sql::new(
                    "UPDATE accounts SET password_hash = $1, must_change_password = 0, password_changed_at = $2 \
                     WHERE account_id = $3 AND password_hash = $4",
                )
                .bind(new_hash)
                .bind(at)
                .bind(account_id)
                .bind(previous_hash),
            )
            .await?;
        Ok(changed == 1)
    }
}
