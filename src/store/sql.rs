//! The SQL text moat builds, in one place: identifier quoting and the dialect's statements.
//!
//! [`Ident`] is the only way a table or column name reaches SQL. It can be made only from
//! introspected schema, never from text a user typed, and it always quotes.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use sqlx::any::{Any, AnyArguments};

use crate::domain::{ColumnInfo, TableInfo, Value};

/// The SQL dialect of a store's database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect a `database_url` names, or `None` for a scheme moat does not speak.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }
}

/// moat's SQL is written with `?` placeholders; this numbers them `$1, $2, …`, which
/// PostgreSQL needs and SQLite also accepts (so one text serves both). A `?` inside a
/// quoted string or identifier is left alone.
///
/// An explicitly numbered `?N` (a value used twice) becomes `$N`.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            (None, _) => {}
        }
        out.push(ch);
    }
    out
}

/// [`numbered`] for SQL written in the source, done once per text: the numbered copy is
/// kept for the life of the process (one per distinct query text, a bounded set).
fn numbered_static(sql: &'static str) -> &'static str {
    static DONE: LazyLock<RwLock<HashMap<&'static str, &'static str>>> =
        LazyLock::new(Default::default);
    if !sql.contains('?') {
        return sql;
    }
    if let Some(done) = DONE.read().unwrap_or_else(PoisonError::into_inner).get(sql) {
        return done;
    }
    DONE.write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(sql)
        .or_insert_with(|| Box::leak(numbered(sql).into_boxed_str()))
}

/// `sqlx::query` for SQL written in the source with `?` placeholders (see [`numbered`]).
pub fn query<'q>(sql: &'static str) -> sqlx::query::Query<'q, Any, AnyArguments<'q>> {
    sqlx::query(numbered_static(sql))
}

/// `sqlx::query_as` for SQL written in the source (see [`query`]).
pub fn query_as<'q, O>(sql: &'static str) -> sqlx::query::QueryAs<'q, Any, O, AnyArguments<'q>>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_as(numbered_static(sql))
}

/// `sqlx::query_scalar` for SQL written in the source (see [`query`]).
pub fn query_scalar<'q, O>(
    sql: &'static str,
) -> sqlx::query::QueryScalar<'q, Any, O, AnyArguments<'q>>
where
    (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_scalar(numbered_static(sql))
}

/// Groups of a user, as a subquery bound to one user id (a macro so that `concat!`
/// keeps every statement a literal).
macro_rules! user_groups {
    () => {
        "SELECT group_id FROM moat_user_groups WHERE user_id = ?"
    };
}
pub(crate) use user_groups;

