//! `moat group …`, `moat user grant|revoke`, `moat perm …`: groups, model permissions and
//! object permissions, under the same no-escalation rule as the console.

use std::io::Write;

use crate::config::Config;
use crate::ops::{self, By};
use crate::tui::sanitize::SafeText;

use super::{
    check_codename, existing_row, group_id, now_unix_ms, open_admin_store, user_id,
    validate_username, CommandError, Target,
};

/// `moat group add NAME [--perm CODENAME]...`
pub async fn group_add(
    config: &Config,
    name: &str,
    perms: &[String],
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    validate_username(name)?;
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    for p in perms {
        check_codename(config, &schema, p)?;
    }
    let by = By::Cli { os_user: operator };
    ops::create_group(&store, by, name, perms, now_unix_ms()).await?;
    writeln!(
        out,
        "group {} created with {} permissions",
        SafeText::new(name),
        perms.len()
    )?;
    store.close().await;
    Ok(())
}

/// `moat group grant|revoke NAME CODENAME...` and `moat user grant|revoke NAME CODENAME...`
pub async fn set_model_perms(
    config: &Config,
    target: &Target,
    codenames: &[String],
    grant: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    if codenames.is_empty() {
        return Err(CommandError::Usage("name at least one permission".into()));
    }
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    for c in codenames {
        check_codename(config, &schema, c)?;
    }
    let principal = target.principal(&store).await?;
    let by = By::Cli { os_user: operator };
    let to = (principal, target.name());
    let n = ops::set_model_perms(&store, by, to, codenames, grant, now_unix_ms()).await?;
    let verb = if grant { "granted to" } else { "revoked from" };
    writeln!(out, "{n} permissions {verb} {}", target.shown())?;
    store.close().await;
    Ok(())
}

/// One object permission: `codename` on row `pk` of `model`, for `target`.
#[derive(Clone, Debug)]
pub struct ObjectPerm {
    pub target: Target,
    pub codename: String,
    pub model: String,
    pub pk: String,
}

/// `moat perm assign|remove (--user U | --group G) CODENAME MODEL PK`
pub async fn set_object_perm(
    config: &Config,
    perm: &ObjectPerm,
    assign: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let ObjectPerm {
        target,
        codename,
        model,
        pk,
    } = perm;
    let (codename, model, pk) = (codename.as_str(), model.as_str(), pk.as_str());
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    // The row's model first: `perm assign … view_posts nosuch 1` is about a table that
    // does not exist, not about the codename.
    if schema.table(model).is_none() {
        return Err(CommandError::Usage(format!(
            "no model `{}`: the database has no such table",
            model.escape_debug()
        )));
    }
    check_codename(config, &schema, codename)?;
    crate::perm::check_object_codename(codename, model).map_err(CommandError::Usage)?;
    if assign {
        existing_row(&store, &schema, model, pk).await?;
    }
    let principal = target.principal(&store).await?;
    let by = By::Cli { os_user: operator };
    let to = (principal, target.name());
    let row = (codename, model, pk);
    let changed = ops::set_object_perm(&store, by, to, row, assign, now_unix_ms()).await?;
    let what = match (assign, changed) {
        (true, true) => "assigned",
        (true, false) => "was already assigned",
        (false, true) => "removed",
        (false, false) => "was not assigned",
    };
    writeln!(
        out,
        "{} on {} {} {what} ({})",
        SafeText::new(codename),
        SafeText::new(model),
        SafeText::new(pk),
        target.shown()
    )?;
    store.close().await;
    Ok(())
}

/// `moat group list`
pub async fn group_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let groups = store.list_groups().await?;
    if groups.is_empty() {
        writeln!(out, "no groups")?;
    }
    for g in groups {
        writeln!(out, "{}", SafeText::new(&g.name))?;
        writeln!(out, "  members:     {}", or_none(&g.members))?;
        writeln!(out, "  permissions: {}", or_none(&g.perms))?;
    }
    store.close().await;
    Ok(())
}

