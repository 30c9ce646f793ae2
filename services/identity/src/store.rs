//! Identity's store: accounts (with their standing), identity checks and
//! the credentials SMS counted per national ID and number. Sessions, staff
//! credentials and sign-in failures are kept beside the sign-in code
//! (`sessions.rs`).

use chrono::{DateTime, Utc};
use masar_domain::{AccountStanding, Channel};
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::paging::PageRequest;
use masar_platform::personal::{Field, PersonalData, RESEAL_BATCH};
use uuid::Uuid;

#[derive(Clone)]
pub struct IdentityStore {
    db: Db,
    personal: PersonalData,
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

impl IdentityStore {
    pub fn new(db: Db, personal: PersonalData) -> Self {
        Self { db, personal }
    }

    pub fn db(&self) -> &Db {
        &self.db
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

impl IdentityStore {
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
    /// with the other accounts of its registry entry.
    pub async fn account_claims(
        &self,
        association: &str,
        page: &PageRequest,
    ) -> Result<Vec<(StoredAccount, Vec<StoredAccount>)>, DbError> {
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
            let others =
                self.db().fetch_all(Sql::new(OTHERS).bind(claim.beneficiary_id).bind(claim.account_id)).await?;
            let others = others.iter().map(|r| self.stored_account(r)).collect::<Result<_, _>>()?;
            found.push((claim, others));
        }
        Ok(found)
    }

    /// Staff entered `mobile` as the entry's number: every unverified claim
    /// whose credentials went there is proven (its holder read the SMS sent
    /// there). Returns how many it proved.
    pub async fn prove_claims_to(
        &self,
        tx: &mut Tx,
        association: &str,
        beneficiary_id: Uuid,
        mobile: &str,
        confirmed_by: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        let mobiles = self.personal().lookup(association, Field::Mobile, mobile);
        tx.execute(
            Sql::new(
                "UPDATE accounts SET standing = $1, verified_by = $2, verified_at = $3 \
                 WHERE beneficiary_id = $4 AND mobile_index IN ($5, $6) AND standing = $7",
            )
            .bind(AccountStanding::ByRegistryMobile.as_str())
            .bind(confirmed_by)
            .bind(at)
            .bind(beneficiary_id)
            .bind(mobiles[0].clone())
            .bind(mobiles[1].clone())
            .bind(AccountStanding::Unverified.as_str()),
        )
        .await
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

/// Keeping accounts' numbers sealed with the newest key (see intake's
/// `resealing.rs`, which does the same for the registry and the requests).
impl IdentityStore {
    pub async fn rows_to_reseal(&self) -> Result<u64, DbError> {
        let row = self
            .db()
            .fetch_optional(
                Sql::new("SELECT COUNT(*) AS stale FROM accounts WHERE mobile NOT LIKE $1 OR mobile_index IS NULL")
                    .bind(self.personal().current_like_pattern()),
            )
            .await?;
        row.map_or(Ok(0), |r| r.unsigned("stale"))
    }

    /// Re-seals one batch of accounts; returns how many rows it changed.
    pub async fn reseal_batch(&self) -> Result<u64, DbError> {
        let rows = self
            .db()
            .fetch_all(
                Sql::new(
                    "SELECT account_id, association, mobile FROM accounts \
                     WHERE mobile NOT LIKE $1 OR mobile_index IS NULL LIMIT $2",
                )
                .bind(self.personal().current_like_pattern())
                .bind(RESEAL_BATCH),
            )
            .await?;
        if rows.is_empty() {
            // Nothing to do takes no write lock (SQLite's transactions take it up front).
            return Ok(0);
        }
        // One transaction a batch: one commit (one sync) for up to RESEAL_BATCH rows.
        let mut tx = self.db().begin().await?;
        let mut resealed = 0;
        for row in &rows {
            let association = row.text("association")?;
            let mobile = self.open(&association, Field::Mobile, &row.text("mobile")?)?;
            resealed += tx
                .execute(
                    Sql::new(
                        "UPDATE accounts SET mobile = $1, mobile_index = $2 WHERE account_id = $3 AND mobile = $4",
                    )
                    .bind(self.seal(&association, Field::Mobile, &mobile))
                    .bind(self.personal().index(&association, Field::Mobile, &mobile))
                    .bind(row.uuid("account_id")?)
                    .bind(row.text("mobile")?),
                )
                .await?;
        }
        tx.commit().await?;
        Ok(resealed)
    }
}
