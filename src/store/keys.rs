//! Users' public keys (`moat_user_keys`): added, listed and removed by operators (and,
//! later, the console), looked up by fingerprint at login. Removing a key asks every live
//! session that logged in with it to end, in the same transaction as the audit row.

use sqlx::Row;

use super::{sql, AuditEntry, Store, StoreError};

/// A key to register.
#[derive(Clone, Debug)]
pub struct NewKey<'a> {
    pub algorithm: &'a str,
    /// OpenSSH one-line form without a comment (`ssh-ed25519 AAAA…`).
    pub public_key: &'a str,
    /// `SHA256:…`, unique across users.
    pub fingerprint: &'a str,
    pub comment: &'a str,
    pub now: i64,
}

/// A registered key as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserKey {
    pub id: i64,
    pub algorithm: String,
    pub fingerprint: String,
    pub comment: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Which key `key remove` means: its id, or its fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySelector {
    Id(i64),
    Fingerprint(String),
}

impl KeySelector {
    /// `42` is an id; `SHA256:…` a fingerprint.
    pub fn parse(text: &str) -> Option<KeySelector> {
        let text = text.trim();
        if let Ok(id) = text.parse::<i64>() {
            return Some(KeySelector::Id(id));
        }
        text.strip_prefix("SHA256:")
            .filter(|b64| !b64.is_empty())
            .map(|b64| KeySelector::Fingerprint(format!("SHA256:{}", b64.trim_end_matches('='))))
    }
}

