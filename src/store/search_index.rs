//! Trigram indexes for `/` search, made only by the operator (`moat search-index add`),
//! and the choice, per list query, of whether one serves a search.
//!
//! - SQLite: an FTS5 table `moat_search_<table>` with the `trigram` tokenizer over the
//!   indexed columns, *external content* (it keeps no copy of the text: it reads the
//!   table), kept in sync by three triggers on the table (so writes through moat and
//!   through plain SQL alike). Built in batches of [`BATCH`] rows, each in its own write
//!   transaction, so writers wait one batch at most; while it builds, the triggers keep
//!   the rows already indexed in sync (they carry the batch's upper rowid) and the index
//!   is not used.
//! - PostgreSQL: one `pg_trgm` GIN index per column (`CREATE INDEX CONCURRENTLY`, so
//!   writes go on). Any valid `gin_trgm_ops` or `gist_trgm_ops` index on a column counts,
//!   moat's or not; the planner uses it for the same `ILIKE` the scan runs.
//!
//! Results through an index are exactly the scan's: on SQLite the index only proposes
//! rows (its case folding covers every case pair `LIKE` folds, and more), and the scan's
//! own `LIKE` conditions still decide; on PostgreSQL the query is the scan's query. Terms
//! shorter than a trigram ([`MIN_TERM_CHARS`]) are scanned.

use sqlx::Row;

use super::sql::{self, Column, Ident};
use super::{Dialect, Store, StoreError};
use crate::domain::{ColumnInfo, Listing, Schema, SearchPath, TableInfo, Value};

/// A trigram is three characters: a shorter term cannot use the index.
pub const MIN_TERM_CHARS: usize = 3;

/// Rows indexed per write transaction while building on SQLite.
pub const BATCH: i64 = 20_000;

/// Above this many index matches, a list not in rowid order scans instead (a common term
/// fills a page within a few rows of its order's own index; the index would first
/// collect every match to sort them).
const SORTED_INDEX_MAX: i64 = 2_000;

/// A search index on one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchIndex {
    pub model: String,
    /// The columns it covers, in table order.
    pub columns: Vec<String>,
    pub kind: IndexKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// SQLite FTS5 trigram table (moat's); `building` while `add` has not finished.
    Fts5 { building: bool },
    /// PostgreSQL trigram indexes, by catalog name; `moat`: named by moat.
    PgTrgm { indexes: Vec<(String, bool)> },
}

impl IndexKind {
    pub fn describe(&self) -> String {
        match self {
            IndexKind::Fts5 { building: false } => "SQLite FTS5 trigram".into(),
            IndexKind::Fts5 { building: true } => {
                "SQLite FTS5 trigram (unfinished build: run add again, or remove)".into()
            }
            IndexKind::PgTrgm { indexes } => {
                let names: Vec<String> = indexes
                    .iter()
                    .map(|(n, moat)| {
                        if *moat {
                            n.clone()
                        } else {
                            format!("{n} (not moat's)")
                        }
                    })
                    .collect();
                format!("PostgreSQL pg_trgm: {}", names.join(", "))
            }
        }
    }
}

/// How a list query reads a searched table: from the table, or (SQLite) from the table
/// joined to its FTS5 index, as a derived table with the table's columns.
pub(super) struct Source {
    pub from: String,
    pub binds: Vec<Value>,
    pub path: SearchPath,
}

/// SQLite: a trigram index's FTS5 table, and its triggers (final and while building).
fn fts_table(t: &TableInfo) -> Ident {
    Ident::derived("moat_search_", t, "")
}

fn fts_name(t: &TableInfo) -> String {
    format!("moat_search_{}", t.name)
}

const TRIGGERS: [&str; 3] = ["_ai", "_ad", "_au"];
const BUILD_TRIGGERS: [&str; 3] = ["_bi", "_bd", "_bu"];

/// SQLite: the names of the triggers a search index of `t` may have (they write to its
/// FTS table only).
pub(super) fn own_triggers(t: &TableInfo) -> impl Iterator<Item = String> + '_ {
    TRIGGERS
        .iter()
        .chain(BUILD_TRIGGERS.iter())
        .map(move |suffix| format!("{}{suffix}", fts_name(t)))
}

