//! "Mark all matching": the keys of every row a list lets through, read with the list's
//! own narrowing (object permissions, search, filters), a page of keys at a time by key.

use super::bind::{bind_value, decode_row};
use super::records::{key_columns, narrowing, where_clause};
use super::sql::{self, Column};
use super::{Store, StoreError};
use crate::domain::{Listing, TableInfo, Value};

/// Keys read per query.
const KEYS_PER_PAGE: u64 = 1_000;

impl Store {
    /// The keys of the rows of `table` that `listing` lets through, in key order — or
    /// `None` if more than `max` do (then none are returned). Pages by key (no OFFSET),
    /// reading only the key columns.
    pub async fn matching_keys(
        &self,
        table: &TableInfo,
        listing: &Listing,
        max: u64,
    ) -> Result<Option<Vec<Vec<Value>>>, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Page);
        let keys = key_columns(table)?;
        let (conditions, binds) = narrowing(table, &keys, listing)?;
        let source = self.list_source(table, listing).await?;
        let readers: Vec<&Column> = keys.iter().collect();
        // Read as a list reads its rows' keys, so a marked key equals the row's key there.
        let select_list = keys
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} AS r{i}", c.cursor_read()))
            .collect::<Vec<_>>()
            .join(", ");
        let order = keys
            .iter()
            .map(|c| c.ident.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut found: Vec<Vec<Value>> = Vec::new();
        loop {
            let mut conditions = conditions.clone();
            let mut position = Vec::new();
            if let Some(last) = found.last() {
                conditions.insert(
                    0,
                    format!("{} > {}", sql::column_tuple(&keys), sql::slot_tuple(&keys)),
                );
                position = Column::args(&keys, last);
            }
            let q = format!(
                "SELECT {select_list} FROM {} {} ORDER BY {order} LIMIT {KEYS_PER_PAGE}",
                source.from,
                where_clause(&conditions),
            );
            let q = self.dialect.sql(&q);
            let mut query = sqlx::query(&q);
            for v in source.binds.iter().chain(&position).chain(&binds) {
                query = bind_value(query, v);
            }
            let rows = query.fetch_all(&self.pool).await?;
            let n = rows.len() as u64;
            for r in &rows {
                found.push(Column::fix_all(&readers, decode_row(r)?));
            }
            if found.len() as u64 > max {
                return Ok(None);
            }
            if n < KEYS_PER_PAGE {
                return Ok(Some(found));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{Filter, FilterOp, Listing, RowFilter, Value};
    use crate::store::test_support::on_every_database;

    on_every_database! {
        async fn matching_keys_follow_the_lists_narrowing_and_the_bound(store: Store) {
            crate::store::test_support::create_tables(
                &store,
                "CREATE TABLE m (id INTEGER PRIMARY KEY, label TEXT, grp INTEGER)",
            )
            .await;
            // 2,500 rows: more than two pages of keys.
            for chunk in 0..5 {
                let values: Vec<String> = (1..=500)
                    .map(|i| {
                        let id = chunk * 500 + i;
                        let label = if id % 100 == 0 { "zebra" } else { "plain" };
                        format!("({id}, '{label} {id}', {})", id % 3)
                    })
                    .collect();
                sqlx::raw_sql(&format!("INSERT INTO m VALUES {}", values.join(", ")))
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
            let t = store.introspect().await.unwrap().table("m").unwrap().clone();
            let ids = |keys: Vec<Vec<Value>>| -> Vec<i64> {
                keys.into_iter()
                    .map(|k| match k.as_slice() {
                        [Value::Integer(i)] => *i,
                        other => panic!("{other:?}"),
                    })
                    .collect()
            };
            let all = store.matching_keys(&t, &Listing::all(), 10_000).await.unwrap();
            assert_eq!(ids(all.unwrap()), (1..=2500).collect::<Vec<_>>());
            // Over the bound: nothing.
            assert_eq!(store.matching_keys(&t, &Listing::all(), 2499).await.unwrap(), None);
            // A search and a filter narrow it as the list does.
            let listing = Listing {
                search: Some(("zeb".into(), vec!["label".into()])),
                filters: vec![Filter {
                    column: "grp".into(),
                    op: FilterOp::Equals(Value::Integer(1)),
                }],
                ..Listing::all()
            };
            let some = store.matching_keys(&t, &listing, 10).await.unwrap().unwrap();
            assert_eq!(ids(some), [100, 400, 700, 1000, 1300, 1600, 1900, 2200, 2500]);
            // Object permissions: only the rows granted (user 1 holds none here).
            let granted = Listing {
                filter: RowFilter::Granted {
                    user_id: 1,
                    codenames: vec!["view_m".into()],
                },
                ..Listing::all()
            };
            let none = store.matching_keys(&t, &granted, 10).await.unwrap().unwrap();
            assert!(none.is_empty());
        }
    }
}
