//! Each hand-off of the filings, per filing, in either shape: from the
//! producer's outbox commit to the consumer's inbox commit (the same event,
//! joined by its id across the two services' databases), and on to the SMS
//! row and its sending. The distributed shape reads them with one join per
//! hop across its schemas; the embedded suite's services keep a SQLite file
//! each, so they are joined here.

use super::Latencies;
use chrono::{DateTime, Utc};
use masar_platform::db::{Db, Sql};
use masar_platform::role::Role;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The hops each shape reports, in this order.
pub(super) const TO_VERIFICATION: &str = "request.submitted, intake → verification";
pub(super) const TO_NOTIFICATION: &str = "request.submitted, intake → notification";
pub(super) const SMS_WRITTEN: &str = "submitted → its SMS row written";
pub(super) const SMS_SENT: &str = "submitted → its SMS sent";

/// The worst p99 of the queue hops proper (outbox commit → consumer commit), in ms.
pub(super) fn worst_queue_hop_ms(hops: &[(String, Latencies)]) -> f64 {
    hops.iter()
        .filter(|(hop, _)| hop == TO_VERIFICATION || hop == TO_NOTIFICATION)
        .map(|(_, l)| l.ms(99.0))
        .fold(0.0, f64::max)
}

/// The hops of the embedded suite whose files are in `data_dir`, once every
/// one of `filings` has had its "received" SMS sent.
pub(super) async fn embedded(data_dir: &Path, filings: usize) -> anyhow::Result<Vec<(String, Latencies)>> {
    let open = |role| crate::embedded_database(role, data_dir);
    let (intake, verification, notification) =
        (open(Role::Intake).await?, open(Role::Verification).await?, open(Role::Notification).await?);
    let deadline = Instant::now() + Duration::from_secs(60);
    let sent = "SELECT COUNT(*) AS n FROM messages WHERE event_type = 'request.submitted' AND sent_at IS NOT NULL";
    while notification.fetch_optional(Sql::new(sent)).await?.map(|row| row.int("n")).transpose()?.unwrap_or(0)
        < filings as i64
    {
        anyhow::ensure!(Instant::now() < deadline, "the filings' SMS did not all go out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let submitted =
        times(&intake, "SELECT event_id, created_at AS at FROM outbox WHERE event_type = 'request.submitted'").await?;
    let inbox = "SELECT event_id, processed_at AS at FROM inbox";
    let (to_verification, to_notification) = (times(&verification, inbox).await?, times(&notification, inbox).await?);
    let messages = "SELECT event_id, created_at AS at FROM messages WHERE event_type = 'request.submitted'";
    let written = times(&notification, messages).await?;
    let sent_at =
        "SELECT event_id, sent_at AS at FROM messages WHERE event_type = 'request.submitted' AND sent_at IS NOT NULL";
    let sent = times(&notification, sent_at).await?;
    for db in [&intake, &verification, &notification] {
        db.close().await;
    }
    let after = |later: &HashMap<String, DateTime<Utc>>| {
        Latencies::new(
            submitted
                .iter()
                .filter_map(|(event, at)| later.get(event).map(|then| (*then - *at).to_std().unwrap_or_default()))
                .collect(),
        )
    };
    Ok(vec![
        (TO_VERIFICATION.to_owned(), after(&to_verification)),
        (TO_NOTIFICATION.to_owned(), after(&to_notification)),
        (SMS_WRITTEN.to_owned(), after(&written)),
        (SMS_SENT.to_owned(), after(&sent)),
    ])
}

/// Each event's time in `sql`'s `event_id` and `at` columns.
async fn times(db: &Db, sql: &'static str) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
    let rows = db.fetch_all(Sql::new(sql)).await?;
    rows.iter().map(|row| Ok((row.text("event_id")?, row.time("at")?))).collect()
}
