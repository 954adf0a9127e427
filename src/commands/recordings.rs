//! `moat sessions list --ended`, `moat sessions export ID`, `moat sessions replay ID`:
//! recorded sessions, from the operator's side (with the operator's authority, like every
//! CLI command: whoever runs it can read the database and `recordings_dir` anyway).
//!
//! Export and replay hand out a recording only if its file is what its seal in the audit
//! chain says (an unsealed one, of a session still running or whose server stopped, with a
//! warning), and only after [`filter::output`]: nothing but moat's own escape sequences
//! reaches a terminal, whatever the file holds.

use std::io::Write;
use std::time::Duration;

use crate::config::Config;
use crate::domain::format_time;
use crate::recording::{cast, filter, Kind, Reader};
use crate::session::recording::{checked_recording, recording_state, RecordingError, SealState};
use crate::store::StoreError;
use crate::tui::backend::AnsiBackend;
use crate::tui::sanitize::SafeText;

use super::{open_admin_store, CommandError, TerminalSafeJson};

/// Gaps between frames a replay waits at most (before `--speed`), as asciinema's
/// `idle_time_limit`: an hour of reading one screen replays in two seconds.
const IDLE_LIMIT: Duration = Duration::from_secs(2);

/// `moat sessions list --ended`: ended sessions, newest first, with their recordings.
pub async fn sessions_ended(
    config: &Config,
    limit: u32,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let rows = store.ended_sessions(i64::from(limit)).await?;
    store.close().await;
    if rows.is_empty() {
        writeln!(out, "no ended sessions")?;
        return Ok(());
    }
    let shown: Vec<_> = rows
        .iter()
        .map(|r| (SafeText::new(&r.username), SafeText::new(&r.source_ip)))
        .collect();
    let user_w = shown
        .iter()
        .map(|(n, _)| n.as_str().chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let from_w = shown
        .iter()
        .map(|(_, ip)| ip.as_str().chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:<16}  {:<user_w$}  {:<from_w$}  {:<23}  {:<9}  recording",
        "session", "user", "from", "started", "length"
    )?;
    for (r, (name, from)) in rows.iter().zip(shown) {
        let length = match r.ended_ms {
            Some(end) => crate::domain::format_duration((end - r.started_ms).div_euclid(1000)),
            None => "?".into(),
        };
        let recording = recording_state(r.recording.as_ref()).describe();
        writeln!(
            out,
            "{:<16}  {name:<user_w$}  {from:<from_w$}  {:<23}  {length:<9}  {recording}",
            SafeText::new(&r.id),
            format_time(r.started_ms.div_euclid(1000)),
        )?;
    }
    Ok(())
}

/// Find the recording of `id`, checked against the audit trail; a warning on `err` if it
/// is not sealed yet.
async fn open_checked(
    config: &Config,
    id: &str,
    err: &mut impl Write,
) -> Result<(Reader, cast::Header, String), CommandError> {
    let store = open_admin_store(config).await?;
    let found = checked_recording(&store, &config.recording.recordings_dir, id).await;
    store.close().await;
    let (row, path, seal) = found.map_err(|e| match e {
        RecordingError::Store(StoreError::NotFound(what)) => CommandError::Usage(what),
        RecordingError::Store(e) => CommandError::Store(e),
        other => CommandError::Usage(other.to_string()),
    })?;
    if seal == SealState::Unsealed {
        writeln!(
            err,
            "moat: the recording of session {} is not sealed yet (the session is live, or its \
             server stopped): it is not checked against the audit trail",
            SafeText::new(&row.session_id)
        )?;
    }
    let (header, reader) = Reader::open(&path).map_err(|e| match e {
        crate::recording::ReadError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            CommandError::Usage(format!(
                "the recording of session {} is not in {} (recorded by another instance?)",
                SafeText::new(&row.session_id),
                config.recording.recordings_dir.display()
            ))
        }
        other => CommandError::Usage(format!("the recording cannot be read: {other}")),
    })?;
    Ok((reader, header, row.session_id))
}

/// `moat sessions export ID`: the recording as an asciicast v2 file on `out` (what
/// `asciinema play` reads), its output filtered like a replay and written with every
/// character a terminal would obey as a JSON escape, so the file is safe to `cat` too.
pub async fn session_export(
    config: &Config,
    id: &str,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), CommandError> {
    let (mut reader, header, session) = open_checked(config, id, err).await?;
    let line = String::from_utf8_lossy(&cast::header_line(&header)).into_owned();
    let value: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| CommandError::Usage(e.to_string()))?;
    write_json(out, &value)?;
    out.write_all(b"\n")?;
    let mut n = 0u64;
    for event in &mut reader {
        let e = event.map_err(|e| CommandError::Usage(format!("the recording: {e}")))?;
        let data = match e.kind {
            Kind::Output | Kind::Input => filter::output(&e.data),
            Kind::Resize | Kind::Marker => std::borrow::Cow::Borrowed(e.data.as_str()),
        };
        write!(
            out,
            "[{}, \"{}\", ",
            cast::format_time(e.at_us),
            e.kind.code()
        )?;
        write_json(out, &serde_json::Value::String(data.into_owned()))?;
        out.write_all(b"]\n")?;
        n += 1;
    }
    out.flush()?;
    let cut = if reader.truncated {
        " (the file ends mid-flush: its server stopped)"
    } else {
        ""
    };
    writeln!(
        err,
        "moat: exported {n} events of session {}{cut}",
        SafeText::new(&session)
    )?;
    Ok(())
}

fn write_json(out: &mut impl Write, value: &serde_json::Value) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafeJson);
    serde::Serialize::serialize(value, &mut ser).map_err(std::io::Error::from)
}

/// `moat sessions replay ID [--speed X]`: play the recording in this terminal, at
/// `speed` times real time, each pause cut to two seconds (before `speed`). Only moat's
/// own escape sequences reach the terminal; it is restored at the end, or on Ctrl-C.
pub async fn session_replay(
    config: &Config,
    id: &str,
    speed: f64,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), CommandError> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(CommandError::Usage(
            "--speed must be a positive number".into(),
        ));
    }
    let (mut reader, header, session) = open_checked(config, id, err).await?;
    writeln!(
        err,
        "moat: replaying session {} ({}×{}), Ctrl-C stops",
        SafeText::new(&session),
        header.width,
        header.height
    )?;
    let mut last_us = 0u64;
    let limit = IDLE_LIMIT.as_secs_f64();
    let played = async {
        for event in &mut reader {
            let e = event.map_err(|e| CommandError::Usage(format!("the recording: {e}")))?;
            let gap = e.at_us.saturating_sub(last_us) as f64 / 1e6;
            last_us = e.at_us;
            let wait = gap.min(limit) / speed;
            if wait > 0.0005 {
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            }
            if e.kind == Kind::Output {
                out.write_all(filter::output(&e.data).as_bytes())?;
                out.flush()?;
            }
        }
        Ok::<(), CommandError>(())
    };
    let result = tokio::select! {
        r = played => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    // Whatever the recording left (a session cut short stays on the alternate screen).
    out.write_all(AnsiBackend::LEAVE)?;
    out.flush()?;
    result?;
    writeln!(err, "moat: end of the recording")?;
    Ok(())
}
