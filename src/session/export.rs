//! CSV export of a list, as the user sees it (permission filter, search, sort, column
//! rules applied), into the configured `export_dir` under a generated name. Streams page
//! by page, so memory stays flat however big the list; reports progress as it goes.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::Shown;
use crate::domain::{Listing, PageAnchor, RowCount, Value};
use crate::store::Store;
use crate::tui::Msg;

/// Rows fetched per page while exporting.
const EXPORT_PAGE: u32 = 1_000;

/// One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return first) is prefixed with `'`.
pub fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::Integer(i) => return i.to_string(),
        Value::Real(r) => return r.to_string(),
        Value::Blob(b) => return b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::Text(s) => s,
    };
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.clone()
    };
    if guarded.contains([',', '"', '\n', '\r']) || guarded != guarded.trim() {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut line = fields.collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// A new file in `dir` named after `model` and the time; never one a client named.
fn create_file(dir: &Path, model: &str, now_ms: i64) -> std::io::Result<(PathBuf, std::fs::File)> {
    std::fs::create_dir_all(dir)?;
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let stamp = crate::domain::format_time(now_ms.div_euclid(1000))
        .trim_end_matches(" UTC")
        .replace(['-', ':'], "")
        .replace(' ', "-");
    let mut suffix = [0u8; 3];
    rand::Rng::fill(&mut rand::thread_rng(), &mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{safe}-{stamp}-{suffix}.csv"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

/// One export to run.
pub struct Job {
    pub store: Store,
    pub shown: Shown,
    pub listing: Listing,
    pub dir: PathBuf,
    pub model: String,
    pub now_ms: i64,
    /// The list's (capped) size, for the progress bar.
    pub total: Option<RowCount>,
}

/// Write the list to a new CSV file, sending progress to `progress` (if any) after each
/// page. Returns the message announcing the result.
pub async fn run(job: Job, progress: Option<mpsc::Sender<Msg>>) -> Msg {
    let Job {
        store,
        shown,
        listing,
        dir,
        model,
        now_ms,
        total,
    } = job;
    let (path, file) = match create_file(&dir, &model, now_ms) {
        Ok(pair) => pair,
        Err(e) => {
            return Msg::Failed(format!(
                "export: cannot create a file in the export directory: {e}"
            ))
        }
    };
    let mut out = std::io::BufWriter::new(file);
    let header = csv_line(
        shown
            .table
            .columns
            .iter()
            .map(|c| csv_field(&Value::Text(c.name.clone()))),
    );
    if let Err(e) = out.write_all(header.as_bytes()) {
        return Msg::Failed(format!("export: {e}"));
    }
    let mut rows: u64 = 0;
    let mut anchor = PageAnchor::First;
    loop {
        let page = match store
            .page(&shown.table, &anchor, EXPORT_PAGE, &listing)
            .await
        {
            Ok(p) => p,
            Err(e) => return Msg::Failed(format!("export stopped after {rows} rows: {e}")),
        };
        for row in &page.rows {
            let mut values = row.values.clone();
            shown.mask(&mut values);
            if let Err(e) = out.write_all(csv_line(values.iter().map(csv_field)).as_bytes()) {
                return Msg::Failed(format!("export stopped after {rows} rows: {e}"));
            }
            rows += 1;
        }
        if let Some(tx) = &progress {
            let _ = tx.try_send(Msg::ExportProgress { rows, total });
        }
        match (page.has_after, page.rows.last()) {
            (true, Some(last)) => anchor = PageAnchor::After(last.cursor.clone()),
            _ => break,
        }
    }
    if let Err(e) = out.flush() {
        return Msg::Failed(format!("export: {e}"));
    }
    Msg::Exported {
        path: path.display().to_string(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field(&Value::Null), "");
        assert_eq!(csv_field(&Value::Integer(-3)), "-3");
        assert_eq!(csv_field(&Value::Text("plain".into())), "plain");
        assert_eq!(csv_field(&Value::Text("a,b".into())), "\"a,b\"");
        assert_eq!(
            csv_field(&Value::Text("say \"hi\"".into())),
            "\"say \"\"hi\"\"\""
        );
        assert_eq!(
            csv_field(&Value::Text("two\nlines".into())),
            "\"two\nlines\""
        );
        assert_eq!(
            csv_field(&Value::Text("=HYPERLINK(\"x\")".into())),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(csv_field(&Value::Text("@SUM(A1)".into())), "'@SUM(A1)");
        assert_eq!(csv_field(&Value::Blob(vec![0, 255])), "00ff");
    }

    #[test]
    fn files_get_generated_names_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = create_file(dir.path(), "../../etc/passwd", 1_764_115_200_000).unwrap();
        assert_eq!(path.parent(), Some(dir.path()));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with("______etc_passwd-20251126-000000-"),
            "{name}"
        );
        assert!(name.ends_with(".csv"));
    }
}
