//! Everything that speaks SQL lives here: the pool, migrations, moat's own tables, schema
//! introspection and record queries.
//!
//! Two rules hold in every file of this room:
//! - values are always bound parameters;
//! - identifiers (table and column names) reach SQL only through [`sql::Ident`], which can
//!   only be built from introspected schema ([`crate::domain::TableInfo`]) and quotes them.
//!
//! One body of SQL serves SQLite (`database_url = "sqlite://…"`, the embedded default) and
//! PostgreSQL (`postgres://…`): queries run through sqlx's `Any` driver, placeholders are
//! numbered by [`sql::numbered`], and where the dialects differ (introspection, casts,
//! case-insensitive search, write locking) the code asks [`Store::dialect`].
//!
//! On PostgreSQL moat's own tables live in schema `moat`: its connections put `moat` first
//! on the `search_path`, so migrations create there and `moat_…` names resolve there. The
//! tables the console shows are always named with their schema.

pub mod audit;
mod batch;
mod bind;
mod checks;
mod delete;
mod demo;
mod exports;
mod keys;
mod lockout;
mod manage;
mod marking;
mod open;
mod perms;
mod prefs;
pub mod recordings;
mod records;
mod report;
mod schema;
pub mod search_index;
pub mod server;
mod sessions;
pub mod sql;
#[doc(hidden)]
pub mod testing;
mod undo;
mod users;
mod write;

use std::sync::Arc;

use sqlx::any::{Any, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};

use crate::seal::{AuditKey, Sealer};

pub use sql::Dialect;

pub use audit::{
    AuditEntry, AuditFilter, AuditKeyCheck, AuditRow, ChainError, KeyedStart, Verified,
};
pub use bind::{json_value, value_json};
pub use demo::{DemoAuthor, DemoComment, DemoOutcome, DemoPost, DemoRows};
pub use keys::{KeySelector, NewKey, UserKey};
pub use manage::{AccessVia, GroupUsage, RowAccess};
pub use perms::{GroupInfo, PermListing, Principal, UserRow};
pub use recordings::{EndedSession, NewRecording, RecordingRow};
pub use report::{TotpState, UserFacts};
pub use search_index::{IndexKind, SearchIndex};
pub use sessions::{LiveSession, SessionRow};
pub use users::{KeyCheck, LoginUser, NewUser, TotpDevice};
pub use write::SaveOutcome;

/// Errors from the store, in words a caller can show or log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The database refused a write (NOT NULL, UNIQUE, CHECK, FOREIGN KEY), in words.
    #[error("{0}")]
    Constraint(String),
    /// A TOTP secret could not be sealed or opened (no key loaded, or the wrong one).
    #[error("{0}")]
    Sealed(String),
    /// The SQLite database file could not be created.
    #[error("{path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A handle on moat's database. Cheap to clone (it is a pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// PostgreSQL: the schemas whose tables [`Store::introspect`] shows.
    schemas: Arc<[String]>,
    /// Seals and opens TOTP secrets; attached once the key is checked against this
    /// database (see [`Store::with_sealer`]).
    sealer: Option<Arc<Sealer>>,
    /// MACs audit entries as they are appended, and checks them in
    /// [`Store::verify_audit`] (see [`Store::with_audit_key`]).
    audit_key: Option<Arc<AuditKey>>,
}

/// The key of the PostgreSQL advisory lock every moat write transaction holds ("moat").
const WRITE_LOCK: i64 = 0x6d6f_6174;

/// MySQL: each connection's settings, so that no behaviour depends on the server's
/// defaults. Times in UTC (TIMESTAMP values are shown and written as UTC); strict mode
/// (a value that does not fit is an error, not a silent truncation); backslashes are
/// plain characters in strings; `"` is a string quote, identifiers take backticks
/// (no `ANSI_QUOTES`: see `sql::Ident`); `||` concatenates, as elsewhere; each
/// statement of a transaction sees what committed before it (as on PostgreSQL).
const MYSQL_SESSION: &str = "SET time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,NO_ZERO_IN_DATE,\
NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

/// MySQL: each connection's transactions (a statement of its own).
const MYSQL_ISOLATION: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// Connections per instance.
const POOL_SIZE: u32 = 8;

