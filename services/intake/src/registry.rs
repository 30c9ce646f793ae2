//! The beneficiary registry and accounts: intake's records of people, apart
//! from their requests.

use crate::store::IntakeStore;
use chrono::{DateTime, Utc};
use masar_domain::people::name_key;
use masar_domain::{AccountStanding, Channel, Language, NationalId, SaudiMobile};
use masar_platform::db::{DbError, Row, Sql, Tx};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::Field;
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
    /// Staff entered these details, having the person before them (or on
    /// the phone): the registry's number becomes theirs.
    pub fn entered_by_staff(&self) -> bool {
        self.registered_by != masar_domain::ActorRole::Beneficiary.as_str()
    }

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
    /// The mobile is the person's: entered by staff, or proven by a verified account.
    pub contact_confirmed: bool,
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
    /// Where its credentials go.
    pub mobile: String,
    pub standing: AccountStanding,
}

#[derive(Debug, Clone)]
pub struct StoredAccount {
    pub account_id: Uuid,
    pub association: String,
    pub beneficiary_id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub mobile: String,
    pub standing: AccountStanding,
    pub channel: String,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub verified_by: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_reason: Option<String>,
}

/// How opening an account went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Opened,
    /// The number already has an account for the ID (another registration at the same moment).
    AlreadyClaimed,
    /// Another account has this username; try another.
    UsernameTaken,
}

/// An external identity check an account's holder started.
#[derive(Debug, Clone)]
pub struct StoredIdentityCheck {
    pub check_id: Uuid,
    pub account_id: Uuid,
    pub association: String,
    pub transaction: String,
    pub number: u8,
    pub answer: String,
}

/// The account query with a condition, as one static string.
macro_rules! select_account {
    ($condition:literal) => {
        concat!(
            "SELECT account_id, association, beneficiary_id, username, password_hash, must_change_password, ",
            "mobile, standing, channel, opened_by, opened_at, verified_by, verified_at, closed_reason ",
            "FROM accounts WHERE ",
            $condition
        )
    };
}

/// The beneficiary query with a condition, as one static string.
macro_rules! select_beneficiary {
    ($condition:literal) => {
        concat!(
            "SELECT b.beneficiary_id, b.association, b.national_id, b.full_name, b.mobile, b.preferred_language, ",
            "b.channel, b.registered_by, b.registered_at, b.possible_duplicate_of, ",
            "b.contact_confirmed, ",
            "(SELECT COUNT(*) FROM accounts a WHERE a.beneficiary_id = b.beneficiary_id) AS accounts ",
            "FROM beneficiaries b WHERE ",
            $condition
        )
    };
}

impl IntakeStore {
    fn stored_beneficiary(&self, row: &Row) -> Result<StoredBeneficiary, DbError> {
        let association = row.text("association")?;
        Ok(StoredBeneficiary {
            beneficiary_id: row.uuid("beneficiary_id")?,
            national_id: self.open(&association, Field::NationalId, &row.text("national_id")?)?,
            full_name: row.text("full_name")?,
            mobile: self.open(&association, Field::Mobile, &row.text("mobile")?)?,
            language: Language::from_tag(&row.text("preferred_language")?),
            channel: row.text("channel")?,
            registered_by: row.text("registered_by")?,
            registered_at: row.time("registered_at")?,
            possible_duplicate_of: row.optional_uuid("possible_duplicate_of")?,
            has_account: row.int("accounts")? > 0,
            contact_confirmed: row.int("contact_confirmed")? != 0,
            association,
        })
    }

    fn stored_account(&self, row: &Row) -> Result<StoredAccount, DbError> {
        let association = row.text("association")?;
        Ok(StoredAccount {
            account_id: row.uuid("account_id")?,
            beneficiary_id: row.uuid("beneficiary_id")?,
            username: row.text("username")?,
            password_hash: row.text("password_hash")?,
            must_change_password: row.int("must_change_password")? != 0,
            mobile: self.open(&association, Field::Mobile, &row.text("mobile")?)?,
            standing: AccountStanding::parse(&row.text("standing")?)
                .map_err(|e| DbError::Decode { column: "standing".into(), reason: e.to_string() })?,
            channel: row.text("channel")?,
            opened_by: row.text("opened_by")?,
            opened_at: row.time("opened_at")?,
            verified_by: row.optional_text("verified_by")?,
            verified_at: row.optional_time("verified_at")?,
            closed_reason: row.optional_text("closed_reason")?,
            association,
        })
    }
}

