//! Recording files: names, the private directory, the gzip framing and a reader.
//!
//! A recording is one file per session, `YYYYMMDD-HHMMSS-<session id>.cast.gz`, holding
//! the asciicast text compressed as a series of gzip *members*, one per flush (RFC 1952
//! allows any number back to back; `zcat` and `gzip -d` read them as one stream). Each
//! member is complete on disk when its write returns, so a writer that dies (a crash,
//! `kill -9`) leaves every earlier flush readable: [`Reader`] reads up to the last whole
//! line and says the file was cut. A member per flush also means no compressor lives
//! per session (flate2's deflate state is about 300 KiB): the one writer thread keeps a
//! single compressor and resets it for each member.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use sha2::{Digest, Sha256};

use super::cast::{self, CastError, Event, Header};

/// What every recording file's name ends with.
pub const EXTENSION: &str = ".cast.gz";

/// The file name of the recording of session `session_id` started at `started_ms`.
pub fn file_name(session_id: &str, started_ms: i64) -> String {
    let stamp = crate::domain::format_time(started_ms.div_euclid(1000))
        .trim_end_matches(" UTC")
        .replace(['-', ':'], "")
        .replace(' ', "-");
    format!("{stamp}-{session_id}{EXTENSION}")
}

/// Whether `name` is a name [`file_name`] makes: digits, a dash, hex and the extension,
/// nothing that could leave the directory. Names read back from the database are checked
/// with this before they are joined to `recordings_dir`.
pub fn valid_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(EXTENSION) else {
        return false;
    };
    let parts: Vec<&str> = stem.split('-').collect();
    matches!(parts.as_slice(), [date, time, id]
        if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())
            && time.len() == 6 && time.bytes().all(|b| b.is_ascii_digit())
            && (4..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Create `dir` (and missing parents) with mode 0700; an existing directory that others
/// may read or enter is tightened to 0700, and `true` is returned so the caller can say so.
pub fn ensure_private_dir(dir: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if dir.is_dir() {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
                return Ok(true);
            }
            return Ok(false);
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(false)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)?;
        Ok(false)
    }
}

/// Create a new recording file, mode 0600 whatever the umask; an existing file is an
/// error (names are unique per session).
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// A gzip member header: deflate, no flags, no time, unknown OS.
const MEMBER_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Compresses text into gzip members, reusing one deflate state.
pub struct Members {
    deflate: Compress,
}

impl Default for Members {
    fn default() -> Self {
        Members {
            deflate: Compress::new(Compression::new(6), false),
        }
    }
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Members")
    }
}

impl Members {
    /// Append `data` to `out` as one complete gzip member.
    pub fn member(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        out.extend_from_slice(&MEMBER_HEADER);
        self.deflate.reset();
        let base = self.deflate.total_in();
        loop {
            out.reserve(data.len() / 2 + 256);
            let consumed = usize::try_from(self.deflate.total_in() - base).unwrap_or(usize::MAX);
            let rest = data.get(consumed..).unwrap_or_default();
            let status = self
                .deflate
                .compress_vec(rest, out, FlushCompress::Finish)
                .map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&((data.len() as u64 & 0xffff_ffff) as u32).to_le_bytes());
        Ok(())
    }
}

/// The size and SHA-256 (hex) of the file at `path`, read in a stream.
pub fn digest(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Cast(#[from] CastError),
    #[error("the recording is empty (its writer stopped before the first flush)")]
    Empty,
}

/// Reads a recording's events in order, in constant memory (one line at a time).
pub struct Reader {
    lines: BufReader<flate2::read::MultiGzDecoder<BufReader<File>>>,
    line: u64,
    done: bool,
    /// Set once the file turned out cut short (a writer that died mid-flush, or bytes
    /// after the last whole member that are not a member): what came before was read.
    pub truncated: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("line", &self.line)
            .field("truncated", &self.truncated)
            .finish_non_exhaustive()
    }
}

/// One line, or why there is none.
enum Line {
    Text(String),
    End,
}

impl Reader {
    /// Open the recording at `path` and read its header.
    pub fn open(path: &Path) -> Result<(Header, Reader), ReadError> {
        let file = File::open(path)?;
        let decoder = flate2::read::MultiGzDecoder::new(BufReader::new(file));
        let mut reader = Reader {
            lines: BufReader::new(decoder),
            line: 0,
            done: false,
            truncated: false,
        };
        let header = match reader.next_line()? {
            Line::Text(t) => cast::parse_header(&t)?,
            Line::End => return Err(ReadError::Empty),
        };
        Ok((header, reader))
    }

    fn next_line(&mut self) -> Result<Line, ReadError> {
        if self.done {
            return Ok(Line::End);
        }
        let mut buf = Vec::new();
        let limit = u64::try_from(cast::MAX_LINE).unwrap_or(u64::MAX) + 1;
        let read = (&mut self.lines).take(limit).read_until(b'\n', &mut buf);
        match read {
            Ok(0) => {
                self.done = true;
                Ok(Line::End)
            }
            Ok(_) if buf.last() == Some(&b'\n') => {
                self.line += 1;
                buf.pop();
                String::from_utf8(buf).map(Line::Text).map_err(|_| {
                    ReadError::Cast(CastError::Event {
                        line: self.line,
                        why: "not UTF-8".into(),
                    })
                })
            }
            Ok(n) if n > cast::MAX_LINE => {
                self.done = true;
                Err(ReadError::Cast(CastError::Event {
                    line: self.line + 1,
                    why: "line too long".into(),
                }))
            }
            // A last line without its newline, or a member cut short: the writer died
            // mid-flush. Everything before it stands.
            Ok(_) | Err(_) => {
                self.done = true;
                self.truncated = true;
                Ok(Line::End)
            }
        }
    }