fn trigger(t: &TableInfo, suffix: &'static str) -> Ident {
    Ident::derived("moat_search_", t, suffix)
}

/// The column that is SQLite's rowid under another name (`INTEGER PRIMARY KEY`).
fn rowid_alias(t: &TableInfo) -> Option<&ColumnInfo> {
    if !t.has_rowid || t.primary_key.len() != 1 {
        return None;
    }
    t.columns
        .iter()
        .find(|c| c.pk_ordinal == 1 && c.decl_type.eq_ignore_ascii_case("INTEGER"))
}

/// The term as one FTS5 phrase: a string, its quotes doubled (bound, never spliced).
fn phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Why `moat search-index` does nothing on MySQL and MariaDB.
pub const MYSQL_UNSUPPORTED: &str = "search indexes are not supported on MySQL/MariaDB: \
     search scans the table (a FULLTEXT index matches words, not the substrings moat's \
     search finds)";

impl Store {
    /// The search indexes on the tables of `schema` (moat's on SQLite; on PostgreSQL
    /// every valid trigram index on a column, whoever made it).
    pub async fn search_indexes(&self, schema: &Schema) -> Result<Vec<SearchIndex>, StoreError> {
        let mut out = Vec::new();
        for t in &schema.tables {
            if let Some(index) = self.search_index(t).await? {
                out.push(index);
            }
        }
        Ok(out)
    }

