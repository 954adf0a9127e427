//! Domain types shared by `store`, `perm`, `session` and `tui`.
//!
//! Nothing here talks to a database or a terminal: these are the plain values that cross
//! room boundaries (a row's values, a table's shape, a page of rows).

use std::fmt;

/// One SQL value, as stored. SQLite's five storage classes; other dialects map onto them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value {
    /// A one-line rendering for lists. NULL is rendered by the caller (it is styled),
    /// blobs as their size; text is *not* sanitized here: the TUI does that.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(s) => f.write_str(s),
            Value::Blob(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

/// A column of an introspected table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// The declared type as written in the schema (`TEXT`, `BOOLEAN`, `VARCHAR(20)`, …).
    pub decl_type: String,
    pub not_null: bool,
    /// The default expression, as SQL text.
    pub default: Option<String>,
    /// 1-based position in the primary key, 0 if not part of it.
    pub pk_ordinal: u32,
    /// PostgreSQL: the column's type as the catalog names it; MySQL: `mysql` and the
    /// column's `DATA_TYPE` (see `store::sql::MYSQL_TYPES`). `None` on SQLite.
    pub pg_type: Option<PgType>,
    /// The values a `CHECK (column IN (...))` constraint limits the column to, in the order
    /// written (empty when there is no such constraint): the form and the filter offer them
    /// as a pick list, as they do an enum's labels.
    pub check_values: Vec<String>,
}

/// The start of [`ColumnInfo::default`] for a generated column (MySQL: its expression
/// follows). The database computes its value: it is never written.
pub const GENERATED: &str = "GENERATED ALWAYS AS ";

impl ColumnInfo {
    /// Whether the database computes this column's value (never written by moat).
    pub fn generated(&self) -> bool {
        self.default
            .as_deref()
            .is_some_and(|d| d.starts_with(GENERATED))
    }

    /// Whether the column holds plain text, also when a CHECK limits it to a list (an enum
    /// is not plain text): what `/` searches and what names a row, unless config says.
    pub fn is_text(&self) -> bool {
        match ColumnKind::of_column(self) {
            ColumnKind::Text => true,
            ColumnKind::Choice => self.pg_type.as_ref().is_none_or(|t| t.labels.is_empty()),
            _ => false,
        }
    }

    /// The values the column may take, when it is limited to a fixed set: an enum's labels
    /// (PostgreSQL, MySQL) or the list of a `CHECK (column IN (...))`. Empty otherwise.
    pub fn choices(&self) -> &[String] {
        match &self.pg_type {
            Some(t) if !t.labels.is_empty() => &t.labels,
            _ => &self.check_values,
        }
    }
}

/// What kind of value a column holds, from its declared type: how the console shows,
/// edits, searches and filters it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Integer,
    Real,
    Boolean,
    Text,
    Date,
    Time,
    Timestamp,
    /// One of a fixed set of values: an enum's labels or a `CHECK (column IN (...))` list
    /// (see [`ColumnInfo::choices`]).
    Choice,
    /// JSON text (PostgreSQL `json`/`jsonb`), checked before it is sent.
    Json,
    /// Shown as size and hex; not editable.
    Blob,
}

impl ColumnKind {
    /// SQLite's affinity rules, refined by the common type names.
    pub fn of(decl_type: &str) -> ColumnKind {
        let t = decl_type.to_ascii_uppercase();
        if t.starts_with("BOOL") {
            ColumnKind::Boolean
        } else if t.contains("TIMESTAMP") || t.contains("DATETIME") {
            ColumnKind::Timestamp
        } else if t.starts_with("DATE") {
            ColumnKind::Date
        } else if t.starts_with("TIME") {
            ColumnKind::Time
        } else if t.contains("INT") {
            ColumnKind::Integer
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            ColumnKind::Text
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            ColumnKind::Real
        } else if t.contains("BLOB") {
            ColumnKind::Blob
        } else if t.contains("NUM") || t.contains("DEC") {
            ColumnKind::Real
        } else {
            ColumnKind::Text
        }
    }

