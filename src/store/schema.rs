//! Schema introspection: tables, columns, declared types, primary key, NOT NULL, defaults
//! and foreign keys. SQLite is read through its table-valued pragmas, PostgreSQL through
//! pg_catalog; names are always bound, never spliced.

use sqlx::Row;

use super::{checks, sql, Dialect, Store, StoreError};
use crate::domain::{ColumnInfo, ForeignKey, PgType, Schema, TableInfo};

impl Store {
    /// Introspect every user table (moat's own and the database's internal tables
    /// excluded; on PostgreSQL, the tables of the configured schemas).
    pub async fn introspect(&self) -> Result<Schema, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self.introspect_sqlite().await,
            Dialect::Postgres => self.introspect_postgres().await,
            Dialect::Mysql => self.introspect_mysql().await,
        }
    }

    async fn introspect_mysql(&self) -> Result<Schema, StoreError> {
        let tables = sql::query(self.dialect, sql::MY_LIST_TABLES)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(tables.len());
        for row in tables {
            let name = sql::text(&row, "name")?.unwrap_or_default();
            out.push(self.mysql_table(name).await?);
        }
        Ok(Schema { tables: out })
    }

    async fn mysql_table(&self, name: String) -> Result<TableInfo, StoreError> {
        let mut columns = Vec::new();
        for r in sql::query(self.dialect, sql::MY_TABLE_COLUMNS)
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
        {
            let text = |c: &str| sql::text(&r, c).map(Option::unwrap_or_default);
            let column_type = text("type")?;
            let data_type = text("data_type")?.to_ascii_lowercase();
            let extra = text("extra")?.to_ascii_lowercase();
            let generation = sql::text(&r, "generation")?.filter(|g| !g.is_empty());
            let default = if extra.contains("generated") {
                Some(format!(
                    "{}{}",
                    crate::domain::GENERATED,
                    generation.unwrap_or_default()
                ))
            } else if extra.contains("auto_increment") {
                Some("AUTO_INCREMENT".to_string())
            } else {
                sql::text(&r, "dflt")?.filter(|d| d != "NULL")
            };
            let labels = if data_type == "enum" {
                mysql_enum_labels(&column_type)
            } else {
                Vec::new()
            };
            let check = sql::text(&r, "checks")?.unwrap_or_default();
            // MariaDB's JSON is LONGTEXT with a json_valid() check.
            let data_type = if check.to_ascii_lowercase().contains("json_valid") {
                "json".to_string()
            } else {
                data_type
            };
            let mut col = ColumnInfo {
                check_values: Vec::new(),
                name: text("name")?,
                decl_type: column_type,
                not_null: text("nullable")? == "NO",
                default,
                pk_ordinal: r.try_get::<i64, _>("pk")?.try_into().unwrap_or(0),
                pg_type: Some(PgType {
                    schema: sql::MYSQL_TYPES.to_string(),
                    name: data_type,
                    labels,
                }),
            };
            checks::apply(
                std::slice::from_mut(&mut col),
                &check,
                checks::Quotes::Backslash,
            );
            columns.push(col);
        }
        let mut foreign_keys: Vec<(String, ForeignKey)> = Vec::new();
        for r in sql::query(self.dialect, sql::MY_TABLE_FOREIGN_KEYS)
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
        {
            let text = |c: &str| sql::text(&r, c).map(Option::unwrap_or_default);
            let constraint = text("constraint_name")?;
            let (from, to) = (text("from")?, text("to")?);
            match foreign_keys.last_mut() {
                Some((last, fk)) if *last == constraint => {
                    fk.columns.push(from);
                    fk.ref_columns.push(to);
                }
                _ => foreign_keys.push((
                    constraint,
                    ForeignKey {
                        columns: vec![from],
                        ref_table: text("ref_table")?,
                        ref_columns: vec![to],
                        on_delete: text("on_delete")?,
                    },
                )),
            }
        }
        Ok(table_info(
            name,
            columns,
            foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
            false,
            None,
        ))
    }

    async fn introspect_sqlite(&self) -> Result<Schema, StoreError> {
        let tables = sql::query(self.dialect, sql::LIST_TABLES)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(tables.len());
        for row in tables {
            let name: String = row.try_get("name")?;
            let without_rowid = sql::flag(&row, "wr")?;
            out.push(self.sqlite_table(name, !without_rowid).await?);
        }
        canonical_sqlite_names(&mut out);
        Ok(Schema { tables: out })
    }

    async fn sqlite_table(&self, name: String, has_rowid: bool) -> Result<TableInfo, StoreError> {
        let columns: Vec<ColumnInfo> = sql::query(self.dialect, sql::TABLE_COLUMNS)
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(ColumnInfo {
                    check_values: Vec::new(),
                    name: r.try_get("name")?,
                    decl_type: r.try_get("type")?,
                    not_null: sql::flag(&r, "notnull")?,
                    default: r.try_get("dflt_value")?,
                    pk_ordinal: r.try_get::<i64, _>("pk")?.try_into().unwrap_or(0),
                    pg_type: None,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let mut columns = columns;
        let create: Option<String> = sql::query(self.dialect, sql::TABLE_SQL)
            .bind(&name)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("sql"))
            .transpose()?;
        checks::apply(
            &mut columns,
            create.as_deref().unwrap_or_default(),
            checks::Quotes::Doubled,
        );
        let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
        for r in sql::query(self.dialect, sql::TABLE_FOREIGN_KEYS)
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
        Ok(table_info(
            name,
            columns,
            foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
            has_rowid,
            None,
        ))
    }

    async fn introspect_postgres(&self) -> Result<Schema, StoreError> {
        let q = self.dialect.sql(&format!(
            "{} AND n.nspname IN {} ORDER BY n.nspname, c.relname",
            sql::PG_LIST_TABLES,
            sql::placeholders(self.schemas.len())
        ));
        let mut query = sqlx::query(&q);
        for schema in self.schemas.iter() {
            query = query.bind(schema);
        }
        let tables = query.fetch_all(&self.pool).await?;
        let mut out: Vec<TableInfo> = Vec::with_capacity(tables.len());
        for row in tables {
            let oid: i64 = row.try_get("oid")?;
            let schema: String = row.try_get("schema")?;
            let table: String = row.try_get("name")?;
            let info = self.postgres_table(oid, schema, table).await?;
            // A model name must name one table: `public."sales.orders"` and
            // `sales.orders` would both be `sales.orders`, and rules, grants and edits
            // would land on whichever came first.
            if let Some(clash) = out.iter().find(|t| t.name == info.name) {
                return Err(StoreError::Conflict(format!(
                    "two tables would both be the model `{}`: {} and {}; rename one, or \
                     leave its schema out of database_schemas",
                    info.name.escape_debug(),
                    qualified(clash),
                    qualified(&info)
                )));
            }
            out.push(info);
        }
        Ok(Schema { tables: out })
    }

    async fn postgres_table(
        &self,
        oid: i64,
        schema: String,
        table: String,
    ) -> Result<TableInfo, StoreError> {
        let columns: Vec<ColumnInfo> = sql::query(self.dialect, sql::PG_TABLE_COLUMNS)
            .bind(oid)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                let labels: Option<String> = r.try_get("labels")?;
                let labels = labels
                    .and_then(|l| serde_json::from_str::<Vec<String>>(&l).ok())
                    .unwrap_or_default();
                let identity = sql::flag(&r, "is_identity")?;
                let checks: Option<String> = r.try_get("checks")?;
                let default: Option<String> = r.try_get("dflt")?;
                let mut col = ColumnInfo {
                    check_values: Vec::new(),
                    name: r.try_get("name")?,
                    decl_type: r.try_get("type")?,
                    not_null: sql::flag(&r, "notnull")?,
                    default: default.or_else(|| identity.then(|| "identity".to_string())),
                    pk_ordinal: r.try_get::<i64, _>("pk")?.try_into().unwrap_or(0),
                    pg_type: Some(PgType {
                        schema: r.try_get("type_schema")?,
                        name: r.try_get("type_name")?,
                        labels,
                    }),
                };
                checks::apply(
                    std::slice::from_mut(&mut col),
                    checks.as_deref().unwrap_or_default(),
                    checks::Quotes::Doubled,
                );
                Ok(col)
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let foreign_keys = sql::query(self.dialect, sql::PG_TABLE_FOREIGN_KEYS)
            .bind(oid)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                let names = |col: &str| -> Result<Vec<String>, sqlx::Error> {
                    let json: String = r.try_get(col)?;
                    Ok(serde_json::from_str(&json).unwrap_or_default())
                };
                let ref_schema: String = r.try_get("ref_schema")?;
                let ref_table: String = r.try_get("ref_table")?;
                let on_delete: String = r.try_get("on_delete")?;
                Ok(ForeignKey {
                    columns: names("columns")?,
                    ref_table: model_name(&ref_schema, &ref_table),
                    ref_columns: names("ref_columns")?,
                    on_delete: match on_delete.as_str() {
                        "c" => "CASCADE",
                        "n" => "SET NULL",
                        "d" => "SET DEFAULT",
                        "r" => "RESTRICT",
                        _ => "NO ACTION",
                    }
                    .to_string(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(table_info(
            model_name(&schema, &table),
            columns,
            foreign_keys,
            false,
            Some((schema, table)),
        ))
    }
}

/// The labels of a MySQL `enum('a','b''c')` column type, in order (`''` is a quote).
fn mysql_enum_labels(column_type: &str) -> Vec<String> {
    let Some(inner) = column_type
        .find('(')
        .and_then(|i| column_type.rfind(')').map(|j| &column_type[i + 1..j]))
    else {
        return Vec::new();
    };
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    label.push('\'');
                } else {
                    break;
                }
            } else {
                label.push(c);
            }
        }
        labels.push(label);
    }
    labels
}

