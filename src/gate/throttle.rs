//! At most one log line per source per interval for a stream of similar events (refused
//! connections), with the number of events it stands for. Pure: `now` is passed in.
//!
//! Kept per source so that one flooding source cannot push out the lines about the
//! others: each source gets its own line (and count) once per interval. The map is
//! bounded: past `max_sources` tracked sources, events from untracked ones share a single
//! "other sources" line per interval, so a flood from very many sources still costs at
//! most `max_sources + 1` lines per interval and a fixed amount of memory. A line carries
//! only what the caller logs with it (the peer address and a `&'static str` reason in
//! moat), never text a client sent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources tracked by default: at most this many lines (plus one) per interval.
pub const MAX_SOURCES: usize = 256;

/// A line to log now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The source it is about; `None` for the shared line of untracked sources.
    pub source: Option<IpAddr>,
    /// Events it stands for: this one and those not logged since the last line.
    pub events: u64,
}

/// Counts events per source and says when one line may be logged.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    max_sources: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sources: HashMap<IpAddr, Slot>,
    others: Slot,
    /// When tracked sources were last looked over for ones to forget.
    swept: Option<Instant>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    last_line: Option<Instant>,
    pending: u64,
}

impl Slot {
    fn note(&mut self, now: Instant, interval: Duration) -> Option<u64> {
        self.pending = self.pending.saturating_add(1);
        let due = self
            .last_line
            .is_none_or(|t| now.duration_since(t) >= interval);
        if due {
            self.last_line = Some(now);
            Some(std::mem::take(&mut self.pending))
        } else {
            None
        }
    }
}

impl LogThrottle {
    pub fn new(interval: Duration) -> LogThrottle {
        LogThrottle::with_max_sources(interval, MAX_SOURCES)
    }

    pub fn with_max_sources(interval: Duration, max_sources: usize) -> LogThrottle {
        LogThrottle {
            interval,
            max_sources,
            state: Mutex::new(State::default()),
        }
    }

    /// Note one event from `source` at `now`. Returns the line to log now, if one is due
    /// for this source (or, for an untracked source, for the shared line).
    pub fn note(&self, source: IpAddr, now: Instant) -> Option<LogLine> {
        let mut state = self.state.lock().ok()?;
        let State {
            sources,
            others,
            swept,
        } = &mut *state;
        let interval = self.interval;
        if !sources.contains_key(&source) && sources.len() >= self.max_sources {
            // Forget sources without a line for a whole interval (their next event would
            // be logged at once anyway); what they had pending goes to the shared line.
            // At most once per interval, so a flood of new sources costs no scan each.
            if swept.is_none_or(|t| now.duration_since(t) >= interval) {
                *swept = Some(now);
                let mut folded = 0u64;
                sources.retain(|_, slot| {
                    let recent = slot
                        .last_line
                        .is_some_and(|t| now.duration_since(t) < interval);
                    if !recent {
                        folded = folded.saturating_add(slot.pending);
                    }
                    recent
                });
                others.pending = others.pending.saturating_add(folded);
            }
        }
        if sources.contains_key(&source) || sources.len() < self.max_sources {
            let slot = sources.entry(source).or_default();
            slot.note(now, interval).map(|events| LogLine {
                source: Some(source),
                events,
            })
        } else {
            others.note(now, interval).map(|events| LogLine {
                source: None,
                events,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn line(source: Option<IpAddr>, events: u64) -> Option<LogLine> {
        Some(LogLine { source, events })
    }

    #[test]
    fn one_line_per_interval_counting_the_rest() {
        let t = LogThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let a = ip(1);
        assert_eq!(t.note(a, t0), line(Some(a), 1));
        for i in 1..=1000 {
            assert_eq!(t.note(a, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.note(a, t0 + Duration::from_secs(10)), line(Some(a), 1001));
        assert_eq!(t.note(a, t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn a_flooding_source_does_not_silence_the_others() {
        let t = LogThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let (flood, other) = (ip(1), ip(2));
        for i in 0..10_000 {
            t.note(flood, t0 + Duration::from_micros(i));
        }
        let later = t0 + Duration::from_millis(20);
        assert_eq!(t.note(other, later), line(Some(other), 1));
        assert_eq!(t.note(other, later), None, "and then throttled itself");
    }

    #[test]
    fn memory_is_bounded_and_untracked_sources_share_one_line() {
        let t = LogThrottle::with_max_sources(Duration::from_secs(10), 4);
        let t0 = Instant::now();
        for n in 0..4 {
            assert_eq!(t.note(ip(n), t0), line(Some(ip(n)), 1));
        }
        // Map full, nobody old enough to forget: new sources share a line.
        assert_eq!(t.note(ip(100), t0), line(None, 1));
        for n in 101..1000 {
            assert_eq!(t.note(ip(n), t0 + Duration::from_millis(1)), None);
        }
        assert_eq!(t.state.lock().unwrap().sources.len(), 4);
        // A tracked source keeps its own line.
        assert_eq!(t.note(ip(1), t0 + Duration::from_secs(5)), None);
        assert_eq!(
            t.note(ip(0), t0 + Duration::from_secs(10)),
            line(Some(ip(0)), 1)
        );
        // Later, sources without a line for an interval are forgotten (ip(0) just had
        // one and stays) and new sources get their own lines again.
        let t1 = t0 + Duration::from_secs(16);
        for n in [2000, 3000, 4000] {
            assert_eq!(t.note(ip(n), t1), line(Some(ip(n)), 1));
        }
        assert_eq!(t.state.lock().unwrap().sources.len(), 4);
        // Full again: the shared line, now due, counts the 899 untracked events, the one
        // ip(1) had pending when it was forgotten, and this one.
        assert_eq!(t.note(ip(5000), t1), line(None, 901));
    }
}
