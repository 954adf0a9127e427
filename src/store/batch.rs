//! Writes of many rows [`KEYS_PER_QUERY`] keys a statement — a bulk delete (see
//! [`Store::delete_records`]) and a bulk set (see [`Store::update_many`]) — and when they
//! may run instead of row by row.
//!
//! The promise is row by row's outcome in the order given: the same rows changed or
//! gone, the same audit rows (order, values, chain), the same grants removed, the same
//! first refusal. Writing many rows in one statement differs from writing them one at a
//! time only when writing one row changes what writing another does — through a foreign
//! key, a trigger or a rule — because the database applies those per statement (SQLite
//! and PostgreSQL check NO ACTION at its end) or per row in its own order (MySQL). So a
//! batch runs only where nothing of the kind can happen (`may_batch`,
//! `may_batch_update`), reading the catalog live where moat's introspected schema may
//! not be the whole story, and anything a batch meets that row by row might meet
//! differently sends the write back to row by row.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::audit::{append_many, AuditEntry};
use super::bind::{bind_value, value_json};
use super::delete::{cascaded_tables, foreign_keys_onto, KEYS_PER_QUERY};
use super::sql::{self, Column, Dialect, Ident};
use super::{Store, StoreError};
use crate::domain::{key_text, pk_text, Schema, TableInfo, Value};

/// PostgreSQL: `tree`, the table named by the two `?` (schema, name) and every table
/// inheriting from it, at any depth (partitions): a statement on the table reaches them.
macro_rules! pg_tree {
    () => {
        "WITH RECURSIVE tree(oid) AS ( \
           SELECT c.oid FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
            WHERE n.nspname = ? AND c.relname = ? \
           UNION SELECT i.inhrelid FROM pg_inherits i \
             JOIN tree ON i.inhparent = tree.oid) "
    };
}

