//! Sessions that ended before their time. An access token lives 15 minutes
//! and is checked by signature alone; a session revoked meanwhile (signed
//! out, a password changed, a replaced refresh token used again) must not
//! keep its tokens working. Identity announces each revocation
//! (`session.revoked`, through its outbox); every service keeps it in its
//! own `revoked_sessions` table, so it survives restarts and Redis losing
//! its data, and each replica holds the table in memory, read again every
//! [`RELOAD_EVERY`]. A revoked session's tokens are refused within that
//! bound of the announcement reaching the service (the service that revoked
//! it, at once).

use crate::db::{Db, DbError, Sql, Tx};
use crate::messaging::HandlerError;
use chrono::{DateTime, Utc};
use masar_proto::events::v1 as events;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often each replica reads its service's revocations again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// How long a revocation made here is held without the table: longer than
/// any access token lives, by then the table has it.
const HELD_HERE_FOR: Duration = Duration::from_secs(20 * 60);

/// The revoked sessions this process refuses the tokens of.
#[derive(Clone, Default)]
pub struct Revocations {
    inner: Arc<RwLock<Known>>,
}

#[derive(Default)]
struct Known {
    /// As the service's table last read.
    stored: HashSet<String>,
    /// Revoked by this process, maybe not in the table yet.
    here: Vec<(String, std::time::Instant)>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Revocations")
    }
}

impl Revocations {
    pub fn is_revoked(&self, session_id: &str) -> bool {
        let known = self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        known.stored.contains(session_id) || known.here.iter().any(|(id, _)| id == session_id)
    }

    /// Refuses the session's tokens in this process at once (the one that revoked it).
    pub fn revoke_here(&self, session_id: &str) {
        let mut known = self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        known.here.push((session_id.to_owned(), std::time::Instant::now()));
    }

    /// Keeps an announced revocation in the service's table (idempotent: a redelivery changes nothing).
    pub async fn keep(tx: &mut Tx, revoked: &events::SessionRevoked) -> Result<(), HandlerError> {
        if revoked.session_id.is_empty() {
            return Err(HandlerError::Reject("a revocation names no session".into()));
        }
        tx.execute(
            Sql::new(
                "INSERT INTO revoked_sessions (session_id, association, revoked_at, forget_after) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(revoked.session_id.clone())
            .bind(revoked.association.clone())
            .bind(masar_proto::to_datetime(revoked.revoked_at.as_ref()))
            .bind(masar_proto::to_datetime(revoked.forget_after.as_ref())),
        )
        .await?;
        Ok(())
    }

    /// Reads the table again: every revocation not yet forgotten.
    pub async fn reload(&self, db: &Db, now: DateTime<Utc>) -> Result<(), DbError> {
        let rows =
            db.fetch_all(Sql::new("SELECT session_id FROM revoked_sessions WHERE forget_after > $1").bind(now)).await?;
        let stored: HashSet<String> = rows.iter().map(|row| row.text("session_id")).collect::<Result<_, _>>()?;
        let mut known = self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        known.stored = stored;
        known.here.retain(|(_, at)| at.elapsed() < HELD_HERE_FOR);
        Ok(())
    }

    /// Reads the table every [`RELOAD_EVERY`] until `shutdown`, and forgets
    /// what no token outlives any more.
    pub async fn run(self, db: Db, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(RELOAD_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let now = Utc::now();
            let read = async {
                self.reload(&db, now).await?;
                db.execute(Sql::new("DELETE FROM revoked_sessions WHERE forget_after <= $1").bind(now)).await
            };
            match read.await {
                Ok(_) => failing = false,
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "reading revoked sessions failed; the last ones read still apply");
                }
                Err(_) => {}
            }
        }
    }
}
