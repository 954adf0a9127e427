//! The checks before every store call: which table a user sees (hidden and masked
//! columns), which rows they may list, whether they may act on a model or a row; and the
//! audited denial.

use std::collections::HashSet;

use super::{describe, Actor, Context};
use crate::domain::{pk_text, Grants, ListQuery, Listing, RowFilter, TableInfo, Value};
use crate::perm::{self, Action, Decision, Visibility};
use crate::store::AuditEntry;
use crate::tui::form::FieldKind;
use crate::tui::Msg;

impl Context {
    /// May `actor` do `action` on `model` as a whole (adding a row)? Denials are audited.
    pub(super) async fn model_allowed(
        &self,
        actor: &Actor,
        g: &Grants,
        action: &Action,
        model: &str,
    ) -> Result<(), Msg> {
        self.full_table(model)?;
        match perm::decide(g, action, model, &HashSet::new()) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.deny(actor, action, model, None, &reason).await),
        }
    }

    /// The table `model` with every column (for writes and their audit rows).
    pub(super) fn full_table(&self, model: &str) -> Result<&TableInfo, Msg> {
        self.schema
            .table(model)
            .ok_or_else(|| Msg::Failed(format!("no such model: {model}")))
    }

    /// The table `model` as `actor` may see it: hidden columns left out (they are never
    /// selected), and which of the remaining columns are masked.
    pub(super) fn table(&self, g: &Grants, model: &str) -> Result<Shown, Msg> {
        let table = self.full_table(model)?;
        let rules = self
            .rules
            .get(model)
            .filter(|r| !r.exempt_groups.iter().any(|x| g.groups.contains(x)));
        let Some(rules) = rules else {
            return Ok(Shown {
                table: table.clone(),
                masked: vec![false; table.columns.len()],
                read_only: vec![false; table.columns.len()],
            });
        };
        let mut shown = table.clone();
        shown.columns.retain(|c| !rules.hidden.contains(&c.name));
        let flag = |list: &Vec<String>| {
            shown
                .columns
                .iter()
                .map(|c| list.contains(&c.name))
                .collect()
        };
        Ok(Shown {
            masked: flag(&rules.masked),
            read_only: flag(&rules.read_only),
            table: shown,
        })
    }

    /// The table `model` and the filter of the rows `actor` may list in it.
    pub(super) async fn listable(
        &self,
        actor: &Actor,
        g: &Grants,
        model: &str,
        query: &ListQuery,
    ) -> Result<(Shown, Listing), Msg> {
        let t = self.table(g, model)?;
        let filter = match perm::visibility(g, model) {
            Visibility::All => RowFilter::All,
            Visibility::Granted => RowFilter::Granted {
                user_id: actor.user_id,
                codenames: vec![Action::View.codename(model), Action::Change.codename(model)],
            },
            Visibility::Nothing => {
                let reason = format!("no {} permission", Action::View.codename(model));
                return Err(self.deny(actor, &Action::View, model, None, &reason).await);
            }
        };
        // Searching or sorting by a masked column would reveal its values.
        let visible = |c: &str| {
            t.table
                .columns
                .iter()
                .position(|x| x.name == c)
                .is_some_and(|i| !t.masked.get(i).copied().unwrap_or(true))
        };
        if let Some(sort) = &query.sort {
            if !visible(&sort.column) {
                return Err(Msg::Failed(format!("cannot sort by {}", sort.column)));
            }
        }
        if let Some(f) = query.filters.iter().find(|f| !visible(&f.column)) {
            return Err(Msg::Failed(format!("cannot filter by {}", f.column)));
        }
        let search = query.search.as_ref().map(|term| {
            let configured = self
                .rules
                .get(model)
                .map(|r| &r.search)
                .filter(|s| !s.is_empty());
            let columns: Vec<String> = match configured {
                Some(list) => list.iter().filter(|c| visible(c)).cloned().collect(),
                None => t
                    .table
                    .columns
                    .iter()
                    .filter(|c| FieldKind::of_column(c) == FieldKind::Text && visible(&c.name))
                    .map(|c| c.name.clone())
                    .collect(),
            };
            (term.clone(), columns)
        });
        let listing = Listing {
            filter,
            search,
            sort: query.sort.clone(),
            filters: query.filters.clone(),
        };
        // A list shows the model's list columns, when it names them.
        let t = match self
            .rules
            .get(model)
            .map(|r| &r.list)
            .filter(|l| !l.is_empty())
        {
            Some(list) => t.only(list),
            None => t,
        };
        Ok((t, listing))
    }

    /// The table `model`, if `actor` may do `action` on its row `key`.
    pub(super) async fn row_allowed(
        &self,
        actor: &Actor,
        g: &Grants,
        action: &Action,
        model: &str,
        key: &[Value],
    ) -> Result<Shown, Msg> {
        let t = self.table(g, model)?;
        let pk = pk_text(key);
        let row_perms = match &pk {
            Some(pk) if !g.is_superuser => self
                .store
                .row_perms(actor.user_id, model, pk)
                .await
                .map_err(|e| Msg::Failed(describe(&e)))?,
            _ => HashSet::new(),
        };
        match perm::decide(g, action, model, &row_perms) {
            Decision::Allow => Ok(t),
            Decision::Deny(reason) => Err(self
                .deny(actor, action, model, pk.as_deref(), &reason)
                .await),
        }
    }

    /// Audit a denial and turn it into the message the user sees.
    /// What deleting row `key` of `t` reaches, as the user may see it, or the refusal:
    /// a delete whose `ON DELETE CASCADE` would remove rows of a model the user may not
    /// delete is refused (audited), naming those models; counts of rows in models the
    /// user cannot view in full are left out.
    pub(super) async fn delete_reach(
        &self,
        actor: &Actor,
        g: &Grants,
        t: &TableInfo,
        key: &[Value],
    ) -> Result<Vec<crate::domain::Reference>, Msg> {
        let mut references = self
            .store
            .references(&self.schema, t, key)
            .await
            .map_err(|e| Msg::Failed(describe(&e)))?;
        let cascading: Vec<String> = references
            .iter()
            .filter(|r| r.on_delete.eq_ignore_ascii_case("CASCADE"))
            .map(|r| r.table.clone())
            .collect();
        let blockers = perm::cascade_blockers(g, &self.schema, &cascading);
        if !blockers.is_empty() {
            let reason = format!(
                "deleting it would also delete rows of {}, which you may not delete",
                blockers.join(", ")
            );
            return Err(self
                .deny(
                    actor,
                    &Action::Delete,
                    &t.name,
                    pk_text(key).as_deref(),
                    &reason,
                )
                .await);
        }
        for r in &mut references {
            if perm::visibility(g, &r.table) != Visibility::All {
                r.count = None;
            }
        }
        Ok(references)
    }

    pub(super) async fn deny(
        &self,
        actor: &Actor,
        action: &Action,
        model: &str,
        pk: Option<&str>,
        reason: &str,
    ) -> Msg {
        tracing::info!(user = %actor.username, model, pk, reason, "denied");
        let entry = AuditEntry {
            pk: pk.map(str::to_string),
            outcome: "denied".into(),
            reason: Some(reason.to_string()),
            ..actor.audit(action.verb(), model)
        };
        if let Err(e) = self.store.audit(&[entry]).await {
            tracing::error!(error = %e, "auditing a denial failed");
        }
        Msg::Failed(format!("permission denied: {reason}"))
    }
}

