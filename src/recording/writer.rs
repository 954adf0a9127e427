//! The one thread that writes every session's recording.
//!
//! Sessions hand it uncompressed asciicast text about once a second ([`Job::Append`]);
//! it compresses each hand-over into a gzip member with its one deflate state and
//! appends it with a plain `write` (on disk for any reader, and for a crash of moat, when
//! the call returns), keeping each file's size and SHA-256 as it goes. So no session
//! holds a compressor, no session task blocks on the disk, and a slow disk slows the
//! thread, not the consoles (sessions keep their text until the queue has room).
//! [`Job::Finish`] syncs the file to disk and reports its size and hash.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use sha2::{Digest, Sha256};

use super::file::{self, Members};

/// Jobs queued towards the thread before sessions have to hold on to their text.
const QUEUE: usize = 4096;

/// A finished recording: its size and SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub size: u64,
    pub sha256: String,
}

/// Called (on the writer thread) when a recording is finished, or could not be.
pub type Done = Box<dyn FnOnce(io::Result<Sealed>) + Send>;
/// Called (on the writer thread) the first time writing a recording fails.
pub type OnError = Box<dyn FnOnce(&io::Error) + Send>;

/// What the thread is asked to do.
pub enum Job {
    /// Create the file (mode 0600) and write its first text (the header).
    Open {
        slot: u64,
        path: PathBuf,
        text: Vec<u8>,
        on_error: OnError,
    },
    /// Append text, compressed as one member.
    Append { slot: u64, text: Vec<u8> },
    /// Sync the file to disk, close it and report.
    Finish { slot: u64, done: Done },
}

/// The writer thread's queue. Dropping the last handle ends the thread once its queue is
/// empty.
pub struct Writer {
    tx: SyncSender<Job>,
    next: AtomicU64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("recording::Writer")
    }
}

impl Writer {
    /// Start the thread.
    pub fn start() -> io::Result<Writer> {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("moat-recorder".into())
            .spawn(move || run(rx))?;
        Ok(Writer {
            tx,
            next: AtomicU64::new(1),
        })
    }

    /// A new recording's slot number (name its jobs with it).
    pub fn slot(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Queue `job` without waiting: it comes back if the queue is full (or the thread is
    /// gone, which [`Writer::is_gone`] then tells).
    pub fn try_send(&self, job: Job) -> Result<(), (Job, bool)> {
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(job) => (job, false),
            TrySendError::Disconnected(job) => (job, true),
        })
    }
}

/// One open recording on the thread.
struct Open {
    file: File,
    hasher: Sha256,
    size: u64,
    /// Set after the first failure: later jobs of the slot are ignored until Finish.
    failed: Option<io::ErrorKind>,
    on_error: Option<OnError>,
}

impl Open {
    fn fail(&mut self, e: &io::Error) {
        if self.failed.is_none() {
            self.failed = Some(e.kind());
            if let Some(report) = self.on_error.take() {
                report(e);
            }
        }
    }
}

fn run(rx: Receiver<Job>) {
    let mut members = Members::default();
    let mut open: HashMap<u64, Open> = HashMap::new();
    let mut failed_opens: HashMap<u64, io::ErrorKind> = HashMap::new();
    let mut buf = Vec::new();
    while let Ok(job) = rx.recv() {
        match job {
            Job::Open {
                slot,
                path,
                text,
                on_error,
            } => match file::create_file(&path) {
                Ok(f) => {
                    let mut rec = Open {
                        file: f,
                        hasher: Sha256::new(),
                        size: 0,
                        failed: None,
                        on_error: Some(on_error),
                    };
                    write_member(&mut members, &mut rec, &text, &mut buf);
                    open.insert(slot, rec);
                }
                Err(e) => {
                    failed_opens.insert(slot, e.kind());
                    on_error(&e);
                }
            },
            Job::Append { slot, text } => {
                if let Some(rec) = open.get_mut(&slot) {
                    write_member(&mut members, rec, &text, &mut buf);
                }
            }
            Job::Finish { slot, done } => {
                if let Some(kind) = failed_opens.remove(&slot) {
                    done(Err(io::Error::new(
                        kind,
                        "the recording file could not be created",
                    )));
                    continue;
                }
                let Some(rec) = open.remove(&slot) else {
                    done(Err(io::Error::other("no such recording")));
                    continue;
                };
                let result = match rec.failed {
                    Some(kind) => Err(io::Error::new(kind, "writing the recording failed")),
                    None => rec.file.sync_all().map(|()| Sealed {
                        size: rec.size,
                        sha256: file::hex(&rec.hasher.finalize()),
                    }),
                };
                done(result);
            }
        }
    }
}

fn write_member(members: &mut Members, rec: &mut Open, text: &[u8], buf: &mut Vec<u8>) {
    if rec.failed.is_some() || text.is_empty() {
        return;
    }
    buf.clear();
    let written = members
        .member(text, buf)
        .and_then(|()| file::append(&mut rec.file, &mut rec.hasher, &mut rec.size, buf));
    if let Err(e) = written {
        rec.fail(&e);
    }
    // A burst (a full repaint of a large terminal) leaves no large buffer behind.
    if buf.capacity() > 256 * 1024 {
        *buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::cast::{self, Header, Kind};
    use crate::recording::file::{digest, Reader};

    fn wait<T>(rx: &std::sync::mpsc::Receiver<T>) -> T {
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn writes_seals_and_reports_the_hash_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("20250101-000000-abcd.cast.gz");
        let w = Writer::start().unwrap();
        let slot = w.slot();
        let header = cast::header_line(&Header {
            width: 80,
            height: 24,
            timestamp: 0,
            term: None,
            title: None,
        });
        let send = |job| assert!(w.try_send(job).is_ok());
        send(Job::Open {
            slot,
            path: path.clone(),
            text: header,
            on_error: Box::new(|e| panic!("{e}")),
        });
        for i in 0..3 {
            let mut text = Vec::new();
            cast::push_event(&mut text, i, Kind::Output, "x");
            send(Job::Append { slot, text });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        send(Job::Finish {
            slot,
            done: Box::new(move |r| tx.send(r.unwrap()).unwrap()),
        });
        let sealed = wait(&rx);
        let (size, sha) = digest(&path).unwrap();
        assert_eq!(sealed, Sealed { size, sha256: sha });
        let (_, reader) = Reader::open(&path).unwrap();
        assert_eq!(reader.count(), 3);
    }

    #[test]
    fn a_file_that_cannot_be_created_is_reported_once_and_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/dir/x.cast.gz");
        let w = Writer::start().unwrap();
        let slot = w.slot();
        let (etx, erx) = std::sync::mpsc::channel();
        assert!(w
            .try_send(Job::Open {
                slot,
                path,
                text: b"{}\n".to_vec(),
                on_error: Box::new(move |e| etx.send(e.kind()).unwrap()),
            })
            .is_ok());
        assert_eq!(wait(&erx), io::ErrorKind::NotFound);
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(w
            .try_send(Job::Finish {
                slot,
                done: Box::new(move |r| tx.send(r.is_err()).unwrap()),
            })
            .is_ok());
        assert!(wait(&rx));
    }
}