    /// A MySQL column's kind by its `DATA_TYPE` and full `COLUMN_TYPE`: `tinyint(1)` is a
    /// flag; DECIMAL and BIGINT UNSIGNED keep every digit as text; binary types are blobs.
    fn of_mysql(data_type: &str, column_type: &str) -> ColumnKind {
        let full = column_type.to_ascii_lowercase();
        match data_type {
            "tinyint" if full.starts_with("tinyint(1)") => ColumnKind::Boolean,
            "bool" | "boolean" => ColumnKind::Boolean,
            "bigint" if full.contains("unsigned") => ColumnKind::Text,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year"
            | "bit" => ColumnKind::Integer,
            "float" | "double" | "real" => ColumnKind::Real,
            "date" => ColumnKind::Date,
            "time" => ColumnKind::Time,
            "datetime" | "timestamp" => ColumnKind::Timestamp,
            "json" => ColumnKind::Json,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                ColumnKind::Blob
            }
            _ => ColumnKind::Text,
        }
    }

    /// The kind of `col`: by its PostgreSQL type when it has one, else by SQLite's rules
    /// on the declared type.
    pub fn of_column(col: &ColumnInfo) -> ColumnKind {
        if !col.choices().is_empty() {
            return ColumnKind::Choice;
        }
        let Some(t) = &col.pg_type else {
            return ColumnKind::of(&col.decl_type);
        };
        if t.schema == "mysql" {
            return ColumnKind::of_mysql(&t.name, &col.decl_type);
        }
        if t.schema != "pg_catalog" {
            return ColumnKind::Text;
        }
        match t.name.as_str() {
            "int2" | "int4" | "int8" => ColumnKind::Integer,
            "float4" | "float8" => ColumnKind::Real,
            "bool" => ColumnKind::Boolean,
            "date" => ColumnKind::Date,
            "time" | "timetz" => ColumnKind::Time,
            "timestamp" | "timestamptz" => ColumnKind::Timestamp,
            "json" | "jsonb" => ColumnKind::Json,
            "bytea" => ColumnKind::Blob,
            // numeric keeps its digits as text; uuid, interval, arrays, inet, … are
            // checked by the database, which says what is wrong.
            _ => ColumnKind::Text,
        }
    }
}

/// What a user may do on a model, or on one row of it: what the console offers. Greying
/// out only: every action is still checked where it is executed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub add: bool,
    pub change: bool,
    pub delete: bool,
    /// Export a list to CSV (`export_<model>`, a verb the model declares).
    pub export: bool,
    /// See and change who holds permissions on a row (`moat.manage_permissions`).
    pub permissions: bool,
}

impl Capabilities {
    /// Everything (a superuser).
    pub const ALL: Capabilities = Capabilities {
        add: true,
        change: true,
        delete: true,
        export: true,
        permissions: true,
    };
}

/// A PostgreSQL column type, by its catalog name (values are cast to it when written
/// or compared), with the labels of an enum type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgType {
    pub schema: String,
    pub name: String,
    /// The labels of an enum type in their declared order; empty for other types.
    pub labels: Vec<String>,
}

/// A foreign key from this table's `columns` to `ref_table(ref_columns)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// What deleting the referenced row does: `CASCADE`, `SET NULL`, `RESTRICT`,
    /// `NO ACTION`, …
    pub on_delete: String,
}

/// Rows of another table that refer to a row, through one foreign key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub table: String,
    /// Counted up to 1,000 (`AtLeast` beyond); `None` when the viewer may not see how
    /// many rows that model has (they cannot view all of it).
    pub count: Option<RowCount>,
    pub on_delete: String,
}

/// An introspected table: what the console calls a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    /// Primary key columns in key order (may be empty for a rowid table without one).
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
    /// SQLite: the table has an implicit `rowid` (not `WITHOUT ROWID`).
    pub has_rowid: bool,
    /// PostgreSQL: the table's schema and name in the catalog (`name` is the model's
    /// name: the table's, prefixed by its schema outside `public`). `None` on SQLite.
    pub pg_name: Option<(String, String)>,
}

