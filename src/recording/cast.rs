//! The asciicast v2 format (asciinema's): newline-delimited JSON, a header object, then
//! one `[time, code, data]` array per event, `time` in seconds since the recording began.
//!
//! moat writes `o` (output: the bytes of a frame, as a string), `i` (input, only with
//! `record_input`), `r` (`COLSxROWS` after a resize) and `m` (a marker: where moat left
//! something out, e.g. while a secret was on screen). Times are written with six decimals
//! (microseconds), so a file's text does not depend on float formatting.
//!
//! The format is small enough that a crate for it would add more than it saves (the
//! published ones are unmaintained and pull in chrono); serde_json does the escaping.

use std::fmt::Write as _;

/// Most bytes of one line a reader accepts: a full repaint of the largest terminal moat
/// draws (400×150 cells with a style change on each) is under 3 MiB.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub width: u16,
    pub height: u16,
    /// Unix seconds at the start of the recording.
    pub timestamp: i64,
    /// The client's `TERM`, if it sent one.
    pub term: Option<String>,
    pub title: Option<String>,
}

/// What an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Bytes written to the terminal.
    Output,
    /// Bytes read from the keyboard.
    Input,
    /// The terminal's new size, `COLSxROWS`.
    Resize,
    /// A marker (a label, possibly empty).
    Marker,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Output => "o",
            Kind::Input => "i",
            Kind::Resize => "r",
            Kind::Marker => "m",
        }
    }

    fn from_code(code: &str) -> Option<Kind> {
        Some(match code {
            "o" => Kind::Output,
            "i" => Kind::Input,
            "r" => Kind::Resize,
            "m" => Kind::Marker,
            _ => return None,
        })
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Microseconds since the start of the recording.
    pub at_us: u64,
    pub kind: Kind,
    pub data: String,
}

impl Event {
    /// For a resize event: the new size.
    pub fn size(&self) -> Option<(u16, u16)> {
        if self.kind != Kind::Resize {
            return None;
        }
        let (c, r) = self.data.split_once('x')?;
        Some((c.parse().ok()?, r.parse().ok()?))
    }
}

/// Why a line is not asciicast v2 as moat reads it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CastError {
    #[error("the header is not an asciicast v2 header: {0}")]
    Header(String),
    #[error("line {line}: not an asciicast event: {why}")]
    Event { line: u64, why: String },
}

/// The header as one line of JSON, newline included.
pub fn header_line(h: &Header) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    obj.insert("version".into(), 2.into());
    obj.insert("width".into(), h.width.into());
    obj.insert("height".into(), h.height.into());
    obj.insert("timestamp".into(), h.timestamp.into());
    if let Some(term) = &h.term {
        let mut env = serde_json::Map::new();
        env.insert("TERM".into(), term.clone().into());
        obj.insert("env".into(), env.into());
    }
    if let Some(title) = &h.title {
        obj.insert("title".into(), title.clone().into());
    }
    let mut line = serde_json::Value::Object(obj).to_string().into_bytes();
    line.push(b'\n');
    line
}

/// `secs.micros` with six decimals.
pub fn format_time(at_us: u64) -> String {
    format!("{}.{:06}", at_us / 1_000_000, at_us % 1_000_000)
}

/// Append one event line to `buf`.
pub fn push_event(buf: &mut Vec<u8>, at_us: u64, kind: Kind, data: &str) {
    let mut head = String::with_capacity(24);
    let _ = write!(
        head,
        "[{}.{:06}, \"{}\", ",
        at_us / 1_000_000,
        at_us % 1_000_000,
        kind.code()
    );
    buf.extend_from_slice(head.as_bytes());
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, data);
    buf.extend_from_slice(b"]\n");
}

/// Read a header line.
pub fn parse_header(line: &str) -> Result<Header, CastError> {
    let bad = |why: &str| CastError::Header(why.to_string());
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
    let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
    if obj.get("version").and_then(serde_json::Value::as_u64) != Some(2) {
        return Err(bad("version is not 2"));
    }
    let dim = |key: &str| {
        obj.get(key)
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(&format!("no valid {key}")))
    };
    Ok(Header {
        width: dim("width")?,
        height: dim("height")?,
        timestamp: obj
            .get("timestamp")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        term: obj
            .get("env")
            .and_then(|e| e.get("TERM"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        title: obj
            .get("title")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
    })
}

/// Read event line number `line` (for the error).
pub fn parse_event(text: &str, line: u64) -> Result<Event, CastError> {
    let bad = |why: String| CastError::Event { line, why };
    let (t, code, data): (f64, String, String) =
        serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if !t.is_finite() || !(0.0..=1e9).contains(&t) {
        return Err(bad(format!("time {t} is out of range")));
    }
    let kind = Kind::from_code(&code).ok_or_else(|| bad(format!("unknown event code {code:?}")))?;
    // Rounded to the microsecond the writer wrote.
    let at_us = (t * 1e6).round() as u64;
    Ok(Event { at_us, kind, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_is_what_asciinema_reads() {
        let h = Header {
            width: 120,
            height: 40,
            timestamp: 1_764_000_000,
            term: Some("xterm-256color".into()),
            title: Some("moat session 3f9c (alice)".into()),
        };
        let line = String::from_utf8(header_line(&h)).unwrap();
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["version"], 2);
        assert_eq!(v["width"], 120);
        assert_eq!(v["height"], 40);
        assert_eq!(v["timestamp"], 1_764_000_000);
        assert_eq!(v["env"]["TERM"], "xterm-256color");
        assert_eq!(parse_header(line.trim_end()).unwrap(), h);
        assert!(parse_header(r#"{"version":1,"width":80,"height":24}"#).is_err());
        assert!(parse_header(r#"{"version":2,"width":0,"height":24}"#).is_err());
        assert!(parse_header(r#"[2,80,24]"#).is_err());
    }

    #[test]
    fn events_round_trip_with_escapes() {
        let mut buf = Vec::new();
        let data = "\x1b[1;1H\x1b[0;7mé \"q\" \\ \u{9b}";
        push_event(&mut buf, 1_234_567, Kind::Output, data);
        push_event(&mut buf, 61_000_001, Kind::Resize, "100x30");
        push_event(&mut buf, 0, Kind::Marker, "");
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("[1.234567, \"o\", \"\\u001b[1;1H"),
            "{}",
            lines[0]
        );
        assert!(!lines[0].contains('\x1b'), "ESC is escaped in the file");
        let e = parse_event(lines[0], 2).unwrap();
        assert_eq!(
            (e.at_us, e.kind, e.data.as_str()),
            (1_234_567, Kind::Output, data)
        );
        let r = parse_event(lines[1], 3).unwrap();
        assert_eq!(r.size(), Some((100, 30)));
        assert_eq!(r.at_us, 61_000_001);
        assert_eq!(parse_event(lines[2], 4).unwrap().kind, Kind::Marker);
        // A generic JSON writer's form is read too.
        assert_eq!(parse_event(r#"[1e-6,"i","a"]"#, 5).unwrap().at_us, 1);
        for bad in [
            r#"[-1, "o", "x"]"#,
            r#"[1, "x", "x"]"#,
            r#"[1, "o"]"#,
            r#"{"t":1}"#,
            r#"[1, "o", 5]"#,
        ] {
            assert!(parse_event(bad, 9).is_err(), "{bad}");
        }
    }
}
