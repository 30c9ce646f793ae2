//! The beneficiary registry: intake's records of people, apart from their
//! requests. Accounts are the identity service's; it reaches the registry
//! through `RegistryService` (see `mod.rs`).

use crate::requests::store::IntakeStore;
use chrono::{DateTime, Utc};
use masar_domain::people::name_key;
use masar_domain::{Channel, Language, NationalId, SaudiMobile};
use masar_platform::db::{DbError, Row, Sql, Tx};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::Field;
use uuid::Uuid;

/// How [`IntakeStore::find_or_register`] found the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Found,
    New,
    /// Staff's details replaced a provisional entry's: claims made with that number are proven.
    ContactConfirmed,
}

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
    pub fn of_request(request: &crate::requests::store::NewRequest, registered_by: String) -> Self {
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

/// The beneficiary query with a condition, as one static string.
macro_rules! select_beneficiary {
    ($condition:literal) => {
        concat!(
            "SELECT b.beneficiary_id, b.association, b.national_id, b.full_name, b.mobile, b.preferred_language, ",
            "b.channel, b.registered_by, b.registered_at, b.possible_duplicate_of, ",
            "b.contact_confirmed, ",
            "b.has_account ",
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
            has_account: row.int("has_account")? != 0,
            contact_confirmed: row.int("contact_confirmed")? != 0,
            association,
        })
    }
}

impl IntakeStore {
    /// The association's beneficiary with this national ID, registered now if
    /// new (flagged when an earlier one has the same name and mobile), and how.
    pub async fn find_or_register(
        &self,
        tx: &mut Tx,
        new: &NewBeneficiary,
    ) -> Result<(StoredBeneficiary, Registered), DbError> {
        if let Some(found) = self.beneficiary_by_national_id(tx, &new.association, &new.national_id).await? {
            if found.contact_confirmed || !new.entered_by_staff() {
                return Ok((found, Registered::Found));
            }
            // A provisional entry (typed online, by anyone) gives way to what staff entered.
            self.confirm_contact(tx, found.beneficiary_id, new).await?;
            let confirmed = self.beneficiary_by_national_id(tx, &new.association, &new.national_id).await?;
            return Ok((confirmed.unwrap_or(found), Registered::ContactConfirmed));
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
        Ok((found, if inserted == 1 { Registered::New } else { Registered::Found }))
    }

    /// Staff's details of a person replace a provisional entry's.
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
        let found = tx.fetch_optional(self.by_national_id(association, national_id)).await?;
        found.as_ref().map(|r| self.stored_beneficiary(r)).transpose()
    }

    /// The same, read outside any transaction (a look that writes nothing).
    pub async fn beneficiary_on_file(
        &self,
        association: &str,
        national_id: &NationalId,
    ) -> Result<Option<StoredBeneficiary>, DbError> {
        let found = self.db().fetch_optional(self.by_national_id(association, national_id)).await?;
        found.as_ref().map(|r| self.stored_beneficiary(r)).transpose()
    }

    fn by_national_id(&self, association: &str, national_id: &NationalId) -> Sql {
        const SQL: &str = select_beneficiary!("b.association = $1 AND b.national_id_index IN ($2, $3)");
        let [current, previous] = self.personal().lookup(association, Field::NationalId, national_id.as_str());
        Sql::new(SQL).bind(association).bind(current).bind(previous)
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

    /// Marks the entry as having an account (identity announced one opened).
    pub async fn note_account(&self, tx: &mut Tx, beneficiary_id: Uuid) -> Result<(), DbError> {
        tx.execute(Sql::new("UPDATE beneficiaries SET has_account = 1 WHERE beneficiary_id = $1").bind(beneficiary_id))
            .await?;
        Ok(())
    }

    /// Entries of `association` by id; those not found (or another association's) are left out.
    pub async fn beneficiaries(&self, association: &str, ids: &[Uuid]) -> Result<Vec<StoredBeneficiary>, DbError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(entry) = self.beneficiary(*id).await?.filter(|b| b.association == association) {
                found.push(entry);
            }
        }
        Ok(found)
    }
}
