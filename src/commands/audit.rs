//! `moat audit verify|head|export`.

use std::io::Write;

use crate::config::Config;
use crate::domain::format_time;
use crate::seal;
use crate::store::{Store, StoreError};
use crate::tui::sanitize::{self, SafeText};

use super::{open_admin_store, CommandError};

/// `moat audit verify [--head ID:HASH]`: walk the chain; an error names the first bad
/// entry. Then the session recordings the chain vouches for (see [`audit_verify_with`]).
pub async fn audit_verify(
    config: &Config,
    head: Option<&str>,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    audit_verify_with(config, head, true, out).await
}

/// [`audit_verify`]; with `recordings`, also check that every recording sealed in the
/// chain (and not removed by retention since) is in `recordings_dir` with the size and
/// SHA-256 its entry holds. Each recording missing or altered is a line on `out` naming
/// its session, and the command fails.
pub async fn audit_verify_with(
    config: &Config,
    head: Option<&str>,
    recordings: bool,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let head = match head {
        Some(h) => {
            let (id, hash) = h
                .split_once(':')
                .and_then(|(i, hash)| Some((i.parse::<i64>().ok()?, hash)))
                .ok_or_else(|| {
                    CommandError::Usage(format!("--head wants ID:HASH, got `{}`", h.escape_debug()))
                })?;
            Some((id, hash))
        }
        None => None,
    };
    // Neither key is needed to check the plain chain: the TOTP key is not loaded, and the
    // audit key is used if present (checked against the trail, never created).
    let store = Store::connect_existing(&config.database_url)
        .await?
        .ok_or_else(|| CommandError::NoDatabase(config.database_shown()))?
        .with_schemas(&config.database_schemas);
    store.migrate().await?;
    let key_path = config.keys_dir.join(seal::AUDIT_KEY_FILE);
    let store = match seal::load_audit_key(&config.keys_dir)? {
        Some(key) => store.with_audit_key(key),
        None => store,
    };
    let result = store.verify_audit(head).await?;
    let expected = if recordings {
        crate::session::recording::expected_recordings(&store).await?
    } else {
        Vec::new()
    };
    store.close().await;
    let v = result.map_err(|e| CommandError::Usage(format!("audit trail broken: {e}")))?;
    let dir = config.recording.recordings_dir.clone();
    let findings = {
        let expected = expected.clone();
        tokio::task::spawn_blocking(move || crate::recording::check_files(&dir, &expected))
            .await
            .map_err(|e| CommandError::Usage(e.to_string()))?
    };
    if let Some(first) = findings.first() {
        for f in &findings {
            writeln!(out, "{}", SafeText::new(&f.to_string()))?;
        }
        return Err(CommandError::Usage(format!(
            "recordings do not match the audit trail: {} of {} ({}{})",
            findings.len(),
            expected.len(),
            SafeText::new(&first.to_string()),
            if findings.len() > 1 {
                "; and more above"
            } else {
                ""
            }
        )));
    }
    let head = match &v.head {
        Some((id, hash)) => format!("{} entries, head {id}:{}", v.rows, SafeText::new(hash)),
        None => "no entries yet".to_string(),
    };
    match v.keyed_from {
        None => writeln!(
            out,
            "unkeyed chain intact, MACs not checked ({} is absent): {head}",
            SafeText::new(&key_path.display().to_string())
        )?,
        Some(from) => {
            let before = u64::try_from(from - 1).unwrap_or(0).min(v.rows);
            let keyed = v.rows - before;
            let keyed = if keyed == 0 {
                format!("no entry since the audit key was made (it covers entries from {from} on)")
            } else if before == 0 {
                "every entry's MAC verified with the audit key".to_string()
            } else {
                format!(
                    "MACs verified from entry {from} on; the {before} entries before it predate \
                     the audit key and have none (they are covered through the chain by the \
                     MACs after them)"
                )
            };
            writeln!(out, "audit trail intact: {head}; {keyed}")?
        }
    }
    if !expected.is_empty() {
        writeln!(
            out,
            "recordings intact: {} sealed in the trail, each present with its SHA-256",
            expected.len()
        )?;
    }
    Ok(())
}