impl Store {
    /// Open the database at `url`.
    ///
    /// SQLite: created if missing, mode 0600 whatever the umask (it holds password hashes),
    /// and its `-wal` and `-shm` files too (see [`private_sqlite_files`]); WAL journal,
    /// foreign keys on, a busy timeout so concurrent writers wait instead of failing.
    /// PostgreSQL: the database must exist; each connection's `search_path` starts with
    /// moat's schema.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            StoreError::Conflict(format!(
                "database_url must start with sqlite:, postgres://, mysql:// or mariadb:// (got {})",
                url.split(':').next().unwrap_or_default()
            ))
        })?;
        let options = AnyPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(1);
        let pool = match dialect {
            Dialect::Sqlite => {
                let url = sqlite_creating(url);
                let file = sqlite_file(&url);
                if let Some(path) = file.as_deref().filter(|_| creates(&url)) {
                    create_private_file(path)?;
                }
                let pool = options
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 5000",
                            ] {
                                conn.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                if let Some(path) = &file {
                    private_sqlite_files(path);
                }
                pool
            }
            Dialect::Postgres => {
                options
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET search_path TO moat, public").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Dialect::Mysql => {
                // sqlx knows MariaDB by MySQL's scheme.
                let url = match url.strip_prefix("mariadb://") {
                    Some(rest) => format!("mysql://{rest}"),
                    None => url.to_string(),
                };
                let pool = options
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(MYSQL_SESSION).await?;
                            conn.execute(MYSQL_ISOLATION).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR(200))")
                    .fetch_one(&pool)
                    .await?;
                server::check_mysql_version(&version).map_err(StoreError::Conflict)?;
                pool
            }
        };
        Ok(Store {
            pool,
            dialect,
            schemas: Arc::new(["public".to_string()]),
            sealer: None,
            audit_key: None,
        })
    }

    /// This store showing the tables of `schemas` (PostgreSQL; default `public`).
    pub fn with_schemas(mut self, schemas: &[String]) -> Store {
        self.schemas = schemas.into();
        self
    }

    /// Which SQL dialect this store's database speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Apply moat's migrations (idempotent; safe when several instances start at once).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Dialect::Postgres => {
                // Two instances may race to create the schema: the loser's error is
                // harmless when the schema is there afterwards.
                if let Err(e) = self.pool.execute("CREATE SCHEMA IF NOT EXISTS moat").await {
                    let exists: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'moat')",
                    )
                    .fetch_one(&self.pool)
                    .await?;
                    if !exists {
                        return Err(e.into());
                    }
                }
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
            // sqlx serializes concurrent runs with a named lock (GET_LOCK).
            Dialect::Mysql => sqlx::migrate!("migrations/mysql").run(&self.pool).await?,
        }
        Ok(())
    }

    /// A transaction for a write to moat's tables (and the audit row that goes with it).
    ///
    /// Writes are serialized: on SQLite by `BEGIN IMMEDIATE` (one writer per file), on
    /// PostgreSQL by a transaction-scoped advisory lock, on MySQL by a lock on the one row
    /// of `moat_write_lock` (released at commit or rollback, as the advisory lock is);
    /// every instance sharing the database takes it too. That keeps read-then-write sequences (failure counters, the
    /// audit chain's previous hash, the last accepted TOTP step) exact across instances.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.dialect {
            Dialect::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
            Dialect::Mysql => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT id FROM moat_write_lock WHERE id = 1 FOR UPDATE")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// This store with `sealer` for TOTP secrets. Check it first with
    /// [`Store::check_key`]; [`Store::adopt_key`] records it and seals older plaintext rows.
    pub fn with_sealer(mut self, sealer: Sealer) -> Store {
        self.sealer = Some(Arc::new(sealer));
        self
    }

    /// This store with `key` for the audit trail: every entry appended carries its MAC,
    /// and verification checks the MACs from the key's first entry on. Check it first with
    /// [`Store::adopt_audit_key`].
    pub fn with_audit_key(mut self, key: AuditKey) -> Store {
        self.audit_key = Some(Arc::new(key));
        self
    }

    /// The audit key attached, if any.
    pub(crate) fn audit_key(&self) -> Option<&AuditKey> {
        self.audit_key.as_deref()
    }

    fn sealer(&self) -> Result<&Sealer, StoreError> {
        self.sealer
            .as_deref()
            .ok_or_else(|| StoreError::Sealed("no secret key loaded for TOTP secrets".into()))
    }

    /// The underlying pool, for the demo loader and tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Close every connection (on SQLite this checkpoints the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `url` as every connection of a pool should open it: with SQLite's `mode=rwc` (create
