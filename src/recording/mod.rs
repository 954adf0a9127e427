//! Session recordings: every console session kept as an asciicast v2 file, compressed,
//! in `recordings_dir`, sealed by a `recording` entry of the audit chain.
//!
//! - [`cast`]: the asciicast v2 text (header, `[time, code, data]` events).
//! - [`file`]: file names, the 0700 directory and 0600 files, the gzip framing (one
//!   member per flush, so a file whose writer died reads up to its last flush) and the
//!   reader.
//! - [`writer`]: the thread that compresses and writes every session's recording.
//! - [`filter`]: what of a recording may reach an operator's terminal (moat's own escape
//!   sequences only).
//!
//! [`check_files`] compares the files with what the audit chain says of them, for
//! `moat audit verify`.

pub mod cast;
pub mod file;
pub mod filter;
pub mod writer;

use std::path::Path;

pub use cast::{Event, Header, Kind};
pub use file::{ReadError, Reader};
pub use writer::{Sealed, Writer};

/// A finished recording as its audit entry describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub session_id: String,
    /// The id of the `recording` audit entry.
    pub entry: i64,
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

impl Expected {
    /// Read from a `recording` entry's `after` value; `None` if it holds no sealed file
    /// (a recording that failed).
    pub fn from_entry(entry: i64, session_id: &str, after: &serde_json::Value) -> Option<Expected> {
        Some(Expected {
            session_id: session_id.to_string(),
            entry,
            file: after.get("file")?.as_str()?.to_string(),
            size: after.get("size")?.as_u64()?,
            sha256: after.get("sha256")?.as_str()?.to_string(),
        })
    }
}

/// What is wrong with one recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Missing {
        session_id: String,
        file: String,
    },
    Altered {
        session_id: String,
        file: String,
    },
    /// The audit entry names a file moat would not have made (an altered entry).
    BadName {
        session_id: String,
    },
    Unreadable {
        session_id: String,
        why: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Missing { session_id, file } => write!(
                f,
                "the recording of session {session_id} ({file}) is missing"
            ),
            Finding::Altered { session_id, file } => write!(
                f,
                "the recording of session {session_id} ({file}) was altered (its size or SHA-256 is not the one the audit trail holds)"
            ),
            Finding::BadName { session_id } => write!(
                f,
                "the audit entry of the recording of session {session_id} names no file moat makes"
            ),
            Finding::Unreadable { session_id, why } => {
                write!(f, "the recording of session {session_id} cannot be read: {why}")
            }
        }
    }
}

/// Check one recording against what its audit entry says; `None` when it matches.
pub fn check_file(dir: &Path, e: &Expected) -> Option<Finding> {
    if !file::valid_name(&e.file) {
        return Some(Finding::BadName {
            session_id: e.session_id.clone(),
        });
    }
    match file::digest(&dir.join(&e.file)) {
        Ok((size, sha)) if size == e.size && sha == e.sha256 => None,
        Ok(_) => Some(Finding::Altered {
            session_id: e.session_id.clone(),
            file: e.file.clone(),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Some(Finding::Missing {
            session_id: e.session_id.clone(),
            file: e.file.clone(),
        }),
        Err(err) => Some(Finding::Unreadable {
            session_id: e.session_id.clone(),
            why: err.to_string(),
        }),
    }
}

/// Check every recording the audit trail still vouches for.
pub fn check_files(dir: &Path, expected: &[Expected]) -> Vec<Finding> {
    expected.iter().filter_map(|e| check_file(dir, e)).collect()
}

/// A recording in memory, up to a bound: for a replay that seeks (the console's), not
/// for export.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub header: Header,
    /// Output events passed through [`filter::output`]; input, resize and marker events
    /// as recorded (input made visible too).
    pub events: Vec<Event>,
    /// The file ended mid-flush (its writer died): the events are those before.
    pub truncated: bool,
    /// The recording held more than the bound: `events` stop there.
    pub cut: Option<Cut>,
}

/// Where a replay held to a memory bound stops, in a longer recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The time of the last event kept (microseconds since the recording started).
    pub at_us: u64,
    /// The time of the recording's last event.
    pub length_us: u64,
    /// The bound, MiB.
    pub max_mib: u64,
}

/// The least a string's heap block costs (the allocator's smallest chunk), and its
/// granule above that: what a held event's text really takes.
const MIN_BLOCK: usize = 32;
const GRANULE: usize = 16;

/// What holding the text `data` costs: its heap block, rounded as the allocator does.
fn text_cost(data: &str) -> usize {
    if data.is_empty() {
        return 0;
    }
    (data.len() + 8).div_ceil(GRANULE).max(MIN_BLOCK / GRANULE) * GRANULE
}

