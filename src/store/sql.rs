//! The SQL text moat builds, in one place: identifier quoting and the dialect's statements.
//!
//! [`Ident`] is the only way a table or column name reaches SQL. It can be made only from
//! introspected schema, never from text a user typed, and it always quotes.

use crate::domain::{ColumnInfo, TableInfo};

/// A quoted SQL identifier, built only from introspected schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// The quoted name of an introspected table.
    pub fn table(t: &TableInfo) -> Ident {
        Ident(quote(&t.name))
    }

    /// The quoted name of an introspected column.
    pub fn column(c: &ColumnInfo) -> Ident {
        Ident(quote(&c.name))
    }

    /// A key column of `t` by name: a real column, or SQLite's implicit `rowid`.
    /// `None` when `name` is neither (the caller's schema is out of date).
    pub fn key_column(t: &TableInfo, name: &str) -> Option<Ident> {
        if name == "rowid" && t.column("rowid").is_none() {
            return Some(Ident("rowid".into()));
        }
        // A view of the table may leave its key out of `columns`; the key's name is still
        // introspected schema.
        t.column(name).map(Ident::column).or_else(|| {
            t.primary_key
                .iter()
                .any(|k| k == name)
                .then(|| Ident(quote(name)))
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Double-quote an identifier, doubling embedded quotes (SQL standard, SQLite, PostgreSQL).
fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for ch in name.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// `(?, ?, …)` with `n` placeholders.
pub fn placeholders(n: usize) -> String {
    let mut s = String::from("(");
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s.push(')');
    s
}

/// `(a, b, …)` for a list of identifiers.
pub fn ident_tuple(idents: &[Ident]) -> String {
    let names: Vec<&str> = idents.iter().map(Ident::as_str).collect();
    format!("({})", names.join(", "))
}

/// SQLite: the user tables of the main schema, without SQLite's internals, virtual and
/// shadow tables, moat's own tables and sqlx's bookkeeping. `wr` is 1 for WITHOUT ROWID.
pub const LIST_TABLES: &str = "SELECT name, wr FROM pragma_table_list \
     WHERE schema = 'main' AND type = 'table' \
       AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
       AND name NOT LIKE 'moat\\_%' ESCAPE '\\' \
       AND name <> '_sqlx_migrations' \
     ORDER BY name";

/// SQLite: the columns of one table (bind the table name). Hidden columns (of virtual
/// tables) are left out; generated columns are kept.
pub const TABLE_COLUMNS: &str = "SELECT name, type, \"notnull\", dflt_value, pk \
     FROM pragma_table_xinfo(?) WHERE hidden IN (0, 2, 3) ORDER BY cid";

/// SQLite: the foreign keys of one table (bind the table name).
pub const TABLE_FOREIGN_KEYS: &str = "SELECT id, seq, \"table\", \"from\", \"to\", on_delete \
     FROM pragma_foreign_key_list(?) ORDER BY id, seq";

/// Rows counted exactly up to this many; beyond it a count is shown as `N+`.
pub const EXACT_COUNT_LIMIT: u64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote("posts"), "\"posts\"");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote("a; DROP TABLE x; --"), "\"a; DROP TABLE x; --\"");
    }

    #[test]
    fn tuples() {
        assert_eq!(placeholders(2), "(?, ?)");
        assert_eq!(
            ident_tuple(&[Ident("\"a\"".into()), Ident("rowid".into())]),
            "(\"a\", rowid)"
        );
    }
}
