//! Record queries: counts, keyset pages and single records of introspected tables.
//!
//! Lists page by key (`WHERE (k…) > (?…) ORDER BY k… LIMIT n`), never by OFFSET, so the
//! last page costs what the first does. Counts stop at [`sql::EXACT_COUNT_LIMIT`].

use super::bind::{bind_value, bind_value_scalar, decode_row};
use super::sql::{self, Column, Ident};
use super::{Store, StoreError};
use crate::domain::{
    FilterOp, ListRow, Listing, Page, PageAnchor, Record, RowCount, RowFilter, Sort, TableInfo,
    Value,
};

impl Store {
    /// Count the rows `listing` lets through, exactly up to [`sql::EXACT_COUNT_LIMIT`],
    /// else `AtLeast(limit)` — or, for a whole PostgreSQL table, `About(n)` from the
    /// planner's statistics (as fresh as the last ANALYZE or autovacuum).
    pub async fn count_rows(
        &self,
        table: &TableInfo,
        listing: &Listing,
    ) -> Result<RowCount, StoreError> {
        self.count_rows_up_to(table, listing, sql::EXACT_COUNT_LIMIT)
            .await
    }

    /// [`Store::count_rows`] counting exactly up to `limit` rows only (a record's related
    /// rows count to 1,000: a hot row must not cost a long count on every open).
    pub async fn count_rows_up_to(
        &self,
        table: &TableInfo,
        listing: &Listing,
        limit: u64,
    ) -> Result<RowCount, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Count);
        let keys = key_columns(table)?;
        let (conditions, binds) = narrowing(table, &keys, listing)?;
        let source = self.list_source(table, listing).await?;
        let q = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} {} LIMIT {}) AS n",
            source.from,
            where_clause(&conditions),
            limit + 1
        );
        let q = self.dialect.sql(&q);
        let mut query = sqlx::query_scalar(&q);
        for v in source.binds.iter().chain(&binds) {
            query = bind_value_scalar(query, v);
        }
        let n: i64 = query.fetch_one(&self.pool).await?;
        let n = u64::try_from(n).unwrap_or(0);
        if n <= limit {
            return Ok(RowCount::Exact(n));
        }
        if table.pg_name.is_some() && conditions.is_empty() {
            let estimate: i64 = sql::query_scalar(self.dialect, sql::PG_ESTIMATED_ROWS)
                .bind(Ident::table(table).as_str())
                .fetch_one(&self.pool)
                .await?;
            // Never analysed (-1), or statistics older than the rows counted just now.
            if let Ok(estimate) = u64::try_from(estimate) {
                if estimate > limit {
                    return Ok(RowCount::About(estimate));
                }
            }
        }
        Ok(RowCount::AtLeast(limit))
    }

    /// One page of up to `limit` rows of `table` that `listing` lets through, in its
    /// order (by key unless sorted), starting at `anchor` (a row's cursor).
    pub async fn page(
        &self,
        table: &TableInfo,
        anchor: &PageAnchor,
        limit: u32,
        listing: &Listing,
    ) -> Result<Page, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Page);
        let keys = key_columns(table)?;
        let order = Order::new(table, keys.clone(), listing.sort.as_ref())?;
        let cols = all_columns(table)?;
        // Aliased: PostgreSQL would take `ORDER BY "c"` for an output column named `c`,
        // and a column read as text would sort as text.
        let readers: Vec<&Column> = order.cursor.iter().chain(cols.iter()).collect();
        let nc = order.cursor.len();
        let select_list = readers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let read = if i < nc { c.cursor_read() } else { c.read() };
                format!("{read} AS r{i}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (mut conditions, mut binds) = narrowing(table, &keys, listing)?;
        let backwards = matches!(anchor, PageAnchor::Last | PageAnchor::Before(_));
        let position = match anchor {
            PageAnchor::First | PageAnchor::Last => None,
            PageAnchor::After(c) => Some(order.beyond(c, true, true)?),
            PageAnchor::From(c) => Some(order.beyond(c, true, false)?),
            PageAnchor::Before(c) => Some(order.beyond(c, false, true)?),
        };
        if let Some((condition, values)) = position {
            // Position first: its values are bound before the narrowing's.
            conditions.insert(0, condition);
            binds.splice(0..0, values);
        }
        let source = self.list_source(table, listing).await?;
        let q = format!(
            "SELECT {select_list} FROM {} {} ORDER BY {} LIMIT {}",
            source.from,
            where_clause(&conditions),
            order.order_by(backwards),
            u64::from(limit) + 1
        );
        let q = self.dialect.sql(&q);
        let mut query = sqlx::query(&q);
        for v in source.binds.iter().chain(&binds) {
            query = bind_value(query, v);
        }
        let fetched = query.fetch_all(&self.pool).await?;
        let more = fetched.len() > limit as usize;
        let key_at = order.key_offset();
        let mut rows: Vec<ListRow> = fetched
            .iter()
            .take(limit as usize)
            .map(|r| {
                let all = Column::fix_all(&readers, decode_row(r)?);
                Ok(ListRow {
                    key: all.get(key_at..nc).unwrap_or_default().to_vec(),
                    cursor: all.get(..nc).unwrap_or_default().to_vec(),
                    values: all.get(nc..).unwrap_or_default().to_vec(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        if backwards {
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
            search_path: source.path,
        })
    }

    /// The values of `table`'s columns in each row whose key (of one column) is one of
    /// `keys`, with that key: what a list shows for its foreign keys, a page's worth in one
    /// query. Rows not found are left out; a key of several columns finds nothing.
    pub async fn rows_by_key(
        &self,
        table: &TableInfo,
        keys: &[Value],
    ) -> Result<Vec<(Value, Vec<Value>)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        rows_by_key_on(&mut conn, table, keys).await
    }

    /// Where row `key` of `table` sits in the order of the list `listing` describes: its
    /// cursor (what a page anchor holds), or `None` when that list does not hold it —
    /// searched or filtered out, not visible to the user, or not there at all (the caller
    /// cannot tell which, and says so).
    pub async fn locate(
        &self,
        table: &TableInfo,
        key: &[Value],
        listing: &Listing,
    ) -> Result<Option<Vec<Value>>, StoreError> {
        let keys = key_columns(table)?;
        if key.len() != keys.len() {
            return Ok(None);
        }
        let order = Order::new(table, keys.clone(), listing.sort.as_ref())?;
        let readers: Vec<&Column> = order.cursor.iter().collect();
        let select_list = readers
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} AS r{i}", c.cursor_read()))
            .collect::<Vec<_>>()
            .join(", ");
        let (mut conditions, mut binds) = narrowing(table, &keys, listing)?;
        conditions.insert(
            0,
            format!("{} = {}", sql::column_tuple(&keys), sql::slot_tuple(&keys)),
        );
        binds.splice(0..0, Column::args(&keys, key));
        let source = self.list_source(table, listing).await?;
        let q = format!(
            "SELECT {select_list} FROM {} {} LIMIT 1",
            source.from,
            where_clause(&conditions)
        );
        let q = self.dialect.sql(&q);
        let mut query = sqlx::query(&q);
        for v in source.binds.iter().chain(&binds) {
            query = bind_value(query, v);
        }
        match query.fetch_optional(&self.pool).await? {
            Some(row) => Ok(Some(Column::fix_all(&readers, decode_row(&row)?))),
            None => Ok(None),
        }
    }

    /// The most common values of `column` among the rows `listing` lets through, with
    /// their counts (up to `limit`, most frequent first).
    pub async fn distinct_values(
        &self,
        table: &TableInfo,
        column: &str,
        listing: &Listing,
        limit: u32,
    ) -> Result<Vec<(Value, u64)>, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Distinct);
        let keys = key_columns(table)?;
        let col = table
            .column(column)
            .and_then(|c| Column::of(table, &c.name))
            .ok_or_else(|| {
                StoreError::NotFound(format!("{} has no column {column}", table.name))
            })?;
        let (conditions, binds) = narrowing(table, &keys, listing)?;
        let (read, reader, col) = (col.read(), col.clone(), col.ident);
        let source = self.list_source(table, listing).await?;
        let q = format!(
            "SELECT {read} AS r0, COUNT(*) FROM {} {} GROUP BY {col} ORDER BY COUNT(*) DESC, {col} LIMIT {limit}",
            source.from,
            where_clause(&conditions),
        );
        let q = self.dialect.sql(&q);
        let mut query = sqlx::query(&q);
        for v in source.binds.iter().chain(&binds) {
            query = bind_value(query, v);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let values = decode_row(r)?;
                let value = reader.fix(values.first().cloned().unwrap_or(Value::Null));
                let count = match values.get(1) {
                    Some(Value::Integer(n)) => u64::try_from(*n).unwrap_or(0),
                    _ => 0,
                };
                Ok((value, count))
            })
            .collect()
    }

    /// The record of `table` whose key columns equal `key`.
    pub async fn record(&self, table: &TableInfo, key: &[Value]) -> Result<Record, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Record);
        let mut conn = self.pool.acquire().await?;
        record_on(&mut conn, table, key).await
    }
}

