//! Records: the record view with its links and capabilities, its history, the form, saves
//! with the conflict check, bulk actions, and deletes with what they reach.

use std::collections::{HashMap, HashSet};

use super::audit::{audit_row, Seen};
use super::dispatch::{failed, Reply};
use super::{describe, Actor, Context, Shown};
use crate::domain::{
    column_default, key_text, pk_text, time_as, Capabilities, ColumnDefault, ColumnKind, Grants,
    Reference, TableInfo, Value,
};
use crate::perm::{self, Action, Visibility};
use crate::store::{AuditEntry, SaveOutcome, StoreError};
use crate::tui::Msg;

/// Rows whose names are read per query.
const LABELS_PER_QUERY: usize = 500;

impl Context {
    /// The form for row `key` of `model` (`None`: a new row), with what may be changed.
    pub(super) async fn open_form(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        key: Option<Vec<Value>>,
    ) -> Result<Msg, Msg> {
        let creating = key.is_none();
        let (shown, values) = match &key {
            Some(k) => {
                let t = self
                    .row_allowed(actor, g, &Action::Change, &model, k)
                    .await?;
                let record = self
                    .store
                    .record(&t.table, k)
                    .await
                    .map_err(|e| Msg::Failed(describe(&e)))?;
                let mut values: Vec<Value> = record.fields.into_iter().map(|(_, v)| v).collect();
                t.mask(&mut values);
                (t, values)
            }
            None => {
                self.model_allowed(actor, g, &Action::Add, &model).await?;
                let t = self.table(g, &model)?;
                // A new row starts with the columns' declared defaults.
                let now = super::now_ms() / 1000;
                let values = t
                    .table
                    .columns
                    .iter()
                    .map(|c| match column_default(c) {
                        Some(ColumnDefault::Value(v)) => v,
                        Some(ColumnDefault::Now) => {
                            Value::Text(time_as(ColumnKind::of_column(c), now))
                        }
                        Some(ColumnDefault::Database) | None => Value::Null,
                    })
                    .collect();
                (t, values)
            }
        };
        let fields = shown
            .table
            .columns
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (c, v))| (c.clone(), v, !shown.writable(i, creating)))
            .collect();
        let links = shown
            .table
            .columns
            .iter()
            .map(|c| self.link_of(&shown.table, &c.name))
            .collect();
        Ok(Msg::Form {
            model,
            key,
            fields,
            links,
        })
    }

    /// Check a save against permissions and column rules, then write it.
    pub(super) async fn save(
        &self,
        actor: &Actor,
        g: &Grants,
        req: SaveRequest,
    ) -> Result<Msg, Msg> {
        let SaveRequest {
            model,
            key,
            original,
            values,
            overwrite,
        } = req;
        let creating = key.is_none();
        let shown = match &key {
            Some(k) => {
                self.row_allowed(actor, g, &Action::Change, &model, k)
                    .await?
            }
            None => {
                self.model_allowed(actor, g, &Action::Add, &model).await?;
                self.table(g, &model)?
            }
        };
        let opened = |c: &str| original.iter().find(|(n, _)| n == c).map(|(_, v)| v);
        let mut changes = Vec::new();
        for (column, value) in values {
            let Some(i) = shown.table.columns.iter().position(|c| c.name == column) else {
                return Err(Msg::Failed(format!(
                    "{model} has no column {column} you may see"
                )));
            };
            if shown.writable(i, creating) {
                changes.push((column, value));
            } else if !creating && opened(&column) != Some(&value) {
                let why = format!("{column} is read-only");
                return Err(self
                    .deny(
                        actor,
                        &Action::Change,
                        &model,
                        key.as_deref().map(key_text).as_deref(),
                        &why,
                    )
                    .await);
            }
        }
        let table = &self.full_table(&model)?;
        let refused = |e: StoreError| match e {
            StoreError::Constraint(words) => Msg::SaveRefused(words),
            other => Msg::Failed(describe(&other)),
        };
        let Some(key) = key else {
            let audit = actor.audit("add", &model);
            let key = self
                .store
                .insert_record(table, &changes, audit)
                .await
                .map_err(refused)?;
            return Ok(Msg::Saved {
                model,
                key,
                created: true,
            });
        };
        // What the form was opened with, for the columns this user sees as they are.
        let expected: Vec<(String, Value)> = if overwrite {
            Vec::new()
        } else {
            original
                .iter()
                .filter(|(c, _)| {
                    shown
                        .table
                        .columns
                        .iter()
                        .position(|x| &x.name == c)
                        .is_some_and(|i| !shown.masked.get(i).copied().unwrap_or(true))
                })
                .cloned()
                .collect()
        };
        let audit = AuditEntry {
            pk: Some(key_text(&key)),
            ..actor.audit(if overwrite { "overwrite" } else { "change" }, &model)
        };
        match self
            .store
            .update_record(table, &key, &expected, &changes, audit)
            .await
            .map_err(refused)?
        {
            SaveOutcome::Saved(key) => Ok(Msg::Saved {
                model,
                key,
                created: false,
            }),
            SaveOutcome::Unchanged => Ok(Msg::Saved {
                model,
                key,
                created: false,
            }),
            SaveOutcome::Conflict(now) => {
                let yours = |c: &str| changes.iter().find(|(n, _)| n == c).map(|(_, v)| v.clone());
                let fields = now
                    .into_iter()
                    .map(|(c, now_v)| {
                        let opened_v = opened(&c).cloned().unwrap_or(Value::Null);
                        let yours_v = yours(&c).unwrap_or_else(|| opened_v.clone());
                        (c, opened_v, yours_v, now_v)
                    })
                    .collect();
                Ok(Msg::Conflict { model, key, fields })
            }
        }
    }

    /// Run a declared bulk action: every marked row checked for `change_<model>` and every
    /// column the action sets checked against the column rules, then all rows changed in
    /// one transaction (or none).
    pub(super) async fn bulk(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        action: String,
        keys: Vec<Vec<Value>>,
    ) -> Result<Msg, Msg> {
        let declared = self
            .rules
            .get(&model)
            .and_then(|r| r.bulk.iter().find(|a| a.name == action))
            .ok_or_else(|| Msg::Failed(format!("{model} declares no action {action}")))?;
        let mut shown = None;
        for key in &keys {
            shown = Some(
                self.row_allowed(actor, g, &Action::Change, &model, key)
                    .await?,
            );
        }
        let Some(shown) = shown else {
            return Err(Msg::Failed("no rows marked".into()));
        };
        let mut changes = Vec::new();
        for (column, value) in &declared.set {
            let writable = shown
                .table
                .columns
                .iter()
                .position(|c| &c.name == column)
                .is_some_and(|i| shown.writable(i, false));
            if !writable {
                let why = format!("{column} is read-only");
                return Err(self.deny(actor, &Action::Change, &model, None, &why).await);
            }
            let value = match value {
                toml::Value::String(s) => Value::Text(s.clone()),
                toml::Value::Integer(i) => Value::Integer(*i),
                toml::Value::Float(f) => Value::Real(*f),
                toml::Value::Boolean(b) => Value::Integer(i64::from(*b)),
                _ => return Err(Msg::Failed(format!("{column}: unsupported value"))),
            };
            changes.push((column.clone(), value));
        }
        let table = &self.full_table(&model)?;
        let audit = AuditEntry {
            reason: Some(format!("bulk action {action} on {} rows", keys.len())),
            ..actor.audit("change", &model)
        };
        let count = self
            .store
            .update_many(&self.schema(), table, &keys, &changes, audit)
            .await
            .map_err(|e| match e {
                StoreError::Constraint(words) => {
                    Msg::Failed(format!("{action}: nothing changed: {words}"))
                }
                other => Msg::Failed(describe(&other)),
            })?;
        Ok(Msg::BulkDone {
            model,
            action,
            count,
        })
    }

    /// Row `key` of `model` for the record view: masked values masked, each set foreign
    /// key with the model it refers to and that row's display value (when the viewer may
    /// see it), and what the viewer may do on the row.
    pub(super) async fn record(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        key: Vec<Value>,
    ) -> Reply {
        let t = self
            .row_allowed(actor, g, &Action::View, &model, &key)
            .await?;
        let caps = self.row_caps(actor, g, &model, &key).await?;
        let mut record = match self.store.record(&t.table, &key).await {
            Ok(record) => record,
            Err(e) => return Err(self.model_failed(&model, e).await),
        };
        let mut values: Vec<Value> = record.fields.iter().map(|(_, v)| v.clone()).collect();
        t.mask(&mut values);
        for (field, value) in record.fields.iter_mut().zip(values) {
            field.1 = value;
        }
        let mut links = Vec::with_capacity(record.fields.len());
        for (i, (c, v)) in record.fields.iter().enumerate() {
            let masked = t.masked.get(i).copied().unwrap_or(true);
            let target = (!masked).then(|| self.link_of(&t.table, &c.name)).flatten();
            let link = match target {
                Some(target) => {
                    let display = self.display_of(g, &target, v).await;
                    Some(match display {
                        Some(d) => format!("{target}: {d}"),
                        None => target,
                    })
                }
                None => None,
            };
            links.push(link);
        }
        let related = self.related(actor, g, &t.table, &key).await?;
        Ok(Msg::Record {
            model,
            record,
            links,
            caps,
            related,
        })
    }

    /// What `actor` may do on row `key` of `model` (their model permissions and the
    /// object permissions they hold on it), for the console to offer.
    async fn row_caps(
        &self,
        actor: &Actor,
        g: &Grants,
        model: &str,
        key: &[Value],
    ) -> Result<Capabilities, Msg> {
        let on_row = match pk_text(key) {
            Some(pk) if !g.is_superuser => self
                .store
                .row_perms(actor.user_id, model, &pk)
                .await
                .map_err(failed)?,
            _ => HashSet::new(),
        };
        Ok(perm::row_capabilities(g, model, &on_row))
    }

    /// Row `key`'s audit trail, newest first, with values as the viewer sees the row.
    pub(super) async fn history(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        key: Vec<Value>,
    ) -> Reply {
        let t = self
            .row_allowed(actor, g, &Action::View, &model, &key)
            .await?;
        let pk = key_text(&key);
        let rows = self
            .store
            .record_history(&model, &pk, 200)
            .await
            .map_err(failed)?;
        let seen = Seen::Shown(t);
        let offers = self.undo_offers(actor, g, &rows).await;
        Ok(Msg::History {
            entries: rows
                .into_iter()
                .zip(offers)
                .map(|(r, undo)| crate::tui::protocol::AuditRow {
                    undo,
                    ..audit_row(r, &seen)
                })
                .collect(),
            model,
            key,
        })
    }

    /// May rows `keys` be deleted? The answer names them (their display values, where
    /// the user may see them) and says what refers to them, summed over the rows (as the
    /// user may see it), for the confirmation.
    pub(super) async fn ask_delete(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        keys: Vec<Vec<Value>>,
    ) -> Reply {
        self.rows_allowed(actor, g, &Action::Delete, &model, &keys)
            .await?;
        let t = &self.full_table(&model)?;
        let mut references: Vec<Reference> = Vec::new();
        for reach in self.delete_reach_many(actor, g, t, &keys).await? {
            for r in reach {
                add_reference(&mut references, r);
            }
        }
        let labels = self.labels_of(g, &model, &keys).await;
        Ok(Msg::DeleteAsk {
            model,
            keys,
            labels,
            references,
        })
    }

    /// Delete row `key`, with its audit row in the same transaction.
    pub(super) async fn delete(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        key: Vec<Value>,
    ) -> Reply {
        self.row_allowed(actor, g, &Action::Delete, &model, &key)
            .await?;
        let t = &self.full_table(&model)?;
        self.delete_reach(actor, g, t, &key).await?;
        let audit = AuditEntry {
            pk: Some(key_text(&key)),
            ..actor.audit("delete", &model)
        };
        self.store
            .delete_record(&self.schema(), t, &key, audit)
            .await
            .map_err(failed)?;
        Ok(Msg::Deleted { model, key })
    }

    /// Delete every marked row: each is checked before any is deleted; then all go, or
    /// none.
    pub(super) async fn delete_many(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        keys: Vec<Vec<Value>>,
    ) -> Reply {
        self.rows_allowed(actor, g, &Action::Delete, &model, &keys)
            .await?;
        let t = &self.full_table(&model)?;
        self.delete_reach_many(actor, g, t, &keys).await?;
        let audit = AuditEntry {
            reason: Some(format!("bulk delete of {} rows", keys.len())),
            ..actor.audit("delete", &model)
        };
        let count = keys.len();
        self.store
            .delete_records(&self.schema(), t, &keys, audit)
            .await
            .map_err(failed)?;
        Ok(Msg::DeletedMany { model, count })
    }

    /// What row `key` of `model` is called: its display column (`[models.<m>] display`,
    /// else its first text column), if the viewer may see that row and column.
    pub(super) async fn display_of(&self, g: &Grants, model: &str, key: &Value) -> Option<String> {
        if key.is_null() {
            return None;
        }
        let shown = self.display_table(g, model)?;
        let record = self
            .store
            .record(&shown.table, std::slice::from_ref(key))
            .await
            .ok()?;
        display_text(record.fields.first().map(|(_, v)| v)?)
    }

    /// [`Context::display_of`] for each of `keys` (`None` for a key of several columns),
    /// read in batches; a row the batch did not find is asked for on its own.
    async fn labels_of(&self, g: &Grants, model: &str, keys: &[Vec<Value>]) -> Vec<Option<String>> {
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        if let Some(shown) = self.display_table(g, model) {
            let singles: Vec<Value> = keys
                .iter()
                .filter_map(|k| match k.as_slice() {
                    [k] if !k.is_null() => Some(k.clone()),
                    _ => None,
                })
                .collect();
            for chunk in singles.chunks(LABELS_PER_QUERY) {
                let rows = self
                    .store
                    .rows_by_key(&shown.table, chunk)
                    .await
                    .unwrap_or_default();
                for (key, values) in rows {
                    names.insert(format!("{key:?}"), values.first().and_then(display_text));
                }
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(match key.as_slice() {
                [k] => match names.get(&format!("{k:?}")) {
                    Some(name) => name.clone(),
                    None => self.display_of(g, model, k).await,
                },
                _ => None,
            });
        }
        out
    }

    /// The names of the rows of `model` whose keys are `keys`, in one query: each key's
    /// display value, where the viewer may see it (see [`Context::display_of`]).
    pub(super) async fn displays_of(
        &self,
        g: &Grants,
        model: &str,
        keys: &[Value],
    ) -> Vec<(Value, String)> {
        let Some(shown) = self.display_table(g, model) else {
            return Vec::new();
        };
        let rows = self
            .store
            .rows_by_key(&shown.table, keys)
            .await
            .unwrap_or_default();
        rows.into_iter()
            .filter_map(|(key, values)| Some((key, display_text(values.first()?)?)))
            .collect()
    }

    /// `model` with only its display column (`[models.<m>] display`, else its first text
    /// column), when the viewer may see every row of it and that column.
    fn display_table(&self, g: &Grants, model: &str) -> Option<Shown> {
        if perm::visibility(g, model) != Visibility::All {
            return None;
        }
        let t = self.table(g, model).ok()?;
        let column = match self.rules.get(model).and_then(|r| r.display.clone()) {
            Some(c) => c,
            None => t
                .table
                .columns
                .iter()
                .find(|c| c.is_text() && c.pk_ordinal == 0)?
                .name
                .clone(),
        };
        let shown = t.only(std::slice::from_ref(&column));
        if shown.masked.first().copied().unwrap_or(true) {
            return None;
        }
        Some(shown)
    }

    /// The model that `column` of `table` refers to, when it is a single-column foreign
    /// key onto that model's own key (so the value opens the referenced row).
    pub(super) fn link_of(&self, table: &TableInfo, column: &str) -> Option<String> {
        let fk = table
            .foreign_keys
            .iter()
            .find(|fk| fk.columns.len() == 1 && fk.columns[0] == column)?;
        let schema = self.schema();
        let target = schema.table(&fk.ref_table)?;
        let target_key = target.key_columns();
        let refers_to_key = match fk.ref_columns.as_slice() {
            [] => true,
            [c] => {
                target_key.len() == 1
                    && (target_key[0] == *c
                        || (target_key[0] == "rowid"
                            && target.column(c).is_some_and(|x| x.pk_ordinal == 1)))
            }
            _ => false,
        };
        refers_to_key.then(|| target.name.clone())
    }
}

/// A save as the form sent it.
pub(super) struct SaveRequest {
    pub(super) model: String,
    pub(super) key: Option<Vec<Value>>,
    pub(super) original: Vec<(String, Value)>,
    pub(super) values: Vec<(String, Value)>,
    pub(super) overwrite: bool,
}

/// Add `r` to `all`: rows of the same model through the same kind of foreign key are
/// counted together.
fn add_reference(all: &mut Vec<Reference>, r: Reference) {
    match all
        .iter_mut()
        .find(|x| x.table == r.table && x.on_delete == r.on_delete)
    {
        Some(x) => {
            x.count = match (x.count, r.count) {
                (Some(a), Some(b)) => Some(a.plus(b)),
                _ => None,
            }
        }
        None => all.push(r),
    }
}

/// A display value as a name: text cut at 60 characters; nothing for NULL.
fn display_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.chars().take(60).collect()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}
