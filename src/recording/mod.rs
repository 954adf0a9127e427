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

/// A whole recording in memory: for a replay that seeks (the console's), not for export.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub header: Header,
    /// Output events passed through [`filter::output`]; input, resize and marker events
    /// as recorded (input made visible too).
    pub events: Vec<Event>,
    /// The file ended mid-flush (its writer died): the events are those before.
    pub truncated: bool,
}

/// Read the recording at `path` into memory, filtered for a terminal.
pub fn load(path: &Path) -> Result<Loaded, ReadError> {
    let (header, mut reader) = Reader::open(path)?;
    let mut events = Vec::new();
    for e in &mut reader {
        let mut e = e?;
        if matches!(e.kind, Kind::Output | Kind::Input) {
            if let std::borrow::Cow::Owned(safe) = filter::output(&e.data) {
                e.data = safe;
            }
        }
        events.push(e);
    }
    Ok(Loaded {
        header,
        events,
        truncated: reader.truncated,
    })
}
