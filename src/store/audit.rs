//! The audit trail: append-only, hash-chained rows in `moat_audit_log`.
//!
//! Each row's `hash` is SHA-256 over the canonical serialization of the row (a JSON array
//! of its fields in a fixed order, its id included) followed by `prev_hash`, the hash of
//! the row before it (64 zeros for the first). Editing, deleting, inserting or reordering
//! rows breaks the chain. Appends run inside a write transaction (`BEGIN IMMEDIATE` on
//! SQLite), so the chain never forks; callers that change data append in the same
//! transaction as the change.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{sql, Store, StoreError};

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
pub async fn append(conn: &mut AnyConnection, e: &AuditEntry) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> =
        sql::query_as("SELECT id, hash FROM moat_audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let hash = row_hash(id, e, &prev);
    sql::query(
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

/// A stored audit row: its entry, id and chain hashes.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// What is wrong with the chain, at the first bad row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The row's content does not match its hash (altered).
    Altered { id: i64 },
    /// The row does not follow the one before it (a row removed, inserted or moved).
    Broken { id: i64, expected_prev: String },
    /// Ids skip (a row removed and the chain mended after it).
    Gap { id: i64, expected_id: i64 },
    /// The head recorded elsewhere is missing or different (the tail was cut or redone).
    HeadMismatch { id: i64 },
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::Altered { id } => write!(f, "entry {id} was altered (its hash does not match its content)"),
            ChainError::Broken { id, expected_prev } => write!(
                f,
                "entry {id} does not follow the entry before it (expected previous hash {expected_prev}): an entry was removed, inserted or moved"
            ),
            ChainError::Gap { id, expected_id } => {
                write!(f, "entry {expected_id} is missing (the next entry is {id})")
            }
            ChainError::HeadMismatch { id } => write!(
                f,
                "entry {id}, the recorded head, is missing or different: the trail was truncated or rewritten after it"
            ),
        }
    }
}

/// The result of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub rows: u64,
    /// The last row's id and hash (the head), if any.
    pub head: Option<(i64, String)>,
}

