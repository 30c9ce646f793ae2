//! Redis Streams: XADD per event type, XREADGROUP per consuming service,
//! XACK after the consumer commits, XPENDING + XCLAIM to take over what a
//! dead consumer left, `<stream>:dlq` for poison messages. Works on Redis 7.0.

use super::{Delivery, Message, Queue, QueueError, Subscription, dead_letter_stream, stream_name};
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, Client, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::Mutex;
use uuid::Uuid;

const FIELD_EVENT_ID: &str = "event_id";
const FIELD_EVENT_TYPE: &str = "event_type";
const FIELD_PAYLOAD: &str = "payload";
const FIELD_REASON: &str = "dead_letter_reason";
/// Header fields travel as stream fields with this prefix (e.g. `h:traceparent`).
const HEADER_PREFIX: &str = "h:";

pub struct RedisQueue {
    client: Client,
    prefix: String,
    commands: ConnectionManager,
    /// Blocking reads get their own connection, so they never hold up publishes and acks.
    reader: Mutex<Option<MultiplexedConnection>>,
}

impl RedisQueue {
    /// Connects to `url`; every stream name starts with `prefix` (tests use a unique one).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let client = Client::open(url)?;
        let commands = client.get_connection_manager().await?;
        Ok(Self { client, prefix: prefix.to_owned(), commands, reader: Mutex::new(None) })
    }

    fn stream(&self, event_type: &str) -> String {
        stream_name(&self.prefix, event_type)
    }

    async fn reader(&self) -> Result<MultiplexedConnection, QueueError> {
        let mut slot = self.reader.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        // No response timeout: XREADGROUP BLOCK legitimately waits.
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        let connection = self.client.get_multiplexed_async_connection_with_config(&config).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    fn fields(message: &Message) -> Vec<(String, Vec<u8>)> {
        let mut fields = vec![
            (FIELD_EVENT_ID.to_owned(), message.event_id.to_string().into_bytes()),
            (FIELD_EVENT_TYPE.to_owned(), message.event_type.clone().into_bytes()),
            (FIELD_PAYLOAD.to_owned(), message.payload.clone()),
        ];
        for (name, value) in &message.headers {
            fields.push((format!("{HEADER_PREFIX}{name}"), value.clone().into_bytes()));
        }
        fields
    }

    fn decode(stream: &str, entry: &StreamId) -> Result<Message, QueueError> {
        let malformed = |reason: &str| QueueError::Malformed {
            stream: stream.to_owned(),
            entry_id: entry.id.clone(),
            reason: reason.to_owned(),
        };
        let bytes = |name: &str| -> Result<Vec<u8>, QueueError> {
            match entry.map.get(name) {
                Some(Value::BulkString(b)) => Ok(b.clone()),
                _ => Err(malformed(&format!("missing field {name}"))),
            }
        };
        let text = |name: &str| -> Result<String, QueueError> {
            String::from_utf8(bytes(name)?).map_err(|_| malformed(&format!("field {name} is not UTF-8")))
        };
        let event_id = Uuid::parse_str(&text(FIELD_EVENT_ID)?).map_err(|_| malformed("event_id is not a UUID"))?;
        let mut headers = BTreeMap::new();
        for (name, value) in &entry.map {
            if let (Some(header), Value::BulkString(b)) = (name.strip_prefix(HEADER_PREFIX), value) {
                headers.insert(header.to_owned(), String::from_utf8_lossy(b).into_owned());
            }
        }
        Ok(Message { event_id, event_type: text(FIELD_EVENT_TYPE)?, payload: bytes(FIELD_PAYLOAD)?, headers })
    }

    /// Decodes one entry; a malformed one goes straight to the dead-letter stream.
    async fn delivery(
        &self,
        subscription: &Subscription,
        stream: &str,
        entry: &StreamId,
        delivery_count: u64,
    ) -> Result<Option<Delivery>, QueueError> {
        match Self::decode(stream, entry) {
            Ok(message) => {
                Ok(Some(Delivery { stream: stream.to_owned(), entry_id: entry.id.clone(), delivery_count, message }))
            }
            Err(error) => {
                tracing::warn!(%stream, entry_id = %entry.id, %error, "malformed stream entry moved to the dead-letter stream");
                let mut connection = self.commands.clone();
                let mut fields: Vec<(String, Vec<u8>)> = entry
                    .map
                    .iter()
                    .filter_map(|(k, v)| match v {
                        Value::BulkString(b) => Some((k.clone(), b.clone())),
                        _ => None,
                    })
                    .collect();
                fields.push((FIELD_REASON.to_owned(), error.to_string().into_bytes()));
                let _: String = connection.xadd(dead_letter_stream(stream), "*", &fields).await?;
                let _: i64 = connection.xack(stream, &subscription.group, &[&entry.id]).await?;
                Ok(None)
            }
        }
    }
}

