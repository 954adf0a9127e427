//! Creating and changing records, each in one transaction with its audit row.
//!
//! A change is saved only if the row still holds what the form was opened with (checked
//! inside the write transaction, so nothing can slip in between); otherwise the caller
//! gets the row as it is now, to show a conflict. A constraint the database refuses
//! comes back in plain words naming the column, and nothing is half-saved.

use super::audit::{append, AuditEntry};
use super::batch::update_batched;
use super::bind::{bind_value, decode_row, value_json};
use super::delete::Path;
use super::records::{key_columns, record_on};
use super::sql::{self, Column, Ident};
use super::{Store, StoreError};
use crate::domain::{Schema, TableInfo, Value};

/// What a save did.
#[derive(Clone, Debug, PartialEq)]
pub enum SaveOutcome {
    /// Saved; the row's key.
    Saved(Vec<Value>),
    /// The row changed since it was opened: nothing saved; the row now, by column.
    Conflict(Vec<(String, Value)>),
    /// Nothing differed from the row as it is.
    Unchanged,
}

/// The columns of `table` that `names` name.
fn columns(table: &TableInfo, names: &[(String, Value)]) -> Result<Vec<Column>, StoreError> {
    names
        .iter()
        .map(|(n, _)| {
            table
                .column(n)
                .and_then(|c| Column::of(table, &c.name))
                .ok_or_else(|| StoreError::NotFound(format!("{} has no column {n}", table.name)))
        })
        .collect()
}

/// `UPDATE table SET <changed columns> WHERE <key> = (?, …)`, identifiers from the
/// schema, with the columns its placeholders stand for (changed ones, then the key).
struct Update {
    /// The table's name, for messages.
    table: String,
    sql: String,
    slots: Vec<Column>,
}

impl Update {
    fn new(table: &TableInfo, changes: &[(String, Value)]) -> Result<Update, StoreError> {
        let mut slots = columns(table, changes)?;
        let set = slots
            .iter()
            .map(|c| format!("{} = {}", c.ident, c.slot()))
            .collect::<Vec<_>>()
            .join(", ");
        let keys = key_columns(table)?;
        let sql = sql::Dialect::of_table(table).sql(&format!(
            "UPDATE {} SET {set} WHERE {} = {}",
            Ident::table(table),
            sql::column_tuple(&keys),
            sql::slot_tuple(&keys)
        ));
        slots.extend(keys);
        Ok(Update {
            table: table.name.clone(),
            sql,
            slots,
        })
    }

    /// Run it on row `key`, setting `changes` (the ones it was made for).
    async fn run(
        &self,
        tx: &mut sqlx::AnyConnection,
        changes: &[(String, Value)],
        key: &[Value],
    ) -> Result<(), StoreError> {
        let values: Vec<Value> = changes
            .iter()
            .map(|(_, v)| v.clone())
            .chain(key.iter().cloned())
            .collect();
        let args = Column::args(&self.slots, &values);
        let mut query = sqlx::query(&self.sql);
        for v in &args {
            query = bind_value(query, v);
        }
        query
            .execute(tx)
            .await
            .map_err(|e| refused_in(&self.table, e))?;
        Ok(())
    }
}

/// A constraint or input error in words naming `table.column`, as SQLite's messages do.
pub(super) fn refused_in(table: &str, e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            if let Some(words) = mysql_words(table, my) {
                return StoreError::Constraint(words);
            }
        }
    }
    refused(e)
}

/// MySQL/MariaDB's refusal of a write to `table`, told by error number, in the words the
/// other databases get (its messages name the column or key between quotes).
fn mysql_words(table: &str, my: &sqlx::mysql::MySqlDatabaseError) -> Option<String> {
    let msg = my.message();
    // The first name quoted with ' or ` in the message, without a `table.` prefix.
    let quoted = |q: char| {
        msg.split(q)
            .nth(1)
            .map(|n| n.rsplit('.').next().unwrap_or(n).to_string())
            .unwrap_or_default()
    };
    Some(match my.number() {
        // Column 'name' cannot be null; Field 'name' doesn't have a default value.
        1048 | 1364 => format!("{table}.{} must have a value", quoted('\'')),
        // Duplicate entry 'b' for key 'name'.
        1062 => {
            let key = msg
                .rsplit("for key '")
                .next()
                .map(|k| k.trim_end_matches('\''))
                .map(|k| k.rsplit('.').next().unwrap_or(k))
                .unwrap_or_default();
            format!("another row already has this {table}.{key}")
        }
        // CONSTRAINT `score` failed for `db`.`t` (MariaDB 4025, MySQL 3819).
        4025 | 3819 => format!("the value breaks a rule of the table ({})", quoted('`')),
        1452 | 1216 => "it refers to a row that does not exist".to_string(),
        // Bad data: a date, a number out of range, too long, not an enum value.
        1264 | 1265 | 1292 | 1366 | 1406 | 1367 | 3140 => {
            format!("a value is not valid for its column: {msg}")
        }
        _ if my.code().is_some_and(|c| c.starts_with("22")) => {
            format!("a value is not valid for its column: {msg}")
        }
        _ => return None,
    })
}

