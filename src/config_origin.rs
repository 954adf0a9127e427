//! Where a configuration came from, to point an error at the line and column of the
//! value (or the environment variable) that set it.

use std::path::PathBuf;

/// Where a loaded configuration came from: the file (and its text, to point at a value's
/// line and column) and the keys the environment set.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Whether the file was named (`--config`) rather than found (`./moat.toml`).
    pub named: bool,
    pub(super) text: Option<std::sync::Arc<str>>,
    /// Top-level keys set by `MOAT_<KEY>` variables.
    pub env_keys: Vec<String>,
}

/// Two configurations are equal when their settings are, wherever they came from.
impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

impl Origin {
    /// Where the value of `path` (dotted, as in error messages: `limits.ipv6_prefix`,
    /// `models.posts.hidden`) was set: `moat.toml, line 3, column 1`, or the
    /// environment variable. `None` when it was not set in either (a default).
    pub fn place_of(&self, path: &str) -> Option<String> {
        let top = path.split('.').next().unwrap_or(path);
        if self.env_keys.iter().any(|k| k == top) {
            return Some(format!(
                "environment variable MOAT_{}",
                top.to_ascii_uppercase()
            ));
        }
        let (file, text) = (self.file.as_ref()?, self.text.as_deref()?);
        let doc = toml_edit::ImDocument::parse(text).ok()?;
        let span = key_span(doc.as_table(), path)?;
        let (line, column) = line_column(text, span.start);
        Some(format!(
            "config file {}, line {line}, column {column}",
            file.display()
        ))
    }
}

/// The span of the key at dotted `path` in `table`. Model names may hold dots
/// (`billing.invoices`), so at each level the longest run of segments that names a key
/// is taken.
fn key_span(table: &dyn toml_edit::TableLike, path: &str) -> Option<std::ops::Range<usize>> {
    let parts: Vec<&str> = path.split('.').collect();
    for n in (1..=parts.len()).rev() {
        let key = parts[..n].join(".");
        let Some((k, item)) = table.get_key_value(&key) else {
            continue;
        };
        if n == parts.len() {
            return k.span().or_else(|| item.span());
        }
        let rest = parts[n..].join(".");
        return match item.as_table_like() {
            Some(inner) => key_span(inner, &rest).or_else(|| k.span()),
            None => k.span(),
        };
    }
    None
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
