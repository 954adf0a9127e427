//! CSV export of a list, as the user sees it (permission filter, search, sort, column
//! rules applied), into the configured `export_dir` under a generated name. Streams page
//! by page, so memory stays flat however big the list; reports progress as it goes.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use std::collections::HashSet;

use super::{describe, now_ms, Actor, Context, Shown};
use crate::domain::Grants;
use crate::domain::ListQuery;
use crate::domain::{Listing, PageAnchor, RowCount, Value};
use crate::perm::{self, Action, Decision};
use crate::store::AuditEntry;
use crate::store::Store;
use crate::tui::Msg;

/// Rows fetched per page while exporting.
const EXPORT_PAGE: u32 = 1_000;

/// Characters that make a spreadsheet read a cell as a formula or a command (DDE) when they
/// open it: ASCII and fullwidth `= + - @`, `|`, and a tab or carriage return first.
const FORMULA_START: [char; 11] = [
    '=', '+', '-', '@', '|', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// One CSV field (RFC 4180). Numbers and blobs (as hex) are written bare, NULL as nothing, and
/// text always between double quotes (inner quotes doubled), after two defences:
///
/// - control characters are escaped as the terminal sanitizer writes them (`\r`, `\xNN`),
///   so a file looked at with `cat` or `less` cannot drive the terminal; line feeds and tabs
///   stay (multi-line text survives), and `\r\n` inside a value becomes `\n`;
/// - text a spreadsheet would run as a formula gets a `'` in front: a cell whose first
///   character other than spaces and line breaks is one of [`FORMULA_START`], and likewise each
///   part after a `;` (a spreadsheet that splits on semicolons would start a new cell there),
///   so `a;=1+1` is written `"a;'=1+1"`.
pub fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::Integer(i) => return i.to_string(),
        Value::Real(r) => return r.to_string(),
        Value::Blob(b) => return b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::Text(s) => s,
    };
    let text = escape_controls(text);
    let mut out = String::with_capacity(text.len() + 4);
    out.push('"');
    for (i, part) in text.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        if starts_formula(part) {
            out.push('\'');
        }
        out.push_str(&part.replace('"', "\"\""));
    }
    out.push('"');
    out
}

/// Whether a spreadsheet would take `cell` for a formula.
fn starts_formula(cell: &str) -> bool {
    cell.starts_with(FORMULA_START)
        || cell
            .trim_start_matches([' ', '\n', '\r'])
            .starts_with(FORMULA_START)
}

/// `text` with every control character except line feed and tab escaped (`\r`, `\xNN`:
/// C0, DEL and C1), `\r\n` first turned into `\n`.
fn escape_controls(text: &str) -> Cow<'_, str> {
    let keep = |c: char| !c.is_control() || c == '\n' || c == '\t';
    if text.chars().all(keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.replace("\r\n", "\n").chars() {
        match c {
            c if keep(c) => out.push(c),
            '\r' => out.push_str(r"\r"),
            // Writing to a String cannot fail.
            c => _ = write!(out, "\\x{:02x}", u32::from(c)),
        }
    }
    Cow::Owned(out)
}

/// Fields joined into one CSV line, CRLF-terminated (RFC 4180).
pub fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut line = fields.collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// A new file in `dir` named after `model` and the time; never one a client named. The file
/// is private to moat's user (0600) whatever the umask, and so is `dir` (0700) when it has
/// to be created; an existing `dir` keeps the mode its operator gave it.
fn create_file(dir: &Path, model: &str, now_ms: i64) -> std::io::Result<(PathBuf, std::fs::File)> {
    create_private_dir(dir)?;
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
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(&path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok((path, file))
    }
    #[cfg(not(unix))]
    Ok((path.clone(), options.open(&path)?))
}

/// Create `dir` and any missing parents with mode 0700 (set outright, not left to the
/// umask); leave it alone if it exists.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// One export to run.
pub struct Job {
    pub store: Store,
    pub shown: Shown,
    pub listing: Listing,
    /// The file to write (already created, 0600, in its owner's directory) and its path.
    pub file: std::fs::File,
    pub path: PathBuf,
    /// The port SFTP is served on, for the message saying how to fetch the file.
    pub port: u16,
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
        file,
        path,
        port,
        total,
    } = job;
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
    // The user names it as SFTP shows it: `exports/NAME`, never the server's path.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Msg::Exported {
        path: format!("{}/{name}", super::exports::DIR),
        rows,
        columns: shown.table.columns.iter().map(|c| c.name.clone()).collect(),
        port,
    }
}

