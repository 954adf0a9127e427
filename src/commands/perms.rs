//! `moat group …`, `moat user grant|revoke`, `moat perm …`: groups, model permissions and
//! object permissions, under the same no-escalation rule as the console.

use std::io::Write;

use crate::config::Config;
use crate::ops::{self, By};
use crate::tui::sanitize::SafeText;

use super::{
    check_codename, existing_row, now_unix_ms, open_admin_store, user_id, validate_username,
    CommandError, Target,
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
