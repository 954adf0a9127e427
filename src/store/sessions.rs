//! The live-session registry in `moat_sessions`, shared by every instance on the
//! database: sessions are registered when they start, kept fresh by a heartbeat, asked to
//! end by setting `end_requested` (from the CLI, a console, or as a side effect of
//! disabling or resetting a user), and marked ended when they close.

use sqlx::{Any, Row, Transaction};

use super::{sql, Store, StoreError};

/// A session starting.
#[derive(Clone, Debug)]
pub struct LiveSession<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub username: &'a str,
    pub source_ip: &'a str,
    /// When the session started (authentication), in seconds and in milliseconds.
    pub now: i64,
    pub now_ms: i64,
    /// The registered key the login used, if any: removing it ends the session.
    pub key_id: Option<i64>,
}

/// A live session as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub username: String,
    pub source_ip: String,
    pub started_at: i64,
    pub last_input_at: i64,
    pub end_requested: bool,
}

/// Ask every live session of `user_id` to end, inside the caller's transaction: those
/// registered already, and (through `sessions_valid_after`) any that started before now
/// but whose row is not written yet.
pub(super) async fn request_user_end(
    tx: &mut Transaction<'_, Any>,
    user_id: i64,
    reason: &str,
    now_ms: i64,
) -> Result<u64, StoreError> {
    sql::query(
        sql::Dialect::of_conn(tx),
        "UPDATE moat_users SET sessions_valid_after = ?, sessions_valid_after_ms = ? WHERE id = ?",
    )
    .bind(now_ms.div_euclid(1000))
    .bind(now_ms)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(sql::query(
        sql::Dialect::of_conn(tx),
        "UPDATE moat_sessions SET end_requested = TRUE, end_reason = ? \
         WHERE user_id = ? AND ended_at IS NULL AND end_requested = FALSE",
    )
    .bind(reason)
    .bind(user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

impl Store {
    /// Register a starting session.
    pub async fn session_started(&self, s: &LiveSession<'_>) -> Result<(), StoreError> {
        sql::query(
            self.dialect,
            "INSERT INTO moat_sessions (id, user_id, username, source_ip, started_at, \
                                        last_input_at, seen_at, started_ms, key_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id)
        .bind(s.user_id)
        .bind(s.username)
        .bind(s.source_ip)
        .bind(s.now)
        .bind(s.now)
        .bind(s.now)
        .bind(s.now_ms)
        .bind(s.key_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Mark a session ended.
    pub async fn session_ended(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sql::query(
            self.dialect,
            "UPDATE moat_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One instance's heartbeat: its sessions (id, last input) are alive at `now`. Returns
    /// those of them that must end, with the reason (see [`Store::sessions_to_end`]).
    pub async fn session_heartbeat(
        &self,
        sessions: &[(String, i64)],
        now: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        for (id, last_input) in sessions {
            sql::query(
                self.dialect,
                "UPDATE moat_sessions SET seen_at = ?, \
                     last_input_at = CASE WHEN last_input_at > ? THEN last_input_at ELSE ? END \
                 WHERE id = ?",
            )
            .bind(now)
            .bind(last_input)
            .bind(last_input)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let ids: Vec<String> = sessions.iter().map(|(id, _)| id.clone()).collect();
        self.sessions_to_end(&ids).await
    }

    /// Which of the sessions `ids` must end, and why: asked to (CLI, console, another
    /// instance), or their user is disabled, or the key they logged in with is gone, or
    /// their user's sessions were invalidated (2FA reset, disable) after they started.
    /// Reading the user's and the key's state here, not only the flag, also ends a session
    /// whose row was written after the request.
    pub async fn sessions_to_end(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.dialect.sql(&format!(
            "SELECT s.id, CASE WHEN s.end_requested THEN COALESCE(s.end_reason, '') \
                               WHEN NOT u.is_active THEN 'account disabled' \
                               WHEN {gone} THEN 'the key it logged in with was removed' \
                               ELSE 'account reset' END \
             FROM moat_sessions s JOIN moat_users u ON u.id = s.user_id \
             WHERE s.id IN {} AND s.ended_at IS NULL \
               AND (s.end_requested OR NOT u.is_active OR {gone} \
                    OR COALESCE(s.started_ms, s.started_at * 1000) \
                       <= COALESCE(u.sessions_valid_after_ms, u.sessions_valid_after * 1000, -1))",
            sql::placeholders(ids.len()),
            gone = "(s.key_id IS NOT NULL AND NOT EXISTS \
                     (SELECT 1 FROM moat_user_keys k WHERE k.id = s.key_id))",
        ));
        let mut query = sqlx::query_as(&q);
        for id in ids {
            query = query.bind(id);
        }
        let rows: Vec<(String, String)> = query.fetch_all(&self.pool).await?;
        Ok(rows)
    }

    /// Sessions that have not ended and whose instance was heard from since `seen_since`.
    pub async fn live_sessions(&self, seen_since: i64) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sql::query(
            self.dialect,
            "SELECT id, username, source_ip, started_at, last_input_at, \
                    end_requested = TRUE AS end_requested \
             FROM moat_sessions WHERE ended_at IS NULL AND seen_at >= ? \
             ORDER BY started_at, id",
        )
        .bind(seen_since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(SessionRow {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    source_ip: r.try_get("source_ip")?,
                    started_at: r.try_get("started_at")?,
                    last_input_at: r.try_get("last_input_at")?,
                    end_requested: sql::flag(r, "end_requested")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Ask session `id` (a unique prefix of at least 4 characters is enough) to end.
    /// Returns the full id and user of the session asked, or `NotFound`.
    pub async fn request_session_end(
        &self,
        id: &str,
        reason: &str,
        audit: &super::AuditEntry,
    ) -> Result<(String, String), StoreError> {
        let id = id.to_ascii_lowercase();
        let id = id.as_str();
        if id.len() < 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(format!(
                "session `{}` (give at least 4 hex digits of its id)",
                id.escape_debug()
            )));
        }
        let mut tx = self.begin_write().await?;
        let found: Vec<(String, String)> = sql::query_as(
            self.dialect,
            "SELECT id, username FROM moat_sessions \
             WHERE ended_at IS NULL AND substr(id, 1, CAST(? AS integer)) = ? LIMIT 2",
        )
        .bind(i64::try_from(id.len()).unwrap_or(i64::MAX))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let (full, user) = match found.as_slice() {
            [one] => one.clone(),
            [] => return Err(StoreError::NotFound(format!("no live session `{id}`"))),
            _ => {
                return Err(StoreError::Conflict(format!(
                    "`{id}` matches more than one session: give more of its id"
                )))
            }
        };
        sql::query(
            self.dialect,
            "UPDATE moat_sessions SET end_requested = TRUE, end_reason = ? WHERE id = ?",
        )
        .bind(reason)
        .bind(&full)
        .execute(&mut *tx)
        .await?;
        let mut audit = audit.clone();
        audit.pk = Some(full.clone());
        super::audit::append(&mut tx, self.audit_key(), &audit).await?;
        tx.commit().await?;
        Ok((full, user))
    }

    /// Housekeeping: sessions whose instance went silent before `stale_before` are
    /// marked ended (the instance crashed), and ended sessions older than `keep_after`
    /// are deleted (the audit trail keeps the history). Returns rows deleted.
    pub async fn prune_sessions(
        &self,
        stale_before: i64,
        keep_after: i64,
    ) -> Result<u64, StoreError> {
        sql::query(
            self.dialect,
            "UPDATE moat_sessions SET ended_at = seen_at \
             WHERE ended_at IS NULL AND COALESCE(seen_at, started_at) < ?",
        )
        .bind(stale_before)
        .execute(&self.pool)
        .await?;
        Ok(
            sql::query(self.dialect, "DELETE FROM moat_sessions WHERE ended_at < ?")
                .bind(keep_after)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_every_database;
    use crate::store::AuditEntry;

    on_every_database! {
        async fn register_heartbeat_end(store: Store) {
            let uid = crate::store::test_support::plain_user(&store, "alice").await;
            for id in ["aaaa1111", "aaaa2222"] {
                store
                    .session_started(&LiveSession {
                        id,
                        user_id: uid,
                        username: "alice",
                        source_ip: "127.0.0.1",
                        now: 100,
                        now_ms: 100_000,
                        key_id: None,
                    })
                    .await
                    .unwrap();
            }
            let live = store.live_sessions(90).await.unwrap();
            assert_eq!(live.len(), 2);
            assert!(store.live_sessions(101).await.unwrap().is_empty(), "stale");

            let audit = AuditEntry {
                action: "session_end".into(),
                outcome: "requested".into(),
                ..Default::default()
            };
            let err = store
                .request_session_end("aaaa", "x", &audit)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("more than one"), "{err}");
            let (full, user) = store
                .request_session_end("aaaa2", "by admin", &audit)
                .await
                .unwrap();
            assert_eq!((full.as_str(), user.as_str()), ("aaaa2222", "alice"));
            let ids = vec!["aaaa1111".to_string(), "aaaa2222".to_string()];
            assert_eq!(
                store.sessions_to_end(&ids).await.unwrap(),
                vec![("aaaa2222".to_string(), "by admin".to_string())]
            );
            let beat = store
                .session_heartbeat(&[("aaaa1111".into(), 150), ("aaaa2222".into(), 120)], 160)
                .await
                .unwrap();
            assert_eq!(beat, vec![("aaaa2222".to_string(), "by admin".to_string())]);
            let live = store.live_sessions(150).await.unwrap();
            assert_eq!(live[0].last_input_at, 150);
            store.session_ended("aaaa2222", 170).await.unwrap();
            assert_eq!(store.live_sessions(150).await.unwrap().len(), 1);

            // Disabling the user asks its remaining session to end.
            store
                .set_user_active(uid, false, 200, &audit)
                .await
                .unwrap();
            assert_eq!(
                store.sessions_to_end(&ids).await.unwrap(),
                vec![("aaaa1111".to_string(), "account disabled".to_string())]
            );
            assert!(store
                .request_session_end("zzzz", "x", &audit)
                .await
                .is_err());

            // Housekeeping: aaaa1111 went silent after 160 (its instance died): it is closed
            // at 160 and, like aaaa2222 (ended at 170), deleted once older than the cut-off.
            assert_eq!(
                store.prune_sessions(100, 165).await.unwrap(),
                0,
                "heard from at 160"
            );
            assert_eq!(store.live_sessions(0).await.unwrap().len(), 1);
            assert_eq!(store.prune_sessions(200, 165).await.unwrap(), 1);
            assert!(store.live_sessions(0).await.unwrap().is_empty());
            let left: Vec<String> = sqlx::query_scalar("SELECT id FROM moat_sessions")
                .fetch_all(&store.pool)
                .await
                .unwrap();
            assert_eq!(
                left,
                ["aaaa2222"],
                "ended at 170: kept until older than the cut-off"
            );
        }
    }
}
