//! The permission engine: pure and synchronous. The session asks it before every store
//! call; the TUI never does (it only greys out what [`Capabilities`] says).
//!
//! The rule, as in Django with django-guardian: a disabled user may do nothing; a
//! superuser everything; anyone else the union of their own model permissions, their
//! groups' model permissions, and the object permissions (their own and their groups') on
//! the row in question. A codename is a verb and a model: `view_posts`, `change_posts`, or
//! a custom verb the config declares (`export_posts`); moat's own management permissions
//! are `moat.manage_users`, `moat.manage_groups`, `moat.manage_permissions`,
//! `moat.view_audit`, `moat.view_audit_values` and `moat.view_recordings`.
//!
//! Object permissions can be many (100,000 grants on one table), so they are not loaded
//! into [`Grants`]: the session asks the store for the codenames on the one row it is about
//! to touch, and list queries filter by them in SQL (see [`Visibility`]).

pub mod columns;

use std::collections::HashSet;

/// What someone wants to do to a model (or one of its rows).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    Add,
    Change,
    Delete,
    /// A verb declared in config, e.g. `export`.
    Custom(String),
}

impl Action {
    pub fn verb(&self) -> &str {
        match self {
            Action::View => "view",
            Action::Add => "add",
            Action::Change => "change",
            Action::Delete => "delete",
            Action::Custom(v) => v,
        }
    }

    /// The codename of this action on `model`: `view_posts`.
    pub fn codename(&self, model: &str) -> String {
        format!("{}_{model}", self.verb())
    }
}

/// moat's own permissions, guarding its management screens and the audit viewer.
pub mod moat_perms {
    pub const MANAGE_USERS: &str = "moat.manage_users";
    pub const MANAGE_GROUPS: &str = "moat.manage_groups";
    pub const MANAGE_PERMISSIONS: &str = "moat.manage_permissions";
    pub const VIEW_AUDIT: &str = "moat.view_audit";
    /// Before/after values of every audit entry, whatever the model, row and column rules.
    pub const VIEW_AUDIT_VALUES: &str = "moat.view_audit_values";
    /// Session recordings: replaying what any user's console showed (and, with
    /// `record_input`, what they typed) outside secret fields.
    pub const VIEW_RECORDINGS: &str = "moat.view_recordings";
    pub const ALL: [&str; 6] = [
        MANAGE_USERS,
        MANAGE_GROUPS,
        MANAGE_PERMISSIONS,
        VIEW_AUDIT,
        VIEW_AUDIT_VALUES,
        VIEW_RECORDINGS,
    ];
}

pub use crate::domain::Grants;

/// The answer, with a reason worth auditing when it is a denial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Which rows of a model a user may see in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Every row (superuser, or model-level view or change).
    All,
    /// Only rows on which the user holds `view_<model>` or `change_<model>` as an object
    /// permission: the list query filters by them.
    Granted,
    /// None: the model is not in the user's index.
    Nothing,
}

impl Grants {
    fn holds(&self, codename: &str) -> bool {
        self.model_perms.contains(codename)
    }
}

/// May the user perform `action` on `model` — on the row whose object permissions are
/// `row_perms` (the codenames held on that row; empty when no row is concerned)?
pub fn decide(g: &Grants, action: &Action, model: &str, row_perms: &HashSet<String>) -> Decision {
    let codename = action.codename(model);
    if !g.is_active {
        return Decision::Deny("user is disabled".into());
    }
    if g.is_superuser || g.holds(&codename) || row_perms.contains(&codename) {
        return Decision::Allow;
    }
    // Change implies view, as in Django's admin.
    if *action == Action::View {
        let change = Action::Change.codename(model);
        if g.holds(&change) || row_perms.contains(&change) {
            return Decision::Allow;
        }
    }
    Decision::Deny(format!("no {codename} permission"))
}

/// May the user use moat's own permission `perm` (e.g. [`moat_perms::MANAGE_USERS`])?
pub fn decide_moat(g: &Grants, perm: &str) -> Decision {
    if !g.is_active {
        Decision::Deny("user is disabled".into())
    } else if g.is_superuser || g.holds(perm) {
        Decision::Allow
    } else {
        Decision::Deny(format!("no {perm} permission"))
    }
}

/// Which rows of `model` the user sees in a list.
pub fn visibility(g: &Grants, model: &str) -> Visibility {
    if !g.is_active {
        return Visibility::Nothing;
    }
    let view = Action::View.codename(model);
    let change = Action::Change.codename(model);
    if g.is_superuser || g.holds(&view) || g.holds(&change) {
        return Visibility::All;
    }
    let granted = ["view", "change"].iter().any(|verb| {
        g.object_models
            .contains(&(model.to_string(), verb.to_string()))
    });
    if granted {
        Visibility::Granted
    } else {
        Visibility::Nothing
    }
}

