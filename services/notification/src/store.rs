//! Notification's data: recipients and messages, and the dispatcher that
//! sends pending messages.

use crate::sms::{Lookup, Sms, SmsProvider};
use chrono::{DateTime, Utc};
use masar_domain::{Language, SaudiMobile};
use masar_platform::CancellationToken;
use masar_platform::db::{Backend, Db, DbError, Row, Sql, Tx};
use masar_platform::personal::{Field, PersonalData};
use masar_platform::queue::Message;
use masar_platform::sealing::Sealer;
use masar_proto::events::v1::{CaseRef, RequestSubmitted};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// A message that keeps failing is given up after this many attempts.
const MAX_ATTEMPTS: i64 = 5;

#[derive(Clone)]
pub struct NotificationStore {
    db: Db,
    /// Numbers are stored sealed, as intake sealed them in its events.
    personal: PersonalData,
}

#[derive(Debug, Clone)]
pub struct Recipient {
    pub association: String,
    pub branch: String,
    pub reference: String,
    /// As the submission carried it: sealed with the association's key.
    pub sealed_mobile: String,
    pub language: String,
    /// The channel the request came through.
    pub channel: String,
}

/// A message to store for sending.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// What it is about: a request, an account or an inquiry.
    pub subject_id: Uuid,
    pub event: &'a Message,
    /// Whose key the number is sealed with.
    pub association: &'a str,
    /// Sealed, as the event carried it (a number in clear is stored as it is).
    pub mobile: &'a str,
    pub language: Language,
    pub body: &'a str,
    pub channel: &'a str,
    /// A secret the body names as `{password}`, sealed until the moment of sending.
    pub sealed_secret: Option<&'a str>,
}

/// Where a sealed secret goes in a message body.
pub const SECRET_PLACEHOLDER: &str = "{password}";

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub message_id: Uuid,
    pub event_type: String,
    pub language: String,
    pub mobile: String,
    pub body: String,
    pub status: String,
    pub channel: String,
    pub sealed_secret: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl NotificationStore {
    fn stored_message(&self, row: &Row) -> Result<StoredMessage, DbError> {
        Ok(StoredMessage {
            message_id: row.uuid("message_id")?,
            event_type: row.text("event_type")?,
            language: row.text("language")?,
            mobile: self.open(&row.text("association")?, &row.text("mobile")?)?,
            body: row.text("body")?,
            status: row.text("status")?,
            channel: row.text("channel")?,
            sealed_secret: row.optional_text("sealed_secret")?,
            attempts: row.int("attempts")?,
            created_at: row.time("created_at")?,
            sent_at: row.optional_time("sent_at")?,
        })
    }

    fn open(&self, association: &str, mobile: &str) -> Result<String, DbError> {
        Ok(self.personal.open(association, Field::Mobile, mobile)?)
    }
}

impl NotificationStore {
    /// Numbers not yet sealed with the newest key.
    pub async fn rows_to_reseal(&self) -> Result<u64, DbError> {
        let current = self.personal.current_like_pattern();
        let sql = Sql::new(
            "SELECT (SELECT COUNT(*) FROM recipients WHERE mobile NOT LIKE $1) \
             + (SELECT COUNT(*) FROM messages WHERE mobile NOT LIKE $1) AS stale",
        )
        .bind(current);
        self.db.fetch_optional(sql).await?.map_or(Ok(0), |r| r.unsigned("stale"))
    }