/// `moat audit head`: the last entry's id and hash, to store somewhere else.
pub async fn audit_head(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    match store.audit_head().await? {
        Some((id, hash)) => writeln!(out, "{id}:{}", SafeText::new(&hash))?,
        None => writeln!(out, "0:{}", crate::store::audit::GENESIS)?,
    }
    store.close().await;
    Ok(())
}

/// What `moat audit export` selects, and how it writes it.
#[derive(Clone, Debug, Default)]
pub struct ExportArgs {
    pub since: Option<String>,
    /// Entries before this time (exclusive).
    pub until: Option<String>,
    pub user: Option<String>,
    pub model: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// CSV instead of JSON lines.
    pub csv: bool,
}

/// The columns of `moat audit export --format csv`, in order.
pub const AUDIT_CSV_HEADER: &str = "id,at,at_ms,actor,source_ip,session_id,action,model,pk,\
                                    before,after,outcome,reason,prev_hash,hash";

/// `--since`/`--until` as unix milliseconds.
fn time_arg(flag: &str, value: Option<&String>) -> Result<Option<i64>, CommandError> {
    let Some(t) = value else {
        return Ok(None);
    };
    crate::domain::parse_time(t)
        .map(|secs| Some(secs.saturating_mul(1000)))
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "{flag}: `{}` is not a time (YYYY-MM-DD[ HH:MM:SS] or unix seconds)",
                t.escape_debug()
            ))
        })
}

/// One audit row as a CSV line (CRLF-terminated), each field written by the console's CSV
/// export ([`crate::session::export::csv_field`]): text quoted, formulas defused, control
/// characters escaped. Before and after values are their JSON text.
pub fn audit_csv_line(row: &crate::store::AuditRow) -> String {
    use crate::domain::Value;
    let e = &row.entry;
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let json = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or(Value::Null, |v| Value::Text(v.to_string()))
    };
    let fields = [
        Value::Integer(row.id),
        Value::Text(format_time(e.at_ms.div_euclid(1000))),
        Value::Integer(e.at_ms),
        text(&e.actor),
        text(&e.source_ip),
        text(&e.session_id),
        Value::Text(e.action.clone()),
        text(&e.model),
        text(&e.pk),
        json(&e.before),
        json(&e.after),
        Value::Text(e.outcome.clone()),
        text(&e.reason),
        Value::Text(row.prev_hash.clone()),
        Value::Text(row.hash.clone()),
    ];
    crate::session::export::csv_line(fields.iter().map(crate::session::export::csv_field))
}

