//! Management commands (users, groups, permissions) at the session boundary.
//!
//! Each is guarded by its own permission (`moat.manage_users`, `moat.manage_groups`,
//! `moat.manage_permissions`); nobody but a superuser may give what they do not hold
//! themselves (a permission, or membership of a group holding more than they do), or
//! touch a superuser's account. Every write carries its audit row; every refusal is
//! audited too.

use std::sync::Arc;

use super::dispatch::failed;
use super::{now_ms, Actor, Context};
use crate::auth::keys::parse_public_key;
use crate::auth::validate_name;
use crate::domain::Grants;
use crate::ops;
use crate::perm::{self, moat_perms, Decision};
use crate::store::{AuditEntry, KeySelector, NewKey, NewUser, Principal};
use crate::tui::protocol::{
    EndedEntry, GroupEntry, KeyEntry, ManageCmd, ManageMsg, Panel, PanelData, SessionEntry,
    UserEntry, Who,
};
use crate::tui::Msg;

/// A refusal to show (and, for denials, to audit).
type Refused = Msg;

/// Ended sessions the console lists, newest first.
const ENDED_LISTED: i64 = 200;

impl Context {
    /// Check and run one management command.
    pub(super) async fn manage(&self, actor: &Actor, g: &Grants, cmd: ManageCmd) -> Msg {
        match self.manage_checked(actor, g, cmd).await {
            Ok(msg) | Err(msg) => msg,
        }
    }

