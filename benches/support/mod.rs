//! What the benchmarks share: a release `moat serve` child on a loopback port over a
//! prepared database (demo data and `bench<N>` users with known TOTP secrets), and readings
//! of its process from /proc.
#![allow(dead_code)] // each bench uses a different part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use moat::auth::password::Hasher;
use moat::auth::totp;
use moat::config::Argon2Config;
use moat::demo;
use moat::store::NewUser;

#[path = "../../tests/e2e/common/mod.rs"]
pub mod common;

pub use common::PASSWORD;

/// A running server child with its users; killed on drop.
pub struct Bench {
    pub port: u16,
    pub secrets: Vec<Vec<u8>>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user to create: `bench<N>`, with its password hashed at these parameters.
pub fn users(n: usize, argon2: Argon2Config) -> Vec<String> {
    let phc = Hasher::new(argon2).unwrap().hash(PASSWORD).unwrap();
    vec![phc; n]
}

impl Bench {
    /// Prepare a database with the demo data and one user `bench<i>` per hash in `hashes`,
    /// then start the release binary with `extra_toml` (top-level keys and tables)
    /// appended to a config that listens on a free port.
    pub async fn start(extra_toml: &str, hashes: Vec<String>) -> Bench {
        Bench::start_on(None, extra_toml, hashes).await
    }

    /// [`Bench::start`] on the database at `database_url` (default: a SQLite file in the
    /// bench's temp dir).
    pub async fn start_on(
        database_url: Option<&str>,
        extra_toml: &str,
        hashes: Vec<String>,
    ) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            dir.path().join("moat.toml"),
            format!(
                "listen = \"127.0.0.1:{port}\"\nauth_rejection_ms = 20\n{}{extra_toml}\n",
                database_url
                    .map(|u| format!("database_url = \"{u}\"\n"))
                    .unwrap_or_default()
            ),
        )
        .unwrap();
        let config = moat::config::Config::load(Some(&dir.path().join("moat.toml")), []).unwrap();
        let config = moat::config::Config {
            database_url: database_url
                .map(str::to_string)
                .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("moat.db").display())),
            // The server below runs in `dir` and finds the secret key in ./keys.
            keys_dir: dir.path().join("keys"),
            ..config
        };
        let store = moat::commands::open_store(&config).await.unwrap();
        demo::load(&store).await.unwrap();
        let mut secrets = Vec::new();
        for (i, phc) in hashes.iter().enumerate() {
            let secret = totp::generate_secret();
            store
                .create_user(&NewUser {
                    username: &format!("bench{i}"),
                    password_hash: phc,
                    is_superuser: true,
                    totp_secret: Some(&secret),
                    must_change_password: false,
                    password_expires_at: None,
                    now: 0,
                })
                .await
                .unwrap();
            secrets.push(secret);
        }
        store.close().await;
        let mut child = Command::new(env!("CARGO_BIN_EXE_moat"))
            .current_dir(dir.path())
            .args(["--config", "moat.toml", "serve"])
            .env("MOAT_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        for line in BufReader::new(stdout).lines() {
            if line.unwrap().contains("listening on") {
                break;
            }
        }
        Bench {
            port,
            secrets,
            child,
            _dir: dir,
        }
    }

    /// The server's directory (its `moat.toml`, keys and SQLite file).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The current TOTP code of `bench<i>`.
    pub fn code(&self, i: usize) -> String {
        totp::code_at(&self.secrets[i], totp::step_at(common::now()))
    }

    /// Server memory: proportional set size, KiB.
    pub fn pss_kib(&self) -> u64 {
        proc_field(&format!("/proc/{}/smaps_rollup", self.pid()), "Pss:")
    }

    /// Server memory high-water mark (peak RSS), KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_field(&format!("/proc/{}/status", self.pid()), "VmHWM:")
    }

    /// CPU time the server has used (user + system).
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the `(comm)`: state is 3rd; utime 14th, stime 15th overall.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
            + fields
                .get(12)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        Duration::from_millis(ticks * 10) // CLK_TCK is 100 on Linux
    }
}

