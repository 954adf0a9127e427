//! The account rules at the session boundary: a user being set up can do nothing but the
//! set-up, and destructive or security actions need a verification no older than the
//! step-up window. Plus the account commands themselves (enrolment, password change,
//! backup codes, step-up).

use std::sync::{Arc, Mutex};

use super::{now_ms, Actor, Context};
use crate::auth::account::Acting;
use crate::auth::{backup, totp, Onboarding};
use crate::store::AuditEntry;
use crate::tui::protocol::Secret;
use crate::tui::{Cmd, Msg};

/// A session's account state, shared by the clones of its [`Actor`].
pub struct Guard {
    /// What the user must still do before anything else.
    pub onboarding: Onboarding,
    /// When a second factor was last proved (unix ms): login, enrolment or step-up.
    pub verified_at_ms: i64,
    /// The command waiting for a step-up code.
    held: Option<Cmd>,
    /// The TOTP secret being enrolled (server memory only until confirmed).
    enrol_secret: Option<Vec<u8>>,
    /// Wrong enrolment codes so far (each is audited; the count is bounded).
    enrol_failures: u32,
    /// Hashes of the backup codes on the user's screen, not saved yet: they replace the
    /// stored ones only when the user says they stored them ([`Cmd::SaveBackupCodes`]),
    /// so codes nobody saw (a session cut off, a terminal too small) are never the only
    /// ones that work.
    backup_offer: Option<Vec<String>>,
}

/// Wrong enrolment codes one session may try.
const MAX_ENROL_FAILURES: u32 = 5;

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("onboarding", &self.onboarding)
            .field("verified_at_ms", &self.verified_at_ms)
            .field("held", &self.held.is_some())
            .field("backup_offer", &self.backup_offer.is_some())
            .finish_non_exhaustive()
    }
}

impl Guard {
    pub fn new(onboarding: Onboarding, verified_at_ms: i64) -> Arc<Mutex<Guard>> {
        Arc::new(Mutex::new(Guard {
            onboarding,
            verified_at_ms,
            held: None,
            enrol_secret: None,
            enrol_failures: 0,
            backup_offer: None,
        }))
    }
}

/// What a command that needs a fresh second factor is called on the step-up prompt;
/// `None` for commands that do not.
pub fn step_up_for(cmd: &Cmd) -> Option<&'static str> {
    Some(match cmd {
        Cmd::Delete { .. } => "delete",
        Cmd::DeleteMany { .. } => "bulk delete",
        Cmd::Bulk { .. } => "bulk action",
        Cmd::BulkEdit(crate::tui::protocol::BulkCmd::Set { .. }) => "bulk edit",
        Cmd::Manage(m) if m.changes() => "account and permission changes",
        Cmd::BackupCodes => "new backup codes",
        Cmd::Undo { .. } => "revert or restore",
        _ => return None,
    })
}

/// Whether `cmd` may run while the user is at `onboarding`.
fn allowed_during(onboarding: Onboarding, cmd: &Cmd) -> bool {
    match onboarding {
        Onboarding::Done => true,
        Onboarding::Enrol => matches!(
            cmd,
            Cmd::BeginEnrolment | Cmd::ConfirmEnrolment { .. } | Cmd::Quit
        ),
        Onboarding::ChangePassword => {
            matches!(cmd, Cmd::ChangePassword { .. } | Cmd::Quit)
        }
    }
}

impl Actor {
    fn guard(&self) -> std::sync::MutexGuard<'_, Guard> {
        match self.guard.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn acting(&self, now_ms: i64) -> Acting<'_> {
        Acting {
            user_id: self.user_id,
            username: &self.username,
            ip: &self.source_ip,
            source: &self.source_key,
            session_id: &self.session_id,
            now_ms,
        }
    }
}

impl Context {
    /// The account rules every command passes first. `Err` is the answer instead of
    /// running it (a refusal, or the step-up prompt while the command is held).
    pub(super) async fn account_gate(&self, actor: &Actor, cmd: Cmd) -> Result<Cmd, Msg> {
        let now = now_ms();
        let onboarding = actor.guard().onboarding;
        if !allowed_during(onboarding, &cmd) {
            let entry = AuditEntry {
                outcome: "denied".into(),
                reason: Some("account set-up not finished".into()),
                ..actor.audit("setup_pending", "moat_users")
            };
            if let Err(e) = self.store.audit(&[entry]).await {
                tracing::error!(error = %e, "auditing a denial failed");
            }
            return Err(Msg::Failed("finish setting up your account first".into()));
        }
        if let Some(what) = step_up_for(&cmd) {
            let window = i64::try_from(self.accounts.step_up_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000);
            let mut guard = actor.guard();
            if now.saturating_sub(guard.verified_at_ms) > window {
                guard.held = Some(cmd);
                return Err(Msg::StepUp(what.into()));
            }
        }
        Ok(cmd)
    }

