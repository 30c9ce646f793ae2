//! The stage clocks and alerts as kept.

use crate::requests::store::StoredRequest;
use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::working_days::StageClock;
use masar_domain::{ActorRole, Stage};
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::paging::PageRequest;
use uuid::Uuid;

/// The statuses whose case waits on a stage with a target (`CaseStatus::awaiting`), as SQL lists them.
macro_rules! awaiting {
    () => {
        "('submitted', 'verified', 'researcher_assigned', 'field_visit_recorded', 'recommended', 'on_committee_agenda', 'deferred')"
    };
}

/// Cases whose status changed since their clock was read (or that have none yet), a batch at a time.
const MOVED: &str = concat!(
    "SELECT r.request_id FROM service_requests r LEFT JOIN stage_clocks c ON c.request_id = r.request_id ",
    "WHERE (c.request_id IS NULL AND r.status IN ",
    awaiting!(),
    ") OR (c.request_id IS NOT NULL AND c.status <> r.status) LIMIT 200"
);

pub(crate) struct SupervisionStore {
    pub db: Db,
}

/// A stage past its deadline whose supervisors were not alerted yet.
pub(crate) struct Breach {
    pub request_id: Uuid,
    pub stage: Stage,
    pub deadline: NaiveDate,
    pub promise_revised_to: Option<NaiveDate>,
}

pub(crate) struct Overdue {
    pub request_id: Uuid,
    pub reference: String,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub stage: Stage,
    pub started_at: DateTime<Utc>,
    pub deadline: NaiveDate,
    pub escalated_at: Option<DateTime<Utc>>,
}

pub(crate) struct StoredAlert {
    pub alert_id: Uuid,
    pub request_id: Uuid,
    pub reference: String,
    pub branch: String,
    pub stage: Stage,
    pub deadline: NaiveDate,
    pub raised_at: DateTime<Utc>,
}

fn stage(row: &Row) -> Result<Stage, DbError> {
    row.parsed("stage", Stage::parse)
}

impl SupervisionStore {
    pub async fn moved_since_read(&self) -> Result<Vec<Uuid>, DbError> {
        self.db.fetch_all(Sql::new(MOVED)).await?.iter().map(|row| row.uuid("request_id")).collect()
    }

    /// Keeps a case's clock as read for its status now: a new stage (or a
    /// new stretch on one) starts a new clock, whose breach is a new one; a
    /// case waiting on no stage keeps none.
    pub async fn keep_clock(
        &self,
        stored: &StoredRequest,
        clock: Option<&(StageClock, DateTime<Utc>)>,
    ) -> Result<(), DbError> {
        let Some((clock, started_at)) = clock else {
            if stored.status.awaiting().is_some() {
                // Awaiting a stage its pack sets no target for: read, and nothing to watch.
                return self.keep_unwatched(stored).await;
            }
            let sql = Sql::new("DELETE FROM stage_clocks WHERE request_id = $1").bind(stored.request_id);
            self.db.execute(sql).await?;
            return Ok(());
        };
        let sql = Sql::new(
            "INSERT INTO stage_clocks (request_id, association, branch, status, stage, started_at, deadline) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO UPDATE SET \
             escalated_at = CASE WHEN stage_clocks.stage = excluded.stage AND stage_clocks.started_at = excluded.started_at \
             THEN stage_clocks.escalated_at ELSE NULL END, \
             status = excluded.status, stage = excluded.stage, started_at = excluded.started_at, \
             deadline = excluded.deadline, branch = excluded.branch",
        )
        .bind(stored.request_id)
        .bind(&stored.association)
        .bind(&stored.branch)
        .bind(stored.status.as_str())
        .bind(clock.stage.as_str())
        .bind(*started_at)
        .bind(clock.deadline);
        self.db.execute(sql).await?;
        Ok(())
    }

    /// The later reply date the beneficiary was last told, if the promise slipped.
    pub async fn revised_promise(&self, request_id: Uuid) -> Result<Option<NaiveDate>, DbError> {
        let sql = Sql::new("SELECT promise_revised_to FROM stage_clocks WHERE request_id = $1").bind(request_id);
        match self.db.fetch_optional(sql).await? {
            Some(row) => row.optional_date("promise_revised_to"),
            None => Ok(None),
        }
    }