    /// Re-seals one batch of numbers sealed with an older key (or stored in
    /// clear before sealing began); returns how many rows it changed.
    pub async fn reseal_batch(&self) -> Result<u64, DbError> {
        let current = self.personal.current_like_pattern();
        let recipients = self
            .db
            .fetch_all(
                Sql::new("SELECT request_id, association, mobile FROM recipients WHERE mobile NOT LIKE $1 LIMIT $2")
                    .bind(current.clone())
                    .bind(masar_platform::personal::RESEAL_BATCH),
            )
            .await?;
        let messages = self
            .db
            .fetch_all(
                Sql::new("SELECT message_id, association, mobile FROM messages WHERE mobile NOT LIKE $1 LIMIT $2")
                    .bind(current)
                    .bind(masar_platform::personal::RESEAL_BATCH),
            )
            .await?;
        if recipients.is_empty() && messages.is_empty() {
            // Nothing to do takes no write lock (SQLite's transactions take it up front).
            return Ok(0);
        }
        // Read first, then one transaction for both tables' rows: one commit, and no second connection held.
        let mut tx = self.db.begin().await?;
        let mut resealed = 0;
        for row in &recipients {
            let association = row.text("association")?;
            let mobile = self.open(&association, &row.text("mobile")?)?;
            let sql = Sql::new("UPDATE recipients SET mobile = $1 WHERE request_id = $2 AND mobile = $3")
                .bind(self.personal.seal(&association, Field::Mobile, &mobile))
                .bind(row.uuid("request_id")?)
                .bind(row.text("mobile")?);
            resealed += tx.execute(sql).await?;
        }
        for row in &messages {
            let association = row.text("association")?;
            let mobile = self.open(&association, &row.text("mobile")?)?;
            let sql = Sql::new("UPDATE messages SET mobile = $1 WHERE message_id = $2 AND mobile = $3")
                .bind(self.personal.seal(&association, Field::Mobile, &mobile))
                .bind(row.uuid("message_id")?)
                .bind(row.text("mobile")?);
            resealed += tx.execute(sql).await?;
        }
        tx.commit().await?;
        Ok(resealed)
    }

    pub fn new(db: Db, personal: PersonalData) -> Self {
        Self { db, personal }
    }