/// The model name of a PostgreSQL table: its name in `public`, else `schema.table`.
/// `schema."table"` as the catalog has it, for messages.
fn qualified(t: &TableInfo) -> String {
    match &t.pg_name {
        Some((schema, table)) => format!("{}.\"{}\"", schema.escape_debug(), table.escape_debug()),
        None => t.name.escape_debug().to_string(),
    }
}

/// SQLite matches table and column names without regard to (ASCII) case, and its
/// foreign-key list gives the parent's names as the DDL spelled them: `REFERENCES
/// Posts(ID)` on a table `posts`. Spell them as the tables are named, so a cascade onto
/// `posts` is seen (counted, and checked against the user's rights) wherever it is.
fn canonical_sqlite_names(tables: &mut [TableInfo]) {
    let names: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.columns.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    let find = |list: &[String], name: &str| {
        list.iter()
            .find(|n| n.eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    };
    for t in tables.iter_mut() {
        let own: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        for fk in &mut t.foreign_keys {
            if let Some((parent, columns)) = names
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&fk.ref_table))
            {
                fk.ref_table = parent.clone();
                for c in &mut fk.ref_columns {
                    *c = find(columns, c);
                }
            }
            for c in &mut fk.columns {
                *c = find(&own, c);
            }
        }
    }
}