fn stored_identity_check(row: &Row) -> Result<StoredIdentityCheck, DbError> {
    Ok(StoredIdentityCheck {
        check_id: row.uuid("check_id")?,
        account_id: row.uuid("account_id")?,
        association: row.text("association")?,
        transaction: row.text("transaction_id")?,
        number: row.unsigned::<u8>("number")?,
        answer: row.text("answer")?,
    })
}

impl IntakeStore {
    /// Credentials SMS caused by anonymous registrations since `since`, for the
    /// national ID or for the number, whichever has had more.
    /// (Both are kept as blind indexes of the association: counted, never read.)
    pub async fn credential_messages_since(
        &self,
        tx: &mut Tx,
        association: &str,
        national_id: &str,
        mobile: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        let ids = self.personal().lookup(association, Field::NationalId, national_id);
        let mobiles = self.personal().lookup(association, Field::Mobile, mobile);
        let row = tx
            .fetch_optional(
                Sql::new(
                    "SELECT (SELECT COUNT(*) FROM credential_messages WHERE national_id IN ($1, $2) AND sent_at > $5) \
                     AS by_id, (SELECT COUNT(*) FROM credential_messages WHERE mobile IN ($3, $4) AND sent_at > $5) \
                     AS by_mobile",
                )
                .bind(ids[0].clone())
                .bind(ids[1].clone())
                .bind(mobiles[0].clone())
                .bind(mobiles[1].clone())
                .bind(since),
            )
            .await?;
        let Some(row) = row else { return Ok(0) };
        Ok(row.unsigned::<u64>("by_id")?.max(row.unsigned::<u64>("by_mobile")?))
    }

