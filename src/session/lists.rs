//! The index and the lists: which models a user sees, a model's rows one page at a time
//! (masked, filtered to the rows they may see, with what they may do on each), its count,
//! a column's most common values for the filter picker, and a record's related rows.

use super::dispatch::{failed, Reply};
use super::{Actor, Context, Shown};
use crate::domain::{
    pk_text, ColumnKind, Filter, FilterOp, Grants, ListQuery, Page, PageAnchor, Sort, TableInfo,
    Value,
};
use crate::perm::{self, Action, Visibility};
use crate::store::AuditEntry;
use crate::tui::protocol::{LinkNames, ModelSummary, Related, RELATED_COUNT_LIMIT};
use crate::tui::Msg;

impl Context {
    /// The models `g` may see, with what they may do on each, in the order the index
    /// shows them: by label.
    pub(super) fn models(&self, g: &Grants) -> Msg {
        let schema = self.schema();
        let mut models: Vec<ModelSummary> = schema
            .tables
            .iter()
            .filter(|t| perm::model_listed(g, &t.name))
            .map(|t| self.summary(g, t))
            .collect();
        models.sort_by_key(|m| m.label.to_lowercase());
        Msg::Models(models)
    }

    /// Model `t` as the console lists it.
    fn summary(&self, g: &Grants, t: &TableInfo) -> ModelSummary {
        let rules = self.rules.get(&t.name);
        ModelSummary {
            name: t.name.clone(),
            label: rules
                .and_then(|r| r.label.clone())
                .unwrap_or_else(|| t.name.clone()),
            columns: t.columns.len(),
            ordering: rules.and_then(|r| r.ordering.as_deref()).map(|o| Sort {
                column: o.trim_start_matches('-').to_string(),
                descending: o.starts_with('-'),
            }),
            page_size: rules.and_then(|r| r.page_size),
            bulk_actions: rules
                .map(|r| r.bulk.iter().map(|a| a.name.clone()).collect())
                .unwrap_or_default(),
            caps: perm::capabilities(g, &t.name),
        }
    }

    /// `:MODEL [KEY]`: the model (by name, or by its label ignoring case) if `g` may see
    /// it, and the key typed, read as the key columns' values.
    pub(super) async fn open(
        &self,
        actor: &Actor,
        g: &Grants,
        model: &str,
        key: Option<&str>,
    ) -> Reply {
        let schema = self.schema();
        let found = schema.table(model).or_else(|| {
            schema.tables.iter().find(|t| {
                self.rules
                    .get(&t.name)
                    .and_then(|r| r.label.as_deref())
                    .is_some_and(|l| l.eq_ignore_ascii_case(model))
            })
        });
        let Some(t) = found.filter(|t| perm::model_listed(g, &t.name)) else {
            return Err(Msg::Failed(format!(
                "no command or model :{model} (try {})",
                crate::tui::protocol::COMMANDS
            )));
        };
        let key = match key {
            None => None,
            Some(text) => Some(typed_key(t, text).map_err(Msg::Failed)?),
        };
        if let Some(k) = &key {
            // Asked for a row: the same check as opening it from a list.
            self.row_allowed(actor, g, &Action::View, &t.name, k)
                .await?;
        }
        Ok(Msg::Open {
            model: Box::new(self.summary(g, t)),
            key,
        })
    }

    /// The columns `actor` chose for `model`'s list, as the column rules let them see
    /// them now; `None` when they chose none (or none they may still see).
    async fn chosen_columns(&self, actor: &Actor, g: &Grants, model: &str) -> Option<Shown> {
        let names = self
            .store
            .list_columns(actor.user_id, model)
            .await
            .ok()
            .flatten()?;
        let shown = self.table(g, model).ok()?.only(&names);
        (!shown.table.columns.is_empty()).then_some(shown)
    }

    /// The column chooser's data: every column the user is shown, the list's now, and
    /// the model's default.
    pub(super) async fn columns(&self, actor: &Actor, g: &Grants, model: String) -> Reply {
        let all = self.table(g, &model)?;
        let default = all.clone().listed(self.rules.get(&model));
        let chosen = self
            .chosen_columns(actor, g, &model)
            .await
            .unwrap_or_else(|| default.clone());
        let names = |s: &Shown| s.table.columns.iter().map(|c| c.name.clone()).collect();
        Ok(Msg::Columns {
            all: names(&all),
            chosen: names(&chosen),
            default: names(&default),
            model,
        })
    }

    /// Keep the user's choice of columns for `model`'s list (`None`: back to the default).
    /// Only columns the user is shown, each once, at least one.
    pub(super) async fn set_columns(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        columns: Option<Vec<String>>,
    ) -> Reply {
        let all = self.table(g, &model)?;
        if let Some(names) = &columns {
            if names.is_empty() {
                return Err(Msg::Failed("a list needs at least one column".into()));
            }
            for (i, name) in names.iter().enumerate() {
                if all.table.column(name).is_none() {
                    return Err(Msg::Failed(format!(
                        "{model} has no column {name} you may see"
                    )));
                }
                if names[..i].contains(name) {
                    return Err(Msg::Failed(format!("column {name} is listed twice")));
                }
            }
        }
        self.store
            .set_list_columns(actor.user_id, &model, columns.as_deref())
            .await
            .map_err(failed)?;
        Ok(Msg::ColumnsSet { model })
    }