    async fn manage_checked(
        &self,
        actor: &Actor,
        g: &Grants,
        cmd: ManageCmd,
    ) -> Result<Msg, Refused> {
        use moat_perms::{MANAGE_GROUPS, MANAGE_PERMISSIONS, MANAGE_USERS};
        match cmd {
            ManageCmd::Load(panel) => {
                let needed = match &panel {
                    Panel::Users | Panel::User(_) => MANAGE_USERS,
                    Panel::Groups | Panel::Group(_) => MANAGE_GROUPS,
                    Panel::Row { .. } => MANAGE_PERMISSIONS,
                    Panel::Sessions => {
                        // Holders of moat.view_recordings get the ended sessions only.
                        if !g.is_superuser && self.may_replay(g) {
                            return Ok(Msg::Manage(ManageMsg::Loaded(PanelData::Sessions {
                                now: now_ms() / 1000,
                                sessions: Vec::new(),
                                live: false,
                                replay: true,
                            })));
                        }
                        self.require_superuser(actor, g, "sessions").await?;
                        return self.load_panel(g, panel).await;
                    }
                    Panel::Keys(user) => {
                        let (id, name) = self.key_owner(actor, g, user.as_deref(), "keys").await?;
                        let keys = self.store.user_keys(id).await.map_err(failed)?;
                        return Ok(Msg::Manage(ManageMsg::Loaded(PanelData::Keys {
                            user: user.clone(),
                            name,
                            keys: keys
                                .into_iter()
                                .map(|k| KeyEntry {
                                    id: k.id,
                                    algorithm: k.algorithm,
                                    fingerprint: k.fingerprint,
                                    comment: k.comment,
                                    added: k.created_at,
                                    last_used: k.last_used_at,
                                })
                                .collect(),
                        })));
                    }
                    Panel::Ended => {
                        if !self.may_replay(g) {
                            return Err(self
                                .refuse(
                                    actor,
                                    "ended_sessions",
                                    None,
                                    "no moat.view_recordings permission",
                                )
                                .await);
                        }
                        return self.load_panel(g, panel).await;
                    }
                };
                self.require(actor, g, needed, "load").await?;
                self.load_panel(g, panel).await
            }
            ManageCmd::CreateUser(name) => {
                self.require(actor, g, MANAGE_USERS, "create_user").await?;
                self.create_user(actor, &name).await
            }
            ManageCmd::CreateGroup(name) => {
                self.require(actor, g, MANAGE_GROUPS, "create_group")
                    .await?;
                validate_name(&name).map_err(Msg::Failed)?;
                // A name that column rules exempt is an exemption: only for its holders.
                let conferred = perm::Conferred {
                    exempt_on: perm::exemptions_of_group(&self.rules, &name),
                    ..perm::Conferred::default()
                };
                self.confer(actor, g, &conferred, "create_group").await?;
                ops::create_group(&self.store, actor.by(), &name, &[], now_ms())
                    .await
                    .map_err(failed)?;
                Ok(changed(format!("group {name} created")))
            }
            ManageCmd::SetActive { user, active } => {
                self.require(actor, g, MANAGE_USERS, "user_active").await?;
                if user == actor.username && !active {
                    return Err(Msg::Failed("you cannot disable yourself".into()));
                }
                let id = self.target_user(actor, g, &user, "user_active").await?;
                ops::set_active(&self.store, actor.by(), id, &user, active, now_ms())
                    .await
                    .map_err(failed)?;
                if !active {
                    self.live.end_user(id, "your account was disabled");
                }
                Ok(changed(format!(
                    "user {user} {}",
                    if active { "enabled" } else { "disabled" }
                )))
            }
            ManageCmd::DeleteUser { user } => {
                self.require(actor, g, MANAGE_USERS, "user_delete").await?;
                if user == actor.username {
                    return Err(Msg::Failed("you cannot delete yourself".into()));
                }
                let id = self.target_user(actor, g, &user, "user_delete").await?;
                if self.store.is_last_superuser(id).await.map_err(failed)? {
                    return Err(Msg::Failed(format!(
                        "{user} is the last active superuser: make another superuser first"
                    )));
                }
                let held = self.store.perm_listing(id).await.map_err(failed)?;
                // Disabled first, so their sessions on every instance end; then deleted.
                if held.is_active {
                    ops::set_active(&self.store, actor.by(), id, &user, false, now_ms())
                        .await
                        .map_err(failed)?;
                }
                self.live.end_user(id, "your account was deleted");
                ops::delete_user(&self.store, actor.by(), (id, &user), &held, now_ms())
                    .await
                    .map_err(failed)?;
                Ok(changed(format!(
                    "user {user} deleted (memberships, permissions, keys and second factor \
                     removed; their sessions ended)"
                )))
            }
            ManageCmd::DeleteGroup { group } => {
                self.require(actor, g, MANAGE_GROUPS, "group_delete")
                    .await?;
                self.unconfigured(&group, "delete it")?;
                let id = self.group_id(&group).await?;
                let held = self.store.group_usage(id).await.map_err(failed)?;
                ops::delete_group(&self.store, actor.by(), (id, &group), &held, now_ms())
                    .await
                    .map_err(failed)?;
                Ok(changed(format!(
                    "group {group} deleted with its {} memberships, {} model and {} object \
                     permissions",
                    held.members.len(),
                    held.model_perms.len(),
                    held.object_perms.len()
                )))
            }
            ManageCmd::RenameGroup { group, to } => {
                self.require(actor, g, MANAGE_GROUPS, "group_rename")
                    .await?;
                validate_name(&to).map_err(Msg::Failed)?;
                self.unconfigured(&group, "rename it")?;
                self.unconfigured(&to, "rename a group to it")?;
                let id = self.group_id(&group).await?;
                ops::rename_group(&self.store, actor.by(), (id, &group), &to, now_ms())
                    .await
                    .map_err(failed)?;
                Ok(changed(format!(
                    "group {group} renamed to {to} (members and permissions kept)"
                )))
            }
            ManageCmd::ResetTwoFactor { user } => {
                // The one-time password it shows lets its holder become the user: only a
                // superuser may hand that out (manage_users alone would be an escalation).
                self.require_superuser(actor, g, "reset_2fa").await?;
                if user == actor.username {
                    return Err(Msg::Failed(
                        "you cannot reset your own second factor (ask another administrator)"
                            .into(),
                    ));
                }
                let id = self.target_user(actor, g, &user, "reset_2fa").await?;
                let password = crate::auth::password::generate_password();
                let phc = self.hash(&password).await?;
                let expires = self.accounts.one_time_expiry(now_ms() / 1000);
                ops::reset_second_factor(
                    &self.store,
                    actor.by(),
                    id,
                    &user,
                    &phc,
                    expires,
                    now_ms(),
                )
                .await
                .map_err(failed)?;
                self.live.end_user(id, "your two-factor set-up was reset");
                Ok(Msg::Manage(ManageMsg::Show(vec![
                    format!("Two-factor set-up of {user} reset; their sessions were ended."),
                    "Give them this, once; they enrol again at their next login:".into(),
                    String::new(),
                    format!("one-time password: {password}"),
                    format!(
                        "(expires in {} hours)",
                        self.accounts.one_time_password_hours
                    ),
                ])))
            }
            ManageCmd::EndSession { id } => {
                self.require_superuser(actor, g, "end_session").await?;
                let ended = ops::end_session(&self.store, actor.by(), &id, now_ms())
                    .await
                    .map_err(failed)?;
                // At once if it runs here; other instances see it within a second.
                self.live.end(&ended.id, &ended.reason);
                let (full, user) = (ended.id, ended.user);
                Ok(changed(format!("session {full} of {user} ended")))
            }
            ManageCmd::AddKey { line } => {
                let key = parse_public_key(&line)
                    .map_err(|e| Msg::Failed(format!("key not added: {e}")))?;
                let new = NewKey {
                    algorithm: &key.algorithm,
                    public_key: &key.openssh,
                    fingerprint: &key.fingerprint,
                    comment: &key.comment,
                    now: now_ms() / 1000,
                };
                let owner = (actor.user_id, actor.username.as_str());
                ops::add_user_key(&self.store, actor.by(), owner, &new, now_ms())
                    .await
                    .map_err(failed)?;
                Ok(changed(format!(
                    "key added: {} ({})",
                    key.fingerprint, key.algorithm
                )))
            }
            ManageCmd::RemoveKey { user, id } => {
                let (user_id, name) = self
                    .key_owner(actor, g, user.as_deref(), "key_remove")
                    .await?;
                let (key, ended) = ops::remove_user_key(
                    &self.store,
                    actor.by(),
                    (user_id, &name),
                    &KeySelector::Id(id),
                    now_ms(),
                )
                .await
                .map_err(failed)?;
                Ok(changed(format!(
                    "key {} of {name} removed; {ended} session(s) that logged in with it end",
                    key.fingerprint
                )))
            }
            ManageCmd::Unlock { user } => {
                self.require(actor, g, MANAGE_USERS, "unlock").await?;
                self.target_user(actor, g, &user, "unlock").await?;
                let n = ops::reset_lockout(&self.store, actor.by(), Some(&user), None, now_ms())
                    .await
                    .map_err(failed)?;
                Ok(changed(format!("{n} failure counters of {user} cleared")))
            }
            ManageCmd::Membership {
                user,
                group,
                member,
            } => {
                self.require(actor, g, MANAGE_GROUPS, "membership").await?;
                let user_id = self.target_user(actor, g, &user, "membership").await?;
                let group_id = self.group_id(&group).await?;
                let action = if member {
                    "member_add"
                } else {
                    "member_remove"
                };
                if member {
                    // Joining a group gives all it holds: only what the actor holds. And
                    // a member exempt from a model's column rules sees its hidden columns
                    // through the group's permissions on it.
                    let mut conferred = self.membership_gives(group_id, &group).await?;
                    let models: Vec<String> = conferred
                        .model_perms
                        .iter()
                        .filter_map(|c| c.split_once('_').map(|(_, m)| m.to_string()))
                        .chain(conferred.object_perms.iter().map(|o| o.model.clone()))
                        .collect();
                    let models: Vec<&str> = models.iter().map(String::as_str).collect();
                    let member = Who::User(user.clone());
                    for m in self.receiver_exemptions(&member, &models).await? {
                        if !conferred.exempt_on.contains(&m) {
                            conferred.exempt_on.push(m);
                        }
                    }
                    self.confer(actor, g, &conferred, action).await?;
                }
                let groups = [(group_id, group.clone())];
                ops::set_membership(
                    &self.store,
                    actor.by(),
                    (user_id, &user),
                    &groups,
                    member,
                    now_ms(),
                )
                .await
                .map_err(failed)?;
                if member {
                    Ok(changed(format!("{user} added to {group}")))
                } else {
                    Ok(changed(format!("{user} removed from {group}")))
                }
            }
            ManageCmd::ModelPerm {
                to,
                codename,
                grant,
            } => {
                self.require(actor, g, MANAGE_PERMISSIONS, "model_perm")
                    .await?;
                perm::check_codename(&self.schema(), &self.rules, &codename)
                    .map_err(Msg::Failed)?;
                let action = if grant { "grant" } else { "revoke" };
                self.may_grant(actor, g, &codename, action).await?;
                if grant {
                    // A receiver exempt from the model's column rules (a member of hr,
                    // or a group with such members) would see its hidden columns.
                    let model = codename.split_once('_').map(|(_, m)| m).unwrap_or("");
                    let conferred = perm::Conferred {
                        model_perms: vec![codename.clone()],
                        exempt_on: self.receiver_exemptions(&to, &[model]).await?,
                        ..perm::Conferred::default()
                    };
                    self.confer(actor, g, &conferred, action).await?;
                }
                let (principal, _, name) = self.principal(actor, g, &to, action).await?;
                let codenames = std::slice::from_ref(&codename);
                let to = (principal, name.as_str());
                let n =
                    ops::set_model_perms(&self.store, actor.by(), to, codenames, grant, now_ms())
                        .await
                        .map_err(failed)?;
                let what = match (grant, n > 0) {
                    (true, true) => "granted to",
                    (true, false) => "was already held by",
                    (false, true) => "revoked from",
                    (false, false) => "was not held by",
                };
                Ok(changed(format!("{codename} {what} {name}")))
            }
            ManageCmd::ObjectPerm {
                model,
                pk,
                to,
                codename,
                assign,
            } => {
                self.require(actor, g, MANAGE_PERMISSIONS, "object_perm")
                    .await?;
                perm::check_codename(&self.schema(), &self.rules, &codename)
                    .map_err(Msg::Failed)?;
                perm::check_object_codename(&codename, &model).map_err(Msg::Failed)?;
                // The actor must hold it at model level, or on this very row.
                let on_row = self
                    .store
                    .row_perms(actor.user_id, &model, &pk)
                    .await
                    .map_err(|e| Msg::Failed(e.to_string()))?;
                let mut conferred = perm::Conferred {
                    object_perms: vec![perm::ObjectGrant {
                        codename: codename.clone(),
                        model: model.clone(),
                        pk: pk.clone(),
                    }],
                    ..perm::Conferred::default()
                };
                if assign {
                    conferred.exempt_on = self.receiver_exemptions(&to, &[&model]).await?;
                }
                let rows = [((model.clone(), pk.clone()), on_row)]
                    .into_iter()
                    .collect();
                self.confer_with(actor, g, &conferred, &rows, "object_perm")
                    .await?;
                let (principal, _, name) = self.principal(actor, g, &to, "object_perm").await?;
                let to = (principal, name.as_str());
                let row = (codename.as_str(), model.as_str(), pk.as_str());
                ops::set_object_perm(&self.store, actor.by(), to, row, assign, now_ms())
                    .await
                    .map_err(failed)?;
                let verb = if assign {
                    "assigned to"
                } else {
                    "removed from"
                };
                Ok(changed(format!(
                    "{codename} on {model} #{pk} {verb} {name}"
                )))
            }
        }
    }