/// A table as one user sees it.
pub(super) struct Shown {
    pub(super) table: TableInfo,
    /// Per column of `table`: whether its values are masked.
    pub(super) masked: Vec<bool>,
    /// Per column of `table`: whether the column rules make it read-only.
    pub(super) read_only: Vec<bool>,
}

/// What a masked value looks like.
pub const MASK: &str = "••••";

impl Shown {
    /// Only the columns named in `names`, in that order.
    pub(super) fn only(self, names: &[String]) -> Shown {
        let mut out = Shown {
            table: TableInfo {
                columns: Vec::new(),
                ..self.table.clone()
            },
            masked: Vec::new(),
            read_only: Vec::new(),
        };
        for name in names {
            if let Some(i) = self.table.columns.iter().position(|c| &c.name == name) {
                out.table.columns.push(self.table.columns[i].clone());
                out.masked.push(self.masked.get(i).copied().unwrap_or(true));
                out.read_only
                    .push(self.read_only.get(i).copied().unwrap_or(true));
            }
        }
        out
    }

    /// May a form change column `i`? Not if masked, read-only by rule, or (editing) a key
    /// column, or (creating) the auto-numbered integer key.
    pub(super) fn writable(&self, i: usize, creating: bool) -> bool {
        let Some(col) = self.table.columns.get(i) else {
            return false;
        };
        let key = self.table.key_columns().contains(&col.name);
        // SQLite's INTEGER PRIMARY KEY (the rowid), or a PostgreSQL key with a default
        // (identity, serial): the database numbers new rows.
        let auto_key = self.table.primary_key.len() == 1
            && key
            && (col.decl_type.eq_ignore_ascii_case("INTEGER")
                || (col.pg_type.is_some() && col.default.is_some()));
        let hidden_value = self.masked.get(i).copied().unwrap_or(true);
        let ruled = self.read_only.get(i).copied().unwrap_or(true);
        let locked_key = if creating { auto_key } else { key };
        !(hidden_value || ruled || locked_key)
    }

    /// Replace the values of masked columns (NULL stays NULL).
    pub(super) fn mask(&self, values: &mut [Value]) {
        for (value, masked) in values.iter_mut().zip(&self.masked) {
            if *masked && !value.is_null() {
                *value = Value::Text(MASK.into());
            }
        }
    }
}