fn refused(e: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &e else {
        return e.into();
    };
    let msg = db.message();
    // PostgreSQL: told by SQLSTATE, named like SQLite's (`table.column`) where it can be.
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let table = pg.table().unwrap_or("");
        let words = match pg.code() {
            "23502" => format!("{table}.{} must have a value", pg.column().unwrap_or("")),
            "23505" => {
                // "Key (name)=(b) already exists."
                let columns = pg
                    .detail()
                    .and_then(|d| d.strip_prefix("Key ("))
                    .and_then(|d| d.split_once(")="))
                    .map_or("", |(c, _)| c);
                format!("another row already has this {table}.{columns}")
            }
            "23514" => format!(
                "the value breaks a rule of the table ({})",
                pg.constraint().unwrap_or("")
            ),
            "23503" => "it refers to a row that does not exist".to_string(),
            // Class 22 is bad data: the syntax of a uuid, a date, JSON, an enum label; a
            // number out of range. PostgreSQL's message says which and what.
            code if code.starts_with("22") => format!("a value is not valid for its column: {msg}"),
            _ => return e.into(),
        };
        return StoreError::Constraint(words);
    }
    let what = msg.split_once(": ").map_or("", |(_, w)| w);
    let words = if msg.contains("NOT NULL") {
        format!("{what} must have a value")
    } else if msg.contains("UNIQUE") {
        format!("another row already has this {what}")
    } else if msg.contains("CHECK") {
        format!("the value breaks a rule of the table ({what})")
    } else if msg.contains("FOREIGN KEY") {
        "it refers to a row that does not exist".to_string()
    } else if msg.contains("datatype mismatch") {
        "a value has the wrong type for its column".to_string()
    } else {
        return e.into();
    };
    StoreError::Constraint(words)
}

pub(super) fn json_of(values: &[(String, Value)]) -> serde_json::Value {
    serde_json::Value::Object(
        values
            .iter()
            .map(|(c, v)| (c.clone(), value_json(v)))
            .collect(),
    )
}

