//! Notification's data: recipients and messages, and the dispatcher that
//! sends pending messages.

use crate::sms::SmsProvider;
use chrono::{DateTime, Utc};
use masar_domain::{Language, SaudiMobile};
use masar_platform::CancellationToken;
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
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
}

#[derive(Debug, Clone)]
pub struct Recipient {
    pub association: String,
    pub branch: String,
    pub reference: String,
    pub mobile: String,
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

fn stored_message(row: &Row) -> Result<StoredMessage, DbError> {
    Ok(StoredMessage {
        message_id: row.uuid("message_id")?,
        event_type: row.text("event_type")?,
        language: row.text("language")?,
        mobile: row.text("mobile")?,
        body: row.text("body")?,
        status: row.text("status")?,
        channel: row.text("channel")?,
        sealed_secret: row.optional_text("sealed_secret")?,
        attempts: row.int("attempts")?,
        created_at: row.time("created_at")?,
        sent_at: row.optional_time("sent_at")?,
    })
}

impl NotificationStore {
    pub fn new(db: Db) -> Self {
        Self { db }
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
                mobile: row.text("mobile")?,
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
                 attempts, last_error, created_at, channel, sealed_secret) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, '', $8, $9, $10) ON CONFLICT (event_id) DO NOTHING",
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
            .bind(message.sealed_secret.map(str::to_owned)),
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
                     created_at, sent_at FROM messages WHERE subject_id = $1 ORDER BY created_at, message_id",
                )
                .bind(subject_id),
            )
            .await?;
        rows.iter().map(stored_message).collect()
    }

    async fn pending(&self) -> Result<Vec<StoredMessage>, DbError> {
        let rows = self
            .db
            .fetch_all(Sql::new(
                "SELECT message_id, event_type, language, mobile, body, status, channel, sealed_secret, attempts, \
                 created_at, sent_at FROM messages WHERE status = 'pending' ORDER BY created_at LIMIT 50",
            ))
            .await?;
        rows.iter().map(stored_message).collect()
    }

    async fn mark(&self, message_id: Uuid, status: &str, error: &str) -> Result<(), DbError> {
        let sent_at = (status == "sent").then(Utc::now);
        self.db
            .execute(
                Sql::new(
                    "UPDATE messages SET status = $1, attempts = attempts + 1, last_error = $2, sent_at = $3 \
                     WHERE message_id = $4",
                )
                .bind(status)
                .bind(error)
                .bind(sent_at)
                .bind(message_id),
            )
            .await?;
        Ok(())
    }
}

/// Sends pending messages through the provider.
pub(crate) struct Dispatcher {
    pub store: NotificationStore,
    pub provider: Arc<dyn SmsProvider>,
    pub sealer: Sealer,
    pub poll_every: Duration,
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(error) = self.send_pending().await {
                tracing::warn!(%error, "SMS dispatch failed; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.poll_every) => {}
            }
        }
    }

    async fn send_pending(&self) -> Result<(), DbError> {
        for message in self.store.pending().await? {
            let span =
                tracing::info_span!("sms.send", message_id = %message.message_id, event_type = %message.event_type);
            self.send(message).instrument(span).await?;
        }
        Ok(())
    }

    async fn send(&self, message: StoredMessage) -> Result<(), DbError> {
        let Ok(to) = SaudiMobile::parse(&message.mobile) else {
            return self.store.mark(message.message_id, "failed", "invalid mobile number").await;
        };
        // A sealed secret is opened only here, into the text handed to the provider.
        let text = match &message.sealed_secret {
            None => message.body.clone(),
            Some(sealed) => match self.sealer.open(sealed) {
                Ok(secret) => message.body.replace(SECRET_PLACEHOLDER, secret.expose_secret()),
                Err(error) => return self.store.mark(message.message_id, "failed", &error.to_string()).await,
            },
        };
        match self.provider.send(&to, &text).await {
            Ok(_) => self.store.mark(message.message_id, "sent", "").await,
            Err(error) if error.retryable && message.attempts + 1 < MAX_ATTEMPTS => {
                tracing::warn!(%error, "SMS not sent; will retry");
                self.store.mark(message.message_id, "pending", &error.reason).await
            }
            Err(error) => {
                tracing::error!(%error, "SMS failed for good");
                self.store.mark(message.message_id, "failed", &error.reason).await
            }
        }
    }
}