/// [`Store::record`] on a given connection (inside a transaction, for instance).
pub(crate) async fn record_on(
    conn: &mut sqlx::AnyConnection,
    table: &TableInfo,
    key: &[Value],
) -> Result<Record, StoreError> {
    let keys = key_columns(table)?;
    if key.len() != keys.len() {
        return Err(StoreError::NotFound(
            "record key does not match the table".into(),
        ));
    }
    let columns = all_columns(table)?;
    let select_list = columns
        .iter()
        .map(Column::read)
        .collect::<Vec<_>>()
        .join(", ");
    let q = format!(
        "SELECT {select_list} FROM {} WHERE {} = {}",
        Ident::table(table),
        sql::column_tuple(&keys),
        sql::slot_tuple(&keys)
    );
    let q = sql::Dialect::of_conn(conn).sql(&q);
    let args = Column::args(&keys, key);
    let mut query = sqlx::query(&q);
    for v in &args {
        query = bind_value(query, v);
    }
    let row = query
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no such row in {}", table.name)))?;
    let readers: Vec<&Column> = columns.iter().collect();
    let values = Column::fix_all(&readers, decode_row(&row)?);
    Ok(Record {
        key: key.to_vec(),
        fields: table.columns.iter().cloned().zip(values).collect(),
    })
}