    /// The next event; `None` at the end (check [`Reader::truncated`] then).
    pub fn next_event(&mut self) -> Option<Result<Event, ReadError>> {
        match self.next_line() {
            Ok(Line::Text(t)) => Some(cast::parse_event(&t, self.line).map_err(ReadError::from)),
            Ok(Line::End) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Event, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}

/// Append `bytes` to `file` and to the running hash and size (the writer's bookkeeping).
pub fn append(
    file: &mut File,
    hasher: &mut Sha256,
    size: &mut u64,
    bytes: &[u8],
) -> io::Result<()> {
    file.write_all(bytes)?;
    hasher.update(bytes);
    *size += bytes.len() as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::cast::Kind;

    fn header() -> Header {
        Header {
            width: 80,
            height: 24,
            timestamp: 1,
            term: None,
            title: None,
        }
    }

    /// A file of `members` flushes, the header in the first.
    fn write(path: &Path, members: &[Vec<u8>]) -> Vec<u8> {
        let mut m = Members::default();
        let mut out = Vec::new();
        for data in members {
            m.member(data, &mut out).unwrap();
        }
        std::fs::write(path, &out).unwrap();
        out
    }

    fn events(n: std::ops::Range<u64>) -> Vec<u8> {
        let mut buf = Vec::new();
        for i in n {
            cast::push_event(&mut buf, i * 1000, Kind::Output, &format!("frame {i}"));
        }
        buf
    }

    #[test]
    fn names_are_made_and_checked() {
        let name = file_name("3f9c2a1b00112233", 1_764_139_620_123);
        assert_eq!(name, "20251126-064700-3f9c2a1b00112233.cast.gz");
        assert!(valid_name(&name));
        for bad in [
            "../20251126-064700-3f9c2a1b.cast.gz",
            "20251126-064700-3f9c2a1b.cast",
            "20251126-064700-3f9c/../x.cast.gz",
            "/etc/passwd",
            "20251126-064700-zz.cast.gz",
            "2025112-064700-3f9c2a1b.cast.gz",
            "",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn members_read_back_as_one_stream_and_by_gzip_tools() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.cast.gz");
        let mut first = cast::header_line(&header());
        first.extend(events(0..3));
        let bytes = write(&path, &[first, events(3..10), Vec::new(), events(10..12)]);
        let (h, reader) = Reader::open(&path).unwrap();
        assert_eq!(h, header());
        let got: Vec<Event> = reader.map(Result::unwrap).collect();
        assert_eq!(got.len(), 12);
        assert_eq!(got[11].data, "frame 11");
        // What a standard gzip reader makes of the whole file is the text itself.
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.starts_with('{'), "{text}");
        assert_eq!(text.lines().count(), 13);
    }

    #[test]
    fn a_file_cut_anywhere_reads_up_to_its_last_whole_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.cast.gz");
        let mut first = cast::header_line(&header());
        first.extend(events(0..5));
        let whole = write(&path, &[first.clone(), events(5..50)]);
        let mut first_member = Vec::new();
        Members::default()
            .member(&first, &mut first_member)
            .unwrap();
        // Cut at every length past the first member: never an error, never a half event,
        // at least the first flush.
        for cut in (first_member.len()..whole.len()).step_by(7) {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let (_, mut reader) = Reader::open(&path).unwrap();
            let mut n = 0;
            for e in &mut reader {
                let e = e.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
                assert_eq!(e.data, format!("frame {n}"));
                n += 1;
            }
            assert!(n >= 5, "cut at {cut}: {n} events");
            // A cut at a member boundary is a shorter whole file.
            assert!(
                reader.truncated || n == 50 || cut == first_member.len(),
                "cut at {cut}"
            );
        }
        // Garbage after the last member: read as cut there.
        let mut tail = whole.clone();
        tail.extend_from_slice(b"not gzip at all");
        std::fs::write(&path, &tail).unwrap();
        let (_, mut reader) = Reader::open(&path).unwrap();
        assert_eq!((&mut reader).count(), 50);
        assert!(reader.truncated);
        // Nothing written yet.
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(Reader::open(&path), Err(ReadError::Empty)));
    }

    #[cfg(unix)]
    #[test]
    fn directory_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/recordings");
        assert!(!ensure_private_dir(&dir).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(ensure_private_dir(&dir).unwrap(), "tightened, and said so");
        assert_eq!(mode(&dir), 0o700);
        let path = dir.join("x.cast.gz");
        let old = unsafe { libc::umask(0) };
        let file = create_file(&path);
        unsafe { libc::umask(old) };
        drop(file.unwrap());
        assert_eq!(mode(&path), 0o600);
        assert!(create_file(&path).is_err(), "never reused");
        let (size, sha) = digest(&path).unwrap();
        assert_eq!(size, 0);
        assert_eq!(
            sha,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
