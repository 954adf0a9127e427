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
mod delete;
pub mod demo;
mod lockout;
mod perms;
mod records;
mod schema;
mod sessions;
pub mod sql;
#[doc(hidden)]
pub mod testing;
mod users;
mod write;

use std::sync::Arc;

use sqlx::any::{Any, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};

use crate::seal::Sealer;

pub use sql::Dialect;

pub use audit::{AuditEntry, AuditFilter, AuditRow, ChainError, Verified};
pub use delete::value_json;
pub use perms::{GroupInfo, PermListing, Principal, UserRow};
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
}

/// The key of the PostgreSQL advisory lock every moat write transaction holds ("moat").
const WRITE_LOCK: i64 = 0x6d6f_6174;

/// Connections per instance.
const POOL_SIZE: u32 = 8;

impl Store {
    /// Open the database at `url`.
    ///
    /// SQLite: created if missing; WAL journal, foreign keys on, a busy timeout so
    /// concurrent writers wait instead of failing. PostgreSQL: the database must exist;
    /// each connection's `search_path` starts with moat's schema.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            StoreError::Conflict(format!(
                "database_url must start with sqlite: or postgres:// (got {})",
                url.split(':').next().unwrap_or_default()
            ))
        })?;
        let options = AnyPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(1);
        let pool = match dialect {
            Dialect::Sqlite => {
                options
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
                    .connect(&sqlite_creating(url))
                    .await?
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
        };
        Ok(Store {
            pool,
            dialect,
            schemas: Arc::new(["public".to_string()]),
            sealer: None,
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
        }
        Ok(())
    }

    /// A transaction for a write to moat's tables (and the audit row that goes with it).
    ///
    /// Writes are serialized: on SQLite by `BEGIN IMMEDIATE` (one writer per file), on
    /// PostgreSQL by a transaction-scoped advisory lock, which every instance sharing the
    /// database takes too. That keeps read-then-write sequences (failure counters, the
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
        }
    }

    /// This store with `sealer` for TOTP secrets. Check it first with
    /// [`Store::check_key`]; [`Store::adopt_key`] records it and seals older plaintext rows.
    pub fn with_sealer(mut self, sealer: Sealer) -> Store {
        self.sealer = Some(Arc::new(sealer));
        self
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

    /// Define each test once, run on both databases: `name::sqlite` on a fresh in-memory
    /// SQLite store, `name::postgres` on a fresh PostgreSQL database (ignored, with the
    /// reason, when `MOAT_TEST_POSTGRES_URL` was unset at build time).
    macro_rules! on_both_databases {
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
    pub(crate) use on_both_databases;

    /// Run `ddl` (statements without parameters) so that the tables it creates are the
    /// console's: on PostgreSQL in schema `public`, not moat's own.
    pub async fn create_tables(store: &Store, ddl: &str) {
        let sql = match store.dialect() {
            super::Dialect::Sqlite => ddl.to_string(),
            super::Dialect::Postgres => {
                format!("BEGIN; SET LOCAL search_path TO public; {ddl}; COMMIT;")
            }
        };
        sqlx::raw_sql(&sql).execute(store.pool()).await.unwrap();
    }

    /// The declaration of an auto-numbered integer key column in `store`'s dialect.
    pub fn auto_key(store: &Store) -> &'static str {
        match store.dialect() {
            super::Dialect::Sqlite => "INTEGER PRIMARY KEY",
            super::Dialect::Postgres => "SERIAL PRIMARY KEY",
        }
    }

    /// A fresh migrated in-memory database.
    pub async fn memory_store() -> Store {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store.with_sealer(crate::seal::Sealer::random())
    }
}
