//! Bulk edit: "mark all matching" (the rows the list shows the user, counted first and
//! bounded by `[limits] bulk_max_rows`), the columns one may set on marked rows, and
//! setting one of them on every marked row — each row checked for `change_<model>`
//! (model or object permission) before anything is written, the column checked against
//! the column rules, then all rows in one transaction with one audit row each, or none.
//! The write is the declared bulk actions' own ([`crate::store::Store::update_many`]).

use std::collections::HashSet;

use super::dispatch::{failed, Reply};
use super::{Actor, Context};
use crate::domain::{
    group_thousands, key_label, pk_text, ColumnInfo, ColumnKind, Grants, ListQuery, RowCount, Value,
};
use crate::perm::{self, Action, Decision};
use crate::store::{AuditEntry, StoreError};
use crate::tui::protocol::{BulkCmd, BulkMsg};
use crate::tui::values::{normalized_timestamp, valid_date, valid_time};
use crate::tui::Msg;

/// Marked rows named in a message, at most.
const NAMED: usize = 5;

impl Context {
    /// Run a bulk edit request (see [`BulkCmd`]).
    pub(super) async fn bulk_edit(&self, actor: &Actor, g: &Grants, cmd: BulkCmd) -> Reply {
        match cmd {
            BulkCmd::CountMatching { model, query } => {
                let (t, listing) = self.listable(actor, g, &model, &query).await?;
                let max = self.bulk_max_rows;
                let count = match self.store.count_rows_up_to(&t.table, &listing, max).await {
                    Ok(count) => count,
                    Err(e) => return Err(self.model_failed(&model, e).await),
                };
                match count {
                    RowCount::Exact(0) => Err(Msg::Notice(format!(
                        "no rows of {model} match: nothing to mark"
                    ))),
                    RowCount::Exact(count) => Ok(Msg::BulkEdit(BulkMsg::Matching {
                        model,
                        query,
                        count,
                    })),
                    _ => Err(self.too_many(&model)),
                }
            }
            BulkCmd::MarkAll { model, query } => {
                let (t, listing) = self.listable(actor, g, &model, &query).await?;
                let keys = match self
                    .store
                    .matching_keys(&t.table, &listing, self.bulk_max_rows)
                    .await
                {
                    Ok(Some(keys)) => keys,
                    Ok(None) => return Err(self.too_many(&model)),
                    Err(e) => return Err(self.model_failed(&model, e).await),
                };
                Ok(Msg::BulkEdit(BulkMsg::Marked { model, query, keys }))
            }
            BulkCmd::Columns { model } => {
                // Only for a model the user may list (a refusal is audited).
                self.listable(actor, g, &model, &ListQuery::default())
                    .await?;
                let t = self.table(g, &model)?;
                let columns: Vec<(ColumnInfo, Option<String>)> = t
                    .bulk_settable()
                    .into_iter()
                    .filter_map(|i| t.table.columns.get(i))
                    .map(|c| (c.clone(), self.link_of(&t.table, &c.name)))
                    .collect();
                if columns.is_empty() {
                    return Err(Msg::Failed(format!(
                        "no column of {model} may be set on marked rows (keys, generated, \
                         hidden, masked and read-only columns never are)"
                    )));
                }
                Ok(Msg::BulkEdit(BulkMsg::Columns { model, columns }))
            }
            BulkCmd::Set {
                model,
                column,
                value,
                keys,
            } => self.bulk_set(actor, g, model, column, value, keys).await,
        }
    }

    /// More rows match than one bulk edit may mark.
    fn too_many(&self, model: &str) -> Msg {
        let max = group_thousands(self.bulk_max_rows);
        Msg::Failed(format!(
            "more than {max} rows of {model} match: nothing marked (at most {max} at once, \
             [limits] bulk_max_rows); narrow the list with / or f"
        ))
    }

    /// Set `column` to `value` on rows `keys`: every row and the column checked first,
    /// then all or none.
    async fn bulk_set(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        column: String,
        value: Value,
        keys: Vec<Vec<Value>>,
    ) -> Reply {
        let t = self.table(g, &model)?;
        // Each row once, whatever was sent.
        let mut seen = HashSet::new();
        let keys: Vec<Vec<Value>> = keys
            .into_iter()
            .filter(|k| seen.insert(crate::domain::key_text(k)))
            .collect();
        if keys.is_empty() {
            return Err(Msg::Failed("no rows marked".into()));
        }
        if keys.len() as u64 > self.bulk_max_rows {
            return Err(self.too_many(&model));
        }
        if !t.may_bulk_set(&column) {
            let why = format!(
                "{column} may not be set on marked rows (keys, generated, hidden, masked and \
                 read-only columns never are)"
            );
            return Err(self.deny(actor, &Action::Change, &model, None, &why).await);
        }
        if let Some(col) = t.table.column(&column) {
            value_fits(col, &value)
                .map_err(|why| Msg::Failed(format!("{column}: {why}; nothing changed")))?;
        }
        let refused = self.refused_rows(actor, g, &model, &keys).await?;
        if let Some((first, why)) = refused.first() {
            let named: Vec<String> = refused
                .iter()
                .take(NAMED)
                .map(|(k, _)| key_label(k))
                .collect();
            let more = if refused.len() > NAMED { ", …" } else { "" };
            let reason = format!(
                "nothing changed: you may not change {} of the {} marked rows of {model}: {}{more} ({why})",
                crate::domain::group_thousands(refused.len() as u64),
                crate::domain::group_thousands(keys.len() as u64),
                named.join(", ")
            );
            return Err(self
                .deny(
                    actor,
                    &Action::Change,
                    &model,
                    Some(&crate::domain::key_text(first)),
                    &reason,
                )
                .await);
        }
        let table = &self.full_table(&model)?;
        let audit = AuditEntry {
            reason: Some(format!("bulk set {column} on {} rows", keys.len())),
            ..actor.audit("change", &model)
        };
        let count = self
            .store
            .update_many(
                &self.schema(),
                table,
                &keys,
                &[(column.clone(), value)],
                audit,
            )
            .await
            .map_err(|e| match e {
                StoreError::Constraint(words) | StoreError::NotFound(words) => {
                    Msg::Failed(format!("set {column}: nothing changed: {words}"))
                }
                other => failed(other),
            })?;
        Ok(Msg::BulkDone {
            model,
            action: format!("set {column}"),
            count,
        })
    }

