//! Counts the cases of every stage for the metrics: how many are in each
//! status, how long the oldest has waited, and how many wait past the reply
//! date the beneficiary was promised (the policies' two weeks). Also sweeps
//! stored files that no document row names.

use crate::requests::store::IntakeStore;
use chrono::Utc;
use masar_domain::CaseStatus;
use masar_domain::calendar::saudi_day;
use masar_platform::CancellationToken;
use masar_platform::db::{DbError, Sql};
use masar_platform::metrics::metrics;
use std::time::Duration;

/// How often stored files no document names are looked for, and how old
/// such a file must be before it is removed.
const ORPHANS_EVERY: Duration = Duration::from_secs(3600);
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Counts every `every` until `shutdown`, and sweeps orphaned files hourly.
pub(crate) async fn count_cases(
    store: IntakeStore,
    documents: crate::requests::attachments::DocumentStore,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut last_swept: Option<tokio::time::Instant> = None;
    loop {
        if let Err(error) = count_once(&store).await {
            tracing::warn!(%error, "counting cases for the metrics failed");
        }
        if last_swept.is_none_or(|at| at.elapsed() >= ORPHANS_EVERY) {
            last_swept = Some(tokio::time::Instant::now());
            match documents.sweep_orphans(&store, ORPHAN_GRACE, 1000).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "stored files no document names were removed"),
                Err(error) => tracing::warn!(%error, "sweeping unreferenced files failed"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn count_once(store: &IntakeStore) -> Result<(), DbError> {
    let rows = store
        .db()
        .fetch_all(Sql::new(
            "SELECT association, status, expected_decision_on, COUNT(*) AS n, MIN(submitted_at) AS oldest \
             FROM service_requests GROUP BY association, status, expected_decision_on",
        ))
        .await?;
    let today = saudi_day(Utc::now());
    let now = Utc::now();
    let (cases, oldest, late) =
        (&metrics().cases, &metrics().oldest_case_seconds, &metrics().cases_past_promised_reply);
    // Statuses no case holds any more read 0, not their last count.
    cases.reset();
    oldest.reset();
    late.reset();
    for row in &rows {
        let association = row.text("association")?;
        let status: CaseStatus = row.parsed("status", CaseStatus::parse)?;
        let n = row.int("n")?;
        cases.with_label_values(&[association.as_str(), status.as_str()]).add(n);
        let age = (now - row.time("oldest")?).num_seconds().max(0) as f64;
        let oldest_of = oldest.with_label_values(&[association.as_str(), status.as_str()]);
        oldest_of.set(oldest_of.get().max(age));
        if status.awaits_reply() && row.date("expected_decision_on")? < today {
            late.with_label_values(&[association.as_str()]).add(n);
        }
    }
    Ok(())
}
