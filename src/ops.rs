//! Changes to moat's own records that both the console and the command line make: users,
//! groups, permissions, backup codes, lockout resets and session ends. Each takes who
//! acts ([`By`]) and `now`, writes its change with its audit row (in one transaction
//! wherever the store offers one), and says what it did.
//!
//! Who may do what is decided before these are called: the session asks `perm` (the
//! `moat.manage_*` permissions and the no-escalation rule) and audits refusals; the
//! command line is the operator's own tool. What is recorded, and how, is decided here
//! once, so an action reads the same in the audit trail from wherever it was taken.

use crate::domain::format_time;
use crate::store::{
    AuditEntry, GroupUsage, KeySelector, NewKey, NewUser, Principal, Store, StoreError, UserKey,
};

/// Who performs an operation, as the audit trail names them.
#[derive(Clone, Copy, Debug)]
pub enum By<'a> {
    /// A console session.
    Session {
        username: &'a str,
        source_ip: &'a str,
        session_id: &'a str,
    },
    /// The command line, run by this operating-system user (audited as `cli:NAME`).
    Cli { os_user: &'a str },
}

impl By<'_> {
    /// The actor's name in the audit trail.
    pub fn name(&self) -> String {
        match self {
            By::Session { username, .. } => (*username).to_string(),
            By::Cli { os_user } => format!("cli:{os_user}"),
        }
    }

    /// How the person told of the action reads it: `alice`, or `alice (command line)`.
    pub fn described(&self) -> String {
        match self {
            By::Session { username, .. } => (*username).to_string(),
            By::Cli { os_user } => format!("{os_user} (command line)"),
        }
    }

    /// The audit row of `action` on row `pk` of `model`, succeeded at `now_ms`.
    pub fn audit(&self, action: &str, model: &str, pk: Option<&str>, now_ms: i64) -> AuditEntry {
        let (source_ip, session_id) = match self {
            By::Session {
                source_ip,
                session_id,
                ..
            } => (Some(source_ip.to_string()), Some(session_id.to_string())),
            By::Cli { .. } => (None, None),
        };
        AuditEntry {
            at_ms: now_ms,
            actor: Some(self.name()),
            source_ip,
            session_id,
            action: action.into(),
            model: Some(model.into()),
            pk: pk.filter(|p| !p.is_empty()).map(str::to_string),
            outcome: "success".into(),
            ..AuditEntry::default()
        }
    }

    /// [`By::audit`] with the values that were set.
    fn audit_after(
        &self,
        action: &str,
        model: &str,
        pk: &str,
        after: serde_json::Value,
        now_ms: i64,
    ) -> AuditEntry {
        AuditEntry {
            after: Some(after),
            ..self.audit(action, model, Some(pk), now_ms)
        }
    }
}

/// Seconds of a millisecond time.
fn secs(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000)
}

/// Create user `u` (its TOTP device too, when it has one) with its audit row; returns its
/// id. `one_time`: the account starts with a one-time password (no TOTP yet).
pub async fn create_user(
    store: &Store,
    by: By<'_>,
    u: &NewUser<'_>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let audit = by.audit_after(
        "user_add",
        "moat_users",
        u.username,
        serde_json::json!({
            "superuser": u.is_superuser,
            "one_time_password": u.must_change_password,
        }),
        now_ms,
    );
    store.create_user_audited(u, &audit).await
}

/// Enable or disable `user` (id `user_id`). Disabling asks every session of the user, on
/// every instance, to end.
pub async fn set_active(
    store: &Store,
    by: By<'_>,
    user_id: i64,
    user: &str,
    active: bool,
    now_ms: i64,
) -> Result<(), StoreError> {
    let action = if active {
        "user_enable"
    } else {
        "user_disable"
    };
    let audit = by.audit_after(
        action,
        "moat_users",
        user,
        serde_json::json!({ "active": active }),
        now_ms,
    );
    store
        .set_user_active(user_id, active, secs(now_ms), &audit)
        .await
}

/// Drop `user`'s TOTP device and backup codes and give them the one-time password whose
/// hash is `phc`, until `expires`; their sessions end on every instance.
pub async fn reset_second_factor(
    store: &Store,
    by: By<'_>,
    user_id: i64,
    user: &str,
    phc: &str,
    expires: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut audit = by.audit_after(
        "reset_2fa",
        "moat_users",
        user,
        serde_json::json!({ "one_time_password_expires": expires }),
        now_ms,
    );
    audit.reason = Some(format!(
        "TOTP device and backup codes removed; one-time password until {}",
        format_time(expires)
    ));
    store
        .reset_second_factor(user_id, phc, expires, secs(now_ms), &audit)
        .await
}

