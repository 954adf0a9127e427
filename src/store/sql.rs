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
    /// MySQL or MariaDB (`mysql://` or `mariadb://`).
    Mysql,
}

impl Dialect {
    /// The dialect a `database_url` names, or `None` for a scheme moat does not speak.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Some(Dialect::Mysql)
        } else {
            None
        }
    }

    /// The dialect of an open connection (for code that holds one, not the store).
    pub fn of_conn(conn: &sqlx::AnyConnection) -> Dialect {
        match conn.backend_name() {
            "PostgreSQL" => Dialect::Postgres,
            "MySQL" => Dialect::Mysql,
            _ => Dialect::Sqlite,
        }
    }

    /// The dialect an introspected table was read from.
    pub fn of_table(t: &TableInfo) -> Dialect {
        if t.pg_name.is_some() {
            Dialect::Postgres
        } else if is_mysql_table(t) {
            Dialect::Mysql
        } else {
            Dialect::Sqlite
        }
    }

    /// `sql` (written with `?` placeholders) as this dialect takes it: numbered `$1, $2, …`
    /// on SQLite and PostgreSQL (see [`numbered`]), as written on MySQL, whose
    /// placeholders are `?`. SQL for MySQL never uses a numbered `?N`.
    pub fn sql(self, sql: &str) -> String {
        match self {
            Dialect::Mysql => mysql_upserts(sql),
            Dialect::Sqlite | Dialect::Postgres => numbered(sql),
        }
    }

    /// [`Dialect::sql`] for SQL written in the source, done once per text.
    pub fn static_sql(self, sql: &'static str) -> &'static str {
        match self {
            Dialect::Mysql => cached(&MYSQL_DONE, sql, mysql_upserts),
            Dialect::Sqlite | Dialect::Postgres => numbered_static(sql),
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

/// Rewritten copies of SQL texts written in the source, one per distinct text (a bounded
/// set), kept for the life of the process.
type Done = LazyLock<RwLock<HashMap<&'static str, &'static str>>>;

static NUMBERED_DONE: Done = LazyLock::new(Default::default);
static MYSQL_DONE: Done = LazyLock::new(Default::default);

fn cached(done: &Done, sql: &'static str, rewrite: fn(&str) -> String) -> &'static str {
    if let Some(hit) = done.read().unwrap_or_else(PoisonError::into_inner).get(sql) {
        return hit;
    }
    done.write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(sql)
        .or_insert_with(|| Box::leak(rewrite(sql).into_boxed_str()))
}

/// [`numbered`] for SQL written in the source, done once per text.
fn numbered_static(sql: &'static str) -> &'static str {
    if !sql.contains('?') {
        return sql;
    }
    cached(&NUMBERED_DONE, sql, numbered)
}

/// MySQL has no `ON CONFLICT`: moat's upserts become `ON DUPLICATE KEY UPDATE`.
/// `ON CONFLICT (…) DO UPDATE SET a = excluded.a` → `ON DUPLICATE KEY UPDATE a =
/// VALUES(a)`. `INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING` → an insert
/// of the row only where no row has those very values (so a row already there counts as
/// no change: MySQL counts a row its upsert found as affected), and a no-op update on
/// any other duplicate key (unlike `INSERT IGNORE`, every other error stays an error:
/// no silent truncation). Only moat's own statements are rewritten (the texts in this
/// room, whose values hold no commas or parentheses), never values.
pub fn mysql_upserts(sql: &str) -> String {
    if let Some(at) = sql.find(" ON CONFLICT DO NOTHING") {
        let rewritten = (|| {
            let head = sql.get(..at)?;
            let rest = head.strip_prefix("INSERT INTO ")?;
            let (table, rest) = rest.split_once(" (")?;
            let (columns, rest) = rest.split_once(')')?;
            let values = rest.trim().strip_prefix("VALUES (")?.strip_suffix(')')?;
            let columns: Vec<&str> = columns.split(',').map(str::trim).collect();
            let values: Vec<&str> = values.split(',').map(str::trim).collect();
            if columns.len() != values.len() {
                return None;
            }
            let select: Vec<String> = values
                .iter()
                .zip(&columns)
                .map(|(v, c)| format!("{v} AS {c}"))
                .collect();
            let same: Vec<String> = columns
                .iter()
                .map(|c| format!("{table}.{c} = n.{c}"))
                .collect();
            Some(format!(
                "INSERT INTO {table} ({}) SELECT * FROM (SELECT {}) AS n \
                 WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {}) \
                 ON DUPLICATE KEY UPDATE {first} = {table}.{first}{}",
                columns.join(", "),
                select.join(", "),
                same.join(" AND "),
                &sql[at + " ON CONFLICT DO NOTHING".len()..],
                first = columns[0],
            ))
        })();
        if let Some(r) = rewritten {
            return r;
        }
    }
    if let Some(at) = sql.find("ON CONFLICT (") {
        if let Some(set) = sql[at..].find("DO UPDATE SET") {
            let rest = &sql[at + set + "DO UPDATE SET".len()..];
            let mut out = format!("{}ON DUPLICATE KEY UPDATE", &sql[..at]);
            let mut tail = rest;
            while let Some(i) = tail.find("excluded.") {
                out.push_str(&tail[..i]);
                let name_start = i + "excluded.".len();
                let len = tail[name_start..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len() - name_start);
                out.push_str(&format!("VALUES({})", &tail[name_start..name_start + len]));
                tail = &tail[name_start + len..];
            }
            out.push_str(tail);
            return out;
        }
    }
    sql.to_string()
}

/// `sqlx::query` for a statement holding a list of many values (`k IN (?, ?, …)`, a
/// batch of keys) in dialect `d`. On PostgreSQL it is planned for its values each time
/// it runs, not kept as a prepared statement: PostgreSQL moves a kept statement to one
/// generic plan after five runs, and for such lists that plan was 20 times slower (the
/// object permissions on 10,000 marked rows: 2.1 s against 0.11 s). SQLite and MySQL
/// plan each run anyway, and preparing 500 values anew costs them (a bulk delete's
/// question took 40 % longer), so there it is kept.
pub fn query_of_list(d: Dialect, sql: &str) -> sqlx::query::Query<'_, Any, AnyArguments<'_>> {
    sqlx::query(sql).persistent(d != Dialect::Postgres)
}

/// `sqlx::query` for SQL written in the source with `?` placeholders (see [`numbered`]).
pub fn query<'q>(d: Dialect, sql: &'static str) -> sqlx::query::Query<'q, Any, AnyArguments<'q>> {
    sqlx::query(d.static_sql(sql))
}

/// `sqlx::query_as` for SQL written in the source (see [`query`]).
pub fn query_as<'q, O>(
    d: Dialect,
    sql: &'static str,
) -> sqlx::query::QueryAs<'q, Any, O, AnyArguments<'q>>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_as(d.static_sql(sql))
}

/// `sqlx::query_scalar` for SQL written in the source (see [`query`]).
pub fn query_scalar<'q, O>(
    d: Dialect,
    sql: &'static str,
) -> sqlx::query::QueryScalar<'q, Any, O, AnyArguments<'q>>
where
    (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_scalar(d.static_sql(sql))
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
            None if is_mysql_table(t) => Ident(backtick(&t.name)),
            None => Ident(quote(&t.name)),
        }
    }

    /// The quoted name of an introspected table without its schema: the alias of a
    /// derived table that stands for it, which unqualified column names still reach.
    pub fn table_alias(t: &TableInfo) -> Ident {
        match &t.pg_name {
            Some((_, table)) => Ident(quote(table)),
            None if is_mysql_table(t) => Ident(backtick(&t.name)),
            None => Ident(quote(&t.name)),
        }
    }

    /// The quoted name of an introspected column.
    pub fn column(c: &ColumnInfo) -> Ident {
        if is_mysql_column(c) {
            Ident(backtick(&c.name))
        } else {
            Ident(quote(&c.name))
        }
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
            t.primary_key.iter().any(|k| k == name).then(|| {
                Ident(if is_mysql_table(t) {
                    backtick(name)
                } else {
                    quote(name)
                })
            })
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
    /// MySQL: how the column is read (see [`MyRead`]); `None` on the other databases.
    mysql: Option<MyRead>,
}