impl Store {
    /// Whether rows `keys` of `table` may be deleted in batches with row by row's
    /// outcome: more than one key, of one column, none twice; no foreign key among the
    /// tables the delete reaches (or sets NULL in) that lets one row's delete change
    /// another's ([`Reach::meets`]); and, asked of the database itself, no trigger or rule
    /// on those tables and no foreign key onto them that moat's schema does not hold.
    pub(super) async fn may_batch(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
    ) -> Result<bool, StoreError> {
        if keys.len() < 2 || table.key_columns().len() != 1 || !all_distinct(keys) {
            return Ok(false);
        }
        let reach = Reach::of(schema, table);
        if reach.meets(schema, table) {
            return Ok(false);
        }
        for name in reach.touched() {
            let Some(t) = schema.table(name) else {
                return Ok(false);
            };
            // A catalog that cannot be read is a reason not to batch, not to fail.
            let held = foreign_keys_onto(schema, t).count();
            if self.has_triggers(t).await.unwrap_or(true)
                || self.foreign_keys_onto_in_catalog(t).await.ok() != Some(held)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether rows `keys` of `table` may be changed in batches, setting `columns`, with
    /// row by row's outcome: more than one key, of one column, none twice; no foreign key
    /// onto the columns set (its ON UPDATE action, or its check of the rows that refer
    /// to them, could depend on the order); and, asked of the database, no trigger or
    /// rule on the table, no foreign key onto it that moat's schema does not hold, and
    /// nothing the database checks per row against other rows ([`Store::unique_risk`]).
    /// A foreign key *from* the columns set checks each row against other tables, which
    /// the write does not change: the order cannot matter.
    pub(super) async fn may_batch_update(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
        columns: &[String],
    ) -> Result<bool, StoreError> {
        if keys.len() < 2 || table.key_columns().len() != 1 || !all_distinct(keys) {
            return Ok(false);
        }
        let onto = foreign_keys_onto(schema, table);
        let mut held = 0;
        for (child, _, targets) in onto {
            held += 1;
            let set = |c: &String| columns.iter().any(|x| x.eq_ignore_ascii_case(c));
            if child.name == table.name || targets.iter().any(set) {
                return Ok(false);
            }
        }
        // A catalog that cannot be read is a reason not to batch, not to fail.
        Ok(!self.has_triggers(table).await.unwrap_or(true)
            && self.foreign_keys_onto_in_catalog(table).await.ok() == Some(held)
            && !self.unique_risk(table, columns).await)
    }

    /// Whether setting `columns` on rows of `t` one statement at a time could end
    /// otherwise than row by row because the database checks something per row, in its
    /// own order, that depends on other rows: a unique index that holds a column set, a
    /// generated column, or an expression, or that is partial (a row's new value may
    /// collide with another row's old one only in one order); on PostgreSQL also an
    /// exclusion constraint, row-level security, a constraint calling a function of the
    /// user's, or a column of a domain type. A plain unique column set on two rows or
    /// more is refused either way, so it costs no batch that could have run. Catalog
    /// errors count as a risk.
    async fn unique_risk(&self, t: &TableInfo, columns: &[String]) -> bool {
        self.unique_risk_of(t, columns).await.unwrap_or(true)
    }

    async fn unique_risk_of(&self, t: &TableInfo, columns: &[String]) -> Result<bool, StoreError> {
        let set = |name: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(name));
        match (self.dialect, &t.pg_name) {
            (Dialect::Sqlite, _) => {
                let generated: Vec<String> = sql::query_scalar(
                    self.dialect,
                    "SELECT name FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)",
                )
                .bind(&t.name)
                .fetch_all(&self.pool)
                .await?;
                let keys: Vec<(i64, i64, Option<String>)> = sql::query_as(
                    self.dialect,
                    "SELECT l.partial, x.cid, x.name \
                       FROM pragma_index_list(?) l, pragma_index_xinfo(l.name) x \
                      WHERE l.\"unique\" = 1 AND x.key = 1",
                )
                .bind(&t.name)
                .fetch_all(&self.pool)
                .await?;
                Ok(keys.iter().any(|(partial, cid, name)| {
                    *partial != 0
                        || *cid < 0
                        || name.as_deref().is_none_or(|n| {
                            set(n) || generated.iter().any(|g| g.eq_ignore_ascii_case(n))
                        })
                }))
            }
            (Dialect::Postgres, Some((nspname, relname))) => {
                let keys: Vec<(bool, Option<String>, Option<bool>)> = sql::query_as(
                    self.dialect,
                    concat!(
                        pg_tree!(),
                        "SELECT i.indexprs IS NOT NULL OR i.indpred IS NOT NULL, a.attname::text, \
                                a.attgenerated <> '' \
                           FROM pg_index i \
                           LEFT JOIN pg_attribute a \
                             ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                          WHERE i.indisunique AND i.indrelid IN (SELECT oid FROM tree)"
                    ),
                )
                .bind(nspname)
                .bind(relname)
                .fetch_all(&self.pool)
                .await?;
                if keys.iter().any(|(odd, name, generated)| {
                    *odd || generated.unwrap_or(true) || name.as_deref().is_none_or(set)
                }) {
                    return Ok(true);
                }
                // A function of the user's is reached directly or through an operator.
                let other: i64 = sql::query_scalar(
                    self.dialect,
                    concat!(
                        pg_tree!(),
                        "SELECT (SELECT COUNT(*) FROM pg_constraint k \
                                  WHERE k.conrelid IN (SELECT oid FROM tree) AND k.contype = 'x') \
                              + (SELECT COUNT(*) FROM pg_class s \
                                  WHERE s.oid IN (SELECT oid FROM tree) AND s.relrowsecurity) \
                              + (SELECT COUNT(*) FROM pg_constraint k \
                                   JOIN pg_depend d ON d.objid = k.oid \
                                    AND d.classid = 'pg_constraint'::regclass \
                                  WHERE k.conrelid IN (SELECT oid FROM tree) \
                                    AND ((d.refclassid = 'pg_proc'::regclass \
                                          AND d.refobjid IN (SELECT p.oid FROM pg_proc p \
                                            WHERE p.pronamespace <> 'pg_catalog'::regnamespace)) \
                                      OR (d.refclassid = 'pg_operator'::regclass \
                                          AND d.refobjid IN (SELECT o.oid FROM pg_operator o \
                                            WHERE o.oprnamespace <> 'pg_catalog'::regnamespace)))) \
                              + (SELECT COUNT(*) FROM pg_attribute a \
                                   JOIN pg_type y ON y.oid = a.atttypid \
                                  WHERE a.attrelid IN (SELECT oid FROM tree) AND a.attnum > 0 \
                                    AND NOT a.attisdropped AND y.typtype = 'd') \
                              + (SELECT CASE WHEN EXISTS (SELECT 1 FROM tree) THEN 0 ELSE 1 END)"
                    ),
                )
                .bind(nspname)
                .bind(relname)
                .fetch_one(&self.pool)
                .await?;
                Ok(other > 0)
            }
            (Dialect::Postgres, None) => Ok(true),
            (Dialect::Mysql, _) => {
                let rows = sql::query(
                    self.dialect,
                    "SELECT s.COLUMN_NAME AS name, c.GENERATION_EXPRESSION AS expr \
                       FROM information_schema.STATISTICS s \
                       LEFT JOIN information_schema.COLUMNS c \
                         ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME \
                        AND c.COLUMN_NAME = s.COLUMN_NAME \
                      WHERE s.TABLE_SCHEMA = DATABASE() AND s.TABLE_NAME = ? \
                        AND s.NON_UNIQUE = 0",
                )
                .bind(&t.name)
                .fetch_all(&self.pool)
                .await?;
                for row in rows {
                    let name = sql::text(&row, "name")?;
                    let expr = sql::text(&row, "expr")?;
                    if name.as_deref().is_none_or(set) || expr.is_some_and(|e| !e.is_empty()) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }

    /// Whether a trigger that is not moat's own (a search index's, on SQLite) is on `t`
    /// — on PostgreSQL also a rule or row-level security (whose policy may read other
    /// rows), or any of them on a table inheriting from it (a partition) — or moat cannot
    /// tell: the table is not in the catalog, or (MySQL)
    /// moat's user may lack the TRIGGER privilege that listing them needs.
    async fn has_triggers(&self, t: &TableInfo) -> Result<bool, StoreError> {
        match (self.dialect, &t.pg_name) {
            (Dialect::Sqlite, _) => {
                // `tbl_name` is spelt as the trigger's ON clause spelt it.
                let names: Vec<String> = sql::query_scalar(
                    self.dialect,
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' \
                     AND tbl_name = ? COLLATE NOCASE",
                )
                .bind(&t.name)
                .fetch_all(&self.pool)
                .await?;
                let own: Vec<String> = super::search_index::own_triggers(t).collect();
                Ok(names.iter().any(|n| !own.contains(n)))
            }
            (Dialect::Postgres, Some((nspname, relname))) => {
                let n: i64 = sql::query_scalar(
                    self.dialect,
                    concat!(
                        pg_tree!(),
                        "SELECT (SELECT COUNT(*) FROM pg_trigger g \
                              WHERE g.tgrelid IN (SELECT oid FROM tree) AND NOT g.tgisinternal) \
                          + (SELECT COUNT(*) FROM pg_rewrite r \
                              WHERE r.ev_class IN (SELECT oid FROM tree) \
                                AND r.rulename <> '_RETURN') \
                          + (SELECT COUNT(*) FROM pg_class s \
                              WHERE s.oid IN (SELECT oid FROM tree) AND s.relrowsecurity) \
                          + (SELECT CASE WHEN EXISTS (SELECT 1 FROM tree) THEN 0 ELSE 1 END)"
                    ),
                )
                .bind(nspname)
                .bind(relname)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }
            (Dialect::Postgres, None) => Ok(true),
            (Dialect::Mysql, _) => {
                let n: i64 = sql::query_scalar(
                    self.dialect,
                    "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS \
                              WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?) \
                          + (SELECT CASE WHEN EXISTS ( \
                               SELECT 1 FROM ( \
                                 SELECT GRANTEE, PRIVILEGE_TYPE, NULL AS s, NULL AS t \
                                   FROM information_schema.USER_PRIVILEGES \
                                 UNION ALL SELECT GRANTEE, PRIVILEGE_TYPE, TABLE_SCHEMA, NULL \
                                   FROM information_schema.SCHEMA_PRIVILEGES \
                                 UNION ALL SELECT GRANTEE, PRIVILEGE_TYPE, TABLE_SCHEMA, TABLE_NAME \
                                   FROM information_schema.TABLE_PRIVILEGES) p \
                               WHERE p.PRIVILEGE_TYPE = 'TRIGGER' \
                                 AND p.GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \
                                       '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') \
                                 AND (p.s IS NULL OR p.s = DATABASE()) \
                                 AND (p.t IS NULL OR p.t = ?)) \
                             THEN 0 ELSE 1 END)",
                )
                .bind(&t.name)
                .bind(&t.name)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }
        }
    }

    /// How many foreign keys the database itself holds onto `t`, from any table: one
    /// that moat's schema does not show (a table outside `database_schemas`, one named
    /// `moat_…`, one added since the schema was read) makes the counts differ.
    async fn foreign_keys_onto_in_catalog(&self, t: &TableInfo) -> Result<usize, StoreError> {
        let n: i64 = match (self.dialect, &t.pg_name) {
            (Dialect::Sqlite, _) => {
                sql::query_scalar(
                    self.dialect,
                    "SELECT COUNT(*) FROM (SELECT DISTINCT m.name, f.id \
                       FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                      WHERE m.type = 'table' AND f.\"table\" = ? COLLATE NOCASE)",
                )
                .bind(&t.name)
                .fetch_one(&self.pool)
                .await?
            }
            // A partition's copy of its parent's key is not counted again.
            (Dialect::Postgres, Some((nspname, relname))) => {
                sql::query_scalar(
                    self.dialect,
                    "SELECT COUNT(*) FROM pg_constraint k \
                       JOIN pg_class c ON c.oid = k.confrelid \
                       JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE k.contype = 'f' AND k.conparentid = 0 \
                        AND n.nspname = ? AND c.relname = ?",
                )
                .bind(nspname)
                .bind(relname)
                .fetch_one(&self.pool)
                .await?
            }
            (Dialect::Postgres, None) => -1,
            (Dialect::Mysql, _) => {
                sql::query_scalar(
                    self.dialect,
                    "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS \
                      WHERE UNIQUE_CONSTRAINT_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = ?",
                )
                .bind(&t.name)
                .fetch_one(&self.pool)
                .await?
            }
        };
        // -1 (not in the catalog) matches no count.
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// What deleting rows of a table reaches: the table and the tables its cascade deletes
/// from (`deleted`), and the tables where a delete sets a foreign key to NULL (`nulled`,
/// with those columns).
struct Reach {
    deleted: BTreeSet<String>,
    nulled: HashMap<String, HashSet<String>>,
}

impl Reach {
    fn of(schema: &Schema, table: &TableInfo) -> Reach {
        let mut deleted = cascaded_tables(schema, &table.name);
        deleted.insert(table.name.clone());
        let mut nulled: HashMap<String, HashSet<String>> = HashMap::new();
        for child in &schema.tables {
            for fk in &child.foreign_keys {
                if deleted.contains(&fk.ref_table)
                    && !deleted.contains(&child.name)
                    && fk.on_delete.eq_ignore_ascii_case("SET NULL")
                {
                    nulled
                        .entry(child.name.clone())
                        .or_default()
                        .extend(fk.columns.iter().cloned());
                }
            }
        }
        Reach { deleted, nulled }
    }

    /// Every table the delete changes.
    fn touched(&self) -> impl Iterator<Item = &String> {
        self.deleted.iter().chain(self.nulled.keys())
    }

    /// Whether deleting one row of `table` may change what deleting another does:
    /// - a cascade leads back to `table` (the second row may be gone already), or `table`
    ///   refers to itself;
    /// - a foreign key between tables the delete removes rows from does not cascade (the
    ///   first delete may be refused while a row the second removes still refers to it,
    ///   or set a value that a later audit row holds);
    /// - a foreign key onto them sets a default (which may name a row deleted later);
    /// - a table the delete sets NULL in refers to them otherwise, or is referred to
    ///   through the columns set NULL (the NULL may free or move what a later row's
    ///   delete checks).
    fn meets(&self, schema: &Schema, table: &TableInfo) -> bool {
        if cascaded_tables(schema, &table.name).contains(&table.name) {
            return true;
        }
        schema.tables.iter().any(|child| {
            child.foreign_keys.iter().any(|fk| {
                let onto_deleted = self.deleted.contains(&fk.ref_table);
                let kind = fk.on_delete.to_ascii_uppercase();
                let from_deleted = self.deleted.contains(&child.name);
                (onto_deleted && from_deleted && (child.name == table.name || kind != "CASCADE"))
                    || (onto_deleted && kind == "SET DEFAULT")
                    || (onto_deleted && self.nulled.contains_key(&child.name) && kind != "SET NULL")
                    || self.nulled.get(&fk.ref_table).is_some_and(|columns| {
                        let targets = match (fk.ref_columns.is_empty(), schema.table(&fk.ref_table))
                        {
                            (false, _) => &fk.ref_columns,
                            (true, Some(t)) => &t.primary_key,
                            (true, None) => return true,
                        };
                        targets.iter().any(|c| columns.contains(c))
                    })
            })
        })
    }
}

/// Whether no key is in `keys` twice (row by row, the second would find its row gone).
fn all_distinct(keys: &[Vec<Value>]) -> bool {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter().all(|k| seen.insert(format!("{k:?}")))
}

/// The rows of keys `chunk` (of `table`'s one key column) read whole on `tx`, in the
/// order of `chunk`, with the keys' values; `None` when a key is not one value, or did
/// not come back as given (no row, or its row under another spelling of the key).
async fn rows_in_order(
    tx: &mut sqlx::AnyConnection,
    table: &TableInfo,
    chunk: &[Vec<Value>],
) -> Result<Option<(Vec<Value>, Vec<Vec<Value>>)>, StoreError> {
    let mut values = Vec::with_capacity(chunk.len());
    for key in chunk {
        let [value] = key.as_slice() else {
            return Ok(None);
        };
        values.push(value.clone());
    }
    let mut found: HashMap<String, Vec<Value>> =
        super::records::rows_by_key_on(&mut *tx, table, &values)
            .await?
            .into_iter()
            .map(|(key, row)| (format!("{key:?}"), row))
            .collect();
    let mut rows = Vec::with_capacity(values.len());
    for value in &values {
        let Some(row) = found.remove(&format!("{value:?}")) else {
            return Ok(None);
        };
        rows.push(row);
    }
    Ok(Some((values, rows)))
}

/// Delete rows `keys` (distinct, of `table`'s one key column) inside the caller's
/// transaction, [`KEYS_PER_QUERY`] per statement, with the audit rows and grant removals
/// that row by row writes for each, in the same order.
///
/// Returns `Ok(false)` or an error when a batch cannot promise row by row's outcome,
/// having written part of it: the caller rolls back and goes row by row, which also
/// finds the first failure in the order given and says it in its words. That is a key
/// with no row, a row that came back under another spelling of its key (a
/// case-insensitive collation, a number given as text), a count of deleted rows that is
/// not the batch's, or any error.
pub(super) async fn delete_batched(
    tx: &mut sqlx::AnyConnection,
    audit_key: Option<&crate::seal::AuditKey>,
    table: &TableInfo,
    keys: &[Vec<Value>],
    audit: &AuditEntry,
) -> Result<bool, StoreError> {
    let Ok([key_col]) = <[Column; 1]>::try_from(super::records::key_columns(table)?) else {
        return Ok(false);
    };
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let Some((values, rows)) = rows_in_order(&mut *tx, table, chunk).await? else {
            return Ok(false);
        };
        let mut entries = Vec::with_capacity(chunk.len());
        for (key, row) in chunk.iter().zip(rows) {
            let before: serde_json::Map<String, serde_json::Value> = table
                .columns
                .iter()
                .zip(&row)
                .map(|(c, v)| (c.name.clone(), value_json(v)))
                .collect();
            entries.push(AuditEntry {
                pk: Some(key_text(key)),
                before: Some(serde_json::Value::Object(before)),
                ..audit.clone()
            });
        }

        let slots = vec![key_col.slot(); values.len()].join(", ");
        let q = format!(
            "DELETE FROM {} WHERE {} IN ({slots})",
            Ident::table(table),
            key_col.ident
        );
        let q = Dialect::of_conn(tx).sql(&q);
        let mut query = sql::query_of_list(Dialect::of_conn(tx), &q);
        let args: Vec<Value> = values.iter().map(|v| key_col.arg(v)).collect();
        for v in &args {
            query = bind_value(query, v);
        }
        if query.execute(&mut *tx).await?.rows_affected() != values.len() as u64 {
            return Ok(false);
        }

        let pks: Vec<String> = chunk.iter().filter_map(|k| pk_text(k)).collect();
        let slots = vec!["?"; pks.len()].join(", ");
        for perms in ["moat_user_object_perms", "moat_group_object_perms"] {
            // `perms` is one of two constants; the rest are slots.
            let q = format!("DELETE FROM {perms} WHERE model = ? AND pk IN ({slots})");
            let q = Dialect::of_conn(tx).sql(&q);
            let mut query = sql::query_of_list(Dialect::of_conn(tx), &q).bind(&table.name);
            for pk in &pks {
                query = query.bind(pk);
            }
            query.execute(&mut *tx).await?;
        }
        // Chunk by chunk, so that only one chunk's values are held at a time.
        append_many(&mut *tx, audit_key, &entries).await?;
    }
    Ok(true)
}

/// Set `changes` on rows `keys` (distinct, of `table`'s one key column) inside the
/// caller's transaction, [`KEYS_PER_QUERY`] per statement, with the audit rows row by
/// row writes for each (the changed columns before and after), in the same order.
/// `Ok(false)` or an error as [`delete_batched`]: the caller rolls back and goes row by
/// row, which names the first row that is gone, or words the refusal.
pub(super) async fn update_batched(
    tx: &mut sqlx::AnyConnection,
    audit_key: Option<&crate::seal::AuditKey>,
    table: &TableInfo,
    keys: &[Vec<Value>],
    changes: &[(String, Value)],
    audit: &AuditEntry,
) -> Result<bool, StoreError> {
    let Ok([key_col]) = <[Column; 1]>::try_from(super::records::key_columns(table)?) else {
        return Ok(false);
    };
    // Each change's column, and where its value is in a row read whole.
    let mut set = Vec::with_capacity(changes.len());
    for (name, value) in changes {
        let (Some(at), Some(column)) = (
            table.columns.iter().position(|c| &c.name == name),
            Column::of(table, name),
        ) else {
            return Ok(false);
        };
        set.push((at, column, value));
    }
    let assignments = set
        .iter()
        .map(|(_, c, _)| format!("{} = {}", c.ident, c.slot()))
        .collect::<Vec<_>>()
        .join(", ");
    let after = super::write::json_of(changes);
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let Some((values, rows)) = rows_in_order(&mut *tx, table, chunk).await? else {
            return Ok(false);
        };
        let mut entries = Vec::with_capacity(chunk.len());
        for (key, row) in chunk.iter().zip(rows) {
            let before: Vec<(String, Value)> = set
                .iter()
                .zip(changes)
                .map(|((at, _, _), (name, _))| {
                    (name.clone(), row.get(*at).cloned().unwrap_or(Value::Null))
                })
                .collect();
            entries.push(AuditEntry {
                pk: Some(key_text(key)),
                before: Some(super::write::json_of(&before)),
                after: Some(after.clone()),
                ..audit.clone()
            });
        }

        let slots = vec![key_col.slot(); values.len()].join(", ");
        let q = format!(
            "UPDATE {} SET {assignments} WHERE {} IN ({slots})",
            Ident::table(table),
            key_col.ident
        );
        let q = Dialect::of_conn(tx).sql(&q);
        let mut query = sql::query_of_list(Dialect::of_conn(tx), &q);
        let args: Vec<Value> = set
            .iter()
            .map(|(_, column, value)| column.arg(value))
            .chain(values.iter().map(|v| key_col.arg(v)))
            .collect();
        for v in &args {
            query = bind_value(query, v);
        }
        if query.execute(&mut *tx).await?.rows_affected() != values.len() as u64 {
            return Ok(false);
        }
        append_many(&mut *tx, audit_key, &entries).await?;
    }
    Ok(true)
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
