//! Reverting a change and restoring a deleted row from the audit trail (`u` in `H` and
//! in `:audit`).
//!
//! The client names only the entry; everything written comes from the stored entry, and
//! is checked here as an edit would be:
//! - a revert needs `change_<model>` on the row (model or object permission); it writes
//!   the entry's before values of the columns the entry changed, only if the row still
//!   holds the entry's after values there (otherwise a conflict, nothing written). A
//!   column hidden from the user is left as it is; a column the user may see but not edit
//!   (read-only, masked) refuses the whole revert (audited), so a revert is never half
//!   done behind the user's back.
//! - a restore needs `add_<model>` and `view_<model>` (or change); it inserts the row
//!   again with its key and every value it had. The whole row or nothing: a column the
//!   user may not set on a new row (hidden, read-only, masked) that held a value refuses
//!   it (audited). A key that exists again is refused.
//!
//! Both need a fresh second factor like a delete (see [`super::account::step_up_for`]),
//! and each is one transaction with its own audit row (`revert` / `restore`, its reason
//! naming the entry).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as J};

use super::dispatch::{failed, Reply};
use super::{Actor, Context, Shown};
use crate::domain::{key_label, key_text, ColumnKind, Grants, TableInfo, Value};
use crate::perm::{self, Action, Decision};
use crate::store::{json_value, AuditEntry, SaveOutcome, StoreError};
use crate::tui::protocol::{UndoKind, UndoPlan};
use crate::tui::Msg;

/// Why an entry cannot be reverted or restored.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The column rules forbid it: audited as a denial.
    Denied(String),
    /// The entry cannot be written back (what it recorded, or the table now).
    Failed(String),
}

/// What an entry could offer by itself: a successful change (or overwrite, or revert)
/// with before and after values is reverted; a successful delete with the row's values
/// is restored.
pub(super) fn kind_of(e: &AuditEntry) -> Option<UndoKind> {
    if e.outcome != "success" || e.pk.is_none() {
        return None;
    }
    let values = |v: &Option<J>| matches!(v, Some(J::Object(m)) if !m.is_empty());
    match e.action.as_str() {
        "change" | "overwrite" | "revert" if values(&e.before) && values(&e.after) => {
            Some(UndoKind::Revert)
        }
        "delete" if values(&e.before) => Some(UndoKind::Restore),
        _ => None,
    }
}

/// Columns and their values.
type Columns = Vec<(String, Value)>;

/// What a revert or a restore needs on the row.
fn needed(kind: UndoKind) -> Vec<Action> {
    match kind {
        UndoKind::Revert => vec![Action::Change],
        UndoKind::Restore => vec![Action::Add, Action::View],
    }
}

/// The columns a revert writes, as (values to write, values the row must still hold,
/// hidden columns left as they are): the entry's changed columns in table order.
pub(super) fn revert_plan(
    shown: &Shown,
    table: &TableInfo,
    before: &Map<String, J>,
    after: &Map<String, J>,
) -> Result<(Columns, Columns, usize), Refusal> {
    if let Some(gone) = after.keys().find(|c| table.column(c).is_none()) {
        return Err(Refusal::Failed(format!(
            "{gone} is no longer a column of {}",
            table.name
        )));
    }
    let keys = table.key_columns();
    let (mut writes, mut expected, mut hidden) = (Vec::new(), Vec::new(), 0);
    for col in table.columns.iter().filter(|c| after.contains_key(&c.name)) {
        let c = &col.name;
        if keys.contains(c) {
            return Err(Refusal::Failed(format!(
                "it changed the row's key ({c}): not reverted"
            )));
        }
        let Some(i) = shown.table.columns.iter().position(|x| &x.name == c) else {
            hidden += 1;
            continue;
        };
        if !shown.writable(i, false) {
            return Err(Refusal::Denied(format!("{c} is read-only")));
        }
        let kind = ColumnKind::of_column(col);
        let (Some(b), Some(a)) = (
            before.get(c).and_then(|j| json_value(j, kind)),
            after.get(c).and_then(|j| json_value(j, kind)),
        ) else {
            return Err(Refusal::Failed(format!(
                "the recorded value of {c} cannot be written back"
            )));
        };
        writes.push((c.clone(), b));
        expected.push((c.clone(), a));
    }
    if writes.is_empty() {
        return Err(Refusal::Failed(
            "nothing to revert: it changed no column you may see".into(),
        ));
    }
    Ok((writes, expected, hidden))
}