/// the file if missing) unless it sets a mode, and an in-memory database under one name
/// per store. (sqlx's Any driver parses the URL per connection, and `sqlite::memory:`
/// would give each connection a database of its own.)
fn sqlite_creating(url: &str) -> String {
    static MEMORY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if url.contains(":memory:") {
        let n = MEMORY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!(
            "sqlite:file:moat-memory-{}-{n}?mode=memory",
            std::process::id()
        )
    } else if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The file a SQLite `url` (as [`sqlite_creating`] made it) opens, as sqlx reads it; `None`
/// for an in-memory database or a name SQLite takes for a URI of its own.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path.to_string_lossy().starts_with("file:") {
        return None;
    }
    Some(path.to_path_buf())
}

/// Whether `url` lets SQLite create the file (`mode=rwc`).
fn creates(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair == "mode=rwc"))
}

/// Create `path` empty with mode 0600 if it does not exist, before SQLite would create it
/// with the process umask (SQLite gives its `-wal` and `-shm` files the database's mode).
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        #[cfg(unix)]
        Ok(file) => {
            use std::os::unix::fs::PermissionsExt;
            // The umask cannot widen a mode, but set it outright all the same.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|source| StoreError::File {
                    path: path.to_path_buf(),
                    source,
                })
        }
        #[cfg(not(unix))]
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Take group and other permissions off the database at `path` and its `-wal` and `-shm`
/// files (they hold password hashes and session state). A database that an earlier version
/// created with the umask is tightened too, with a warning; a file moat may not change
/// (another owner) is only warned about.
fn private_sqlite_files(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = std::path::PathBuf::from(name);
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                continue;
            }
            let private = std::fs::Permissions::from_mode(mode & 0o700);
            match std::fs::set_permissions(&file, private) {
                Ok(()) => tracing::warn!(
                    file = %file.display(),
                    "database file was readable by group or others (mode {mode:o}); \
                     now {:o}",
                    mode & 0o700
                ),
                Err(e) => tracing::warn!(
                    file = %file.display(),
                    error = %e,
                    "database file is readable by group or others (mode {mode:o}); \
                     run `chmod 600` on it"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Store;

    /// A plain user (no TOTP, not a superuser) named `name`; returns its id.
    pub async fn plain_user(store: &Store, name: &str) -> i64 {
        store
            .create_user(&super::NewUser {
                username: name,
                password_hash: "h",
                is_superuser: false,
                totp_secret: None,
                must_change_password: false,
                password_expires_at: None,
                now: 0,
            })
            .await
            .unwrap()
    }

    /// Define each test once, run on every database: `name::sqlite` on a fresh in-memory
    /// SQLite store, `name::postgres` on a fresh PostgreSQL database (ignored, with the
    /// reason, when `MOAT_TEST_POSTGRES_URL` was unset at build time), `name::mysql` on a
    /// fresh MySQL/MariaDB database (likewise with `MOAT_TEST_MYSQL_URL`).
    macro_rules! on_every_database {
        ($(async fn $name:ident($store:ident: Store) $body:block)*) => {$(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($store: $crate::store::Store) $body

                #[tokio::test]
                async fn sqlite() {
                    body($crate::store::test_support::memory_store().await).await
                }

                #[tokio::test]
                #[cfg_attr(
                    not(moat_postgres),
                    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
                )]
                async fn postgres() {
                    let store = $crate::store::testing::postgres_store().await;
                    body(store.expect("a PostgreSQL test database")).await
                }

                #[tokio::test]
                #[cfg_attr(
                    not(moat_mysql),
                    ignore = "MOAT_TEST_MYSQL_URL is not set: MySQL/MariaDB run skipped"
                )]
                async fn mysql() {
                    let (store, name) = $crate::store::testing::mysql_store()
                        .await
                        .expect("a MySQL test database");
                    body(store.clone()).await;
                    store.close().await;
                    $crate::store::testing::drop_mysql_database(&name).await;
                }
            }
        )*};
    }
    pub(crate) use on_every_database;

    /// [`on_every_database!`] without MySQL: for what MySQL does not have (search
    /// indexes, see `search_index::MYSQL_UNSUPPORTED`).
    macro_rules! on_sqlite_and_postgres {
        ($(async fn $name:ident($store:ident: Store) $body:block)*) => {$(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($store: $crate::store::Store) $body

                #[tokio::test]
                async fn sqlite() {
                    body($crate::store::test_support::memory_store().await).await
                }

                #[tokio::test]
                #[cfg_attr(
                    not(moat_postgres),
                    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
                )]
                async fn postgres() {
                    let store = $crate::store::testing::postgres_store().await;
                    body(store.expect("a PostgreSQL test database")).await
                }
            }
        )*};
    }
    pub(crate) use on_sqlite_and_postgres;

    /// Run `ddl` (statements without parameters) so that the tables it creates are the
    /// console's: on PostgreSQL in schema `public`, not moat's own.
    pub async fn create_tables(store: &Store, ddl: &str) {
        let sql = match store.dialect() {
            super::Dialect::Sqlite => ddl.to_string(),
            super::Dialect::Postgres => {
                format!("BEGIN; SET LOCAL search_path TO public; {ddl}; COMMIT;")
            }
            // Test DDL double-quotes identifiers (SQL standard): this connection only.
            super::Dialect::Mysql => {
                format!(
                    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'); {}; \
                     SET SESSION sql_mode = REPLACE(@@sql_mode, ',ANSI_QUOTES', '')",
                    ddl.trim().trim_end_matches(';')
                )
            }
        };
        sqlx::raw_sql(&sql).execute(store.pool()).await.unwrap();
    }

    /// The declaration of an auto-numbered integer key column in `store`'s dialect.
    pub fn auto_key(store: &Store) -> &'static str {
        match store.dialect() {
            super::Dialect::Sqlite => "INTEGER PRIMARY KEY",
            super::Dialect::Postgres => "SERIAL PRIMARY KEY",
            super::Dialect::Mysql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
        }
    }

    /// A fresh migrated in-memory database.
    pub async fn memory_store() -> Store {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store.with_sealer(crate::seal::Sealer::random())
    }
}