fn audit_row(r: &sqlx::any::AnyRow) -> Result<AuditRow, sqlx::Error> {
    let json = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
    Ok(AuditRow {
        id: r.try_get("id")?,
        entry: AuditEntry {
            at_ms: r.try_get("at_ms")?,
            actor: r.try_get("actor")?,
            source_ip: r.try_get("source_ip")?,
            session_id: r.try_get("session_id")?,
            action: r.try_get("action")?,
            model: r.try_get("model")?,
            pk: r.try_get("pk")?,
            before: json(r.try_get("before_json")?),
            after: json(r.try_get("after_json")?),
            outcome: r.try_get("outcome")?,
            reason: r.try_get("reason")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

const AUDIT_COLUMNS: &str = "id, at_ms, actor, source_ip, session_id, action, model, pk, \
     before_json, after_json, outcome, reason, prev_hash, hash";

/// Filters for reading the trail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub since_ms: Option<i64>,
    pub actor: Option<String>,
    pub model: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Only rows with an id below this (paging newest first).
    pub before_id: Option<i64>,
}

impl Store {
    /// Walk the whole chain in id order, row by row (constant memory), and report the
    /// first bad row. With `head` (id and hash recorded earlier), also check that row is
    /// still there unchanged, which catches a cut or rewritten tail.
    pub async fn verify_audit(
        &self,
        head: Option<(i64, &str)>,
    ) -> Result<Result<Verified, ChainError>, StoreError> {
        use futures::TryStreamExt;
        let q = format!("SELECT {AUDIT_COLUMNS} FROM moat_audit_log ORDER BY id");
        let q = sql::numbered(&q);
        let mut rows = sqlx::query(&q).fetch(&self.pool);
        let mut prev = GENESIS.to_string();
        let mut last_id = 0;
        let mut count = 0;
        let mut head_seen = false;
        while let Some(r) = rows.try_next().await? {
            let row = audit_row(&r)?;
            if row.id != last_id + 1 {
                return Ok(Err(ChainError::Gap {
                    id: row.id,
                    expected_id: last_id + 1,
                }));
            }
            if row.prev_hash != prev {
                return Ok(Err(ChainError::Broken {
                    id: row.id,
                    expected_prev: prev,
                }));
            }
            if row_hash(row.id, &row.entry, &row.prev_hash) != row.hash {
                return Ok(Err(ChainError::Altered { id: row.id }));
            }
            if let Some((hid, hhash)) = head {
                if row.id == hid {
                    if row.hash != hhash {
                        return Ok(Err(ChainError::HeadMismatch { id: hid }));
                    }
                    head_seen = true;
                }
            }
            prev = row.hash;
            last_id = row.id;
            count += 1;
        }
        if let Some((hid, _)) = head {
            if !head_seen {
                return Ok(Err(ChainError::HeadMismatch { id: hid }));
            }
        }
        Ok(Ok(Verified {
            rows: count,
            head: (count > 0).then_some((last_id, prev)),
        }))
    }

    /// The last row's id and hash.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(
            sql::query_as("SELECT id, hash FROM moat_audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stream the rows `filter` selects, oldest first, to `each` (constant memory).
    pub async fn export_audit<F>(
        &self,
        filter: &AuditFilter,
        mut each: F,
    ) -> Result<u64, StoreError>
    where
        F: FnMut(&AuditRow) -> Result<(), StoreError>,
    {
        use futures::TryStreamExt;
        let (condition, binds) = audit_conditions(filter);
        let q = format!("SELECT {AUDIT_COLUMNS} FROM moat_audit_log {condition} ORDER BY id");
        let q = sql::numbered(&q);
        let mut query = sqlx::query(&q);
        for b in &binds {
            query = super::records::bind_value(query, b);
        }
        let mut rows = query.fetch(&self.pool);
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            each(&audit_row(&r)?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Up to `limit` rows `filter` selects, newest first.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let (condition, binds) = audit_conditions(filter);
        let q = format!(
            "SELECT {AUDIT_COLUMNS} FROM moat_audit_log {condition} ORDER BY id DESC LIMIT ?"
        );
        let q = sql::numbered(&q);
        let mut query = sqlx::query(&q);
        for b in &binds {
            query = super::records::bind_value(query, b);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| audit_row(r).map_err(StoreError::from))
            .collect()
    }

    /// Append audit rows on their own (events that change no data: logins, lockouts).
    pub async fn audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
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
        let rows = sql::query(
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
        let rows = sql::query(
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

/// `WHERE …` for an audit filter, with its values.
fn audit_conditions(f: &AuditFilter) -> (String, Vec<crate::domain::Value>) {
    use crate::domain::Value;
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let Some(t) = f.since_ms {
        conditions.push("at_ms >= ?");
        binds.push(Value::Integer(t));
    }
    for (column, value) in [
        ("actor = ?", &f.actor),
        ("model = ?", &f.model),
        ("action = ?", &f.action),
        ("outcome = ?", &f.outcome),
    ] {
        if let Some(v) = value {
            conditions.push(column);
            binds.push(Value::Text(v.clone()));
        }
    }
    if let Some(id) = f.before_id {
        conditions.push("id < ?");
        binds.push(Value::Integer(id));
    }
    let condition = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (condition, binds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{memory_store, on_both_databases};

    on_both_databases! {
        async fn rows_chain_by_hash(store: Store) {
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

    /// A trail of `n` rows, verified intact; returns its head.
    async fn trail(n: usize) -> (crate::store::Store, (i64, String)) {
        let store = memory_store().await;
        let entries: Vec<AuditEntry> = (0..n)
            .map(|i| AuditEntry {
                at_ms: i as i64,
                actor: Some(format!("user{}", i % 3)),
                action: "change".into(),
                model: Some("posts".into()),
                pk: Some(i.to_string()),
                before: Some(serde_json::json!({ "title": "old" })),
                after: Some(serde_json::json!({ "title": format!("new {i}") })),
                outcome: "success".into(),
                ..AuditEntry::default()
            })
            .collect();
        store.audit(&entries).await.unwrap();
        let ok = store.verify_audit(None).await.unwrap().unwrap();
        assert_eq!(ok.rows, n as u64);
        let head = ok.head.unwrap();
        assert_eq!(store.audit_head().await.unwrap(), Some(head.clone()));
        (store, head)
    }

    async fn tamper(store: &crate::store::Store, sql: &str) {
        sqlx::raw_sql(sql).execute(store.pool()).await.unwrap();
    }

    #[tokio::test]
    async fn verify_names_the_first_bad_entry_for_each_kind_of_tampering() {
        // Altered field.
        let (s, _) = trail(10).await;
        tamper(
            &s,
            "UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 4",
        )
        .await;
        assert_eq!(
            s.verify_audit(None).await.unwrap(),
            Err(ChainError::Altered { id: 4 })
        );
        // A middle row deleted.
        let (s, _) = trail(10).await;
        tamper(&s, "DELETE FROM moat_audit_log WHERE id = 5").await;
        assert_eq!(
            s.verify_audit(None).await.unwrap(),
            Err(ChainError::Gap {
                id: 6,
                expected_id: 5
            })
        );
        // A forged row inserted (ids shifted to make room).
        let (s, _) = trail(10).await;
        tamper(
            &s,
            "UPDATE moat_audit_log SET id = id + 100 WHERE id > 3; \
             UPDATE moat_audit_log SET id = id - 99 WHERE id > 100; \
             INSERT INTO moat_audit_log (id, at_ms, action, outcome, prev_hash, hash) \
             SELECT 4, 0, 'grant', 'success', hash, 'forged' FROM moat_audit_log WHERE id = 3;",
        )
        .await;
        assert_eq!(
            s.verify_audit(None).await.unwrap(),
            Err(ChainError::Altered { id: 4 })
        );
        // Two rows swapped.
        let (s, _) = trail(10).await;
        tamper(
            &s,
            "UPDATE moat_audit_log SET id = 100 WHERE id = 6; \
             UPDATE moat_audit_log SET id = 6 WHERE id = 7; \
             UPDATE moat_audit_log SET id = 7 WHERE id = 100;",
        )
        .await;
        assert!(matches!(
            s.verify_audit(None).await.unwrap(),
            Err(ChainError::Broken { id: 6, .. })
        ));
        // The tail cut: the chain itself is fine, the recorded head is not.
        let (s, head) = trail(10).await;
        tamper(&s, "DELETE FROM moat_audit_log WHERE id > 8").await;
        assert!(s.verify_audit(None).await.unwrap().is_ok());
        assert_eq!(
            s.verify_audit(Some((head.0, &head.1))).await.unwrap(),
            Err(ChainError::HeadMismatch { id: 10 })
        );
        let (s, head) = trail(10).await;
        assert!(s
            .verify_audit(Some((head.0, &head.1)))
            .await
            .unwrap()
            .is_ok());
    }

    #[tokio::test]
    async fn export_streams_the_selected_rows() {
        let (s, _) = trail(30).await;
        let mut seen = Vec::new();
        let filter = AuditFilter {
            actor: Some("user1".into()),
            since_ms: Some(10),
            ..AuditFilter::default()
        };
        let n = s
            .export_audit(&filter, |row| {
                seen.push(row.id);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(n, 7);
        assert_eq!(seen, vec![11, 14, 17, 20, 23, 26, 29]);
        let page = s
            .audit_page(
                &AuditFilter {
                    before_id: Some(5),
                    ..AuditFilter::default()
                },
                2,
            )
            .await
            .unwrap();
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![4, 3]);
    }
}
