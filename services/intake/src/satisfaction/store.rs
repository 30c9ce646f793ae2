//! Deliveries and ratings as stored, and the figures counted from them.

use crate::requests::store::IntakeStore;
use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::{Published, Rating, Satisfaction};
use masar_platform::db::{Backend, DbError, Sql, Tx};
use std::collections::BTreeMap;
use uuid::Uuid;

impl IntakeStore {
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