/// `moat audit export [--format jsonl|csv] [--since T] [--until T] [--user U] [--model M]
/// [--action A] [--outcome O]`: one JSON object a line (or a CSV header and one line an
/// entry), oldest first, streamed; progress on `progress` every 100,000 rows.
pub async fn audit_export(
    config: &Config,
    args: &ExportArgs,
    out: &mut impl Write,
    progress: &mut impl Write,
) -> Result<(), CommandError> {
    let since_ms = time_arg("--since", args.since.as_ref())?;
    let until_ms = time_arg("--until", args.until.as_ref())?;
    let filter = crate::store::AuditFilter {
        since_ms,
        until_ms,
        actor: args.user.clone(),
        model: args.model.clone(),
        action: args.action.clone(),
        outcome: args.outcome.clone(),
        ..Default::default()
    };
    let store = open_admin_store(config).await?;
    if args.csv {
        write!(out, "{AUDIT_CSV_HEADER}\r\n")?;
    }
    // A failed write (the reader of a pipe went away) is returned as itself, so that
    // `main` can tell a closed pipe from a failure.
    let mut write_error = None;
    let exported = store
        .export_audit(&filter, |row| {
            let written = if args.csv {
                out.write_all(audit_csv_line(row).as_bytes())
            } else {
                let e = &row.entry;
                let line = serde_json::json!({
                    "id": row.id,
                    "at": format_time(e.at_ms.div_euclid(1000)),
                    "at_ms": e.at_ms,
                    "actor": e.actor,
                    "source_ip": e.source_ip,
                    "session_id": e.session_id,
                    "action": e.action,
                    "model": e.model,
                    "pk": e.pk,
                    "before": e.before,
                    "after": e.after,
                    "outcome": e.outcome,
                    "reason": e.reason,
                    "prev_hash": row.prev_hash,
                    "hash": row.hash,
                });
                write_json_line(out, &line)
            };
            written.map_err(|e| {
                let text = e.to_string();
                write_error = Some(e);
                StoreError::Conflict(text)
            })?;
            if row.id % 100_000 == 0 {
                let _ = writeln!(progress, "moat: exported up to entry {}…", row.id);
            }
            Ok(())
        })
        .await;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let n = exported?;
    let _ = writeln!(progress, "moat: exported {n} entries");
    store.close().await;
    Ok(())
}

/// Write `value` as one line of JSON with [`TerminalSafeJson`].
fn write_json_line(out: &mut impl Write, value: &serde_json::Value) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafeJson);
    serde::Serialize::serialize(value, &mut ser).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// JSON as serde_json writes it compactly, except that every character the terminal
/// sanitizer would escape (DEL, C1 controls, bidi, format and other invisible characters;
/// serde_json itself escapes only C0) is written as a `\uXXXX` escape. A parser reads the
/// same value; a terminal shown the lines gets nothing it would obey or hide.
pub struct TerminalSafeJson;

impl serde_json::ser::Formatter for TerminalSafeJson {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()>
    where
        W: ?Sized + Write,
    {
        let mut plain = 0;
        for (i, c) in fragment.char_indices() {
            if sanitize::is_escaped(c) {
                writer.write_all(fragment.get(plain..i).unwrap_or_default().as_bytes())?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                plain = i + c.len_utf8();
            }
        }
        writer.write_all(fragment.get(plain..).unwrap_or_default().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_quote_defuse_and_escape_like_the_console_export() {
        let row = crate::store::AuditRow {
            id: 7,
            entry: crate::store::AuditEntry {
                at_ms: 1_000,
                actor: Some("=cmd|' /C calc'!A0".into()),
                action: "change".into(),
                model: Some("posts".into()),
                pk: Some("1".into()),
                after: Some(serde_json::json!({ "title": "a\"b" })),
                outcome: "success".into(),
                reason: Some("bad\x1b[2Jthing".into()),
                ..Default::default()
            },
            prev_hash: "p".into(),
            hash: "h".into(),
        };
        let line = audit_csv_line(&row);
        assert_eq!(
            line,
            concat!(
                r#"7,"1970-01-01 00:00:01 UTC",1000,"'=cmd|' /C calc'!A0",,,"change","posts","1",,"#,
                r#""{""title"":""a\""b""}","success","bad\x1b[2Jthing","p","h""#,
                "\r\n"
            )
        );
        assert_eq!(AUDIT_CSV_HEADER.split(',').count(), 15);
    }

    #[test]
    fn json_lines_escape_what_a_terminal_would_obey_and_keep_the_value() {
        let raw = "a\x1b[2J\x7f\u{9b}\u{202e}\u{e0041}\u{3164}é日\"\\";
        let value = serde_json::json!({ "model": raw });
        let mut out = Vec::new();
        write_json_line(&mut out, &value).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "{\"model\":\"a\\u001b[2J\\u007f\\u009b\\u202e\\udb40\\udc41\\u3164é日\\\"\\\\\"}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, value);
    }
}
