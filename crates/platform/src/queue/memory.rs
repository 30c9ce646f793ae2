//! The embedded queue: Redis Streams semantics in process memory, for
//! `masar dev` and tests that need no Redis.

use super::{Delivery, Message, Queue, QueueError, Subscription, dead_letter_stream};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
    published: Notify,
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
                out.push(Delivery { stream: stream.clone(), entry_id: index.to_string(), delivery_count: 1, message });
            }
        }
        out
    }
}

fn entry_index(delivery: &Delivery) -> usize {
    delivery.entry_id.parse().expect("memory queue entry ids are indices")
}

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    async fn publish(&self, message: &Message) -> Result<(), QueueError> {
        self.state
            .lock()
            .expect("queue lock")
            .streams
            .entry(message.event_type.clone())
            .or_default()
            .push(message.clone());
        self.published.notify_waiters();
        Ok(())
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
        if let Some(group) = state.groups.get_mut(&(delivery.stream.clone(), subscription.group.clone())) {
            group.pending.remove(&entry_index(delivery));
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
                    entry_id: index.to_string(),
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

    async fn dead_letters(&self, event_type: &str) -> Result<Vec<(Message, String)>, QueueError> {
        let state = self.state.lock().expect("queue lock");
        Ok(state.dead.get(&dead_letter_stream(event_type)).cloned().unwrap_or_default())
    }
}
