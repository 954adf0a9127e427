//! The audit trail: append-only, hash-chained rows in `moat_audit_log`.
//!
//! Each row's `hash` is SHA-256 over the canonical serialization of the row (a JSON array
//! of its fields in a fixed order, its id included) followed by `prev_hash`, the hash of
//! the row before it (64 zeros for the first). Editing, deleting, inserting or reordering
//! rows breaks the chain.
//!
//! The `before_json` and `after_json` columns enter the hash as the exact text stored
//! (plain `TEXT` on both databases, so neither normalises it), not as a re-serialization of
//! what that text parses to: two texts that read the same (`{"a":2}` and `{"a":1,"a":2}`,
//! or one with extra spaces) hash differently. moat writes the serialization of the value
//! and hashes that same string, so rows written before this rule hash exactly as they did.
//! Verification also refuses a JSON column that does not parse, or that has an object
//! with a key twice (readers disagree on which value wins), naming the row.
//!
//! The chain alone is unkeyed: whoever can write the database can rewrite it end to end
//! and recompute every hash (only a head kept elsewhere catches that). With an audit key
//! ([`crate::seal::AuditKey`], from `keys_dir/audit.key`) every entry appended also gets
//! a `mac`, HMAC-SHA256 over its id and hash; the hash covers the entry and, through
//! `prev_hash`, all before it, so one valid MAC vouches for the whole chain up to it.
//! Verification with the key requires a valid MAC on every entry from the key's first
//! one on; without the key it checks the plain chain and says the MACs were not checked. Appends run inside a write transaction (`BEGIN IMMEDIATE` on
//! SQLite), so the chain never forks; callers that change data append in the same
//! transaction as the change.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{sql, Dialect, Store, StoreError};
use crate::seal::AuditKey;

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

/// The text a JSON value is stored as (and hashed as).
fn stored_json(v: Option<&serde_json::Value>) -> Option<String> {
    v.map(|v| v.to_string())
}

/// The hash of row `id` holding `e`, chained to `prev_hash`.
pub fn row_hash(id: i64, e: &AuditEntry, prev_hash: &str) -> String {
    let before = stored_json(e.before.as_ref());
    let after = stored_json(e.after.as_ref());
    stored_row_hash(id, e, before.as_deref(), after.as_deref(), prev_hash)
}