/// A quoted SQL identifier, built only from introspected schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// The quoted name of an introspected table (with its schema on PostgreSQL).
    pub fn table(t: &TableInfo) -> Ident {
        match &t.pg_name {
            Some((schema, table)) => Ident(format!("{}.{}", quote(schema), quote(table))),
            None => Ident(quote(&t.name)),
        }
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

    /// A name moat derives from table `t` for an object of its own on it (a search
    /// index's FTS5 table and triggers, see `search_index`): `prefix`, the table's
    /// introspected name, `suffix`; quoted. SQLite only (one schema).
    pub fn derived(prefix: &'static str, t: &TableInfo, suffix: &'static str) -> Ident {
        Ident(quote(&format!("{prefix}{}{suffix}", t.name)))
    }

    /// PostgreSQL: an index moat names in table `t`'s schema: `moat_search_` and a
    /// digest of the table and column (catalog names are at most 63 bytes long). With
    /// its schema (to drop it) and without (to create it, beside its table).
    pub fn pg_derived(t: &TableInfo, column: &ColumnInfo) -> Option<(Ident, Ident)> {
        use sha2::Digest;
        let (schema, table) = t.pg_name.as_ref()?;
        let digest = sha2::Sha256::digest(format!("{schema}\0{table}\0{}", column.name));
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let name = format!("moat_search_{hex}");
        Some((
            Ident(format!("{}.{}", quote(schema), quote(&name))),
            Ident(quote(&name)),
        ))
    }

    /// PostgreSQL: an index named in the catalog (bound from a catalog query) in table
    /// `t`'s schema.
    pub fn pg_index(t: &TableInfo, catalog_name: &str) -> Option<Ident> {
        let (schema, _) = t.pg_name.as_ref()?;
        Some(Ident(format!("{}.{}", quote(schema), quote(catalog_name))))
    }

    /// PostgreSQL: an operator class named in the catalog, with its schema.
    pub fn pg_opclass(schema: &str, name: &str) -> Ident {
        Ident(format!("{}.{}", quote(schema), quote(name)))
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A column as record queries use it: its identifier, how its value is read, how a value
/// is bound against it, and its value as text (for search). Built only from introspected
/// schema, like [`Ident`].
#[derive(Clone, Debug)]
pub struct Column {
    pub ident: Ident,
    pg_type: Option<String>,
    native: bool,
}

/// PostgreSQL types sqlx's Any driver reads as they are; every other type is read as
/// text (uuid, timestamptz, numeric, jsonb, arrays, enums, …).
const PG_NATIVE: &[&str] = &[
    "int2", "int4", "int8", "float4", "float8", "bool", "bytea", "text", "varchar",
];

impl Column {
    /// Column `name` of `table`: a real column, or SQLite's implicit `rowid` key.
    pub fn of(table: &TableInfo, name: &str) -> Option<Column> {
        let ident = Ident::key_column(table, name)?;
        let pg = table.column(name).and_then(|c| c.pg_type.as_ref());
        Some(Column {
            ident,
            native: pg
                .is_none_or(|t| t.schema == "pg_catalog" && PG_NATIVE.contains(&t.name.as_str())),
            pg_type: pg.map(|t| format!("{}.{}", quote(&t.schema), quote(&t.name))),
        })
    }

    /// The expression that reads the column into a [`crate::domain::Value`].
    ///
    /// SQLite: `+"c"`, an expression, so that no declared type (`BOOLEAN`, `DATE`, which
    /// sqlx's Any driver refuses) is reported; the value keeps its storage class.
    /// PostgreSQL: the column, or `CAST("c" AS text)` for types read as text.
    pub fn read(&self) -> String {
        match (&self.pg_type, self.native) {
            (None, _) => format!("+{}", self.ident),
            (Some(_), true) => self.ident.to_string(),
            (Some(_), false) => format!("CAST({} AS text)", self.ident),
        }
    }

    /// A placeholder for a value compared with or stored in this column. On PostgreSQL the
    /// value (bound as integer, real, text or bytes) goes through its text form into the
    /// column's type, so `'42'`, `42`, `'2024-05-01'` and `'{1,2}'` all land as typed.
    pub fn slot(&self) -> String {
        match &self.pg_type {
            None => "?".into(),
            Some(t) => format!("CAST(CAST(? AS text) AS {t})"),
        }
    }

    /// `v` as it is bound to a [`Column::slot`]: as it is on SQLite; on PostgreSQL in its
    /// text form (bytes as `\\x…` hex), so that a statement's parameters keep one type
    /// whatever the values (sqlx reuses a prepared statement's parameter types).
    pub fn arg(&self, v: &Value) -> Value {
        if self.pg_type.is_none() {
            return v.clone();
        }
        match v {
            Value::Null => Value::Null,
            Value::Integer(i) => Value::Text(i.to_string()),
            Value::Real(r) => Value::Text(r.to_string()),
            Value::Text(t) => Value::Text(t.clone()),
            Value::Blob(b) => {
                let mut hex = String::with_capacity(2 + 2 * b.len());
                hex.push_str("\\x");
                for byte in b {
                    hex.push_str(&format!("{byte:02x}"));
                }
                Value::Text(hex)
            }
        }
    }

    /// The values of `vs` for these columns' slots, in order (see [`Column::arg`]).
    pub fn args(columns: &[Column], vs: &[Value]) -> Vec<Value> {
        columns.iter().zip(vs).map(|(c, v)| c.arg(v)).collect()
    }

    /// The column's value as text, for search (`LIKE`) and object permissions, whose
    /// keys are stored as text.
    pub fn text(&self) -> String {
        match &self.pg_type {
            None => self.ident.to_string(),
            Some(_) => format!("CAST({} AS text)", self.ident),
        }
    }
}

/// `(a, b, …)` for a list of columns.
pub fn column_tuple(columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.ident.as_str()).collect();
    format!("({})", names.join(", "))
}

/// `(slot, slot, …)` for a list of columns (see [`Column::slot`]).
pub fn slot_tuple(columns: &[Column]) -> String {
    let slots: Vec<String> = columns.iter().map(Column::slot).collect();
    format!("({})", slots.join(", "))
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

/// A flag (boolean) column or expression of `row`.
///
/// PostgreSQL answers a boolean, SQLite an integer. Flag *columns* are selected through an
/// expression (`is_active = TRUE AS is_active`): SQLite reports a bare column's declared
/// type, and sqlx's Any driver refuses `BOOLEAN` there.
pub fn flag(row: &sqlx::any::AnyRow, name: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    match row.try_get::<bool, _>(name) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(name)? != 0),
    }
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

/// PostgreSQL: ordinary and partitioned tables (continue with the schema condition).
/// Catalog names are cast to text: sqlx's Any driver reads no `name`, `oid` or `"char"`.
pub const PG_LIST_TABLES: &str = "SELECT CAST(c.oid AS bigint) AS oid, \
            CAST(n.nspname AS text) AS schema, CAST(c.relname AS text) AS name \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition";

/// PostgreSQL: the columns of one table (bind its oid): the type as written and as the
/// catalog names it, enum labels (a JSON array), the position in the primary key.
pub const PG_TABLE_COLUMNS: &str = "SELECT CAST(a.attname AS text) AS name, \
            format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, \
            pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attidentity <> '' AS is_identity, \
            CAST(tn.nspname AS text) AS type_schema, CAST(t.typname AS text) AS type_name, \
            (SELECT CAST(json_agg(e.enumlabel ORDER BY e.enumsortorder) AS text) \
               FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels, \
            CAST(COALESCE((SELECT k.n FROM pg_index i, \
                 unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n) \
               WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.attnum = a.attnum), 0) \
               AS bigint) AS pk \
     FROM pg_attribute a \
     JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace \
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE a.attrelid = CAST(? AS oid) AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// PostgreSQL: the foreign keys of one table (bind its oid); column lists as JSON arrays
/// in key order, `on_delete` as the catalog's letter.
pub const PG_TABLE_FOREIGN_KEYS: &str = "SELECT \
            (SELECT CAST(json_agg(a.attname ORDER BY k.n) AS text) \
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n) \
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns, \
            CAST(fn.nspname AS text) AS ref_schema, CAST(f.relname AS text) AS ref_table, \
            (SELECT CAST(json_agg(a.attname ORDER BY k.n) AS text) \
               FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n) \
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS ref_columns, \
            CAST(con.confdeltype AS text) AS on_delete \
     FROM pg_constraint con \
     JOIN pg_class f ON f.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace \
     WHERE con.contype = 'f' AND con.conrelid = CAST(? AS oid) \
     ORDER BY con.conname";

/// PostgreSQL: the planner's estimate of a table's rows (bind its quoted name); -1 when it
/// was never analysed.
pub const PG_ESTIMATED_ROWS: &str =
    "SELECT CAST(reltuples AS bigint) FROM pg_class WHERE oid = CAST(CAST(? AS text) AS regclass)";

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
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT \"a?\", 'b?' FROM t WHERE x = ? AND y IN (?, ?)"),
            "SELECT \"a?\", 'b?' FROM t WHERE x = $1 AND y IN ($2, $3)"
        );
        assert_eq!(numbered("it''s ? 'x''?'"), "it''s $1 'x''?'");
        assert_eq!(numbered_static("SELECT ?"), "SELECT $1");
        assert_eq!(
            numbered("?1 IS NULL OR a = ?1 AND b = ?2"),
            "$1 IS NULL OR a = $1 AND b = $2"
        );
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
