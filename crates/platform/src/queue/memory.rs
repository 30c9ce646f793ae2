//! The embedded queue: Redis Streams semantics in process memory, for
//! `masar dev` and tests that need no Redis.

use super::{Backlog, Delivery, Message, Queue, QueueError, Settlement, Subscription, dead_letter_stream};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use uuid::Uuid;

pub struct MemoryQueue {
    /// Entry ids name this instance, so that ids published before a restart
    /// of the process are known to be lost, not mistaken for new entries.
    instance: u64,
    state: Mutex<State>,
    published: Notify,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self { instance: rand::random(), state: Mutex::default(), published: Notify::new() }
    }
}

#[derive(Default)]
struct State {
    streams: HashMap<String, Vec<Message>>,
    /// (stream, group) → the group's read position and pending entries.
    groups: HashMap<(String, String), Group>,
    dead: HashMap<String, Vec<(Message, String)>>,
}

#[derive(Default)]
struct Group {
    next: usize,
    pending: BTreeMap<usize, Pending>,
}

struct Pending {
    delivered_at: Instant,
    count: u64,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn deliveries_now(&self, subscription: &Subscription, max: usize) -> Vec<Delivery> {
        let mut state = self.state.lock().expect("queue lock");
        let mut out = Vec::new();
        for event_type in &subscription.event_types {
            let stream = event_type.clone();
            let len = state.streams.get(&stream).map_or(0, Vec::len);
            let group = state.groups.entry((stream.clone(), subscription.group.clone())).or_default();
            let mut taken = Vec::new();
            while group.next < len && out.len() + taken.len() < max {
                group.pending.insert(group.next, Pending { delivered_at: Instant::now(), count: 1 });
                taken.push(group.next);
                group.next += 1;
            }
            for index in taken {
                let message = state.streams[&stream][index].clone();
                out.push(Delivery {
                    stream: stream.clone(),
                    entry_id: self.entry_id(index),
                    delivery_count: 1,
                    message,
                });
            }
        }
        out
    }

    fn entry_id(&self, index: usize) -> String {
        format!("{}-{index}", self.instance)
    }

    /// The index of one of this instance's entries; `None` for another instance's.
    fn entry_index(&self, entry_id: &str) -> Option<usize> {
        let (instance, index) = entry_id.split_once('-')?;
        (instance.parse() == Ok(self.instance)).then(|| index.parse().ok()).flatten()
    }
}

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    async fn publish(&self, message: &Message) -> Result<String, QueueError> {
        let index = {
            let mut state = self.state.lock().expect("queue lock");
            let stream = state.streams.entry(message.event_type.clone()).or_default();
            stream.push(message.clone());
            stream.len() - 1
        };
        self.published.notify_waiters();
        Ok(self.entry_id(index))
    }

    async fn trim(&self, _event_type: &str, _older_than: Duration) -> Result<(), QueueError> {
        // Entries are addressed by their index here; the process's lifetime bounds what it keeps.
        Ok(())
    }

    async fn settle(&self, event_type: &str, published: &[(String, Uuid)]) -> Result<Settlement, QueueError> {
        let state = self.state.lock().expect("queue lock");
        let stream = state.streams.get(event_type).map(Vec::as_slice).unwrap_or_default();
        let groups: Vec<&Group> =
            state.groups.iter().filter(|((stream, _), _)| stream == event_type).map(|(_, group)| group).collect();
        let mut settlement = Settlement::default();
        for (entry_id, event_id) in published {
            let held = self.entry_index(entry_id).filter(|i| stream.get(*i).is_some_and(|m| m.event_id == *event_id));
            match held {
                None => settlement.lost.push(entry_id.clone()),
                Some(index) => {
                    let acknowledged = |g: &&Group| g.next > index && !g.pending.contains_key(&index);
                    if !groups.is_empty() && groups.iter().all(acknowledged) {
                        settlement.consumed.push(entry_id.clone());
                    }
                }
            }
        }
        Ok(settlement)
    }

    async fn subscribe(&self, subscription: &Subscription) -> Result<(), QueueError> {
        let mut state = self.state.lock().expect("queue lock");
        for event_type in &subscription.event_types {
            state.groups.entry((event_type.clone(), subscription.group.clone())).or_default();
        }
        Ok(())
    }

    async fn receive(
        &self,
        subscription: &Subscription,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        let published = self.published.notified();
        let ready = self.deliveries_now(subscription, max);
        if !ready.is_empty() {
            return Ok(ready);
        }
        let _ = tokio::time::timeout(wait, published).await;
        Ok(self.deliveries_now(subscription, max))
    }

    async fn ack(&self, subscription: &Subscription, delivery: &Delivery) -> Result<(), QueueError> {
        let mut state = self.state.lock().expect("queue lock");
        let key = (delivery.stream.clone(), subscription.group.clone());
        if let (Some(group), Some(index)) = (state.groups.get_mut(&key), self.entry_index(&delivery.entry_id)) {
            group.pending.remove(&index);
        }
        Ok(())
    }

    async fn reclaim(&self, subscription: &Subscription, min_idle: Duration) -> Result<Vec<Delivery>, QueueError> {
        let mut state = self.state.lock().expect("queue lock");
        let mut out = Vec::new();
        for event_type in &subscription.event_types {
            let key = (event_type.clone(), subscription.group.clone());
            let Some(group) = state.groups.get_mut(&key) else { continue };
            let mut reclaimed = Vec::new();
            for (index, pending) in group.pending.iter_mut() {
                if pending.delivered_at.elapsed() >= min_idle {
                    pending.count += 1;
                    pending.delivered_at = Instant::now();
                    reclaimed.push((*index, pending.count));
                }
            }
            for (index, count) in reclaimed {
                out.push(Delivery {
                    stream: event_type.clone(),
                    entry_id: self.entry_id(index),
                    delivery_count: count,
                    message: state.streams[event_type][index].clone(),
                });
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
        {
            let mut state = self.state.lock().expect("queue lock");
            state
                .dead
                .entry(dead_letter_stream(&delivery.stream))
                .or_default()
                .push((delivery.message.clone(), reason.to_owned()));
        }
        self.ack(subscription, delivery).await
    }

    async fn backlog(&self, subscription: &Subscription) -> Result<Vec<(String, Backlog)>, QueueError> {
        let state = self.state.lock().expect("queue lock");
        Ok(subscription
            .event_types
            .iter()
            .map(|event_type| {
                let len = state.streams.get(event_type).map_or(0, Vec::len);
                let group = state.groups.get(&(event_type.clone(), subscription.group.clone()));
                let (next, pending) = group.map_or((0, 0), |g| (g.next, g.pending.len()));
                (event_type.clone(), Backlog { lag: len.saturating_sub(next) as u64, pending: pending as u64 })
            })
            .collect())
    }

    async fn dead_letters(&self, event_type: &str) -> Result<Vec<(Message, String)>, QueueError> {
        let state = self.state.lock().expect("queue lock");
        Ok(state.dead.get(&dead_letter_stream(event_type)).cloned().unwrap_or_default())
    }
}
