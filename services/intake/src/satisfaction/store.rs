//! Deliveries and ratings as stored, and the figures counted from them.

use crate::requests::store::IntakeStore;
use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::delivery::StepRecord;
use masar_domain::{Published, Rating, Satisfaction};
use masar_platform::db::{Backend, DbError, Sql, Tx};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A case's delivery records as kept: each step record with who recorded it
/// and when, oldest first, and the beneficiary's confirmations.
#[derive(Debug, Default)]
pub(crate) struct KeptRecord {
    pub records: Vec<(String, StepRecord, (String, DateTime<Utc>))>,
    pub confirmations: Vec<(String, DateTime<Utc>)>,
}

/// A delivered case that waits for its rating, as the unrated sweep reads it.
pub(crate) struct AwaitingRating {
    pub request_id: Uuid,
    pub association: String,
    pub policy_version: u32,
    pub delivered_at: DateTime<Utc>,
}

impl IntakeStore {
    pub(crate) async fn delivery_records(&self, request_id: Uuid) -> Result<KeptRecord, DbError> {
        let mut tx = self.db().begin().await?;
        let kept = self.delivery_records_in(&mut tx, request_id).await?;
        tx.commit().await?;
        Ok(kept)
    }

    pub(crate) async fn delivery_records_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<KeptRecord, DbError> {
        let sql = Sql::new(
            "SELECT step, done_on, contractor, provider, amount_sar, reference, note, complete, recorded_by, recorded_at \
             FROM delivery_records WHERE request_id = $1 ORDER BY recorded_at, record_id",
        )
        .bind(request_id);
        let records = tx
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                let amount = row.int("amount_sar")?;
                let record = StepRecord {
                    done_on: row.date("done_on")?,
                    contractor: row.text("contractor")?,
                    provider: row.text("provider")?,
                    amount_sar: (amount > 0).then_some(amount as u64),
                    reference: row.text("reference")?,
                    note: row.text("note")?,
                    complete: row.int("complete")? == 1,
                };
                Ok((row.text("step")?, record, (row.text("recorded_by")?, row.time("recorded_at")?)))
            })
            .collect::<Result<_, DbError>>()?;
        let sql =
            Sql::new("SELECT step, confirmed_at FROM delivery_confirmations WHERE request_id = $1").bind(request_id);
        let confirmations = tx
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| Ok((row.text("step")?, row.time("confirmed_at")?)))
            .collect::<Result<_, DbError>>()?;
        Ok(KeptRecord { records, confirmations })
    }

    pub(crate) async fn record_delivery_step(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        step: &str,
        record: &StepRecord,
        (by, at): (&str, DateTime<Utc>),
    ) -> Result<(), DbError> {
        let sql = Sql::new(
            "INSERT INTO delivery_records (record_id, request_id, step, done_on, contractor, provider, amount_sar, \
             reference, note, complete, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(Uuid::now_v7())
        .bind(request_id)
        .bind(step)
        .bind(record.done_on)
        .bind(&record.contractor)
        .bind(&record.provider)
        .bind(record.amount_sar.map_or(0, |a| a as i64))
        .bind(&record.reference)
        .bind(&record.note)
        .bind(i64::from(record.complete))
        .bind(by)
        .bind(at);
        tx.execute(sql).await?;
        Ok(())
    }

    /// The beneficiary's confirmation of a step; false if they confirmed it before.
    pub(crate) async fn confirm_delivery_step(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        step: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let sql = Sql::new(
            "INSERT INTO delivery_confirmations (request_id, step, note, confirmed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(request_id)
        .bind(step)
        .bind(note)
        .bind(at);
        Ok(tx.execute(sql).await? == 1)
    }

    /// Delivered cases still waiting for their rating, delivered before `before`, a batch at a time.
    pub(crate) async fn awaiting_rating(&self, before: DateTime<Utc>) -> Result<Vec<AwaitingRating>, DbError> {
        let sql = Sql::new(
            "SELECT d.request_id, r.association, r.policy_version, d.delivered_at FROM service_deliveries d \
             JOIN service_requests r ON r.request_id = d.request_id \
             WHERE d.rated = 0 AND d.delivered_at < $1 AND r.status = 'service_delivered' ORDER BY d.delivered_at LIMIT 200",
        )
        .bind(before);
        self.db()
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(AwaitingRating {
                    request_id: row.uuid("request_id")?,
                    association: row.text("association")?,
                    policy_version: row.unsigned("policy_version")?,
                    delivered_at: row.time("delivered_at")?,
                })
            })
            .collect()
    }

    /// Marks a delivered case closed without a rating; false if it was rated (or closed) meanwhile.
    pub(crate) async fn close_unrated(&self, tx: &mut Tx, request_id: Uuid) -> Result<bool, DbError> {
        let sql =
            Sql::new("UPDATE service_deliveries SET rated = 2 WHERE request_id = $1 AND rated = 0").bind(request_id);
        Ok(tx.execute(sql).await? == 1)
    }

    /// Whether a closed case closed by itself, unrated.
    pub(crate) async fn closed_unrated(&self, request_id: Uuid) -> Result<bool, DbError> {
        let sql = Sql::new("SELECT rated FROM service_deliveries WHERE request_id = $1").bind(request_id);
        Ok(match self.db().fetch_optional(sql).await? {
            Some(row) => row.int("rated")? == 2,
            None => false,
        })
    }

    /// Records the delivery; false if it was recorded before.
    pub(super) async fn insert_delivery(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        delivered_by: &str,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, DbError> {
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO service_deliveries (request_id, delivered_by, delivered_at, note) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(request_id)
                .bind(delivered_by)
                .bind(at)
                .bind(note),
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Marks the delivered request rated; false if it was rated before (or never delivered).
    pub(super) async fn mark_rated(&self, tx: &mut Tx, request_id: Uuid) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new("UPDATE service_deliveries SET rated = 1 WHERE request_id = $1 AND rated = 0")
                    .bind(request_id),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Keeps a rating apart from its case: a random id, the scope, the service type and the day.
    pub async fn keep_rating(
        &self,
        tx: &mut Tx,
        rated: &RatedService<'_>,
        rating: &Rating,
        on: NaiveDate,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO service_ratings (rating_id, association, branch, service_type, score, comment, rated_on) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            // Random, not time-ordered: the id must not date the rating more finely than its day.
            .bind(Uuid::new_v4())
            .bind(rated.association)
            .bind(rated.branch)
            .bind(rated.service_type)
            .bind(i64::from(rating.score()))
            .bind(rating.comment())
            .bind(on),
        )
        .await?;
        Ok(())
    }

    /// The ratings of a scope given from `from` to `to` (inclusive days), per service type.
    /// The publishable figures of each service type rated in `association`
    /// (one `branch`, or all) from `from` to `to`: the cells of each branch,
    /// service type and month, each counted only when it is large enough
    /// (see `masar_domain::satisfaction`). The caller chooses whole, ended months.
    pub async fn satisfaction(
        &self,
        association: &str,
        branch: Option<&str>,
        from: Option<NaiveDate>,
        to: NaiveDate,
    ) -> Result<BTreeMap<String, Published>, DbError> {
        const POSTGRES: &str = "SELECT branch, service_type, to_char(rated_on, 'YYYY-MM') AS month, score, \
             COUNT(*) AS ratings FROM service_ratings \
             WHERE association = $1 AND ($2 IS NULL OR branch = $2) AND ($3 IS NULL OR rated_on >= $3) \
             AND rated_on <= $4 GROUP BY branch, service_type, month, score";
        const SQLITE: &str = "SELECT branch, service_type, substr(rated_on, 1, 7) AS month, score, \
             COUNT(*) AS ratings FROM service_ratings \
             WHERE association = $1 AND ($2 IS NULL OR branch = $2) AND ($3 IS NULL OR rated_on >= $3) \
             AND rated_on <= $4 GROUP BY branch, service_type, month, score";
        let statement = match self.db().backend() {
            Backend::Postgres => POSTGRES,
            Backend::Sqlite => SQLITE,
        };
        let rows = self
            .db()
            .fetch_all(Sql::new(statement).bind(association).bind(branch.map(str::to_owned)).bind(from).bind(to))
            .await?;
        let mut cells: BTreeMap<(String, String, String), Satisfaction> = BTreeMap::new();
        for row in &rows {
            let cell = (row.text("service_type")?, row.text("branch")?, row.text("month")?);
            cells.entry(cell).or_default().add(row.unsigned("score")?, row.unsigned("ratings")?);
        }
        let mut figures: BTreeMap<String, Published> = BTreeMap::new();
        for ((service_type, _, _), cell) in &cells {
            figures.entry(service_type.clone()).or_default().add_cell(cell);
        }
        Ok(figures)
    }
}

/// What a rating says of the service it rates: where, and which service type.
pub struct RatedService<'a> {
    pub association: &'a str,
    pub branch: &'a str,
    pub service_type: &'a str,
}
