//! Record queries: counts, keyset pages and single records of introspected tables.
//!
//! Lists page by key (`WHERE (k…) > (?…) ORDER BY k… LIMIT n`), never by OFFSET, so the
//! last page costs what the first does. Counts stop at [`sql::EXACT_COUNT_LIMIT`].

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, TypeInfo, ValueRef};

use super::sql::{self, Ident};
use super::{Store, StoreError};
use crate::domain::{ListRow, Page, PageAnchor, Record, RowCount, RowFilter, TableInfo, Value};

impl Store {
    /// Count the rows `filter` lets through, exactly up to [`sql::EXACT_COUNT_LIMIT`],
    /// else `AtLeast(limit)`.
    pub async fn count_rows(
        &self,
        table: &TableInfo,
        filter: &RowFilter,
    ) -> Result<RowCount, StoreError> {
        let limit = sql::EXACT_COUNT_LIMIT;
        let keys = key_idents(table)?;
        let (condition, filter_binds) = filter_condition(table, &keys, filter)?;
        let q = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} {} LIMIT {})",
            Ident::table(table),
            condition.map(|c| format!("WHERE {c}")).unwrap_or_default(),
            limit + 1
        );
        let mut query = sqlx::query_scalar(&q);
        for v in &filter_binds {
            query = match v {
                Value::Integer(i) => query.bind(*i),
                other => query.bind(other.to_string()),
            };
        }
        let n: i64 = query.fetch_one(&self.pool).await?;
        let n = u64::try_from(n).unwrap_or(0);
        Ok(if n > limit {
            RowCount::AtLeast(limit)
        } else {
            RowCount::Exact(n)
        })
    }

    /// One page of up to `limit` rows of `table` that `filter` lets through, in key
    /// order, starting at `anchor`.
    pub async fn page(
        &self,
        table: &TableInfo,
        anchor: &PageAnchor,
        limit: u32,
        filter: &RowFilter,
    ) -> Result<Page, StoreError> {
        let keys = key_idents(table)?;
        let key_tuple = sql::ident_tuple(&keys);
        let cols: Vec<Ident> = table.columns.iter().map(Ident::column).collect();
        let select_list = keys
            .iter()
            .chain(cols.iter())
            .map(Ident::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let (position, descending, bound) = match anchor {
            PageAnchor::First => (None, false, None),
            PageAnchor::Last => (None, true, None),
            PageAnchor::After(k) => (
                Some(format!("{key_tuple} > {}", sql::placeholders(keys.len()))),
                false,
                Some(k),
            ),
            PageAnchor::From(k) => (
                Some(format!("{key_tuple} >= {}", sql::placeholders(keys.len()))),
                false,
                Some(k),
            ),
            PageAnchor::Before(k) => (
                Some(format!("{key_tuple} < {}", sql::placeholders(keys.len()))),
                true,
                Some(k),
            ),
        };
        let (granted, filter_binds) = filter_condition(table, &keys, filter)?;
        let conditions: Vec<String> = position.into_iter().chain(granted).collect();
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let direction = if descending { " DESC" } else { "" };
        let order = keys
            .iter()
            .map(|k| format!("{k}{direction}"))
            .collect::<Vec<_>>()
            .join(", ");
        let q = format!(
            "SELECT {select_list} FROM {} {filter} ORDER BY {order} LIMIT {}",
            Ident::table(table),
            u64::from(limit) + 1
        );
        let mut query = sqlx::query(&q);
        if let Some(values) = bound {
            if values.len() != keys.len() {
                return Err(StoreError::NotFound(
                    "page anchor does not match the key".into(),
                ));
            }
            for v in values {
                query = bind_value(query, v);
            }
        }
        for v in &filter_binds {
            query = bind_value(query, v);
        }
        let fetched = query.fetch_all(&self.pool).await?;
        let more = fetched.len() > limit as usize;
        let mut rows: Vec<ListRow> = fetched
            .iter()
            .take(limit as usize)
            .map(|r| {
                let all = decode_row(r)?;
                let (key, values) = all.split_at(keys.len());
                Ok(ListRow {
                    key: key.to_vec(),
                    values: values.to_vec(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        if descending {
            rows.reverse();
        }
        let (has_before, has_after) = match anchor {
            PageAnchor::First => (false, more),
            PageAnchor::Last => (more, false),
            PageAnchor::After(_) | PageAnchor::From(_) => (true, more),
            PageAnchor::Before(_) => (more, true),
        };
        Ok(Page {
            columns: table.columns.iter().map(|c| c.name.clone()).collect(),
            rows,
            has_before,
            has_after,
        })
    }

    /// The record of `table` whose key columns equal `key`.
    pub async fn record(&self, table: &TableInfo, key: &[Value]) -> Result<Record, StoreError> {
        let mut conn = self.pool.acquire().await?;
        record_on(&mut conn, table, key).await
    }
}

/// [`Store::record`] on a given connection (inside a transaction, for instance).
pub(crate) async fn record_on(
    conn: &mut sqlx::SqliteConnection,
    table: &TableInfo,
    key: &[Value],
) -> Result<Record, StoreError> {
    let keys = key_idents(table)?;
    if key.len() != keys.len() {
        return Err(StoreError::NotFound(
            "record key does not match the table".into(),
        ));
    }
    let cols: Vec<Ident> = table.columns.iter().map(Ident::column).collect();
    let select_list = cols
        .iter()
        .map(Ident::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let q = format!(
        "SELECT {select_list} FROM {} WHERE {} = {}",
        Ident::table(table),
        sql::ident_tuple(&keys),
        sql::placeholders(keys.len())
    );
    let mut query = sqlx::query(&q);
    for v in key {
        query = bind_value(query, v);
    }
    let row = query
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no such row in {}", table.name)))?;
    let values = decode_row(&row)?;
    Ok(Record {
        key: key.to_vec(),
        fields: table.columns.iter().cloned().zip(values).collect(),
    })
}

/// The SQL condition (and its values) that keeps only rows `filter` lets through: the
/// row's key among the object permissions of the user and their groups. Needs a
/// single-column key; the key column's affinity converts the stored text pk.
fn filter_condition(
    table: &TableInfo,
    keys: &[Ident],
    filter: &RowFilter,
) -> Result<(Option<String>, Vec<Value>), StoreError> {
    let RowFilter::Granted { user_id, codenames } = filter else {
        return Ok((None, Vec::new()));
    };
    let [key] = keys else {
        return Err(StoreError::NotFound(format!(
            "object permissions on {} need a single-column key",
            table.name
        )));
    };
    let codes = sql::placeholders(codenames.len());
    let condition = format!(
        "{key} IN (SELECT pk FROM moat_user_object_perms \
           WHERE user_id = ? AND model = ? AND codename IN {codes} \
         UNION SELECT pk FROM moat_group_object_perms \
           WHERE model = ? AND codename IN {codes} AND group_id IN ({}))",
        super::perms::user_groups!()
    );
    let mut binds = vec![Value::Integer(*user_id), Value::Text(table.name.clone())];
    binds.extend(codenames.iter().cloned().map(Value::Text));
    binds.push(Value::Text(table.name.clone()));
    binds.extend(codenames.iter().cloned().map(Value::Text));
    binds.push(Value::Integer(*user_id));
    Ok((Some(condition), binds))
}

pub(super) fn key_idents(table: &TableInfo) -> Result<Vec<Ident>, StoreError> {
    table
        .key_columns()
        .iter()
        .map(|k| {
            Ident::key_column(table, k)
                .ok_or_else(|| StoreError::NotFound(format!("key column {k} of {}", table.name)))
        })
        .collect()
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

pub(super) fn bind_value<'q>(q: Query<'q>, v: &'q Value) -> Query<'q> {
    match v {
        Value::Null => q.bind(None::<i64>),
        Value::Integer(i) => q.bind(*i),
        Value::Real(r) => q.bind(*r),
        Value::Text(s) => q.bind(s.as_str()),
        Value::Blob(b) => q.bind(b.as_slice()),
    }
}

type ScalarQuery<'q> =
    sqlx::query::QueryScalar<'q, sqlx::Sqlite, i64, sqlx::sqlite::SqliteArguments<'q>>;

pub(super) fn bind_value_scalar<'q>(q: ScalarQuery<'q>, v: &'q Value) -> ScalarQuery<'q> {
    match v {
        Value::Null => q.bind(None::<i64>),
        Value::Integer(i) => q.bind(*i),
        Value::Real(r) => q.bind(*r),
        Value::Text(s) => q.bind(s.as_str()),
        Value::Blob(b) => q.bind(b.as_slice()),
    }
}

/// Decode every column of a row by its runtime storage class (not its declared type:
/// SQLite lets a `BOOLEAN` column hold text).
fn decode_row(row: &SqliteRow) -> Result<Vec<Value>, StoreError> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            let class = raw.type_info().name().to_ascii_uppercase();
            Ok(match class.as_str() {
                "INTEGER" | "BOOLEAN" | "INT8" => Value::Integer(row.try_get_unchecked(i)?),
                "REAL" | "FLOAT" | "DOUBLE" => Value::Real(row.try_get_unchecked(i)?),
                "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
                _ => Value::Text(row.try_get_unchecked(i)?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::domain::{PageAnchor, RowCount, RowFilter, Value};
    use crate::store::test_support::memory_store;

    async fn numbers(n: i64) -> (crate::store::Store, crate::domain::TableInfo) {
        let store = memory_store().await;
        sqlx::query("CREATE TABLE n (id INTEGER PRIMARY KEY, label TEXT, score REAL, raw BLOB)")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) \
             INSERT INTO n SELECT i, 'row ' || i, i / 2.0, CASE WHEN i % 2 = 0 THEN x'00ff' END FROM s",
        )
        .bind(n)
        .execute(store.pool())
        .await
        .unwrap();
        let table = store
            .introspect()
            .await
            .unwrap()
            .table("n")
            .unwrap()
            .clone();
        (store, table)
    }

    fn ids(p: &crate::domain::Page) -> Vec<i64> {
        p.rows
            .iter()
            .map(|r| match r.key[0] {
                Value::Integer(i) => i,
                _ => panic!("key"),
            })
            .collect()
    }

    #[tokio::test]
    async fn keyset_pages_walk_both_ways() {
        let (store, t) = numbers(25).await;
        let first = store
            .page(&t, &PageAnchor::First, 10, &RowFilter::All)
            .await
            .unwrap();
        assert_eq!(ids(&first), (1..=10).collect::<Vec<_>>());
        assert!(!first.has_before && first.has_after);
        let next = store
            .page(
                &t,
                &PageAnchor::After(first.rows[9].key.clone()),
                10,
                &RowFilter::All,
            )
            .await
            .unwrap();
        assert_eq!(ids(&next), (11..=20).collect::<Vec<_>>());
        let last = store
            .page(&t, &PageAnchor::Last, 10, &RowFilter::All)
            .await
            .unwrap();
        assert_eq!(ids(&last), (16..=25).collect::<Vec<_>>());
        assert!(last.has_before && !last.has_after);
        let prev = store
            .page(
                &t,
                &PageAnchor::Before(vec![Value::Integer(11)]),
                10,
                &RowFilter::All,
            )
            .await
            .unwrap();
        assert_eq!(ids(&prev), (1..=10).collect::<Vec<_>>());
        assert!(!prev.has_before && prev.has_after);
        // Values decode by storage class.
        assert_eq!(first.rows[1].values[1], Value::Text("row 2".into()));
        assert_eq!(first.rows[1].values[2], Value::Real(1.0));
        assert_eq!(first.rows[1].values[3], Value::Blob(vec![0, 255]));
        assert_eq!(first.rows[0].values[3], Value::Null);
    }

    #[tokio::test]
    async fn counts_are_capped() {
        let (store, t) = numbers(25).await;
        assert_eq!(
            store.count_rows(&t, &RowFilter::All).await.unwrap(),
            RowCount::Exact(25)
        );
        let (store, t) = numbers(10_050).await;
        assert_eq!(
            store.count_rows(&t, &RowFilter::All).await.unwrap(),
            RowCount::AtLeast(10_000)
        );
    }

    #[tokio::test]
    async fn granted_filter_keeps_exactly_the_granted_rows_across_pages() {
        use crate::store::{AuditEntry, NewUser, Principal};
        let (store, t) = numbers(100).await;
        let jane = store
            .create_user(&NewUser {
                username: "jane",
                password_hash: "h",
                is_superuser: false,
                totp_secret: None,
                must_change_password: false,
                now: 0,
            })
            .await
            .unwrap();
        let group = store
            .create_group("g", &[], 0, &AuditEntry::default())
            .await
            .unwrap();
        store
            .add_memberships(jane, &[group], &AuditEntry::default())
            .await
            .unwrap();
        for (to, code, pk) in [
            (Principal::User(jane), "view_n", "5"),
            (Principal::User(jane), "change_n", "50"),
            (Principal::Group(group), "view_n", "77"),
            (Principal::User(jane), "delete_n", "60"), // not a viewing permission
            (Principal::User(jane), "view_other", "6"), // another model
        ] {
            let model = code.split_once('_').unwrap().1;
            store
                .set_object_perm(to, code, model, pk, true, &AuditEntry::default())
                .await
                .unwrap();
        }
        let filter = RowFilter::Granted {
            user_id: jane,
            codenames: vec!["view_n".into(), "change_n".into()],
        };
        let p1 = store
            .page(&t, &PageAnchor::First, 2, &filter)
            .await
            .unwrap();
        assert_eq!(ids(&p1), vec![5, 50]);
        assert!(p1.has_after);
        let p2 = store
            .page(&t, &PageAnchor::After(p1.rows[1].key.clone()), 2, &filter)
            .await
            .unwrap();
        assert_eq!(ids(&p2), vec![77]);
        assert!(!p2.has_after);
        let last = store.page(&t, &PageAnchor::Last, 2, &filter).await.unwrap();
        assert_eq!(ids(&last), vec![50, 77]);
        assert_eq!(
            store.count_rows(&t, &filter).await.unwrap(),
            RowCount::Exact(3)
        );
    }

    #[tokio::test]
    async fn record_by_key() {
        let (store, t) = numbers(3).await;
        let r = store.record(&t, &[Value::Integer(2)]).await.unwrap();
        assert_eq!(r.fields[1].0.name, "label");
        assert_eq!(r.fields[1].1, Value::Text("row 2".into()));
        assert!(store.record(&t, &[Value::Integer(99)]).await.is_err());
    }
}