/// Replace `user`'s backup codes with those hashed as `hashes`.
pub async fn replace_backup_codes(
    store: &Store,
    by: By<'_>,
    user_id: i64,
    user: &str,
    hashes: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    let audit = AuditEntry {
        outcome: "generated".into(),
        reason: Some(format!(
            "{} new codes for {user}; old ones revoked",
            hashes.len()
        )),
        ..by.audit("backup_codes", "moat_users", Some(user), now_ms)
    };
    store.replace_backup_codes(user_id, hashes, &audit).await
}

/// Create group `name` holding model permissions `perms`.
pub async fn create_group(
    store: &Store,
    by: By<'_>,
    name: &str,
    perms: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    let audit = by.audit_after(
        "group_add",
        "moat_groups",
        name,
        serde_json::json!({ "perms": perms }),
        now_ms,
    );
    store
        .create_group(name, perms, secs(now_ms), &audit)
        .await
        .map(|_| ())
}

/// Add `user` to (or, with `member` false, remove them from) each of `groups`, given as
/// (id, name).
pub async fn set_membership(
    store: &Store,
    by: By<'_>,
    (user_id, user): (i64, &str),
    groups: &[(i64, String)],
    member: bool,
    now_ms: i64,
) -> Result<(), StoreError> {
    let action = if member {
        "member_add"
    } else {
        "member_remove"
    };
    for (group_id, group) in groups {
        let audit = by.audit_after(
            action,
            "moat_groups",
            group,
            serde_json::json!({ "user": user }),
            now_ms,
        );
        if member {
            store.add_memberships(user_id, &[*group_id], &audit).await?;
        } else {
            store.remove_membership(user_id, *group_id, &audit).await?;
        }
    }
    Ok(())
}

/// Grant (or revoke) model permissions `codenames` to `to`, named `name`; returns how
/// many changed.
pub async fn set_model_perms(
    store: &Store,
    by: By<'_>,
    to: (Principal, &str),
    codenames: &[String],
    grant: bool,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let (principal, name) = to;
    let model = match principal {
        Principal::User(_) => "moat_users",
        Principal::Group(_) => "moat_groups",
    };
    let action = if grant { "grant" } else { "revoke" };
    let audit = by.audit_after(
        action,
        model,
        name,
        serde_json::json!({ "perms": codenames }),
        now_ms,
    );
    store
        .set_model_perms(principal, codenames, grant, &audit)
        .await
}

/// Assign (or remove) object permission `codename` on row `pk` of `model` to `to`, named
/// `name`; returns whether anything changed.
pub async fn set_object_perm(
    store: &Store,
    by: By<'_>,
    to: (Principal, &str),
    (codename, model, pk): (&str, &str, &str),
    assign: bool,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let (principal, name) = to;
    let action = if assign { "perm_assign" } else { "perm_remove" };
    let to = match principal {
        Principal::User(_) => format!("user {name}"),
        Principal::Group(_) => format!("group {name}"),
    };
    let audit = by.audit_after(
        action,
        model,
        pk,
        serde_json::json!({ "to": to, "codename": codename }),
        now_ms,
    );
    store
        .set_object_perm(principal, codename, model, pk, assign, &audit)
        .await
}

/// Delete `user` (id `user_id`) and everything that is theirs (see
/// [`Store::delete_user`]); refused for the last active superuser. The audit row keeps
/// what they held (`superuser`, `groups`), so the deletion reads whole in the trail.
pub async fn delete_user(
    store: &Store,
    by: By<'_>,
    (user_id, user): (i64, &str),
    held: &crate::store::PermListing,
    now_ms: i64,
) -> Result<(), StoreError> {
    // What they held directly, so the account can be rebuilt from the trail (what came
    // through groups stays with the groups).
    let record = serde_json::json!({
        "superuser": held.is_superuser,
        "active": held.is_active,
        "groups": held.groups,
        "perms": held
            .model_perms
            .iter()
            .filter(|(_, via)| via == "direct")
            .map(|(c, _)| c)
            .collect::<Vec<_>>(),
        "object_perms": held
            .object_perms
            .iter()
            .filter(|(.., via)| via == "direct")
            .map(|(codename, model, pk, _)| serde_json::json!([codename, model, pk]))
            .collect::<Vec<_>>(),
    });
    let audit = AuditEntry {
        before: Some(record),
        ..by.audit("user_delete", "moat_users", Some(user), now_ms)
    };
    store.delete_user(user_id, user, &audit).await
}

