//! Taking over what intake kept before identity was a service of its own:
//! intake's migration 0016 leaves its `accounts` and `staff_credentials`
//! in place, and identity copies them once, on the first start that finds
//! its own tables empty. Sessions, identity checks and the day's SMS counts
//! are not taken over: their holders sign in again, start a check again.

use masar_platform::db::{Backend, Db, DbError, Sql};

/// Copies intake's accounts and staff passwords into identity's tables when
/// identity has none and intake has some; returns how many rows it copied.
pub async fn adopt_from_intake(intake: &Db, identity: &Db) -> Result<u64, DbError> {
    let count = Sql::new("SELECT (SELECT COUNT(*) FROM accounts) + (SELECT COUNT(*) FROM staff_credentials) AS held");
    let held: u64 = identity.fetch_optional(count).await?.map_or(Ok(0), |r| r.unsigned("held"))?;
    if held > 0 || !has_table(intake, "accounts").await? || !has_table(intake, "staff_credentials").await? {
        return Ok(0);
    }
    let accounts = intake
        .fetch_all(Sql::new(
            "SELECT account_id, association, beneficiary_id, username, password_hash, must_change_password, channel, \
             opened_by, opened_at, password_changed_at, mobile, mobile_index, standing, verified_at, verified_by, \
             closed_at, closed_reason FROM accounts",
        ))
        .await?;
    let staff = intake
        .fetch_all(Sql::new(
            "SELECT association, username, password_hash, must_change_password, set_by, set_at FROM staff_credentials",
        ))
        .await?;
    // One transaction: a start that fails halfway copies nothing, and the next one tries again.
    let mut tx = identity.begin().await?;
    let mut copied = 0;
    for row in &accounts {
        copied += tx
            .execute(
                Sql::new(
                    "INSERT INTO accounts (account_id, association, beneficiary_id, username, password_hash, \
                     must_change_password, channel, opened_by, opened_at, password_changed_at, mobile, mobile_index, \
                     standing, verified_at, verified_by, closed_at, closed_reason) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(row.uuid("account_id")?)
                .bind(row.text("association")?)
                .bind(row.uuid("beneficiary_id")?)
                .bind(row.text("username")?)
                .bind(row.text("password_hash")?)
                .bind(row.int("must_change_password")?)
                .bind(row.text("channel")?)
                .bind(row.text("opened_by")?)
                .bind(row.time("opened_at")?)
                .bind(row.optional_time("password_changed_at")?)
                .bind(row.text("mobile")?)
                .bind(row.optional_text("mobile_index")?)
                .bind(row.text("standing")?)
                .bind(row.optional_time("verified_at")?)
                .bind(row.optional_text("verified_by")?)
                .bind(row.optional_time("closed_at")?)
                .bind(row.optional_text("closed_reason")?),
            )
            .await?;
    }
    for row in &staff {
        copied += tx
            .execute(
                Sql::new(
                    "INSERT INTO staff_credentials (association, username, password_hash, must_change_password, \
                     set_by, set_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(row.text("association")?)
                .bind(row.text("username")?)
                .bind(row.text("password_hash")?)
                .bind(row.int("must_change_password")?)
                .bind(row.text("set_by")?)
                .bind(row.time("set_at")?),
            )
            .await?;
    }
    tx.commit().await?;
    if copied > 0 {
        tracing::info!(copied, "accounts and staff passwords taken over from intake");
    }
    Ok(copied)
}

async fn has_table(db: &Db, table: &'static str) -> Result<bool, DbError> {
    let sql = match db.backend() {
        Backend::Postgres => {
            Sql::new("SELECT COUNT(*) AS present FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1")
        }
        Backend::Sqlite => Sql::new("SELECT COUNT(*) AS present FROM sqlite_master WHERE type = 'table' AND name = $1"),
    };
    Ok(db.fetch_optional(sql.bind(table)).await?.map_or(Ok(0), |r| r.int("present"))? > 0)
}