/// The key and the values a restore writes: every column the deleted row had (and the
/// table still has), generated columns left to the database. A column the user may not
/// set on a new row that held a value refuses it.
pub(super) fn restore_plan(
    shown: &Shown,
    table: &TableInfo,
    before: &Map<String, J>,
) -> Result<(Vec<Value>, Columns), Refusal> {
    let keys = table.key_columns();
    let mut writes: Vec<(String, Value)> = Vec::new();
    for col in table.columns.iter().filter(|c| !c.generated()) {
        let c = &col.name;
        let Some(j) = before.get(c) else {
            continue; // a column added since: its default
        };
        let Some(v) = json_value(j, ColumnKind::of_column(col)) else {
            return Err(Refusal::Failed(format!(
                "the recorded value of {c} cannot be written back"
            )));
        };
        if !keys.contains(c) {
            let allowed = shown
                .table
                .columns
                .iter()
                .position(|x| &x.name == c)
                .map(|i| shown.writable(i, true));
            match allowed {
                Some(true) => {}
                _ if v.is_null() => continue,
                None => {
                    return Err(Refusal::Denied(
                        "the row had values in columns hidden from you".into(),
                    ))
                }
                Some(false) => return Err(Refusal::Denied(format!("{c} is read-only"))),
            }
        }
        writes.push((c.clone(), v));
    }
    let key: Option<Vec<Value>> = keys
        .iter()
        .map(|k| writes.iter().find(|(c, _)| c == k).map(|(_, v)| v.clone()))
        .collect();
    match key {
        Some(key) if !key.is_empty() => Ok((key, writes)),
        _ => Err(Refusal::Failed(format!(
            "the entry does not hold the key of {} (its key columns: {})",
            table.name,
            keys.join(", ")
        ))),
    }
}

/// Row key `pk` (as the audit trail records it, see [`key_text`]) read as `table`'s key
/// columns' values; `None` unless it reads back to exactly the same text.
pub(super) fn key_of_text(table: &TableInfo, pk: &str) -> Option<Vec<Value>> {
    let columns = table.key_columns();
    let kind = |c: &str| {
        table
            .column(c)
            .map(ColumnKind::of_column)
            .unwrap_or(ColumnKind::Integer) // the rowid
    };
    let key = match columns.as_slice() {
        [] => return None,
        [c] => vec![match kind(c) {
            ColumnKind::Integer => pk.parse().map(Value::Integer).ok()?,
            ColumnKind::Real => pk.parse().map(Value::Real).ok()?,
            _ => Value::Text(pk.to_string()),
        }],
        many => {
            let parts = tuple_parts(pk.strip_prefix('(')?.strip_suffix(')')?)?;
            if parts.len() != many.len() {
                return None;
            }
            parts
                .into_iter()
                .map(|(quoted, text)| match quoted {
                    true => Some(Value::Text(text)),
                    false => text
                        .parse()
                        .map(Value::Integer)
                        .or_else(|_| text.parse().map(Value::Real))
                        .ok(),
                })
                .collect::<Option<Vec<_>>>()?
        }
    };
    (key_text(&key) == pk).then_some(key)
}

/// The parts of `a, "b", 3` (inside a composite key's parentheses): (quoted, text), a
/// quoted part unescaped as Rust's `{:?}` writes it.
fn tuple_parts(s: &str) -> Option<Vec<(bool, String)>> {
    let mut parts = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => text.push(match chars.next()? {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        'u' => {
                            if chars.next()? != '{' {
                                return None;
                            }
                            let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                            char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                        }
                        other => other,
                    }),
                    c => text.push(c),
                }
            }
            parts.push((true, text));
        } else {
            let text: String = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
            parts.push((false, text.trim().to_string()));
        }
        match chars.next() {
            None => return Some(parts),
            Some(',') => while chars.next_if_eq(&' ').is_some() {},
            Some(_) => return None,
        }
    }
}