/// MySQL: how a column is read through sqlx's Any driver, which decodes only integers of
/// 2, 4 and 8 bytes, floats, strings and blobs (no TINYINT, DECIMAL, DATE, ENUM, …), and
/// which hands TEXT columns over as blobs (the protocol calls them BLOB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MyRead {
    /// `CAST(c AS SIGNED)`: every integer type that fits in i64, BIT, YEAR.
    Signed,
    /// As it is: FLOAT, DOUBLE.
    Bare,
    /// As it is, and a blob that arrives is the text's UTF-8 (CHAR, VARCHAR, TEXT).
    Text,
    /// `CAST(c AS CHAR)`, its label; ordered (and so compared, in a list's cursor) by
    /// its position in the declared list, as MySQL sorts it.
    Enum,
    /// `CAST(c AS CHAR)`, the server's text form: DECIMAL (every digit), BIGINT UNSIGNED
    /// (beyond i64), DATE, TIME, DATETIME, TIMESTAMP (UTC: the session's time zone is
    /// pinned), ENUM, SET, JSON and anything else.
    AsText,
    /// `HEX(c)`, decoded back to bytes: BINARY, VARBINARY, BLOB (read-only, shown as
    /// size and hex).
    Hex,
}

impl MyRead {
    fn of(data_type: &str, column_type: &str) -> MyRead {
        let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
        match data_type {
            "bigint" if unsigned => MyRead::AsText,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "bit"
            | "year" => MyRead::Signed,
            "float" | "double" | "real" => MyRead::Bare,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => MyRead::Text,
            "enum" => MyRead::Enum,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => MyRead::Hex,
            _ => MyRead::AsText,
        }
    }
}