#[cfg(all(test, unix))]
mod file_mode_tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::Store;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn beside(db: &Path, suffix: &str) -> std::path::PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        name.into()
    }

    #[tokio::test]
    async fn a_new_sqlite_database_and_its_wal_and_shm_are_private_whatever_the_umask() {
        // The usual umask, under which SQLite created moat.db 0644.
        // SAFETY: umask only sets the process's file-creation mask; 022 is the usual default,
        // so tests running alongside see no difference.
        unsafe { libc::umask(0o022) };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("moat.db");
        for url in [
            format!("sqlite://{}", db.display()),
            format!("sqlite:{}", db.display()),
        ] {
            let _ = std::fs::remove_file(&db);
            let store = Store::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            for file in [db.clone(), beside(&db, "-wal"), beside(&db, "-shm")] {
                assert!(file.exists(), "{url}: {file:?}");
                assert_eq!(mode(&file), 0o600, "{url}: {file:?}");
            }
            store.close().await;
        }
    }

    #[tokio::test]
    async fn an_existing_database_readable_by_others_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("old.db");
        std::fs::File::create(&db).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&beside(&db, "-wal")), 0o600);
        store.close().await;
    }

    #[test]
    fn only_files_sqlite_may_create_are_created_first() {
        assert!(super::sqlite_file(&super::sqlite_creating("sqlite::memory:")).is_none());
        let url = super::sqlite_creating("sqlite://data/moat.db");
        assert!(super::creates(&url));
        assert_eq!(
            super::sqlite_file(&url).as_deref(),
            Some(Path::new("data/moat.db"))
        );
        assert!(!super::creates(&super::sqlite_creating(
            "sqlite://moat.db?mode=ro"
        )));
    }
}