/// The hash of row `id` as stored: `before` and `after` are the exact texts of its JSON
/// columns (`e.before` and `e.after` are not read).
fn stored_row_hash(
    id: i64,
    e: &AuditEntry,
    before: Option<&str>,
    after: Option<&str>,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([
        id,
        e.at_ms,
        e.actor,
        e.source_ip,
        e.session_id,
        e.action,
        e.model,
        e.pk,
        before,
        after,
        e.outcome,
        e.reason,
    ]);
    let mut h = Sha256::new();
    h.update(canonical.to_string().as_bytes());
    h.update(prev_hash.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Append `e` on `conn`, which must be inside a write transaction, with its MAC under
/// `key` if there is one. Returns the row id.
pub async fn append(
    conn: &mut AnyConnection,
    key: Option<&AuditKey>,
    e: &AuditEntry,
) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> = sql::query_as(
        Dialect::of_conn(conn),
        "SELECT id, hash FROM moat_audit_log ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let before = stored_json(e.before.as_ref());
    let after = stored_json(e.after.as_ref());
    let hash = stored_row_hash(id, e, before.as_deref(), after.as_deref(), &prev);
    let mac = key.map(|k| k.entry_mac(id, &hash));
    crate::metrics::global().audit_appended();
    sql::query(
        Dialect::of_conn(conn),
        "INSERT INTO moat_audit_log (id, at_ms, actor, source_ip, session_id, action, model, pk, \
           before_json, after_json, outcome, reason, prev_hash, hash, mac) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(e.at_ms)
    .bind(&e.actor)
    .bind(&e.source_ip)
    .bind(&e.session_id)
    .bind(&e.action)
    .bind(&e.model)
    .bind(&e.pk)
    .bind(&before)
    .bind(&after)
    .bind(&e.outcome)
    .bind(&e.reason)
    .bind(&prev)
    .bind(&hash)
    .bind(&mac)
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
    /// A JSON column of the row does not parse, or has an object with a key twice.
    BadJson {
        id: i64,
        column: &'static str,
        why: String,
    },
    /// The row does not follow the one before it (a row removed, inserted or moved).
    Broken { id: i64, expected_prev: String },
    /// Ids skip (a row removed and the chain mended after it).
    Gap { id: i64, expected_id: i64 },
    /// The head recorded elsewhere is missing or different (the tail was cut or redone).
    HeadMismatch { id: i64 },
    /// An entry the audit key covers has no MAC (written or rewritten without the key).
    MissingMac { id: i64, from: i64 },
    /// An entry's MAC does not match (forged, or rewritten by someone without the key).
    BadMac { id: i64 },
    /// The database records an audit key other than the one given (or another start).
    KeyMismatch,
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::Altered { id } => write!(f, "entry {id} was altered (its hash does not match its content)"),
            ChainError::BadJson { id, column, why } => write!(
                f,
                "entry {id} was altered: its {column} is not JSON moat wrote ({why})"
            ),
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
            ChainError::MissingMac { id, from } => write!(
                f,
                "entry {id} has no MAC, though the audit key covers every entry from {from} on: it was written or rewritten without the key"
            ),
            ChainError::BadMac { id } => write!(
                f,
                "entry {id} has a MAC that does not match: it, or an entry before it, was forged or rewritten without the audit key"
            ),
            ChainError::KeyMismatch => f.write_str(
                "the audit key is not the one this database's trail is keyed with (or its first entry differs)"
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
    /// With an audit key: the first entry it covers, every one from there on with a valid
    /// MAC. `None`: no key, MACs not checked (the plain chain only).
    pub keyed_from: Option<i64>,
}

/// What the database says of an audit key (see [`Store::adopt_audit_key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKeyCheck {
    /// The database records this key.
    Matches,
    /// The database recorded no key; now it records this one.
    Recorded,
    /// The database records no key, and was asked not to record one.
    NotRecorded,
    /// The database records another key, or the same key starting elsewhere.
    WrongKey,
}

/// What [`Store::start_keyed_chain`] did.
#[derive(Debug)]
pub enum KeyedStart<K> {
    /// A new key, covering entries from the next one on, and recorded.
    Started(K),
    /// The database already records a key (another instance just made one).
    AlreadyKeyed,
}

/// Name of the `moat_meta` row recording the audit key.
const KEY_RECORD: &str = "audit_key";

pub(super) fn audit_row(r: &sqlx::any::AnyRow) -> Result<AuditRow, sqlx::Error> {
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
            pk: super::sql::text(r, "pk")?,
            before: json(super::sql::text(r, "before_json")?),
            after: json(super::sql::text(r, "after_json")?),
            outcome: r.try_get("outcome")?,
            reason: super::sql::text(r, "reason")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// A row as verification reads it: the JSON columns as their stored text.
struct StoredRow {
    id: i64,
    /// The row's fields, `before` and `after` left empty (see the texts).
    entry: AuditEntry,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
    mac: Option<String>,
}

fn stored_row(r: &sqlx::any::AnyRow) -> Result<StoredRow, sqlx::Error> {
    Ok(StoredRow {
        id: r.try_get("id")?,
        entry: AuditEntry {
            at_ms: r.try_get("at_ms")?,
            actor: r.try_get("actor")?,
            source_ip: r.try_get("source_ip")?,
            session_id: r.try_get("session_id")?,
            action: r.try_get("action")?,
            model: r.try_get("model")?,
            pk: super::sql::text(r, "pk")?,
            before: None,
            after: None,
            outcome: r.try_get("outcome")?,
            reason: super::sql::text(r, "reason")?,
        },
        before: super::sql::text(r, "before_json")?,
        after: super::sql::text(r, "after_json")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        mac: r.try_get("mac")?,
    })
}

/// Whether `text` is JSON moat could have written: it parses (one value, nothing after
/// it) and no object in it has the same key twice. `Err` says why not, in serde_json's
/// words (a position, never the text itself).
pub fn check_json(text: &str) -> Result<(), String> {
    serde_json::from_str::<Strict>(text)
        .map(|Strict| ())
        .map_err(|e| e.to_string())
}

/// Any JSON value, refusing duplicate keys at any depth (serde_json's `Value` keeps the
/// last of them silently). Keys are compared after unescaping, so `"a"` and `"\u0061"`
/// are the same key.
struct Strict;

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while let Some(Strict) = seq.next_element()? {}
        Ok(Strict)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(serde::de::Error::custom("an object has a key twice"));
            }
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

pub(super) const AUDIT_COLUMNS: &str =
    "id, at_ms, actor, source_ip, session_id, action, model, pk, \
     before_json, after_json, outcome, reason, prev_hash, hash";

/// Filters for reading the trail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub since_ms: Option<i64>,
    /// Only rows before this time (exclusive).
    pub until_ms: Option<i64>,
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
    /// still there unchanged, which catches a cut or rewritten tail. With an audit key
    /// attached, also check the MAC of every entry from the key's first one on (and that
    /// the database records that key, if it records one).
    pub async fn verify_audit(
        &self,
        head: Option<(i64, &str)>,
    ) -> Result<Result<Verified, ChainError>, StoreError> {
        use futures::TryStreamExt;
        let key = self.audit_key();
        if let Some(k) = key {
            if let Some(record) = self.audit_key_record().await? {
                if !k.matches_record(&record) {
                    return Ok(Err(ChainError::KeyMismatch));
                }
            }
        }
        let q = format!("SELECT {AUDIT_COLUMNS}, mac FROM moat_audit_log ORDER BY id");
        let q = self.dialect.sql(&q);
        let mut rows = sqlx::query(&q).fetch(&self.pool);
        let mut prev = GENESIS.to_string();
        let mut last_id = 0;
        let mut count = 0;
        let mut head_seen = false;
        while let Some(r) = rows.try_next().await? {
            let row = stored_row(&r)?;
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
            for (column, text) in [("before_json", &row.before), ("after_json", &row.after)] {
                if let Some(Err(why)) = text.as_deref().map(check_json) {
                    return Ok(Err(ChainError::BadJson {
                        id: row.id,
                        column,
                        why,
                    }));
                }
            }
            let hash = stored_row_hash(
                row.id,
                &row.entry,
                row.before.as_deref(),
                row.after.as_deref(),
                &row.prev_hash,
            );
            if hash != row.hash {
                return Ok(Err(ChainError::Altered { id: row.id }));
            }
            if let Some(k) = key.filter(|k| row.id >= k.from()) {
                match &row.mac {
                    None => {
                        return Ok(Err(ChainError::MissingMac {
                            id: row.id,
                            from: k.from(),
                        }))
                    }
                    Some(mac) if !k.verify_entry(row.id, &row.hash, mac) => {
                        return Ok(Err(ChainError::BadMac { id: row.id }))
                    }
                    Some(_) => {}
                }
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
            keyed_from: key.map(AuditKey::from),
        }))
    }

    /// The audit key this database records (see [`AuditKey::record`]), if any.
    async fn audit_key_record(&self) -> Result<Option<String>, StoreError> {
        let value: Option<Vec<u8>> =
            sql::query_scalar(self.dialect, "SELECT value FROM moat_meta WHERE name = ?")
                .bind(KEY_RECORD)
                .fetch_optional(&self.pool)
                .await?;
        // Not UTF-8: not a record any key made, so no key matches it.
        Ok(value.map(|v| String::from_utf8(v).unwrap_or_default()))
    }

    /// Whether the database records an audit key (so its trail is keyed, and a missing
    /// key file is an error, not a first start).
    pub async fn audit_keyed(&self) -> Result<bool, StoreError> {
        Ok(self.audit_key_record().await?.is_some())
    }

    /// Check `key` against the key the database records; with `record`, record it if
    /// there is none (a key file whose record was lost: the file says where it starts, so
    /// recording it again moves nothing).
    pub async fn adopt_audit_key(
        &self,
        key: &AuditKey,
        record: bool,
    ) -> Result<AuditKeyCheck, StoreError> {
        if let Some(r) = self.audit_key_record().await? {
            return Ok(if key.matches_record(&r) {
                AuditKeyCheck::Matches
            } else {
                AuditKeyCheck::WrongKey
            });
        }
        if !record {
            return Ok(AuditKeyCheck::NotRecorded);
        }
        let mut tx = self.begin_write().await?;
        sql::query(
            self.dialect,
            "INSERT INTO moat_meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(KEY_RECORD)
        .bind(key.record().into_bytes())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Another process may have recorded its own key between our check and now.
        Ok(match self.audit_key_record().await? {
            Some(r) if key.matches_record(&r) => AuditKeyCheck::Recorded,
            _ => AuditKeyCheck::WrongKey,
        })
    }

    /// Start the keyed part of the trail: under the write lock (no entry is appended
    /// meanwhile, by any instance), `create` makes the key covering the entries from the
    /// next id on (writing the key file), and the database records it. Returns `create`'s
    /// error if it fails (then nothing is recorded).
    pub async fn start_keyed_chain<E>(
        &self,
        create: impl FnOnce(i64) -> Result<AuditKey, E>,
    ) -> Result<Result<KeyedStart<AuditKey>, E>, StoreError> {
        let mut tx = self.begin_write().await?;
        let recorded: i64 = sql::query_scalar(
            self.dialect,
            "SELECT COUNT(*) FROM moat_meta WHERE name = ?",
        )
        .bind(KEY_RECORD)
        .fetch_one(&mut *tx)
        .await?;
        if recorded > 0 {
            return Ok(Ok(KeyedStart::AlreadyKeyed));
        }
        let last: Option<i64> =
            sql::query_scalar(self.dialect, "SELECT MAX(id) FROM moat_audit_log")
                .fetch_one(&mut *tx)
                .await?;
        let key = match create(last.unwrap_or(0) + 1) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        sql::query(
            self.dialect,
            "INSERT INTO moat_meta (name, value) VALUES (?, ?)",
        )
        .bind(KEY_RECORD)
        .bind(key.record().into_bytes())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(KeyedStart::Started(key)))
    }

    /// The last row's id and hash.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(sql::query_as(
            self.dialect,
            "SELECT id, hash FROM moat_audit_log ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
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
        let q = self.dialect.sql(&q);
        let mut query = sqlx::query(&q);
        for b in &binds {
            query = super::bind::bind_value(query, b);
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
        let q = self.dialect.sql(&q);
        let mut query = sqlx::query(&q);
        for b in &binds {
            query = super::bind::bind_value(query, b);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| audit_row(r).map_err(StoreError::from))
            .collect()
    }

    /// Append audit rows on their own (events that change no data: logins, lockouts).
    pub async fn audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Audit);
        let mut tx = self.begin_write().await?;
        for e in entries {
            append(&mut tx, self.audit_key(), e).await?;
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
    ) -> Result<Vec<AuditRow>, StoreError> {
        let q = self.dialect.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM moat_audit_log WHERE model = ? AND pk = ? \
             ORDER BY id DESC LIMIT ?"
        ));
        let rows = sqlx::query(&q)
            .bind(model)
            .bind(pk)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(audit_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The newest `limit` audit rows, newest first (for tests and the CLI).
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sql::query(
            self.dialect,
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
                    reason: super::sql::text(r, "reason")?,
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
    if let Some(t) = f.until_ms {
        conditions.push("at_ms < ?");
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
    use crate::store::test_support::{memory_store, on_every_database};

    on_every_database! {
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

    /// Rows 1..=4: logins (no JSON), then changes from `{"title":"old"}` to
    /// `{"title":"new i"}`.
    async fn json_trail(store: &Store) {
        let entries: Vec<AuditEntry> = (1..=8)
            .map(|i| AuditEntry {
                at_ms: i,
                actor: Some("alice".into()),
                action: if i <= 4 { "login" } else { "change" }.into(),
                before: (i > 4).then(|| serde_json::json!({ "title": "old" })),
                after: (i > 4).then(|| serde_json::json!({ "title": format!("new {i}") })),
                outcome: "success".into(),
                ..AuditEntry::default()
            })
            .collect();
        store.audit(&entries).await.unwrap();
        assert!(store.verify_audit(None).await.unwrap().is_ok());
    }

    on_every_database! {
        async fn verify_covers_the_stored_json_text_exactly(store: Store) {
            json_trail(&store).await;
            // Text where there was none: it parsed to nothing, so it used to hash as NULL.
            tamper(&store, "UPDATE moat_audit_log SET before_json = 'not json at all <script>' WHERE id = 2").await;
            match store.verify_audit(None).await.unwrap() {
                Err(ChainError::BadJson { id: 2, column: "before_json", why }) => {
                    assert!(!why.contains("script"), "the text itself is not echoed: {why}");
                }
                other => panic!("{other:?}"),
            }
            tamper(&store, "UPDATE moat_audit_log SET before_json = NULL WHERE id = 2").await;
            assert!(store.verify_audit(None).await.unwrap().is_ok());

            // The same value written differently: it used to re-serialize to the original.
            tamper(&store, r#"UPDATE moat_audit_log SET after_json = '{ "title" : "new 6" }' WHERE id = 6"#).await;
            assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::Altered { id: 6 }));
        }

        async fn verify_refuses_a_key_twice(store: Store) {
            json_trail(&store).await;
            // A reader that takes the first value sees "forged"; serde_json took the last.
            tamper(&store, r#"UPDATE moat_audit_log SET after_json = '{"title":"forged","title":"new 7"}' WHERE id = 7"#).await;
            let err = store.verify_audit(None).await.unwrap().unwrap_err();
            assert!(
                matches!(&err, ChainError::BadJson { id: 7, column: "after_json", why } if why.contains("key twice")),
                "{err:?}"
            );
            assert!(err.to_string().starts_with("entry 7 was altered"), "{err}");
        }

        async fn rows_hash_as_they_did_before_the_stored_text_rule(store: Store) {
            // Values whose text a database might normalise (spacing, key order, number
            // forms, escapes) if the column were not plain TEXT.
            let values = [
                serde_json::json!({ "z": 1, "a": [1.5, -0.0, 1e300, 0.1], "m": { "b": null, "a": true } }),
                serde_json::json!({ "big": u64::MAX, "small": i64::MIN, "text": "é \u{2028} \" \\ \n \u{1b}[31m" }),
                serde_json::json!("just a string"),
                serde_json::json!({}),
                serde_json::json!(null),
            ];
            let entries: Vec<AuditEntry> = values
                .iter()
                .map(|v| AuditEntry {
                    at_ms: 1,
                    action: "change".into(),
                    before: Some(v.clone()),
                    after: Some(serde_json::json!([v, v])),
                    outcome: "success".into(),
                    ..AuditEntry::default()
                })
                .collect();
            store.audit(&entries).await.unwrap();
            // The hash as it was computed before: over a re-serialization of the parsed text.
            let v1 = |id: i64, e: &AuditEntry, prev: &str| {
                let canonical = serde_json::json!([
                    id, e.at_ms, e.actor, e.source_ip, e.session_id, e.action, e.model, e.pk,
                    e.before.as_ref().map(|v| v.to_string()),
                    e.after.as_ref().map(|v| v.to_string()),
                    e.outcome, e.reason,
                ]);
                let mut h = Sha256::new();
                h.update(canonical.to_string().as_bytes());
                h.update(prev.as_bytes());
                h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
            };
            type Stored = (i64, Option<String>, Option<String>, String, String);
            let stored: Vec<Stored> = sqlx::query(
                "SELECT id, before_json, after_json, prev_hash, hash FROM moat_audit_log ORDER BY id",
            )
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let text = |c: &str| sql::text(r, c).unwrap();
                (r.get("id"), text("before_json"), text("after_json"), r.get("prev_hash"), r.get("hash"))
            })
            .collect();
            for ((id, before, after, prev, hash), e) in stored.iter().zip(&entries) {
                assert_eq!(before.as_deref(), Some(e.before.as_ref().unwrap().to_string().as_str()), "stored verbatim");
                assert_eq!(after.as_deref(), Some(e.after.as_ref().unwrap().to_string().as_str()), "stored verbatim");
                let parsed = AuditEntry {
                    before: before.as_deref().map(|t| serde_json::from_str(t).unwrap()),
                    after: after.as_deref().map(|t| serde_json::from_str(t).unwrap()),
                    ..e.clone()
                };
                assert_eq!(&v1(*id, &parsed, prev), hash, "entry {id}");
            }
            let ok = store.verify_audit(None).await.unwrap().unwrap();
            assert_eq!(ok.rows, values.len() as u64);
        }
    }

    /// Three entries written before the audit key, then the key, then five more: returns
    /// the keyed store.
    async fn keyed_trail(store: Store) -> Store {
        let e = |i: i64| AuditEntry {
            at_ms: i,
            actor: Some("alice".into()),
            action: "change".into(),
            model: Some("posts".into()),
            pk: Some(i.to_string()),
            after: Some(serde_json::json!({ "n": i })),
            outcome: "success".into(),
            ..AuditEntry::default()
        };
        store.audit(&[e(1), e(2), e(3)]).await.unwrap();
        let started = store
            .start_keyed_chain(|from| Ok::<_, ()>(AuditKey::random(from)))
            .await
            .unwrap()
            .unwrap();
        let KeyedStart::Started(key) = started else {
            panic!("{started:?}")
        };
        assert_eq!(key.from(), 4);
        let store = store.with_audit_key(key);
        store.audit(&[e(4), e(5), e(6), e(7), e(8)]).await.unwrap();
        let ok = store.verify_audit(None).await.unwrap().unwrap();
        assert_eq!((ok.rows, ok.keyed_from), (8, Some(4)));
        store
    }

    /// What a database-only attacker can do: recompute every hash from entry `from` on,
    /// so the plain chain verifies again.
    async fn recompute_chain(store: &Store, from: i64) {
        let q = store.dialect().sql(&format!(
            "SELECT {AUDIT_COLUMNS}, mac FROM moat_audit_log ORDER BY id"
        ));
        let rows = sqlx::query(&q).fetch_all(store.pool()).await.unwrap();
        let mut prev = GENESIS.to_string();
        for r in &rows {
            let row = stored_row(r).unwrap();
            if row.id >= from {
                let hash = stored_row_hash(
                    row.id,
                    &row.entry,
                    row.before.as_deref(),
                    row.after.as_deref(),
                    &prev,
                );
                sql::query(
                    store.dialect(),
                    "UPDATE moat_audit_log SET prev_hash = ?, hash = ? WHERE id = ?",
                )
                .bind(&prev)
                .bind(&hash)
                .bind(row.id)
                .execute(store.pool())
                .await
                .unwrap();
                prev = hash;
            } else {
                prev = row.hash;
            }
        }
    }

    /// `store` without its audit key: what a verifier without the key file sees.
    fn without_key(store: &Store) -> Store {
        Store {
            audit_key: None,
            ..store.clone()
        }
    }

    on_every_database! {
        async fn a_rewritten_and_rehashed_chain_fails_with_the_key(store: Store) {
            let store = keyed_trail(store).await;
            let unkeyed = without_key(&store);

            // A keyed entry rewritten, every hash after it recomputed.
            tamper(&store, "UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 6").await;
            assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::Altered { id: 6 }));
            recompute_chain(&store, 6).await;
            assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::BadMac { id: 6 }));
            // Without the key only the plain chain is checked, and it says so.
            let plain = unkeyed.verify_audit(None).await.unwrap().unwrap();
            assert_eq!((plain.rows, plain.keyed_from), (8, None));

            // An entry from before the key: the first keyed entry's MAC covers it.
            let store = keyed_trail(memory_or_same(&store).await).await;
            tamper(&store, "UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 2").await;
            recompute_chain(&store, 2).await;
            assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::BadMac { id: 4 }));

            // MACs stripped, to pass the keyed entries off as older than the key.
            let store = keyed_trail(memory_or_same(&store).await).await;
            tamper(&store, "UPDATE moat_audit_log SET mac = NULL WHERE id >= 5").await;
            assert_eq!(
                store.verify_audit(None).await.unwrap(),
                Err(ChainError::MissingMac { id: 5, from: 4 })
            );

            // A forged entry appended with a right chain hash and a made-up MAC.
            let store = keyed_trail(memory_or_same(&store).await).await;
            let forged = AuditEntry { at_ms: 9, action: "grant".into(), outcome: "success".into(), ..AuditEntry::default() };
            append(&mut store.pool().acquire().await.unwrap(), Some(&AuditKey::random(4)), &forged)
                .await
                .unwrap();
            assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::BadMac { id: 9 }));
            // Without a MAC at all.
            tamper(&store, "UPDATE moat_audit_log SET mac = NULL WHERE id = 9").await;
            assert_eq!(
                store.verify_audit(None).await.unwrap(),
                Err(ChainError::MissingMac { id: 9, from: 4 })
            );

            // What the key does not catch: the tail cut (a kept head does).
            let store = keyed_trail(memory_or_same(&store).await).await;
            let head = store.audit_head().await.unwrap().unwrap();
            tamper(&store, "DELETE FROM moat_audit_log WHERE id > 6").await;
            assert!(store.verify_audit(None).await.unwrap().is_ok());
            assert_eq!(
                store.verify_audit(Some((head.0, &head.1))).await.unwrap(),
                Err(ChainError::HeadMismatch { id: 8 })
            );
        }

        async fn the_database_records_which_audit_key_it_is_keyed_with(store: Store) {
            let key = AuditKey::random(1);
            assert!(!store.audit_keyed().await.unwrap());
            assert_eq!(store.adopt_audit_key(&key, false).await.unwrap(), AuditKeyCheck::NotRecorded);
            assert!(!store.audit_keyed().await.unwrap(), "not recorded when asked not to");
            assert_eq!(store.adopt_audit_key(&key, true).await.unwrap(), AuditKeyCheck::Recorded);
            assert!(store.audit_keyed().await.unwrap());
            assert_eq!(store.adopt_audit_key(&key, false).await.unwrap(), AuditKeyCheck::Matches);
            assert_eq!(store.adopt_audit_key(&key, true).await.unwrap(), AuditKeyCheck::Matches);
            let other = AuditKey::random(1);
            assert_eq!(store.adopt_audit_key(&other, true).await.unwrap(), AuditKeyCheck::WrongKey);
            let started = store
                .start_keyed_chain(|_| -> Result<AuditKey, ()> { panic!("no second key") })
                .await
                .unwrap()
                .unwrap();
            assert!(matches!(started, KeyedStart::AlreadyKeyed));
            // Verification with another key says so before reading entries.
            let other = store.clone().with_audit_key(other);
            assert_eq!(other.verify_audit(None).await.unwrap(), Err(ChainError::KeyMismatch));
            let ok = store.with_audit_key(key).verify_audit(None).await.unwrap().unwrap();
            assert_eq!((ok.rows, ok.keyed_from), (0, Some(1)));
        }
    }

    /// A fresh store on the same kind of database as `store`.
    async fn memory_or_same(store: &Store) -> Store {
        match store.dialect() {
            super::super::Dialect::Sqlite => memory_store().await,
            super::super::Dialect::Postgres => {
                crate::store::testing::postgres_store().await.unwrap()
            }
            // Dropped by `.ci/run` with the other leftovers.
            super::super::Dialect::Mysql => crate::store::testing::mysql_store().await.unwrap().0,
        }
    }

    #[test]
    fn strict_json() {
        for ok in [
            "{}",
            "[]",
            "null",
            "1",
            r#"{"a":{"b":1},"b":{"b":2}}"#,
            r#"[{"a":1},{"a":1}]"#,
            " {\"a\" : [1, 2.5e3, \"x\"] } ",
        ] {
            assert_eq!(check_json(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "not json",
            "{",
            r#"{"a":1} x"#,
            "{'a':1}",
            r#""\ud800""#,
        ] {
            assert!(check_json(bad).is_err(), "{bad}");
        }
        for twice in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"a":1}"#,
            r#"[{"x":{"a":1,"b":0,"a":2}}]"#,
            r#"{"a":1,"\u0061":2}"#,
        ] {
            let why = check_json(twice).unwrap_err();
            assert!(why.contains("key twice"), "{twice}: {why}");
        }
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
        let until = AuditFilter {
            until_ms: Some(19),
            ..filter.clone()
        };
        let mut seen = Vec::new();
        s.export_audit(&until, |row| {
            seen.push(row.id);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(seen, vec![11, 14, 17], "until is exclusive");
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