/// The namespace [`crate::domain::PgType`] names on MySQL: a MySQL column's type is
/// `mysql.<DATA_TYPE>` (`mysql.varchar`, `mysql.enum`, …), the full `COLUMN_TYPE` being
/// the column's declared type.
pub const MYSQL_TYPES: &str = "mysql";

/// Whether `c` is a MySQL column (see [`MYSQL_TYPES`]).
pub fn is_mysql_column(c: &ColumnInfo) -> bool {
    c.pg_type.as_ref().is_some_and(|t| t.schema == MYSQL_TYPES)
}

/// Whether `t` is a MySQL table (its columns are; a table has at least one).
pub fn is_mysql_table(t: &TableInfo) -> bool {
    t.pg_name.is_none() && t.columns.iter().any(is_mysql_column)
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
        let info = table.column(name);
        if let Some(c) = info.filter(|c| is_mysql_column(c)) {
            let data_type = c.pg_type.as_ref().map_or("", |t| t.name.as_str());
            return Some(Column {
                ident,
                pg_type: None,
                native: true,
                mysql: Some(MyRead::of(data_type, &c.decl_type)),
            });
        }
        let pg = info.and_then(|c| c.pg_type.as_ref());
        Some(Column {
            ident,
            native: pg
                .is_none_or(|t| t.schema == "pg_catalog" && PG_NATIVE.contains(&t.name.as_str())),
            pg_type: pg.map(|t| format!("{}.{}", quote(&t.schema), quote(&t.name))),
            mysql: None,
        })
    }

    /// The expression that reads the column into a [`crate::domain::Value`].
    ///
    /// SQLite: `+"c"`, an expression, so that no declared type (`BOOLEAN`, `DATE`, which
    /// sqlx's Any driver refuses) is reported; the value keeps its storage class.
    /// PostgreSQL: the column, or `CAST("c" AS text)` for types read as text.
    /// MySQL: see [`MyRead`]; the value read goes through [`Column::fix`].
    pub fn read(&self) -> String {
        if let Some(how) = self.mysql {
            return match how {
                MyRead::Signed => format!("CAST({} AS SIGNED)", self.ident),
                MyRead::Bare | MyRead::Text => self.ident.to_string(),
                MyRead::AsText | MyRead::Enum => format!("CAST({} AS CHAR)", self.ident),
                MyRead::Hex => format!("HEX({})", self.ident),
            };
        }
        match (&self.pg_type, self.native) {
            (None, _) => format!("+{}", self.ident),
            (Some(_), true) => self.ident.to_string(),
            (Some(_), false) => format!("CAST({} AS text)", self.ident),
        }
    }

    /// The expression that reads the column into a list's cursor (the values a page
    /// continues from, compared with the column in its own order): [`Column::read`],
    /// except a MySQL ENUM, which sorts by position and is compared by position
    /// (`c + 0`), not by its label.
    pub fn cursor_read(&self) -> String {
        match self.mysql {
            Some(MyRead::Enum) => format!("CAST({} + 0 AS SIGNED)", self.ident),
            _ => self.read(),
        }
    }

    /// The value [`Column::read`] decoded, as the column holds it: on MySQL text that
    /// arrived as a blob is text again, and hex is bytes again. Other databases: as is.
    pub fn fix(&self, v: Value) -> Value {
        match (self.mysql, v) {
            (Some(MyRead::Text | MyRead::AsText | MyRead::Enum), Value::Blob(b)) => {
                match String::from_utf8(b) {
                    Ok(s) => Value::Text(s),
                    Err(e) => Value::Blob(e.into_bytes()),
                }
            }
            (Some(MyRead::Hex), Value::Text(hex)) => Value::Blob(unhex(hex.as_bytes())),
            (Some(MyRead::Hex), Value::Blob(hex)) => Value::Blob(unhex(&hex)),
            (_, v) => v,
        }
    }

    /// [`Column::fix`] over a row's values read by `columns`, in order.
    pub fn fix_all(columns: &[&Column], values: Vec<Value>) -> Vec<Value> {
        let mut columns = columns.iter();
        values
            .into_iter()
            .map(|v| match columns.next() {
                Some(c) => c.fix(v),
                None => v,
            })
            .collect()
    }

    /// A placeholder for a value compared with or stored in this column. On PostgreSQL the
    /// value (bound as integer, real, text or bytes) goes through its text form into the
    /// column's type, so `'42'`, `42`, `'2024-05-01'` and `'{1,2}'` all land as typed.
    /// MySQL converts a bound value to the column's type itself (strictly: see
    /// `sql_mode` in [`crate::store::Store::connect`]).
    pub fn slot(&self) -> String {
        match &self.pg_type {
            None => "?".into(),
            Some(t) => format!("CAST(CAST(? AS text) AS {t})"),
        }
    }

    /// `v` as it is bound to a [`Column::slot`]: as it is on SQLite and MySQL; on
    /// PostgreSQL in its text form (bytes as `\\x…` hex), so that a statement's parameters
    /// keep one type whatever the values (sqlx reuses a prepared statement's parameter types).
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
    /// keys are stored as text. MySQL: text columns as they are (so that `LIKE` follows
    /// the column's collation), other types in their text form.
    pub fn text(&self) -> String {
        match (self.mysql, &self.pg_type) {
            (Some(MyRead::Text), _) => self.ident.to_string(),
            (Some(_), _) => format!("CAST({} AS CHAR)", self.ident),
            (None, None) => self.ident.to_string(),
            (None, Some(_)) => format!("CAST({} AS text)", self.ident),
        }
    }

    /// Whether this is a MySQL column (whose `LIKE` follows its collation).
    pub fn is_mysql(&self) -> bool {
        self.mysql.is_some()
    }
}