#[async_trait::async_trait]
impl Queue for RedisQueue {
    async fn publish(&self, message: &Message) -> Result<(), QueueError> {
        let mut connection = self.commands.clone();
        let _: String = connection.xadd(self.stream(&message.event_type), "*", &Self::fields(message)).await?;
        Ok(())
    }

    async fn subscribe(&self, subscription: &Subscription) -> Result<(), QueueError> {
        let mut connection = self.commands.clone();
        for event_type in &subscription.event_types {
            let created: Result<(), redis::RedisError> =
                connection.xgroup_create_mkstream(self.stream(event_type), &subscription.group, "0").await;
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn receive(
        &self,
        subscription: &Subscription,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        let streams: Vec<String> = subscription.event_types.iter().map(|t| self.stream(t)).collect();
        let ids: Vec<&str> = streams.iter().map(|_| ">").collect();
        let options = StreamReadOptions::default()
            .group(&subscription.group, &subscription.consumer)
            .count(max)
            .block(wait.as_millis().max(1) as usize);
        let mut reader = self.reader().await?;
        let reply: Option<StreamReadReply> = reader.xread_options(&streams, &ids, &options).await?;
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in &key.ids {
                out.extend(self.delivery(subscription, &key.key, entry, 1).await?);
            }
        }
        Ok(out)
    }

    async fn ack(&self, subscription: &Subscription, delivery: &Delivery) -> Result<(), QueueError> {
        let mut connection = self.commands.clone();
        let _: i64 = connection.xack(&delivery.stream, &subscription.group, &[&delivery.entry_id]).await?;
        Ok(())
    }

    async fn reclaim(&self, subscription: &Subscription, min_idle: Duration) -> Result<Vec<Delivery>, QueueError> {
        let mut connection = self.commands.clone();
        let idle_ms = min_idle.as_millis() as u64;
        let mut out = Vec::new();
        for event_type in &subscription.event_types {
            let stream = self.stream(event_type);
            // XPENDING IDLE gives each entry's delivery count, which XAUTOCLAIM does not.
            let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(&subscription.group)
                .arg("IDLE")
                .arg(idle_ms)
                .arg("-")
                .arg("+")
                .arg(32)
                .query_async(&mut connection)
                .await?;
            for (entry_id, _owner, _idle, delivered) in pending {
                let claimed: redis::streams::StreamClaimReply = connection
                    .xclaim(&stream, &subscription.group, &subscription.consumer, idle_ms, &[&entry_id])
                    .await?;
                for entry in &claimed.ids {
                    out.extend(self.delivery(subscription, &stream, entry, delivered + 1).await?);
                }
                if claimed.ids.is_empty() {
                    // Trimmed or deleted meanwhile: nothing left to deliver.
                    let _: i64 = connection.xack(&stream, &subscription.group, &[&entry_id]).await?;
                }
            }
        }
        Ok(out)
    }

    async fn dead_letter(
        &self,
        subscription: &Subscription,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), QueueError> {
        let mut connection = self.commands.clone();
        let mut fields = Self::fields(&delivery.message);
        fields.push((FIELD_REASON.to_owned(), reason.as_bytes().to_vec()));
        let _: String = connection.xadd(dead_letter_stream(&delivery.stream), "*", &fields).await?;
        self.ack(subscription, delivery).await
    }

    async fn dead_letters(&self, event_type: &str) -> Result<Vec<(Message, String)>, QueueError> {
        let mut connection = self.commands.clone();
        let stream = dead_letter_stream(&self.stream(event_type));
        let reply: redis::streams::StreamRangeReply = connection.xrange_all(&stream).await?;
        let mut out = Vec::new();
        for entry in &reply.ids {
            let reason = match entry.map.get(FIELD_REASON) {
                Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            out.push((Self::decode(&stream, entry)?, reason));
        }
        Ok(out)
    }
}