    /// Keeps a case read whose stage has no target (an older version): no
    /// stage, no deadline that could pass, so it is neither read again nor
    /// ever overdue until its status changes.
    async fn keep_unwatched(&self, stored: &StoredRequest) -> Result<(), DbError> {
        let sql = Sql::new(
            "INSERT INTO stage_clocks (request_id, association, branch, status, stage, started_at, deadline) \
             VALUES ($1, $2, $3, $4, '', $5, $6) ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, \
             stage = '', started_at = excluded.started_at, deadline = excluded.deadline, escalated_at = NULL",
        )
        .bind(stored.request_id)
        .bind(&stored.association)
        .bind(&stored.branch)
        .bind(stored.status.as_str())
        .bind(Utc::now())
        .bind(NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid day"));
        self.db.execute(sql).await?;
        Ok(())
    }

    /// Breaches not raised yet, of clocks read for the case's status as it still is.
    pub async fn new_breaches(&self, today: NaiveDate) -> Result<Vec<Breach>, DbError> {
        let sql = Sql::new(
            "SELECT c.request_id, c.stage, c.deadline, c.promise_revised_to FROM stage_clocks c \
             JOIN service_requests r ON r.request_id = c.request_id \
             WHERE c.escalated_at IS NULL AND c.deadline < $1 AND c.stage <> '' AND c.status = r.status \
             ORDER BY c.deadline LIMIT 100",
        )
        .bind(today);
        self.db
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(Breach {
                    request_id: row.uuid("request_id")?,
                    stage: stage(row)?,
                    deadline: row.date("deadline")?,
                    promise_revised_to: row.optional_date("promise_revised_to")?,
                })
            })
            .collect()
    }

    /// Marks the breach raised; false when it was (by another replica) or the clock moved on.
    pub async fn mark_escalated(&self, tx: &mut Tx, breach: &Breach, now: DateTime<Utc>) -> Result<bool, DbError> {
        let sql = Sql::new(
            "UPDATE stage_clocks SET escalated_at = $1 WHERE request_id = $2 AND escalated_at IS NULL \
             AND stage = $3 AND deadline = $4",
        )
        .bind(now)
        .bind(breach.request_id)
        .bind(breach.stage.as_str())
        .bind(breach.deadline);
        Ok(tx.execute(sql).await? == 1)
    }

    pub async fn raise_alert(
        &self,
        tx: &mut Tx,
        stored: &StoredRequest,
        to: ActorRole,
        breach: &Breach,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let sql = Sql::new(
            "INSERT INTO alerts (alert_id, association, branch, role, request_id, reference, stage, deadline, raised_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(&stored.association)
        .bind(&stored.branch)
        .bind(to.as_str())
        .bind(stored.request_id)
        .bind(&stored.reference)
        .bind(breach.stage.as_str())
        .bind(breach.deadline)
        .bind(now);
        tx.execute(sql).await?;
        Ok(())
    }

    /// Records the later reply date the beneficiary is told; false if they were told it (or a later one) already.
    pub async fn revise_promise(&self, tx: &mut Tx, request_id: Uuid, to: NaiveDate) -> Result<bool, DbError> {
        let sql = Sql::new(
            "UPDATE stage_clocks SET promise_revised_to = $1 WHERE request_id = $2 \
             AND (promise_revised_to IS NULL OR promise_revised_to < $1)",
        )
        .bind(to)
        .bind(request_id);
        Ok(tx.execute(sql).await? == 1)
    }

    /// A page of a scope's cases past their stage's deadline, the stage begun longest ago first.
    pub async fn overdue(
        &self,
        association: &str,
        branch: Option<&str>,
        only: Option<Stage>,
        today: NaiveDate,
        page: &PageRequest,
    ) -> Result<Vec<Overdue>, DbError> {
        let sql = Sql::new(
            "SELECT c.request_id, r.reference, c.association, c.branch, r.service_type, c.stage, c.started_at, \
             c.deadline, c.escalated_at FROM stage_clocks c JOIN service_requests r ON r.request_id = c.request_id \
             WHERE c.association = $1 AND ($2 IS NULL OR c.branch = $2) AND ($3 = '' OR c.stage = $3) \
             AND c.deadline < $4 AND c.stage <> '' AND c.status = r.status \
             AND ($5 IS NULL OR c.started_at > $5 OR (c.started_at = $5 AND c.request_id > $6)) \
             ORDER BY c.started_at, c.request_id LIMIT $7",
        )
        .bind(association)
        .bind(branch.map(str::to_owned))
        .bind(only.map_or("", Stage::as_str))
        .bind(today)
        .bind_page(page);
        self.db
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(Overdue {
                    request_id: row.uuid("request_id")?,
                    reference: row.text("reference")?,
                    association: row.text("association")?,
                    branch: row.text("branch")?,
                    service_type: row.text("service_type")?,
                    stage: stage(row)?,
                    started_at: row.time("started_at")?,
                    deadline: row.date("deadline")?,
                    escalated_at: row.optional_time("escalated_at")?,
                })
            })
            .collect()
    }

    /// A page of the alerts addressed to a post in a scope, the latest first.
    pub async fn alerts(
        &self,
        association: &str,
        role: ActorRole,
        branch: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<StoredAlert>, DbError> {
        let sql = Sql::new(
            "SELECT alert_id, request_id, reference, branch, stage, deadline, raised_at FROM alerts \
             WHERE association = $1 AND role = $2 AND ($3 IS NULL OR branch = $3) \
             AND ($4 IS NULL OR raised_at < $4 OR (raised_at = $4 AND alert_id < $5)) \
             ORDER BY raised_at DESC, alert_id DESC LIMIT $6",
        )
        .bind(association)
        .bind(role.as_str())
        .bind(branch.map(str::to_owned))
        .bind_page(page);
        self.db
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(StoredAlert {
                    alert_id: row.uuid("alert_id")?,
                    request_id: row.uuid("request_id")?,
                    reference: row.text("reference")?,
                    branch: row.text("branch")?,
                    stage: stage(row)?,
                    deadline: row.date("deadline")?,
                    raised_at: row.time("raised_at")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use masar_domain::CaseStatus;

    #[test]
    fn the_clocks_read_the_statuses_that_await_a_stage() {
        let awaiting: Vec<String> =
            CaseStatus::ALL.iter().filter(|s| s.awaiting().is_some()).map(|s| format!("'{}'", s.as_str())).collect();
        assert_eq!(awaiting!(), format!("({})", awaiting.join(", ")));
    }
}
