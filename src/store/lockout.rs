//! Failed-login counters (moat_auth_failures): read, update atomically, list, reset.
//!
//! The rules live in `auth::lockout`; this file only stores what they compute. Updates run
//! in one `BEGIN IMMEDIATE` transaction, so concurrent failures (on this instance or
//! another sharing the database) never lose a count.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{sql, Store, StoreError};
use crate::domain::{FailureCounter, LockKey};

fn counter(r: &AnyRow) -> Result<(LockKey, FailureCounter), sqlx::Error> {
    Ok((
        LockKey {
            username: r.try_get("username")?,
            ip: r.try_get("ip")?,
        },
        FailureCounter {
            failures: r
                .try_get::<i64, _>("failures")?
                .try_into()
                .unwrap_or(u32::MAX),
            tier: r.try_get::<i64, _>("tier")?.try_into().unwrap_or(u32::MAX),
            first_failure_at: r.try_get("first_failure_at")?,
            last_failure_at: r.try_get("last_failure_at")?,
            locked_until: r.try_get("locked_until")?,
        },
    ))
}

const SELECT: &str =
    "SELECT username, ip, failures, tier, first_failure_at, last_failure_at, locked_until \
     FROM moat_auth_failures";

impl Store {
    /// The stored counters of `keys` (keys without failures are absent).
    pub async fn failure_counters(
        &self,
        keys: &[LockKey],
    ) -> Result<Vec<(LockKey, FailureCounter)>, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Lockout);
        let mut out = Vec::new();
        for key in keys {
            let q = format!("{SELECT} WHERE username = ? AND ip = ?");
            let q = self.dialect.sql(&q);
            if let Some(r) = sqlx::query(&q)
                .bind(&key.username)
                .bind(&key.ip)
                .fetch_optional(&self.pool)
                .await?
            {
                out.push(counter(&r)?);
            }
        }
        Ok(out)
    }

    /// Read-modify-write the counters of `keys` atomically: `update` gets each key's
    /// stored counter (or `None`) and returns the new one. Returns what was written.
    pub async fn update_failure_counters<F>(
        &self,
        keys: &[LockKey],
        mut update: F,
    ) -> Result<Vec<(LockKey, FailureCounter)>, StoreError>
    where
        F: FnMut(&LockKey, Option<FailureCounter>) -> FailureCounter,
    {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Lockout);
        let mut tx = self.begin_write().await?;
        let mut written = Vec::with_capacity(keys.len());
        for key in keys {
            let q = format!("{SELECT} WHERE username = ? AND ip = ?");
            let q = self.dialect.sql(&q);
            let prev = sqlx::query(&q)
                .bind(&key.username)
                .bind(&key.ip)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| counter(&r).map(|(_, c)| c))
                .transpose()?;
            let next = update(key, prev);
            sql::query(self.dialect,
                "INSERT INTO moat_auth_failures \
                   (username, ip, failures, tier, first_failure_at, last_failure_at, locked_until) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (username, ip) DO UPDATE SET failures = excluded.failures, \
                   tier = excluded.tier, first_failure_at = excluded.first_failure_at, \
                   last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
            )
            .bind(&key.username)
            .bind(&key.ip)
            .bind(i64::from(next.failures))
            .bind(i64::from(next.tier))
            .bind(next.first_failure_at)
            .bind(next.last_failure_at)
            .bind(next.locked_until)
            .execute(&mut *tx)
            .await?;
            written.push((key.clone(), next));
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Forget the counter of one key (a successful login clears its pair).
    pub async fn clear_failure_counter(&self, key: &LockKey) -> Result<(), StoreError> {
        sql::query(
            self.dialect,
            "DELETE FROM moat_auth_failures WHERE username = ? AND ip = ?",
        )
        .bind(&key.username)
        .bind(&key.ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When `username` last logged in successfully from `ip` (unix seconds), if ever.
    pub async fn last_success_from(
        &self,
        username: &str,
        ip: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sql::query_scalar(
            self.dialect,
            "SELECT last_success_at FROM moat_login_sources WHERE username = ? AND ip = ?",
        )
        .bind(username)
        .bind(ip)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A successful login of `username` from `ip` at `now`: its pair's failure count is
    /// forgotten and the pair becomes a known source.
    pub async fn record_login_source(
        &self,
        username: &str,
        ip: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sql::query(
            self.dialect,
            "DELETE FROM moat_auth_failures WHERE username = ? AND ip = ?",
        )
        .bind(username)
        .bind(ip)
        .execute(&mut *tx)
        .await?;
        sql::query(
            self.dialect,
            "INSERT INTO moat_login_sources (username, ip, last_success_at) VALUES (?, ?, ?) \
             ON CONFLICT (username, ip) DO UPDATE SET last_success_at = excluded.last_success_at",
        )
        .bind(username)
        .bind(ip)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stored counter, locked ones first, then by key.
    pub async fn list_failure_counters(
        &self,
    ) -> Result<Vec<(LockKey, FailureCounter)>, StoreError> {
        let q = format!("{SELECT} ORDER BY locked_until IS NULL, username, ip");
        let q = self.dialect.sql(&q);
        sqlx::query(&q)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| counter(r).map_err(StoreError::from))
            .collect()
    }

    /// Delete the counters of `username` (every key naming it) and/or `ip` (every key
    /// naming it); both given: only keys naming both. Returns the number removed.
    pub async fn reset_failure_counters(
        &self,
        username: Option<&str>,
        ip: Option<&str>,
    ) -> Result<u64, StoreError> {
        let r = sql::query(
            self.dialect,
            "DELETE FROM moat_auth_failures \
             WHERE (? IS NULL OR username = ?) AND (? IS NULL OR ip = ?) \
               AND (? IS NOT NULL OR ? IS NOT NULL)",
        )
        .bind(username)
        .bind(username)
        .bind(ip)
        .bind(ip)
        .bind(username)
        .bind(ip)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_every_database;

    fn c(failures: u32, locked_until: Option<i64>) -> FailureCounter {
        FailureCounter {
            failures,
            tier: 0,
            first_failure_at: 1,
            last_failure_at: 2,
            locked_until,
        }
    }

    on_every_database! {
        async fn update_list_clear_and_reset(store: Store) {
            let keys = [
                LockKey::pair("alice", "10.0.0.1"),
                LockKey::user("alice"),
                LockKey::ip("10.0.0.1"),
                LockKey::pair("bob", "10.0.0.1"),
            ];
            let written = store
                .update_failure_counters(&keys, |k, prev| {
                    assert!(prev.is_none());
                    c(1, (k.username == "bob").then_some(50))
                })
                .await
                .unwrap();
            assert_eq!(written.len(), 4);
            store
                .update_failure_counters(&keys[..1], |_, prev| c(prev.unwrap().failures + 1, None))
                .await
                .unwrap();
            let got = store.failure_counters(&keys[..2]).await.unwrap();
            assert_eq!(got[0].1.failures, 2);
            assert_eq!(got[1].1.failures, 1);
            let all = store.list_failure_counters().await.unwrap();
            assert_eq!(all[0].0, LockKey::pair("bob", "10.0.0.1"), "locked first");

            store.clear_failure_counter(&keys[0]).await.unwrap();
            assert_eq!(store.failure_counters(&keys[..1]).await.unwrap().len(), 0);
            // Both given: only keys naming both.
            assert_eq!(
                store
                    .reset_failure_counters(Some("bob"), Some("10.0.0.1"))
                    .await
                    .unwrap(),
                1
            );
            // Nothing given: nothing removed.
            assert_eq!(store.reset_failure_counters(None, None).await.unwrap(), 0);
            assert_eq!(
                store
                    .reset_failure_counters(None, Some("10.0.0.1"))
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                store
                    .reset_failure_counters(Some("alice"), None)
                    .await
                    .unwrap(),
                1
            );
            assert!(store.list_failure_counters().await.unwrap().is_empty());
        }

        async fn a_success_clears_the_pair_and_makes_it_a_known_source(store: Store) {
            let pair = LockKey::pair("alice", "10.0.0.1");
            store
                .update_failure_counters(&[pair.clone(), LockKey::user("alice")], |_, _| c(2, None))
                .await
                .unwrap();
            assert_eq!(store.last_success_from("alice", "10.0.0.1").await.unwrap(), None);
            store.record_login_source("alice", "10.0.0.1", 100).await.unwrap();
            store.record_login_source("alice", "10.0.0.1", 200).await.unwrap();
            assert_eq!(
                store.last_success_from("alice", "10.0.0.1").await.unwrap(),
                Some(200)
            );
            assert_eq!(store.last_success_from("alice", "10.0.0.2").await.unwrap(), None);
            let left = store.list_failure_counters().await.unwrap();
            assert_eq!(left.len(), 1, "only the pair's count is forgotten");
            assert_eq!(left[0].0, LockKey::user("alice"));
        }
    }
}
