//! Schema introspection (SQLite): tables, columns, declared types, primary key, NOT NULL,
//! defaults and foreign keys, read through SQLite's table-valued pragmas with bound names.

use sqlx::Row;

use super::{sql, Store, StoreError};
use crate::domain::{ColumnInfo, ForeignKey, Schema, TableInfo};

impl Store {
    /// Introspect every user table (moat's own and SQLite's internal tables excluded).
    pub async fn introspect(&self) -> Result<Schema, StoreError> {
        let tables = sqlx::query(sql::LIST_TABLES).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(tables.len());
        for row in tables {
            let name: String = row.try_get("name")?;
            let without_rowid: bool = row.try_get("wr")?;
            out.push(self.table_info(name, !without_rowid).await?);
        }
        Ok(Schema { tables: out })
    }

    async fn table_info(&self, name: String, has_rowid: bool) -> Result<TableInfo, StoreError> {
        let columns: Vec<ColumnInfo> = sqlx::query(sql::TABLE_COLUMNS)
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(ColumnInfo {
                    name: r.try_get("name")?,
                    decl_type: r.try_get("type")?,
                    not_null: r.try_get("notnull")?,
                    default: r.try_get("dflt_value")?,
                    pk_ordinal: r.try_get::<i64, _>("pk")?.try_into().unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let mut pk: Vec<&ColumnInfo> = columns.iter().filter(|c| c.pk_ordinal > 0).collect();
        pk.sort_by_key(|c| c.pk_ordinal);
        let primary_key = pk.into_iter().map(|c| c.name.clone()).collect();

        let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
        for r in sqlx::query(sql::TABLE_FOREIGN_KEYS)
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
        {
            let id: i64 = r.try_get("id")?;
            let from: String = r.try_get("from")?;
            // `to` is NULL when the FK names the parent's primary key implicitly.
            let to: Option<String> = r.try_get("to")?;
            let table: String = r.try_get("table")?;
            let on_delete: String = r.try_get("on_delete")?;
            match foreign_keys.last_mut() {
                Some((last, fk)) if *last == id => {
                    fk.columns.push(from);
                    fk.ref_columns.extend(to);
                }
                _ => foreign_keys.push((
                    id,
                    ForeignKey {
                        columns: vec![from],
                        ref_table: table,
                        ref_columns: to.into_iter().collect(),
                        on_delete,
                    },
                )),
            }
        }
        Ok(TableInfo {
            name,
            columns,
            primary_key,
            foreign_keys: foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
            has_rowid,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::memory_store;

    #[tokio::test]
    async fn introspects_columns_keys_and_foreign_keys() {
        let store = memory_store().await;
        for stmt in [
            "CREATE TABLE a (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'x', note TEXT)",
            "CREATE TABLE b (x INTEGER, y TEXT, a_id INTEGER REFERENCES a(id), PRIMARY KEY (x, y)) WITHOUT ROWID",
            "CREATE TABLE \"odd \"\"name\" (v BLOB)",
        ] {
            sqlx::query(stmt).execute(store.pool()).await.unwrap();
        }
        let schema = store.introspect().await.unwrap();
        let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["a", "b", "odd \"name"],
            "moat_ tables are excluded"
        );

        let a = schema.table("a").unwrap();
        assert_eq!(a.primary_key, vec!["id"]);
        assert!(a.has_rowid);
        let name = a.column("name").unwrap();
        assert_eq!(name.decl_type, "VARCHAR(20)");
        assert!(name.not_null);
        assert_eq!(name.default.as_deref(), Some("'x'"));
        assert!(!a.column("note").unwrap().not_null);

        let b = schema.table("b").unwrap();
        assert!(!b.has_rowid);
        assert_eq!(b.primary_key, vec!["x", "y"]);
        assert_eq!(b.key_columns(), vec!["x", "y"]);
        assert_eq!(b.foreign_keys.len(), 1);
        assert_eq!(b.foreign_keys[0].ref_table, "a");
        assert_eq!(b.foreign_keys[0].columns, vec!["a_id"]);
        assert_eq!(b.foreign_keys[0].ref_columns, vec!["id"]);
        assert_eq!(b.foreign_keys[0].on_delete, "NO ACTION");

        let odd = schema.table("odd \"name").unwrap();
        assert_eq!(odd.key_columns(), vec!["rowid"]);
    }
}