    pub async fn record_credential_message(
        &self,
        tx: &mut Tx,
        association: &str,
        national_id: &str,
        mobile: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new("INSERT INTO credential_messages (national_id, mobile, sent_at) VALUES ($1, $2, $3)")
                .bind(self.personal().index(association, Field::NationalId, national_id))
                .bind(self.personal().index(association, Field::Mobile, mobile))
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
            if found.contact_confirmed || !new.entered_by_staff() {
                return Ok((found, false));
            }
            // A provisional entry (typed online, by anyone) gives way to what staff entered.
            self.confirm_contact(tx, found.beneficiary_id, new).await?;
            let confirmed = self.beneficiary_by_national_id(tx, &new.association, &new.national_id).await?;
            return Ok((confirmed.unwrap_or(found), false));
        }
        let personal = self.personal();
        let association = new.association.as_str();
        let keys = personal.lookup(association, Field::NameKey, &name_key(&new.full_name));
        let mobiles = personal.lookup(association, Field::Mobile, new.mobile.as_str());
        let ids = personal.lookup(association, Field::NationalId, new.national_id.as_str());
        let resembles = tx
            .fetch_optional(
                Sql::new(
                    "SELECT beneficiary_id FROM beneficiaries WHERE association = $1 AND name_key IN ($2, $3) \
                     AND mobile_index IN ($4, $5) AND national_id_index NOT IN ($6, $7) ORDER BY registered_at LIMIT 1",
                )
                .bind(association)
                .bind(keys[0].clone())
                .bind(keys[1].clone())
                .bind(mobiles[0].clone())
                .bind(mobiles[1].clone())
                .bind(ids[0].clone())
                .bind(ids[1].clone()),
            )
            .await?
            .map(|row| row.uuid("beneficiary_id"))
            .transpose()?;
        // Two registrations of one person at once: the unique key keeps one, both read it back.
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO beneficiaries (beneficiary_id, association, national_id, full_name, name_key, \
                     mobile, preferred_language, channel, registered_by, registered_at, possible_duplicate_of, \
                     contact_confirmed, national_id_index, mobile_index) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                     ON CONFLICT (association, national_id_index) DO NOTHING",
                )
                .bind(Uuid::now_v7())
                .bind(association)
                .bind(self.seal(association, Field::NationalId, new.national_id.as_str()))
                .bind(&new.full_name)
                .bind(keys[0].clone())
                .bind(self.seal(association, Field::Mobile, new.mobile.as_str()))
                .bind(new.language.tag())
                .bind(new.channel.as_str())
                .bind(&new.registered_by)
                .bind(new.registered_at)
                .bind(resembles)
                .bind(i64::from(new.entered_by_staff()))
                .bind(ids[0].clone())
                .bind(mobiles[0].clone()),
            )
            .await?;
        let found = self
            .beneficiary_by_national_id(tx, &new.association, &new.national_id)
            .await?
            .ok_or_else(|| DbError::Decode { column: "beneficiaries".into(), reason: "not stored".into() })?;
        Ok((found, inserted == 1))
    }

    /// Staff's details of a person replace a provisional entry's, and every
    /// claim whose credentials went to the number staff entered is proven:
    /// its holder read the SMS sent there.
    async fn confirm_contact(&self, tx: &mut Tx, beneficiary_id: Uuid, new: &NewBeneficiary) -> Result<(), DbError> {
        let association = new.association.as_str();
        let mobiles = self.personal().lookup(association, Field::Mobile, new.mobile.as_str());
        tx.execute(
            Sql::new(
                "UPDATE beneficiaries SET full_name = $1, name_key = $2, mobile = $3, mobile_index = $4, \
                 preferred_language = $5, contact_confirmed = 1 WHERE beneficiary_id = $6",
            )
            .bind(&new.full_name)
            .bind(self.personal().index(association, Field::NameKey, &name_key(&new.full_name)))
            .bind(self.seal(association, Field::Mobile, new.mobile.as_str()))
            .bind(mobiles[0].clone())
            .bind(new.language.tag())
            .bind(beneficiary_id),
        )
        .await?;
        tx.execute(
            Sql::new(
                "UPDATE accounts SET standing = $1, verified_by = $2, verified_at = $3 \
                 WHERE beneficiary_id = $4 AND mobile_index IN ($5, $6) AND standing = $7",
            )
            .bind(AccountStanding::ByRegistryMobile.as_str())
            .bind(&new.registered_by)
            .bind(new.registered_at)
            .bind(beneficiary_id)
            .bind(mobiles[0].clone())
            .bind(mobiles[1].clone())
            .bind(AccountStanding::Unverified.as_str()),
        )
        .await?;
        Ok(())
    }

    /// Makes `mobile` the entry's confirmed number, unless staff confirmed one already.
    pub async fn prove_contact(
        &self,
        tx: &mut Tx,
        association: &str,
        beneficiary_id: Uuid,
        mobile: &str,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "UPDATE beneficiaries SET mobile = $1, mobile_index = $2, contact_confirmed = 1 \
                 WHERE beneficiary_id = $3 AND contact_confirmed = 0",
            )
            .bind(self.seal(association, Field::Mobile, mobile))
            .bind(self.personal().index(association, Field::Mobile, mobile))
            .bind(beneficiary_id),
        )
        .await?;
        Ok(())
    }

    pub async fn beneficiary_by_national_id(
        &self,
        tx: &mut Tx,
        association: &str,
        national_id: &NationalId,
    ) -> Result<Option<StoredBeneficiary>, DbError> {
        const SQL: &str = select_beneficiary!("b.association = $1 AND b.national_id_index IN ($2, $3)");
        let [current, previous] = self.personal().lookup(association, Field::NationalId, national_id.as_str());
        tx.fetch_optional(Sql::new(SQL).bind(association).bind(current).bind(previous))
            .await?
            .as_ref()
            .map(|r| self.stored_beneficiary(r))
            .transpose()
    }

    pub async fn beneficiary(&self, beneficiary_id: Uuid) -> Result<Option<StoredBeneficiary>, DbError> {
        const SQL: &str = select_beneficiary!("b.beneficiary_id = $1");
        self.db()
            .fetch_optional(Sql::new(SQL).bind(beneficiary_id))
            .await?
            .as_ref()
            .map(|r| self.stored_beneficiary(r))
            .transpose()
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
        let read = |rows: Vec<Row>| rows.iter().map(|r| self.stored_beneficiary(r)).collect::<Result<Vec<_>, _>>();
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

    /// The accounts opened for a registry entry, oldest first.
    pub async fn accounts_of(&self, tx: &mut Tx, beneficiary_id: Uuid) -> Result<Vec<StoredAccount>, DbError> {
        const SQL: &str = select_account!("beneficiary_id = $1 ORDER BY opened_at, account_id");
        tx.fetch_all(Sql::new(SQL).bind(beneficiary_id)).await?.iter().map(|r| self.stored_account(r)).collect()
    }

    pub async fn open_account(&self, tx: &mut Tx, account: &NewAccount) -> Result<Opened, DbError> {
        let mobiles = self.personal().lookup(&account.association, Field::Mobile, &account.mobile);
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO accounts (account_id, association, beneficiary_id, username, password_hash, \
                     must_change_password, channel, opened_by, opened_at, mobile, standing, verified_by, verified_at, \
                     mobile_index) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
                )
                .bind(account.account_id)
                .bind(&account.association)
                .bind(account.beneficiary_id)
                .bind(&account.username)
                .bind(&account.password_hash)
                .bind(account.channel.as_str())
                .bind(&account.opened_by)
                .bind(account.opened_at)
                .bind(self.seal(&account.association, Field::Mobile, &account.mobile))
                .bind(account.standing.as_str())
                .bind(account.standing.is_verified().then(|| account.opened_by.clone()))
                .bind(account.standing.is_verified().then_some(account.opened_at))
                .bind(mobiles[0].clone()),
            )
            .await?;
        if inserted == 1 {
            return Ok(Opened::Opened);
        }
        let claimed = tx
            .fetch_optional(
                Sql::new("SELECT account_id FROM accounts WHERE beneficiary_id = $1 AND mobile_index IN ($2, $3)")
                    .bind(account.beneficiary_id)
                    .bind(mobiles[0].clone())
                    .bind(mobiles[1].clone()),
            )
            .await?;
        Ok(if claimed.is_some() { Opened::AlreadyClaimed } else { Opened::UsernameTaken })
    }

    pub async fn account(&self, association: &str, username: &str) -> Result<Option<StoredAccount>, DbError> {
        const SQL: &str = select_account!("association = $1 AND username = $2");
        self.db()
            .fetch_optional(Sql::new(SQL).bind(association).bind(username))
            .await?
            .as_ref()
            .map(|r| self.stored_account(r))
            .transpose()
    }

    pub async fn account_by_id(&self, account_id: Uuid) -> Result<Option<StoredAccount>, DbError> {
        const SQL: &str = select_account!("account_id = $1");
        self.db()
            .fetch_optional(Sql::new(SQL).bind(account_id))
            .await?
            .as_ref()
            .map(|r| self.stored_account(r))
            .transpose()
    }

    pub async fn account_by_id_in(&self, tx: &mut Tx, account_id: Uuid) -> Result<Option<StoredAccount>, DbError> {
        const SQL: &str = select_account!("account_id = $1");
        tx.fetch_optional(Sql::new(SQL).bind(account_id)).await?.as_ref().map(|r| self.stored_account(r)).transpose()
    }

    /// Records how an unverified account's holder proved the ID is theirs.
    /// False if it is no longer unverified (verified or closed meanwhile).
    pub async fn verify_account(
        &self,
        tx: &mut Tx,
        account_id: Uuid,
        standing: AccountStanding,
        verified_by: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE accounts SET standing = $1, verified_by = $2, verified_at = $3 \
                     WHERE account_id = $4 AND standing = $5",
                )
                .bind(standing.as_str())
                .bind(verified_by)
                .bind(at)
                .bind(account_id)
                .bind(AccountStanding::Unverified.as_str()),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Turns an unverified claim down. False if it is no longer unverified.
    pub async fn close_account(
        &self,
        tx: &mut Tx,
        account_id: Uuid,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE accounts SET standing = $1, closed_reason = $2, closed_at = $3 \
                     WHERE account_id = $4 AND standing = $5",
                )
                .bind(AccountStanding::Closed.as_str())
                .bind(reason)
                .bind(at)
                .bind(account_id)
                .bind(AccountStanding::Unverified.as_str()),
            )
            .await?;
        Ok(changed == 1)
    }

    /// One page of an association's unverified accounts, oldest first, each
    /// with its registry entry and the entry's other accounts.
    pub async fn account_claims(
        &self,
        association: &str,
        page: &PageRequest,
    ) -> Result<Vec<(StoredAccount, StoredBeneficiary, Vec<StoredAccount>)>, DbError> {
        const SQL: &str = select_account!(
            "association = $1 AND standing = 'unverified' \
             AND ($2 IS NULL OR opened_at > $2 OR (opened_at = $2 AND account_id > $3)) \
             ORDER BY opened_at, account_id LIMIT $4"
        );
        let claims = self.db().fetch_all(Sql::new(SQL).bind(association).bind_page(page)).await?;
        // Plain reads: a listing takes no write lock (SQLite's transactions take it up front).
        const OTHERS: &str = select_account!("beneficiary_id = $1 AND account_id <> $2 ORDER BY opened_at, account_id");
        let mut found = Vec::with_capacity(claims.len());
        for claim in claims.iter().map(|r| self.stored_account(r)) {
            let claim = claim?;
            let Some(entry) = self.beneficiary(claim.beneficiary_id).await? else {
                continue;
            };
            let others =
                self.db().fetch_all(Sql::new(OTHERS).bind(claim.beneficiary_id).bind(claim.account_id)).await?;
            let others = others.iter().map(|r| self.stored_account(r)).collect::<Result<_, _>>()?;
            found.push((claim, entry, others));
        }
        Ok(found)
    }

    pub async fn start_identity_check(
        &self,
        tx: &mut Tx,
        check: &StoredIdentityCheck,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO identity_checks (check_id, account_id, association, transaction_id, number, answer, \
                 asked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(check.check_id)
            .bind(check.account_id)
            .bind(&check.association)
            .bind(&check.transaction)
            .bind(i64::from(check.number))
            .bind(&check.answer)
            .bind(at),
        )
        .await?;
        Ok(())
    }

    /// How many identity checks an account started since `since`.
    pub async fn identity_checks_since(&self, account_id: Uuid, since: DateTime<Utc>) -> Result<u64, DbError> {
        let row = self
            .db()
            .fetch_optional(
                Sql::new("SELECT COUNT(*) AS started FROM identity_checks WHERE account_id = $1 AND asked_at > $2")
                    .bind(account_id)
                    .bind(since),
            )
            .await?;
        row.map_or(Ok(0), |r| r.unsigned::<u64>("started"))
    }

    pub async fn identity_check(&self, check_id: Uuid) -> Result<Option<StoredIdentityCheck>, DbError> {
        self.db()
            .fetch_optional(
                Sql::new(
                    "SELECT check_id, account_id, association, transaction_id, number, answer \
                 FROM identity_checks WHERE check_id = $1",
                )
                .bind(check_id),
            )
            .await?
            .as_ref()
            .map(stored_identity_check)
            .transpose()
    }

    /// Records the provider's answer, once: false if one was recorded meanwhile.
    pub async fn answer_identity_check(
        &self,
        tx: &mut Tx,
        check_id: Uuid,
        answer: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE identity_checks SET answer = $1, answered_at = $2 \
                     WHERE check_id = $3 AND answer = 'waiting'",
                )
                .bind(answer)
                .bind(at)
                .bind(check_id),
            )
            .await?;
        Ok(changed == 1)
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