fn proc_field(path: &str, label: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `p`-th percentile (0–100) of `v`.
pub fn percentile(v: &[f64], p: usize) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len().saturating_sub(1)) * p) / 100;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Create and fill `big` (id, title, body, status, created; indexes on title, status,
/// created) with `rows` rows, then ANALYZE: the 1,000,000-row table of the list goals.
pub async fn big_table(store: &moat::store::Store, rows: i64) {
    use moat::store::Dialect;
    let sql = match store.dialect() {
        Dialect::Sqlite => format!(
            "CREATE TABLE big (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT, \
               status TEXT NOT NULL, created TEXT NOT NULL); \
             CREATE INDEX big_title ON big(title); CREATE INDEX big_status ON big(status); \
             CREATE INDEX big_created ON big(created); \
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) \
             INSERT INTO big SELECT i, 'Title number ' || i, 'Body of row ' || i || ' with some text', \
               CASE i % 3 WHEN 0 THEN 'draft' WHEN 1 THEN 'published' ELSE 'archived' END, \
               datetime(1700000000 + i * 60, 'unixepoch') FROM s; \
             ANALYZE;"
        ),
        // The same rows in public.big; indexes after the load, then fresh statistics.
        Dialect::Postgres => format!(
            "CREATE TABLE public.big (id BIGINT PRIMARY KEY, title TEXT NOT NULL, body TEXT, \
               status TEXT NOT NULL, created TIMESTAMP NOT NULL); \
             INSERT INTO public.big SELECT i, 'Title number ' || i, \
               'Body of row ' || i || ' with some text', \
               CASE i % 3 WHEN 0 THEN 'draft' WHEN 1 THEN 'published' ELSE 'archived' END, \
               to_timestamp(1700000000 + i * 60) AT TIME ZONE 'UTC' \
             FROM generate_series(1, {rows}) AS i; \
             CREATE INDEX big_title ON public.big(title); \
             CREATE INDEX big_status ON public.big(status); \
             CREATE INDEX big_created ON public.big(created);"
        ),
        // MySQL/MariaDB: the table here, its rows in batches below (no recursive CTE: its
        // iteration limit is a different variable on each server).
        Dialect::Mysql => "CREATE TABLE big (id BIGINT PRIMARY KEY, title VARCHAR(200) NOT NULL, \
               body TEXT, status VARCHAR(20) NOT NULL, created DATETIME NOT NULL) \
             DEFAULT CHARSET = utf8mb4"
            .to_string(),
    };
    sqlx::raw_sql(&sql).execute(store.pool()).await.unwrap();
    if store.dialect() == Dialect::Mysql {
        // The same rows, 100,000 to a statement (each its own transaction): ids from a
        // cross join of five digit tables; `created` from an interval, whatever the
        // session's time zone. Indexes after the load, then fresh statistics.
        const BATCH: i64 = 100_000;
        let digits = format!(
            "(SELECT 0 AS d{})",
            (1..10)
                .map(|d| format!(" UNION ALL SELECT {d}"))
                .collect::<String>()
        );
        for start in (0..rows).step_by(BATCH as usize) {
            let sql = format!(
                "INSERT INTO big (id, title, body, status, created) \
                 SELECT i, CONCAT('Title number ', i), CONCAT('Body of row ', i, ' with some text'), \
                   CASE i % 3 WHEN 0 THEN 'draft' WHEN 1 THEN 'published' ELSE 'archived' END, \
                   TIMESTAMP '1970-01-01 00:00:00' + INTERVAL (1700000000 + i * 60) SECOND \
                 FROM (SELECT {start} + 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d \
                         + 10000 * f.d AS i \
                       FROM {digits} a CROSS JOIN {digits} b CROSS JOIN {digits} c \
                         CROSS JOIN {digits} e CROSS JOIN {digits} f) AS s \
                 WHERE i <= {rows}"
            );
            sqlx::raw_sql(&sql).execute(store.pool()).await.unwrap();
        }
        sqlx::raw_sql(
            "CREATE INDEX big_title ON big(title); CREATE INDEX big_status ON big(status); \
             CREATE INDEX big_created ON big(created); ANALYZE TABLE big;",
        )
        .execute(store.pool())
        .await
        .unwrap();
    }
    if store.dialect() == Dialect::Postgres {
        // Fresh statistics and visibility map (VACUUM runs outside a transaction).
        sqlx::raw_sql("VACUUM ANALYZE public.big")
            .execute(store.pool())
            .await
            .unwrap();
    }
}

/// This process's resident set size, KiB.
pub fn self_rss_kib() -> u64 {
    proc_field("/proc/self/status", "VmRSS:")
}
