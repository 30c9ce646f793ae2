//! A bounded map kept in one gateway process's memory (rate-limit buckets,
//! kept replies). Above its limit it forgets what no longer matters, but at
//! most once a second: when every entry is still live, scanning them all on
//! each call would make the flood the map is meant to absorb the costliest.

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

const SWEEP_AT_MOST_EVERY: Duration = Duration::from_secs(1);

pub struct Remembered<K, V> {
    entries: HashMap<K, V>,
    limit: usize,
    next_sweep: Option<Instant>,
}

impl<K: Eq + Hash, V> Remembered<K, V> {
    pub fn new(limit: usize) -> Self {
        Self { entries: HashMap::new(), limit, next_sweep: None }
    }

    /// Keeps only the entries `keep` accepts, once the map holds `limit` or
    /// more and the last sweep was long enough ago.
    pub fn sweep(&mut self, now: Instant, keep: impl FnMut(&K, &mut V) -> bool) {
        if self.entries.len() < self.limit || self.next_sweep.is_some_and(|next| now < next) {
            return;
        }
        self.entries.retain(keep);
        self.next_sweep = Some(now + SWEEP_AT_MOST_EVERY);
    }
}

impl<K, V> Deref for Remembered<K, V> {
    type Target = HashMap<K, V>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl<K, V> DerefMut for Remembered<K, V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_of_live_entries_is_swept_once_a_second_at_most() {
        let mut map = Remembered::new(2);
        let start = Instant::now();
        map.insert(1, ());
        map.sweep(start, |_, _| false);
        assert_eq!(map.len(), 1, "below the limit nothing is swept");
        map.insert(2, ());
        let mut scanned = 0;
        map.sweep(start, |_, _| {
            scanned += 1;
            true
        });
        map.sweep(start + Duration::from_millis(500), |_, _| {
            scanned += 1;
            true
        });
        assert_eq!(scanned, 2, "the second sweep within the second did not scan");
        map.sweep(start + Duration::from_secs(1), |_, _| false);
        assert!(map.is_empty());
    }
}