/// Is `model` in the user's index: any permission on it, at model level or on a row?
pub fn model_listed(g: &Grants, model: &str) -> bool {
    if !g.is_active {
        return false;
    }
    let suffix = format!("_{model}");
    g.is_superuser
        || g.model_perms
            .iter()
            .any(|c| c.ends_with(&suffix) && !c.starts_with("moat."))
        || g.object_models.iter().any(|(m, _)| m == model)
}

pub use crate::domain::Capabilities;

/// What the console may offer `g` on `model` as a whole.
pub fn capabilities(g: &Grants, model: &str) -> Capabilities {
    row_capabilities(g, model, &HashSet::new())
}

/// What the console may offer `g` on one row of `model`, given the codenames they hold on
/// that row (object permissions).
pub fn row_capabilities(g: &Grants, model: &str, row_perms: &HashSet<String>) -> Capabilities {
    let can = |a: Action| decide(g, &a, model, row_perms).is_allowed();
    Capabilities {
        add: can(Action::Add),
        change: can(Action::Change),
        delete: can(Action::Delete),
        export: can(Action::Custom("export".into())),
        permissions: decide_moat(g, moat_perms::MANAGE_PERMISSIONS).is_allowed(),
    }
}

/// May `granter` give `codename` to someone at model level? [`may_confer`] for that one
/// permission: only what they can already do on every row, and superuser status never.
pub fn may_grant(granter: &Grants, codename: &str) -> Decision {
    let rows = std::collections::HashMap::new();
    let none = HashSet::new();
    let held = Held {
        grants: granter,
        rows: &rows,
        exempt_on: &none,
    };
    let conferred = Conferred {
        model_perms: vec![codename.to_string()],
        ..Conferred::default()
    };
    may_confer(&held, &conferred)
}

/// The models a delete may not reach: those whose rows `ON DELETE CASCADE` would remove
/// with it and that the user may not delete (at model level; a cascade removes rows the
/// user never picked). `cascading` are the models with rows that refer to the row being
/// deleted through a cascading key; from them, every model that cascades further is
/// checked too, whether or not it has rows now (the check stays cheap and errs on the
/// side of refusing). As Django's admin refuses a delete whose cascade the user could
/// not do by hand.
pub fn cascade_blockers(
    g: &Grants,
    schema: &crate::domain::Schema,
    cascading: &[String],
) -> Vec<String> {
    let none = HashSet::new();
    let mut seen: Vec<String> = Vec::new();
    let mut todo: Vec<String> = cascading.to_vec();
    while let Some(model) = todo.pop() {
        if seen.contains(&model) {
            continue;
        }
        for child in &schema.tables {
            let cascades = child
                .foreign_keys
                .iter()
                .any(|fk| fk.ref_table == model && fk.on_delete.eq_ignore_ascii_case("CASCADE"));
            if cascades {
                todo.push(child.name.clone());
            }
        }
        seen.push(model);
    }
    let mut blockers: Vec<String> = seen
        .into_iter()
        .filter(|m| !decide(g, &Action::Delete, m, &none).is_allowed())
        .collect();
    blockers.sort();
    blockers
}

/// One object permission: `codename` on row `pk` of `model`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectGrant {
    pub codename: String,
    pub model: String,
    pub pk: String,
}

/// Everything a change would give someone: membership of a group gives the group's
/// model permissions, its object permissions and every column-rule exemption that names
/// it; a grant to a group gives the permission plus, to its members, what their
/// exemptions then reveal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conferred {
    pub model_perms: Vec<String>,
    pub object_perms: Vec<ObjectGrant>,
    /// Models whose column rules (`hidden`, `masked`) exempt the group.
    pub exempt_on: Vec<String>,
}

/// What the acting user already holds, as far as a [`Conferred`] asks.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    pub grants: &'a Grants,
    /// The codenames the actor holds (own or through a group) on each row the change
    /// names, by (model, pk); rows it does not name may be left out.
    pub rows: &'a std::collections::HashMap<(String, String), HashSet<String>>,
    /// Models on which the actor is exempt from the column rules.
    pub exempt_on: &'a HashSet<String>,
}

/// Split `verb_model` into its action and model (`view_post_tags` → view, post_tags).
fn parse_codename(codename: &str) -> Option<(Action, &str)> {
    let (verb, model) = codename.split_once('_')?;
    let action = match verb {
        "view" => Action::View,
        "add" => Action::Add,
        "change" => Action::Change,
        "delete" => Action::Delete,
        other => Action::Custom(other.to_string()),
    };
    Some((action, model))
}

/// Whether the actor may already do what `codename` allows, on every row (`row` None)
/// or on one row whose codenames (the actor's) are `row_perms`.
fn can_do(g: &Grants, codename: &str, row_perms: &HashSet<String>) -> bool {
    if codename.starts_with("moat.") {
        return decide_moat(g, codename).is_allowed();
    }
    match parse_codename(codename) {
        Some((action, model)) => decide(g, &action, model, row_perms).is_allowed(),
        None => false,
    }
}