/// [`Store::rows_by_key`] on `conn` (inside the caller's transaction, for a delete).
pub(super) async fn rows_by_key_on(
    conn: &mut sqlx::AnyConnection,
    table: &TableInfo,
    keys: &[Value],
) -> Result<Vec<(Value, Vec<Value>)>, StoreError> {
    let key_cols = key_columns(table)?;
    let [key_col] = key_cols.as_slice() else {
        return Ok(Vec::new());
    };
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let columns = all_columns(table)?;
    let readers: Vec<&Column> = std::iter::once(key_col).chain(columns.iter()).collect();
    let select_list = readers
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} AS r{i}", c.read()))
        .collect::<Vec<_>>()
        .join(", ");
    let slots = vec![key_col.slot(); keys.len()].join(", ");
    let q = format!(
        "SELECT {select_list} FROM {} WHERE {} IN ({slots})",
        Ident::table(table),
        key_col.ident
    );
    let q = sql::Dialect::of_conn(conn).sql(&q);
    let args: Vec<Value> = keys.iter().map(|k| key_col.arg(k)).collect();
    let mut query = sql::query_of_list(sql::Dialect::of_conn(conn), &q);
    for v in &args {
        query = bind_value(query, v);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let all = Column::fix_all(&readers, decode_row(r)?);
            let (key, values) = all
                .split_first()
                .ok_or_else(|| StoreError::NotFound("an empty row".into()))?;
            Ok((key.clone(), values.to_vec()))
        })
        .collect()
}