impl Store {
    /// Change row `key` of `table`: set `changes`, provided the row still holds
    /// `expected` (unless the caller passes none, for an explicit overwrite). The audit
    /// row gets the before and after values of the changed columns.
    pub async fn update_record(
        &self,
        table: &TableInfo,
        key: &[Value],
        expected: &[(String, Value)],
        changes: &[(String, Value)],
        audit: AuditEntry,
    ) -> Result<SaveOutcome, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Write);
        let mut tx = self.begin_write().await?;
        let now = record_on(&mut tx, table, key).await?;
        let current = |name: &str| {
            now.fields
                .iter()
                .find(|(c, _)| c.name == name)
                .map(|(_, v)| v.clone())
        };
        let stale = expected.iter().any(|(c, v)| current(c).as_ref() != Some(v));
        if stale {
            let shown = expected
                .iter()
                .map(|(c, _)| (c.clone(), current(c).unwrap_or(Value::Null)))
                .collect();
            return Ok(SaveOutcome::Conflict(shown));
        }
        let changes: Vec<(String, Value)> = changes
            .iter()
            .filter(|(c, v)| current(c).as_ref() != Some(v))
            .cloned()
            .collect();
        if changes.is_empty() {
            return Ok(SaveOutcome::Unchanged);
        }
        Update::new(table, &changes)?
            .run(&mut tx, &changes, key)
            .await?;
        let before: Vec<(String, Value)> = changes
            .iter()
            .map(|(c, _)| (c.clone(), current(c).unwrap_or(Value::Null)))
            .collect();
        let audit = AuditEntry {
            before: Some(json_of(&before)),
            after: Some(json_of(&changes)),
            ..audit
        };
        append(&mut tx, self.audit_key(), &audit).await?;
        tx.commit().await?;
        // A changed key column means the row is now found under its new key.
        let new_key = table
            .key_columns()
            .iter()
            .zip(key)
            .map(|(k, old)| {
                changes
                    .iter()
                    .find(|(c, _)| c == k)
                    .map_or_else(|| old.clone(), |(_, v)| v.clone())
            })
            .collect();
        Ok(SaveOutcome::Saved(new_key))
    }

    /// Set `changes` on every row of `keys` — all or none, one audit row each (before and
    /// after of the changed columns). Returns how many rows changed.
    ///
    /// Rows go [`super::delete::KEYS_PER_QUERY`] per statement where
    /// [`Store::may_batch_update`] allows it (see [`super::batch::update_batched`]), with
    /// the outcome row by row gives, which is what runs otherwise, and again whenever a
    /// batch cannot promise it.
    pub async fn update_many(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
        changes: &[(String, Value)],
        audit: AuditEntry,
    ) -> Result<usize, StoreError> {
        self.update_many_as(schema, table, keys, changes, audit, true)
            .await
            .map(|(n, _)| n)
    }

    /// [`Store::update_many`], in batches where `batches` allows it; says which way the
    /// rows went.
    pub(super) async fn update_many_as(
        &self,
        schema: &Schema,
        table: &TableInfo,
        keys: &[Vec<Value>],
        changes: &[(String, Value)],
        audit: AuditEntry,
        batches: bool,
    ) -> Result<(usize, Path), StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Write);
        let update = Update::new(table, changes)?;
        let names: Vec<String> = changes.iter().map(|(c, _)| c.clone()).collect();
        let batches = batches && self.may_batch_update(schema, table, keys, &names).await?;
        let mut tx = self.begin_write().await?;
        if batches {
            let key = self.audit_key();
            if let Ok(true) = update_batched(&mut tx, key, table, keys, changes, &audit).await {
                tx.commit().await?;
                return Ok((keys.len(), Path::Batched));
            }
            // Undo what the batches did and give the row-by-row outcome.
            tx.rollback().await?;
            tx = self.begin_write().await?;
        }
        for key in keys {
            // A marked row deleted meanwhile: nothing is written, and the message names it.
            let now = record_on(&mut tx, table, key).await.map_err(|e| match e {
                StoreError::NotFound(_) => StoreError::NotFound(format!(
                    "{} {} is gone (deleted since it was marked)",
                    table.name,
                    crate::domain::key_label(key)
                )),
                other => other,
            })?;
            let before: Vec<(String, Value)> = changes
                .iter()
                .map(|(c, _)| {
                    let v = now
                        .fields
                        .iter()
                        .find(|(col, _)| &col.name == c)
                        .map(|(_, v)| v.clone());
                    (c.clone(), v.unwrap_or(Value::Null))
                })
                .collect();
            update.run(&mut tx, changes, key).await?;
            let row_audit = AuditEntry {
                pk: Some(crate::domain::key_text(key)),
                before: Some(json_of(&before)),
                after: Some(json_of(changes)),
                ..audit.clone()
            };
            append(&mut tx, self.audit_key(), &row_audit).await?;
        }
        tx.commit().await?;
        Ok((keys.len(), Path::RowByRow))
    }

    /// Create a row of `table` from `values` (columns left out get their defaults).
    /// Returns its key.
    pub async fn insert_record(
        &self,
        table: &TableInfo,
        values: &[(String, Value)],
        audit: AuditEntry,
    ) -> Result<Vec<Value>, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Write);
        let mut tx = self.begin_write().await?;
        let columns = columns(table, values)?;
        let keys = key_columns(table)?;
        // The key comes back from the database: it may be a default (an identity, a
        // sequence, SQLite's rowid).
        let returning = keys.iter().map(Column::read).collect::<Vec<_>>().join(", ");
        // MySQL has no DEFAULT VALUES; MariaDB has INSERT … RETURNING (MySQL proper has not).
        let q = if columns.is_empty() && self.dialect == super::Dialect::Mysql {
            format!(
                "INSERT INTO {} () VALUES () RETURNING {returning}",
                Ident::table(table)
            )
        } else if columns.is_empty() {
            format!(
                "INSERT INTO {} DEFAULT VALUES RETURNING {returning}",
                Ident::table(table)
            )
        } else {
            format!(
                "INSERT INTO {} {} VALUES {} RETURNING {returning}",
                Ident::table(table),
                sql::column_tuple(&columns),
                sql::slot_tuple(&columns)
            )
        };
        let q = self.dialect.sql(&q);
        let plain: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
        let args = Column::args(&columns, &plain);
        let mut query = sqlx::query(&q);
        for v in &args {
            query = bind_value(query, v);
        }
        let row = query
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| refused_in(&table.name, e))?;
        let readers: Vec<&Column> = keys.iter().collect();
        let key = Column::fix_all(&readers, decode_row(&row)?);
        let audit = AuditEntry {
            pk: Some(crate::domain::key_text(&key)),
            after: Some(json_of(values)),
            ..audit
        };
        append(&mut tx, self.audit_key(), &audit).await?;
        tx.commit().await?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_every_database;

    async fn table(store: Store) -> (Store, TableInfo) {
        let key = crate::store::test_support::auto_key(&store);
        crate::store::test_support::create_tables(
            &store,
            &format!(
                "CREATE TABLE t (id {key}, name TEXT NOT NULL UNIQUE, \
                   score INTEGER CHECK (score >= 0), note TEXT); \
                 INSERT INTO t (name, score, note) VALUES ('a', 1, NULL), ('b', 2, 'x');"
            ),
        )
        .await;
        let t = store
            .introspect()
            .await
            .unwrap()
            .table("t")
            .unwrap()
            .clone();
        (store, t)
    }

    fn vals(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(c, v)| (c.to_string(), v.clone()))
            .collect()
    }

    async fn audit_rows(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM moat_audit_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    on_every_database! {
        async fn update_checks_what_was_opened_and_audits_the_change(store: Store) {
            let (store, t) = table(store).await;
            let opened = vals(&[
                ("name", Value::Text("a".into())),
                ("score", Value::Integer(1)),
            ]);
            let out = store
                .update_record(
                    &t,
                    &[Value::Integer(1)],
                    &opened,
                    &vals(&[("score", Value::Integer(5))]),
                    AuditEntry::default(),
                )
                .await
                .unwrap();
            assert_eq!(out, SaveOutcome::Saved(vec![Value::Integer(1)]));
            // Same opened values again: the row changed since, so a conflict, nothing saved.
            let out = store
                .update_record(
                    &t,
                    &[Value::Integer(1)],
                    &opened,
                    &vals(&[("score", Value::Integer(9))]),
                    AuditEntry::default(),
                )
                .await
                .unwrap();
            assert_eq!(
                out,
                SaveOutcome::Conflict(vals(&[
                    ("name", Value::Text("a".into())),
                    ("score", Value::Integer(5))
                ]))
            );
            let score: i64 = sqlx::query_scalar("SELECT score FROM t WHERE id = 1")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(score, 5);
            assert_eq!(audit_rows(&store).await, 1);
            let row = sqlx::query("SELECT before_json, after_json FROM moat_audit_log")
                .fetch_one(store.pool())
                .await
                .unwrap();
            let text = |c: &str| crate::store::sql::text(&row, c).unwrap().unwrap();
            let (before, after) = (text("before_json"), text("after_json"));
            assert_eq!(
                (before.as_str(), after.as_str()),
                (r#"{"score":1}"#, r#"{"score":5}"#)
            );
        }
    }

    on_every_database! {
        async fn constraint_failures_save_nothing_and_say_which_column(store: Store) {
            let (store, t) = table(store).await;
            for (changes, words) in [
                (
                    vals(&[("name", Value::Text("b".into()))]),
                    "another row already has this t.name",
                ),
                (vals(&[("name", Value::Null)]), "t.name must have a value"),
                (vals(&[("score", Value::Integer(-1))]), "breaks a rule"),
            ] {
                let err = store
                    .update_record(
                        &t,
                        &[Value::Integer(1)],
                        &[],
                        &changes,
                        AuditEntry::default(),
                    )
                    .await
                    .unwrap_err();
                assert!(err.to_string().contains(words), "{err}");
            }
            assert_eq!(
                audit_rows(&store).await,
                0,
                "a failed write leaves no audit row"
            );
            let err = store
                .insert_record(
                    &t,
                    &vals(&[("score", Value::Integer(1))]),
                    AuditEntry::default(),
                )
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("t.name must have a value"),
                "{err}"
            );
            let key = store
                .insert_record(
                    &t,
                    &vals(&[("name", Value::Text("c'; DROP TABLE t; --".into()))]),
                    AuditEntry::default(),
                )
                .await
                .unwrap();
            // The key the database gave (PostgreSQL's sequence also counted the failed
            // insert above; SQLite's rowid did not).
            let record = store.record(&t, &key).await.unwrap();
            assert_eq!(
                record.fields[1].1,
                Value::Text("c'; DROP TABLE t; --".into()),
                "stored literally"
            );
            assert_eq!(audit_rows(&store).await, 1);
        }
    }
}