    pub async fn remember_recipient(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        case: &CaseRef,
        event: &RequestSubmitted,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO recipients (request_id, association, branch, reference, mobile, language, channel) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO UPDATE SET mobile = excluded.mobile, \
                 language = excluded.language",
            )
            .bind(request_id)
            .bind(&case.association)
            .bind(&case.branch)
            .bind(&event.reference)
            .bind(&event.mobile)
            .bind(&event.preferred_language)
            .bind(&event.channel),
        )
        .await?;
        Ok(())
    }

    pub async fn recipient_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<Recipient>, DbError> {
        let row = tx
            .fetch_optional(
                Sql::new(
                    "SELECT association, branch, reference, mobile, language, channel FROM recipients \
                     WHERE request_id = $1",
                )
                .bind(request_id),
            )
            .await?;
        row.map(|row| {
            Ok(Recipient {
                association: row.text("association")?,
                branch: row.text("branch")?,
                reference: row.text("reference")?,
                sealed_mobile: row.text("mobile")?,
                language: row.text("language")?,
                channel: row.text("channel")?,
            })
        })
        .transpose()
    }

    pub async fn recipient(&self, request_id: Uuid) -> Result<Option<Recipient>, DbError> {
        let mut tx = self.db.begin().await?;
        let found = self.recipient_in(&mut tx, request_id).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// One message per event: the event id is unique, so a replay adds nothing.
    pub async fn queue_message(&self, tx: &mut Tx, message: &NewMessage<'_>) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO messages (message_id, subject_id, event_id, event_type, language, mobile, body, status, \
                 attempts, last_error, created_at, channel, sealed_secret, association) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, '', $8, $9, $10, $11) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(message.subject_id)
            .bind(message.event.event_id)
            .bind(&message.event.event_type)
            .bind(message.language.tag())
            .bind(message.mobile)
            .bind(message.body)
            .bind(Utc::now())
            .bind(message.channel)
            .bind(message.sealed_secret.map(str::to_owned))
            .bind(message.association),
        )
        .await?;
        Ok(())
    }

    /// The messages about one subject (a request, an account, an inquiry), oldest first.
    pub async fn messages(&self, subject_id: Uuid) -> Result<Vec<StoredMessage>, DbError> {
        let rows = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT message_id, event_type, language, mobile, body, status, channel, sealed_secret, attempts, \
                     created_at, sent_at, association FROM messages WHERE subject_id = $1 ORDER BY created_at, message_id",
                )
                .bind(subject_id),
            )
            .await?;
        rows.iter().map(|r| self.stored_message(r)).collect()
    }

    /// Claims up to `max` messages due for sending, marking each `sending`
    /// with a lease until `lease_until`; committed before any is sent, so a
    /// crash mid-send leaves a record of the attempt. Replicas skip each
    /// other's claims (`FOR UPDATE SKIP LOCKED`; SQLite has one writer).
    pub async fn claim_due(&self, max: i64, lease_until: DateTime<Utc>) -> Result<Vec<Claimed>, DbError> {
        const POSTGRES_DUE: &str = "SELECT message_id, event_type, language, mobile, body, status, channel, \
             sealed_secret, attempts, created_at, sent_at, association FROM messages \
             WHERE status IN ('pending', 'sending') AND (not_before IS NULL OR not_before <= $1) \
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED";
        const SQLITE_DUE: &str = "SELECT message_id, event_type, language, mobile, body, status, channel, \
             sealed_secret, attempts, created_at, sent_at, association FROM messages \
             WHERE status IN ('pending', 'sending') AND (not_before IS NULL OR not_before <= $1) \
             ORDER BY created_at LIMIT $2";
        let token = Uuid::new_v4().to_string();
        let mut tx = self.db.begin().await?;
        let due = match tx.backend() {
            Backend::Postgres => POSTGRES_DUE,
            Backend::Sqlite => SQLITE_DUE,
        };
        let rows = tx.fetch_all(Sql::new(due).bind(Utc::now()).bind(max)).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let message = self.stored_message(row)?;
            tx.execute(
                Sql::new(
                    "UPDATE messages SET status = 'sending', attempts = attempts + 1, not_before = $1, \
                     claim_token = $2 WHERE message_id = $3",
                )
                .bind(lease_until)
                .bind(&token)
                .bind(message.message_id),
            )
            .await?;
            // Attempted before: that attempt may have reached the provider (a crash
            // before its outcome was recorded, a time-out after it was taken).
            claimed.push(Claimed { in_doubt: message.attempts > 0, token: token.clone(), message });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records how an attempt ended: `sent` (with the provider's id),
    /// `pending` again not before `retry_at`, or `failed` for good.
    async fn settle(&self, claim: &Claimed, outcome: Outcome<'_>) -> Result<(), DbError> {
        let (status, error, provider_id, not_before, sent_at) = match outcome {
            Outcome::Sent { provider_id } => ("sent", "", Some(provider_id), None, Some(Utc::now())),
            Outcome::RetryAt { error, at } => ("pending", error, None, Some(at), None),
            Outcome::Failed { error } => ("failed", error, None, None, None),
        };
        self.db
            .execute(
                Sql::new(
                    "UPDATE messages SET status = $1, last_error = $2, provider_message_id = $3, not_before = $4, \
                     sent_at = $5 WHERE message_id = $6 AND status = 'sending' AND claim_token = $7",
                )
                .bind(status)
                .bind(error)
                .bind(provider_id.map(str::to_owned))
                .bind(not_before)
                .bind(sent_at)
                .bind(claim.message.message_id)
                .bind(&claim.token),
            )
            .await?;
        Ok(())
    }
}

/// A message claimed for sending.
pub struct Claimed {
    pub message: StoredMessage,
    /// An earlier attempt was made: its outcome may be unknown (a crash or a
    /// hang mid-send, a time-out after the provider took it).
    pub in_doubt: bool,
    /// This claim's own token: only its holder records the outcome.
    pub token: String,
}

enum Outcome<'a> {
    Sent { provider_id: &'a str },
    RetryAt { error: &'a str, at: DateTime<Utc> },
    Failed { error: &'a str },
}

/// Sends pending messages through the provider.
pub struct Dispatcher {
    pub store: NotificationStore,
    pub provider: Arc<dyn SmsProvider>,
    pub sealer: Sealer,
    pub poll_every: Duration,
    /// Woken when a message was composed and committed in this process; the
    /// polling finds those of other replicas and those whose retry came due.
    pub composed: Arc<tokio::sync::Notify>,
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.send_due().await {
                // A full batch: more may be due right away.
                Ok(claimed) if claimed == CLAIM_BATCH as usize => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "SMS dispatch failed; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.composed.notified() => {}
                _ = tokio::time::sleep(self.poll_every) => {}
            }
        }
    }

    /// Claims what is due, one message at a time (each lease covers its own
    /// send only), and sends it; returns how many were claimed.
    pub async fn send_due(&self) -> Result<usize, DbError> {
        let mut count = 0;
        while count < CLAIM_BATCH as usize {
            let Some(claim) = self.store.claim_due(1, Utc::now() + SEND_LEASE).await?.pop() else { break };
            count += 1;
            let span = tracing::info_span!(
                "sms.send",
                message_id = %claim.message.message_id,
                event_type = %claim.message.event_type,
                in_doubt = claim.in_doubt,
            );
            self.send(claim).instrument(span).await?;
        }
        Ok(count)
    }

    /// Records how an attempt ended, and counts it by provider and outcome.
    async fn record(&self, claim: &Claimed, outcome: Outcome<'_>) -> Result<(), DbError> {
        let label = match outcome {
            Outcome::Sent { .. } => "sent",
            Outcome::RetryAt { .. } => "retry",
            Outcome::Failed { .. } => "failed",
        };
        masar_platform::metrics::metrics().sms.with_label_values(&[self.provider.name(), label]).inc();
        self.store.settle(claim, outcome).await
    }

    async fn send(&self, claim: Claimed) -> Result<(), DbError> {
        let message = &claim.message;
        let id = message.message_id;
        if claim.in_doubt {
            match self.provider.lookup(id).await {
                Ok(Lookup::Accepted(provider_id)) => {
                    tracing::info!("an earlier attempt had been sent; recorded without sending again");
                    return self.record(&claim, Outcome::Sent { provider_id: &provider_id }).await;
                }
                Ok(Lookup::NotFound) => {}
                Ok(Lookup::Unknown) => {
                    tracing::warn!("the provider cannot tell whether an interrupted attempt went out; sending again");
                }
                Err(error) if message.attempts + 1 < MAX_ATTEMPTS => {
                    let at = Utc::now() + retry_wait(message.attempts);
                    return self.record(&claim, Outcome::RetryAt { error: &error.reason, at }).await;
                }
                Err(error) => return self.record(&claim, Outcome::Failed { error: &error.reason }).await,
            }
        }
        let Ok(to) = SaudiMobile::parse(&message.mobile) else {
            return self.record(&claim, Outcome::Failed { error: "invalid mobile number" }).await;
        };
        // A sealed secret is opened only here, into the text handed to the provider.
        let text = match &message.sealed_secret {
            None => message.body.clone(),
            Some(sealed) => match self.sealer.open(sealed) {
                Ok(secret) => message.body.replace(SECRET_PLACEHOLDER, secret.expose_secret()),
                Err(error) => return self.record(&claim, Outcome::Failed { error: &error.to_string() }).await,
            },
        };
        match self.provider.send(&Sms { to: &to, text: &text, reference: id }).await {
            Ok(provider_id) => self.record(&claim, Outcome::Sent { provider_id: &provider_id }).await,
            // This was attempt number `attempts + 1`.
            Err(error) if error.retryable && message.attempts + 1 < MAX_ATTEMPTS => {
                tracing::warn!(%error, "SMS not sent; will retry");
                let at = Utc::now() + retry_wait(message.attempts);
                self.record(&claim, Outcome::RetryAt { error: &error.reason, at }).await
            }
            Err(error) => {
                tracing::error!(%error, "SMS failed for good");
                self.record(&claim, Outcome::Failed { error: &error.reason }).await
            }
        }
    }
}

/// Messages one dispatcher sends per round.
const CLAIM_BATCH: i64 = 20;

/// How long a claimed message is left to its dispatcher before another takes
/// it as in doubt: well above one provider call's time-out (each message is
/// claimed just before its own send).
const SEND_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// The wait before retrying after `attempts` failed ones: 2 s, 4 s, 8 s, …
fn retry_wait(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(2i64.saturating_pow(attempts.clamp(0, 10) as u32 + 1))
}