/// `WHERE a AND b …` (or nothing).
pub(super) fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// The conditions (and their values, in order) that narrow a list: the object-permission
/// filter and the search.
pub(super) fn narrowing(
    table: &TableInfo,
    keys: &[Column],
    listing: &Listing,
) -> Result<(Vec<String>, Vec<Value>), StoreError> {
    let pg = table.pg_name.is_some();
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let RowFilter::Granted { user_id, codenames } = &listing.filter {
        let [key] = keys else {
            return Err(StoreError::NotFound(format!(
                "object permissions on {} need a single-column key",
                table.name
            )));
        };
        // Object permissions store keys as text: compare the key's text form (on
        // SQLite the key column's affinity converts the stored text instead).
        let codes = sql::placeholders(codenames.len());
        let key = key.text();
        conditions.push(format!(
            "{key} IN (SELECT pk FROM moat_user_object_perms \
               WHERE user_id = ? AND model = ? AND codename IN {codes} \
             UNION SELECT pk FROM moat_group_object_perms \
               WHERE model = ? AND codename IN {codes} AND group_id IN ({}))",
            sql::user_groups!()
        ));
        binds.push(Value::Integer(*user_id));
        binds.push(Value::Text(table.name.clone()));
        binds.extend(codenames.iter().cloned().map(Value::Text));
        binds.push(Value::Text(table.name.clone()));
        binds.extend(codenames.iter().cloned().map(Value::Text));
        binds.push(Value::Integer(*user_id));
    }
    if let Some((term, columns)) = &listing.search {
        let idents: Vec<String> = columns
            .iter()
            .filter_map(|c| table.column(c).and_then(|c| Column::of(table, &c.name)))
            .map(|c| c.text())
            .collect();
        if let Some(prefix) = term.strip_prefix('^') {
            // A range on the first column: an index on it makes this a seek.
            if let Some(first) = idents.first() {
                conditions.push(format!("{first} >= ? AND {first} < ?"));
                binds.push(Value::Text(prefix.to_string()));
                binds.push(Value::Text(format!("{prefix}\u{10FFFF}")));
            }
        } else if !idents.is_empty() {
            // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE ignores all case.
            let like = if pg { "ILIKE" } else { "LIKE" };
            conditions.push(sql::contains_any(&idents, like));
            let pattern = sql::contains_pattern(term);
            binds.extend(idents.iter().map(|_| Value::Text(pattern.clone())));
        }
    }
    for f in &listing.filters {
        let Some(col) = table
            .column(&f.column)
            .and_then(|c| Column::of(table, &c.name))
        else {
            return Err(StoreError::NotFound(format!(
                "{} has no column {}",
                table.name, f.column
            )));
        };
        match &f.op {
            FilterOp::Equals(Value::Null) => conditions.push(format!("{} IS NULL", col.ident)),
            FilterOp::Equals(v) => {
                conditions.push(format!("{} = {}", col.ident, col.slot()));
                binds.push(col.arg(v));
            }
            FilterOp::Range { from, to } => {
                if let Some(v) = from {
                    conditions.push(format!("{} >= {}", col.ident, col.slot()));
                    binds.push(col.arg(v));
                }
                if let Some(v) = to {
                    conditions.push(format!("{} < {}", col.ident, col.slot()));
                    binds.push(col.arg(v));
                }
            }
        }
    }
    Ok((conditions, binds))
}

/// A list's ordering: the key, or one column and then the key. A nullable sort column
/// is ordered NULLs first and compared NULL-safely.
struct Order {
    /// What a row's cursor holds: [sort column,] key columns.
    cursor: Vec<Column>,
    sorted: bool,
    nullable: bool,
    descending: bool,
}

