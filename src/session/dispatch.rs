//! The boundary every command crosses: the account rules, fresh grants, then one handler
//! per command.

use super::{describe, history_lines, Actor, Context, SaveRequest};
use crate::domain::ColumnKind;
use crate::domain::{pk_text, Sort};
use crate::perm::{self, Action};
use crate::store::AuditEntry;
use crate::tui::app::ModelSummary;
use crate::tui::{Cmd, Msg};

impl Context {
    /// Check and run one command: the boundary every action crosses, whatever the UI
    /// showed. Every store call is preceded by a permission check; every denial is
    /// audited.
    pub async fn execute(&self, actor: &Actor, cmd: Cmd) -> Option<Msg> {
        match self.account_gate(actor, cmd).await {
            Ok(cmd) => self.execute_gated(actor, cmd).await,
            Err(answer) => Some(answer),
        }
    }

    /// [`Context::execute`] after the account rules passed (or, for a command held for
    /// step-up, after the fresh code was accepted).
    pub(super) async fn execute_gated(&self, actor: &Actor, cmd: Cmd) -> Option<Msg> {
        // Grants are read afresh for every command, so a revocation takes effect at once.
        let fresh = match self.store.grants(actor.user_id).await {
            Ok(g) => g,
            Err(e) => return Some(Msg::Failed(describe(&e))),
        };
        let g = &fresh;
        let result = match cmd {
            Cmd::Quit => return None,
            account @ (Cmd::BeginEnrolment
            | Cmd::ConfirmEnrolment { .. }
            | Cmd::ChangePassword { .. }
            | Cmd::StepUp { .. }
            | Cmd::StepUpCancel
            | Cmd::BackupCodes
            | Cmd::SaveBackupCodes
            | Cmd::DropBackupCodes) => return Some(self.account(actor, account).await),
            Cmd::Manage(m) => return Some(self.manage(actor, g, m).await),
            Cmd::LoadModels => {
                let models = self
                    .schema
                    .tables
                    .iter()
                    .filter(|t| perm::model_listed(g, &t.name))
                    .map(|t| {
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
                        }
                    })
                    .collect();
                return Some(Msg::Models(models));
            }
            Cmd::Count { model, query } => match self.listable(actor, g, &model, &query).await {
                Ok((t, listing)) => self
                    .store
                    .count_rows(&t.table, &listing)
                    .await
                    .map(|count| Msg::Counted {
                        model,
                        query,
                        count,
                    }),
                Err(denied) => return Some(denied),
            },
            Cmd::LoadPage {
                model,
                anchor,
                limit,
                query,
            } => match self.listable(actor, g, &model, &query).await {
                Ok((t, listing)) => self
                    .store
                    .page(&t.table, &anchor, limit, &listing)
                    .await
                    .map(|mut page| {
                        for row in &mut page.rows {
                            t.mask(&mut row.values);
                        }
                        Msg::Page {
                            model,
                            anchor,
                            page,
                        }
                    }),
                Err(denied) => return Some(denied),
            },
            Cmd::AskDelete { model, key } => {
                let checked = self
                    .row_allowed(actor, g, &Action::Delete, &model, &key)
                    .await;
                match checked.and_then(|_| self.full_table(&model)) {
                    Ok(t) => match self.delete_reach(actor, g, t, &key).await {
                        Ok(references) => Ok(Msg::DeleteAsk {
                            model,
                            key,
                            references,
                        }),
                        Err(refused) => return Some(refused),
                    },
                    Err(refused) => return Some(refused),
                }
            }
            Cmd::Delete { model, key } => {
                let checked = self
                    .row_allowed(actor, g, &Action::Delete, &model, &key)
                    .await;
                match checked.and_then(|_| self.full_table(&model)) {
                    Ok(t) => {
                        if let Err(refused) = self.delete_reach(actor, g, t, &key).await {
                            return Some(refused);
                        }
                        let audit = AuditEntry {
                            pk: pk_text(&key),
                            ..actor.audit("delete", &model)
                        };
                        self.store
                            .delete_record(&self.schema, t, &key, audit)
                            .await
                            .map(|()| Msg::Deleted { model, key })
                    }
                    Err(refused) => return Some(refused),
                }
            }
            Cmd::OpenForm { model, key } => match self.open_form(actor, g, model, key).await {
                Ok(msg) | Err(msg) => return Some(msg),
            },
            Cmd::Save {
                model,
                key,
                original,
                values,
                overwrite,
            } => {
                let save = SaveRequest {
                    model,
                    key,
                    original,
                    values,
                    overwrite,
                };
                match self.save(actor, g, save).await {
                    Ok(msg) | Err(msg) => return Some(msg),
                }
            }
            Cmd::DeleteMany { model, keys } => {
                // Every row is checked before any is deleted; then all go, or none.
                for key in &keys {
                    if let Err(denied) = self
                        .row_allowed(actor, g, &Action::Delete, &model, key)
                        .await
                    {
                        return Some(denied);
                    }
                }
                match self.full_table(&model) {
                    Ok(t) => {
                        for key in &keys {
                            if let Err(refused) = self.delete_reach(actor, g, t, key).await {
                                return Some(refused);
                            }
                        }
                        let audit = AuditEntry {
                            reason: Some(format!("bulk delete of {} rows", keys.len())),
                            ..actor.audit("delete", &model)
                        };
                        let count = keys.len();
                        self.store
                            .delete_records(&self.schema, t, &keys, audit)
                            .await
                            .map(|()| Msg::DeletedMany { model, count })
                    }
                    Err(refused) => return Some(refused),
                }
            }
            Cmd::Export { model, query } => {
                return Some(match self.export(actor, g, model, query).await {
                    Ok(msg) | Err(msg) => msg,
                });
            }
            Cmd::LoadDistinct {
                model,
                column,
                query,
            } => {
                let checked = self.listable(actor, g, &model, &query).await;
                match checked {
                    Ok((t, listing)) => {
                        if !t.table.columns.iter().enumerate().any(|(i, c)| {
                            c.name == column && !t.masked.get(i).copied().unwrap_or(true)
                        }) {
                            return Some(Msg::Failed(format!("cannot filter by {column}")));
                        }
                        let kind = t
                            .table
                            .column(&column)
                            .map(ColumnKind::of_column)
                            .unwrap_or(ColumnKind::Text);
                        self.store
                            .distinct_values(&t.table, &column, &listing, 50)
                            .await
                            .map(|values| Msg::Distinct {
                                model,
                                column,
                                ranged: matches!(
                                    kind,
                                    ColumnKind::Date
                                        | ColumnKind::Timestamp
                                        | ColumnKind::Integer
                                        | ColumnKind::Real
                                ),
                                boolean: kind == ColumnKind::Boolean,
                                values,
                            })
                    }
                    Err(denied) => return Some(denied),
                }
            }
            Cmd::LoadAudit { query, before_id } => {
                return Some(match self.audit_page(actor, g, query, before_id).await {
                    Ok(msg) | Err(msg) => msg,
                });
            }
            Cmd::Bulk {
                model,
                action,
                keys,
            } => {
                return Some(match self.bulk(actor, g, model, action, keys).await {
                    Ok(msg) | Err(msg) => msg,
                });
            }
            Cmd::LoadHistory { model, key } => {
                match self
                    .row_allowed(actor, g, &Action::View, &model, &key)
                    .await
                {
                    Ok(t) => match pk_text(&key) {
                        Some(pk) => {
                            self.store
                                .record_history(&model, &pk, 200)
                                .await
                                .map(|entries| Msg::History {
                                    lines: history_lines(&t, &entries),
                                    model,
                                    key,
                                })
                        }
                        None => return Some(Msg::Failed("this row has a composite key".into())),
                    },
                    Err(denied) => return Some(denied),
                }
            }
            Cmd::LoadRecord { model, key } => {
                match self
                    .row_allowed(actor, g, &Action::View, &model, &key)
                    .await
                {
                    Ok(t) => self.record_msg(g, &t, model, &key).await,
                    Err(denied) => return Some(denied),
                }
            }
        };
        Some(result.unwrap_or_else(|e| Msg::Failed(describe(&e))))
    }
}
