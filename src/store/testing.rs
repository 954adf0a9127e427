//! Databases for tests: the store's unit tests and the end-to-end tests run one test body
//! on SQLite and on PostgreSQL.
//!
//! The PostgreSQL runs need a server: `MOAT_TEST_POSTGRES_URL` names it (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`), and each test gets a fresh database of its
//! own on it, named `moat_test_…`. When the variable is unset at build time the
//! PostgreSQL variants are compiled as ignored tests whose reason says so (see
//! `build.rs`), so `cargo test` reports them as skipped rather than passing silently.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_ENV: &str = "MOAT_TEST_POSTGRES_URL";

/// Prefix of the databases [`fresh_postgres_url`] creates (`.ci/run` drops leftovers).
pub const DATABASE_PREFIX: &str = "moat_test_";

/// Create an empty database on the server [`POSTGRES_ENV`] names; returns its URL.
pub async fn fresh_postgres_url() -> Result<String, String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var(POSTGRES_ENV)
        .map_err(|_| format!("{POSTGRES_ENV} is not set: no PostgreSQL server to test on"))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "{DATABASE_PREFIX}{}_{}_{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .map_err(|e| format!("cannot reach PostgreSQL at {POSTGRES_ENV}: {e}"))?;
    // The name is made above from digits and a constant prefix.
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot create database {name}: {e}"))?;
    conn.close().await.ok();
    let (server, query) = match base.split_once('?') {
        Some((s, q)) => (s, Some(q)),
        None => (base.as_str(), None),
    };
    let server = match server.rsplit_once('/') {
        Some((s, _)) if s.contains("//") && !s.ends_with('/') => s,
        _ => server.trim_end_matches('/'),
    };
    Ok(match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    })
}

/// A migrated store on a fresh PostgreSQL database, with a random sealing key.
pub async fn postgres_store() -> Result<super::Store, String> {
    let url = fresh_postgres_url().await?;
    let store = super::Store::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store.with_sealer(crate::seal::Sealer::random()))
}
