//! Reading one audit entry back (to revert or restore it), and restoring a deleted row:
//! one transaction holding the insert and its audit row. A revert is a conflict-checked
//! update ([`Store::update_record`]) with the entry's after values as what the row must
//! still hold.

use super::audit::{append, audit_row, AuditEntry, AuditRow, AUDIT_COLUMNS};
use super::bind::{bind_value, value_json};
use super::records::record_on;
use super::sql::{self, Column, Ident};
use super::{Store, StoreError};
use crate::domain::{key_text, TableInfo, Value};

impl Store {
    /// Audit entry `id`, if there is one.
    pub async fn audit_entry(&self, id: i64) -> Result<Option<AuditRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM moat_audit_log WHERE id = ?"
        ));
        let row = sqlx::query(&q).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref()
            .map(audit_row)
            .transpose()
            .map_err(StoreError::from)
    }

    /// Insert row `key` of `table` again with `values` (its key columns among them),
    /// unless a row with that key exists again ([`StoreError::Conflict`], nothing
    /// written). The audit row (`audit`, its pk and after values filled in) is written in
    /// the same transaction.
    pub async fn restore_record(
        &self,
        table: &TableInfo,
        key: &[Value],
        values: &[(String, Value)],
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Write);
        let exists_again = || {
            StoreError::Conflict(format!(
                "not restored: {} {} exists again",
                table.name,
                crate::domain::key_label(key)
            ))
        };
        let mut tx = self.begin_write().await?;
        match record_on(&mut tx, table, key).await {
            Ok(_) => return Err(exists_again()),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let columns = values
            .iter()
            .map(|(n, _)| {
                Column::of(table, n).ok_or_else(|| {
                    StoreError::NotFound(format!("{} has no column {n}", table.name))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let q = self.dialect.sql(&format!(
            "INSERT INTO {} {} VALUES {}",
            Ident::table(table),
            sql::column_tuple(&columns),
            sql::slot_tuple(&columns)
        ));
        let plain: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
        let args = Column::args(&columns, &plain);
        let mut query = sqlx::query(&q);
        for v in &args {
            query = bind_value(query, v);
        }
        if let Err(e) = query.execute(&mut *tx).await {
            return Err(match super::write::refused_in(&table.name, e) {
                // Inserted by someone else between the check and the insert.
                StoreError::Constraint(words) if words.starts_with("another row") => exists_again(),
                other => other,
            });
        }
        let after = values
            .iter()
            .map(|(c, v)| (c.clone(), value_json(v)))
            .collect();
        let audit = AuditEntry {
            pk: Some(key_text(key)),
            after: Some(serde_json::Value::Object(after)),
            ..audit
        };
        append(&mut tx, self.audit_key(), &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
