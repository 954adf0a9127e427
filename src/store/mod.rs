//! Everything that speaks SQL lives here: the pool, migrations, moat's own tables, schema
//! introspection and record queries.
//!
//! Two rules hold in every file of this room:
//! - values are always bound parameters;
//! - identifiers (table and column names) reach SQL only through [`sql::Ident`], which can
//!   only be built from introspected schema ([`crate::domain::TableInfo`]) and quotes them.
//!
//! Dialect-specific statements are gathered in [`sql`]; today the dialect is SQLite
//! (`database_url = "sqlite://…"`), PostgreSQL follows in its own issue.

pub mod audit;
mod delete;
pub mod demo;
mod lockout;
mod perms;
mod records;
mod schema;
mod sessions;
pub mod sql;
mod users;
mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::seal::Sealer;

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
    pool: SqlitePool,
    /// Seals and opens TOTP secrets; attached once the key is checked against this
    /// database (see [`Store::with_sealer`]).
    sealer: Option<Arc<Sealer>>,
}

impl Store {
    /// Open (creating if missing) the database at `url`: WAL journal, foreign keys on,
    /// a busy timeout so concurrent writers wait instead of failing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        Ok(Store { pool, sealer: None })
    }

    /// Apply moat's migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
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
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Close every connection (checkpoints the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
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

    /// A fresh migrated in-memory database.
    pub async fn memory_store() -> Store {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store.with_sealer(crate::seal::Sealer::random())
    }
}