impl TableInfo {
    /// The columns that identify a row and order a list stably: the primary key, single
    /// or composite, or SQLite's `rowid` when there is none. A composite key is used
    /// as it is, not swapped for the rowid: it is what the user knows the row by (and
    /// a rowid that is no INTEGER PRIMARY KEY may change on VACUUM).
    pub fn key_columns(&self) -> Vec<String> {
        if self.primary_key.is_empty() && self.has_rowid {
            return vec!["rowid".to_string()];
        }
        self.primary_key.clone()
    }

    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The models the console may show, as introspected at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    pub tables: Vec<TableInfo>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// How many rows a list has: exact when small, a floor when counting would be slow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowCount {
    Exact(u64),
    AtLeast(u64),
    /// About this many: the database's planner statistics (PostgreSQL), for a whole
    /// table too big to count.
    About(u64),
}

impl RowCount {
    /// The count of two sets of rows together.
    pub fn plus(self, other: RowCount) -> RowCount {
        use RowCount::{About, AtLeast, Exact};
        match (self, other) {
            (Exact(a), Exact(b)) => Exact(a.saturating_add(b)),
            (About(a), About(b) | Exact(b)) | (Exact(a), About(b)) => About(a.saturating_add(b)),
            (AtLeast(a), other) | (other, AtLeast(a)) => AtLeast(a.saturating_add(other.floor())),
        }
    }

    /// The fewest rows it may be.
    pub fn floor(self) -> u64 {
        match self {
            RowCount::Exact(n) | RowCount::AtLeast(n) | RowCount::About(n) => n,
        }
    }
}

impl fmt::Display for RowCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowCount::Exact(n) => f.write_str(&group_thousands(*n)),
            RowCount::AtLeast(n) => write!(f, "{}+", group_thousands(*n)),
            RowCount::About(n) => write!(f, "~{}", group_thousands(*n)),
        }
    }
}

/// `12345` → `12,345`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Where a keyset page starts.
#[derive(Clone, Debug, PartialEq)]
pub enum PageAnchor {
    /// The first rows in key order.
    First,
    /// The last rows in key order.
    Last,
    /// Rows strictly after this key.
    After(Vec<Value>),
    /// Rows from this key on (the key itself included, if it still exists): reloading a
    /// page in place.
    From(Vec<Value>),
    /// Rows strictly before this key.
    Before(Vec<Value>),
}

/// One row of a list: its key (for opening), its cursor (the values it is ordered by,
/// for paging) and the displayed values.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRow {
    pub key: Vec<Value>,
    /// The sort column's value (when sorted) followed by the key: what page anchors hold.
    pub cursor: Vec<Value>,
    pub values: Vec<Value>,
}

/// A list's order when not by key: one column, then the key to break ties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: String,
    pub descending: bool,
}

/// What the user asked of a list: a search, filters and an order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    /// Case-insensitive substring over the search columns; a leading `^` makes it a
    /// (case-sensitive, index-friendly) prefix match on the first search column.
    pub search: Option<String>,
    pub sort: Option<Sort>,
    /// Every filter must hold.
    pub filters: Vec<Filter>,
}

/// A condition on one column.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub column: String,
    pub op: FilterOp,
}

/// What a filter checks.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterOp {
    /// Equal to this value (`Null`: IS NULL).
    Equals(Value),
    /// From `from` (inclusive) to `to` (exclusive); either may be open.
    Range {
        from: Option<Value>,
        to: Option<Value>,
    },
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            FilterOp::Equals(Value::Null) => write!(f, "{} is NULL", self.column),
            FilterOp::Equals(v) => write!(f, "{}={v}", self.column),
            FilterOp::Range { from, to } => {
                let show =
                    |v: &Option<Value>| v.as_ref().map(|x| x.to_string()).unwrap_or_default();
                write!(f, "{} {}..{}", self.column, show(from), show(to))
            }
        }
    }
}

