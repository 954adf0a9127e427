//! The audit trail: append-only, hash-chained rows in `moat_audit_log`.
//!
//! Each row's `hash` is SHA-256 over the canonical serialization of the row (a JSON array
//! of its fields in a fixed order, its id included) followed by `prev_hash`, the hash of
//! the row before it (64 zeros for the first). Editing, deleting, inserting or reordering
//! rows breaks the chain. Appends run inside a write transaction (`BEGIN IMMEDIATE` on
//! SQLite), so the chain never forks; callers that change data append in the same
//! transaction as the change.

use sha2::{Digest, Sha256};
use sqlx::{Row, SqliteConnection};

use super::{Store, StoreError};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event to record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: Option<String>,
    pub source_ip: Option<String>,
    pub session_id: Option<String>,
    /// What happened: `login`, `lockout`, `lockout_reset`, `backup_codes`, …
    pub action: String,
    pub model: Option<String>,
    pub pk: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// `success`, `failure`, `started`, `denied`, …
    pub outcome: String,
    /// Why, in words for operators (never a secret).
    pub reason: Option<String>,
}

/// The hash of row `id` holding `e`, chained to `prev_hash`.
pub fn row_hash(id: i64, e: &AuditEntry, prev_hash: &str) -> String {
    let canonical = serde_json::json!([
        id,
        e.at_ms,
        e.actor,
        e.source_ip,
        e.session_id,
        e.action,
        e.model,
        e.pk,
        e.before.as_ref().map(|v| v.to_string()),
        e.after.as_ref().map(|v| v.to_string()),
        e.outcome,
        e.reason,
    ]);
    let mut h = Sha256::new();
    h.update(canonical.to_string().as_bytes());
    h.update(prev_hash.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Append `e` on `conn`, which must be inside a write transaction. Returns the row id.
pub async fn append(conn: &mut SqliteConnection, e: &AuditEntry) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT id, hash FROM moat_audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let hash = row_hash(id, e, &prev);
    sqlx::query(
        "INSERT INTO moat_audit_log (id, at_ms, actor, source_ip, session_id, action, model, pk, \
           before_json, after_json, outcome, reason, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(e.at_ms)
    .bind(&e.actor)
    .bind(&e.source_ip)
    .bind(&e.session_id)
    .bind(&e.action)
    .bind(&e.model)
    .bind(&e.pk)
    .bind(e.before.as_ref().map(|v| v.to_string()))
    .bind(e.after.as_ref().map(|v| v.to_string()))
    .bind(&e.outcome)
    .bind(&e.reason)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

impl Store {
    /// Append audit rows on their own (events that change no data: logins, lockouts).
    pub async fn audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for e in entries {
            append(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The audit rows about row `pk` of `model`, newest first.
    pub async fn record_history(
        &self,
        model: &str,
        pk: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, actor, source_ip, action, before_json, after_json, outcome, reason \
             FROM moat_audit_log WHERE model = ? AND pk = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(model)
        .bind(pk)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let json = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    source_ip: r.try_get("source_ip")?,
                    action: r.try_get("action")?,
                    model: Some(model.to_string()),
                    pk: Some(pk.to_string()),
                    before: json(r.try_get("before_json")?),
                    after: json(r.try_get("after_json")?),
                    outcome: r.try_get("outcome")?,
                    reason: r.try_get("reason")?,
                    ..AuditEntry::default()
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The newest `limit` audit rows, newest first (for tests and the CLI).
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, actor, source_ip, action, outcome, reason \
             FROM moat_audit_log ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    source_ip: r.try_get("source_ip")?,
                    action: r.try_get("action")?,
                    outcome: r.try_get("outcome")?,
                    reason: r.try_get("reason")?,
                    ..AuditEntry::default()
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_store;

    #[tokio::test]
    async fn rows_chain_by_hash() {
        let store = memory_store().await;
        let e = |action: &str| AuditEntry {
            at_ms: 5,
            actor: Some("alice".into()),
            action: action.into(),
            outcome: "success".into(),
            ..AuditEntry::default()
        };
        store.audit(&[e("login"), e("logout")]).await.unwrap();
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, prev_hash, hash FROM moat_audit_log ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(rows[0].1, GENESIS);
        assert_eq!(rows[0].2, row_hash(1, &e("login"), GENESIS));
        assert_eq!(rows[1].1, rows[0].2);
        assert_eq!(rows[1].2, row_hash(2, &e("logout"), &rows[0].2));
        assert_ne!(
            row_hash(2, &e("logout"), GENESIS),
            rows[1].2,
            "the chain matters"
        );
        let recent = store.recent_audit(1).await.unwrap();
        assert_eq!(recent[0].action, "logout");
    }
}
