//! What time it is for the rules that run on the calendar (stage deadlines,
//! escalations, the promise to the beneficiary): the system's, or, for tests
//! that must see weeks pass without sleeping, the system's moved ahead.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// The time now, as every role of one suite reads it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Seconds added to the system's time; 0 in production, where nothing moves it.
    ahead: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.ahead.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) ahead.
    pub fn advance(&self, by: Duration) {
        self.ahead.fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_moves_together() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.advance(Duration::days(3));
        let ahead = copy.now() - Utc::now();
        assert!(ahead > Duration::days(3) - Duration::seconds(5) && ahead <= Duration::days(3), "{ahead}");
    }
}