/// Everything that narrows and orders one list query (built by the session).
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    pub filter: RowFilter,
    pub search: Option<(String, Vec<String>)>,
    pub sort: Option<Sort>,
    /// Column filters (columns already checked to be visible).
    pub filters: Vec<Filter>,
}

impl Listing {
    pub fn all() -> Listing {
        Listing {
            filter: RowFilter::All,
            search: None,
            sort: None,
            filters: Vec::new(),
        }
    }
}

/// A page of rows in ascending key order.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub columns: Vec<String>,
    pub rows: Vec<ListRow>,
    /// True when rows exist before the first row of this page.
    pub has_before: bool,
    /// True when rows exist after the last row of this page.
    pub has_after: bool,
    /// How a search found these rows (a scan unless a trigram index served it).
    pub search_path: SearchPath,
}

/// How a list's search was run: by a scan, or through a trigram search index
/// (`moat search-index`); a term shorter than a trigram is scanned even where an index
/// covers the columns, and the list says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchPath {
    #[default]
    Scan,
    Index,
    ShortTerm,
}

/// One record, every column.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub key: Vec<Value>,
    pub fields: Vec<(ColumnInfo, Value)>,
}

/// What the permission engine knows about one user, loaded from the store at login.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    pub is_active: bool,
    pub is_superuser: bool,
    /// Model-level codenames: the user's own and their groups', together.
    pub model_perms: std::collections::HashSet<String>,
    /// (model, verb) pairs on which the user or a group of theirs holds at least one
    /// object permission.
    pub object_models: std::collections::HashSet<(String, String)>,
    /// Names of the user's groups (column rules exempt some groups).
    pub groups: std::collections::HashSet<String>,
}

/// Which rows a list may return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowFilter {
    All,
    /// Rows on which `user_id` (or a group of theirs) holds one of `codenames` as an
    /// object permission.
    Granted {
        user_id: i64,
        codenames: Vec<String>,
    },
}

/// What a column's declared default gives the form of a new row.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnDefault {
    /// A constant (`0`, `'draft'`, `'draft'::post_status`, `true`, `NULL`): shown in the
    /// field, to keep or change.
    Value(Value),
    /// The current date, time or timestamp (`CURRENT_TIMESTAMP`, `now()`,
    /// `datetime('now')`): the field starts at the time the form opens.
    Now,
    /// Anything else (a sequence, an identity, a function): the field stays empty and the
    /// database fills it in.
    Database,
}

/// How `col`'s declared default (as SQLite's `dflt_value` or PostgreSQL's
/// `column_default` writes it) fills a new row's form; `None` without one.
pub fn column_default(col: &ColumnInfo) -> Option<ColumnDefault> {
    let mut d = col.default.as_deref()?.trim();
    // `(0)`, `((now()))`: SQLite keeps an expression default's parentheses.
    while let Some(inner) = d.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        d = inner.trim();
    }
    let upper = d.to_ascii_uppercase();
    // `CURRENT_TIMESTAMP`, MariaDB's `current_timestamp()`, MySQL's `CURRENT_TIMESTAMP(6)`.
    let bare = match upper.split_once('(') {
        Some((name, rest))
            if rest
                .strip_suffix(')')
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            name
        }
        _ => upper.as_str(),
    };
    const NOW: [&str; 11] = [
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "LOCALTIMESTAMP",
        "LOCALTIME",
        "NOW",
        "TRANSACTION_TIMESTAMP",
        "STATEMENT_TIMESTAMP",
        "DATETIME('NOW')",
        "DATE('NOW')",
        "TIME('NOW')",
    ];
    if NOW.contains(&bare) || NOW.contains(&upper.as_str()) {
        return Some(ColumnDefault::Now);
    }
    if upper == "NULL" {
        return Some(ColumnDefault::Value(Value::Null));
    }
    if upper == "TRUE" || upper == "FALSE" {
        return Some(ColumnDefault::Value(Value::Integer(i64::from(
            upper == "TRUE",
        ))));
    }
    if let Some(rest) = d.strip_prefix('\'') {
        // A quoted literal, `''` for a quote, maybe cast (`'draft'::text`); MariaDB writes
        // a quote in a default as `\'`, which is read so only when the text does not
        // parse the standard way (where a backslash is just a backslash).
        let found = quoted(rest, false).or_else(|| quoted(rest, true));
        return Some(found.map_or(ColumnDefault::Database, |t| {
            ColumnDefault::Value(Value::Text(t))
        }));
    }
    // A number, maybe cast (`0::bigint`) or signed in parentheses (`(-1)`).
    let number = d.split("::").next().unwrap_or(d).trim();
    if let Ok(i) = number.parse::<i64>() {
        return Some(ColumnDefault::Value(Value::Integer(i)));
    }
    if let Ok(r) =
        number.parse::<f64>().map_err(|_| ()).and_then(
            |r| {
                if r.is_finite() {
                    Ok(r)
                } else {
                    Err(())
                }
            },
        )
    {
        return Some(ColumnDefault::Value(Value::Real(r)));
    }
    Some(ColumnDefault::Database)
}

