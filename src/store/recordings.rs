//! Session recordings in `moat_recordings`, and their entries in the audit chain.
//!
//! The table says whose each recording is, where its file is and, once sealed, its size
//! and SHA-256; it serves listing and lookups. What `moat audit verify` and a replay
//! trust is the `recording` audit entry appended (model `moat_recordings`, key the session
//! id) in the same transaction as the seal, and the `recording_removed` entry of a
//! retention: the chain, not this table, says which files must exist and what they hold.

use sqlx::Row;

use super::audit::{audit_row, AuditRow, AUDIT_COLUMNS};
use super::{sql, AuditEntry, Store, StoreError};

/// The model name of recordings' audit entries.
pub const RECORDINGS_MODEL: &str = "moat_recordings";
/// The action of the entry that seals a recording.
pub const SEALED_ACTION: &str = "recording";
/// The action of the entry that records a recording's removal.
pub const REMOVED_ACTION: &str = "recording_removed";

/// A recording starting.
#[derive(Clone, Debug)]
pub struct NewRecording<'a> {
    pub session_id: &'a str,
    pub user_id: i64,
    pub username: &'a str,
    pub source_ip: &'a str,
    pub file: &'a str,
    pub started_ms: i64,
    pub width: u16,
    pub height: u16,
    /// Whether typed keys are recorded too.
    pub input: bool,
}

/// A recording as the table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingRow {
    pub session_id: String,
    pub username: String,
    pub source_ip: String,
    pub file: String,
    pub started_ms: i64,
    pub width: i64,
    pub height: i64,
    pub input: bool,
    /// Set when sealed (or when sealing failed: then `sha256` is `None`).
    pub ended_ms: Option<i64>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub removed_ms: Option<i64>,
}

/// An ended session, with its recording if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSession {
    pub id: String,
    pub username: String,
    pub source_ip: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub recording: Option<RecordingRow>,
}

const COLUMNS: &str = "session_id, username, source_ip, file, started_ms, width, height, \
     input = TRUE AS input, ended_ms, size, sha256, removed_ms";

fn recording_row(r: &sqlx::any::AnyRow) -> Result<RecordingRow, sqlx::Error> {
    Ok(RecordingRow {
        session_id: r.try_get("session_id")?,
        username: r.try_get("username")?,
        source_ip: r.try_get("source_ip")?,
        file: r.try_get("file")?,
        started_ms: r.try_get("started_ms")?,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        input: sql::flag(r, "input")?,
        ended_ms: r.try_get("ended_ms")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        removed_ms: r.try_get("removed_ms")?,
    })
}

