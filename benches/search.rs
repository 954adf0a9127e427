//! Search on the 1,000,000-row table, keystroke → frame over SSH, without and with a
//! trigram search index (`moat search-index add big title`, run through the binary as an
//! operator would), on SQLite and (with `MOAT_TEST_POSTGRES_URL`) PostgreSQL. Also the
//! index's build time and what it costs writes (insert and update through moat's store,
//! each with its audit row, as the console saves them).
//!
//! `cargo bench --bench search` — prints a Markdown table (also written to
//! `target/bench-search.md`). Figures, not pass/fail.

mod support;

use std::time::{Duration, Instant};

use moat::domain::Value;
use moat::store::{AuditEntry, Store};
use support::common::{login_at, Console, TEST_ARGON2};
use support::{percentile, users, Bench};

const ROWS: i64 = 1_000_000;
const RUNS: usize = 9;
const WRITES: usize = 200;
const WARMUP: usize = 50;

/// A rare term (one row) and a common one (111,111 rows), as `/` searches them.
const RARE: &str = "number 777777";
const COMMON: &str = "number 12";

struct Figures {
    rare: (f64, f64),
    common: (f64, f64),
    rare_indexed: (f64, f64),
    common_indexed: (f64, f64),
    build_s: f64,
    insert: (f64, f64),
    update: (f64, f64),
}

/// Keystroke → frame: from the Enter that runs the search to the frame that shows its
/// first row and its count; then Esc back to the whole list. Median and max of `RUNS`.
async fn searches(c: &mut Console, term: &str, first_row: &str, count: &str) -> (f64, f64) {
    let mut ms = Vec::new();
    for _ in 0..RUNS {
        c.send(b"/").await;
        c.send(term.as_bytes()).await;
        c.settle(Duration::from_millis(50)).await;
        let t0 = Instant::now();
        c.send(b"\r").await;
        c.wait_until(term, |s| s.contains(first_row) && s.contains(count))
            .await;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        c.send(b"\x1b").await;
        c.wait_until("the whole list", |s| {
            s.contains("row 1 of") && !s.contains("Esc clears")
        })
        .await;
        c.settle(Duration::from_millis(50)).await;
    }
    (percentile(&ms, 50), ms.iter().cloned().fold(0.0, f64::max))
}

