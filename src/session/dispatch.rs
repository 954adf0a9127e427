//! The boundary every command crosses: the account rules (set-up, step-up), the user's
//! grants read afresh, then one handler per command. Handlers check before every store
//! call and audit every denial; each answers with one message (a refusal is a message
//! too).

use super::{describe, Actor, Context, SaveRequest};
use crate::auth::keys::parse_public_key;
use crate::store::StoreError;
use crate::tui::protocol::ManageCmd;
use crate::tui::{Cmd, Msg};

/// What a handler answers: `Ok` with the answer, `Err` with the refusal to show.
pub(super) type Reply = Result<Msg, Msg>;

/// A store error as the refusal the user sees.
pub(super) fn failed(e: StoreError) -> Msg {
    Msg::Failed(describe(&e))
}

/// A command whose input cannot be right, refused before anything else (before a
/// step-up is asked for it): a key line that is no public key moat takes. The message
/// says why without repeating what was pasted (it may be a private key).
fn malformed(cmd: &Cmd) -> Option<Msg> {
    match cmd {
        Cmd::Manage(ManageCmd::AddKey { line }) => parse_public_key(line)
            .err()
            .map(|e| Msg::Failed(format!("key not added: {e}"))),
        _ => None,
    }
}

impl Context {
    /// A store error on `model`'s table as the user should read it: when the table is gone
    /// from the database (dropped or renamed since moat read the schema), say so rather
    /// than pass on the database's complaint.
    pub(super) async fn model_failed(&self, model: &str, e: StoreError) -> Msg {
        if let StoreError::Db(_) = e {
            let gone = match self.store.introspect().await {
                Ok(schema) => schema.table(model).is_none(),
                Err(_) => false,
            };
            if gone {
                tracing::warn!(model, error = %e, "a model's table is gone");
                return Msg::Failed(format!(
                    "{model} is no longer in the database (dropped or renamed); \
                     :reload re-reads the tables"
                ));
            }
        }
        failed(e)
    }

    /// Check and run one command: the boundary every action crosses, whatever the UI
    /// showed. Every store call is preceded by a permission check; every denial is
    /// audited.
    pub async fn execute(&self, actor: &Actor, cmd: Cmd) -> Option<Msg> {
        if let Some(refused) = malformed(&cmd) {
            return Some(refused);
        }
        match self.account_gate(actor, cmd).await {
            Ok(cmd) => self.execute_gated(actor, cmd).await,
            Err(answer) => Some(answer),
        }
    }

    /// [`Context::execute`] after the account rules passed (or, for a command held for
    /// step-up, after the fresh code was accepted).
    pub(super) async fn execute_gated(&self, actor: &Actor, cmd: Cmd) -> Option<Msg> {
        // The time needs no grants (and no database round trip).
        if cmd == Cmd::Now {
            return Some(Msg::Now(super::now_ms() / 1000));
        }
        // Grants are read afresh for every command, so a revocation takes effect at once.
        let g = &match self.store.grants(actor.user_id).await {
            Ok(g) => g,
            Err(e) => return Some(failed(e)),
        };
        let a = actor;
        let reply = match cmd {
            Cmd::Quit => return None,
            account @ (Cmd::BeginEnrolment
            | Cmd::ConfirmEnrolment { .. }
            | Cmd::ChangePassword { .. }
            | Cmd::StepUp { .. }
            | Cmd::StepUpCancel
            | Cmd::BackupCodes
            | Cmd::SaveBackupCodes
            | Cmd::DropBackupCodes) => Ok(self.account(a, account).await),
            Cmd::Manage(m) => Ok(self.manage(a, g, m).await),
            Cmd::LoadModels => Ok(self.models(g)),
            Cmd::Now => Ok(Msg::Now(super::now_ms() / 1000)), // answered above
            Cmd::Count { model, query } => self.count(a, g, model, query).await,
            Cmd::LoadPage {
                model,
                anchor,
                limit,
                query,
            } => self.page(a, g, model, anchor, limit, query).await,
            Cmd::LoadDistinct {
                model,
                column,
                query,
            } => self.distinct(a, g, model, column, query).await,
            Cmd::LoadRecord { model, key } => self.record(a, g, model, key).await,
            Cmd::LoadHistory { model, key } => self.history(a, g, model, key).await,
            Cmd::OpenForm { model, key } => self.open_form(a, g, model, key).await,
            Cmd::Save {
                model,
                key,
                original,
                values,
                overwrite,
            } => {
                let req = SaveRequest {
                    model,
                    key,
                    original,
                    values,
                    overwrite,
                };
                self.save(a, g, req).await
            }
            Cmd::AskDelete { model, key } => self.ask_delete(a, g, model, vec![key]).await,
            Cmd::AskDeleteMany { model, keys } => self.ask_delete(a, g, model, keys).await,
            Cmd::Delete { model, key } => self.delete(a, g, model, key).await,
            Cmd::DeleteMany { model, keys } => self.delete_many(a, g, model, keys).await,
            Cmd::Bulk {
                model,
                action,
                keys,
            } => self.bulk(a, g, model, action, keys).await,
            Cmd::BulkEdit(b) => self.bulk_edit(a, g, b).await,
            Cmd::Export { model, query } => self.export(a, g, model, query).await,
            Cmd::LoadAudit { query, before_id } => self.audit_page(a, g, query, before_id).await,
            Cmd::ReloadSchema => self.reload(a, g).await,
            Cmd::Open { model, key } => self.open(a, g, &model, key.as_deref()).await,
            Cmd::Locate { model, key, query } => self.locate(a, g, model, &key, query).await,
            Cmd::LoadColumns { model } => self.columns(a, g, model).await,
            Cmd::SetColumns { model, columns } => self.set_columns(a, g, model, columns).await,
            Cmd::OpenRelated {
                model,
                column,
                value,
            } => self.open_related(a, g, model, column, value).await,
            Cmd::AskUndo { entry } => self.ask_undo(a, g, entry).await,
            Cmd::Undo { entry } => self.undo(a, g, entry).await,
            Cmd::LoadExports => self.exports_list(a).await,
            Cmd::DeleteExport { name } => self.delete_export(a, &name).await,
            Cmd::Replay { session } => match self.replay(a, &session).await {
                Ok(replay) => Ok(Msg::Replay(Box::new(replay))),
                Err(why) => Err(Msg::Failed(why)),
            },
        };
        Some(reply.unwrap_or_else(|refused| refused))
    }
}
