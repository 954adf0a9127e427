//! Groups, memberships, model and object permissions: loading a user's grants in a few
//! set queries (no per-permission round trips), the codenames on one row, and the
//! management writes, each in one transaction with its audit row.

use std::collections::HashSet;

use sqlx::Row;

use super::audit::{append, AuditEntry};
use super::sql::{self, user_groups};
use super::{Store, StoreError};
use crate::domain::Grants;

/// Who an object permission or a model permission is given to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    User(i64),
    Group(i64),
}

/// A group as `moat group list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub members: Vec<String>,
    pub perms: Vec<String>,
}

/// Everything a user holds, and where it comes from (`moat perm list --user U`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermListing {
    pub is_superuser: bool,
    pub is_active: bool,
    pub groups: Vec<String>,
    /// (codename, "direct" or the group's name)
    pub model_perms: Vec<(String, String)>,
    /// (codename, model, pk, "direct" or the group's name)
    pub object_perms: Vec<(String, String, String, String)>,
}

/// A user as the console's user list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub is_superuser: bool,
    pub is_active: bool,
    pub groups: Vec<String>,
    pub locked: bool,
}

impl Store {
    /// The grants of `user_id` for the permission engine.
    pub async fn grants(&self, user_id: i64) -> Result<Grants, StoreError> {
        let user = sql::query(
            self.dialect,
            "SELECT is_active = TRUE AS is_active, is_superuser = TRUE AS is_superuser \
             FROM moat_users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(user) = user else {
            return Ok(Grants::default()); // gone: inactive, nothing
        };
        let model_perms: Vec<String> = sql::query_scalar(
            self.dialect,
            concat!(
                "SELECT codename FROM moat_user_perms WHERE user_id = ? ",
                "UNION SELECT codename FROM moat_group_perms WHERE group_id IN (",
                user_groups!(),
                ")"
            ),
        )
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let object_codes: Vec<(String, String)> = sql::query_as(
            self.dialect,
            concat!(
                "SELECT DISTINCT model, codename FROM moat_user_object_perms WHERE user_id = ? ",
                "UNION SELECT DISTINCT model, codename FROM moat_group_object_perms ",
                "WHERE group_id IN (",
                user_groups!(),
                ")"
            ),
        )
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let groups: Vec<String> = sql::query_scalar(
            self.dialect,
            concat!(
                "SELECT name FROM moat_groups WHERE id IN (",
                user_groups!(),
                ")"
            ),
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Grants {
            is_active: sql::flag(&user, "is_active")?,
            is_superuser: sql::flag(&user, "is_superuser")?,
            model_perms: model_perms.into_iter().collect(),
            object_models: object_codes
                .into_iter()
                .filter_map(|(model, codename)| {
                    let verb = codename.strip_suffix(&format!("_{model}"))?.to_string();
                    Some((model, verb))
                })
                .collect(),
            groups: groups.into_iter().collect(),
        })
    }

    /// The codenames `user_id` (or a group of theirs) holds on row `pk` of `model`.
    pub async fn row_perms(
        &self,
        user_id: i64,
        model: &str,
        pk: &str,
    ) -> Result<HashSet<String>, StoreError> {
        let codes: Vec<String> = sql::query_scalar(self.dialect, concat!(
            "SELECT codename FROM moat_user_object_perms WHERE user_id = ? AND model = ? AND pk = ? ",
            "UNION SELECT codename FROM moat_group_object_perms ",
            "WHERE model = ? AND pk = ? AND group_id IN (",
            user_groups!(),
            ")"
        ))
        .bind(user_id)
        .bind(model)
        .bind(pk)
        .bind(model)
        .bind(pk)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(codes.into_iter().collect())
    }

    /// The codenames `user_id` (or a group of theirs) holds on each of rows `pks` of
    /// `model`, by key (rows with none are absent): one query for a page of rows.
    pub async fn rows_perms(
        &self,
        user_id: i64,
        model: &str,
        pks: &[String],
    ) -> Result<std::collections::HashMap<String, HashSet<String>>, StoreError> {
        let mut out: std::collections::HashMap<String, HashSet<String>> = Default::default();
        if pks.is_empty() {
            return Ok(out);
        }
        let marks = vec!["?"; pks.len()].join(", ");
        let q = self.dialect.sql(&format!(
            "SELECT pk, codename FROM moat_user_object_perms \
             WHERE user_id = ? AND model = ? AND pk IN ({marks}) \
             UNION SELECT pk, codename FROM moat_group_object_perms \
             WHERE model = ? AND pk IN ({marks}) AND group_id IN ({})",
            user_groups!()
        ));
        let mut query = sql::query_of_list(self.dialect, &q)
            .bind(user_id)
            .bind(model);
        for pk in pks {
            query = query.bind(pk.as_str());
        }
        query = query.bind(model);
        for pk in pks {
            query = query.bind(pk.as_str());
        }
        for row in query.bind(user_id).fetch_all(&self.pool).await? {
            let pk: String = row.try_get("pk")?;
            let codename: String = row.try_get("codename")?;
            out.entry(pk).or_default().insert(codename);
        }
        Ok(out)
    }