/// Median and max ms of `WRITES` inserts, then as many updates of the inserted rows'
/// titles, through the store with an audit row each.
async fn writes(store: &Store, first_id: i64) -> ((f64, f64), (f64, f64)) {
    let t = store
        .introspect()
        .await
        .unwrap()
        .table("big")
        .unwrap()
        .clone();
    let audit = || AuditEntry {
        actor: Some("bench".into()),
        action: "insert".into(),
        model: Some("big".into()),
        outcome: "success".into(),
        ..AuditEntry::default()
    };
    let mut inserts = Vec::new();
    // The first WARMUP of each are not counted (caches, prepared statements).
    for i in 0..(WARMUP + WRITES) as i64 {
        let id = first_id + i;
        let values = [
            ("id".to_string(), Value::Integer(id)),
            ("title".into(), Value::Text(format!("Title number {id}"))),
            (
                "body".into(),
                Value::Text(format!("Body of row {id} with some text")),
            ),
            ("status".into(), Value::Text("draft".into())),
            ("created".into(), Value::Text("2030-01-01 00:00:00".into())),
        ];
        let t0 = Instant::now();
        store.insert_record(&t, &values, audit()).await.unwrap();
        if i >= WARMUP as i64 {
            inserts.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut updates = Vec::new();
    for i in 0..(WARMUP + WRITES) as i64 {
        let id = first_id + i;
        let t0 = Instant::now();
        store
            .update_record(
                &t,
                &[Value::Integer(id)],
                &[],
                &[("title".into(), Value::Text(format!("Changed title {id}")))],
                audit(),
            )
            .await
            .unwrap();
        if i >= WARMUP as i64 {
            updates.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let spread = |v: &[f64]| (percentile(v, 50), v.iter().cloned().fold(0.0, f64::max));
    (spread(&inserts), spread(&updates))
}

async fn figures(url: Option<String>) -> Figures {
    // The table first, then the server (its schema is read at start).
    let (store_url, dir) = match &url {
        Some(u) => (u.clone(), None),
        None => {
            let dir = tempfile::tempdir().unwrap();
            let u = format!("sqlite://{}", dir.path().join("big.db").display());
            (u, Some(dir))
        }
    };
    let store = Store::connect(&store_url).await.unwrap();
    store.migrate().await.unwrap();
    support::big_table(&store, ROWS).await;
    let config = format!(
        "page_size = 100\n[argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n\
         [models.big]\nsearch = [\"title\"]\n",
        TEST_ARGON2.memory_kib, TEST_ARGON2.iterations, TEST_ARGON2.parallelism
    );
    let bench = Bench::start_on(Some(&store_url), &config, users(2, TEST_ARGON2)).await;
    let conn = login_at(bench.addr(), "bench0", &bench.code(0)).await;
    let mut c = Console::open(&conn, 200, 50, "xterm-256color").await;
    c.wait_for("post_tags").await;
    // authors, big, …: the second model.
    c.keys(&[b"j", b"\r"]).await;
    c.wait_for("row 1 of").await;
    c.settle(Duration::from_millis(300)).await;

    let rare_row = "Title number 777777";
    let common_row = "Title number 12 ";
    let rare = searches(&mut c, RARE, rare_row, "row 1 of 1 ").await;
    let common = searches(&mut c, COMMON, common_row, "of 10,000+").await;
    let (insert_plain, update_plain) = writes(&store, ROWS + 1).await;

    // The operator's command, through the binary.
    let t0 = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_moat"))
        .current_dir(bench.dir())
        .args([
            "--config",
            "moat.toml",
            "search-index",
            "add",
            "big",
            "title",
        ])
        .env("MOAT_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let build_s = t0.elapsed().as_secs_f64();

    let rare_indexed = searches(&mut c, RARE, rare_row, "row 1 of 1 ").await;
    let common_indexed = searches(&mut c, COMMON, common_row, "of 10,000+").await;
    let (insert, update) = writes(&store, ROWS + 1 + (WARMUP + WRITES) as i64).await;
    let _ = insert_plain;
    drop(c);
    support::common::disconnect(conn).await;
    drop(bench);
    store.close().await;
    drop(dir);
    Figures {
        rare,
        common,
        rare_indexed,
        common_indexed,
        build_s,
        insert: (insert_plain.0, insert.0),
        update: (update_plain.0, update.0),
    }
}

#[tokio::main]
async fn main() {
    let sqlite = figures(None).await;
    let postgres = match std::env::var_os(moat::store::testing::POSTGRES_ENV) {
        Some(_) => {
            let url = moat::store::testing::fresh_postgres_url().await.unwrap();
            Some(figures(Some(url)).await)
        }
        None => {
            eprintln!(
                "{} is not set: PostgreSQL column left out",
                moat::store::testing::POSTGRES_ENV
            );
            None
        }
    };
    let ms = |(median, max): (f64, f64)| format!("{median:.1} ms (max {max:.1})");
    let pg = |f: &dyn Fn(&Figures) -> String| postgres.as_ref().map_or("—".to_string(), f);
    let rows: Vec<(&str, String, String, &str)> = vec![
        (
            "rare term (`/number 777777`, 1 row), no index",
            ms(sqlite.rare),
            pg(&|p| ms(p.rare)),
            "",
        ),
        (
            "rare term, with the index",
            ms(sqlite.rare_indexed),
            pg(&|p| ms(p.rare_indexed)),
            "≤ 20 ms",
        ),
        (
            "common term (`/number 12`, 111,111 rows: first page + `10,000+`), no index",
            ms(sqlite.common),
            pg(&|p| ms(p.common)),
            "",
        ),
        (
            "common term, with the index",
            ms(sqlite.common_indexed),
            pg(&|p| ms(p.common_indexed)),
            "≤ 20 ms",
        ),
        (
            "`moat search-index add big title` (1,000,000 rows)",
            format!("{:.1} s", sqlite.build_s),
            pg(&|p| format!("{:.1} s", p.build_s)),
            "",
        ),
        (
            "insert through moat (with audit row): without → with the index, median",
            format!("{:.2} → {:.2} ms", sqlite.insert.0, sqlite.insert.1),
            pg(&|p| format!("{:.2} → {:.2} ms", p.insert.0, p.insert.1)),
            "≤ 2×",
        ),
        (
            "update of the title through moat: without → with the index, median",
            format!("{:.2} → {:.2} ms", sqlite.update.0, sqlite.update.1),
            pg(&|p| format!("{:.2} → {:.2} ms", p.update.0, p.update.1)),
            "≤ 2×",
        ),
    ];
    let mut report = format!(
        "| keystroke → frame at 200×50, median of {RUNS} (max) | SQLite | PostgreSQL | goal |\n|---|---|---|---|\n"
    );
    for (what, s, p, goal) in rows {
        report.push_str(&format!("| {what} | {s} | {p} | {goal} |\n"));
    }
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-search.md"),
        &report,
    );
}