    /// The actor must hold moat's permission `perm`.
    async fn require(
        &self,
        actor: &Actor,
        g: &Grants,
        perm: &str,
        what: &str,
    ) -> Result<(), Refused> {
        match perm::decide_moat(g, perm) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.refuse(actor, what, None, &reason).await),
        }
    }

    /// Everything membership of group `name` (id `group_id`) gives: its model and object
    /// permissions and the column-rule exemptions that name it.
    async fn membership_gives(
        &self,
        group_id: i64,
        name: &str,
    ) -> Result<perm::Conferred, Refused> {
        let failed = |e: crate::store::StoreError| Msg::Failed(e.to_string());
        let perms = self
            .group_info(name)
            .await?
            .map(|info| info.perms)
            .unwrap_or_default();
        let object_perms = self
            .store
            .group_object_perms(group_id)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|(codename, model, pk)| perm::ObjectGrant {
                codename,
                model,
                pk,
            })
            .collect();
        Ok(perm::Conferred {
            model_perms: perms,
            object_perms,
            exempt_on: perm::exemptions_of_group(&self.rules, name),
        })
    }

    /// The models among `models` whose column rules a permission given to `to` would let
    /// someone see past: those `to` is exempt on — a user through their groups; a group
    /// through its own name and every member's groups (all of the group's exemptions
    /// count, whatever the model, as before).
    async fn receiver_exemptions(&self, to: &Who, models: &[&str]) -> Result<Vec<String>, Refused> {
        let failed = |e: crate::store::StoreError| Msg::Failed(e.to_string());
        let mut groups = std::collections::HashSet::new();
        let mut out = Vec::new();
        match to {
            Who::User(name) => {
                if let Some(id) = self.store.user_id(name).await.map_err(failed)? {
                    groups = self.store.grants(id).await.map_err(failed)?.groups;
                }
            }
            Who::Group(name) => {
                out = perm::exemptions_of_group(&self.rules, name);
                let members = self
                    .group_info(name)
                    .await?
                    .map(|info| info.members)
                    .unwrap_or_default();
                for member in members {
                    if let Some(id) = self.store.user_id(&member).await.map_err(failed)? {
                        groups.extend(self.store.grants(id).await.map_err(failed)?.groups);
                    }
                }
            }
        }
        let exempt = perm::exemptions_of(&self.rules, &groups);
        for m in models {
            if exempt.contains(*m) && !out.iter().any(|o| o == m) {
                out.push(m.to_string());
            }
        }
        Ok(out)
    }

    /// No escalation ([`perm::may_confer`]): the actor must already hold everything
    /// `conferred` gives. A refusal is audited.
    async fn confer(
        &self,
        actor: &Actor,
        g: &Grants,
        conferred: &perm::Conferred,
        what: &str,
    ) -> Result<(), Refused> {
        let mut rows = std::collections::HashMap::new();
        for o in &conferred.object_perms {
            let key = (o.model.clone(), o.pk.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = rows.entry(key) {
                let held = self
                    .store
                    .row_perms(actor.user_id, &o.model, &o.pk)
                    .await
                    .map_err(|e| Msg::Failed(e.to_string()))?;
                slot.insert(held);
            }
        }
        self.confer_with(actor, g, conferred, &rows, what).await
    }

    /// [`Context::confer`] with the actor's codenames on the rows `conferred` names.
    async fn confer_with(
        &self,
        actor: &Actor,
        g: &Grants,
        conferred: &perm::Conferred,
        rows: &std::collections::HashMap<(String, String), std::collections::HashSet<String>>,
        what: &str,
    ) -> Result<(), Refused> {
        let exempt_on = perm::exemptions_of(&self.rules, &g.groups);
        let held = perm::Held {
            grants: g,
            rows,
            exempt_on: &exempt_on,
        };
        match perm::may_confer(&held, conferred) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.refuse(actor, what, None, &reason).await),
        }
    }

    /// No escalation: the actor must hold `codename` themselves.
    async fn may_grant(
        &self,
        actor: &Actor,
        g: &Grants,
        codename: &str,
        what: &str,
    ) -> Result<(), Refused> {
        match perm::may_grant(g, codename) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.refuse(actor, what, None, &reason).await),
        }
    }

    /// The id of user `name`; only superusers may act on a superuser's account.
    async fn target_user(
        &self,
        actor: &Actor,
        g: &Grants,
        name: &str,
        what: &str,
    ) -> Result<i64, Refused> {
        let target = self
            .store
            .login_user(name)
            .await
            .map_err(|e| Msg::Failed(e.to_string()))?
            .ok_or_else(|| Msg::Failed(format!("no such user: {name}")))?;
        if target.is_superuser && !g.is_superuser {
            return Err(self
                .refuse(
                    actor,
                    what,
                    Some(name),
                    "only a superuser may change a superuser",
                )
                .await);
        }
        Ok(target.id)
    }

    /// Refuse `doing` to group `name` while the configuration names it (see
    /// [`perm::group_mentions`]).
    fn unconfigured(&self, name: &str, doing: &str) -> Result<(), Refused> {
        let keys = perm::group_mentions(&self.auth_groups, &self.rules, name);
        if keys.is_empty() {
            return Ok(());
        }
        Err(Msg::Failed(format!(
            "refused to {doing}: the configuration names group {name} at {}; change the \
             config first",
            keys.join(", ")
        )))
    }

    async fn group_id(&self, name: &str) -> Result<i64, Refused> {
        self.store
            .group_id(name)
            .await
            .map_err(|e| Msg::Failed(e.to_string()))?
            .ok_or_else(|| Msg::Failed(format!("no such group: {name}")))
    }

    async fn group_info(&self, name: &str) -> Result<Option<crate::store::GroupInfo>, Refused> {
        Ok(self
            .store
            .list_groups()
            .await
            .map_err(|e| Msg::Failed(e.to_string()))?
            .into_iter()
            .find(|gi| gi.name == name))
    }

    /// A user or group by name, with the audit model it lives in and its name.
    async fn principal(
        &self,
        actor: &Actor,
        g: &Grants,
        who: &Who,
        what: &str,
    ) -> Result<(Principal, &'static str, String), Refused> {
        Ok(match who {
            Who::User(u) => (
                Principal::User(self.target_user(actor, g, u, what).await?),
                "moat_users",
                u.clone(),
            ),
            Who::Group(name) => (
                Principal::Group(self.group_id(name).await?),
                "moat_groups",
                name.clone(),
            ),
        })
    }

    /// Audit a refused management command and say so.
    async fn refuse(&self, actor: &Actor, what: &str, target: Option<&str>, reason: &str) -> Msg {
        let mut entry = self.audit(
            actor,
            what,
            "moat",
            target.unwrap_or(""),
            serde_json::Value::Null,
        );
        entry.after = None;
        entry.outcome = "denied".into();
        entry.reason = Some(reason.to_string());
        if let Err(e) = self.store.audit(&[entry]).await {
            tracing::error!(error = %e, "auditing a denial failed");
        }
        Msg::Failed(format!("permission denied: {reason}"))
    }

    fn audit(
        &self,
        actor: &Actor,
        action: &str,
        model: &str,
        pk: &str,
        after: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            pk: (!pk.is_empty()).then(|| pk.to_string()),
            after: Some(after),
            ..actor.audit(action, model)
        }
    }

    /// Whose keys a keys command is about: one's own (`None`, or one's own name), or, for
    /// holders of `moat.manage_users`, another user's (a superuser's only for superusers).
    async fn key_owner(
        &self,
        actor: &Actor,
        g: &Grants,
        user: Option<&str>,
        what: &str,
    ) -> Result<(i64, String), Refused> {
        match user {
            None => Ok((actor.user_id, actor.username.clone())),
            Some(name) if name == actor.username => Ok((actor.user_id, actor.username.clone())),
            Some(name) => {
                self.require(actor, g, moat_perms::MANAGE_USERS, what)
                    .await?;
                let id = self.target_user(actor, g, name, what).await?;
                Ok((id, name.to_string()))
            }
        }
    }

    /// Whether the user may replay recordings (a superuser, or `moat.view_recordings`).
    fn may_replay(&self, g: &Grants) -> bool {
        perm::decide_moat(g, moat_perms::VIEW_RECORDINGS).is_allowed()
    }

    /// Only superusers.
    async fn require_superuser(
        &self,
        actor: &Actor,
        g: &Grants,
        what: &str,
    ) -> Result<(), Refused> {
        if g.is_superuser {
            Ok(())
        } else {
            Err(self.refuse(actor, what, None, "only superusers").await)
        }
    }

    /// Hash a password off the async threads.
    async fn hash(&self, password: &str) -> Result<String, Refused> {
        let hasher = Arc::clone(&self.hasher);
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || hasher.hash(&pw))
            .await
            .map_err(|_| Msg::Failed("hashing failed".into()))?
            .map_err(|e| Msg::Failed(e.to_string()))
    }

    /// A new (non-superuser) account with a one-time password, shown once: the user
    /// enrols TOTP and chooses a password at the first login.
    async fn create_user(&self, actor: &Actor, name: &str) -> Result<Msg, Refused> {
        validate_name(name).map_err(Msg::Failed)?;
        let password = crate::auth::password::generate_password();
        let phc = self.hash(&password).await?;
        let now = now_ms() / 1000;
        let user = NewUser {
            username: name,
            password_hash: &phc,
            is_superuser: false,
            totp_secret: None,
            must_change_password: true,
            password_expires_at: Some(self.accounts.one_time_expiry(now)),
            now,
        };
        ops::create_user(&self.store, actor.by(), &user, now_ms())
            .await
            .map_err(failed)?;
        Ok(Msg::Manage(ManageMsg::Show(vec![
            format!("User {name} created. Give them this, once:"),
            String::new(),
            format!("one-time password: {password}"),
            format!(
                "(expires in {} hours; at first login they enrol TOTP and choose a password)",
                self.accounts.one_time_password_hours
            ),
        ])))
    }

    /// The contents of `panel`, as typed data for its screen.
    async fn load_panel(&self, g: &Grants, panel: Panel) -> Result<Msg, Refused> {
        let failed = |e: crate::store::StoreError| Msg::Failed(e.to_string());
        let data = match panel {
            Panel::Users => {
                let users = self
                    .store
                    .list_users(now_ms() / 1000)
                    .await
                    .map_err(failed)?;
                PanelData::Users {
                    users: users
                        .into_iter()
                        .map(|u| UserEntry {
                            id: u.id,
                            name: u.username,
                            superuser: u.is_superuser,
                            active: u.is_active,
                            locked: u.locked,
                            groups: u.groups,
                        })
                        .collect(),
                    superuser: g.is_superuser,
                }
            }
            Panel::User(name) => {
                let id = self
                    .store
                    .user_id(&name)
                    .await
                    .map_err(failed)?
                    .ok_or_else(|| Msg::Failed(format!("no such user: {name}")))?;
                let l = self.store.perm_listing(id).await.map_err(failed)?;
                PanelData::User {
                    name,
                    groups: l.groups,
                    model_perms: l.model_perms,
                    object_perms: l.object_perms,
                }
            }
            Panel::Groups => {
                let groups = self.store.list_groups().await.map_err(failed)?;
                PanelData::Groups(
                    groups
                        .into_iter()
                        .map(|gi| GroupEntry {
                            name: gi.name,
                            members: gi.members.len(),
                            perms: gi.perms,
                        })
                        .collect(),
                )
            }
            Panel::Group(name) => {
                let gi = self
                    .group_info(&name)
                    .await?
                    .ok_or_else(|| Msg::Failed(format!("no such group: {name}")))?;
                PanelData::Group {
                    name,
                    members: gi.members,
                    perms: gi.perms,
                }
            }
            Panel::Sessions => {
                let now = now_ms() / 1000;
                let rows = self
                    .store
                    .live_sessions(now - super::live::STALE_SECS)
                    .await
                    .map_err(failed)?;
                PanelData::Sessions {
                    now,
                    live: true,
                    replay: self.may_replay(g),
                    sessions: rows
                        .into_iter()
                        .map(|r| SessionEntry {
                            id: r.id,
                            user: r.username,
                            source_ip: r.source_ip,
                            started_at: r.started_at,
                            last_input_at: r.last_input_at,
                            ending: r.end_requested,
                        })
                        .collect(),
                }
            }
            // Checked and loaded with the actor in hand (one's own, or managed).
            Panel::Keys(_) => return Err(Msg::Failed("keys: not a panel of this kind".into())),
            Panel::Ended => {
                let rows = self
                    .store
                    .ended_sessions(ENDED_LISTED)
                    .await
                    .map_err(failed)?;
                PanelData::Ended(
                    rows.into_iter()
                        .map(|r| EndedEntry {
                            recording: super::recording::recording_state(r.recording.as_ref()),
                            id: r.id,
                            user: r.username,
                            source_ip: r.source_ip,
                            started_ms: r.started_ms,
                            ended_ms: r.ended_ms,
                        })
                        .collect(),
                )
            }
            Panel::Row { model, pk } => {
                let entries = self
                    .store
                    .object_perm_entries(&model, &pk)
                    .await
                    .map_err(failed)?;
                let grants = entries
                    .into_iter()
                    .map(|(principal, name, codename)| match principal {
                        Principal::User(_) => (Who::User(name), codename),
                        Principal::Group(_) => (Who::Group(name), codename),
                    })
                    .collect();
                PanelData::Row { model, pk, grants }
            }
        };
        Ok(Msg::Manage(ManageMsg::Loaded(data)))
    }
}

fn changed(text: String) -> Msg {
    Msg::Manage(ManageMsg::Changed(text))
}