    /// The rows of `keys` the user may not change, each with why (none when they may
    /// change every row of the model). Object permissions are read in batches.
    async fn refused_rows(
        &self,
        actor: &Actor,
        g: &Grants,
        model: &str,
        keys: &[Vec<Value>],
    ) -> Result<Vec<(Vec<Value>, String)>, Msg> {
        let none = HashSet::new();
        if perm::decide(g, &Action::Change, model, &none).is_allowed() {
            return Ok(Vec::new());
        }
        let held = self
            .perms_on_rows(actor, model, keys)
            .await
            .map_err(failed)?;
        Ok(keys
            .iter()
            .filter_map(|k| {
                let on_row = pk_text(k).and_then(|pk| held.get(&pk)).unwrap_or(&none);
                match perm::decide(g, &Action::Change, model, on_row) {
                    Decision::Allow => None,
                    Decision::Deny(why) => Some((k.clone(), why)),
                }
            })
            .collect())
    }
}

/// Whether `value` is one column `col` takes, as the form would have made it: the
/// console checks before sending, this checks what arrives.
fn value_fits(col: &ColumnInfo, value: &Value) -> Result<(), String> {
    let kind = ColumnKind::of_column(col);
    let text = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("not {what}"))
        }
    };
    match (kind, value) {
        (_, Value::Null) if col.not_null => Err("cannot be empty (NOT NULL)".into()),
        (_, Value::Null) => Ok(()),
        (ColumnKind::Integer, Value::Integer(_)) => Ok(()),
        (ColumnKind::Real, Value::Real(_) | Value::Integer(_)) => Ok(()),
        (ColumnKind::Boolean, Value::Integer(0 | 1)) => Ok(()),
        (ColumnKind::Text, Value::Text(_)) => Ok(()),
        (ColumnKind::Date, Value::Text(t)) => text(valid_date(t), "a date (YYYY-MM-DD)"),
        (ColumnKind::Time, Value::Text(t)) => text(valid_time(t), "a time (HH:MM[:SS])"),
        (ColumnKind::Timestamp, Value::Text(t)) => text(
            normalized_timestamp(t).is_some(),
            "a timestamp (YYYY-MM-DD HH:MM:SS)",
        ),
        (ColumnKind::Choice, Value::Text(t)) => {
            let labels = col.pg_type.as_ref().map(|p| p.labels.clone());
            text(
                labels.is_some_and(|l| l.contains(t)),
                "one of the column's values",
            )
        }
        (ColumnKind::Json, Value::Text(t)) => text(
            serde_json::from_str::<serde_json::Value>(t).is_ok(),
            "valid JSON",
        ),
        (kind, _) => Err(format!(
            "a value of the wrong kind ({} wanted)",
            crate::tui::screens::form::kind_hint(kind)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: &str, not_null: bool) -> ColumnInfo {
        ColumnInfo {
            check_values: Vec::new(),
            name: "c".into(),
            decl_type: ty.into(),
            not_null,
            default: None,
            pk_ordinal: 0,
            pg_type: None,
        }
    }

    #[test]
    fn what_arrives_must_be_a_value_the_column_takes() {
        let int = col("INTEGER", true);
        assert!(value_fits(&int, &Value::Integer(4)).is_ok());
        assert!(value_fits(&int, &Value::Text("abc".into())).is_err());
        assert!(value_fits(&int, &Value::Null).is_err(), "NOT NULL");
        assert!(value_fits(&col("INTEGER", false), &Value::Null).is_ok());
        assert!(value_fits(&col("REAL", true), &Value::Integer(1)).is_ok());
        assert!(value_fits(&col("BOOLEAN", true), &Value::Integer(2)).is_err());
        assert!(value_fits(&col("DATE", true), &Value::Text("2026-02-30".into())).is_err());
        assert!(value_fits(&col("DATE", true), &Value::Text("2026-02-28".into())).is_ok());
        assert!(value_fits(&col("TEXT", true), &Value::Text("x".into())).is_ok());
        assert!(value_fits(&col("TEXT", true), &Value::Integer(1)).is_err());
    }
}