impl Context {
    /// The plan for reverting or restoring entry `id`, after every check (permission,
    /// column rules; denials audited), with the table to write.
    async fn undo_plan(
        &self,
        actor: &Actor,
        g: &Grants,
        id: i64,
    ) -> Result<(UndoPlan, TableInfo), Msg> {
        let row = self
            .store
            .audit_entry(id)
            .await
            .map_err(failed)?
            .ok_or_else(|| Msg::Failed(format!("no audit entry {id}")))?;
        let e = &row.entry;
        let (Some(kind), Some(model), Some(pk)) = (kind_of(e), e.model.clone(), e.pk.clone())
        else {
            return Err(Msg::Failed(format!(
                "entry {id} is not a change or a delete of a row: nothing to revert or restore"
            )));
        };
        let table = self.full_table(&model)?;
        let object = |v: &Option<J>| match v {
            Some(J::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let key = match kind {
            UndoKind::Revert => key_of_text(&table, &pk),
            UndoKind::Restore => None,
        };
        // Object permissions are granted on a single-column key, by its text.
        let on_row = (table.key_columns().len() == 1).then(|| pk.clone());
        let row_perms = match on_row {
            Some(pk) if !g.is_superuser => self
                .store
                .row_perms(actor.user_id, &model, &pk)
                .await
                .map_err(failed)?,
            _ => HashSet::new(),
        };
        let needed = needed(kind);
        for action in &needed {
            if let Decision::Deny(reason) = perm::decide(g, action, &model, &row_perms) {
                return Err(self
                    .undo_denied(actor, kind, &model, &pk, id, &reason)
                    .await);
            }
        }
        let shown = self.table(g, &model)?;
        let planned = match kind {
            UndoKind::Revert => {
                let key = key.ok_or_else(|| {
                    Msg::Failed(format!("entry {id}: the row's key `{pk}` cannot be read"))
                })?;
                revert_plan(&shown, &table, &object(&e.before), &object(&e.after))
                    .map(|(values, expected, hidden)| (key, values, expected, hidden))
            }
            UndoKind::Restore => restore_plan(&shown, &table, &object(&e.before))
                .map(|(key, values)| (key, values, Vec::new(), 0)),
        };
        let (key, values, expected, hidden_left) = match planned {
            Ok(p) => p,
            Err(Refusal::Denied(why)) => {
                return Err(self.undo_denied(actor, kind, &model, &pk, id, &why).await)
            }
            Err(Refusal::Failed(why)) => {
                return Err(Msg::Failed(format!("{} of entry {id}: {why}", kind.verb())))
            }
        };
        if key_text(&key) != pk {
            return Err(Msg::Failed(format!(
                "entry {id}: its values do not hold the key it names"
            )));
        }
        let plan = UndoPlan {
            entry: id,
            kind,
            model,
            key,
            values,
            expected,
            hidden_left,
        };
        Ok((plan, table))
    }

    /// Audit a refused revert or restore (its reason naming the entry), as a denial.
    async fn undo_denied(
        &self,
        actor: &Actor,
        kind: UndoKind,
        model: &str,
        pk: &str,
        id: i64,
        reason: &str,
    ) -> Msg {
        tracing::info!(user = %actor.username, model, pk, reason, "denied");
        let entry = AuditEntry {
            pk: Some(pk.to_string()),
            outcome: "denied".into(),
            reason: Some(format!("{reason} ({} of entry {id})", kind.verb())),
            ..actor.audit(kind.verb(), model)
        };
        if let Err(e) = self.store.audit(&[entry]).await {
            tracing::error!(error = %e, "auditing a denial failed");
        }
        Msg::Failed(format!("permission denied: {reason}"))
    }

    /// What reverting or restoring entry `id` would write, for the confirmation.
    pub(super) async fn ask_undo(&self, actor: &Actor, g: &Grants, id: i64) -> Reply {
        let (plan, _) = self.undo_plan(actor, g, id).await?;
        Ok(Msg::UndoAsk(Box::new(plan)))
    }

    /// Revert or restore entry `id`: checked again, then one transaction with its audit
    /// row; a revert whose row changed since the entry answers with the conflict.
    pub(super) async fn undo(&self, actor: &Actor, g: &Grants, id: i64) -> Reply {
        let (plan, table) = self.undo_plan(actor, g, id).await?;
        let UndoPlan {
            kind,
            model,
            key,
            values,
            expected,
            ..
        } = plan;
        let audit = AuditEntry {
            pk: Some(key_text(&key)),
            reason: Some(format!("{}s entry {id}", kind.verb())),
            ..actor.audit(kind.verb(), &model)
        };
        let refused = |e: StoreError| match e {
            StoreError::Constraint(words) => Msg::Failed(format!("not {}: {words}", kind.done())),
            StoreError::NotFound(_) => Msg::Failed(format!(
                "not {}: {model} {} is not there",
                kind.done(),
                key_label(&key)
            )),
            other => failed(other),
        };
        let done = Msg::Undone {
            entry: id,
            kind,
            model: model.clone(),
            key: key.clone(),
        };
        match kind {
            UndoKind::Restore => {
                self.store
                    .restore_record(&table, &key, &values, audit)
                    .await
                    .map_err(refused)?;
                Ok(done)
            }
            UndoKind::Revert => match self
                .store
                .update_record(&table, &key, &expected, &values, audit)
                .await
                .map_err(refused)?
            {
                SaveOutcome::Saved(_) => Ok(done),
                SaveOutcome::Unchanged => Err(Msg::Failed(format!(
                    "entry {id}: the row already holds those values; nothing written"
                ))),
                SaveOutcome::Conflict(now) => {
                    let of = |list: &[(String, Value)], c: &str| {
                        list.iter()
                            .find(|(n, _)| n == c)
                            .map_or(Value::Null, |(_, v)| v.clone())
                    };
                    let fields = now
                        .into_iter()
                        .map(|(c, now)| (c.clone(), of(&expected, &c), of(&values, &c), now))
                        .collect();
                    Ok(Msg::UndoConflict {
                        entry: id,
                        model,
                        key,
                        fields,
                    })
                }
            },
        }
    }

    /// What `u` may do with each of `rows` for this user (the same checks as
    /// [`Context::undo`] short of writing; row permissions read once per row).
    pub(super) async fn undo_offers(
        &self,
        actor: &Actor,
        g: &Grants,
        rows: &[crate::store::AuditRow],
    ) -> Vec<Option<UndoKind>> {
        let mut perms: HashMap<(String, String), HashSet<String>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.offer(actor, g, &row.entry, &mut perms).await);
        }
        out
    }

