//! Facts about moat's users for operators: the `moat report users` rows and what
//! `moat doctor` checks (second factors, one-time passwords, dormant accounts, the
//! parameters of stored password hashes). Read-only, a handful of set queries.

use std::collections::HashMap;

use sqlx::Row;

use super::sql;
use super::{Store, StoreError};

/// A user's second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpState {
    /// No device: the user logs in with a one-time password and enrols then.
    None,
    /// A device was made but its first code never confirmed.
    Unconfirmed,
    Enrolled,
}

impl TotpState {
    pub fn as_str(self) -> &'static str {
        match self {
            TotpState::None => "none",
            TotpState::Unconfirmed => "unconfirmed",
            TotpState::Enrolled => "enrolled",
        }
    }
}

/// One user as the users report shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFacts {
    pub username: String,
    pub is_superuser: bool,
    pub is_active: bool,
    pub groups: Vec<String>,
    /// Distinct model-level codenames held, directly or through a group.
    pub model_perms: u64,
    /// Object permissions held, directly or through a group.
    pub object_perms: u64,
    pub totp: TotpState,
    pub backup_codes_left: u64,
    /// The last successful login: when (unix seconds) and from which source.
    pub last_login: Option<(i64, String)>,
    /// Refused logins naming this user since the `since` given to [`Store::user_facts`].
    pub failed_logins: u64,
    /// The password is a one-time password (set by `user add` or a 2FA reset).
    pub one_time_password: bool,
    /// When that one-time password stops working (unix seconds).
    pub password_expires_at: Option<i64>,
    pub created_at: i64,
}