    /// The search index on `t`, if any.
    pub async fn search_index(&self, t: &TableInfo) -> Result<Option<SearchIndex>, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self.fts_index(t).await,
            Dialect::Postgres => self.pg_trgm_index(t).await,
            // No search index on MySQL (see `MYSQL_UNSUPPORTED`): search scans.
            Dialect::Mysql => Ok(None),
        }
    }

    async fn fts_index(&self, t: &TableInfo) -> Result<Option<SearchIndex>, StoreError> {
        let name = fts_name(t);
        let triggers: Vec<String> = sql::query_scalar(
            self.dialect,
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? \
               AND name IN (? || '_ai', ? || '_bi')",
        )
        .bind(&t.name)
        .bind(&name)
        .bind(&name)
        .fetch_all(&self.pool)
        .await?;
        let exists: i64 = sql::query_scalar(
            self.dialect,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .bind(&name)
        .fetch_one(&self.pool)
        .await?;
        if exists == 0 {
            return Ok(None);
        }
        let columns: Vec<String> = sql::query_scalar(
            self.dialect,
            "SELECT name FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&self.pool)
        .await?;
        let finished = triggers.iter().any(|n| n.ends_with("_ai"));
        Ok(Some(SearchIndex {
            model: t.name.clone(),
            columns,
            kind: IndexKind::Fts5 {
                building: !finished,
            },
        }))
    }

    async fn pg_trgm_index(&self, t: &TableInfo) -> Result<Option<SearchIndex>, StoreError> {
        let Some((schema, table)) = &t.pg_name else {
            return Ok(None);
        };
        let rows = sql::query(self.dialect, PG_TRGM_INDEXES)
            .bind(schema)
            .bind(table)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::new();
        let mut indexes = Vec::new();
        for r in rows {
            let index: String = r.try_get("index_name")?;
            let column: String = r.try_get("column_name")?;
            if !columns.contains(&column) {
                columns.push(column);
            }
            let moat = index.starts_with("moat_search_");
            if !indexes.iter().any(|(n, _)| *n == index) {
                indexes.push((index, moat));
            }
        }
        columns.sort_by_key(|c| t.columns.iter().position(|x| x.name == *c));
        Ok(Some(SearchIndex {
            model: t.name.clone(),
            columns,
            kind: IndexKind::PgTrgm { indexes },
        }))
    }

    /// Where a list query on `t` reads from, given its search: the table itself, or on
    /// SQLite the table joined to its index. Also says which path the search takes.
    pub(super) async fn list_source(
        &self,
        t: &TableInfo,
        listing: &Listing,
    ) -> Result<Source, StoreError> {
        let plain = |path| Source {
            from: Ident::table(t).to_string(),
            binds: Vec::new(),
            path,
        };
        let Some((term, columns)) = &listing.search else {
            return Ok(plain(SearchPath::Scan));
        };
        if term.starts_with('^') || columns.is_empty() {
            return Ok(plain(SearchPath::Scan));
        }
        let Some(index) = self.search_index(t).await? else {
            return Ok(plain(SearchPath::Scan));
        };
        let covered = columns.iter().all(|c| index.columns.contains(c));
        if !covered || matches!(index.kind, IndexKind::Fts5 { building: true }) {
            return Ok(plain(SearchPath::Scan));
        }
        if term.chars().count() < MIN_TERM_CHARS {
            return Ok(plain(SearchPath::ShortTerm));
        }
        if self.dialect == Dialect::Postgres {
            return self.pg_trgm_source(t, term, columns).await;
        }
        let alias = rowid_alias(t);
        let key = t.key_columns();
        let rowid_order = listing.sort.is_none()
            && (alias.is_some_and(|a| key == [a.name.clone()]) || key == ["rowid"]);
        let fts = fts_table(t);
        let matches = phrase(term);
        if !rowid_order {
            // Sorted (or keyed by something else): the index first collects every match.
            // Worth it for a rare term; a common one is found sooner by the scan.
            let n: i64 = sqlx::query_scalar(&self.dialect.sql(&format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH ? LIMIT {})",
                SORTED_INDEX_MAX + 1
            )))
            .bind(&matches)
            .fetch_one(&self.pool)
            .await?;
            if n > SORTED_INDEX_MAX {
                return Ok(plain(SearchPath::Scan));
            }
        }
        // A derived table with the table's columns, driven by the index in rowid order:
        // SQLite flattens it, so the list's keyset conditions and ORDER BY on the key
        // become conditions and order on the index's rowid, and a page stops early.
        let table = Ident::table(t);
        let mut select = Vec::new();
        for c in &t.columns {
            let ident = Ident::column(c);
            if alias.is_some_and(|a| a.name == c.name) {
                select.push(format!("moat_fts.rowid AS {ident}"));
            } else {
                select.push(format!("moat_t.{ident} AS {ident}"));
            }
        }
        if alias.is_none() && t.has_rowid && t.column("rowid").is_none() {
            select.push("moat_fts.rowid AS rowid".into());
        }
        let from = format!(
            "(SELECT {} FROM {fts} AS moat_fts JOIN {table} AS moat_t \
               ON moat_t.rowid = moat_fts.rowid WHERE moat_fts.{fts} MATCH ?) AS {table}",
            select.join(", ")
        );
        Ok(Source {
            from,
            binds: vec![Value::Text(matches)],
            path: SearchPath::Index,
        })
    }

    /// PostgreSQL: the scan's own `ILIKE`, which the planner answers from the trigram
    /// index; or, when the term has both rare and common words, the rows the rare words
    /// alone find in the index, as a derived table the scan's `ILIKE` then filters (see
    /// [`narrow`]). `OFFSET 0` keeps the planner from merging the two conditions back into
    /// one index lookup of every trigram.
    async fn pg_trgm_source(
        &self,
        t: &TableInfo,
        term: &str,
        columns: &[String],
    ) -> Result<Source, StoreError> {
        let table = Ident::table(t);
        let plain = Source {
            from: table.to_string(),
            binds: Vec::new(),
            path: SearchPath::Index,
        };
        let words = narrow::words(term).len();
        if t.pg_name.is_none() || !(2..=narrow::MAX_WORDS).contains(&words) {
            return Ok(plain);
        }
        if columns.len() > narrow::MAX_COLUMNS {
            return Ok(plain);
        }
        let texts: Vec<String> = columns
            .iter()
            .filter_map(|c| Column::of(t, c))
            .map(|c| c.text())
            .collect();
        // The sample only picks the plan: if it cannot be read, the search runs as is.
        let sample = match self.pg_sample(t, &texts).await {
            Ok(sample) => sample,
            Err(e) => {
                tracing::warn!(model = %t.name, error = %e, "search: no sample to plan by");
                Vec::new()
            }
        };
        let words = narrow::rare_words(term, &sample);
        if words.is_empty() || texts.is_empty() {
            return Ok(plain);
        }
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        for w in &words {
            conditions.push(sql::contains_any(&texts, "ILIKE"));
            let pattern = sql::contains_pattern(w);
            binds.extend(texts.iter().map(|_| Value::Text(pattern.clone())));
        }
        Ok(Source {
            from: format!(
                "(SELECT * FROM {table} WHERE {} OFFSET 0) AS {}",
                conditions.join(" AND "),
                Ident::table_alias(t)
            ),
            binds,
            path: SearchPath::Index,
        })
    }

    /// PostgreSQL: about [`narrow::SAMPLE_ROWS`] rows of `texts` (the searched columns as
    /// text, each cut to [`narrow::SAMPLE_CHARS`]), from pages picked at random
    /// (`TABLESAMPLE SYSTEM`, sized by the planner's row estimate): what tells a rare word
    /// from a common one. Only word counts are taken from it; nothing in it reaches a
    /// screen, so the list's row permissions do not apply.
    async fn pg_sample(
        &self,
        t: &TableInfo,
        texts: &[String],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let select = texts
            .iter()
            .map(|x| format!("COALESCE(left({x}, {}), '')", narrow::SAMPLE_CHARS))
            .collect::<Vec<_>>()
            .join(", ");
        // Twice the rows wanted: SYSTEM samples whole pages, and returns about as many
        // rows as asked, often fewer.
        let q = format!(
            "SELECT {select} FROM {} TABLESAMPLE SYSTEM (LEAST(100, ? * 200.0 / \
               GREATEST((SELECT reltuples FROM pg_class WHERE oid = CAST(? AS regclass)), 1))) \
             LIMIT ?",
            Ident::table(t)
        );
        let rows = sqlx::query(&self.dialect.sql(&q))
            .bind(i64::from(narrow::SAMPLE_ROWS))
            .bind(Ident::table(t).to_string())
            .bind(i64::from(narrow::SAMPLE_ROWS))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                (0..texts.len())
                    .map(|i| r.try_get::<String, _>(i).map_err(StoreError::from))
                    .collect()
            })
            .collect()
    }

    /// Create a trigram search index on `columns` of `t`; `progress(done, total)` is
    /// called after each batch (SQLite) or progress reading (PostgreSQL).
    pub async fn add_search_index(
        &self,
        t: &TableInfo,
        columns: &[String],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<(), StoreError> {
        if columns.is_empty() {
            return Err(StoreError::Conflict("name at least one column".into()));
        }
        let mut cols = Vec::new();
        for name in columns {
            let c = t
                .column(name)
                .ok_or_else(|| StoreError::NotFound(format!("{} has no column {name}", t.name)))?;
            if !cols.iter().any(|x: &&ColumnInfo| x.name == c.name) {
                cols.push(c);
            }
        }
        cols.sort_by_key(|c| t.columns.iter().position(|x| x.name == c.name));
        match self.dialect {
            Dialect::Sqlite => self.add_fts(t, &cols, progress).await,
            Dialect::Postgres => self.add_pg_trgm(t, &cols, progress).await,
            Dialect::Mysql => Err(StoreError::Conflict(MYSQL_UNSUPPORTED.into())),
        }
    }

    async fn add_fts(
        &self,
        t: &TableInfo,
        cols: &[&ColumnInfo],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<(), StoreError> {
        if !t.has_rowid {
            return Err(StoreError::Conflict(format!(
                "{} is a WITHOUT ROWID table: an FTS5 index needs a rowid",
                t.name
            )));
        }
        if let Some(c) = cols
            .iter()
            .find(|c| ["rowid", "rank"].contains(&c.name.to_ascii_lowercase().as_str()))
        {
            return Err(StoreError::Conflict(format!(
                "FTS5 cannot index a column named {}",
                c.name
            )));
        }
        match self.fts_index(t).await? {
            Some(SearchIndex {
                kind: IndexKind::Fts5 { building: true },
                ..
            }) => self.remove_fts(t).await?,
            Some(existing) => {
                return Err(StoreError::Conflict(format!(
                    "{} already has a search index (on {}): remove it first",
                    t.name,
                    existing.columns.join(", ")
                )))
            }
            None => {}
        }
        let fts = fts_table(t);
        let table = Ident::table(t);
        let idents: Vec<String> = cols.iter().map(|c| Ident::column(c).to_string()).collect();
        let list = idents.join(", ");
        let new_values: Vec<String> = idents.iter().map(|i| format!("new.{i}")).collect();
        let old_values: Vec<String> = idents.iter().map(|i| format!("old.{i}")).collect();
        let (new_values, old_values) = (new_values.join(", "), old_values.join(", "));
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await?;
        let total = u64::try_from(total).unwrap_or(0);
        // The triggers: `upto` limits them to the rows already indexed (while building).
        let triggers = |names: [&'static str; 3], upto: Option<i64>| {
            // i64::MIN as an integer expression (its literal would parse as a real).
            let bound = |n: i64| {
                if n == i64::MIN {
                    format!("({} - 1)", i64::MIN + 1)
                } else {
                    n.to_string()
                }
            };
            let when = |row: &str| match upto {
                Some(n) => format!(" WHEN {row}.rowid <= {}", bound(n)),
                None => String::new(),
            };
            let insert =
                format!("INSERT INTO {fts}(rowid, {list}) VALUES (new.rowid, {new_values});");
            let delete = format!(
                "INSERT INTO {fts}({fts}, rowid, {list}) VALUES ('delete', old.rowid, {old_values});"
            );
            // An update deletes the old entry only if it was indexed, and adds the new one
            // only if its rowid is in the indexed range (else a later batch takes it).
            let update = match upto.map(bound) {
                Some(n) => format!(
                    "INSERT INTO {fts}({fts}, rowid, {list}) SELECT 'delete', old.rowid, {old_values} \
                       WHERE old.rowid <= {n}; \
                     INSERT INTO {fts}(rowid, {list}) SELECT new.rowid, {new_values} \
                       WHERE new.rowid <= {n};"
                ),
                None => format!("{delete} {insert}"),
            };
            // Only changes to the indexed columns or the rowid matter.
            let of = match rowid_alias(t) {
                Some(a) if upto.is_none() => {
                    let mut of = idents.clone();
                    let a = Ident::column(a).to_string();
                    if !of.contains(&a) {
                        of.push(a);
                    }
                    format!(" OF {}", of.join(", "))
                }
                _ => String::new(),
            };
            [
                format!(
                    "CREATE TRIGGER {} AFTER INSERT ON {table}{} BEGIN {insert} END",
                    trigger(t, names[0]),
                    when("new")
                ),
                format!(
                    "CREATE TRIGGER {} AFTER DELETE ON {table}{} BEGIN {delete} END",
                    trigger(t, names[1]),
                    when("old")
                ),
                format!(
                    "CREATE TRIGGER {} AFTER UPDATE{of} ON {table} BEGIN {update} END",
                    trigger(t, names[2])
                ),
            ]
        };
        let drop_build = BUILD_TRIGGERS
            .map(|s| format!("DROP TRIGGER IF EXISTS {}", trigger(t, s)))
            .join("; ");
        // 1. The index and its building triggers, with nothing indexed yet.
        {
            let mut tx = self.begin_write().await?;
            let create = format!(
                "CREATE VIRTUAL TABLE {fts} USING fts5({list}, content={}, \
                   content_rowid='rowid', tokenize='trigram')",
                sql_string(&t.name)
            );
            sqlx::query(&create).execute(&mut *tx).await.map_err(|e| {
                StoreError::Conflict(format!(
                    "could not create the FTS5 trigram table (SQLite with FTS5 and the \
                     trigram tokenizer is needed): {e}"
                ))
            })?;
            for statement in triggers(BUILD_TRIGGERS, Some(i64::MIN)) {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        // 2. Batches in rowid order, each with the triggers moved past it.
        let mut done: u64 = 0;
        let mut after: Option<i64> = None;
        loop {
            let mut tx = self.begin_write().await?;
            let (cond, bind) = match after {
                Some(n) => ("WHERE rowid > ?", n),
                None => ("WHERE rowid >= ?", i64::MIN),
            };
            let last: Option<i64> = sqlx::query_scalar(&self.dialect.sql(&format!(
                "SELECT MAX(r) FROM (SELECT rowid AS r FROM {table} {cond} ORDER BY rowid LIMIT {BATCH})"
            )))
            .bind(bind)
            .fetch_one(&mut *tx)
            .await?;
            let Some(last) = last else {
                tx.commit().await?;
                break;
            };
            let added = sqlx::query(&self.dialect.sql(&format!(
                "INSERT INTO {fts}(rowid, {list}) SELECT rowid, {list} FROM {table} \
                 {cond} AND rowid <= ?"
            )))
            .bind(bind)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::raw_sql(&drop_build).execute(&mut *tx).await?;
            for statement in triggers(BUILD_TRIGGERS, Some(last)) {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            done += added;
            after = Some(last);
            progress(done, total.max(done));
        }
        // 3. The final triggers; from here the index is used.
        let mut tx = self.begin_write().await?;
        sqlx::raw_sql(&drop_build).execute(&mut *tx).await?;
        for statement in triggers(TRIGGERS, None) {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        progress(done, done);
        Ok(())
    }

    async fn add_pg_trgm(
        &self,
        t: &TableInfo,
        cols: &[&ColumnInfo],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<(), StoreError> {
        for c in cols {
            let text = c.pg_type.as_ref().is_some_and(|p| {
                p.schema == "pg_catalog" && ["text", "varchar", "bpchar"].contains(&p.name.as_str())
            });
            if !text {
                return Err(StoreError::Conflict(format!(
                    "{}.{} is not a text column ({}): a trigram index needs text",
                    t.name, c.name, c.decl_type
                )));
            }
        }
        let opclass = self.pg_trgm_opclass().await?;
        let existing = self.pg_trgm_index(t).await?;
        for c in cols {
            if existing
                .as_ref()
                .is_some_and(|e| e.columns.contains(&c.name))
            {
                continue;
            }
            let Some((index, bare)) = Ident::pg_derived(t, c) else {
                continue;
            };
            // An earlier interrupted CONCURRENTLY build leaves an invalid index behind.
            sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"))
                .execute(&self.pool)
                .await?;
            let create = format!(
                "CREATE INDEX CONCURRENTLY {bare} ON {} USING gin ({} {opclass})",
                Ident::table(t),
                Ident::column(c)
            );
            let pool = self.pool.clone();
            let build = tokio::spawn(async move { sqlx::raw_sql(&create).execute(&pool).await });
            tokio::pin!(build);
            loop {
                tokio::select! {
                    done = &mut build => {
                        match done {
                            Ok(r) => { r?; }
                            Err(e) => return Err(StoreError::Conflict(format!("index build stopped: {e}"))),
                        }
                        break;
                    }
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                        if let Ok(Some(row)) = sql::query(self.dialect, PG_INDEX_PROGRESS)
                            .bind(Ident::table(t).as_str())
                            .fetch_optional(&self.pool)
                            .await
                        {
                            let done: i64 = row.try_get("done").unwrap_or(0);
                            let total: i64 = row.try_get("total").unwrap_or(0);
                            progress(u64::try_from(done).unwrap_or(0), u64::try_from(total).unwrap_or(0));
                        }
                    }
                }
            }
        }
        progress(1, 1);
        Ok(())
    }

    /// The `gin_trgm_ops` operator class, the `pg_trgm` extension created if missing (a
    /// clear error if the server lacks it or the role may not create it).
    async fn pg_trgm_opclass(&self) -> Result<Ident, StoreError> {
        let find = || async {
            sql::query(
                self.dialect,
                "SELECT CAST(n.nspname AS text) AS schema FROM pg_opclass o \
                 JOIN pg_namespace n ON n.oid = o.opcnamespace \
                 JOIN pg_am am ON am.oid = o.opcmethod \
                 WHERE o.opcname = 'gin_trgm_ops' AND am.amname = 'gin' LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await
        };
        if let Some(row) = find().await? {
            let schema: String = row.try_get("schema")?;
            return Ok(Ident::pg_opclass(&schema, "gin_trgm_ops"));
        }
        let available: bool = sql::query_scalar(
            self.dialect,
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm')",
        )
        .fetch_one(&self.pool)
        .await?;
        if !available {
            return Err(StoreError::Conflict(
                "this PostgreSQL server does not have the pg_trgm extension (it comes with \
                 PostgreSQL's contrib modules: on Debian, the postgresql-contrib package)"
                    .into(),
            ));
        }
        if let Err(e) = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
            .execute(&self.pool)
            .await
        {
            return Err(StoreError::Conflict(format!(
                "the pg_trgm extension is not installed in this database and moat's role \
                 could not create it ({e}); a superuser (or the database owner) can run: \
                 CREATE EXTENSION pg_trgm;"
            )));
        }
        match find().await? {
            Some(row) => {
                let schema: String = row.try_get("schema")?;
                Ok(Ident::pg_opclass(&schema, "gin_trgm_ops"))
            }
            None => Err(StoreError::Conflict(
                "pg_trgm was created but gin_trgm_ops is not found".into(),
            )),
        }
    }

    /// Remove moat's search index on `t` (on PostgreSQL, moat's indexes on `columns`, or
    /// all of moat's on the table when none are named). Returns what was removed and what
    /// was left because moat did not make it.
    pub async fn remove_search_index(
        &self,
        t: &TableInfo,
        columns: &[String],
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        match self.dialect {
            Dialect::Mysql => Err(StoreError::Conflict(MYSQL_UNSUPPORTED.into())),
            Dialect::Sqlite => {
                let Some(index) = self.fts_index(t).await? else {
                    return Ok((Vec::new(), Vec::new()));
                };
                if let Some(c) = columns.iter().find(|c| !index.columns.contains(c)) {
                    return Err(StoreError::NotFound(format!(
                        "the search index on {} does not cover {c} (it covers {})",
                        t.name,
                        index.columns.join(", ")
                    )));
                }
                self.remove_fts(t).await?;
                Ok((vec![fts_name(t)], Vec::new()))
            }
            Dialect::Postgres => {
                let Some((schema, table)) = &t.pg_name else {
                    return Ok((Vec::new(), Vec::new()));
                };
                let rows = sql::query(self.dialect, PG_TRGM_INDEXES)
                    .bind(schema)
                    .bind(table)
                    .fetch_all(&self.pool)
                    .await?;
                let (mut removed, mut kept) = (Vec::new(), Vec::new());
                for r in rows {
                    let index: String = r.try_get("index_name")?;
                    let column: String = r.try_get("column_name")?;
                    if !columns.is_empty() && !columns.contains(&column) {
                        continue;
                    }
                    if removed.contains(&index) || kept.contains(&index) {
                        continue;
                    }
                    if !index.starts_with("moat_search_") {
                        kept.push(index);
                        continue;
                    }
                    if let Some(ident) = Ident::pg_index(t, &index) {
                        sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {ident}"))
                            .execute(&self.pool)
                            .await?;
                        removed.push(index);
                    }
                }
                Ok((removed, kept))
            }
        }
    }

    async fn remove_fts(&self, t: &TableInfo) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for s in TRIGGERS.iter().chain(BUILD_TRIGGERS.iter()) {
            sqlx::raw_sql(&format!("DROP TRIGGER IF EXISTS {}", trigger(t, s)))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {}", fts_table(t)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A string literal for an FTS5 option (the content table's name, introspected): single
/// quotes doubled.
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// PostgreSQL: valid trigram indexes (GIN or GiST, no predicate) on plain columns of a
/// table (bind schema and table name), one row per (index, column).
const PG_TRGM_INDEXES: &str = "SELECT CAST(i.relname AS text) AS index_name, \
        CAST(a.attname AS text) AS column_name \
     FROM pg_index x \
     JOIN pg_class i ON i.oid = x.indexrelid \
     JOIN pg_class t ON t.oid = x.indrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     CROSS JOIN LATERAL unnest(CAST(x.indkey AS int2[]), CAST(x.indclass AS oid[])) AS k(attnum, opclass) \
     JOIN pg_opclass oc ON oc.oid = k.opclass \
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
     WHERE n.nspname = ? AND t.relname = ? AND x.indisvalid AND x.indpred IS NULL \
       AND oc.opcname IN ('gin_trgm_ops', 'gist_trgm_ops') \
     ORDER BY i.relname, a.attnum";

/// PostgreSQL: how far an index build on a table has got (bind its quoted name).
const PG_INDEX_PROGRESS: &str =
    "SELECT CAST(COALESCE(NULLIF(tuples_total, 0), blocks_total) AS bigint) AS total, \
        CAST(CASE WHEN tuples_total > 0 THEN tuples_done ELSE blocks_done END AS bigint) AS done \
     FROM pg_stat_progress_create_index \
     WHERE relid = CAST(CAST(? AS text) AS regclass) LIMIT 1";

pub mod narrow;

#[cfg(test)]
mod tests;