fn user_key(r: &sqlx::any::AnyRow) -> Result<UserKey, sqlx::Error> {
    Ok(UserKey {
        id: r.try_get("id")?,
        algorithm: r.try_get("algorithm")?,
        fingerprint: r.try_get("fingerprint")?,
        comment: r.try_get("comment")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

impl Store {
    /// Register `key` for `user_id`, with `audit`, in one transaction. A key already
    /// registered (to this user or another) is a conflict: a key names one person.
    pub async fn add_user_key(
        &self,
        user_id: i64,
        key: &NewKey<'_>,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let taken: Option<i64> = sql::query_scalar(
            self.dialect,
            "SELECT user_id FROM moat_user_keys WHERE fingerprint = ?",
        )
        .bind(key.fingerprint)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(owner) = taken {
            return Err(StoreError::Conflict(if owner == user_id {
                format!(
                    "key {} is already registered for this user",
                    key.fingerprint
                )
            } else {
                format!(
                    "key {} is registered for another user: a key belongs to one person",
                    key.fingerprint
                )
            }));
        }
        let id: i64 = sql::query_scalar(
            self.dialect,
            "INSERT INTO moat_user_keys (user_id, algorithm, public_key, fingerprint, comment, \
                                         created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user_id)
        .bind(key.algorithm)
        .bind(key.public_key)
        .bind(key.fingerprint)
        .bind(key.comment)
        .bind(key.now)
        .fetch_one(&mut *tx)
        .await?;
        let mut audit = audit.clone();
        audit.after = Some(serde_json::json!({
            "id": id,
            "algorithm": key.algorithm,
            "fingerprint": key.fingerprint,
            "comment": key.comment,
        }));
        super::audit::append(&mut tx, self.audit_key(), &audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The keys of `user_id`, oldest first.
    pub async fn user_keys(&self, user_id: i64) -> Result<Vec<UserKey>, StoreError> {
        let rows = sql::query(
            self.dialect,
            "SELECT id, algorithm, fingerprint, comment, created_at, last_used_at \
             FROM moat_user_keys WHERE user_id = ? ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_key).collect::<Result<_, _>>()?)
    }

    /// Remove a key of `user_id`, and ask every live session that logged in with it to
    /// end (on every instance), with `audit`, in one transaction. Returns the key removed
    /// and how many sessions were asked to end.
    pub async fn remove_user_key(
        &self,
        user_id: i64,
        which: &KeySelector,
        audit: &AuditEntry,
    ) -> Result<(UserKey, u64), StoreError> {
        let mut tx = self.begin_write().await?;
        let row = match which {
            KeySelector::Id(id) => {
                sql::query(
                    self.dialect,
                    "SELECT id, algorithm, fingerprint, comment, created_at, last_used_at \
                     FROM moat_user_keys WHERE user_id = ? AND id = ?",
                )
                .bind(user_id)
                .bind(*id)
                .fetch_optional(&mut *tx)
                .await?
            }
            KeySelector::Fingerprint(fp) => {
                sql::query(
                    self.dialect,
                    "SELECT id, algorithm, fingerprint, comment, created_at, last_used_at \
                     FROM moat_user_keys WHERE user_id = ? AND fingerprint = ?",
                )
                .bind(user_id)
                .bind(fp.as_str())
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let Some(row) = row else {
            return Err(StoreError::NotFound(match which {
                KeySelector::Id(id) => format!("this user has no key #{id}"),
                KeySelector::Fingerprint(fp) => format!("this user has no key {fp}"),
            }));
        };
        let key = user_key(&row)?;
        sql::query(self.dialect, "DELETE FROM moat_user_keys WHERE id = ?")
            .bind(key.id)
            .execute(&mut *tx)
            .await?;
        let ended = sql::query(
            self.dialect,
            "UPDATE moat_sessions SET end_requested = TRUE, end_reason = ? \
             WHERE key_id = ? AND ended_at IS NULL AND end_requested = FALSE",
        )
        .bind("the key it logged in with was removed")
        .bind(key.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let mut audit = audit.clone();
        audit.before = Some(serde_json::json!({
            "id": key.id,
            "algorithm": key.algorithm,
            "fingerprint": key.fingerprint,
            "comment": key.comment,
        }));
        super::audit::append(&mut tx, self.audit_key(), &audit).await?;
        tx.commit().await?;
        Ok((key, ended))
    }

    /// The id of `user_id`'s key with `fingerprint`, if registered.
    pub async fn login_key(
        &self,
        user_id: i64,
        fingerprint: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sql::query_scalar(
            self.dialect,
            "SELECT id FROM moat_user_keys WHERE user_id = ? AND fingerprint = ?",
        )
        .bind(user_id)
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Note that key `id` passed a login step at `now`.
    pub async fn key_used(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sql::query(
            self.dialect,
            "UPDATE moat_user_keys SET last_used_at = ? WHERE id = ?",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The names of `user_id`'s groups (stricter login rules apply per group).
    pub async fn user_group_names(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sql::query_scalar(
            self.dialect,
            "SELECT g.name FROM moat_groups g \
             JOIN moat_user_groups ug ON ug.group_id = g.id WHERE ug.user_id = ? ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_every_database, plain_user};
    use crate::store::LiveSession;

    fn key<'a>(fp: &'a str, comment: &'a str) -> NewKey<'a> {
        NewKey {
            algorithm: "ssh-ed25519",
            public_key: "ssh-ed25519 AAAA",
            fingerprint: fp,
            comment,
            now: 10,
        }
    }

    fn audit() -> AuditEntry {
        AuditEntry {
            action: "user_key".into(),
            outcome: "success".into(),
            ..AuditEntry::default()
        }
    }

    on_every_database! {
        async fn add_list_remove_and_sessions_that_used_it_end(store: Store) {
            let alice = plain_user(&store, "alice").await;
            let bob = plain_user(&store, "bob").await;
            let k1 = store.add_user_key(alice, &key("SHA256:aaa", "laptop"), &audit()).await.unwrap();
            let k2 = store.add_user_key(alice, &key("SHA256:bbb", "phone"), &audit()).await.unwrap();
            // One key, one person.
            let err = store.add_user_key(bob, &key("SHA256:aaa", "x"), &audit()).await.unwrap_err();
            assert!(err.to_string().contains("another user"), "{err}");
            let err = store.add_user_key(alice, &key("SHA256:aaa", "x"), &audit()).await.unwrap_err();
            assert!(err.to_string().contains("already registered"), "{err}");

            let listed = store.user_keys(alice).await.unwrap();
            assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [k1, k2]);
            assert_eq!(listed[0].comment, "laptop");
            assert!(store.user_keys(bob).await.unwrap().is_empty());
            assert_eq!(store.login_key(alice, "SHA256:bbb").await.unwrap(), Some(k2));
            assert_eq!(store.login_key(bob, "SHA256:bbb").await.unwrap(), None);
            store.key_used(k2, 99).await.unwrap();
            assert_eq!(store.user_keys(alice).await.unwrap()[1].last_used_at, Some(99));

            // Two sessions of alice, one with k1.
            for (id, key_id) in [("s1aa0000", Some(k1)), ("s2aa0000", None)] {
                store.session_started(&LiveSession {
                    id, user_id: alice, username: "alice", source_ip: "127.0.0.1",
                    now: 100, now_ms: 100_000, key_id,
                }).await.unwrap();
            }
            // bob cannot remove alice's key; a missing one is named.
            let err = store.remove_user_key(bob, &KeySelector::Id(k1), &audit()).await.unwrap_err();
            assert!(matches!(err, StoreError::NotFound(_)), "{err}");
            let (removed, ended) = store
                .remove_user_key(alice, &KeySelector::Fingerprint("SHA256:aaa".into()), &audit())
                .await
                .unwrap();
            assert_eq!((removed.id, ended), (k1, 1));
            let ids = vec!["s1aa0000".to_string(), "s2aa0000".to_string()];
            let to_end = store.sessions_to_end(&ids).await.unwrap();
            assert_eq!(to_end.len(), 1);
            assert_eq!(to_end[0].0, "s1aa0000");
            assert!(to_end[0].1.contains("key"), "{:?}", to_end);

            // A session whose row is written after its key was removed ends too.
            store.session_started(&LiveSession {
                id: "s3aa0000", user_id: alice, username: "alice", source_ip: "127.0.0.1",
                now: 101, now_ms: 101_000, key_id: Some(k1),
            }).await.unwrap();
            let late = store.sessions_to_end(&["s3aa0000".to_string()]).await.unwrap();
            assert_eq!(late.len(), 1, "{late:?}");
            assert!(late[0].1.contains("key"), "{late:?}");

            assert_eq!(store.user_keys(alice).await.unwrap().len(), 1);
            assert_eq!(KeySelector::parse("7"), Some(KeySelector::Id(7)));
            assert_eq!(
                KeySelector::parse("SHA256:abc="),
                Some(KeySelector::Fingerprint("SHA256:abc".into()))
            );
            assert_eq!(KeySelector::parse("laptop"), None);
        }

        async fn group_names_for_login_rules(store: Store) {
            let alice = plain_user(&store, "alice").await;
            let audit = audit();
            let ops = store.create_group("ops", &[], 0, &audit).await.unwrap();
            store.add_memberships(alice, &[ops], &audit).await.unwrap();
            assert_eq!(store.user_group_names(alice).await.unwrap(), ["ops"]);
        }
    }
}