impl Order {
    fn new(table: &TableInfo, keys: Vec<Column>, sort: Option<&Sort>) -> Result<Order, StoreError> {
        let Some(sort) = sort else {
            return Ok(Order {
                cursor: keys,
                sorted: false,
                nullable: false,
                descending: false,
            });
        };
        let missing =
            || StoreError::NotFound(format!("{} has no column {}", table.name, sort.column));
        let col = table.column(&sort.column).ok_or_else(missing)?;
        let mut cursor = vec![Column::of(table, &col.name).ok_or_else(missing)?];
        cursor.extend(keys);
        Ok(Order {
            cursor,
            sorted: true,
            nullable: !col.not_null && col.pk_ordinal == 0,
            descending: sort.descending,
        })
    }

    fn key_offset(&self) -> usize {
        usize::from(self.sorted)
    }

    fn keys(&self) -> &[Column] {
        &self.cursor[self.key_offset()..]
    }

    /// `ORDER BY …`, in the list's direction (or against it, for pages read backwards).
    fn order_by(&self, backwards: bool) -> String {
        let dir = if self.descending != backwards {
            " DESC"
        } else {
            ""
        };
        let mut parts = Vec::new();
        if self.sorted && self.nullable {
            parts.push(format!("({} IS NOT NULL){dir}", self.cursor[0].ident));
        }
        parts.extend(self.cursor.iter().map(|c| format!("{}{dir}", c.ident)));
        parts.join(", ")
    }

    /// The condition for rows past `cursor` — `forward` in the list's order or against
    /// it; `strict` excludes the cursor's row itself.
    fn beyond(
        &self,
        cursor: &[Value],
        forward: bool,
        strict: bool,
    ) -> Result<(String, Vec<Value>), StoreError> {
        if cursor.len() != self.cursor.len() {
            return Err(StoreError::NotFound(
                "page anchor does not match the order".into(),
            ));
        }
        let up = forward != self.descending;
        let op = match (up, strict) {
            (true, true) => ">",
            (true, false) => ">=",
            (false, true) => "<",
            (false, false) => "<=",
        };
        if !(self.sorted && self.nullable) {
            let condition = format!(
                "{} {op} {}",
                sql::column_tuple(&self.cursor),
                sql::slot_tuple(&self.cursor)
            );
            return Ok((condition, Column::args(&self.cursor, cursor)));
        }
        // NULL-safe: first by NULL-ness (as 0 or 1), then by value (equal when both are
        // NULL or both are the same value), then by key.
        let (c, slot) = (&self.cursor[0].ident, self.cursor[0].slot());
        let strict_op = if up { ">" } else { "<" };
        let keys = self.keys();
        let set = format!("CASE WHEN {c} IS NULL THEN 0 ELSE 1 END");
        let condition = format!(
            "(({set}) {strict_op} ? OR (({set}) = ? AND \
              ({c} {strict_op} {slot} OR ((({c} IS NULL) AND ({slot} IS NULL) OR {c} = {slot}) \
               AND {} {op} {}))))",
            sql::column_tuple(keys),
            sql::slot_tuple(keys)
        );
        let not_null = Value::Integer(i64::from(!cursor[0].is_null()));
        let at = self.cursor[0].arg(&cursor[0]);
        let mut values = vec![not_null.clone(), not_null, at.clone(), at.clone(), at];
        values.extend(Column::args(keys, &cursor[1..]));
        Ok((condition, values))
    }
}

/// The columns that identify a row of `table` (see [`TableInfo::key_columns`]).
pub(super) fn key_columns(table: &TableInfo) -> Result<Vec<Column>, StoreError> {
    let names = table.key_columns();
    if names.is_empty() {
        return Err(StoreError::NotFound(format!(
            "{} has no primary key, so its rows cannot be told apart",
            table.name
        )));
    }
    names
        .iter()
        .map(|k| {
            Column::of(table, k)
                .ok_or_else(|| StoreError::NotFound(format!("key column {k} of {}", table.name)))
        })
        .collect()
}