    /// Run an account command (already through [`Context::account_gate`]).
    pub(super) async fn account(&self, actor: &Actor, cmd: Cmd) -> Msg {
        let now = now_ms();
        let failed = |e: crate::store::StoreError| Msg::Failed(super::describe(&e));
        match cmd {
            Cmd::BeginEnrolment => {
                let mut guard = actor.guard();
                if guard.onboarding != Onboarding::Enrol {
                    return Msg::Failed("nothing to enrol".into());
                }
                let secret = guard
                    .enrol_secret
                    .get_or_insert_with(totp::generate_secret)
                    .clone();
                Msg::Enrolment {
                    uri: Secret(totp::otpauth_uri(&secret, &actor.username)),
                    secret: Secret(totp::secret_base32(&secret)),
                }
            }
            Cmd::ConfirmEnrolment { code } => {
                let (secret, tries) = {
                    let guard = actor.guard();
                    (guard.enrol_secret.clone(), guard.enrol_failures)
                };
                let Some(secret) = secret else {
                    return Msg::AccountRefused("no enrolment under way".into());
                };
                if tries >= MAX_ENROL_FAILURES {
                    return Msg::AccountRefused(
                        "too many wrong codes: disconnect and log in again to start over".into(),
                    );
                }
                match self
                    .auth
                    .confirm_enrolment(&actor.acting(now), &secret, &code.0)
                    .await
                {
                    Ok(Ok(())) => {
                        let mut guard = actor.guard();
                        guard.onboarding = Onboarding::ChangePassword;
                        guard.verified_at_ms = now;
                        guard.enrol_secret = None;
                        Msg::Enrolled
                    }
                    Ok(Err(why)) => {
                        actor.guard().enrol_failures += 1;
                        Msg::AccountRefused(why)
                    }
                    Err(e) => failed(e),
                }
            }
            Cmd::ChangePassword {
                current,
                new,
                repeat,
            } => {
                let forced = actor.guard().onboarding == Onboarding::ChangePassword;
                let current = match (forced, &current) {
                    (true, _) => None,
                    (false, Some(Secret(c))) => Some(c.as_str()),
                    (false, None) => {
                        return Msg::AccountRefused("type your current password".into())
                    }
                };
                match self
                    .auth
                    .change_password(&actor.acting(now), current, &new.0, &repeat.0)
                    .await
                {
                    Ok(Ok(())) => {
                        actor.guard().onboarding = Onboarding::Done;
                        Msg::PasswordChanged
                    }
                    Ok(Err(why)) => Msg::AccountRefused(why),
                    Err(e) => failed(e),
                }
            }
            Cmd::StepUpCancel => {
                actor.guard().held = None;
                Msg::Notice("cancelled".into())
            }
            Cmd::StepUp { code } => match self.auth.step_up(&actor.acting(now), &code.0).await {
                Ok(Ok(())) => {
                    let held = {
                        let mut guard = actor.guard();
                        guard.verified_at_ms = now;
                        guard.held.take()
                    };
                    match held {
                        Some(cmd) => Box::pin(self.execute_gated(actor, cmd))
                            .await
                            .unwrap_or_else(|| Msg::Notice("verified".into())),
                        None => Msg::Notice("verified".into()),
                    }
                }
                Ok(Err(why)) => {
                    actor.guard().held = None;
                    Msg::Failed(why)
                }
                Err(e) => failed(e),
            },
            Cmd::BackupCodes => {
                // Shown first, saved on the user's word: see `Guard::backup_offer`.
                let codes = backup::generate();
                let hashes: Vec<String> = codes
                    .iter()
                    .filter_map(|c| backup::normalize(c))
                    .map(|n| backup::hash(&n))
                    .collect();
                actor.guard().backup_offer = Some(hashes);
                Msg::BackupCodes {
                    codes: codes.into_iter().map(Secret).collect(),
                }
            }
            Cmd::SaveBackupCodes => {
                let Some(hashes) = actor.guard().backup_offer.take() else {
                    return Msg::Failed(
                        "no new backup codes to save: ask again with :backup-codes".into(),
                    );
                };
                let (by, id, name) = (actor.by(), actor.user_id, &actor.username);
                match crate::ops::replace_backup_codes(&self.store, by, id, name, &hashes, now_ms())
                    .await
                {
                    Ok(()) => Msg::BackupCodesSaved,
                    Err(e) => {
                        // Still on screen: Enter may try again.
                        actor.guard().backup_offer = Some(hashes);
                        failed(e)
                    }
                }
            }
            Cmd::DropBackupCodes => {
                actor.guard().backup_offer = None;
                Msg::Notice("new backup codes dropped: your earlier codes still work".into())
            }
            _ => {
                tracing::error!("not an account command");
                Msg::Failed("internal error".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::protocol::{ManageCmd, Panel};

    #[test]
    fn sensitive_commands_need_step_up() {
        let del = Cmd::Delete {
            model: "posts".into(),
            key: vec![],
        };
        assert_eq!(step_up_for(&del), Some("delete"));
        assert!(step_up_for(&Cmd::BackupCodes).is_some());
        assert!(step_up_for(&Cmd::Manage(ManageCmd::EndSession { id: "ab".into() })).is_some());
        assert!(step_up_for(&Cmd::Manage(ManageCmd::Load(Panel::Users))).is_none());
        assert!(step_up_for(&Cmd::LoadModels).is_none());
        assert!(step_up_for(&Cmd::Undo { entry: 1 }).is_some());
        assert!(step_up_for(&Cmd::AskUndo { entry: 1 }).is_none());
    }

    #[test]
    fn set_up_allows_only_its_own_steps() {
        assert!(allowed_during(Onboarding::Enrol, &Cmd::BeginEnrolment));
        assert!(!allowed_during(Onboarding::Enrol, &Cmd::LoadModels));
        let change = Cmd::ChangePassword {
            current: None,
            new: Secret("a".into()),
            repeat: Secret("a".into()),
        };
        assert!(!allowed_during(Onboarding::Enrol, &change), "code first");
        assert!(allowed_during(Onboarding::ChangePassword, &change));
        assert!(!allowed_during(
            Onboarding::ChangePassword,
            &Cmd::LoadModels
        ));
        assert!(allowed_during(Onboarding::Done, &Cmd::LoadModels));
    }
}
