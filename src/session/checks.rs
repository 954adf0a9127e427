//! The checks before every store call: which table a user sees (hidden and masked
//! columns), which rows they may list, whether they may act on a model or a row; and the
//! audited denial.

use std::collections::{HashMap, HashSet};

use super::{describe, Actor, Context, Shown};
use crate::domain::{
    key_text, pk_text, Grants, ListQuery, Listing, Reference, RowFilter, TableInfo, Value,
};
use crate::perm::{self, Action, Decision, Visibility};
use crate::store::AuditEntry;
use crate::tui::Msg;

/// Keys whose object permissions are read per query.
const PERMS_PER_QUERY: usize = 500;

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

    /// The table `model` with every column (for writes and their audit rows), as the
    /// schema has it now.
    pub(super) fn full_table(&self, model: &str) -> Result<TableInfo, Msg> {
        self.schema()
            .table(model)
            .cloned()
            .ok_or_else(|| Msg::Failed(format!("no such model: {model}")))
    }

    /// The table `model` as `actor` may see it (see [`perm::columns`]).
    pub(super) fn table(&self, g: &Grants, model: &str) -> Result<Shown, Msg> {
        let table = self.full_table(model)?;
        Ok(perm::columns::shown(
            &table,
            self.rules.get(model),
            &g.groups,
        ))
    }

    /// The table `model` and the filter of the rows `actor` may list in it.
    pub(super) async fn listable(
        &self,
        actor: &Actor,
        g: &Grants,
        model: &str,
        query: &ListQuery,
    ) -> Result<(Shown, Listing), Msg> {
        let (t, listing) = self.queryable(actor, g, model, query).await?;
        // A list shows the model's list columns, when it names them.
        Ok((t.listed(self.rules.get(model)), listing))
    }

    /// As [`Context::listable`], with every column the user is shown (an export keeps the
    /// columns a model's `list` leaves out of the list).
    pub(super) async fn queryable(
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
        // Searching, sorting or filtering by a masked column would reveal its values.
        if let Some(sort) = query.sort.as_ref().filter(|s| !t.may_sort(&s.column)) {
            return Err(Msg::Failed(format!("cannot sort by {}", sort.column)));
        }
        if let Some(f) = query.filters.iter().find(|f| !t.may_filter(&f.column)) {
            return Err(Msg::Failed(format!("cannot filter by {}", f.column)));
        }
        let rules = self.rules.get(model);
        let search = query
            .search
            .as_ref()
            .map(|term| (term.clone(), t.search_columns(rules)));
        // A search with nothing to look in would show every row as if it matched.
        if search
            .as_ref()
            .is_some_and(|(_, columns)| columns.is_empty())
        {
            return Err(Msg::Failed(format!(
                "nothing to search in {model}: no text column you may see (f filters by a column)"
            )));
        }
        let listing = Listing {
            filter,
            search,
            sort: query.sort.clone(),
            filters: query.filters.clone(),
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
                .deny(actor, action, model, Some(&key_text(key)), &reason)
                .await),
        }
    }

    /// [`Context::row_allowed`] for every row of `keys`, with object permissions read in
    /// batches: the table, or the refusal of the first row (in order) that is refused,
    /// audited as `row_allowed` audits it. `None` for no keys.
    pub(super) async fn rows_allowed(
        &self,
        actor: &Actor,
        g: &Grants,
        action: &Action,
        model: &str,
        keys: &[Vec<Value>],
    ) -> Result<Option<Shown>, Msg> {
        if keys.is_empty() {
            return Ok(None);
        }
        let t = self.table(g, model)?;
        let held = if g.is_superuser {
            HashMap::new()
        } else {
            self.perms_on_rows(actor, model, keys)
                .await
                .map_err(|e| Msg::Failed(describe(&e)))?
        };
        let none = HashSet::new();
        for key in keys {
            let on_row = pk_text(key).and_then(|pk| held.get(&pk)).unwrap_or(&none);
            if let Decision::Deny(reason) = perm::decide(g, action, model, on_row) {
                return Err(self
                    .deny(actor, action, model, Some(&key_text(key)), &reason)
                    .await);
            }
        }
        Ok(Some(t))
    }

    /// The object permissions `actor` (or a group of theirs) holds on each of rows `keys`
    /// of `model`, by key text (rows with none are absent), [`PERMS_PER_QUERY`] keys a
    /// query.
    pub(super) async fn perms_on_rows(
        &self,
        actor: &Actor,
        model: &str,
        keys: &[Vec<Value>],
    ) -> Result<HashMap<String, HashSet<String>>, crate::store::StoreError> {
        let mut held = HashMap::new();
        let pks: Vec<String> = keys.iter().filter_map(|k| pk_text(k)).collect();
        for chunk in pks.chunks(PERMS_PER_QUERY) {
            held.extend(self.store.rows_perms(actor.user_id, model, chunk).await?);
        }
        Ok(held)
    }

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
    ) -> Result<Vec<Reference>, Msg> {
        let references = self
            .store
            .references(&self.schema(), t, key)
            .await
            .map_err(|e| Msg::Failed(describe(&e)))?;
        self.reach_of(actor, g, t, key, references).await
    }

    /// [`Context::delete_reach`] for every row of `keys`, in their order, counted in
    /// batches: each row's references, or the refusal (or failure) of the first row that
    /// [`Context::delete_reach`] would refuse.
    pub(super) async fn delete_reach_many(
        &self,
        actor: &Actor,
        g: &Grants,
        t: &TableInfo,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Reference>>, Msg> {
        let schema = self.schema();
        let batch = self
            .store
            .references_many(&schema, t, keys)
            .await
            .map_err(|e| Msg::Failed(describe(&e)))?;
        let mut out = Vec::with_capacity(keys.len());
        for (key, found) in keys.iter().zip(batch) {
            let references = match found {
                Some(references) => references,
                // Not found by the batch: row by row, which says why.
                None => self
                    .store
                    .references(&schema, t, key)
                    .await
                    .map_err(|e| Msg::Failed(describe(&e)))?,
            };
            out.push(self.reach_of(actor, g, t, key, references).await?);
        }
        Ok(out)
    }

    /// What deleting row `key` reaches as the user may see it (`references` as counted),
    /// or the audited refusal of a cascade onto a model the user may not delete.
    async fn reach_of(
        &self,
        actor: &Actor,
        g: &Grants,
        t: &TableInfo,
        key: &[Value],
        mut references: Vec<Reference>,
    ) -> Result<Vec<Reference>, Msg> {
        let cascading: Vec<String> = references
            .iter()
            .filter(|r| r.on_delete.eq_ignore_ascii_case("CASCADE"))
            .map(|r| r.table.clone())
            .collect();
        let blockers = perm::cascade_blockers(g, &self.schema(), &cascading);
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
                    Some(&key_text(key)),
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

    /// Audit a denial and turn it into the message the user sees.
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
