//! Operator writes and read-outs of the command line that remove or rename principals:
//! deleting a user or a group, renaming a group, and who can act on one row (`moat perm
//! list --model M --key K`). Each write is one transaction with its audit row.

use super::audit::{append, AuditEntry};
use super::sql::{self, Dialect};
use super::{Store, StoreError};

/// What a group holds, as `moat group delete` tells before it removes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupUsage {
    pub members: Vec<String>,
    pub model_perms: Vec<String>,
    /// (codename, model, pk)
    pub object_perms: Vec<(String, String, String)>,
}

/// One way a user can act on a row: `codename` through `via`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowAccess {
    pub username: String,
    pub is_active: bool,
    /// `view_posts`, `change_posts`, … or `*` for a superuser (every permission).
    pub codename: String,
    pub via: AccessVia,
}

/// Through what a user holds a permission on a row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessVia {
    Superuser,
    /// A model permission granted to the user.
    Direct,
    /// A model permission of a group the user is in.
    Group(String),
    /// An object permission on this row, given to the user.
    Object,
    /// An object permission on this row, given to a group the user is in.
    ObjectGroup(String),
}

impl std::fmt::Display for AccessVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessVia::Superuser => write!(f, "superuser"),
            AccessVia::Direct => write!(f, "model permission (direct)"),
            AccessVia::Group(g) => write!(f, "model permission via group {g}"),
            AccessVia::Object => write!(f, "object permission (direct)"),
            AccessVia::ObjectGroup(g) => write!(f, "object permission via group {g}"),
        }
    }
}

impl Store {
    /// Active superusers other than `user_id`.
    async fn other_superusers(
        d: Dialect,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: i64,
    ) -> Result<i64, StoreError> {
        Ok(sql::query_scalar(
            d,
            "SELECT COUNT(*) FROM moat_users \
             WHERE is_superuser = TRUE AND is_active = TRUE AND id <> ?",
        )
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?)
    }