impl Context {
    /// Start an export of a list (superusers, or `export_<model>` — a verb the model
    /// declares in config). It runs in the background; progress and the result come back
    /// as messages.
    pub(super) async fn export(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        query: ListQuery,
    ) -> Result<Msg, Msg> {
        let export = Action::Custom("export".into());
        if let Decision::Deny(reason) = perm::decide(g, &export, &model, &HashSet::new()) {
            return Err(self.deny(actor, &export, &model, None, &reason).await);
        }
        // Every column the user is shown, not only the list's: a `list = [...]` in config
        // shapes the screen, not the data the user takes away.
        let (shown, listing) = self.queryable(actor, g, &model, &query).await?;
        let total = self.store.count_rows(&shown.table, &listing).await.ok();
        // In the exporter's own directory: what is there is theirs (see `exports`).
        let dir = super::exports::user_dir(&self.export_dir, actor.user_id);
        let (path, file) = create_file(&dir, &model, now_ms()).map_err(|e| {
            Msg::Failed(format!(
                "export: cannot create a file in the export directory: {e}"
            ))
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let audit = AuditEntry {
            reason: Some(format!(
                "export of {model} ({}) to {}/{name}",
                query_words(&query),
                super::exports::DIR
            )),
            ..actor.audit("export", &model)
        };
        if let Err(e) = self.store.audit(&[audit]).await {
            let _ = std::fs::remove_file(&path);
            return Err(Msg::Failed(describe(&e)));
        }
        let job = Job {
            store: self.store.clone(),
            shown,
            listing,
            file,
            path,
            port: self.exports.port.load(std::sync::atomic::Ordering::Relaxed),
            total,
        };
        match &actor.background {
            Some(tx) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let done = run(job, Some(tx.clone())).await;
                    let _ = tx.send(done).await;
                });
                Ok(Msg::ExportProgress { rows: 0, total })
            }
            None => Ok(run(job, None).await),
        }
    }
}

/// A list query in words, for the audit trail.
fn query_words(q: &ListQuery) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &q.search {
        parts.push(format!("search {s:?}"));
    }
    if let Some(o) = &q.sort {
        parts.push(format!(
            "sorted by {}{}",
            o.column,
            if o.descending { " desc" } else { "" }
        ));
    }
    if parts.is_empty() {
        "all rows".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        csv_field(&Value::Text(s.into()))
    }

    #[test]
    fn numbers_blobs_and_null_are_bare() {
        assert_eq!(csv_field(&Value::Null), "");
        assert_eq!(csv_field(&Value::Integer(-3)), "-3");
        assert_eq!(csv_field(&Value::Real(-1.5)), "-1.5");
        assert_eq!(csv_field(&Value::Blob(vec![0, 255])), "00ff");
    }

    #[test]
    fn text_is_always_quoted() {
        assert_eq!(text("plain"), "\"plain\"");
        assert_eq!(text(""), "\"\"");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("two\nlines"), "\"two\nlines\"");
        assert_eq!(text(" padded "), "\" padded \"");
    }

    #[test]
    fn leading_formula_characters_are_defused() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(text("+1"), "\"'+1\"");
        assert_eq!(text("-1+2"), "\"'-1+2\"");
        assert_eq!(text("\tx"), "\"'\tx\"");
        assert_eq!(text("a=b"), "\"a=b\"", "only a leading one counts");
    }

    #[test]
    fn formulas_after_leading_whitespace_are_defused() {
        assert_eq!(text("  =1+1"), "\"'  =1+1\"");
        assert_eq!(text("\n=1+1"), "\"'\n=1+1\"");
        assert_eq!(text(" \n @x"), "\"' \n @x\"");
        // A carriage return is escaped, so the cell starts with a backslash: no formula.
        assert_eq!(text("\r=1+1"), "\"\\r=1+1\"");
        assert_eq!(text("\r\n=1+1"), "\"'\n=1+1\"");
    }

    #[test]
    fn fullwidth_formula_characters_are_defused() {
        for c in ['\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}'] {
            assert_eq!(text(&format!("{c}1+1")), format!("\"'{c}1+1\""), "{c}");
        }
    }

    #[test]
    fn a_leading_pipe_is_defused() {
        assert_eq!(text("|cmd"), "\"'|cmd\"");
        assert_eq!(text("a|b"), "\"a|b\"");
    }

    #[test]
    fn formulas_after_a_semicolon_are_defused() {
        assert_eq!(text(";=1+1"), "\";'=1+1\"");
        assert_eq!(text("a;=1+1"), "\"a;'=1+1\"");
        assert_eq!(text("a; @x;b;-1"), "\"a;' @x;b;'-1\"");
        assert_eq!(text("a;b"), "\"a;b\"");
        assert_eq!(text("=a;+b"), "\"'=a;'+b\"");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(text("a\x1b[2Jb"), "\"a\\x1b[2Jb\"");
        assert_eq!(text("\x1b]0;pwned\x07"), "\"\\x1b]0;pwned\\x07\"");
        assert_eq!(
            text("nul\0del\x7fcsi\u{9b}"),
            "\"nul\\x00del\\x7fcsi\\x9b\""
        );
        assert_eq!(text("over\rwrite"), "\"over\\rwrite\"");
        assert_eq!(text("dos\r\nline\ttab"), "\"dos\nline\ttab\"");
        let out = text("\u{1}\u{1f}\u{80}\u{9f}");
        assert!(!out.chars().any(char::is_control), "{out:?}");
    }

    #[cfg(unix)]
    #[test]
    fn export_directory_and_files_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // The usual umask, which left exports 0644 in a 0755 directory.
        // SAFETY: umask only sets the process's file-creation mask; 022 is the usual default,
        // so tests running alongside see no difference.
        unsafe { libc::umask(0o022) };
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("exports").join("posts");
        let (path, _) = create_file(&dir, "posts", 1_764_115_200_000).unwrap();
        assert_eq!(mode(&path), 0o600, "file");
        assert_eq!(mode(&dir), 0o700, "directory");
        assert_eq!(mode(&root.path().join("exports")), 0o700, "created parent");
        // A directory the operator made keeps its mode; the file in it is still private.
        let shared = root.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
        let (path, _) = create_file(&shared, "posts", 1_764_115_200_000).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&shared), 0o750);
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