impl Store {
    /// Every user, by name, with the facts of the users report; failed logins are
    /// counted from `since_ms` (unix milliseconds) on.
    pub async fn user_facts(&self, since_ms: i64) -> Result<Vec<UserFacts>, StoreError> {
        let users = sql::query(
            self.dialect,
            "SELECT id, username, is_superuser = TRUE AS is_superuser, \
                    is_active = TRUE AS is_active, \
                    must_change_password = TRUE AS one_time, password_expires_at, created_at \
             FROM moat_users ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        let groups: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT ug.user_id, g.name FROM moat_user_groups ug \
             JOIN moat_groups g ON g.id = ug.group_id ORDER BY g.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let model_perms: Vec<(i64, String)> = sql::query_as(
            self.dialect,
            "SELECT user_id, codename FROM moat_user_perms \
             UNION SELECT ug.user_id, gp.codename FROM moat_user_groups ug \
             JOIN moat_group_perms gp ON gp.group_id = ug.group_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let object_perms = self
            .counts(
                "SELECT user_id, COUNT(*) FROM moat_user_object_perms GROUP BY user_id \
                 UNION ALL SELECT ug.user_id, COUNT(*) FROM moat_user_groups ug \
                 JOIN moat_group_object_perms gop ON gop.group_id = ug.group_id \
                 GROUP BY ug.user_id",
            )
            .await?;
        let backup_codes = self
            .counts(
                "SELECT user_id, COUNT(*) FROM moat_backup_codes WHERE used_at IS NULL \
                 GROUP BY user_id",
            )
            .await?;
        let devices = sql::query(
            self.dialect,
            "SELECT user_id, confirmed = TRUE AS confirmed FROM moat_totp_devices",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>("user_id")?, sql::flag(r, "confirmed")?)))
        .collect::<Result<HashMap<i64, bool>, sqlx::Error>>()?;
        let sources: Vec<(String, String, i64)> = sql::query_as(
            self.dialect,
            "SELECT username, ip, last_success_at FROM moat_login_sources",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut last_login: HashMap<&str, (i64, &str)> = HashMap::new();
        for (user, ip, at) in &sources {
            let last = last_login.entry(user).or_insert((*at, ip));
            if *at > last.0 {
                *last = (*at, ip);
            }
        }
        let failures: Vec<(Option<String>, i64)> = sql::query_as(
            self.dialect,
            "SELECT actor, COUNT(*) FROM moat_audit_log \
             WHERE action = 'login' AND outcome = 'failure' AND at_ms >= ? GROUP BY actor",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let failures: HashMap<String, i64> = failures
            .into_iter()
            .filter_map(|(actor, n)| Some((actor?, n)))
            .collect();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        users
            .iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let username: String = r.try_get("username")?;
                Ok(UserFacts {
                    is_superuser: sql::flag(r, "is_superuser")?,
                    is_active: sql::flag(r, "is_active")?,
                    groups: groups
                        .iter()
                        .filter(|(u, _)| *u == id)
                        .map(|(_, g)| g.clone())
                        .collect(),
                    model_perms: model_perms.iter().filter(|(u, _)| *u == id).count() as u64,
                    object_perms: count(object_perms.get(&id).copied().unwrap_or(0)),
                    totp: match devices.get(&id) {
                        Some(true) => TotpState::Enrolled,
                        Some(false) => TotpState::Unconfirmed,
                        None => TotpState::None,
                    },
                    backup_codes_left: count(backup_codes.get(&id).copied().unwrap_or(0)),
                    last_login: last_login
                        .get(username.as_str())
                        .map(|(at, ip)| (*at, ip.to_string())),
                    failed_logins: count(failures.get(&username).copied().unwrap_or(0)),
                    one_time_password: sql::flag(r, "one_time")?,
                    password_expires_at: r.try_get("password_expires_at")?,
                    created_at: r.try_get("created_at")?,
                    username,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// `(user id, n)` rows summed per user.
    async fn counts(&self, query: &'static str) -> Result<HashMap<i64, i64>, StoreError> {
        let rows: Vec<(i64, i64)> = sql::query_as(self.dialect, query)
            .fetch_all(&self.pool)
            .await?;
        let mut sums = HashMap::new();
        for (user, n) in rows {
            *sums.entry(user).or_insert(0) += n;
        }
        Ok(sums)
    }

    /// Every active user's name and the PHC string of their password hash, for `moat
    /// doctor`'s check of the hashing parameters. The hashes never leave the process.
    pub async fn password_hashes(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sql::query_as(
            self.dialect,
            "SELECT username, password_hash FROM moat_users WHERE is_active = TRUE \
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_every_database, plain_user};
    use crate::store::{AuditEntry, Principal};

    on_every_database! {
        async fn facts_count_what_each_user_holds_and_did(store: Store) {
            let alice = plain_user(&store, "alice").await;
            let bob = plain_user(&store, "bob").await;
            let audit = AuditEntry {
                action: "test".into(),
                outcome: "success".into(),
                ..AuditEntry::default()
            };
            let g = store.create_group("editors", &[], 0, &audit).await.unwrap();
            store.add_memberships(alice, &[g], &audit).await.unwrap();
            for (who, codename) in [
                (Principal::User(alice), "view_posts"),
                (Principal::Group(g), "view_posts"),
                (Principal::Group(g), "change_posts"),
            ] {
                store.set_model_perms(who, &[codename.to_string()], true, &audit).await.unwrap();
            }
            store.set_object_perm(Principal::User(alice), "view_tags", "tags", "1", true, &audit).await.unwrap();
            store.set_object_perm(Principal::Group(g), "view_tags", "tags", "2", true, &audit).await.unwrap();
            store.replace_backup_codes(alice, &["a".into(), "b".into()], &audit).await.unwrap();
            store.record_login_source("alice", "10.0.0.1", 100).await.unwrap();
            store.record_login_source("alice", "10.0.0.2", 200).await.unwrap();
            let failure = |at_ms: i64, actor: &str| AuditEntry {
                at_ms,
                actor: Some(actor.into()),
                action: "login".into(),
                outcome: "failure".into(),
                ..AuditEntry::default()
            };
            store.audit(&[failure(5_000, "bob"), failure(9_000, "bob"), failure(1_000, "bob")]).await.unwrap();

            let facts = store.user_facts(2_000).await.unwrap();
            let [a, b] = facts.as_slice() else { panic!("{facts:?}") };
            assert_eq!((a.username.as_str(), b.username.as_str()), ("alice", "bob"));
            assert_eq!(a.groups, ["editors"]);
            assert_eq!(a.model_perms, 2, "view_posts counted once, change_posts through the group");
            assert_eq!(a.object_perms, 2);
            assert_eq!(a.backup_codes_left, 2);
            assert_eq!(a.last_login, Some((200, "10.0.0.2".into())));
            assert_eq!(a.totp, TotpState::None);
            assert_eq!((b.model_perms, b.object_perms, b.backup_codes_left), (0, 0, 0));
            assert_eq!(b.failed_logins, 2, "only those since `since`");
            assert_eq!(b.last_login, None);
            let _ = bob;
            assert_eq!(store.password_hashes().await.unwrap().len(), 2);
        }
    }
}
