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

/// What one event costs in memory beyond its text (its time, kind and string header).
const EVENT_OVERHEAD: usize = std::mem::size_of::<Event>();

/// Read the recording at `path` into memory, filtered for a terminal: its events while
/// they fit in `max_mib` MiB (text and bookkeeping); past that, the rest is read only
/// for its length, and [`Loaded::cut`] says where the events stop.
pub fn load(path: &Path, max_mib: u64) -> Result<Loaded, ReadError> {
    let max_bytes = usize::try_from(max_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let (header, mut reader) = Reader::open(path)?;
    let mut events = Vec::new();
    let mut held = 0usize;
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
        held = held.saturating_add(e.data.len() + EVENT_OVERHEAD);
        if held > max_bytes {
            let at_us = events.last().map_or(0, |e: &Event| e.at_us);
            cut = Some(Cut {
                at_us,
                length_us: e.at_us,
                max_mib,
            });
            continue;
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
