//! Databases for tests: the store's unit tests and the end-to-end tests run one test body
//! on SQLite and on PostgreSQL.
//!
//! The PostgreSQL runs need a server: `MOAT_TEST_POSTGRES_URL` names it (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`), and each test gets a fresh database of its
//! own on it, named `moat_test_…`. When the variable is unset at build time the
//! PostgreSQL variants are compiled as ignored tests whose reason says so (see
//! `build.rs`), so `cargo test` reports them as skipped rather than passing silently.
//!
//! MySQL/MariaDB likewise: `MOAT_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`)
//! names a server on which each test creates a database `moat_test_…` of its own, dropped
//! when the test's body returns (`.ci/run` drops those a failed test left).

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_ENV: &str = "MOAT_TEST_POSTGRES_URL";

/// Prefix of the databases [`fresh_postgres_url`] creates (`.ci/run` drops leftovers).
pub const DATABASE_PREFIX: &str = "moat_test_";

/// The variable naming the MySQL or MariaDB server tests may create databases on.
pub const MYSQL_ENV: &str = "MOAT_TEST_MYSQL_URL";

/// A new database name: the prefix, this process, a counter and the clock's nanoseconds
/// (digits and `_` only, so it needs no quoting).
fn fresh_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{DATABASE_PREFIX}{}_{}_{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// `base` (a server URL with a database) naming database `name` instead.
fn with_database(base: &str, name: &str) -> String {
    let (server, query) = match base.split_once('?') {
        Some((s, q)) => (s, Some(q)),
        None => (base, None),
    };
    let server = match server.rsplit_once('/') {
        Some((s, _)) if s.contains("//") && !s.ends_with('/') => s,
        _ => server.trim_end_matches('/'),
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// Create an empty database on the server [`MYSQL_ENV`] names; returns its URL and name.
pub async fn fresh_mysql_url() -> Result<(String, String), String> {
    let base = std::env::var(MYSQL_ENV)
        .map_err(|_| format!("{MYSQL_ENV} is not set: no MySQL/MariaDB server to test on"))?;
    let base = match base.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => base,
    };
    let name = fresh_name();
    let mut conn = sqlx::MySqlConnection::connect(&base)
        .await
        .map_err(|e| format!("cannot reach MySQL at {MYSQL_ENV}: {e}"))?;
    // The name is made from digits and a constant prefix.
    sqlx::raw_sql(&format!(
        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
    ))
    .execute(&mut conn)
    .await
    .map_err(|e| format!("cannot create database {name}: {e}"))?;
    conn.close().await.ok();
    Ok((with_database(&base, &name), name))
}

/// Drop a database [`fresh_mysql_url`] made (errors ignored: `.ci/run` drops leftovers).
pub async fn drop_mysql_database(name: &str) {
    let Ok(base) = std::env::var(MYSQL_ENV) else {
        return;
    };
    let base = base.replacen("mariadb://", "mysql://", 1);
    if !name.starts_with(DATABASE_PREFIX)
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return;
    }
    if let Ok(mut conn) = sqlx::MySqlConnection::connect(&base).await {
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await;
        conn.close().await.ok();
    }
}

/// A migrated store on a fresh MySQL/MariaDB database, with a random sealing key, and the
/// database's name (for [`drop_mysql_database`]).
pub async fn mysql_store() -> Result<(super::Store, String), String> {
    let (url, name) = fresh_mysql_url().await?;
    let store = super::Store::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok((store.with_sealer(crate::seal::Sealer::random()), name))
}

/// Create an empty database on the server [`POSTGRES_ENV`] names; returns its URL.
pub async fn fresh_postgres_url() -> Result<String, String> {
    let base = std::env::var(POSTGRES_ENV)
        .map_err(|_| format!("{POSTGRES_ENV} is not set: no PostgreSQL server to test on"))?;
    let name = fresh_name();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .map_err(|e| format!("cannot reach PostgreSQL at {POSTGRES_ENV}: {e}"))?;
    // The name is made above from digits and a constant prefix.
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot create database {name}: {e}"))?;
    conn.close().await.ok();
    Ok(with_database(&base, &name))
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
