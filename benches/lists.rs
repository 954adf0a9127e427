//! List figures on a 1,000,000-row table: open (first page + count), next page, last page,
//! indexed (prefix) search, non-indexed (substring) search, sort change — and memory while
//! paging through 10,000 pages. On SQLite, on PostgreSQL beside it when
//! `MOAT_TEST_POSTGRES_URL` names a server, and on MariaDB (or MySQL) when
//! `MOAT_TEST_MYSQL_URL` does (a fresh database is made on each server and dropped at
//! the end).
//!
//! `cargo bench --bench lists` — prints a Markdown table (also written to
//! `target/bench-lists.md`). `cargo bench --bench lists -- mariadb` (or `sqlite`,
//! `postgres`, several of them) runs only the columns named. Figures, not pass/fail.
//! Release build, in process: the store queries the session runs for those keys.

mod support;

use std::time::Instant;

use moat::domain::{Filter, FilterOp, Listing, PageAnchor, Sort, Value};
use moat::store::Store;

const ROWS: i64 = 1_000_000;
const PAGE: u32 = 100;
const RUNS: usize = 15;
const PAGES: usize = 10_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn time<F, Fut, T>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut ms = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    median(ms)
}

/// One database's figures, in the report's row order.
struct Figures {
    open: f64,
    next: f64,
    last: f64,
    indexed: f64,
    substring: f64,
    substring_common: f64,
    sort: f64,
    filter_value: f64,
    filter_range: f64,
    count: String,
    rss: String,
}

async fn figures(store: Store) -> Figures {
    store.migrate().await.unwrap();
    support::big_table(&store, ROWS).await;
    let t = store
        .introspect()
        .await
        .unwrap()
        .table("big")
        .unwrap()
        .clone();
    let all = Listing::all();

    let open = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &all)
            .await
            .unwrap();
        store.count_rows(&t, &all).await.unwrap();
    })
    .await;
    let count = store.count_rows(&t, &all).await.unwrap().to_string();
    let first = store
        .page(&t, &PageAnchor::First, PAGE, &all)
        .await
        .unwrap();
    let after = PageAnchor::After(first.rows.last().unwrap().cursor.clone());
    let next = time(RUNS, || store.page(&t, &after, PAGE, &all)).await;
    let last = time(RUNS, || store.page(&t, &PageAnchor::Last, PAGE, &all)).await;
    let prefix = Listing {
        search: Some(("^Title number 7777".into(), vec!["title".into()])),
        ..Listing::all()
    };
    let indexed = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &prefix)
            .await
            .unwrap();
    })
    .await;
    let rare = Listing {
        search: Some(("row 999999 ".into(), vec!["title".into(), "body".into()])),
        ..Listing::all()
    };
    let substring = time(5, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &rare)
            .await
            .unwrap();
    })
    .await;
    let common = Listing {
        search: Some(("row 12".into(), vec!["title".into(), "body".into()])),
        ..Listing::all()
    };
    let substring_common = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &common)
            .await
            .unwrap();
    })
    .await;
    // The same answers on every database (111 titles start with the prefix, one row holds
    // the rare term, thousands the common one): a figure for a wrong answer says nothing.
    for (listing, rows) in [(&prefix, 100), (&rare, 1), (&common, 100)] {
        let p = store
            .page(&t, &PageAnchor::First, PAGE, listing)
            .await
            .unwrap();
        assert_eq!(p.rows.len(), rows, "{:?}", listing.search);
    }
    // Filters: a value (`status = draft`, a third of the rows) and a range on `created`
    // (one day: 1,440 rows), first page.
    let draft = Listing {
        filters: vec![Filter {
            column: "status".into(),
            op: FilterOp::Equals(Value::Text("draft".into())),
        }],
        ..Listing::all()
    };
    let filter_value = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &draft)
            .await
            .unwrap();
        store.count_rows(&t, &draft).await.unwrap();
    })
    .await;
    let day = Listing {
        filters: vec![Filter {
            column: "created".into(),
            op: FilterOp::Range {
                from: Some(Value::Text("2024-01-01 00:00:00".into())),
                to: Some(Value::Text("2024-01-02 00:00:00".into())),
            },
        }],
        ..Listing::all()
    };
    let filter_range = time(RUNS, || async {
        let p = store
            .page(&t, &PageAnchor::First, PAGE, &day)
            .await
            .unwrap();
        assert_eq!(p.rows.len(), PAGE as usize);
        store.count_rows(&t, &day).await.unwrap();
    })
    .await;
    let sorted = Listing {
        sort: Some(Sort {
            column: "title".into(),
            descending: true,
        }),
        ..Listing::all()
    };
    let sort = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &sorted)
            .await
            .unwrap();
    })
    .await;

    // Page through 10,000 pages keeping only the current one, as the console does.
    let rss_start = support::self_rss_kib();
    let mut page = store
        .page(&t, &PageAnchor::First, PAGE, &all)
        .await
        .unwrap();
    let mut rss_mid = 0;
    let t0 = Instant::now();
    for i in 0..PAGES {
        let cursor = page.rows.last().unwrap().cursor.clone();
        page = store
            .page(&t, &PageAnchor::After(cursor), PAGE, &all)
            .await
            .unwrap();
        if i == PAGES / 10 {
            rss_mid = support::self_rss_kib();
        }
    }
    let paging_s = t0.elapsed().as_secs_f64();
    let rss_end = support::self_rss_kib();
    store.close().await;
    Figures {
        open,
        next,
        last,
        indexed,
        substring,
        substring_common,
        sort,
        filter_value,
        filter_range,
        count,
        rss: format!("{rss_start} / {rss_mid} / {rss_end} KiB ({paging_s:.1} s)"),
    }
}