/// Delete group `group` (id `group_id`) with its memberships and permissions; the audit
/// row keeps what it held ([`GroupUsage`]), so it can be rebuilt from the trail.
pub async fn delete_group(
    store: &Store,
    by: By<'_>,
    (group_id, group): (i64, &str),
    held: &GroupUsage,
    now_ms: i64,
) -> Result<(), StoreError> {
    let audit = AuditEntry {
        before: Some(serde_json::json!({
            "members": held.members,
            "perms": held.model_perms,
            "object_perms": held
                .object_perms
                .iter()
                .map(|(codename, model, pk)| serde_json::json!([codename, model, pk]))
                .collect::<Vec<_>>(),
        })),
        ..by.audit("group_delete", "moat_groups", Some(group), now_ms)
    };
    store.delete_group(group_id, &audit).await
}

/// Rename group `old` (id `group_id`) to `new`; members and permissions stay with it.
pub async fn rename_group(
    store: &Store,
    by: By<'_>,
    (group_id, old): (i64, &str),
    new: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let audit = AuditEntry {
        before: Some(serde_json::json!({ "name": old })),
        after: Some(serde_json::json!({ "name": new })),
        ..by.audit("group_rename", "moat_groups", Some(old), now_ms)
    };
    store.rename_group(group_id, new, &audit).await
}

/// Forget the failure counters (and so the lockouts) naming `user`, `source` (an address
/// or IPv6 network as lockout counts it), or both; returns how many were removed.
pub async fn reset_lockout(
    store: &Store,
    by: By<'_>,
    user: Option<&str>,
    source: Option<&str>,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let n = store.reset_failure_counters(user, source).await?;
    let what = match (user, source) {
        (Some(u), Some(i)) => format!("user {u} from {i}"),
        (Some(u), None) => format!("user {u}"),
        (None, Some(i)) => format!("address {i}"),
        (None, None) => String::new(),
    };
    let audit = AuditEntry {
        reason: Some(format!("{what}: {n} counters removed")),
        ..by.audit("lockout_reset", "moat_users", user, now_ms)
    };
    store.audit(&[audit]).await?;
    Ok(n)
}

/// Register public key `key` for `user` (id `user_id`); returns the key's id.
pub async fn add_user_key(
    store: &Store,
    by: By<'_>,
    (user_id, user): (i64, &str),
    key: &NewKey<'_>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let audit = by.audit_after(
        "user_key_add",
        "moat_users",
        user,
        serde_json::json!({ "fingerprint": key.fingerprint, "algorithm": key.algorithm }),
        now_ms,
    );
    store.add_user_key(user_id, key, &audit).await
}

/// Remove a public key of `user`; the sessions that logged in with it end, on every
/// instance. Returns the key and how many sessions were asked to end.
pub async fn remove_user_key(
    store: &Store,
    by: By<'_>,
    (user_id, user): (i64, &str),
    which: &KeySelector,
    now_ms: i64,
) -> Result<(UserKey, u64), StoreError> {
    let audit = by.audit("user_key_remove", "moat_users", Some(user), now_ms);
    store.remove_user_key(user_id, which, &audit).await
}

/// A session asked to end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Its full id.
    pub id: String,
    /// Its user.
    pub user: String,
    /// What its user is told: who ended it.
    pub reason: String,
}

/// Ask session `id` (or the one session whose id starts so) to end, on whichever instance
/// runs it; its user is told who ended it.
pub async fn end_session(
    store: &Store,
    by: By<'_>,
    id: &str,
    now_ms: i64,
) -> Result<Ended, StoreError> {
    let audit = AuditEntry {
        outcome: "requested".into(),
        ..by.audit("session_end", "moat_sessions", None, now_ms)
    };
    let reason = format!("ended by {}", by.described());
    let (id, user) = store.request_session_end(id, &reason, &audit).await?;
    Ok(Ended { id, user, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_audited_as_the_operating_system_user() {
        let cli = By::Cli { os_user: "alice" };
        let e = cli.audit("grant", "moat_users", Some("bob"), 5);
        assert_eq!(e.actor.as_deref(), Some("cli:alice"));
        assert_eq!((e.source_ip, e.session_id), (None, None));
        assert_eq!(cli.described(), "alice (command line)");
        let console = By::Session {
            username: "carol",
            source_ip: "10.0.0.1",
            session_id: "ab12",
        };
        let e = console.audit("grant", "moat_users", Some(""), 5);
        assert_eq!(e.actor.as_deref(), Some("carol"));
        assert_eq!(e.session_id.as_deref(), Some("ab12"));
        assert_eq!(e.pk, None, "an empty key is no key");
    }
}