    /// `#KEY` in a list: where that row sits in the list as queried (search, filters,
    /// sort, object permissions). A row the list does not hold is answered the same
    /// whether it is filtered out, not the user's to see, or not there at all.
    pub(super) async fn locate(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        key: &str,
        query: ListQuery,
    ) -> Reply {
        let (t, listing) = self.listable(actor, g, &model, &query).await?;
        let key = typed_key(&t.table, key).map_err(Msg::Failed)?;
        let label = crate::domain::key_label(&key);
        match self.store.locate(&t.table, &key, &listing).await {
            Ok(Some(cursor)) => Ok(Msg::Located { model, key, cursor }),
            Ok(None) => Err(Msg::Failed(format!(
                "no row {label} in this list{}",
                if query.search.is_some() || !query.filters.is_empty() {
                    " (as searched and filtered: Esc clears)"
                } else {
                    ""
                }
            ))),
            Err(e) => Err(self.model_failed(&model, e).await),
        }
    }

    /// The models whose single-column foreign keys point at row `key` of `table`, with
    /// how many of their rows refer to it — as `actor` may see them (the same object
    /// permission filter as their lists), counted up to [`RELATED_COUNT_LIMIT`]. Models
    /// the user may not list, or may not filter by that column (a hidden or masked
    /// column would give its values away), are left out. None for a composite key.
    pub(super) async fn related(
        &self,
        actor: &Actor,
        g: &Grants,
        table: &TableInfo,
        key: &[Value],
    ) -> Result<Vec<Related>, Msg> {
        let [value] = key else {
            return Ok(Vec::new());
        };
        let schema = self.schema();
        let mut related = Vec::new();
        for child in &schema.tables {
            if !perm::model_listed(g, &child.name)
                || perm::visibility(g, &child.name) == Visibility::Nothing
            {
                continue;
            }
            let Ok(shown) = self.table(g, &child.name) else {
                continue;
            };
            for fk in &child.foreign_keys {
                let [column] = fk.columns.as_slice() else {
                    continue;
                };
                if fk.ref_table != table.name
                    || self.link_of(child, column).as_deref() != Some(table.name.as_str())
                    || !shown.may_filter(column)
                {
                    continue;
                }
                let query = ListQuery {
                    filters: vec![Filter {
                        column: column.clone(),
                        op: FilterOp::Equals(value.clone()),
                    }],
                    ..ListQuery::default()
                };
                let (t, listing) = self.listable(actor, g, &child.name, &query).await?;
                let count = self
                    .store
                    .count_rows_up_to(&t.table, &listing, RELATED_COUNT_LIMIT)
                    .await
                    .map_err(failed)?;
                related.push(Related {
                    model: child.name.clone(),
                    label: self.summary(g, child).label,
                    column: column.clone(),
                    value: value.clone(),
                    count,
                });
            }
        }
        related.sort_by_key(|r| (r.label.to_lowercase(), r.column.clone()));
        Ok(related)
    }

    /// A record's related rows: `model` listed with the filter `column = value`, checked
    /// as any list and filter is.
    pub(super) async fn open_related(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        column: String,
        value: Value,
    ) -> Reply {
        let filter = Filter {
            column,
            op: FilterOp::Equals(value),
        };
        let query = ListQuery {
            filters: vec![filter.clone()],
            ..ListQuery::default()
        };
        let (t, _) = self.listable(actor, g, &model, &query).await?;
        Ok(Msg::OpenRelated {
            model: Box::new(self.summary(g, &t.table)),
            filter,
        })
    }

    /// How many rows of `model` the list as queried has, as `actor` may see them.
    pub(super) async fn count(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        query: ListQuery,
    ) -> Reply {
        let (t, listing) = self.listable(actor, g, &model, &query).await?;
        let count = match self.store.count_rows(&t.table, &listing).await {
            Ok(count) => count,
            Err(e) => return Err(self.model_failed(&model, e).await),
        };
        Ok(Msg::Counted {
            model,
            query,
            count,
        })
    }