/// Read the recording at `path` into memory, filtered for a terminal: its events while
/// they fit in `max_mib` MiB (their texts' heap blocks and the vector holding them, as
/// it grows by doubling); past that, the rest is read only for its length, and
/// [`Loaded::cut`] says where the events stop. Times are taken as the latest so far, so
/// a file whose times go backwards still gives a stop inside what is held.
pub fn load(path: &Path, max_mib: u64) -> Result<Loaded, ReadError> {
    let max_bytes = usize::try_from(max_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let (header, mut reader) = Reader::open(path)?;
    let mut events: Vec<Event> = Vec::new();
    let mut texts = 0usize;
    let mut held_until = 0u64;
    let mut cut: Option<Cut> = None;
    for e in &mut reader {
        let mut e = e?;
        if let Some(cut) = &mut cut {
            cut.length_us = cut.length_us.max(e.at_us);
            continue;
        }
        if matches!(e.kind, Kind::Output | Kind::Input) {
            if let std::borrow::Cow::Owned(safe) = filter::output(&e.data) {
                e.data = safe;
            }
        }
        let texts_then = texts.saturating_add(text_cost(&e.data));
        // The vector's block once this event is in (it doubles when full).
        let slots = if events.len() < events.capacity() {
            events.capacity()
        } else {
            (events.len() + 1).next_power_of_two().max(4)
        };
        let held = texts_then.saturating_add(slots.saturating_mul(std::mem::size_of::<Event>()));
        if held > max_bytes {
            cut = Some(Cut {
                at_us: held_until,
                length_us: held_until.max(e.at_us),
                max_mib,
            });
            continue;
        }
        texts = texts_then;
        held_until = held_until.max(e.at_us);
        if events.len() == events.capacity() {
            events.reserve_exact(slots - events.len());
        }
        events.push(e);
    }
    Ok(Loaded {
        header,
        events,
        truncated: reader.truncated,
        cut,
    })
}

#[cfg(test)]
mod tests {
    use super::cast::{header_line, push_event};
    use super::file::Members;
    use super::*;

    /// A recording file of `events` (time in seconds, output text) in `dir`.
    fn written(dir: &Path, events: &[(u64, String)]) -> std::path::PathBuf {
        let mut text = header_line(&Header {
            width: 80,
            height: 24,
            timestamp: 0,
            term: None,
            title: None,
        });
        for (at_s, data) in events {
            push_event(&mut text, at_s * 1_000_000, Kind::Output, data);
        }
        let mut bytes = Vec::new();
        Members::default().member(&text, &mut bytes).unwrap();
        let path = dir.join("r.cast.gz");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_replay_holds_a_recording_up_to_its_bound_and_says_where_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        // Three frames of 600 KiB, then a small one at 1:02:03: 1 MiB holds the first.
        let frame = |i: u64| format!("\x1b]52;c;x\x07frame {i} {}", "x".repeat(600 * 1024));
        let path = written(
            dir.path(),
            &[
                (1, frame(1)),
                (2, frame(2)),
                (3, frame(3)),
                (3723, "end".into()),
            ],
        );
        let cut = load(&path, 1).unwrap();
        assert_eq!(cut.events.len(), 1);
        assert!(
            cut.events[0].data.starts_with("\\x1b]52;"),
            "still filtered"
        );
        assert_eq!(
            cut.cut,
            Some(Cut {
                at_us: 1_000_000,
                length_us: 3_723_000_000,
                max_mib: 1
            })
        );
        // Room for all of it: no cut.
        let whole = load(&path, 4).unwrap();
        assert_eq!(whole.events.len(), 4);
        assert_eq!(whole.cut, None);
        // Not even the first event fits: nothing held, and it says from where.
        let huge = written(dir.path(), &[(5, "y".repeat(2 << 20))]);
        let none = load(&huge, 1).unwrap();
        assert!(none.events.is_empty());
        assert_eq!(
            none.cut.map(|c| (c.at_us, c.length_us)),
            Some((0, 5_000_000))
        );
    }
}

/// Hostile recordings against the replay memory bound.
#[cfg(test)]
mod hostile_tests {
    use super::cast::{header_line, push_event};
    use super::file::Members;
    use super::*;

    fn header() -> Vec<u8> {
        header_line(&Header {
            width: 80,
            height: 24,
            timestamp: 0,
            term: None,
            title: None,
        })
    }

    /// One gzip member per slice of events (time µs, kind, text).
    fn members(events: &[&[(u64, Kind, String)]]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut m = Members::default();
        for (i, part) in events.iter().enumerate() {
            let mut text = if i == 0 { header() } else { Vec::new() };
            for (at, kind, data) in part.iter() {
                push_event(&mut text, *at, *kind, data);
            }
            m.member(&text, &mut bytes).unwrap();
        }
        bytes
    }

    /// What the held events really take: the vector's capacity, and each string's
    /// allocation (glibc's smallest chunk is 32 bytes; 16-byte granules above).
    fn real_bytes(l: &Loaded) -> usize {
        let strings: usize = l
            .events
            .iter()
            .map(|e| {
                if e.data.capacity() == 0 {
                    0
                } else {
                    (e.data.capacity() + 8).div_ceil(16).max(2) * 16
                }
            })
            .sum();
        l.events.capacity() * std::mem::size_of::<Event>() + strings
    }

    #[test]
    fn many_tiny_events_stay_near_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<(u64, Kind, String)> = (0..200_000u64)
            .map(|i| (i, Kind::Output, "x".to_string()))
            .collect();
        let path = dir.path().join("tiny.cast.gz");
        std::fs::write(&path, members(&[&events])).unwrap();
        let l = load(&path, 1).unwrap();
        let real = real_bytes(&l);
        eprintln!(
            "held {} events, counted {} B, capacity {} events, real ~{} B for a bound of {} B",
            l.events.len(),
            l.events.len() * (1 + std::mem::size_of::<Event>()),
            l.events.capacity(),
            real,
            1 << 20
        );
        assert!(l.cut.is_some());
        assert!(
            real <= (1 << 20) * 11 / 10,
            "real {real} B is over the 1 MiB bound by more than 10%"
        );
    }

    #[test]
    fn times_going_backwards_give_a_cut_inside_what_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let big = "y".repeat(700 * 1024);
        let events = vec![
            (100_000_000, Kind::Output, "a".to_string()),
            (5_000_000, Kind::Output, "b".to_string()),
            (50_000_000, Kind::Output, big.clone()),
            (60_000_000, Kind::Output, big),
            (2_000_000, Kind::Output, "c".to_string()),
        ];
        let path = dir.path().join("back.cast.gz");
        std::fs::write(&path, members(&[&events])).unwrap();
        let l = load(&path, 1).unwrap();
        let cut = l.cut.unwrap();
        let held_max = l.events.iter().map(|e| e.at_us).max().unwrap();
        eprintln!("{cut:?}, held events up to {held_max} µs");
        assert!(
            cut.length_us >= cut.at_us,
            "'to {} of {}'",
            cut.at_us,
            cut.length_us
        );
        assert_eq!(
            cut.at_us, held_max,
            "the replay's clock runs to {held_max} µs, the line says {}",
            cut.at_us
        );
    }

    #[test]
    fn cut_inside_a_resize_or_marker_and_a_truncated_tail() {
        let dir = tempfile::tempdir().unwrap();
        let big = "z".repeat(600 * 1024);
        let first = vec![
            (1_000_000, Kind::Output, "hello".to_string()),
            (2_000_000, Kind::Resize, "100x30".to_string()),
            (3_000_000, Kind::Output, big.clone()),
            (4_000_000, Kind::Marker, big.clone()),
            (5_000_000, Kind::Resize, "120x40".to_string()),
        ];
        let second = vec![
            (9_000_000, Kind::Output, big.clone()),
            (10_000_000, Kind::Output, big),
        ];
        let mut bytes = members(&[&first, &second]);
        let whole = bytes.len();
        // The writer died inside the second member.
        bytes.truncate(whole - 40);
        let path = dir.path().join("trunc.cast.gz");
        std::fs::write(&path, &bytes).unwrap();
        let l = load(&path, 1).unwrap();
        eprintln!(
            "{} events, truncated {}, {:?}",
            l.events.len(),
            l.truncated,
            l.cut
        );
        assert!(l.truncated);
        let cut = l.cut.unwrap();
        assert_eq!(cut.at_us, 3_000_000);
        assert_eq!(l.events.len(), 3);
        assert!(cut.length_us >= 5_000_000);
    }

    #[test]
    fn the_replay_screen_with_no_events_and_a_cut_does_not_panic() {
        use crate::tui::input::{Key, KeyEvent};
        use crate::tui::protocol::{Msg, Replay, ReplayMarker};
        use crate::tui::screen::Screen;
        use crate::tui::screens::replay::ReplayScreen;
        use ratatui::{buffer::Buffer, layout::Rect};
        let replay = Replay {
            session_id: "s".into(),
            user: "u".into(),
            width: 0,
            height: 0,
            events: Vec::new(),
            markers: vec![ReplayMarker {
                at_us: 7_000_000_000,
                entry: 1,
                action: "delete".into(),
                model: Some("p".into()),
                pk: Some("1".into()),
                outcome: "success".into(),
            }],
            sealed: false,
            truncated: true,
            cut: Some(Cut {
                at_us: 0,
                length_us: u64::MAX,
                max_mib: 1,
            }),
        };
        let mut s = ReplayScreen::new(replay);
        for k in [
            Key::Char(' '),
            Key::Right,
            Key::End,
            Key::Char('m'),
            Key::Char('M'),
            Key::Left,
            Key::Home,
        ] {
            s.key(KeyEvent::plain(k));
            s.update(&Msg::Clock { now_ms: 1_000 });
            s.update(&Msg::Clock { now_ms: 2_000 });
            let area = Rect::new(0, 0, 20, 3);
            let mut buf = Buffer::empty(area);
            s.draw(&mut buf, area);
        }
        eprintln!("status {:?}", s.status());
        assert_eq!(s.clock().duration_us(), 0);
    }
}