    /// The id of group `name`.
    pub async fn group_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sql::query_scalar(self.dialect, "SELECT id FROM moat_groups WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Create group `name` holding `perms`.
    pub async fn create_group(
        &self,
        name: &str,
        perms: &[String],
        now: i64,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted: Result<i64, _> = sql::query_scalar(
            self.dialect,
            "INSERT INTO moat_groups (name, created_at) VALUES (?, ?) RETURNING id",
        )
        .bind(name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "group `{name}` already exists"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        for p in perms {
            sql::query(self.dialect,
                "INSERT INTO moat_group_perms (group_id, codename) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
        }
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Give (`grant`) or take back model permissions from a user or a group. Returns how
    /// many changed (already held or absent ones are skipped).
    pub async fn set_model_perms(
        &self,
        to: Principal,
        codenames: &[String],
        grant: bool,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let (statement, id) = match (to, grant) {
            (Principal::User(id), true) => (
                "INSERT INTO moat_user_perms (user_id, codename) VALUES (?, ?) ON CONFLICT DO NOTHING",
                id,
            ),
            (Principal::User(id), false) => (
                "DELETE FROM moat_user_perms WHERE user_id = ? AND codename = ?",
                id,
            ),
            (Principal::Group(id), true) => (
                "INSERT INTO moat_group_perms (group_id, codename) VALUES (?, ?) ON CONFLICT DO NOTHING",
                id,
            ),
            (Principal::Group(id), false) => (
                "DELETE FROM moat_group_perms WHERE group_id = ? AND codename = ?",
                id,
            ),
        };
        let mut tx = self.begin_write().await?;
        let mut changed = 0;
        for c in codenames {
            changed += sql::query(self.dialect, statement)
                .bind(id)
                .bind(c)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Assign (or remove) the object permission `codename` on row `pk` of `model`.
    /// Returns whether anything changed.
    pub async fn set_object_perm(
        &self,
        to: Principal,
        codename: &str,
        model: &str,
        pk: &str,
        assign: bool,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (statement, id) = match (to, assign) {
            (Principal::User(id), true) => (
                "INSERT INTO moat_user_object_perms (user_id, codename, model, pk) \
                 VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                id,
            ),
            (Principal::User(id), false) => (
                "DELETE FROM moat_user_object_perms \
                 WHERE user_id = ? AND codename = ? AND model = ? AND pk = ?",
                id,
            ),
            (Principal::Group(id), true) => (
                "INSERT INTO moat_group_object_perms (group_id, codename, model, pk) \
                 VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                id,
            ),
            (Principal::Group(id), false) => (
                "DELETE FROM moat_group_object_perms \
                 WHERE group_id = ? AND codename = ? AND model = ? AND pk = ?",
                id,
            ),
        };
        let mut tx = self.begin_write().await?;
        let changed = sql::query(self.dialect, statement)
            .bind(id)
            .bind(codename)
            .bind(model)
            .bind(pk)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Every user, by name, with groups and whether any of their lockout keys is locked
    /// at `now`.
    pub async fn list_users(&self, now: i64) -> Result<Vec<UserRow>, StoreError> {
        let rows = sql::query(
            self.dialect,
            "SELECT u.id, u.username, u.is_superuser = TRUE AS is_superuser, \
                    u.is_active = TRUE AS is_active, \
               EXISTS (SELECT 1 FROM moat_auth_failures f \
                       WHERE f.username = u.username AND f.locked_until > ?) AS locked \
             FROM moat_users u ORDER BY u.username",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let memberships: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT ug.user_id, g.name FROM moat_user_groups ug \
             JOIN moat_groups g ON g.id = ug.group_id ORDER BY g.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                Ok(UserRow {
                    id,
                    username: r.try_get("username")?,
                    is_superuser: sql::flag(r, "is_superuser")?,
                    is_active: sql::flag(r, "is_active")?,
                    locked: sql::flag(r, "locked")?,
                    groups: memberships
                        .iter()
                        .filter(|(u, _)| *u == id)
                        .map(|(_, g)| g.clone())
                        .collect(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every object permission group `group_id` holds: (codename, model, pk).
    pub async fn group_object_perms(
        &self,
        group_id: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(sql::query_as(
            self.dialect,
            "SELECT codename, model, pk FROM moat_group_object_perms WHERE group_id = ? \
             ORDER BY model, pk, codename",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The object permissions on row `pk` of `model`: (user or group, its name, codename).
    pub async fn object_perm_entries(
        &self,
        model: &str,
        pk: &str,
    ) -> Result<Vec<(Principal, String, String)>, StoreError> {
        let rows: Vec<(String, i64, String, String)> = sql::query_as(
            self.dialect,
            "SELECT 'user', u.id, u.username, p.codename FROM moat_user_object_perms p \
               JOIN moat_users u ON u.id = p.user_id WHERE p.model = ? AND p.pk = ? \
             UNION ALL SELECT 'group', g.id, g.name, p.codename FROM moat_group_object_perms p \
               JOIN moat_groups g ON g.id = p.group_id WHERE p.model = ? AND p.pk = ? \
             ORDER BY 1 DESC, 3, 4",
        )
        .bind(model)
        .bind(pk)
        .bind(model)
        .bind(pk)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, id, name, codename)| {
                let who = if kind == "user" {
                    Principal::User(id)
                } else {
                    Principal::Group(id)
                };
                (who, name, codename)
            })
            .collect())
    }

    /// Take `user_id` out of `group_id`.
    pub async fn remove_membership(
        &self,
        user_id: i64,
        group_id: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sql::query(
            self.dialect,
            "DELETE FROM moat_user_groups WHERE user_id = ? AND group_id = ?",
        )
        .bind(user_id)
        .bind(group_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Put `user_id` in each of `group_ids`.
    pub async fn add_memberships(
        &self,
        user_id: i64,
        group_ids: &[i64],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for g in group_ids {
            sql::query(self.dialect, "INSERT INTO moat_user_groups (user_id, group_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enable or disable a user. Disabling asks every live session of the user to end.
    pub async fn set_user_active(
        &self,
        user_id: i64,
        active: bool,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sql::query(
            self.dialect,
            "UPDATE moat_users SET is_active = ?, updated_at = ? WHERE id = ?",
        )
        .bind(active)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if !active {
            let now_ms = audit.at_ms.max(now.saturating_mul(1000));
            super::sessions::request_user_end(&mut tx, user_id, "account disabled", now_ms).await?;
        }
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every group with its members and permissions, by name.
    pub async fn list_groups(&self) -> Result<Vec<GroupInfo>, StoreError> {
        let groups: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT id, name FROM moat_groups ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let members: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT ug.group_id, u.username FROM moat_user_groups ug \
             JOIN moat_users u ON u.id = ug.user_id ORDER BY u.username",
        )
        .fetch_all(&self.pool)
        .await?;
        let perms: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT group_id, codename FROM moat_group_perms ORDER BY codename",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(groups
            .into_iter()
            .map(|(id, name)| GroupInfo {
                name,
                members: members
                    .iter()
                    .filter(|(g, _)| *g == id)
                    .map(|(_, u)| u.clone())
                    .collect(),
                perms: perms
                    .iter()
                    .filter(|(g, _)| *g == id)
                    .map(|(_, c)| c.clone())
                    .collect(),
            })
            .collect())
    }

    /// What `user_id` holds and through what.
    pub async fn perm_listing(&self, user_id: i64) -> Result<PermListing, StoreError> {
        let Some(user) = sql::query(
            self.dialect,
            "SELECT is_active = TRUE AS is_active, is_superuser = TRUE AS is_superuser \
             FROM moat_users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(PermListing::default());
        };
        let groups: Vec<String> = sql::query_scalar(
            self.dialect,
            concat!(
                "SELECT name FROM moat_groups WHERE id IN (",
                user_groups!(),
                ") ORDER BY name"
            ),
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let model_perms: Vec<(String, String)> = sql::query_as(
            self.dialect,
            concat!(
                "SELECT codename, 'direct' FROM moat_user_perms WHERE user_id = ? ",
                "UNION ALL SELECT gp.codename, g.name FROM moat_group_perms gp ",
                "JOIN moat_groups g ON g.id = gp.group_id WHERE gp.group_id IN (",
                user_groups!(),
                ") ORDER BY 1, 2"
            ),
        )
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let object_perms: Vec<(String, String, String, String)> = sql::query_as(self.dialect, concat!(
            "SELECT codename, model, pk, 'direct' FROM moat_user_object_perms WHERE user_id = ? ",
            "UNION ALL SELECT op.codename, op.model, op.pk, g.name FROM moat_group_object_perms op ",
            "JOIN moat_groups g ON g.id = op.group_id WHERE op.group_id IN (",
            user_groups!(),
            ") ORDER BY 2, 3, 1"
        ))
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(PermListing {
            is_superuser: sql::flag(&user, "is_superuser")?,
            is_active: sql::flag(&user, "is_active")?,
            groups,
            model_perms,
            object_perms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_every_database;

    fn audit() -> AuditEntry {
        AuditEntry {
            action: "test".into(),
            outcome: "success".into(),
            ..AuditEntry::default()
        }
    }

    use crate::store::test_support::plain_user as user;

    on_every_database! {
        async fn grants_union_user_and_group_permissions(store: Store) {
            let jane = user(&store, "jane").await;
            let bob = user(&store, "bob").await;
            let editors = store
                .create_group("editors", &["change_posts".into()], 0, &audit())
                .await
                .unwrap();
            assert!(store
                .create_group("editors", &[], 0, &audit())
                .await
                .is_err());
            store
                .add_memberships(jane, &[editors], &audit())
                .await
                .unwrap();
            store
                .set_model_perms(Principal::User(jane), &["view_tags".into()], true, &audit())
                .await
                .unwrap();
            store
                .set_object_perm(
                    Principal::Group(editors),
                    "view_authors",
                    "authors",
                    "7",
                    true,
                    &audit(),
                )
                .await
                .unwrap();
            store
                .set_object_perm(
                    Principal::User(jane),
                    "delete_posts",
                    "posts",
                    "3",
                    true,
                    &audit(),
                )
                .await
                .unwrap();
            // Granting what is held already changes nothing, and says so (on every
            // database: MySQL's upsert counts a found row as affected).
            assert!(!store
                .set_object_perm(
                    Principal::User(jane),
                    "delete_posts",
                    "posts",
                    "3",
                    true,
                    &audit(),
                )
                .await
                .unwrap());
            assert_eq!(
                store
                    .set_model_perms(Principal::User(jane), &["view_tags".into()], true, &audit())
                    .await
                    .unwrap(),
                0
            );

            let g = store.grants(jane).await.unwrap();
            assert!(g.is_active && !g.is_superuser);
            assert_eq!(
                g.model_perms,
                ["change_posts", "view_tags"].map(String::from).into()
            );
            assert!(g.object_models.contains(&("authors".into(), "view".into())));
            assert!(g.object_models.contains(&("posts".into(), "delete".into())));
            assert!(g.groups.contains("editors"));
            assert_eq!(
                store.row_perms(jane, "authors", "7").await.unwrap(),
                ["view_authors".to_string()].into()
            );
            assert!(store
                .row_perms(jane, "authors", "8")
                .await
                .unwrap()
                .is_empty());
            assert!(store.grants(bob).await.unwrap().model_perms.is_empty());

            let listing = store.perm_listing(jane).await.unwrap();
            assert_eq!(listing.groups, vec!["editors"]);
            assert!(listing
                .model_perms
                .contains(&("change_posts".into(), "editors".into())));
            assert_eq!(listing.object_perms.len(), 2);

            // Revoking and removing.
            let n = store
                .set_model_perms(
                    Principal::User(jane),
                    &["view_tags".into(), "nope".into()],
                    false,
                    &audit(),
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
            assert!(!store
                .set_object_perm(
                    Principal::User(jane),
                    "delete_posts",
                    "posts",
                    "4",
                    false,
                    &audit()
                )
                .await
                .unwrap());
            let groups = store.list_groups().await.unwrap();
            assert_eq!(groups[0].members, vec!["jane"]);
            assert_eq!(groups[0].perms, vec!["change_posts"]);

            store
                .set_user_active(jane, false, 1, &audit())
                .await
                .unwrap();
            assert!(!store.grants(jane).await.unwrap().is_active);
        }
    }
}