/// `items` sanitized and joined with commas, or `-`.
fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items
            .iter()
            .map(|item| String::from(SafeText::new(item)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `moat perm list --user U`
pub async fn perm_list(
    config: &Config,
    user: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = user_id(&store, user).await?;
    let l = store.perm_listing(id).await?;
    writeln!(
        out,
        "{}: {}{}",
        SafeText::new(user),
        if l.is_active { "active" } else { "disabled" },
        if l.is_superuser {
            ", superuser (every permission)"
        } else {
            ""
        }
    )?;
    writeln!(out, "groups: {}", or_none(&l.groups))?;
    writeln!(out, "model permissions:")?;
    for (codename, via) in &l.model_perms {
        let (codename, via) = (SafeText::new(codename), SafeText::new(via));
        writeln!(out, "  {codename:<32} via {via}")?;
    }
    writeln!(out, "object permissions:")?;
    for (codename, model, pk, via) in &l.object_perms {
        let [codename, model, pk, via] = [codename, model, pk, via].map(|s| SafeText::new(s));
        writeln!(out, "  {codename:<32} {model} {pk}  via {via}")?;
    }
    store.close().await;
    Ok(())
}

/// Where the configuration names group `name` (`auth.groups.NAME`,
/// `models.M.exempt_groups`): renaming or deleting such a group would silently change a
/// login rule or a column rule, so those commands refuse until the config is changed.
pub fn config_mentions(config: &Config, name: &str) -> Vec<String> {
    let auth_groups: Vec<String> = config.auth.groups.keys().cloned().collect();
    crate::perm::group_mentions(&auth_groups, &config.models, name)
}

fn refuse_if_configured(config: &Config, name: &str, doing: &str) -> Result<(), CommandError> {
    let keys = config_mentions(config, name);
    if keys.is_empty() {
        return Ok(());
    }
    Err(CommandError::Usage(format!(
        "refused to {doing}: the configuration names group {} at {}; change the config \
         first (and reload), or it would quietly change who those rules cover",
        name.escape_debug(),
        keys.join(", ").escape_debug()
    )))
}

/// `moat group rename OLD NEW`: members, model and object permissions stay with the group.
/// Refused if NEW exists, or if the configuration names OLD or NEW.
pub async fn group_rename(
    config: &Config,
    old: &str,
    new: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    validate_username(new)?;
    refuse_if_configured(config, old, "rename it")?;
    refuse_if_configured(config, new, "rename a group to it")?;
    let store = open_admin_store(config).await?;
    let id = group_id(&store, old).await?;
    let by = By::Cli { os_user: operator };
    ops::rename_group(&store, by, (id, old), new, now_unix_ms()).await?;
    writeln!(
        out,
        "group {} renamed to {} (members and permissions kept)",
        SafeText::new(old),
        SafeText::new(new)
    )?;
    store.close().await;
    Ok(())
}

/// `moat group delete NAME --yes`: the group goes with its memberships, model and object
/// permissions (its members lose what they held only through it), in one transaction
/// whose audit row records all of that. Without `--yes` it says what would go and changes
/// nothing; refused while the configuration names the group.
pub async fn group_delete(
    config: &Config,
    name: &str,
    yes: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    refuse_if_configured(config, name, "delete it")?;
    let store = open_admin_store(config).await?;
    let id = group_id(&store, name).await?;
    let held = store.group_usage(id).await?;
    let what = format!(
        "{} members ({}), {} model and {} object permissions",
        held.members.len(),
        if held.members.is_empty() {
            "none".to_string()
        } else {
            held.members.join(", ")
        },
        held.model_perms.len(),
        held.object_perms.len()
    );
    if !yes {
        return Err(CommandError::Usage(format!(
            "deleting group {} removes it with its {}; nothing was changed: run again with \
             --yes to delete",
            name.escape_debug(),
            what.escape_debug()
        )));
    }
    let by = By::Cli { os_user: operator };
    ops::delete_group(&store, by, (id, name), &held, now_unix_ms()).await?;
    writeln!(
        out,
        "group {} deleted with its {}",
        SafeText::new(name),
        SafeText::new(&what)
    )?;
    store.close().await;
    Ok(())
}

/// `moat perm list --group G`: the group's members, model and object permissions.
pub async fn perm_list_group(
    config: &Config,
    group: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = group_id(&store, group).await?;
    let held = store.group_usage(id).await?;
    writeln!(out, "group {}", SafeText::new(group))?;
    writeln!(out, "members: {}", or_none(&held.members))?;
    writeln!(out, "model permissions:")?;
    for codename in &held.model_perms {
        writeln!(out, "  {}", SafeText::new(codename))?;
    }
    writeln!(out, "object permissions:")?;
    for (codename, model, pk) in &held.object_perms {
        let [codename, model, pk] = [codename, model, pk].map(|s| SafeText::new(s));
        writeln!(out, "  {codename:<32} {model} {pk}")?;
    }
    store.close().await;
    Ok(())
}

/// `moat perm list --model M --key K`: every user who can act on that row, with each
/// codename and through what (superuser, a model permission held directly or through a
/// group, an object permission on the row held directly or through a group). Disabled
/// users are listed, marked, since enabling them gives it back.
pub async fn perm_list_row(
    config: &Config,
    model: &str,
    pk: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    existing_row(&store, &schema, model, pk).await?;
    let access = store.row_access(model, pk).await?;
    writeln!(out, "{} {}:", SafeText::new(model), SafeText::new(pk))?;
    if access.is_empty() {
        writeln!(
            out,
            "  nobody: no user holds a permission on it and there is no superuser"
        )?;
    }
    for a in &access {
        let codename = if a.codename == "*" {
            "every permission".to_string()
        } else {
            a.codename.clone()
        };
        writeln!(
            out,
            "  {:<20} {:<24} via {}{}",
            SafeText::new(&a.username).to_string(),
            SafeText::new(&codename).to_string(),
            SafeText::new(&a.via.to_string()),
            if a.is_active { "" } else { " (user disabled)" }
        )?;
    }
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_the_configuration_names_are_found_where_they_are_named() {
        let mut config = Config::default();
        config
            .auth
            .groups
            .insert("ops".into(), vec!["publickey".into()]);
        let posts = crate::config::ModelConfig {
            exempt_groups: vec!["auditors".into(), "ops".into()],
            ..Default::default()
        };
        config.models.insert("posts".into(), posts);
        assert_eq!(
            config_mentions(&config, "ops"),
            ["auth.groups.ops", "models.posts.exempt_groups"]
        );
        assert_eq!(
            config_mentions(&config, "auditors"),
            ["models.posts.exempt_groups"]
        );
        assert!(config_mentions(&config, "editors").is_empty());
        let refused = refuse_if_configured(&config, "auditors", "delete it").unwrap_err();
        assert!(
            refused.to_string().contains("models.posts.exempt_groups"),
            "{refused}"
        );
    }
}