/// Bytes from hex digits (as MySQL's `HEX()` writes them); a stray digit is dropped.
fn unhex(hex: &[u8]) -> Vec<u8> {
    fn digit(b: u8) -> u8 {
        match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0,
        }
    }
    hex.chunks_exact(2)
        .map(|p| (digit(p[0]) << 4) | digit(p[1]))
        .collect()
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

/// Backtick-quote a MySQL identifier, doubling embedded backticks. moat's connections run
/// without `ANSI_QUOTES` (see [`crate::store::Store::connect`]), so a double quote would
/// be a string there.
fn backtick(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for ch in name.chars() {
        if ch == '`' {
            out.push('`');
        }
        out.push(ch);
    }
    out.push('`');
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

/// `term` as a `LIKE … ESCAPE '\'` pattern for "contains": `%term%`, its `%`, `_` and
/// `\` escaped.
pub fn contains_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `(a LIKE ? ESCAPE '\' OR b LIKE ? …)`: one of `texts` (column expressions) matches
/// a bound [`contains_pattern`]; `like` is `LIKE` or `ILIKE`. One slot per text.
pub fn contains_any(texts: &[String], like: &str) -> String {
    let any = texts
        .iter()
        .map(|t| format!("{t} {like} ? ESCAPE '\\'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!("({any})")
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

/// SQLite: the `CREATE TABLE` text of one table (bind its name), for its CHECK lists.
pub const TABLE_SQL: &str = "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?";

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
            (SELECT CAST(string_agg(pg_get_constraintdef(con.oid), ';') AS text) \
               FROM pg_constraint con WHERE con.conrelid = a.attrelid AND con.contype = 'c' \
                 AND con.conkey = ARRAY[a.attnum]) AS checks, \
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

/// MySQL: the base tables of the connection's database, without moat's own tables and
/// sqlx's bookkeeping. Catalog texts are cast to CHAR of a bounded length, which sqlx's
/// Any driver reads as text.
pub const MY_LIST_TABLES: &str = "SELECT CAST(TABLE_NAME AS CHAR(64)) AS name \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' \
       AND TABLE_NAME NOT LIKE 'moat\\_%' ESCAPE '\\' \
       AND TABLE_NAME <> '_sqlx_migrations' \
     ORDER BY TABLE_NAME";

/// MySQL: the columns of one table (bind its name): the full type (`int(10) unsigned`,
/// `enum('a','b')`), the bare type, nullability, default, extra (auto_increment,
/// generated), the generation expression, the position in the primary key and the text
/// of the CHECK constraints that name the column (MariaDB's JSON is a `json_valid` check).
pub const MY_TABLE_COLUMNS: &str = "SELECT CAST(c.COLUMN_NAME AS CHAR(64)) AS name, \
            CAST(c.COLUMN_TYPE AS CHAR(8000)) AS type, \
            CAST(c.DATA_TYPE AS CHAR(64)) AS data_type, \
            CAST(c.IS_NULLABLE AS CHAR(3)) AS nullable, \
            CAST(c.COLUMN_DEFAULT AS CHAR(8000)) AS dflt, \
            CAST(c.EXTRA AS CHAR(256)) AS extra, \
            CAST(c.GENERATION_EXPRESSION AS CHAR(8000)) AS generation, \
            CAST(COALESCE((SELECT k.ORDINAL_POSITION FROM information_schema.KEY_COLUMN_USAGE k \
               WHERE k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME \
                 AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'), 0) \
               AS SIGNED) AS pk, \
            (SELECT CAST(GROUP_CONCAT(ch.CHECK_CLAUSE SEPARATOR ';') AS CHAR(8000)) \
               FROM information_schema.CHECK_CONSTRAINTS ch \
               WHERE ch.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND ch.TABLE_NAME = c.TABLE_NAME \
                 AND ch.CHECK_CLAUSE LIKE CONCAT('%`', c.COLUMN_NAME, '`%')) AS checks \
     FROM information_schema.COLUMNS c \
     WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = ? \
     ORDER BY c.ORDINAL_POSITION";

/// MySQL: the foreign keys of one table (bind its name), one row per column in key
/// order, with the referenced table and column and what deleting the parent does.
pub const MY_TABLE_FOREIGN_KEYS: &str = "SELECT \
            CAST(k.CONSTRAINT_NAME AS CHAR(64)) AS constraint_name, \
            CAST(k.COLUMN_NAME AS CHAR(64)) AS `from`, \
            CAST(k.REFERENCED_TABLE_NAME AS CHAR(64)) AS ref_table, \
            CAST(k.REFERENCED_COLUMN_NAME AS CHAR(64)) AS `to`, \
            CAST(r.DELETE_RULE AS CHAR(64)) AS on_delete \
     FROM information_schema.KEY_COLUMN_USAGE k \
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
       ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
      AND r.TABLE_NAME = k.TABLE_NAME \
     WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? \
       AND k.REFERENCED_TABLE_NAME IS NOT NULL \
     ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION";

/// A text column of `row`, read as text or, on MySQL, from the blob the protocol sends
/// for TEXT types (UTF-8; anything else is replaced, never an error).
pub fn text(row: &sqlx::any::AnyRow, name: &str) -> Result<Option<String>, sqlx::Error> {
    use sqlx::Row;
    match row.try_get::<Option<String>, _>(name) {
        Ok(s) => Ok(s),
        Err(_) => Ok(row
            .try_get::<Option<Vec<u8>>, _>(name)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())),
    }
}

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
    fn mysql_quoting_uses_backticks() {
        assert_eq!(backtick("posts"), "`posts`");
        assert_eq!(backtick("we`ird\"x"), "`we``ird\"x`");
        assert_eq!(unhex(b"00ff7A"), vec![0, 255, 0x7a]);
    }

    #[test]
    fn mysql_upserts_are_rewritten() {
        assert_eq!(
            mysql_upserts("INSERT INTO t (a, b) VALUES ('k', ?) ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) SELECT * FROM (SELECT 'k' AS a, ? AS b) AS n \
             WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.a = n.a AND t.b = n.b) \
             ON DUPLICATE KEY UPDATE a = t.a"
        );
        assert_eq!(
            mysql_upserts(
                "INSERT INTO t (a, b, c) VALUES (?, ?, ?) ON CONFLICT (a) DO UPDATE SET \
                 b = excluded.b, c = excluded.c"
            ),
            "INSERT INTO t (a, b, c) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \
             b = VALUES(b), c = VALUES(c)"
        );
        assert_eq!(Dialect::Mysql.sql("SELECT ? FROM t"), "SELECT ? FROM t");
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
