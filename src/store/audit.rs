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

/// The columns of an audit row as [`append`] and [`append_many`] insert them (a macro,
/// so that [`INSERT_ONE_AUDIT`] is a literal too).
macro_rules! insert_audit {
    () => {
        "INSERT INTO moat_audit_log (id, at_ms, actor, source_ip, session_id, \
         action, model, pk, before_json, after_json, outcome, reason, prev_hash, hash, mac) VALUES "
    };
}

/// One row's placeholders for [`insert_audit!`].
macro_rules! audit_row_slots {
    () => {
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
}

/// Every write's own audit row: written in the source, so its text for the dialect is
/// made once (`sql::query`), not at each write.
const INSERT_ONE_AUDIT: &str = concat!(insert_audit!(), audit_row_slots!());

/// Audit rows per `INSERT` in [`append_many`] (15 values each). Over 10,000 rows, on
/// SQLite sqlx's cost per statement grows faster than its number of values (500 rows a
/// statement: 1.6 s; 100: 0.47 s; 50: 0.36 s; 20: 0.30 s), while PostgreSQL took
/// 0.25–0.31 s at each size; 50 keeps the round trips to a remote database few.
const AUDIT_ROWS_PER_INSERT: usize = 50;

/// The JSON bytes one `INSERT` of [`append_many`] holds at most (unless one row alone is
/// more), well under MariaDB's default `max_allowed_packet` (16 MiB).
const AUDIT_BYTES_PER_INSERT: usize = 4 << 20;

/// An entry made ready to store: its id, JSON texts, chain hash and MAC.
struct Chained<'e> {
    id: i64,
    entry: &'e AuditEntry,
    before: Option<String>,
    after: Option<String>,
    prev: String,
    hash: String,
    mac: Option<String>,
}

impl<'e> Chained<'e> {
    /// `entry` as row `id`, following the row whose hash is `prev`.
    fn new(id: i64, entry: &'e AuditEntry, prev: String, key: Option<&AuditKey>) -> Self {
        let before = stored_json(entry.before.as_ref());
        let after = stored_json(entry.after.as_ref());
        let hash = stored_row_hash(id, entry, before.as_deref(), after.as_deref(), &prev);
        let mac = key.map(|k| k.entry_mac(id, &hash));
        Chained {
            id,
            entry,
            before,
            after,
            prev,
            hash,
            mac,
        }
    }

    /// Bind this row's 15 values, in [`insert_audit!`]'s order.
    fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let e = self.entry;
        q.bind(self.id)
            .bind(e.at_ms)
            .bind(&e.actor)
            .bind(&e.source_ip)
            .bind(&e.session_id)
            .bind(&e.action)
            .bind(&e.model)
            .bind(&e.pk)
            .bind(&self.before)
            .bind(&self.after)
            .bind(&e.outcome)
            .bind(&e.reason)
            .bind(&self.prev)
            .bind(&self.hash)
            .bind(&self.mac)
    }
}

/// The id and hash of the last audit row, or what the first row follows.
async fn chain_head(conn: &mut AnyConnection) -> Result<(i64, String), StoreError> {
    let last: Option<(i64, String)> = sql::query_as(
        Dialect::of_conn(conn),
        "SELECT id, hash FROM moat_audit_log ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(last.unwrap_or_else(|| (0, GENESIS.to_string())))
}

/// Append `e` on `conn`, which must be inside a write transaction, with its MAC under
/// `key` if there is one. Returns the row id.
pub async fn append(
    conn: &mut AnyConnection,
    key: Option<&AuditKey>,
    e: &AuditEntry,
) -> Result<i64, StoreError> {
    append_many(conn, key, std::slice::from_ref(e)).await
}

/// Append `entries` in order on `conn` (inside a write transaction), each chained to the
/// one before as [`append`] one by one would chain them, with one read of the chain's
/// head and one `INSERT` per [`AUDIT_ROWS_PER_INSERT`] rows or [`AUDIT_BYTES_PER_INSERT`]
/// of JSON, whichever comes first (a bulk delete writes thousands). Returns the last
/// row's id (the head's, when `entries` is empty).
pub async fn append_many(
    conn: &mut AnyConnection,
    key: Option<&AuditKey>,
    entries: &[AuditEntry],
) -> Result<i64, StoreError> {
    let (mut last, mut prev) = chain_head(conn).await?;
    let mut rows: Vec<Chained> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        last += 1;
        let row = Chained::new(last, e, prev, key);
        prev = row.hash.clone();
        let size =
            row.before.as_ref().map_or(0, String::len) + row.after.as_ref().map_or(0, String::len);
        if !rows.is_empty()
            && (rows.len() == AUDIT_ROWS_PER_INSERT || bytes + size > AUDIT_BYTES_PER_INSERT)
        {
            insert_rows(conn, &rows).await?;
            rows.clear();
            bytes = 0;
        }
        bytes += size;
        rows.push(row);
    }
    if !rows.is_empty() {
        insert_rows(conn, &rows).await?;
    }
    Ok(last)
}

/// Insert `rows` in one statement.
async fn insert_rows(conn: &mut AnyConnection, rows: &[Chained<'_>]) -> Result<(), StoreError> {
    let dialect = Dialect::of_conn(conn);
    // A constant head and one constant group of slots per row: nothing else.
    let many = (rows.len() > 1).then(|| {
        dialect.sql(&format!(
            "{}{}",
            insert_audit!(),
            vec![audit_row_slots!(); rows.len()].join(", ")
        ))
    });
    // Kept prepared on every database, unlike `sql::query_of_list` on PostgreSQL: an
    // INSERT has no plan to choose, and SQLite preparing 750 values each time doubled a
    // bulk delete's audit (0.36 → 0.70 s for 10,000 rows). Most statements have one row
    // or [`AUDIT_ROWS_PER_INSERT`].
    let mut query = match &many {
        Some(q) => sqlx::query(q),
        None => sql::query(dialect, INSERT_ONE_AUDIT),
    };
    for row in rows {
        query = row.bind(query);
    }
    query.execute(&mut *conn).await?;
    for _ in rows {
        crate::metrics::global().audit_appended();
    }
    Ok(())
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
#[path = "audit_tests.rs"]
mod tests;