    /// A page of `model`'s rows: masked values masked, and with object permissions, what
    /// the user may do on each row.
    pub(super) async fn page(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        anchor: PageAnchor,
        limit: u32,
        query: ListQuery,
    ) -> Reply {
        let (t, listing) = self.listable(actor, g, &model, &query).await?;
        let t = match self.chosen_columns(actor, g, &model).await {
            Some(chosen) => chosen,
            None => t,
        };
        let mut page = match self.store.page(&t.table, &anchor, limit, &listing).await {
            Ok(page) => page,
            Err(e) => return Err(self.model_failed(&model, e).await),
        };
        for row in &mut page.rows {
            t.mask(&mut row.values);
        }
        let caps = perm::capabilities(g, &model);
        let row_caps = match perm::visibility(g, &model) {
            Visibility::Granted => {
                let pks: Vec<String> = page.rows.iter().filter_map(|r| pk_text(&r.key)).collect();
                let held = self
                    .store
                    .rows_perms(actor.user_id, &model, &pks)
                    .await
                    .map_err(failed)?;
                let none = Default::default();
                Some(
                    page.rows
                        .iter()
                        .map(|r| {
                            let on_row = pk_text(&r.key).and_then(|pk| held.get(&pk));
                            perm::row_capabilities(g, &model, on_row.unwrap_or(&none))
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        let links = self.link_names(g, &t, &page).await;
        let key_columns = t.table.key_columns();
        let kinds = page
            .columns
            .iter()
            .map(|c| {
                t.table
                    .column(c)
                    .map_or(ColumnKind::Integer, ColumnKind::of_column)
            })
            .collect();
        Ok(Msg::Page {
            model,
            anchor,
            key_columns,
            kinds,
            links,
            page: Box::new(page),
            caps,
            row_caps,
        })
    }

    /// For each foreign-key column of `page` whose values the viewer may see, the names of
    /// the rows they point at (one query per column), where the viewer may see those.
    async fn link_names(&self, g: &Grants, t: &Shown, page: &Page) -> Vec<LinkNames> {
        let mut out = Vec::new();
        for (column, name) in page.columns.iter().enumerate() {
            if !t.visible(name) {
                continue;
            }
            let Some(target) = self.link_of(&t.table, name) else {
                continue;
            };
            let mut keys: Vec<Value> = Vec::new();
            for v in page.rows.iter().filter_map(|r| r.values.get(column)) {
                if !v.is_null() && !keys.contains(v) {
                    keys.push(v.clone());
                }
            }
            let found = self.displays_of(g, &target, &keys).await;
            if found.is_empty() {
                continue;
            }
            let names = page
                .rows
                .iter()
                .map(|r| {
                    let v = r.values.get(column)?;
                    found.iter().find(|(k, _)| k == v).map(|(_, n)| n.clone())
                })
                .collect();
            out.push(LinkNames { column, names });
        }
        out
    }

    /// The most common values of `column` in the list as queried (for its filter).
    pub(super) async fn distinct(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        column: String,
        query: ListQuery,
    ) -> Reply {
        let (t, listing) = self.listable(actor, g, &model, &query).await?;
        if !t.may_filter(&column) {
            return Err(Msg::Failed(format!("cannot filter by {column}")));
        }
        let col = t.table.column(&column);
        let kind = col.map(ColumnKind::of_column).unwrap_or(ColumnKind::Text);
        let mut values: Vec<(Value, u64)> = match self
            .store
            .distinct_values(&t.table, &column, &listing, 50)
            .await
        {
            Ok(values) => values,
            Err(e) => return Err(self.model_failed(&model, e).await),
        };
        // A column limited to a list offers every value of it, also those no row holds yet.
        for choice in col.map(|c| c.choices()).unwrap_or_default() {
            let v = Value::Text(choice.clone());
            if !values.iter().any(|(have, _)| *have == v) {
                values.push((v, 0));
            }
        }
        Ok(Msg::Distinct {
            model,
            column,
            kind,
            values,
        })
    }

    /// Read the database's tables again (superusers, audited): new tables appear in
    /// every session's index, dropped ones go.
    pub(super) async fn reload(&self, actor: &Actor, g: &Grants) -> Reply {
        let action = Action::Custom("schema_reload".into());
        if !g.is_superuser {
            return Err(self
                .deny(actor, &action, "moat", None, "only superusers")
                .await);
        }
        let tables = self.reload_schema().await.map_err(Msg::Failed)?;
        let audit = AuditEntry {
            reason: Some(format!("{tables} tables")),
            ..actor.audit("schema_reload", "moat")
        };
        self.store.audit(&[audit]).await.map_err(failed)?;
        Ok(Msg::SchemaReloaded { tables })
    }
}

/// The key `text` of a row of `t`, read as its key columns' values: `42`, or `5,3` for a
/// key of two columns (numbers as numbers, the rest as text).
fn typed_key(t: &TableInfo, text: &str) -> Result<Vec<Value>, String> {
    let columns = t.key_columns();
    let parts: Vec<&str> = if columns.len() == 1 {
        vec![text.trim()]
    } else {
        text.split(',').map(str::trim).collect()
    };
    if parts.len() != columns.len() {
        return Err(format!(
            "{}'s key has {} columns ({}): type them separated by commas",
            t.name,
            columns.len(),
            columns.join(", ")
        ));
    }
    columns
        .iter()
        .zip(parts)
        .map(|(c, part)| {
            let kind = t
                .column(c)
                .map(ColumnKind::of_column)
                .unwrap_or(ColumnKind::Integer); // the rowid
            match kind {
                ColumnKind::Integer => part
                    .parse::<i64>()
                    .map(Value::Integer)
                    .map_err(|_| format!("{}'s key {c} is a number, not `{part}`", t.name)),
                _ => Ok(Value::Text(part.to_string())),
            }
        })
        .collect()
}
