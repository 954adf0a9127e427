//! Deleting a record: what refers to it, and the delete itself — one transaction holding
//! the row's removal, the removal of object permissions that named it (or rows deleted
//! with it by `ON DELETE CASCADE`), and the audit row with the values it had.

use std::collections::BTreeSet;

use super::audit::{append, AuditEntry};
use super::batch::delete_batched;
use super::bind::{bind_value, bind_value_scalar, decode_row, value_json};
use super::sql::{self, Column, Dialect, Ident};
use super::{Store, StoreError};
use crate::domain::{key_text, pk_text, Reference, RowCount, Schema, TableInfo, Value};

/// References counted up to this many per foreign key.
const REFERENCE_COUNT_LIMIT: i64 = 1_000;

/// Keys whose references are counted, or rows deleted, per query (see
/// [`Store::references_many`], [`delete_batched`]).
pub(super) const KEYS_PER_QUERY: usize = 500;

impl Store {
    /// The rows of other tables that refer to row `key` of `table`, per foreign key:
    /// [`Store::references_many`] for one key (so one delete and a bulk delete count
    /// alike), row by row where that cannot say.
    pub async fn references(
        &self,
        schema: &Schema,
        table: &TableInfo,
        key: &[Value],
    ) -> Result<Vec<Reference>, StoreError> {
        let batch = self.references_many(schema, table, &[key.to_vec()]).await?;
        match batch.into_iter().next().flatten() {
            Some(references) => Ok(references),
            None => self.references_row(schema, table, key).await,
        }
    }

