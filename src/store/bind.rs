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

/// A value read back from audit JSON ([`value_json`]'s inverse) for a column of `kind`:
/// integers, reals, text and NULL as they were; a blob column's `<N bytes> hex` as its
/// bytes. `None` for what [`value_json`] never writes (an array, an object, a blob text
/// whose size and hex disagree): such an entry is not written back.
pub fn json_value(j: &serde_json::Value, kind: crate::domain::ColumnKind) -> Option<Value> {
    use serde_json::Value as J;
    Some(match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Integer(i64::from(*b)),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64()?),
        },
        J::String(s) if kind == crate::domain::ColumnKind::Blob => Value::Blob(blob_of(s)?),
        J::String(s) => Value::Text(s.clone()),
        J::Array(_) | J::Object(_) => return None,
    })
}

/// The bytes of `<N bytes> 0a0b…` (as [`value_json`] writes a blob).
fn blob_of(s: &str) -> Option<Vec<u8>> {
    let rest = s.strip_prefix('<')?;
    let (n, hex) = rest.split_once(" bytes>")?;
    let n: usize = n.parse().ok()?;
    let hex = hex.strip_prefix(' ').unwrap_or(hex);
    if hex.len() != 2 * n || !hex.is_ascii() {
        return None;
    }
    (0..n)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
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

#[cfg(test)]
mod json_tests {
    use super::*;
    use crate::domain::ColumnKind;

    #[test]
    fn values_come_back_from_audit_json_as_they_were() {
        let cases = [
            (Value::Null, ColumnKind::Text),
            (Value::Integer(0), ColumnKind::Integer),
            (Value::Integer(i64::MIN), ColumnKind::Integer),
            (Value::Integer(i64::MAX), ColumnKind::Integer),
            (Value::Real(2.0), ColumnKind::Real),
            (Value::Real(-0.1), ColumnKind::Real),
            (Value::Real(1e300), ColumnKind::Real),
            (Value::Text("".into()), ColumnKind::Text),
            (Value::Text("42".into()), ColumnKind::Text),
            (Value::Text("a \"q\" \u{1b}[31m ✓".into()), ColumnKind::Text),
            // Text that looks like a blob stays text in a text column.
            (Value::Text("<1 bytes> 00".into()), ColumnKind::Text),
            (Value::Blob(vec![]), ColumnKind::Blob),
            (Value::Blob(vec![0, 0xff, 0x10]), ColumnKind::Blob),
        ];
        for (v, kind) in cases {
            // Through the stored text, as the audit log keeps it.
            let stored = value_json(&v).to_string();
            let parsed: serde_json::Value = serde_json::from_str(&stored).unwrap();
            assert_eq!(json_value(&parsed, kind), Some(v.clone()), "{stored}");
        }
    }

    #[test]
    fn what_value_json_never_writes_is_not_read_back() {
        let j = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
        assert_eq!(json_value(&j("[1]"), ColumnKind::Text), None);
        assert_eq!(json_value(&j(r#"{"a":1}"#), ColumnKind::Text), None);
        assert_eq!(json_value(&j(r#""<2 bytes> 00""#), ColumnKind::Blob), None);
        assert_eq!(json_value(&j(r#""<1 bytes> zz""#), ColumnKind::Blob), None);
        assert_eq!(json_value(&j(r#""plain""#), ColumnKind::Blob), None);
        assert_eq!(
            json_value(&j("true"), ColumnKind::Boolean),
            Some(Value::Integer(1))
        );
    }
}