    /// Whether user `user_id` is a superuser (`None`: no such user).
    async fn superuser_flag(
        d: Dialect,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: i64,
    ) -> Result<Option<bool>, StoreError> {
        let row = sql::query(
            d,
            "SELECT is_superuser = TRUE AS is_superuser FROM moat_users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|r| sql::flag(&r, "is_superuser")).transpose()?)
    }

    /// Whether deleting `user_id` would leave no active superuser.
    pub async fn is_last_superuser(&self, user_id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let superuser = Self::superuser_flag(self.dialect, &mut tx, user_id)
            .await?
            .unwrap_or(false);
        let others = Self::other_superusers(self.dialect, &mut tx, user_id).await?;
        tx.rollback().await?;
        Ok(superuser && others == 0)
    }

    /// Delete user `user_id` (named `username`) and everything that is theirs: group
    /// memberships, model and object permissions, public keys, TOTP device, backup codes,
    /// session rows and known login sources. Refused ([`StoreError::Conflict`]) when they
    /// are a superuser and no other active superuser remains. One transaction with `audit`.
    pub async fn delete_user(
        &self,
        user_id: i64,
        username: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let superuser = Self::superuser_flag(self.dialect, &mut tx, user_id).await?;
        let Some(superuser) = superuser else {
            return Err(StoreError::NotFound(format!("user {username}")));
        };
        if superuser && Self::other_superusers(self.dialect, &mut tx, user_id).await? == 0 {
            return Err(StoreError::Conflict(format!(
                "{username} is the last active superuser: make another superuser first"
            )));
        }
        for statement in [
            "DELETE FROM moat_user_groups WHERE user_id = ?",
            "DELETE FROM moat_user_perms WHERE user_id = ?",
            "DELETE FROM moat_user_object_perms WHERE user_id = ?",
            "DELETE FROM moat_user_keys WHERE user_id = ?",
            "DELETE FROM moat_totp_devices WHERE user_id = ?",
            "DELETE FROM moat_backup_codes WHERE user_id = ?",
            "DELETE FROM moat_sessions WHERE user_id = ?",
            "DELETE FROM moat_list_columns WHERE user_id = ?",
        ] {
            sql::query(self.dialect, statement)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        sql::query(
            self.dialect,
            "DELETE FROM moat_login_sources WHERE username = ?",
        )
        .bind(username)
        .execute(&mut *tx)
        .await?;
        sql::query(self.dialect, "DELETE FROM moat_users WHERE id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The members, model permissions and object permissions of group `group_id`.
    pub async fn group_usage(&self, group_id: i64) -> Result<GroupUsage, StoreError> {
        let members: Vec<String> = sql::query_scalar(
            self.dialect,
            "SELECT u.username FROM moat_user_groups ug JOIN moat_users u ON u.id = ug.user_id \
             WHERE ug.group_id = ? ORDER BY u.username",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?;
        let model_perms: Vec<String> = sql::query_scalar(
            self.dialect,
            "SELECT codename FROM moat_group_perms WHERE group_id = ? ORDER BY codename",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(GroupUsage {
            members,
            model_perms,
            object_perms: self.group_object_perms(group_id).await?,
        })
    }

    /// Delete group `group_id` with its memberships, model and object permissions. One
    /// transaction with `audit`.
    pub async fn delete_group(&self, group_id: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for statement in [
            "DELETE FROM moat_user_groups WHERE group_id = ?",
            "DELETE FROM moat_group_perms WHERE group_id = ?",
            "DELETE FROM moat_group_object_perms WHERE group_id = ?",
        ] {
            sql::query(self.dialect, statement)
                .bind(group_id)
                .execute(&mut *tx)
                .await?;
        }
        let n = sql::query(self.dialect, "DELETE FROM moat_groups WHERE id = ?")
            .bind(group_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("that group".into()));
        }
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rename group `group_id` to `new_name` (members and permissions stay: they hang on
    /// its id). Refused ([`StoreError::Conflict`]) if a group has that name already.
    pub async fn rename_group(
        &self,
        group_id: i64,
        new_name: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let taken: i64 = sql::query_scalar(
            self.dialect,
            "SELECT COUNT(*) FROM moat_groups WHERE name = ?",
        )
        .bind(new_name)
        .fetch_one(&mut *tx)
        .await?;
        if taken > 0 {
            return Err(StoreError::Conflict(format!(
                "a group named {new_name} exists already"
            )));
        }
        sql::query(self.dialect, "UPDATE moat_groups SET name = ? WHERE id = ?")
            .bind(new_name)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every way a user can act on row `pk` of `model`: superusers, model permissions of
    /// the model (direct or through a group), object permissions on the row (direct or
    /// through a group). By user, then codename.
    pub async fn row_access(&self, model: &str, pk: &str) -> Result<Vec<RowAccess>, StoreError> {
        let users: Vec<(i64, String, bool, bool)> = sql::query(
            self.dialect,
            "SELECT id, username, is_superuser = TRUE AS is_superuser, \
                    is_active = TRUE AS is_active FROM moat_users",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            use sqlx::Row;
            Ok((
                r.try_get("id")?,
                r.try_get("username")?,
                sql::flag(r, "is_superuser")?,
                sql::flag(r, "is_active")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let suffix = format!("_{model}");
        let of_model = |codename: &str| {
            codename
                .strip_suffix(&suffix)
                .is_some_and(|verb| !verb.is_empty())
        };
        let mut found: Vec<(i64, String, AccessVia)> = Vec::new();
        for (id, _, superuser, _) in &users {
            if *superuser {
                found.push((*id, "*".into(), AccessVia::Superuser));
            }
        }
        let direct: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT user_id, codename FROM moat_user_perms",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, codename) in direct.into_iter().filter(|(_, c)| of_model(c)) {
            found.push((id, codename, AccessVia::Direct));
        }
        let group: Vec<(i64, String, String)> = sql::query_as(
            self.dialect,
            "SELECT ug.user_id, gp.codename, g.name FROM moat_group_perms gp \
             JOIN moat_groups g ON g.id = gp.group_id \
             JOIN moat_user_groups ug ON ug.group_id = gp.group_id",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, codename, g) in group.into_iter().filter(|(_, c, _)| of_model(c)) {
            found.push((id, codename, AccessVia::Group(g)));
        }
        let object: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT user_id, codename FROM moat_user_object_perms WHERE model = ? AND pk = ?",
        )
        .bind(model)
        .bind(pk)
        .fetch_all(&self.pool)
        .await?;
        for (id, codename) in object {
            found.push((id, codename, AccessVia::Object));
        }
        let object_group: Vec<(i64, String, String)> = sql::query_as(
            self.dialect,
            "SELECT ug.user_id, p.codename, g.name FROM moat_group_object_perms p \
             JOIN moat_groups g ON g.id = p.group_id \
             JOIN moat_user_groups ug ON ug.group_id = p.group_id \
             WHERE p.model = ? AND p.pk = ?",
        )
        .bind(model)
        .bind(pk)
        .fetch_all(&self.pool)
        .await?;
        for (id, codename, g) in object_group {
            found.push((id, codename, AccessVia::ObjectGroup(g)));
        }
        let mut out: Vec<RowAccess> = found
            .into_iter()
            .filter_map(|(id, codename, via)| {
                let (_, name, _, active) = users.iter().find(|(u, ..)| *u == id)?;
                Some(RowAccess {
                    username: name.clone(),
                    is_active: *active,
                    codename,
                    via,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.username, &a.codename, &a.via).cmp(&(&b.username, &b.codename, &b.via))
        });
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_every_database, plain_user};
    use crate::store::Principal;

    fn audit() -> AuditEntry {
        AuditEntry {
            action: "test".into(),
            outcome: "success".into(),
            ..AuditEntry::default()
        }
    }

    on_every_database! {
        async fn deleting_a_user_removes_what_was_theirs_but_never_the_last_superuser(store: Store) {
            let jane = plain_user(&store, "jane").await;
            let root = plain_user(&store, "root").await;
            sql::query(store.dialect(), "UPDATE moat_users SET is_superuser = TRUE WHERE id = ?")
                .bind(root)
                .execute(store.pool())
                .await
                .unwrap();
            let g = store.create_group("editors", &[], 0, &audit()).await.unwrap();
            store.add_memberships(jane, &[g], &audit()).await.unwrap();
            store.set_model_perms(Principal::User(jane), &["view_posts".into()], true, &audit()).await.unwrap();
            store.set_object_perm(Principal::User(jane), "change_posts", "posts", "1", true, &audit()).await.unwrap();
            store.replace_backup_codes(jane, &["a".into()], &audit()).await.unwrap();
            store.record_login_source("jane", "10.0.0.1", 100).await.unwrap();

            assert!(store.is_last_superuser(root).await.unwrap());
            assert!(!store.is_last_superuser(jane).await.unwrap());
            let refused = store.delete_user(root, "root", &audit()).await;
            assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
            assert!(store.user_id("root").await.unwrap().is_some());

            store.delete_user(jane, "jane", &audit()).await.unwrap();
            assert_eq!(store.user_id("jane").await.unwrap(), None);
            for count in [
                "SELECT COUNT(*) FROM moat_user_groups",
                "SELECT COUNT(*) FROM moat_user_perms",
                "SELECT COUNT(*) FROM moat_user_object_perms",
                "SELECT COUNT(*) FROM moat_backup_codes",
            ] {
                let n: i64 = sql::query_scalar(store.dialect(), count)
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                assert_eq!(n, 0, "{count}");
            }
            let sources: i64 = sql::query_scalar(store.dialect(), "SELECT COUNT(*) FROM moat_login_sources")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(sources, 0);
            assert!(store.row_access("posts", "1").await.unwrap().iter().all(|a| a.username == "root"));
        }
    }

    on_every_database! {
        async fn groups_are_renamed_keeping_grants_and_deleted_with_them(store: Store) {
            let jane = plain_user(&store, "jane").await;
            let g = store.create_group("editors", &["change_posts".into()], 0, &audit()).await.unwrap();
            store.create_group("taken", &[], 0, &audit()).await.unwrap();
            store.add_memberships(jane, &[g], &audit()).await.unwrap();
            store.set_object_perm(Principal::Group(g), "view_posts", "posts", "2", true, &audit()).await.unwrap();

            let clash = store.rename_group(g, "taken", &audit()).await;
            assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
            store.rename_group(g, "writers", &audit()).await.unwrap();
            assert_eq!(store.group_id("writers").await.unwrap(), Some(g));
            assert_eq!(store.group_id("editors").await.unwrap(), None);
            let usage = store.group_usage(g).await.unwrap();
            assert_eq!(usage.members, ["jane"]);
            assert_eq!(usage.model_perms, ["change_posts"]);
            assert_eq!(usage.object_perms, [("view_posts".into(), "posts".into(), "2".into())]);

            let access = store.row_access("posts", "2").await.unwrap();
            let vias: Vec<(String, AccessVia)> =
                access.iter().map(|a| (a.codename.clone(), a.via.clone())).collect();
            assert_eq!(
                vias,
                [
                    ("change_posts".into(), AccessVia::Group("writers".into())),
                    ("view_posts".into(), AccessVia::ObjectGroup("writers".into())),
                ]
            );
            assert!(store.row_access("posts", "3").await.unwrap().len() == 1, "the model permission only");
            assert!(store.row_access("postsx", "2").await.unwrap().is_empty());

            store.delete_group(g, &audit()).await.unwrap();
            assert_eq!(store.group_id("writers").await.unwrap(), None);
            assert!(store.grants(jane).await.unwrap().model_perms.is_empty());
            assert!(store.row_access("posts", "2").await.unwrap().is_empty());
        }
    }
}
