//! Keeping personal data sealed with the newest key: after a rotation (and
//! for rows stored before sealing began) a background job re-seals rows a
//! batch at a time, recomputing their blind indexes. Lookups match the newest
//! and the previous key's indexes meanwhile, so nothing stops.

use crate::requests::store::IntakeStore;
use masar_domain::people::name_key;
use masar_platform::db::{DbError, Row, Sql};
use masar_platform::personal::{Field, RESEAL_BATCH};

impl IntakeStore {
    /// Rows not yet sealed with the newest key, over every table that holds personal data.
    pub async fn rows_to_reseal(&self) -> Result<u64, DbError> {
        let row = self
            .db()
            .fetch_optional(
                Sql::new(
                    "SELECT (SELECT COUNT(*) FROM service_requests WHERE national_id NOT LIKE $1 \
                     OR national_id_index IS NULL) + (SELECT COUNT(*) FROM beneficiaries WHERE national_id NOT LIKE $1 \
                     OR mobile NOT LIKE $1 OR national_id_index IS NULL) + (SELECT COUNT(*) FROM inquiries \
                     WHERE mobile IS NOT NULL AND mobile NOT LIKE $1) AS stale",
                )
                .bind(self.personal().current_like_pattern()),
            )
            .await?;
        row.map_or(Ok(0), |r| r.unsigned("stale"))
    }

    /// Re-seals one batch of each table; returns how many rows it changed.
    pub async fn reseal_batch(&self) -> Result<u64, DbError> {
        Ok(self.reseal_requests().await? + self.reseal_beneficiaries().await? + self.reseal_inquiries().await?)
    }

    fn opened(&self, row: &Row, field: Field, column: &str) -> Result<String, DbError> {
        self.open(&row.text("association")?, field, &row.text(column)?)
    }

    async fn reseal_requests(&self) -> Result<u64, DbError> {
        let rows = self
            .db()
            .fetch_all(
                Sql::new(
                    "SELECT request_id, association, national_id, mobile, facts, address FROM service_requests \
                     WHERE national_id NOT LIKE $1 OR national_id_index IS NULL LIMIT $2",
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
            let (national_id, mobile, facts) = (
                self.opened(row, Field::NationalId, "national_id")?,
                self.opened(row, Field::Mobile, "mobile")?,
                self.opened(row, Field::Facts, "facts")?,
            );
            // Written with the rest of the row, so sealed with the same key.
            let address = row
                .optional_text("address")?
                .map(|sealed| self.open(&association, Field::Address, &sealed))
                .transpose()?;
            // Conditional on what was read: a row changed meanwhile is left to the next pass.
            resealed += tx
                .execute(
                    Sql::new(
                        "UPDATE service_requests SET national_id = $1, mobile = $2, facts = $3, national_id_index = $4, \
                         address = $9 WHERE request_id = $5 AND national_id = $6 AND mobile = $7 AND facts = $8",
                    )
                    .bind(self.seal(&association, Field::NationalId, &national_id))
                    .bind(self.seal(&association, Field::Mobile, &mobile))
                    .bind(self.seal(&association, Field::Facts, &facts))
                    .bind(self.personal().index(&association, Field::NationalId, &national_id))
                    .bind(row.uuid("request_id")?)
                    .bind(row.text("national_id")?)
                    .bind(row.text("mobile")?)
                    .bind(row.text("facts")?)
                    .bind(address.map(|clear| self.seal(&association, Field::Address, &clear))),
                )
                .await?;
        }
        tx.commit().await?;
        Ok(resealed)
    }

    async fn reseal_beneficiaries(&self) -> Result<u64, DbError> {
        let rows = self
            .db()
            .fetch_all(
                Sql::new(
                    "SELECT beneficiary_id, association, national_id, mobile, full_name FROM beneficiaries \
                     WHERE national_id NOT LIKE $1 OR mobile NOT LIKE $1 OR national_id_index IS NULL LIMIT $2",
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
            let national_id = self.opened(row, Field::NationalId, "national_id")?;
            let mobile = self.opened(row, Field::Mobile, "mobile")?;
            let personal = self.personal();
            resealed += tx
                .execute(
                    Sql::new(
                        "UPDATE beneficiaries SET national_id = $1, mobile = $2, name_key = $3, \
                         national_id_index = $4, mobile_index = $5 \
                         WHERE beneficiary_id = $6 AND national_id = $7 AND mobile = $8",
                    )
                    .bind(self.seal(&association, Field::NationalId, &national_id))
                    .bind(self.seal(&association, Field::Mobile, &mobile))
                    .bind(personal.index(&association, Field::NameKey, &name_key(&row.text("full_name")?)))
                    .bind(personal.index(&association, Field::NationalId, &national_id))
                    .bind(personal.index(&association, Field::Mobile, &mobile))
                    .bind(row.uuid("beneficiary_id")?)
                    .bind(row.text("national_id")?)
                    .bind(row.text("mobile")?),
                )
                .await?;
        }
        tx.commit().await?;
        Ok(resealed)
    }

    async fn reseal_inquiries(&self) -> Result<u64, DbError> {
        let rows = self
            .db()
            .fetch_all(
                Sql::new(
                    "SELECT inquiry_id, association, mobile FROM inquiries \
                     WHERE mobile IS NOT NULL AND mobile NOT LIKE $1 LIMIT $2",
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
            let mobile = self.opened(row, Field::Mobile, "mobile")?;
            resealed += tx
                .execute(
                    Sql::new("UPDATE inquiries SET mobile = $1 WHERE inquiry_id = $2 AND mobile = $3")
                        .bind(self.seal(&association, Field::Mobile, &mobile))
                        .bind(row.uuid("inquiry_id")?)
                        .bind(row.text("mobile")?),
                )
                .await?;
        }
        tx.commit().await?;
        Ok(resealed)
    }
}
