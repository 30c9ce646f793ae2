//! Redis Streams: XADD per event type, XREADGROUP per consuming service,
//! XACK after the consumer commits, XPENDING + XCLAIM to take over what a
//! dead consumer left, `<stream>:dlq` for poison messages. Works on Redis 7.0.
//!
//! Redis may restart, fail over or lose its data at any time: a broken
//! connection is replaced on the next call, and a consumer group found
//! missing (`NOGROUP`) is created again, so nobody has to restart a service.

use super::{Backlog, Delivery, Message, Queue, QueueError, Settlement, Subscription, dead_letter_stream, stream_name};
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

    /// Forgets the blocking-read connection after an error, so the next read opens a new one.
    async fn drop_reader(&self) {
        self.reader.lock().await.take();
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

/// A message in a dead-letter stream, for operators (`masar dlq`).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub event_type: String,
    /// Its entry id in the dead-letter stream.
    pub entry_id: String,
    pub message: Message,
    pub reason: String,
}

impl RedisQueue {
    /// Every dead-lettered message under this prefix, stream by stream, oldest first.
    pub async fn dead_letter_entries(&self) -> Result<Vec<DeadLetter>, QueueError> {
        let mut connection = self.commands.clone();
        let pattern = dead_letter_stream(&self.stream("*"));
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut connection)
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            out.extend(self.read_dead_letters(&key).await?);
        }
        Ok(out)
    }

    /// The messages of one dead-letter stream, with their reasons; an entry that
    /// does not decode as a message (a malformed one moved there as it was) is
    /// named in the log and left out.
    async fn read_dead_letters(&self, dead_letter_stream: &str) -> Result<Vec<DeadLetter>, QueueError> {
        let reply: redis::streams::StreamRangeReply = self.commands.clone().xrange_all(dead_letter_stream).await?;
        Ok(reply
            .ids
            .iter()
            .filter_map(|entry| {
                let reason = match entry.map.get(FIELD_REASON) {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                };
                let message = Self::decode(dead_letter_stream, entry)
                    .inspect_err(|error| tracing::warn!(%error, "a dead-lettered entry is not a message"))
                    .ok()?;
                Some(DeadLetter { event_type: message.event_type.clone(), entry_id: entry.id.clone(), message, reason })
            })
            .collect())
    }

    /// Publishes a dead-lettered message again, as it was (the same event id,
    /// so a group that applied it skips it), and removes it from the
    /// dead-letter stream. False when there is no such entry.
    pub async fn replay_dead_letter(&self, event_type: &str, entry_id: &str) -> Result<bool, QueueError> {
        let dead = dead_letter_stream(&self.stream(event_type));
        let mut connection = self.commands.clone();
        let reply: redis::streams::StreamRangeReply = connection.xrange(&dead, entry_id, entry_id).await?;
        let Some(entry) = reply.ids.first() else { return Ok(false) };
        let message = Self::decode(&dead, entry)?;
        self.publish(&message).await?;
        let _: i64 = connection.xdel(&dead, &[entry_id]).await?;
        Ok(true)
    }
}

#[async_trait::async_trait]
impl Queue for RedisQueue {
    async fn publish(&self, message: &Message) -> Result<String, QueueError> {
        let mut connection = self.commands.clone();
        Ok(connection.xadd(self.stream(&message.event_type), "*", &Self::fields(message)).await?)
    }

    async fn trim(&self, event_type: &str, older_than: Duration) -> Result<(), QueueError> {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let oldest_kept = now_ms.saturating_sub(older_than).as_millis() as u64;
        let mut connection = self.commands.clone();
        let stream = self.stream(event_type);
        for key in [dead_letter_stream(&stream), stream] {
            // `~`: whole macro nodes only, which Redis trims cheaply.
            let _: i64 = redis::cmd("XTRIM")
                .arg(&key)
                .arg("MINID")
                .arg("~")
                .arg(oldest_kept)
                .query_async(&mut connection)
                .await?;
        }
        Ok(())
    }

