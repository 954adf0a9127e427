//! At most one log line per interval for a stream of similar events (refused connections),
//! with the number of events it stands for. Pure: `now` is passed in.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events and says when one line may be logged.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> LogThrottle {
        LogThrottle {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// Note one event at `now`. Returns `Some(n)` when a line should be logged now,
    /// standing for `n` events (this one and those suppressed since the last line).
    pub fn note(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().ok()?;
        let (last, pending) = &mut *state;
        *pending += 1;
        let due = last.is_none_or(|t| now.duration_since(t) >= self.interval);
        if due {
            *last = Some(now);
            Some(std::mem::take(pending))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_counting_the_rest() {
        let t = LogThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.note(t0), Some(1));
        for i in 1..=1000 {
            assert_eq!(t.note(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.note(t0 + Duration::from_secs(10)), Some(1001));
        assert_eq!(t.note(t0 + Duration::from_secs(11)), None);
    }
}