/// The text of a quoted SQL literal after its opening quote (`it''s'` → `it's`), which
/// must end the default or be followed by a cast; with `backslash`, `\'` and `\\` are
/// escapes too.
fn quoted(rest: &str, backslash: bool) -> Option<String> {
    let mut text = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if backslash => text.push(chars.next()?.1),
            '\'' if chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                text.push('\'');
                chars.next();
            }
            '\'' => {
                let after = &rest[i + 1..];
                return (after.is_empty() || after.starts_with("::")).then_some(text);
            }
            c => text.push(c),
        }
    }
    None
}

/// Unix seconds as a column of `kind` shows them: `YYYY-MM-DD` for a date, `HH:MM:SS` for
/// a time, `YYYY-MM-DD HH:MM:SS` (UTC) otherwise.
pub fn time_as(kind: ColumnKind, secs: i64) -> String {
    let full = format_time(secs);
    let full = full.trim_end_matches(" UTC");
    match kind {
        ColumnKind::Date => full.get(..10).unwrap_or(full).to_string(),
        ColumnKind::Time => full.get(11..).unwrap_or(full).to_string(),
        _ => full.to_string(),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (UTC) or unix seconds → unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs);
    }
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let ([y, m, dd], [hh, mm, rest @ ..]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let ss = rest.first().copied().unwrap_or(0);
    if !(1..=12).contains(m) || !(1..=31).contains(dd) || *hh > 23 || *mm > 59 || ss > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if *m <= 2 { y - 1 } else { *y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A row's key as object permissions name it: the text of its single key value (`None`
/// for composite keys, which object permissions do not support). See [`key_text`] for
/// the audit trail, which names every row.
pub fn pk_text(key: &[Value]) -> Option<String> {
    match key {
        [Value::Integer(i)] => Some(i.to_string()),
        [Value::Text(s)] => Some(s.clone()),
        [other] => Some(other.to_string()),
        _ => None,
    }
}

/// A row's key as the audit trail records it and history finds it: the single value's
/// text (`5`, `alice`), or a composite key as a tuple (`(5, 3)`, `("eu", 7)`: text in
/// quotes there, so a comma in a value cannot make two keys read alike). Not sanitized.
pub fn key_text(key: &[Value]) -> String {
    match key {
        [_] => pk_text(key).unwrap_or_default(),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|v| match v {
                    Value::Text(s) => format!("{s:?}"),
                    other => other.to_string(),
                })
                .collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// A row's key as the console names it after its model: `#5`, or `(5, 3)` for a
/// composite key (`post_tags (5, 3)`). Not sanitized.
pub fn key_label(key: &[Value]) -> String {
    match key {
        [_] => format!("#{}", key_text(key)),
        _ => key_text(key),
    }
}

/// A failed-login counter as stored: one per key (username and address, username, or
/// address). Times are unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureCounter {
    pub failures: u32,
    /// Lockouts this key has had (each lasts longer than the last).
    pub tier: u32,
    pub first_failure_at: i64,
    pub last_failure_at: i64,
    pub locked_until: Option<i64>,
}

impl FailureCounter {
    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// What a failure counter counts: a username, an address, or the pair. An empty string
/// means "any".
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockKey {
    pub username: String,
    pub ip: String,
}

impl LockKey {
    pub fn pair(username: &str, ip: &str) -> LockKey {
        LockKey {
            username: username.into(),
            ip: ip.into(),
        }
    }

    pub fn user(username: &str) -> LockKey {
        LockKey::pair(username, "")
    }

    pub fn ip(ip: &str) -> LockKey {
        LockKey::pair("", ip)
    }
}

/// Most characters of an untrusted string (a username a client typed, a key naming one)
/// that go into a log line.
pub const LOG_TEXT_CHARS: usize = 64;

/// `raw` as it may appear in a log line: control characters escaped (`escape_debug`),
/// cut after [`LOG_TEXT_CHARS`] characters with the full length noted, so a 200 KB
/// username costs the log a hundred bytes, not 200 KB.
pub fn log_text(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(LOG_TEXT_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if raw.chars().nth(LOG_TEXT_CHARS).is_some() {
        out.push_str(&format!("…({} bytes)", raw.len()));
    }
    out
}

impl fmt::Display for LockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.username.is_empty(), self.ip.is_empty()) {
            (false, false) => write!(f, "user {} from {}", self.username, self.ip),
            (false, true) => write!(f, "user {}", self.username),
            _ => write!(f, "address {}", self.ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_defaults_fill_a_new_row_as_constants_now_or_the_database() {
        let d = |text: &str| {
            column_default(&ColumnInfo {
                check_values: Vec::new(),
                name: "c".into(),
                decl_type: "TEXT".into(),
                not_null: true,
                default: Some(text.into()),
                pk_ordinal: 0,
                pg_type: None,
            })
        };
        let v = |v: Value| Some(ColumnDefault::Value(v));
        assert_eq!(d("0"), v(Value::Integer(0)));
        assert_eq!(d("(-1)"), v(Value::Integer(-1)));
        assert_eq!(d("0::bigint"), v(Value::Integer(0)));
        assert_eq!(d("1.5"), v(Value::Real(1.5)));
        assert_eq!(d("'draft'"), v(Value::Text("draft".into())));
        assert_eq!(d("'draft'::post_status"), v(Value::Text("draft".into())));
        assert_eq!(d("'it''s'"), v(Value::Text("it's".into())));
        assert_eq!(d("''"), v(Value::Text(String::new())));
        assert_eq!(d("TRUE"), v(Value::Integer(1)));
        assert_eq!(d("false"), v(Value::Integer(0)));
        assert_eq!(d("NULL"), v(Value::Null));
        for now in [
            "CURRENT_TIMESTAMP",
            "now()",
            "(datetime('now'))",
            "CURRENT_DATE",
        ] {
            assert_eq!(d(now), Some(ColumnDefault::Now), "{now}");
        }
        for db in [
            "nextval('posts_id_seq'::regclass)",
            "identity",
            "gen_random_uuid()",
            "'a' || 'b'",
            "'unterminated",
            "NaN",
            "inf",
        ] {
            assert_eq!(d(db), Some(ColumnDefault::Database), "{db}");
        }
        let none = ColumnInfo {
            check_values: Vec::new(),
            default: None,
            ..ColumnInfo {
                check_values: Vec::new(),
                name: "c".into(),
                decl_type: "TEXT".into(),
                not_null: false,
                default: None,
                pk_ordinal: 0,
                pg_type: None,
            }
        };
        assert_eq!(column_default(&none), None);
    }

    #[test]
    fn now_is_shown_as_the_column_shows_time() {
        let t = 1_764_930_245; // 2025-12-05 10:24:05 UTC
        assert_eq!(time_as(ColumnKind::Timestamp, t), "2025-12-05 10:24:05");
        assert_eq!(time_as(ColumnKind::Date, t), "2025-12-05");
        assert_eq!(time_as(ColumnKind::Time, t), "10:24:05");
    }

    #[test]
    fn log_text_escapes_and_bounds() {
        assert_eq!(log_text("alice"), "alice");
        assert_eq!(log_text("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\n");
        let huge = "x".repeat(200_000);
        let logged = log_text(&huge);
        assert!(logged.len() < 100, "{}", logged.len());
        assert!(logged.ends_with("…(200000 bytes)"), "{logged}");
        assert_eq!(
            log_text(&"y".repeat(LOG_TEXT_CHARS)),
            "y".repeat(LOG_TEXT_CHARS)
        );
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            format_time(1_764_115_200 + 3_723),
            "2025-11-26 01:02:03 UTC"
        );
    }

    #[test]
    fn parse_times() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2000-02-29 00:00:00"), Some(951_782_400));
        assert_eq!(
            parse_time("2025-11-26T01:02:03Z"),
            Some(1_764_115_200 + 3_723)
        );
        assert_eq!(parse_time("1764115200"), Some(1_764_115_200));
        for bad in ["", "2025-13-01", "yesterday", "2025-01-01 24:00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        for t in [0, 951_782_400, 1_764_118_923] {
            let shown = format_time(t);
            assert_eq!(parse_time(shown.trim_end_matches(" UTC")), Some(t));
        }
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(RowCount::AtLeast(10000).to_string(), "10,000+");
        assert_eq!(RowCount::About(1_000_000).to_string(), "~1,000,000");
    }

    #[test]
    fn keys_are_named_single_or_composite() {
        assert_eq!(key_text(&[Value::Integer(5)]), "5");
        assert_eq!(key_label(&[Value::Integer(5)]), "#5");
        assert_eq!(key_label(&[Value::Text("alice".into())]), "#alice");
        let pair = [Value::Integer(5), Value::Integer(3)];
        assert_eq!(key_label(&pair), "(5, 3)");
        assert_eq!(key_text(&pair), "(5, 3)");
        // A comma inside a text value cannot make two keys read alike.
        let a = [Value::Text("a, b".into()), Value::Integer(1)];
        let b = [Value::Text("a".into()), Value::Text("b, 1".into())];
        assert_eq!(key_text(&a), "(\"a, b\", 1)");
        assert_ne!(key_text(&a), key_text(&b));
        assert_eq!(pk_text(&pair), None, "object permissions stay single-key");
    }

    #[test]
    fn key_columns_are_the_primary_key_then_the_rowid() {
        let mut t = TableInfo {
            name: "t".into(),
            columns: vec![],
            primary_key: vec!["id".into()],
            foreign_keys: vec![],
            has_rowid: true,
            pg_name: None,
        };
        assert_eq!(t.key_columns(), vec!["id"]);
        t.primary_key = vec!["a".into(), "b".into()];
        assert_eq!(t.key_columns(), vec!["a", "b"]);
        t.has_rowid = false;
        assert_eq!(t.key_columns(), vec!["a", "b"]);
        t.primary_key.clear();
        assert!(t.key_columns().is_empty());
        t.has_rowid = true;
        assert_eq!(t.key_columns(), vec!["rowid"]);
    }
}

/// Fewest characters a password chosen by a user may have (the policy lives in
/// `auth::policy`; the console shows the rule).
pub const MIN_PASSWORD_LEN: usize = 12;

/// A span of seconds for people: `42s`, `7m 05s`, `3h 12m`, `2d 4h`.
pub fn format_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A size in bytes for people: `512 B`, `3.4 KiB`, `1.2 MiB`.
pub fn human_size(bytes: i64) -> String {
    match bytes {
        ..=0 => "0 B".into(),
        1..=1023 => format!("{bytes} B"),
        1024..=1_048_575 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod duration_tests {
    #[test]
    fn durations_read_well() {
        use super::format_duration as d;
        assert_eq!(d(-5), "0s");
        assert_eq!(d(42), "42s");
        assert_eq!(d(425), "7m 05s");
        assert_eq!(d(3 * 3600 + 12 * 60), "3h 12m");
        assert_eq!(d(2 * 86_400 + 4 * 3600), "2d 4h");
    }
}