    async fn settle(&self, event_type: &str, published: &[(String, Uuid)]) -> Result<Settlement, QueueError> {
        let stream = self.stream(event_type);
        let mut connection = self.commands.clone();
        // One pipeline: does each entry still exist, holding its own event?
        let mut exists = redis::pipe();
        for (entry_id, _) in published {
            exists.cmd("XRANGE").arg(&stream).arg(entry_id).arg(entry_id);
        }
        let found: Vec<redis::streams::StreamRangeReply> = exists.query_async(&mut connection).await?;
        let groups = group_positions(&mut connection, &stream).await?;
        let mut settlement = Settlement::default();
        for ((entry_id, event_id), found) in published.iter().zip(found) {
            let holds_it = found.ids.first().is_some_and(|entry| {
                matches!(entry.map.get(FIELD_EVENT_ID), Some(Value::BulkString(b)) if *b == event_id.to_string().as_bytes())
            });
            if !holds_it {
                settlement.lost.push(entry_id.clone());
                continue;
            }
            let Some(entry) = StreamPosition::parse(entry_id) else { continue };
            let acknowledged =
                |g: &GroupPosition| g.last_delivered >= entry && g.oldest_pending.is_none_or(|oldest| entry < oldest);
            if !groups.is_empty() && groups.iter().all(acknowledged) {
                settlement.consumed.push(entry_id.clone());
            }
        }
        Ok(settlement)
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
        // A server that vanished without closing the connection must not hold the read for ever.
        let read = tokio::time::timeout(wait + READ_GRACE, reader.xread_options(&streams, &ids, &options)).await;
        let reply: Option<StreamReadReply> = match read {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) if is_missing_group(&error) => {
                // Redis lost the group (a restart without persistence, an emptied server).
                self.subscribe(subscription).await?;
                return Ok(Vec::new());
            }
            Ok(Err(error)) => {
                self.drop_reader().await;
                return Err(error.into());
            }
            Err(_elapsed) => {
                self.drop_reader().await;
                return Err(QueueError::Timeout);
            }
        };
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
            let pending: Result<Vec<(String, String, u64, u64)>, _> = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(&subscription.group)
                .arg("IDLE")
                .arg(idle_ms)
                .arg("-")
                .arg("+")
                .arg(32)
                .query_async(&mut connection)
                .await;
            let pending = match pending {
                Ok(pending) => pending,
                Err(error) if is_missing_group(&error) => {
                    // Nothing can be pending in a group Redis lost; make it again for the next read.
                    self.subscribe(subscription).await?;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            for (entry_id, _owner, _idle, delivered) in pending {
                let claimed: redis::streams::StreamClaimReply = connection
                    .xclaim(&stream, &subscription.group, &subscription.consumer, idle_ms, &[&entry_id])
                    .await?;
                for entry in &claimed.ids {
                    out.extend(self.delivery(subscription, &stream, entry, delivered + 1).await?);
                }
                // Nothing claimed: another consumer took it first (it is not idle any more), or it
                // was deleted, which Redis 7 drops from the pending list itself. Never acknowledged
                // here: the other consumer may be processing it.
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

    async fn backlog(&self, subscription: &Subscription) -> Result<Vec<(String, Backlog)>, QueueError> {
        let mut connection = self.commands.clone();
        let mut out = Vec::new();
        for event_type in &subscription.event_types {
            let groups = groups_of(&mut connection, &self.stream(event_type)).await?;
            if let Some(ours) = groups.iter().find(|g| g.text("name").as_deref() == Some(subscription.group.as_str())) {
                out.push((event_type.clone(), Backlog { lag: ours.count("lag"), pending: ours.count("pending") }));
            }
        }
        Ok(out)
    }

    async fn dead_letters(&self, event_type: &str) -> Result<Vec<(Message, String)>, QueueError> {
        let dead = dead_letter_stream(&self.stream(event_type));
        let entries = self.read_dead_letters(&dead).await?;
        Ok(entries.into_iter().map(|d| (d.message, d.reason)).collect())
    }
}

/// How long past its own `BLOCK` a read may take before the connection is deemed dead.
const READ_GRACE: Duration = Duration::from_secs(5);

/// `NOGROUP`: the stream or the consumer group does not exist (any more).
fn is_missing_group(error: &redis::RedisError) -> bool {
    error.code() == Some("NOGROUP")
}

/// A stream entry id (`<milliseconds>-<sequence>`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamPosition(u64, u64);

impl StreamPosition {
    fn parse(id: &str) -> Option<Self> {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }
}

/// How far a consumer group has read, and its oldest unacknowledged entry.
struct GroupPosition {
    last_delivered: StreamPosition,
    oldest_pending: Option<StreamPosition>,
}

/// One consumer group as `XINFO GROUPS` describes it.
struct GroupInfo(std::collections::HashMap<String, Value>);

impl GroupInfo {
    fn text(&self, field: &str) -> Option<String> {
        self.0.get(field).and_then(|v| redis::from_redis_value_ref(v).ok())
    }

    /// A count; a nil one (`lag`, when Redis cannot tell after deletions) reads 0.
    fn count(&self, field: &str) -> u64 {
        self.0.get(field).and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or(0)
    }
}

/// `XINFO GROUPS` of `stream`: empty when the stream is gone (and its groups with it).
async fn groups_of(connection: &mut ConnectionManager, stream: &str) -> Result<Vec<GroupInfo>, redis::RedisError> {
    match redis::cmd("XINFO").arg("GROUPS").arg(stream).query_async::<Vec<_>>(connection).await {
        Ok(groups) => Ok(groups.into_iter().map(GroupInfo).collect()),
        // "ERR no such key".
        Err(error) if error.code() == Some("ERR") => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

/// Every consumer group of `stream`, with the oldest pending entry (from
/// `XPENDING`) of those that have some.
async fn group_positions(
    connection: &mut ConnectionManager,
    stream: &str,
) -> Result<Vec<GroupPosition>, redis::RedisError> {
    let mut positions = Vec::new();
    for group in groups_of(connection, stream).await? {
        let (Some(name), Some(last_delivered)) =
            (group.text("name"), group.text("last-delivered-id").as_deref().and_then(StreamPosition::parse))
        else {
            continue;
        };
        let oldest_pending = if group.count("pending") == 0 {
            None
        } else {
            // The summary form: [count, smallest id, greatest id, consumers].
            let summary: (u64, Option<String>, Option<String>, Value) =
                redis::cmd("XPENDING").arg(stream).arg(&name).query_async(connection).await?;
            Some(summary.1.as_deref().and_then(StreamPosition::parse).unwrap_or(StreamPosition(0, 0)))
        };
        positions.push(GroupPosition { last_delivered, oldest_pending });
    }
    Ok(positions)
}