/// A database this bench can run on, as named on its command line.
#[derive(Clone, Copy, PartialEq)]
enum Db {
    Sqlite,
    Postgres,
    Mariadb,
}

/// The databases named after `--` (`sqlite`, `postgres`, `mariadb` or `mysql`); none
/// named: all three (a server's column only when its variable is set).
fn chosen() -> Vec<Db> {
    let named: Vec<Db> = std::env::args()
        .skip(1)
        .filter_map(|a| match a.as_str() {
            "sqlite" => Some(Db::Sqlite),
            "postgres" | "postgresql" => Some(Db::Postgres),
            "mariadb" | "mysql" => Some(Db::Mariadb),
            _ => None, // `--bench`, which cargo passes, and anything else
        })
        .collect();
    if named.is_empty() {
        vec![Db::Sqlite, Db::Postgres, Db::Mariadb]
    } else {
        named
    }
}

/// The figures on a fresh MySQL/MariaDB database on the server `MOAT_TEST_MYSQL_URL`
/// names; the database is dropped afterwards, also when a figure fails.
async fn mysql_figures() -> Figures {
    let (url, name) = moat::store::testing::fresh_mysql_url().await.unwrap();
    let run = tokio::spawn(async move { figures(Store::connect(&url).await.unwrap()).await });
    let done = run.await;
    moat::store::testing::drop_mysql_database(&name).await;
    done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The figures on a fresh PostgreSQL database on the server `MOAT_TEST_POSTGRES_URL`
/// names; the database (1,000,000 rows) is dropped afterwards, also when a figure fails.
async fn postgres_figures() -> Figures {
    use sqlx::Connection;
    let url = moat::store::testing::fresh_postgres_url().await.unwrap();
    let name = url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .unwrap_or_default()
        .to_string();
    let run = tokio::spawn(async move { figures(Store::connect(&url).await.unwrap()).await });
    let done = run.await;
    // The name is the testing helper's: its prefix, digits and `_`, no quoting needed.
    if name.starts_with(moat::store::testing::DATABASE_PREFIX)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        let base = std::env::var(moat::store::testing::POSTGRES_ENV).unwrap_or_default();
        if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut conn)
                .await;
            conn.close().await.ok();
        }
    }
    done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

#[tokio::main]
async fn main() {
    use moat::store::testing::{MYSQL_ENV, POSTGRES_ENV};
    let chosen = chosen();
    let server = |db: Db, var: &str, name: &str| {
        let set = chosen.contains(&db) && std::env::var_os(var).is_some();
        if chosen.contains(&db) && !set {
            eprintln!("{var} is not set: {name} column left out");
        }
        set
    };
    let sqlite = if chosen.contains(&Db::Sqlite) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        Some(figures(Store::connect(&url).await.unwrap()).await)
    } else {
        None
    };
    let postgres = if server(Db::Postgres, POSTGRES_ENV, "PostgreSQL") {
        Some(postgres_figures().await)
    } else {
        None
    };
    let mariadb = if server(Db::Mariadb, MYSQL_ENV, "MariaDB") {
        Some(mysql_figures().await)
    } else {
        None
    };
    let columns = [sqlite, postgres, mariadb];
    let ms = |f: fn(&Figures) -> f64| move |x: &Figures| format!("{:.2} ms", f(x));
    let whole_ms = |f: fn(&Figures) -> f64| move |x: &Figures| format!("{:.0} ms", f(x));
    type Cell = Box<dyn Fn(&Figures) -> String>;
    let rows: [(&str, Cell, &str); 11] = [
        (
            "open list: first page (100 rows) + count",
            Box::new(ms(|f| f.open)),
            "≤ 50 ms",
        ),
        ("the count shown", Box::new(|f| f.count.clone()), ""),
        ("next page", Box::new(ms(|f| f.next)), "≤ 20 ms"),
        ("last page", Box::new(ms(|f| f.last)), "≤ 50 ms"),
        (
            "indexed search (`^Title number 7777`, prefix on indexed title)",
            Box::new(ms(|f| f.indexed)),
            "≤ 100 ms",
        ),
        (
            "non-indexed search, rare term (substring over title and body, full scan)",
            Box::new(whole_ms(|f| f.substring)),
            "(report)",
        ),
        (
            "non-indexed search, common term (stops at one page)",
            Box::new(ms(|f| f.substring_common)),
            "(report)",
        ),
        (
            "sort change (title, descending, first page)",
            Box::new(ms(|f| f.sort)),
            "",
        ),
        (
            "filter by a value (`status = draft`, 333,333 rows): first page + count",
            Box::new(ms(|f| f.filter_value)),
            "≤ 10 ms",
        ),
        (
            "filter by a range (`created` within one day, 1,440 rows): first page + count",
            Box::new(ms(|f| f.filter_range)),
            "≤ 10 ms",
        ),
        (
            "RSS paging through 10,000 pages: start / after 1,000 / end",
            Box::new(|f| f.rss.clone()),
            "flat",
        ),
    ];
    let mut report = String::from(
        "| figure (median) | SQLite | PostgreSQL | MariaDB | goal |\n|---|---|---|---|---|\n",
    );
    for (what, cell, goal) in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| c.as_ref().map_or("—".to_string(), &cell))
            .collect();
        report.push_str(&format!("| {what} | {} | {goal} |\n", cells.join(" | ")));
    }
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-lists.md"),
        &report,
    );
}