/// The one rule against escalation, for every change that gives permissions (grants,
/// object permissions, group membership, creating or granting to an exempt group): the
/// actor must already be able to do everything it would give — each model permission on
/// every row, each object permission on that very row (as [`decide`] answers, so holding
/// `change_posts` covers giving `view_posts`), and each column-rule exemption through a
/// group of their own. Superusers hold everything. Exemptions are created only in
/// config; this decides who may confer them. The refusal names the first thing missing.
pub fn may_confer(held: &Held<'_>, conferred: &Conferred) -> Decision {
    let g = held.grants;
    if !g.is_active {
        return Decision::Deny("user is disabled".into());
    }
    if g.is_superuser {
        return Decision::Allow;
    }
    let no_row = HashSet::new();
    for codename in &conferred.model_perms {
        if !can_do(g, codename, &no_row) {
            return Decision::Deny(format!("you do not hold {codename} yourself"));
        }
    }
    for o in &conferred.object_perms {
        let row = held
            .rows
            .get(&(o.model.clone(), o.pk.clone()))
            .unwrap_or(&no_row);
        if !can_do(g, &o.codename, row) {
            return Decision::Deny(format!(
                "you do not hold {} on {} #{} yourself",
                o.codename, o.model, o.pk
            ));
        }
    }
    for model in &conferred.exempt_on {
        if !held.exempt_on.contains(model) {
            return Decision::Deny(format!(
                "you are not exempt from the column rules of {model} yourself"
            ));
        }
    }
    Decision::Allow
}

/// The models whose column rules exempt group `group` (`exempt_groups` in config).
pub fn exemptions_of_group(
    models: &std::collections::BTreeMap<String, crate::config::ModelConfig>,
    group: &str,
) -> Vec<String> {
    models
        .iter()
        .filter(|(_, m)| m.exempt_groups.iter().any(|e| e == group))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Where the configuration names group `name` (`auth.groups.NAME` among `auth_groups`,
/// `models.M.exempt_groups`): renaming or deleting such a group would silently change a
/// login rule or a column rule (or, renamed to such a name, confer it), so the console and
/// the CLI refuse until the config is changed.
pub fn group_mentions(
    auth_groups: &[String],
    models: &std::collections::BTreeMap<String, crate::config::ModelConfig>,
    name: &str,
) -> Vec<String> {
    let mut keys = Vec::new();
    if auth_groups.iter().any(|g| g == name) {
        keys.push(format!("auth.groups.{name}"));
    }
    for model in exemptions_of_group(models, name) {
        keys.push(format!("models.{model}.exempt_groups"));
    }
    keys
}

/// The models on which a member of `groups` is exempt from the column rules.
pub fn exemptions_of(
    models: &std::collections::BTreeMap<String, crate::config::ModelConfig>,
    groups: &HashSet<String>,
) -> HashSet<String> {
    models
        .iter()
        .filter(|(_, m)| m.exempt_groups.iter().any(|e| groups.contains(e)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Whether `codename` can be an object permission on `model`: a verb on that very model.
/// moat's own permissions (`moat.manage_users`, …) are never per row: `moat.manage_users`
/// would otherwise read as a verb on a table named `users`.
pub fn check_object_codename(codename: &str, model: &str) -> Result<(), String> {
    if codename.starts_with("moat.") {
        return Err(format!(
            "{codename} is one of moat's own permissions: it is granted to a user or group, \
             never on a row"
        ));
    }
    if codename.split_once('_').map(|(_, m)| m) != Some(model) {
        return Err(format!(
            "{codename} is not a permission on {model} (expected VERB_{model})"
        ));
    }
    Ok(())
}

/// Check that `codename` names a permission that exists: one of moat's own, or a verb
/// (view/add/change/delete, or one `models` declares for the model) and a model of
/// `schema`. The error says what is wrong.
pub fn check_codename(
    schema: &crate::domain::Schema,
    models: &std::collections::BTreeMap<String, crate::config::ModelConfig>,
    codename: &str,
) -> Result<(), String> {
    if moat_perms::ALL.contains(&codename) {
        return Ok(());
    }
    let bad = |why: String| format!("unknown permission `{}`: {why}", codename.escape_debug());
    let (verb, model) = codename
        .split_once('_')
        .ok_or_else(|| bad("expected VERB_MODEL, e.g. view_posts, or moat.manage_users".into()))?;
    // The verb first: in `bogus_perm` the mistake is the codename, not a model `perm`.
    let standard = ["view", "add", "change", "delete"].contains(&verb);
    let declared = |m: &crate::config::ModelConfig| m.actions.iter().any(|a| a == verb);
    if !standard && !models.values().any(declared) {
        return Err(bad(format!(
            "`{}` is not view, add, change, delete or an action a model declares \
             (a codename is VERB_MODEL, e.g. view_posts)",
            verb.escape_debug()
        )));
    }
    if schema.table(model).is_none() {
        return Err(bad(format!(
            "no model `{}` (the database has no such table)",
            model.escape_debug()
        )));
    }
    if standard || models.get(model).is_some_and(declared) {
        Ok(())
    } else {
        Err(bad(format!(
            "`{}` is not an action declared for {model}",
            verb.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests;