    /// [`Store::references`] read row by row: for a key of several columns, and to say
    /// why a row is not there. It compares each child column with a bound value, so it
    /// follows the child column's collation where the database follows the parent's.
    async fn references_row(
        &self,
        schema: &Schema,
        table: &TableInfo,
        key: &[Value],
    ) -> Result<Vec<Reference>, StoreError> {
        let record = self.record(table, key).await?;
        let mut out = Vec::new();
        for (child, fk, targets) in foreign_keys_onto(schema, table) {
            // The referenced columns' values in this row.
            let values: Option<Vec<&Value>> = targets
                .iter()
                .map(|c| {
                    record
                        .fields
                        .iter()
                        .find(|(col, _)| &col.name == c)
                        .map(|(_, v)| v)
                })
                .collect();
            let (Some(values), Some(columns)) = (
                values,
                fk.columns
                    .iter()
                    .map(|c| child.column(c).and_then(|c| Column::of(child, &c.name)))
                    .collect::<Option<Vec<_>>>(),
            ) else {
                continue;
            };
            let q = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {} WHERE {} = {} LIMIT {}) AS n",
                Ident::table(child),
                sql::column_tuple(&columns),
                sql::slot_tuple(&columns),
                REFERENCE_COUNT_LIMIT + 1
            );
            let q = self.dialect.sql(&q);
            let values: Vec<Value> = values.into_iter().cloned().collect();
            let args = Column::args(&columns, &values);
            let mut query = sqlx::query_scalar::<_, i64>(&q);
            for v in &args {
                query = bind_value_scalar(query, v);
            }
            let n = query.fetch_one(&self.pool).await?;
            if n > 0 {
                let count = if n > REFERENCE_COUNT_LIMIT {
                    RowCount::AtLeast(REFERENCE_COUNT_LIMIT as u64)
                } else {
                    RowCount::Exact(n as u64)
                };
                out.push(Reference {
                    table: child.name.clone(),
                    count: Some(count),
                    on_delete: fk.on_delete.clone(),
                });
            }
        }
        Ok(out)
    }

    /// [`Store::references`] for many rows of `table` at once, in the order of `keys`:
    /// one query per `KEYS_PER_QUERY` keys, counting every foreign key onto `table` with a
    /// correlated subquery each. A key whose row the batch did not find (or every key,
    /// for a table whose key has several columns) is `None`: ask [`Store::references`]
    /// for it, which reads it row by row and says why it is not there.
    pub async fn references_many(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Vec<Reference>>>, StoreError> {
        let mut out: Vec<Option<Vec<Reference>>> = vec![None; keys.len()];
        let key_cols = super::records::key_columns(table)?;
        let [key_col] = key_cols.as_slice() else {
            return Ok(out);
        };
        // Each foreign key onto `table` as `references` counts it: the child, the
        // comparison of its columns with the referenced ones, and how it deletes.
        let mut counted: Vec<(&TableInfo, String, &str)> = Vec::new();
        for (child, fk, targets) in foreign_keys_onto(schema, table) {
            // `references` skips what it cannot read; a foreign key it would not
            // skip but this cannot say leaves every key to it.
            if targets.iter().any(|c| table.column(c).is_none()) {
                continue;
            }
            let Some(columns) = fk
                .columns
                .iter()
                .map(|c| child.column(c).and_then(|c| Column::of(child, &c.name)))
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let Some(parents) = targets
                .iter()
                .map(|c| Column::of(table, c))
                .collect::<Option<Vec<_>>>()
            else {
                return Ok(out);
            };
            if columns.is_empty() || columns.len() != parents.len() {
                return Ok(out);
            }
            let tuple = |alias: &str, cs: &[Column]| {
                let list: Vec<String> = cs.iter().map(|c| format!("{alias}.{}", c.ident)).collect();
                format!("({})", list.join(", "))
            };
            // The parent first: SQLite compares with the left column's collation,
            // and its foreign keys (so their cascades) with the parent's.
            let condition = format!(
                "{} = {}",
                tuple("moat_p", &parents),
                tuple("moat_c", &columns)
            );
            counted.push((child, condition, fk.on_delete.as_str()));
        }
        // Keys told apart as values are (an integer 1 is not the text "1").
        let mut at: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (i, k) in keys.iter().enumerate() {
            if let [k] = k.as_slice() {
                at.entry(format!("{k:?}")).or_default().push(i);
            }
        }
        let mut select_list = vec![format!("{} AS r0", key_col.read())];
        for (i, (child, condition, _)) in counted.iter().enumerate() {
            select_list.push(format!(
                "(SELECT COUNT(*) FROM {} AS moat_c WHERE {condition}) AS n{i}",
                Ident::table(child)
            ));
        }
        let select_list = select_list.join(", ");
        let singles: Vec<&Value> = keys
            .iter()
            .filter_map(|k| match k.as_slice() {
                [k] => Some(k),
                _ => None,
            })
            .collect();
        for chunk in singles.chunks(KEYS_PER_QUERY) {
            let slots = vec![key_col.slot(); chunk.len()].join(", ");
            let q = format!(
                "SELECT {select_list} FROM {} AS moat_p WHERE moat_p.{} IN ({slots})",
                Ident::table(table),
                key_col.ident
            );
            let q = self.dialect.sql(&q);
            let args: Vec<Value> = chunk.iter().map(|k| key_col.arg(k)).collect();
            let mut query = sql::query_of_list(self.dialect, &q);
            for v in &args {
                query = bind_value(query, v);
            }
            // A comparison the database refuses (PostgreSQL: columns of two different
            // collations) leaves these keys to the row-by-row count.
            let rows = match query.fetch_all(&self.pool).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::debug!(error = %e, table = %table.name, "references: counted row by row");
                    continue;
                }
            };
            for row in rows {
                let values = decode_row(&row)?;
                let Some((key, counts)) = values.split_first() else {
                    continue;
                };
                let key = key_col.fix(key.clone());
                let Some(positions) = at.get(&format!("{key:?}")) else {
                    continue;
                };
                let mut found = Vec::new();
                for ((child, _, on_delete), n) in counted.iter().zip(counts) {
                    let n = match n {
                        Value::Integer(n) => *n,
                        Value::Real(r) => *r as i64,
                        Value::Text(t) => t.parse().unwrap_or(0),
                        _ => 0,
                    };
                    if n > 0 {
                        let count = if n > REFERENCE_COUNT_LIMIT {
                            RowCount::AtLeast(REFERENCE_COUNT_LIMIT as u64)
                        } else {
                            RowCount::Exact(n as u64)
                        };
                        found.push(Reference {
                            table: child.name.clone(),
                            count: Some(count),
                            on_delete: on_delete.to_string(),
                        });
                    }
                }
                for &i in positions {
                    out[i] = Some(found.clone());
                }
            }
        }
        Ok(out)
    }

    /// Delete row `key` of `table` with its audit row (`audit.before` is filled with the
    /// row's values). Object permissions on it, and on rows that `ON DELETE CASCADE`
    /// removes with it, go too, so a reused key inherits no stale grant.
    pub async fn delete_record(
        &self,
        schema: &Schema,
        table: &TableInfo,
        key: &[Value],
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        self.delete_records(schema, table, &[key.to_vec()], audit)
            .await
    }

    /// Delete every row of `keys` — all or none, in one transaction, one audit row each
    /// (`audit` is the template; its pk and before values are filled per row).
    ///
    /// Rows go [`KEYS_PER_QUERY`] per statement where [`Store::may_batch`] allows it
    /// (read, delete, grants, then their audit rows chained in one pass: see
    /// [`delete_batched`]); the outcome is the one row by row gives, which is what runs
    /// otherwise, and again whenever a batch cannot promise it.
    pub async fn delete_records(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        self.delete_records_as(schema, table, keys, audit, true)
            .await
            .map(|_| ())
    }

    /// [`Store::delete_records`], in batches where `batches` allows it; says which way
    /// the rows went.
    pub(super) async fn delete_records_as(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
        audit: AuditEntry,
        batches: bool,
    ) -> Result<Path, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Write);
        let batches = batches && self.may_batch(schema, table, keys).await?;
        let mut tx = self.begin_write().await?;
        let mut done = false;
        if batches {
            let key = self.audit_key();
            done = matches!(
                delete_batched(&mut tx, key, table, keys, &audit).await,
                Ok(true)
            );
            if !done {
                // Undo what the batches did and give the row-by-row outcome (and its
                // error, if it has one, in its words).
                tx.rollback().await?;
                tx = self.begin_write().await?;
            }
        }
        if !done {
            for key in keys {
                let audit = AuditEntry {
                    pk: Some(key_text(key)),
                    ..audit.clone()
                };
                delete_on(&mut tx, self.audit_key(), table, key, audit).await?;
            }
        }
        // Once for all the rows: what cascaded with them is gone by now.
        drop_cascaded_grants(&mut tx, schema, table).await?;
        tx.commit().await?;
        Ok(if done { Path::Batched } else { Path::RowByRow })
    }
}

