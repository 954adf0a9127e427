//! Deleting a record: what refers to it, and the delete itself — one transaction holding
//! the row's removal, the removal of object permissions that named it (or rows deleted
//! with it by `ON DELETE CASCADE`), and the audit row with the values it had.

use std::collections::BTreeSet;

use super::audit::{append, AuditEntry};
use super::bind::{bind_value, bind_value_scalar, value_json};
use super::sql::{self, Column, Dialect, Ident};
use super::{Store, StoreError};
use crate::domain::{key_text, pk_text, Reference, RowCount, Schema, TableInfo, Value};

/// References counted up to this many per foreign key.
const REFERENCE_COUNT_LIMIT: i64 = 1_000;

impl Store {
    /// The rows of other tables that refer to row `key` of `table`, per foreign key.
    pub async fn references(
        &self,
        schema: &Schema,
        table: &TableInfo,
        key: &[Value],
    ) -> Result<Vec<Reference>, StoreError> {
        let record = self.record(table, key).await?;
        let mut out = Vec::new();
        for child in &schema.tables {
            for fk in child
                .foreign_keys
                .iter()
                .filter(|fk| fk.ref_table == table.name)
            {
                // The referenced columns' values in this row (the primary key if unnamed).
                let targets = if fk.ref_columns.is_empty() {
                    &table.primary_key
                } else {
                    &fk.ref_columns
                };
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
    pub async fn delete_records(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Write);
        let mut tx = self.begin_write().await?;
        for key in keys {
            let audit = AuditEntry {
                pk: Some(key_text(key)),
                ..audit.clone()
            };
            delete_on(&mut tx, self.audit_key(), schema, table, key, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Delete one row inside the caller's transaction (see [`Store::delete_records`]).
async fn delete_on(
    tx: &mut sqlx::AnyConnection,
    audit_key: Option<&crate::seal::AuditKey>,
    schema: &Schema,
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
        Err(sqlx::Error::Database(e))
            if e.message().contains("FOREIGN KEY") || e.code().as_deref() == Some("23503") =>
        {
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
                "DELETE FROM {perms} WHERE model = ? AND pk NOT IN (SELECT {key} FROM {})",
                Ident::table(child)
            );
            let q = Dialect::of_conn(tx).sql(&q);
            sqlx::query(&q).bind(&child.name).execute(&mut *tx).await?;
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

/// Tables whose rows `ON DELETE CASCADE` may remove when a row of `table` is deleted,
/// transitively.
fn cascaded_tables(schema: &Schema, table: &str) -> BTreeSet<String> {
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
}