    async fn offer(
        &self,
        actor: &Actor,
        g: &Grants,
        e: &AuditEntry,
        cache: &mut HashMap<(String, String), HashSet<String>>,
    ) -> Option<UndoKind> {
        let kind = kind_of(e)?;
        let (model, pk) = (e.model.as_deref()?, e.pk.as_deref()?);
        let table = self.schema().table(model)?.clone();
        let needed = needed(kind);
        let none = HashSet::new();
        let model_level = needed
            .iter()
            .all(|a| perm::decide(g, a, model, &none).is_allowed());
        if !model_level {
            let slot = (model.to_string(), pk.to_string());
            if !cache.contains_key(&slot) {
                let got = self.store.row_perms(actor.user_id, model, pk).await.ok()?;
                cache.insert(slot.clone(), got);
            }
            let row_perms = cache.get(&slot)?;
            if !needed
                .iter()
                .all(|a| perm::decide(g, a, model, row_perms).is_allowed())
            {
                return None;
            }
        }
        let shown = self.table(g, model).ok()?;
        let object = |v: &Option<J>| match v {
            Some(J::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let fits = match kind {
            UndoKind::Revert => {
                key_of_text(&table, pk).is_some()
                    && revert_plan(&shown, &table, &object(&e.before), &object(&e.after)).is_ok()
            }
            UndoKind::Restore => restore_plan(&shown, &table, &object(&e.before))
                .is_ok_and(|(key, _)| key_text(&key) == pk),
        };
        fits.then_some(kind)
    }
}

#[cfg(test)]
#[path = "undo_tests.rs"]
mod tests;
