//! Bulk edit and bulk delete of 10,000 rows as a user does them over SSH, keystroke →
//! frame: `*` and `y` (mark every row; the frame that says they are marked), `S` … `y`
//! (set one field on all of them; the frame that says so), `d` (the frame asking about
//! them, with what refers to them), `y` (the frame saying they are deleted). Each row has
//! one child row that goes with it (`ON DELETE CASCADE`). On SQLite and (with
//! `MOAT_TEST_POSTGRES_URL`) PostgreSQL, as a superuser.
//!
//! `cargo bench --bench bulk` — prints a Markdown table (also written to
//! `target/bench-bulk.md`). Figures, not pass/fail.

mod support;

use std::time::{Duration, Instant};

use moat::store::Store;
use support::common::{login_at, Console, TEST_ARGON2};
use support::{percentile, users, Bench};

const ROWS: i64 = 10_000;
const RUNS: usize = 3;

/// `ROWS` parents, each with one child, in tables created on first use (on PostgreSQL in
/// `public`, where the console's tables are).
async fn fill(store: &Store) {
    let p = match store.dialect() {
        moat::store::Dialect::Postgres => "public.",
        _ => "",
    };
    sqlx::raw_sql(&format!(
        "CREATE TABLE IF NOT EXISTS {p}bd_parents (id INTEGER PRIMARY KEY, \
           name VARCHAR(40) NOT NULL); \
         CREATE TABLE IF NOT EXISTS {p}bd_kids (id INTEGER PRIMARY KEY, \
           parent_id INTEGER NOT NULL REFERENCES {p}bd_parents(id) ON DELETE CASCADE); \
         CREATE INDEX IF NOT EXISTS bd_kids_parent ON {p}bd_kids(parent_id)"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    for start in (1..=ROWS).step_by(1_000) {
        let ids = start..(start + 1_000).min(ROWS + 1);
        let parents: Vec<String> = ids
            .clone()
            .map(|i| format!("({i}, 'parent {i}')"))
            .collect();
        let kids: Vec<String> = ids.map(|i| format!("({i}, {i})")).collect();
        for (table, rows) in [("bd_parents", parents), ("bd_kids", kids)] {
            sqlx::raw_sql(&format!(
                "INSERT INTO {p}{table} VALUES {}",
                rows.join(", ")
            ))
            .execute(store.pool())
            .await
            .unwrap();
        }
    }
}

/// Milliseconds from `key` written to the frame holding `shown`.
async fn timed(c: &mut Console, key: &[u8], shown: &str) -> f64 {
    c.settle(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    c.send(key).await;
    c.wait_for(shown).await;
    t0.elapsed().as_secs_f64() * 1e3
}

/// Mark, set, ask and delete times (ms) of `RUNS` runs on the database at `url` (a SQLite file
/// when `None`).
async fn figures(url: Option<String>) -> [Vec<f64>; 4] {
    let (store_url, dir) = match &url {
        Some(u) => (u.clone(), None),
        None => {
            let dir = tempfile::tempdir().unwrap();
            let u = format!("sqlite://{}", dir.path().join("bulk.db").display());
            (u, Some(dir))
        }
    };
    let store = Store::connect(&store_url).await.unwrap();
    store.migrate().await.unwrap();
    fill(&store).await;
    let config = format!(
        "[argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n",
        TEST_ARGON2.memory_kib, TEST_ARGON2.iterations, TEST_ARGON2.parallelism
    );
    let bench = Bench::start_on(Some(&store_url), &config, users(1, TEST_ARGON2)).await;
    let conn = login_at(bench.addr(), "bench0", &bench.code(0)).await;
    let mut c = Console::open(&conn, 200, 50, "xterm-256color").await;
    c.wait_for("post_tags").await;
    c.keys(&[b":bd_parents", b"\r"]).await;
    let total = "10,000";
    let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for run in 0..RUNS {
        if run > 0 {
            fill(&store).await;
            c.send(b"\x12").await; // Ctrl-R: read the list again
        }
        c.wait_for(&format!("row 1 of {total}")).await;
        c.send(b"*").await;
        c.wait_for(&format!("Mark all {total} rows")).await;
        out[0].push(timed(&mut c, b"y", &format!("marked {total} rows")).await);
        // Set one field on all of them: `S`, the first column, a value, Enter, then `y`.
        c.send(b"S").await;
        c.wait_for("Which column?").await;
        c.send(b"\r").await;
        c.wait_for("Enter set (asks first)").await;
        c.send(format!("renamed {run}").as_bytes()).await;
        c.send(b"\r").await;
        c.wait_for(&format!("on the {total} marked rows")).await;
        out[1].push(timed(&mut c, b"y", &format!("{total} rows of bd_parents changed")).await);
        // A bulk set leaves nothing marked: mark them all again.
        c.send(b"*").await;
        c.wait_for(&format!("Mark all {total} rows")).await;
        c.send(b"y").await;
        c.wait_for(&format!("marked {total} rows")).await;
        out[2].push(timed(&mut c, b"d", &format!("Delete the {total} marked rows")).await);
        out[3].push(timed(&mut c, b"y", &format!("deleted {total} rows")).await);
    }
    drop(c);
    support::common::disconnect(conn).await;
    drop(bench);
    store.close().await;
    drop(dir);
    out
}

#[tokio::main]
async fn main() {
    let sqlite = figures(None).await;
    let postgres = match std::env::var_os(moat::store::testing::POSTGRES_ENV) {
        Some(_) => Some(
            figures(Some(
                moat::store::testing::fresh_postgres_url().await.unwrap(),
            ))
            .await,
        ),
        None => {
            eprintln!(
                "{} is not set: PostgreSQL column left out",
                moat::store::testing::POSTGRES_ENV
            );
            None
        }
    };
    let cell = |v: &[f64]| {
        format!(
            "{:.0} ms ({:.0})",
            percentile(v, 50),
            v.iter().cloned().fold(0.0, f64::max)
        )
    };
    let mut table = format!(
        "| {ROWS} rows, each with a child that cascades; key → frame at 200×50, median of {RUNS} (max) | SQLite | PostgreSQL |\n|---|---|---|\n"
    );
    for (i, what) in [
        "`*` `y`: every row marked",
        "`S` … `y`: one field set on all of them (one audit row each)",
        "`d`: the question, with what refers to them",
        "`y`: deleted (one transaction, one audit row each)",
    ]
    .iter()
    .enumerate()
    {
        table.push_str(&format!(
            "| {what} | {} | {} |\n",
            cell(&sqlite[i]),
            postgres.as_ref().map_or("—".to_string(), |p| cell(&p[i]))
        ));
    }
    print!("{table}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-bulk.md"),
        &table,
    );
}