impl Store {
    /// Register a recording as its session's console opens.
    pub async fn recording_started(&self, r: &NewRecording<'_>) -> Result<(), StoreError> {
        sql::query(
            self.dialect,
            "INSERT INTO moat_recordings (session_id, user_id, username, source_ip, file, \
                                          started_ms, width, height, input) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.session_id)
        .bind(r.user_id)
        .bind(r.username)
        .bind(r.source_ip)
        .bind(r.file)
        .bind(r.started_ms)
        .bind(i64::from(r.width))
        .bind(i64::from(r.height))
        .bind(r.input)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Seal the recording of `session_id` — its size and SHA-256, or `None` if it could
    /// not be finished — together with its audit entry, in one transaction. A recording is
    /// sealed once: `false` (and nothing written) if it already was.
    pub async fn seal_recording(
        &self,
        session_id: &str,
        ended_ms: i64,
        sealed: Option<(u64, &str)>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let (size, sha) = match sealed {
            Some((size, sha)) => (Some(i64::try_from(size).unwrap_or(i64::MAX)), Some(sha)),
            None => (None, None),
        };
        let changed = sql::query(
            self.dialect,
            "UPDATE moat_recordings SET ended_ms = ?, size = ?, sha256 = ? \
             WHERE session_id = ? AND ended_ms IS NULL",
        )
        .bind(ended_ms)
        .bind(size)
        .bind(sha)
        .bind(session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        super::audit::append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The recording of session `id`, or of the one session whose id starts with `id`
    /// (at least 4 hex digits).
    pub async fn find_recording(&self, id: &str) -> Result<RecordingRow, StoreError> {
        let id = id.to_ascii_lowercase();
        if id.len() < 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(format!(
                "session `{}` (give at least 4 hex digits of its id)",
                id.escape_debug()
            )));
        }
        let q = self.dialect.sql(&format!(
            "SELECT {COLUMNS} FROM moat_recordings \
             WHERE substr(session_id, 1, CAST(? AS integer)) = ? LIMIT 2"
        ));
        let rows = sqlx::query(&q)
            .bind(i64::try_from(id.len()).unwrap_or(i64::MAX))
            .bind(&id)
            .fetch_all(&self.pool)
            .await?;
        match rows.as_slice() {
            [one] => Ok(recording_row(one)?),
            [] => Err(StoreError::NotFound(format!(
                "no recording of a session `{id}`"
            ))),
            _ => Err(StoreError::Conflict(format!(
                "`{id}` matches more than one session: give more of its id"
            ))),
        }
    }

    /// The last audit entry of `action` about the recording of `session_id`.
    pub async fn recording_entry(
        &self,
        session_id: &str,
        action: &str,
    ) -> Result<Option<AuditRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM moat_audit_log \
             WHERE model = ? AND pk = ? AND action = ? ORDER BY id DESC LIMIT 1"
        ));
        let row = sqlx::query(&q)
            .bind(RECORDINGS_MODEL)
            .bind(session_id)
            .bind(action)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(audit_row).transpose()?)
    }

    /// Every seal and removal entry of recordings, oldest first: what the chain says must
    /// be in `recordings_dir`.
    pub async fn recording_entries(&self) -> Result<Vec<AuditRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM moat_audit_log \
             WHERE model = ? AND action IN (?, ?) ORDER BY id"
        ));
        let rows = sqlx::query(&q)
            .bind(RECORDINGS_MODEL)
            .bind(SEALED_ACTION)
            .bind(REMOVED_ACTION)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }

    /// Up to `limit` audit rows written by session `session_id`, oldest first (the
    /// markers of its replay).
    pub async fn session_audit_rows(
        &self,
        session_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM moat_audit_log WHERE session_id = ? ORDER BY id LIMIT ?"
        ));
        let rows = sqlx::query(&q)
            .bind(session_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }

    /// Ended sessions, newest first, up to `limit`: those still in `moat_sessions` (kept
    /// 30 days) and those whose only trace left is a recording; each with its recording.
    pub async fn ended_sessions(&self, limit: i64) -> Result<Vec<EndedSession>, StoreError> {
        let rows = sql::query(
            self.dialect,
            "SELECT id, username, source_ip, started_ms, ended_ms FROM ( \
                 SELECT s.id AS id, s.username AS username, s.source_ip AS source_ip, \
                        COALESCE(s.started_ms, s.started_at * 1000) AS started_ms, \
                        s.ended_at * 1000 AS ended_ms \
                 FROM moat_sessions s WHERE s.ended_at IS NOT NULL \
                 UNION ALL \
                 SELECT r.session_id, r.username, r.source_ip, r.started_ms, r.ended_ms \
                 FROM moat_recordings r \
                 WHERE NOT EXISTS (SELECT 1 FROM moat_sessions s WHERE s.id = r.session_id) \
             ) AS ended ORDER BY started_ms DESC, id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut sessions = rows
            .iter()
            .map(|r| {
                Ok(EndedSession {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    source_ip: r.try_get("source_ip")?,
                    started_ms: r.try_get("started_ms")?,
                    ended_ms: r.try_get("ended_ms")?,
                    recording: None,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        if sessions.is_empty() {
            return Ok(sessions);
        }
        let q = self.dialect.sql(&format!(
            "SELECT {COLUMNS} FROM moat_recordings WHERE session_id IN {}",
            sql::placeholders(sessions.len())
        ));
        let mut query = sqlx::query(&q);
        for s in &sessions {
            query = query.bind(s.id.clone());
        }
        let recordings = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(recording_row)
            .collect::<Result<Vec<_>, _>>()?;
        for s in &mut sessions {
            s.recording = recordings.iter().find(|r| r.session_id == s.id).cloned();
            // A recording's end is exact; the session row's is rounded to the second.
            if let Some(ended) = s.recording.as_ref().and_then(|r| r.ended_ms) {
                s.ended_ms = Some(ended);
            }
        }
        Ok(sessions)
    }

    /// Sealed recordings, not removed yet, that ended before `cutoff_ms`.
    pub async fn expired_recordings(
        &self,
        cutoff_ms: i64,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {COLUMNS} FROM moat_recordings \
             WHERE ended_ms < ? AND sha256 IS NOT NULL AND removed_ms IS NULL \
             ORDER BY ended_ms"
        ));
        let rows = sqlx::query(&q)
            .bind(cutoff_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(recording_row).collect::<Result<_, _>>()?)
    }

    /// Recordings never sealed whose session is over: its row ended before `ended_before`
    /// (unix seconds; a crashed instance's rows are ended after a day of silence) or is
    /// gone. Their writer died with its server.
    pub async fn unsealed_recordings(
        &self,
        ended_before: i64,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {COLUMNS} FROM moat_recordings r \
             WHERE r.ended_ms IS NULL AND NOT EXISTS ( \
                 SELECT 1 FROM moat_sessions s WHERE s.id = r.session_id \
                 AND (s.ended_at IS NULL OR s.ended_at >= ?))"
        ));
        let rows = sqlx::query(&q)
            .bind(ended_before)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(recording_row).collect::<Result<_, _>>()?)
    }

    /// Mark the recording of `session_id` removed, with its audit entry, in one
    /// transaction; `false` if it already was.
    pub async fn recording_removed(
        &self,
        session_id: &str,
        now_ms: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sql::query(
            self.dialect,
            "UPDATE moat_recordings SET removed_ms = ? \
             WHERE session_id = ? AND removed_ms IS NULL",
        )
        .bind(now_ms)
        .bind(session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        super::audit::append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_every_database;
    use crate::store::LiveSession;

    fn entry(action: &str, pk: &str) -> AuditEntry {
        AuditEntry {
            at_ms: 5,
            action: action.into(),
            model: Some(RECORDINGS_MODEL.into()),
            pk: Some(pk.into()),
            session_id: Some(pk.into()),
            outcome: "success".into(),
            ..AuditEntry::default()
        }
    }

    on_every_database! {
        async fn a_recording_is_registered_sealed_once_listed_and_removed_once(store: Store) {
            let uid = crate::store::test_support::plain_user(&store, "alice").await;
            for (id, started) in [("aaaa1111", 1_000), ("bbbb2222", 2_000)] {
                store
                    .session_started(&LiveSession {
                        id,
                        user_id: uid,
                        username: "alice",
                        source_ip: "127.0.0.1",
                        now: started / 1000,
                        key_id: None,
                        now_ms: started,
                    })
                    .await
                    .unwrap();
                store
                    .recording_started(&NewRecording {
                        session_id: id,
                        user_id: uid,
                        username: "alice",
                        source_ip: "127.0.0.1",
                        file: "f.cast.gz",
                        started_ms: started,
                        width: 120,
                        height: 40,
                        input: false,
                    })
                    .await
                    .unwrap();
            }
            let found = store.find_recording("AAAA").await.unwrap();
            assert_eq!((found.width, found.height, found.input), (120, 40, false));
            assert!(store.find_recording("aaa").await.is_err(), "too short");
            assert!(store.find_recording("cccc").await.is_err());

            assert!(store.ended_sessions(10).await.unwrap().is_empty(), "both live");
            // A live session's recording is not an orphan.
            assert!(store.unsealed_recordings(10).await.unwrap().is_empty());

            let sealed = entry(SEALED_ACTION, "aaaa1111");
            assert!(store.seal_recording("aaaa1111", 9_000, Some((42, "ab")), &sealed).await.unwrap());
            assert!(!store.seal_recording("aaaa1111", 9_500, Some((1, "cd")), &sealed).await.unwrap(), "once");
            store.session_ended("aaaa1111", 9).await.unwrap();
            let got = store.recording_entry("aaaa1111", SEALED_ACTION).await.unwrap().unwrap();
            assert_eq!(got.entry.pk.as_deref(), Some("aaaa1111"));
            assert_eq!(store.recording_entries().await.unwrap().len(), 1);

            let ended = store.ended_sessions(10).await.unwrap();
            assert_eq!(ended.len(), 1);
            let r = ended[0].recording.as_ref().unwrap();
            assert_eq!((ended[0].ended_ms, r.size, r.sha256.as_deref()), (Some(9_000), Some(42), Some("ab")));

            // bbbb's server died: its session row ended (after the silence) unsealed.
            store.session_ended("bbbb2222", 20).await.unwrap();
            assert!(store.unsealed_recordings(15).await.unwrap().is_empty(), "too recent");
            let orphans = store.unsealed_recordings(30).await.unwrap();
            assert_eq!(orphans.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>(), ["bbbb2222"]);

            assert!(store.expired_recordings(9_000).await.unwrap().is_empty());
            let expired = store.expired_recordings(9_001).await.unwrap();
            assert_eq!(expired.len(), 1);
            let removed = entry(REMOVED_ACTION, "aaaa1111");
            assert!(store.recording_removed("aaaa1111", 10_000, &removed).await.unwrap());
            assert!(!store.recording_removed("aaaa1111", 10_001, &removed).await.unwrap());
            assert!(store.expired_recordings(99_999).await.unwrap().is_empty());
            assert_eq!(store.recording_entries().await.unwrap().len(), 2);
            assert!(store.verify_audit(None).await.unwrap().is_ok());

            // The session row is pruned after 30 days; the recording still lists it.
            sqlx::query("DELETE FROM moat_sessions").execute(store.pool()).await.unwrap();
            // (bbbb's server died: listed, newest first, with no known end.)
            let ended = store.ended_sessions(10).await.unwrap();
            let ids: Vec<_> = ended.iter().map(|s| (s.id.as_str(), s.ended_ms)).collect();
            assert_eq!(ids, [("bbbb2222", None), ("aaaa1111", Some(9_000))]);
            assert_eq!(store.session_audit_rows("aaaa1111", 10).await.unwrap().len(), 2);
        }
    }
}
