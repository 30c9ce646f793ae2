//! How a process's links to what it depends on are doing: each loop that
//! talks to the queue (the outbox relay, the consumer) keeps a [`Link`],
//! which backs off between attempts, logs one warning per outage (not one
//! per attempt) and tells [`Readiness`] while it is down, so that the gRPC
//! health service, and with it the readiness probe, reflects the outage.

use rand::Rng as _;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The health service name that reports the queue: `NOT_SERVING` while any
/// loop of this process cannot reach it. Readiness probes ask for it.
pub const QUEUE_HEALTH: &str = "masar.queue";

/// Which links of this process are down; watched by the health service.
#[derive(Clone)]
pub struct Readiness {
    down: Arc<Mutex<BTreeSet<String>>>,
    ready: watch::Sender<bool>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self { down: Arc::default(), ready: watch::Sender::new(true) }
    }
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while every link is up.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Changes of [`Readiness::is_ready`].
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    fn set(&self, link: &str, up: bool) {
        let mut down = self.down.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if up {
            down.remove(link);
        } else {
            down.insert(link.to_owned());
        }
        self.ready.send_if_modified(|ready| std::mem::replace(ready, down.is_empty()) != down.is_empty());
    }
}

/// Exponential backoff between `first` and `most`, with jitter: each wait is
/// drawn from the upper half of its bound.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    most: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, most: Duration) -> Self {
        Self { first, most, next: first }
    }

    /// The wait before the next attempt: random between half the current
    /// bound and the bound, which doubles each time (so replicas do not retry in step).
    pub fn next_wait(&mut self) -> Duration {
        let bound = self.next;
        self.next = (self.next * 2).min(self.most);
        let low = bound / 2;
        low + rand::rng().random_range(Duration::ZERO..=bound - low)
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// One loop's link to a dependency.
pub struct Link {
    name: String,
    readiness: Readiness,
    backoff: Backoff,
    down_since: Option<Instant>,
}

impl Link {
    /// `name` says whose link it is in logs, e.g. `queue (verification's consumer)`.
    pub fn new(name: impl Into<String>, readiness: Readiness) -> Self {
        Self {
            name: name.into(),
            readiness,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            down_since: None,
        }
    }

    /// Records a failed attempt; returns how long to wait before the next.
    /// Only the first failure of an outage is logged as a warning.
    pub fn failed(&mut self, error: &dyn std::fmt::Display) -> Duration {
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            self.readiness.set(&self.name, false);
            crate::metrics::metrics().queue_down.with_label_values(&[&self.name]).set(1);
            tracing::warn!(link = %self.name, %error, "unreachable; retrying with backoff until it is back");
        } else {
            tracing::debug!(link = %self.name, %error, "still unreachable");
        }
        self.backoff.next_wait()
    }

    /// Records a successful attempt, ending an outage if there was one.
    pub fn succeeded(&mut self) {
        if let Some(since) = self.down_since.take() {
            self.readiness.set(&self.name, true);
            crate::metrics::metrics().queue_down.with_label_values(&[&self.name]).set(0);
            self.backoff.reset();
            tracing::info!(link = %self.name, down_for_ms = since.elapsed().as_millis() as u64, "reachable again");
        }
    }

    pub fn is_down(&self) -> bool {
        self.down_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let waits: Vec<Duration> = (0..6).map(|_| backoff.next_wait()).collect();
        for (wait, bound) in waits.iter().zip([100, 200, 400, 800, 800, 800]) {
            let bound = Duration::from_millis(bound);
            assert!(*wait >= bound / 2 && *wait <= bound, "{wait:?} outside {bound:?}/2..={bound:?}");
        }
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(100));
    }

    #[test]
    fn readiness_is_lost_while_any_link_is_down() {
        let readiness = Readiness::new();
        let mut relay = Link::new("relay", readiness.clone());
        let mut consumer = Link::new("consumer", readiness.clone());
        assert!(readiness.is_ready());
        relay.failed(&"connection refused");
        consumer.failed(&"connection refused");
        relay.failed(&"connection refused");
        assert!(!readiness.is_ready());
        relay.succeeded();
        assert!(!readiness.is_ready(), "the consumer is still down");
        consumer.succeeded();
        assert!(readiness.is_ready());
    }
}