/// How [`Store::delete_records`] deleted the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Path {
    /// [`KEYS_PER_QUERY`] rows per statement ([`delete_batched`]).
    Batched,
    /// One row at a time ([`delete_on`]).
    RowByRow,
}

/// Whether `e` is a foreign key refusing a delete: SQLite's message, SQLSTATE 23503 on
/// PostgreSQL, errors 1451 and 1217 on MySQL ("Cannot delete or update a parent row").
fn is_foreign_key_error(e: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(my) = e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // 1217: the same, when the user may not read the referring table.
        return matches!(my.number(), 1451 | 1217);
    }
    e.message().contains("FOREIGN KEY") || e.code().as_deref() == Some("23503")
}

/// Delete one row inside the caller's transaction (see [`Store::delete_records`]).
async fn delete_on(
    tx: &mut sqlx::AnyConnection,
    audit_key: Option<&crate::seal::AuditKey>,
    table: &TableInfo,
    key: &[Value],
    audit: AuditEntry,
) -> Result<(), StoreError> {
    let before = super::records::record_on(&mut *tx, table, key).await?;
    let keys = super::records::key_columns(table)?;
    let q = format!(
        "DELETE FROM {} WHERE {} = {}",
        Ident::table(table),
        sql::column_tuple(&keys),
        sql::slot_tuple(&keys)
    );
    let q = Dialect::of_conn(tx).sql(&q);
    let args = Column::args(&keys, key);
    let mut query = sqlx::query(&q);
    for v in &args {
        query = bind_value(query, v);
    }
    match query.execute(&mut *tx).await {
        Ok(r) if r.rows_affected() == 0 => {
            return Err(StoreError::NotFound(format!(
                "no such row in {}",
                table.name
            )))
        }
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if is_foreign_key_error(e.as_ref()) => {
            return Err(StoreError::Conflict(format!(
                "cannot delete: other rows refer to this {} row and do not allow it",
                table.name
            )))
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(pk) = pk_text(key) {
        for statement in [
            "DELETE FROM moat_user_object_perms WHERE model = ? AND pk = ?",
            "DELETE FROM moat_group_object_perms WHERE model = ? AND pk = ?",
        ] {
            sql::query(Dialect::of_conn(tx), statement)
                .bind(&table.name)
                .bind(&pk)
                .execute(&mut *tx)
                .await?;
        }
    }
    let before: serde_json::Map<String, serde_json::Value> = before
        .fields
        .iter()
        .map(|(c, v)| (c.name.clone(), value_json(v)))
        .collect();
    let audit = AuditEntry {
        before: Some(serde_json::Value::Object(before)),
        ..audit
    };
    append(&mut *tx, audit_key, &audit).await?;
    Ok(())
}

/// Every foreign key onto `table`: the table it is in, the key, and the columns of
/// `table` it refers to (the primary key when it names none).
pub(super) fn foreign_keys_onto<'a>(
    schema: &'a Schema,
    table: &'a TableInfo,
) -> impl Iterator<Item = (&'a TableInfo, &'a crate::domain::ForeignKey, &'a [String])> {
    schema.tables.iter().flat_map(move |child| {
        child
            .foreign_keys
            .iter()
            .filter(move |fk| fk.ref_table == table.name)
            .map(move |fk| {
                let targets: &[String] = if fk.ref_columns.is_empty() {
                    &table.primary_key
                } else {
                    &fk.ref_columns
                };
                (child, fk, targets)
            })
    })
}

/// Remove the object permissions on rows that `ON DELETE CASCADE` removed with rows of
/// `table` (every grant on a row of such a table that is no longer there).
async fn drop_cascaded_grants(
    tx: &mut sqlx::AnyConnection,
    schema: &Schema,
    table: &TableInfo,
) -> Result<(), StoreError> {
    for child in cascaded_tables(schema, &table.name) {
        let Some(child) = schema.table(&child) else {
            continue;
        };
        let Ok([key]) = <[Column; 1]>::try_from(super::records::key_columns(child)?) else {
            continue;
        };
        let key = key.text();
        for perms in ["moat_user_object_perms", "moat_group_object_perms"] {
            // `perms` is one of two constants; the table and key come from the schema.
            let q = format!(
                "DELETE FROM {perms} WHERE model = ? \
                 AND pk NOT IN (SELECT {key} FROM {} WHERE {key} IS NOT NULL)",
                Ident::table(child)
            );
            let q = Dialect::of_conn(tx).sql(&q);
            sqlx::query(&q).bind(&child.name).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// Tables whose rows `ON DELETE CASCADE` may remove when a row of `table` is deleted,
/// transitively.
pub(super) fn cascaded_tables(schema: &Schema, table: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo = vec![table.to_string()];
    while let Some(parent) = todo.pop() {
        for child in &schema.tables {
            let cascades = child
                .foreign_keys
                .iter()
                .any(|fk| fk.ref_table == parent && fk.on_delete.eq_ignore_ascii_case("CASCADE"));
            if cascades && found.insert(child.name.clone()) {
                todo.push(child.name.clone());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_every_database;
    use crate::store::Principal;

    on_every_database! {
        async fn delete_removes_grants_of_the_row_and_of_cascaded_rows_and_audits_values(store: Store) {
            crate::store::test_support::create_tables(
                &store,
                "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT); \
                 CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE); \
                 CREATE TABLE r (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id)); \
                 INSERT INTO p VALUES (1, 'one'), (2, 'two'); \
                 INSERT INTO c VALUES (10, 1), (11, 1), (12, 2); \
                 INSERT INTO r VALUES (20, 2);",
            )
            .await;
            let schema = store.introspect().await.unwrap();
            let p = schema.table("p").unwrap();
            let jane = crate::store::test_support::plain_user(&store, "jane").await;
            for (model, pk) in [("p", "1"), ("p", "2"), ("c", "10"), ("c", "12")] {
                store
                    .set_object_perm(
                        Principal::User(jane),
                        &format!("view_{model}"),
                        model,
                        pk,
                        true,
                        &AuditEntry::default(),
                    )
                    .await
                    .unwrap();
            }
            let refs = store
                .references(&schema, p, &[Value::Integer(1)])
                .await
                .unwrap();
            assert_eq!(
                refs,
                vec![Reference {
                    table: "c".into(),
                    count: Some(RowCount::Exact(2)),
                    on_delete: "CASCADE".into()
                }]
            );

            let audit = AuditEntry {
                action: "delete".into(),
                outcome: "success".into(),
                ..AuditEntry::default()
            };
            store
                .delete_record(&schema, p, &[Value::Integer(1)], audit.clone())
                .await
                .unwrap();
            let left: Vec<(String, String)> =
                sqlx::query_as("SELECT model, pk FROM moat_user_object_perms ORDER BY model, pk")
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            assert_eq!(
                left,
                vec![
                    ("c".to_string(), "12".to_string()),
                    ("p".to_string(), "2".to_string())
                ]
            );
            let row = sqlx::query("SELECT before_json FROM moat_audit_log ORDER BY id DESC LIMIT 1")
                .fetch_one(store.pool())
                .await
                .unwrap();
            let before = crate::store::sql::text(&row, "before_json").unwrap().unwrap();
            assert_eq!(before, r#"{"id":1,"name":"one"}"#);

            // A row that others refer to without cascade cannot go; nothing changes.
            let err = store
                .delete_record(&schema, p, &[Value::Integer(2)], audit)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("refer to this p row"), "{err}");
            let still: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM moat_user_object_perms WHERE model = 'p'")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(still, 1);
        }
    }

    on_every_database! {
        async fn references_many_agree_with_references_row_by_row(store: Store) {
            crate::store::test_support::create_tables(
                &store,
                "CREATE TABLE p (id INTEGER PRIMARY KEY, code VARCHAR(20) UNIQUE, \
                   up INTEGER REFERENCES p(id)); \
                 CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE CASCADE); \
                 CREATE TABLE r (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id)); \
                 CREATE TABLE d (id INTEGER PRIMARY KEY, p_code VARCHAR(20) REFERENCES p(code)); \
                 INSERT INTO p VALUES (1, 'a', NULL), (2, 'b', 1), (3, NULL, 1), (4, 'd', 2), (5, 'e', NULL); \
                 INSERT INTO c VALUES (10, 1), (11, 1), (12, 2), (13, 4); \
                 INSERT INTO r VALUES (20, 2), (21, 3); \
                 INSERT INTO d VALUES (30, 'a'), (31, 'd'), (32, 'd');",
            )
            .await;
            // More than a thousand references to one row: counted as "at least 1,000".
            let many: Vec<String> = (100..1_105).map(|i| format!("({i}, 5)")).collect();
            sqlx::raw_sql(&format!("INSERT INTO c VALUES {}", many.join(", ")))
                .execute(store.pool())
                .await
                .unwrap();
            let schema = store.introspect().await.unwrap();
            let p = schema.table("p").unwrap();
            let keys: Vec<Vec<Value>> = [1, 2, 3, 4, 5, 99, 2]
                .into_iter()
                .map(|i| vec![Value::Integer(i)])
                .collect();
            let batch = store.references_many(&schema, p, &keys).await.unwrap();
            assert_eq!(batch.len(), keys.len());
            for (key, found) in keys.iter().zip(batch) {
                match store.references(&schema, p, key).await {
                    Ok(one) => assert_eq!(found, Some(one), "{key:?}"),
                    Err(_) => assert_eq!(found, None, "{key:?}"),
                }
            }
            let five = store
                .references(&schema, p, &[Value::Integer(5)])
                .await
                .unwrap();
            assert_eq!(five[0].count, Some(RowCount::AtLeast(1_000)));
        }
    }
}

/// Hostile cases for the batched reference counts and the once-per-transaction grant clean-up.
#[cfg(test)]
mod hostile_tests {
    use super::*;
    use crate::store::test_support::{memory_store, on_every_database};
    use crate::store::Principal;

    /// What `Context::delete_reach_many` counts: the batch, row by row where it says None.
    async fn batched(
        store: &Store,
        schema: &Schema,
        t: &TableInfo,
        keys: &[Vec<Value>],
    ) -> Vec<Result<Vec<Reference>, String>> {
        let batch = store.references_many(schema, t, keys).await.unwrap();
        let mut out = Vec::new();
        for (key, found) in keys.iter().zip(batch) {
            out.push(match found {
                Some(r) => Ok(r),
                None => store
                    .references(schema, t, key)
                    .await
                    .map_err(|e| e.to_string()),
            });
        }
        out
    }

    /// Each key counted on its own: through the public path one delete takes
    /// (`one = true`), or the row-by-row count with bound values.
    async fn each(
        store: &Store,
        schema: &Schema,
        t: &TableInfo,
        keys: &[Vec<Value>],
        one: bool,
    ) -> Vec<Result<Vec<Reference>, String>> {
        let mut out = Vec::new();
        for key in keys {
            let counted = if one {
                store.references(schema, t, key).await
            } else {
                store.references_row(schema, t, key).await
            };
            out.push(counted.map_err(|e| e.to_string()));
        }
        out
    }

    /// Tables made by `ddl` (parent `parent`, child `child`): row 1 of the parent counted
    /// as a bulk delete and as one delete count it, then deleted; with the child rows
    /// left after.
    async fn counted_then_deleted(
        ddl: &str,
        parent: &str,
        child: &str,
    ) -> (
        Vec<Result<Vec<Reference>, String>>,
        Vec<Result<Vec<Reference>, String>>,
        i64,
    ) {
        let store = memory_store().await;
        crate::store::test_support::create_tables(&store, ddl).await;
        let schema = store.introspect().await.unwrap();
        let t = schema.table(parent).unwrap();
        let keys = vec![vec![Value::Integer(1)]];
        let bulk = batched(&store, &schema, t, &keys).await;
        let one = each(&store, &schema, t, &keys, true).await;
        let audit = AuditEntry {
            action: "delete".into(),
            outcome: "success".into(),
            ..Default::default()
        };
        store
            .delete_records(&schema, t, &keys, audit)
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {child}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        eprintln!("bulk {bulk:?}\none {one:?}\n{child} rows left after delete: {left}");
        (bulk, one, left)
    }

    on_every_database! {
        async fn batch_equals_row_by_row_on_hostile_text_keys(store: Store) {
            crate::store::test_support::create_tables(
                &store,
                "CREATE TABLE tp (k VARCHAR(40) PRIMARY KEY, code VARCHAR(20) UNIQUE, \
                   up VARCHAR(40) REFERENCES tp(k) ON DELETE CASCADE); \
                 CREATE TABLE tc (id INTEGER PRIMARY KEY, p_k VARCHAR(40) REFERENCES tp(k) ON DELETE CASCADE); \
                 CREATE TABLE tr (id INTEGER PRIMARY KEY, p_code VARCHAR(20) REFERENCES tp(code)); \
                 INSERT INTO tp VALUES ('1', 'one', NULL), ('a b', 'sp', '1'), ('it''s', 'q', '1'), \
                   ('\"q\"', 'dq', NULL), ('ünï', 'u', 'ünï'), ('', 'empty', NULL), ('NULL', NULL, NULL); \
                 INSERT INTO tc VALUES (1, '1'), (2, 'a b'), (3, 'it''s'), (4, 'ünï'), (5, ''), (6, 'NULL'); \
                 INSERT INTO tr VALUES (10, 'one'), (11, 'u'), (12, 'u');",
            )
            .await;
            let schema = store.introspect().await.unwrap();
            let t = schema.table("tp").unwrap();
            let keys: Vec<Vec<Value>> = vec![
                vec![Value::Text("1".into())],
                vec![Value::Integer(1)],
                vec![Value::Text("a b".into())],
                vec![Value::Text("it's".into())],
                vec![Value::Text("\"q\"".into())],
                vec![Value::Text("ünï".into())],
                vec![Value::Text("".into())],
                vec![Value::Text("NULL".into())],
                vec![Value::Null],
                vec![Value::Text("1".into())],
                vec![Value::Text("nope".into())],
                vec![Value::Text("A B".into())],
                vec![Value::Text("a b ".into())],
            ];
            let a = batched(&store, &schema, t, &keys).await;
            let b = each(&store, &schema, t, &keys, false).await;
            for ((k, a), b) in keys.iter().zip(&a).zip(&b) {
                assert_eq!(a, b, "{k:?}");
            }
        }

        async fn batch_equals_row_by_row_on_integer_edges_and_chunk_boundaries(store: Store) {
            crate::store::test_support::create_tables(
                &store,
                "CREATE TABLE ip (id BIGINT PRIMARY KEY); \
                 CREATE TABLE ic (id BIGINT PRIMARY KEY, p_id BIGINT REFERENCES ip(id) ON DELETE CASCADE); \
                 CREATE TABLE ir (id BIGINT PRIMARY KEY, p_id BIGINT REFERENCES ip(id));",
            )
            .await;
            let mut parents: Vec<i64> = (1..=1_002).collect();
            parents.extend([0, -1, i64::MAX, i64::MIN]);
            let list: Vec<String> = parents.iter().map(|i| format!("({i})")).collect();
            sqlx::raw_sql(&format!("INSERT INTO ip VALUES {}", list.join(", ")))
                .execute(store.pool()).await.unwrap();
            // every 7th row cascades, every 11th restricts; the edge keys both.
            let mut kids = Vec::new();
            let mut n = 1;
            for &p in &parents {
                if p % 7 == 0 || p <= 0 || p == i64::MAX {
                    kids.push(format!("({n}, {p})"));
                    n += 1;
                }
            }
            sqlx::raw_sql(&format!("INSERT INTO ic VALUES {}", kids.join(", ")))
                .execute(store.pool()).await.unwrap();
            let rs: Vec<String> = parents.iter().filter(|p| **p % 11 == 0 || **p == i64::MIN)
                .enumerate().map(|(i, p)| format!("({i}, {p})")).collect();
            sqlx::raw_sql(&format!("INSERT INTO ir VALUES {}", rs.join(", ")))
                .execute(store.pool()).await.unwrap();
            let schema = store.introspect().await.unwrap();
            let t = schema.table("ip").unwrap();
            for size in [499usize, 500, 501, 1001] {
                let mut keys: Vec<Vec<Value>> =
                    (1..=size as i64).map(|i| vec![Value::Integer(i)]).collect();
                // the edges, a duplicate across the chunk boundary, text for an integer key
                // and a missing row, at the end (past the boundary)
                for v in [Value::Integer(0), Value::Integer(-1), Value::Integer(i64::MAX),
                          Value::Integer(i64::MIN), Value::Integer(7), Value::Text("14".into())] {
                    keys.push(vec![v]);
                }
                let a = batched(&store, &schema, t, &keys).await;
                let b = each(&store, &schema, t, &keys, false).await;
                assert_eq!(a.len(), b.len());
                for ((k, a), b) in keys.iter().zip(&a).zip(&b) {
                    assert_eq!(a, b, "size {size}, {k:?}");
                }
            }
        }

        async fn one_bulk_delete_drops_grants_of_every_cascaded_row_and_no_other(store: Store) {
            crate::store::test_support::create_tables(
                &store,
                "CREATE TABLE gp (id INTEGER PRIMARY KEY); \
                 CREATE TABLE gc (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES gp(id) ON DELETE CASCADE); \
                 CREATE TABLE gg (id VARCHAR(10) PRIMARY KEY, c_id INTEGER REFERENCES gc(id) ON DELETE CASCADE); \
                 CREATE TABLE gn (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES gp(id) ON DELETE SET NULL); \
                 INSERT INTO gp VALUES (1), (2), (3); \
                 INSERT INTO gc VALUES (10, 1), (11, 2), (12, 3); \
                 INSERT INTO gg VALUES ('x', 10), ('y', 11), ('z', 12); \
                 INSERT INTO gn VALUES (20, 1), (21, 3);",
            )
            .await;
            let schema = store.introspect().await.unwrap();
            let jane = crate::store::test_support::plain_user(&store, "jane").await;
            let group = store.create_group("g", &[], 0, &AuditEntry::default()).await.unwrap();
            for (model, pk) in [("gp", "1"), ("gp", "3"), ("gc", "10"), ("gc", "11"), ("gc", "12"),
                                ("gg", "x"), ("gg", "y"), ("gg", "z"), ("gn", "20")] {
                store.set_object_perm(Principal::User(jane), &format!("view_{model}"), model, pk,
                    true, &AuditEntry::default()).await.unwrap();
                store.set_object_perm(Principal::Group(group), &format!("view_{model}"), model, pk,
                    true, &AuditEntry::default()).await.unwrap();
            }
            let gp = schema.table("gp").unwrap();
            store
                .delete_records(&schema, gp, &[vec![Value::Integer(1)], vec![Value::Integer(2)]],
                    AuditEntry { action: "delete".into(), outcome: "success".into(), ..Default::default() })
                .await
                .unwrap();
            for perms in ["moat_user_object_perms", "moat_group_object_perms"] {
                let left: Vec<(String, String)> = sqlx::query_as(&format!(
                    "SELECT model, pk FROM {perms} ORDER BY model, pk"))
                    .fetch_all(store.pool()).await.unwrap();
                let want: Vec<(String, String)> = [("gc", "12"), ("gg", "z"), ("gn", "20"), ("gp", "3")]
                    .iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
                assert_eq!(left, want, "{perms}");
            }
        }
    }

    /// SQLite compares a foreign key with the parent column's collation: a cascade removes
    /// child rows that a count in the child's collation would not see, and the refusal of
    /// a cascade onto a model the user may not delete rests on that count.
    #[tokio::test]
    async fn sqlite_nocase_parent_cascade_is_counted() {
        let (bulk, one, left) = counted_then_deleted(
            "CREATE TABLE np (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE UNIQUE); \
             CREATE TABLE nc (id INTEGER PRIMARY KEY, p_code TEXT REFERENCES np(code) ON DELETE CASCADE); \
             INSERT INTO np VALUES (1, 'abc'); \
             INSERT INTO nc VALUES (1, 'ABC');",
            "np",
            "nc",
        )
        .await;
        assert_eq!(left, 0, "the cascade removed the child");
        assert!(
            !bulk[0].as_ref().unwrap().is_empty(),
            "a bulk delete counted nothing that cascaded"
        );
        assert!(
            !one[0].as_ref().unwrap().is_empty(),
            "one delete counted nothing that cascaded"
        );
    }

    /// A text-keyed child table holding a NULL key (SQLite allows it outside INTEGER
    /// PRIMARY KEY): the grants on rows the cascade removed still go (a bare
    /// `pk NOT IN (SELECT key …)` is never true beside a NULL), so a row later created
    /// with that key inherits none.
    #[tokio::test]
    async fn sqlite_null_key_in_cascaded_table_keeps_no_stale_grant() {
        let store = memory_store().await;
        crate::store::test_support::create_tables(
            &store,
            "CREATE TABLE sp (id INTEGER PRIMARY KEY); \
             CREATE TABLE sc (code TEXT PRIMARY KEY, p_id INTEGER REFERENCES sp(id) ON DELETE CASCADE); \
             INSERT INTO sp VALUES (1), (2); \
             INSERT INTO sc VALUES ('x', 1), (NULL, 2);",
        )
        .await;
        let schema = store.introspect().await.unwrap();
        let jane = crate::store::test_support::plain_user(&store, "jane").await;
        store
            .set_object_perm(
                Principal::User(jane),
                "change_sc",
                "sc",
                "x",
                true,
                &AuditEntry::default(),
            )
            .await
            .unwrap();
        let t = schema.table("sp").unwrap();
        store
            .delete_records(
                &schema,
                t,
                &[vec![Value::Integer(1)]],
                AuditEntry {
                    action: "delete".into(),
                    outcome: "success".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sc WHERE code = 'x'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(gone, 0);
        let stale: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_user_object_perms WHERE model = 'sc' AND pk = 'x'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(stale, 0, "a grant on the cascaded row sc 'x' survived");
    }

    /// SQLite applies the parent column's affinity to the child value: a child column with
    /// no type holding the text '1' is a child of parent 1, and the cascade removes it.
    /// A bound value (1 <> '1') would count nothing; one delete and a bulk delete count
    /// it alike.
    #[tokio::test]
    async fn sqlite_untyped_child_column_cascade_is_counted_by_both() {
        let (bulk, one, left) = counted_then_deleted(
            "CREATE TABLE ap (id INTEGER PRIMARY KEY); \
             CREATE TABLE ac (id INTEGER PRIMARY KEY, p_id REFERENCES ap(id) ON DELETE CASCADE); \
             INSERT INTO ap VALUES (1); \
             INSERT INTO ac VALUES (1, '1');",
            "ap",
            "ac",
        )
        .await;
        assert_eq!(left, 0, "the cascade removed the child");
        assert!(
            !bulk[0].as_ref().unwrap().is_empty(),
            "nothing counted: {bulk:?}"
        );
        assert_eq!(bulk, one, "a bulk delete and one delete count differently");
    }

    /// Hostile identifiers: tables named like the batch's aliases, quotes in column names.
    #[tokio::test]
    async fn sqlite_hostile_names_agree() {
        let store = memory_store().await;
        crate::store::test_support::create_tables(
            &store,
            "CREATE TABLE hp (\"moat_p\" INTEGER PRIMARY KEY, \"we\"\"ird`\" TEXT UNIQUE); \
             CREATE TABLE hc (id INTEGER PRIMARY KEY, \"moat_c\" INTEGER REFERENCES hp(\"moat_p\") ON DELETE CASCADE, \
               \"a'b) = (1\" TEXT REFERENCES hp(\"we\"\"ird`\")); \
             CREATE TABLE selfy (id INTEGER PRIMARY KEY, up INTEGER REFERENCES selfy(id) ON DELETE CASCADE); \
             INSERT INTO hp VALUES (1, 'w'), (2, 'v'); \
             INSERT INTO hc VALUES (1, 1, 'w'), (2, 1, NULL), (3, 2, 'v'); \
             INSERT INTO selfy VALUES (1, 1), (2, 1), (3, 2);",
        )
        .await;
        let schema = store.introspect().await.unwrap();
        for (table, keys) in [("hp", vec![1, 2, 3]), ("selfy", vec![1, 2, 3, 4])] {
            let t = schema.table(table).unwrap();
            let keys: Vec<Vec<Value>> = keys.into_iter().map(|i| vec![Value::Integer(i)]).collect();
            let a = batched(&store, &schema, t, &keys).await;
            let b = each(&store, &schema, t, &keys, false).await;
            assert_eq!(a, b, "{table}");
        }
    }
}
