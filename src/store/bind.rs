//! Binding values to queries and decoding rows into values: the lowest layer of the store
//! after [`super::sql`], imported by the files that run record queries and by the audit
//! trail (filters bind values too).

use sqlx::any::AnyRow;
use sqlx::{Row, TypeInfo, ValueRef};

use super::StoreError;
use crate::domain::Value;

type Query<'q> = sqlx::query::Query<'q, sqlx::any::Any, sqlx::any::AnyArguments<'q>>;

/// `q` with `v` bound as its next parameter.
pub(crate) fn bind_value<'q>(q: Query<'q>, v: &'q Value) -> Query<'q> {
    match v {
        // A NULL is typed text, like every value bound to a PostgreSQL slot.
        Value::Null => q.bind(None::<String>),
        Value::Integer(i) => q.bind(*i),
        Value::Real(r) => q.bind(*r),
        Value::Text(s) => q.bind(s.as_str()),
        Value::Blob(b) => q.bind(b.as_slice()),
    }
}

type ScalarQuery<'q> =
    sqlx::query::QueryScalar<'q, sqlx::any::Any, i64, sqlx::any::AnyArguments<'q>>;

/// [`bind_value`] for a query that reads one integer.
pub(crate) fn bind_value_scalar<'q>(q: ScalarQuery<'q>, v: &'q Value) -> ScalarQuery<'q> {
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Integer(i) => q.bind(*i),
        Value::Real(r) => q.bind(*r),
        Value::Text(s) => q.bind(s.as_str()),
        Value::Blob(b) => q.bind(b.as_slice()),
    }
}

/// Decode every column of a row by the value's own type (not the column's declared type:
/// SQLite lets a `BOOLEAN` column hold text). A PostgreSQL boolean reads as 0 or 1, as
/// SQLite stores it; types without a native reading arrive as text (see [`Column::read`]).
pub(crate) fn decode_row(row: &AnyRow) -> Result<Vec<Value>, StoreError> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            Ok(match raw.type_info().name() {
                "BOOLEAN" => Value::Integer(i64::from(row.try_get_unchecked::<bool, _>(i)?)),
                "SMALLINT" | "INTEGER" | "BIGINT" => Value::Integer(row.try_get_unchecked(i)?),
                "REAL" | "DOUBLE" => Value::Real(row.try_get_unchecked(i)?),
                "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
                _ => Value::Text(row.try_get_unchecked(i)?),
            })
        })
        .collect()
}

/// A value as audit JSON (blobs as their size and hex).
pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(r) => serde_json::Number::from_f64(*r)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => s.clone().into(),
        Value::Blob(b) => format!(
            "<{} bytes> {}",
            b.len(),
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )
        .into(),
    }
}