/// Every column of `table`, in order.
fn all_columns(table: &TableInfo) -> Result<Vec<Column>, StoreError> {
    table
        .columns
        .iter()
        .map(|c| {
            Column::of(table, &c.name)
                .ok_or_else(|| StoreError::NotFound(format!("column {} of {}", c.name, table.name)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::domain::{Listing, PageAnchor, RowCount, RowFilter, Sort, Value};
    use crate::store::test_support::on_every_database;
    use crate::store::{Dialect, Store};

    /// Table `n` with rows 1..=`n`: a label, a score of i / 2 and bytes on even rows.
    async fn numbers(store: Store, n: i64) -> (Store, crate::domain::TableInfo) {
        let (blob, bytes) = match store.dialect() {
            Dialect::Sqlite | Dialect::Mysql => ("BLOB", "x'00ff'"),
            Dialect::Postgres => ("BYTEA", "decode('00ff', 'hex')"),
        };
        crate::store::test_support::create_tables(
            &store,
            &format!("CREATE TABLE n (id INTEGER PRIMARY KEY, label TEXT, score REAL, raw {blob})"),
        )
        .await;
        add_numbers(&store, 1, n, bytes).await;
        let table = store
            .introspect()
            .await
            .unwrap()
            .table("n")
            .unwrap()
            .clone();
        (store, table)
    }

    async fn add_numbers(store: &Store, from: i64, to: i64, bytes: &str) {
        // MariaDB stops a recursive query after 1,000 rounds unless told otherwise.
        let rounds = if store.dialect() == Dialect::Mysql {
            "SET SESSION max_recursive_iterations = 1000000; "
        } else {
            ""
        };
        sqlx::raw_sql(&format!(
            "{rounds}INSERT INTO n SELECT i, 'row ' || i, i / 2.0, \
                 CASE WHEN i % 2 = 0 THEN {bytes} END \
             FROM (WITH RECURSIVE s(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM s WHERE i < {to}) \
                   SELECT i FROM s) AS s"
        ))
        .execute(store.pool())
        .await
        .unwrap();
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

    on_every_database! {
        async fn keyset_pages_walk_both_ways(store: Store) {
            let (store, t) = numbers(store, 25).await;
            let first = store
                .page(&t, &PageAnchor::First, 10, &Listing::all())
                .await
                .unwrap();
            assert_eq!(ids(&first), (1..=10).collect::<Vec<_>>());
            assert!(!first.has_before && first.has_after);
            let next = store
                .page(
                    &t,
                    &PageAnchor::After(first.rows[9].key.clone()),
                    10,
                    &Listing::all(),
                )
                .await
                .unwrap();
            assert_eq!(ids(&next), (11..=20).collect::<Vec<_>>());
            let last = store
                .page(&t, &PageAnchor::Last, 10, &Listing::all())
                .await
                .unwrap();
            assert_eq!(ids(&last), (16..=25).collect::<Vec<_>>());
            assert!(last.has_before && !last.has_after);
            let prev = store
                .page(
                    &t,
                    &PageAnchor::Before(vec![Value::Integer(11)]),
                    10,
                    &Listing::all(),
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
    }

    on_every_database! {
        async fn counts_are_capped(store: Store) {
            let (store, t) = numbers(store, 25).await;
            assert_eq!(
                store.count_rows(&t, &Listing::all()).await.unwrap(),
                RowCount::Exact(25)
            );
            let bytes = if store.dialect() == Dialect::Postgres { "decode('00ff', 'hex')" } else { "x'00ff'" };
            add_numbers(&store, 26, 10_050, bytes).await;
            if store.dialect() != Dialect::Postgres {
                assert_eq!(
                    store.count_rows(&t, &Listing::all()).await.unwrap(),
                    RowCount::AtLeast(10_000)
                );
            } else {
                sqlx::raw_sql("ANALYZE public.n").execute(store.pool()).await.unwrap();
                assert_eq!(
                    store.count_rows(&t, &Listing::all()).await.unwrap(),
                    RowCount::About(10_050),
                    "a whole big table: the planner's estimate"
                );
            }
            let some = Listing {
                search: Some(("row".into(), vec!["label".into()])),
                ..Listing::all()
            };
            assert_eq!(
                store.count_rows(&t, &some).await.unwrap(),
                RowCount::AtLeast(10_000),
                "a narrowed list is never estimated"
            );
        }
    }

    on_every_database! {
        async fn granted_filter_keeps_exactly_the_granted_rows_across_pages(store: Store) {
            use crate::store::{AuditEntry, Principal};
            let (store, t) = numbers(store, 100).await;
            let jane = crate::store::test_support::plain_user(&store, "jane").await;
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
            let filter = Listing {
                filter: RowFilter::Granted {
                    user_id: jane,
                    codenames: vec!["view_n".into(), "change_n".into()],
                },
                ..Listing::all()
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
    }

    on_every_database! {
        async fn sorted_keyset_pages_cover_every_row_once_nulls_included(store: Store) {
            let (store, t) = numbers(store, 37).await;
            // `raw` is NULL on odd rows; `score` is i / 2.0 (ties between neighbours).
            for (column, descending) in [
                ("raw", false),
                ("raw", true),
                ("score", false),
                ("score", true),
            ] {
                let listing = Listing {
                    sort: Some(Sort {
                        column: column.into(),
                        descending,
                    }),
                    ..Listing::all()
                };
                let mut seen = Vec::new();
                let mut page = store
                    .page(&t, &PageAnchor::First, 5, &listing)
                    .await
                    .unwrap();
                loop {
                    seen.extend(ids(&page));
                    if !page.has_after {
                        break;
                    }
                    let cursor = page.rows.last().unwrap().cursor.clone();
                    page = store
                        .page(&t, &PageAnchor::After(cursor), 5, &listing)
                        .await
                        .unwrap();
                }
                let mut sorted = seen.clone();
                sorted.sort();
                assert_eq!(
                    sorted,
                    (1..=37).collect::<Vec<_>>(),
                    "{column} desc={descending}: {seen:?}"
                );
                // And backwards from the end, the same order reversed.
                let mut back = Vec::new();
                let mut page = store
                    .page(&t, &PageAnchor::Last, 5, &listing)
                    .await
                    .unwrap();
                loop {
                    let mut ids_here = ids(&page);
                    ids_here.reverse();
                    back.extend(ids_here);
                    if !page.has_before {
                        break;
                    }
                    let cursor = page.rows.first().unwrap().cursor.clone();
                    page = store
                        .page(&t, &PageAnchor::Before(cursor), 5, &listing)
                        .await
                        .unwrap();
                }
                back.reverse();
                assert_eq!(back, seen, "{column} desc={descending}");
            }
            // Search is bound, LIKE wildcards in the term are literal.
            let listing = Listing {
                search: Some(("row 1_".into(), vec!["label".into()])),
                ..Listing::all()
            };
            assert_eq!(
                store.count_rows(&t, &listing).await.unwrap(),
                RowCount::Exact(0)
            );
            let listing = Listing {
                search: Some(("ROW 3".into(), vec!["label".into()])),
                ..Listing::all()
            };
            assert_eq!(
                store.count_rows(&t, &listing).await.unwrap(),
                RowCount::Exact(9)
            );
        }
    }

    on_every_database! {
        async fn record_by_key(store: Store) {
            let (store, t) = numbers(store, 3).await;
            let r = store.record(&t, &[Value::Integer(2)]).await.unwrap();
            assert_eq!(r.fields[1].0.name, "label");
            assert_eq!(r.fields[1].1, Value::Text("row 2".into()));
            assert!(store.record(&t, &[Value::Integer(99)]).await.is_err());
        }
    }
}