fn model_name(schema: &str, table: &str) -> String {
    if schema == "public" {
        table.to_string()
    } else {
        format!("{schema}.{table}")
    }
}

fn table_info(
    name: String,
    columns: Vec<ColumnInfo>,
    foreign_keys: Vec<ForeignKey>,
    has_rowid: bool,
    pg_name: Option<(String, String)>,
) -> TableInfo {
    let mut pk: Vec<&ColumnInfo> = columns.iter().filter(|c| c.pk_ordinal > 0).collect();
    pk.sort_by_key(|c| c.pk_ordinal);
    let primary_key = pk.into_iter().map(|c| c.name.clone()).collect();
    TableInfo {
        name,
        columns,
        primary_key,
        foreign_keys,
        has_rowid,
        pg_name,
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

    /// PostgreSQL's types: introspected from the catalog, read as values the console can
    /// show, written from text through casts; bad input refused in words; other schemas
    /// shown when configured, moat's own never.
    #[tokio::test]
    #[cfg_attr(
        not(moat_postgres),
        ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
    )]
    async fn postgres_types_are_introspected_read_and_written() {
        use crate::domain::{Listing, PageAnchor, Sort, Value};
        use crate::store::AuditEntry;
        let store = crate::store::testing::postgres_store().await.unwrap();
        crate::store::test_support::create_tables(
            &store,
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); \
             CREATE TABLE things (id serial PRIMARY KEY, uid uuid NOT NULL, at timestamptz, \
               day date, price numeric(10,2), doc jsonb, tags text[], feeling mood, raw bytea, \
               label varchar(20), ok boolean, seq bigint GENERATED BY DEFAULT AS IDENTITY); \
             CREATE SCHEMA sales; \
             CREATE TABLE sales.orders (id bigint PRIMARY KEY, thing_id integer REFERENCES public.things(id) ON DELETE CASCADE)",
        )
        .await;
        let schema = store.introspect().await.unwrap();
        let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["things"],
            "public only by default; moat's tables never"
        );
        let t = schema.table("things").unwrap().clone();
        assert_eq!(t.primary_key, vec!["id"]);
        let decl = |c: &str| t.column(c).unwrap().decl_type.clone();
        assert_eq!(decl("uid"), "uuid");
        assert_eq!(decl("at"), "timestamp with time zone");
        assert_eq!(decl("price"), "numeric(10,2)");
        assert_eq!(decl("tags"), "text[]");
        assert_eq!(decl("label"), "character varying(20)");
        let feeling = t.column("feeling").unwrap().pg_type.clone().unwrap();
        assert_eq!(feeling.labels, vec!["sad", "ok", "happy"]);
        assert!(
            t.column("id").unwrap().default.is_some(),
            "serial has a default"
        );
        assert!(
            t.column("seq").unwrap().default.is_some(),
            "identity counts as one"
        );

        let text = |s: &str| Value::Text(s.into());
        let row = |uid: &str, label: &str, feeling: &str| {
            vec![
                ("uid".to_string(), text(uid)),
                ("at".to_string(), text("2024-05-01 12:00:00+00")),
                ("day".to_string(), text("2024-05-01")),
                ("price".to_string(), text("12.50")),
                ("doc".to_string(), text("{\"a\": [1, 2]}")),
                ("tags".to_string(), text("{x,y}")),
                ("feeling".to_string(), text(feeling)),
                ("raw".to_string(), Value::Blob(vec![0, 255])),
                ("label".to_string(), text(label)),
                ("ok".to_string(), Value::Integer(1)),
            ]
        };
        let a = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        let key = store
            .insert_record(&t, &row(a, "Hello", "happy"), AuditEntry::default())
            .await
            .unwrap();
        assert_eq!(key, vec![Value::Integer(1)]);
        store
            .insert_record(
                &t,
                &row("b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", "other", "sad"),
                AuditEntry::default(),
            )
            .await
            .unwrap();
        let r = store.record(&t, &key).await.unwrap();
        let field = |c: &str| {
            r.fields
                .iter()
                .find(|(col, _)| col.name == c)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(field("uid"), text(a));
        assert_eq!(field("day"), text("2024-05-01"));
        assert_eq!(field("price"), text("12.50"), "numeric keeps its digits");
        assert_eq!(field("doc"), text("{\"a\": [1, 2]}"));
        assert_eq!(field("tags"), text("{x,y}"));
        assert_eq!(field("feeling"), text("happy"));
        assert_eq!(field("raw"), Value::Blob(vec![0, 255]));
        assert_eq!(field("ok"), Value::Integer(1));
        assert_eq!(field("seq"), Value::Integer(1));
        assert!(matches!(field("at"), Value::Text(t) if t.starts_with("2024-05-01")));

        // Filters, search and sort by typed columns bind through the same casts.
        let filtered = |column: &str, v: Value| Listing {
            filters: vec![crate::domain::Filter {
                column: column.into(),
                op: crate::domain::FilterOp::Equals(v),
            }],
            ..Listing::all()
        };
        for (column, v) in [
            ("uid", text(a)),
            ("feeling", text("happy")),
            ("price", text("12.5")),
            ("day", text("2024-05-01")),
            ("ok", Value::Integer(1)),
        ] {
            let page = store
                .page(&t, &PageAnchor::First, 10, &filtered(column, v))
                .await
                .unwrap();
            assert!(!page.rows.is_empty(), "filter on {column}");
        }
        let search = Listing {
            search: Some(("HELLO".into(), vec!["label".into(), "uid".into()])),
            ..Listing::all()
        };
        let page = store
            .page(&t, &PageAnchor::First, 10, &search)
            .await
            .unwrap();
        assert_eq!(page.rows.len(), 1, "search ignores case");
        let by_feeling = Listing {
            sort: Some(Sort {
                column: "feeling".into(),
                descending: false,
            }),
            ..Listing::all()
        };
        let first = store
            .page(&t, &PageAnchor::First, 1, &by_feeling)
            .await
            .unwrap();
        let next = store
            .page(
                &t,
                &PageAnchor::After(first.rows[0].cursor.clone()),
                1,
                &by_feeling,
            )
            .await
            .unwrap();
        assert_eq!(
            first.rows[0].key,
            vec![Value::Integer(2)],
            "enum order: sad first"
        );
        assert_eq!(next.rows[0].key, vec![Value::Integer(1)]);

        // Bad input is refused in words, and nothing is written.
        for (column, bad, words) in [
            ("uid", "not-a-uuid", "uuid"),
            ("doc", "{broken", "json"),
            ("feeling", "angry", "mood"),
            ("day", "2024-02-30", "date"),
        ] {
            let err = store
                .update_record(
                    &t,
                    &key,
                    &[],
                    &[(column.to_string(), text(bad))],
                    AuditEntry::default(),
                )
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("not valid for its column")
                    && err.to_string().contains(words),
                "{column}: {err}"
            );
        }
        store
            .update_record(
                &t,
                &key,
                &[],
                &[("feeling".to_string(), text("ok"))],
                AuditEntry::default(),
            )
            .await
            .unwrap();
        let r = store.record(&t, &key).await.unwrap();
        assert!(r
            .fields
            .iter()
            .any(|(c, v)| c.name == "feeling" && *v == text("ok")));

        // Other schemas, when configured, show as `schema.table`.
        let store = store.with_schemas(&["public".into(), "sales".into()]);
        let schema = store.introspect().await.unwrap();
        let orders = schema.table("sales.orders").unwrap();
        assert_eq!(orders.foreign_keys[0].ref_table, "things");
        assert_eq!(orders.foreign_keys[0].on_delete, "CASCADE");
        assert_eq!(orders.foreign_keys[0].columns, vec!["thing_id"]);
        assert_eq!(orders.foreign_keys[0].ref_columns, vec!["id"]);
        store
            .insert_record(
                orders,
                &[
                    ("id".to_string(), Value::Integer(7)),
                    ("thing_id".to_string(), Value::Integer(1)),
                ],
                AuditEntry::default(),
            )
            .await
            .unwrap();
        let refs = store.references(&schema, &t, &key).await.unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].table, "sales.orders");
        store
            .delete_record(&schema, &t, &key, AuditEntry::default())
            .await
            .unwrap();
        let left = store
            .page(orders, &PageAnchor::First, 10, &Listing::all())
            .await
            .unwrap();
        assert!(left.rows.is_empty(), "cascaded");

        // A table of public named like a table of another schema: refused, both named.
        crate::store::test_support::create_tables(
            &store,
            "CREATE TABLE public.\"sales.orders\" (id bigint PRIMARY KEY)",
        )
        .await;
        let err = store.introspect().await.unwrap_err().to_string();
        assert!(
            err.contains("two tables would both be the model `sales.orders`")
                && err.contains("public.\"sales.orders\"")
                && err.contains("sales.\"orders\""),
            "{err}"
        );
        // Without the other schema configured, the name is unambiguous again.
        let public_only = store.with_schemas(&["public".into()]);
        assert!(public_only
            .introspect()
            .await
            .unwrap()
            .table("sales.orders")
            .is_some());
    }
}

#[cfg(test)]
#[path = "schema_rule_tests.rs"]
mod model_rule_tests;
